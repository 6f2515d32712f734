/** Seeded weight initializers for the model zoo: every layer draws its own seed from one Rng, so a seed fixes every weight. */
import "../../engine/backend.js";
import * as tfl from "@tensorflow/tfjs-layers";
import { RadioLensError } from "../../core/errors.js";
import { Rng } from "../../core/rng.js";

/** A tfjs-layers initializer instance. */
export type Initializer = ReturnType<typeof tfl.initializers.heNormal>;

/**
 * Hands out initializers whose seeds come, in layer-construction order, from one {@link Rng}. Building the same
 * architecture with the same seed therefore draws the same seeds in the same order and yields identical weights;
 * tfjs's own default initializers are unseeded and would not.
 *
 * @example
 * ```ts
 * const init = new SeededInit(42);
 * tfl.layers.conv2d({ filters: 8, kernelSize: 3, kernelInitializer: init.heFanOut() });
 * ```
 */
export class SeededInit {
  private readonly rng: Rng;

  constructor(seed: number) {
    this.rng = new Rng(seed);
  }

  /** He (Kaiming) normal, fan-out mode, as torchvision initializes ResNet/DenseNet/MobileNet convolutions (He et al. 2015). */
  heFanOut(): Initializer {
    return tfl.initializers.varianceScaling({
      scale: 2,
      mode: "fanOut",
      distribution: "normal",
      seed: this.rng.seed(),
    });
  }

  /**
   * He normal for a depthwise kernel as PyTorch computes it: its fan-out counts every channel (9·C for a 3×3
   * kernel over C channels), whereas tfjs counts one output per channel (9); scaling by 1/C matches the reference.
   */
  heFanOutDepthwise(channels: number): Initializer {
    return tfl.initializers.varianceScaling({
      scale: 2 / channels,
      mode: "fanOut",
      distribution: "normal",
      seed: this.rng.seed(),
    });
  }

  /** He (Kaiming) normal, fan-in mode (He et al. 2015, §2.2), for ReLU layers. */
  heFanIn(): Initializer {
    return tfl.initializers.heNormal({ seed: this.rng.seed() });
  }

  /** Glorot uniform (Glorot & Bengio 2010), for linear and softmax heads. */
  glorot(): Initializer {
    return tfl.initializers.glorotUniform({ seed: this.rng.seed() });
  }

  /** N(0, stddev²); DCGAN initializes every weight with stddev 0.02 (Radford et al. 2016, §4). */
  normal(stddev: number): Initializer {
    return tfl.initializers.randomNormal({ mean: 0, stddev, seed: this.rng.seed() });
  }

  /** A plain seed for a layer with its own RNG (e.g. a seeded dropout). */
  seed(): number {
    return this.rng.seed();
  }

  /** U(-limit, limit), e.g. for embeddings. */
  uniform(limit: number): Initializer {
    return tfl.initializers.randomUniform({ minval: -limit, maxval: limit, seed: this.rng.seed() });
  }
}

/** Output activation of a classification head. */
export type HeadActivation = "softmax" | "sigmoid" | "linear";

/** Options every classifier factory accepts. */
export interface ClassifierOptions {
  /** `[rows, cols, channels]` of the input images. */
  readonly inputShape: readonly [number, number, number];
  /** Number of output units (classes, or labels for multi-label). */
  readonly numClasses: number;
  /** Seed for every initializer. */
  readonly seed: number;
  /** Head activation: softmax (multi-class, default), sigmoid (multi-label) or linear (logits). */
  readonly activation?: HeadActivation;
  /** Model name (default: the architecture's name); layer names are fixed so saved bundles are reproducible. */
  readonly name?: string;
}

/**
 * Sum of the element counts of a model's trainable weights (what PyTorch's `sum(p.numel() for p in parameters())`
 * counts; tfjs's `countParams()` also counts batch-norm moving statistics).
 *
 * @example
 * ```ts
 * countTrainableParams(createResNet({ depth: 18, inputShape: [224, 224, 3], numClasses: 1000, seed: 1 })); // 11689512
 * ```
 */
export function countTrainableParams(model: tfl.LayersModel): number {
  let n = 0;
  for (const w of model.trainableWeights) n += w.shape.reduce<number>((a, b) => a * (b ?? 1), 1);
  return n;
}

/**
 * Rejects option values that would build a broken graph, naming the option.
 *
 * @example
 * ```ts
 * checkPositiveInt("numClasses", 0); // throws RL_ERR_USAGE
 * ```
 */
export function checkPositiveInt(name: string, v: number): void {
  if (!Number.isInteger(v) || v < 1) {
    throw new RadioLensError("RL_ERR_USAGE", { detail: `${name} must be a positive integer, got ${v}` });
  }
}

/**
 * Checks a classifier's common options.
 *
 * @example
 * ```ts
 * checkClassifierOptions({ inputShape: [28, 28, 1], numClasses: 2, seed: 1 });
 * ```
 */
export function checkClassifierOptions(o: ClassifierOptions): void {
  o.inputShape.forEach((d, i) => {
    checkPositiveInt(`inputShape[${i}]`, d);
  });
  checkPositiveInt("numClasses", o.numClasses);
  if (!Number.isInteger(o.seed)) {
    throw new RadioLensError("RL_ERR_USAGE", { detail: `seed must be an integer, got ${o.seed}` });
  }
}
