/** ResNet-18/34/50 (He et al. 2016, "Deep Residual Learning for Image Recognition") in ImageNet and MedMNIST 28×28 forms. */
import * as tfl from "@tensorflow/tfjs-layers";
import { RadioLensError } from "../../core/errors.js";
import { type ClassifierOptions, checkClassifierOptions, SeededInit } from "./init.js";

type SymbolicTensor = tfl.SymbolicTensor;

/** Depths with a block layout in Table 1 of He et al. 2016. */
export type ResNetDepth = 18 | 34 | 50;

/**
 * `imagenet`: 7×7/2 stem conv + 3×3/2 max-pool (torchvision's layout, He et al. Table 1);
 * `medmnist`: 3×3/1 stem conv and no max-pool, the form the MedMNIST v2 benchmark trains on 28×28 images
 * (Yang et al. 2023, after the CIFAR adaptation in He et al. §4.2).
 */
export type ResNetVariant = "imagenet" | "medmnist";

/** Options for {@link createResNet}. */
export interface ResNetOptions extends ClassifierOptions {
  readonly depth: ResNetDepth;
  readonly variant?: ResNetVariant;
  /** Channels of the stem and first stage (64 in He et al.); each later stage doubles it. */
  readonly width?: number;
}

/** Blocks per stage (He et al. 2016, Table 1). */
const STAGES: Readonly<Record<ResNetDepth, readonly number[]>> = {
  18: [2, 2, 2, 2],
  34: [3, 4, 6, 3],
  50: [3, 4, 6, 3],
};

/**
 * Batch-norm settings of the PyTorch reference (eps 1e-5, momentum 0.1 = Keras momentum 0.9).
 *
 * @example
 * ```ts
 * const bn = batchNorm("stem_bn"); // momentum 0.9 (PyTorch 0.1), epsilon 1e-5
 * ```
 */
export function batchNorm(name: string): tfl.layers.Layer {
  return tfl.layers.batchNormalization({ axis: -1, momentum: 0.9, epsilon: 1e-5, name });
}

function conv(
  init: SeededInit,
  x: SymbolicTensor,
  filters: number,
  kernelSize: number,
  strides: number,
  name: string,
): SymbolicTensor {
  return tfl.layers
    .conv2d({
      filters,
      kernelSize,
      strides,
      padding: "same",
      useBias: false,
      kernelInitializer: init.heFanOut(),
      name,
    })
    .apply(x) as SymbolicTensor;
}

function relu(x: SymbolicTensor, name: string): SymbolicTensor {
  return tfl.layers.activation({ activation: "relu", name }).apply(x) as SymbolicTensor;
}

function bn(x: SymbolicTensor, name: string): SymbolicTensor {
  return batchNorm(name).apply(x) as SymbolicTensor;
}

/** Shortcut: identity, or a 1×1 projection + BN when the shape changes (option B of He et al. §3.3). */
function shortcut(
  init: SeededInit,
  x: SymbolicTensor,
  outChannels: number,
  strides: number,
  name: string,
): SymbolicTensor {
  const inChannels = x.shape[x.shape.length - 1];
  if (strides === 1 && inChannels === outChannels) return x;
  return bn(conv(init, x, outChannels, 1, strides, `${name}_down_conv`), `${name}_down_bn`);
}

function basicBlock(
  init: SeededInit,
  x: SymbolicTensor,
  planes: number,
  strides: number,
  name: string,
): SymbolicTensor {
  let y = relu(bn(conv(init, x, planes, 3, strides, `${name}_conv1`), `${name}_bn1`), `${name}_relu1`);
  y = bn(conv(init, y, planes, 3, 1, `${name}_conv2`), `${name}_bn2`);
  const s = shortcut(init, x, planes, strides, name);
  return relu(tfl.layers.add({ name: `${name}_add` }).apply([y, s]) as SymbolicTensor, `${name}_out`);
}

/** Bottleneck with the stride on the 3×3 conv (torchvision's "ResNet v1.5"; same parameter count as v1). */
function bottleneck(
  init: SeededInit,
  x: SymbolicTensor,
  planes: number,
  strides: number,
  name: string,
): SymbolicTensor {
  let y = relu(bn(conv(init, x, planes, 1, 1, `${name}_conv1`), `${name}_bn1`), `${name}_relu1`);
  y = relu(bn(conv(init, y, planes, 3, strides, `${name}_conv2`), `${name}_bn2`), `${name}_relu2`);
  y = bn(conv(init, y, planes * 4, 1, 1, `${name}_conv3`), `${name}_bn3`);
  const s = shortcut(init, x, planes * 4, strides, name);
  return relu(tfl.layers.add({ name: `${name}_add` }).apply([y, s]) as SymbolicTensor, `${name}_out`);
}

/**
 * Builds a ResNet classifier with fixed layer names and seeded weights.
 *
 * @example
 * ```ts
 * const m = createResNet({ depth: 18, variant: "medmnist", inputShape: [28, 28, 1], numClasses: 2, seed: 1 });
 * m.predict(tf.zeros([1, 28, 28, 1]));
 * ```
 */
export function createResNet(opts: ResNetOptions): tfl.LayersModel {
  checkClassifierOptions(opts);
  const stages = STAGES[opts.depth];
  if (!stages) {
    throw new RadioLensError("RL_ERR_USAGE", {
      detail: `ResNet depth must be 18, 34 or 50, got ${opts.depth}`,
    });
  }
  const variant = opts.variant ?? "imagenet";
  const width = opts.width ?? 64;
  const init = new SeededInit(opts.seed);
  const input = tfl.input({ shape: [...opts.inputShape], name: "image" });
  let x: SymbolicTensor;
  if (variant === "imagenet") {
    x = relu(bn(conv(init, input, width, 7, 2, "stem_conv"), "stem_bn"), "stem_relu");
    x = tfl.layers
      .maxPooling2d({ poolSize: 3, strides: 2, padding: "same", name: "stem_pool" })
      .apply(x) as SymbolicTensor;
  } else {
    x = relu(bn(conv(init, input, width, 3, 1, "stem_conv"), "stem_bn"), "stem_relu");
  }
  const block = opts.depth === 50 ? bottleneck : basicBlock;
  stages.forEach((n, s) => {
    const planes = width * 2 ** s;
    for (let b = 0; b < n; b++) {
      x = block(init, x, planes, b === 0 && s > 0 ? 2 : 1, `layer${s + 1}_${b}`);
    }
  });
  x = tfl.layers.globalAveragePooling2d({ name: "pool" }).apply(x) as SymbolicTensor;
  const out = tfl.layers
    .dense({
      units: opts.numClasses,
      activation: opts.activation ?? "softmax",
      kernelInitializer: init.glorot(),
      name: "fc",
    })
    .apply(x) as SymbolicTensor;
  return tfl.model({ inputs: input, outputs: out, name: opts.name ?? `resnet${opts.depth}` });
}
