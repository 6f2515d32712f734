/** The reference CNN of the classic Keras tutorial, layer for layer, with every initializer seeded. */
import * as tfl from "@tensorflow/tfjs-layers";
import { Rng } from "../core/rng.js";
import { SeededDropout } from "./layers.js";

/** Options of {@link createSeedCnn}. */
export interface SeedCnnOptions {
  /** `[rows, cols, channels]`, default `[28, 28, 1]`. */
  readonly inputShape?: readonly [number, number, number];
  readonly numClasses: number;
  /** Seeds every initializer and the dropout. */
  readonly seed: number;
}

/**
 * Conv2D 32 3×3 ReLU → MaxPool 2 → Conv2D 64 3×3 ReLU → MaxPool 2 → Flatten → Dense 128 ReLU →
 * Dropout 0.5 → Dense softmax (LeCun et al. 1998 lineage; the Keras MNIST convnet example).
 *
 * @example
 * ```ts
 * const model = createSeedCnn({ numClasses: 2, seed: 1 });
 * model.summary();
 * ```
 */
export function createSeedCnn(opts: SeedCnnOptions): tfl.LayersModel {
  const rng = new Rng(opts.seed);
  const inputShape = [...(opts.inputShape ?? [28, 28, 1])];
  const glorot = () => tfl.initializers.glorotUniform({ seed: rng.seed() });
  const model = tfl.sequential({ name: "seed_cnn" });
  model.add(
    tfl.layers.conv2d({
      inputShape,
      filters: 32,
      kernelSize: 3,
      activation: "relu",
      kernelInitializer: glorot(),
      name: "conv1",
    }),
  );
  model.add(tfl.layers.maxPooling2d({ poolSize: 2, name: "pool1" }));
  model.add(
    tfl.layers.conv2d({
      filters: 64,
      kernelSize: 3,
      activation: "relu",
      kernelInitializer: glorot(),
      name: "conv2",
    }),
  );
  model.add(tfl.layers.maxPooling2d({ poolSize: 2, name: "pool2" }));
  model.add(tfl.layers.flatten({ name: "flatten" }));
  model.add(tfl.layers.dense({ units: 128, activation: "relu", kernelInitializer: glorot(), name: "fc1" }));
  model.add(new SeededDropout({ rate: 0.5, seed: rng.seed(), name: "dropout" }));
  model.add(
    tfl.layers.dense({
      units: opts.numClasses,
      activation: "softmax",
      kernelInitializer: glorot(),
      name: "fc2",
    }),
  );
  return model;
}
