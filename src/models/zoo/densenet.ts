/** DenseNet-121 (Huang et al. 2017, "Densely Connected Convolutional Networks", DenseNet-BC with k = 32). */
import * as tfl from "@tensorflow/tfjs-layers";
import { type ClassifierOptions, checkClassifierOptions, checkPositiveInt, SeededInit } from "./init.js";
import { batchNorm, type ResNetVariant } from "./resnet.js";

type SymbolicTensor = tfl.SymbolicTensor;

/** Options for {@link createDenseNet}. */
export interface DenseNetOptions extends ClassifierOptions {
  /** Layers per dense block; default DenseNet-121's (6, 12, 24, 16) (Huang et al. Table 1). */
  readonly blocks?: readonly number[];
  /** Growth rate k (default 32). */
  readonly growthRate?: number;
  /** `imagenet` stem (7×7/2 conv + 3×3/2 max-pool) or `medmnist` stem (3×3/1 conv, no pool) for 28×28 inputs. */
  readonly variant?: ResNetVariant;
}

function bnRelu(x: SymbolicTensor, name: string): SymbolicTensor {
  const y = batchNorm(`${name}_bn`).apply(x) as SymbolicTensor;
  return tfl.layers.activation({ activation: "relu", name: `${name}_relu` }).apply(y) as SymbolicTensor;
}

function conv(init: SeededInit, x: SymbolicTensor, filters: number, k: number, s: number, name: string) {
  return tfl.layers
    .conv2d({
      filters,
      kernelSize: k,
      strides: s,
      padding: "same",
      useBias: false,
      kernelInitializer: init.heFanOut(),
      name,
    })
    .apply(x) as SymbolicTensor;
}

/**
 * Builds DenseNet-121 (or another DenseNet-BC via `blocks`): bottleneck layers BN-ReLU-1×1(4k)-BN-ReLU-3×3(k),
 * transitions with compression 0.5 and 2×2 average pooling (Huang et al. §3).
 *
 * @example
 * ```ts
 * const m = createDenseNet({ inputShape: [224, 224, 3], numClasses: 1000, seed: 1 }); // 7,978,856 parameters
 * ```
 */
export function createDenseNet(opts: DenseNetOptions): tfl.LayersModel {
  checkClassifierOptions(opts);
  const blocks = opts.blocks ?? [6, 12, 24, 16];
  const k = opts.growthRate ?? 32;
  checkPositiveInt("growthRate", k);
  blocks.forEach((n, i) => {
    checkPositiveInt(`blocks[${i}]`, n);
  });
  const init = new SeededInit(opts.seed);
  const input = tfl.input({ shape: [...opts.inputShape], name: "image" });
  let x: SymbolicTensor;
  let channels = 2 * k;
  if ((opts.variant ?? "imagenet") === "imagenet") {
    x = bnRelu(conv(init, input, channels, 7, 2, "stem_conv"), "stem");
    x = tfl.layers
      .maxPooling2d({ poolSize: 3, strides: 2, padding: "same", name: "stem_pool" })
      .apply(x) as SymbolicTensor;
  } else {
    x = bnRelu(conv(init, input, channels, 3, 1, "stem_conv"), "stem");
  }
  blocks.forEach((n, b) => {
    for (let l = 0; l < n; l++) {
      const name = `block${b + 1}_${l}`;
      let y = conv(init, bnRelu(x, `${name}_a`), 4 * k, 1, 1, `${name}_conv1`);
      y = conv(init, bnRelu(y, `${name}_b`), k, 3, 1, `${name}_conv2`);
      x = tfl.layers.concatenate({ axis: -1, name: `${name}_concat` }).apply([x, y]) as SymbolicTensor;
      channels += k;
    }
    if (b < blocks.length - 1) {
      channels = Math.floor(channels / 2);
      x = conv(init, bnRelu(x, `trans${b + 1}`), channels, 1, 1, `trans${b + 1}_conv`);
      x = tfl.layers
        .averagePooling2d({ poolSize: 2, strides: 2, padding: "valid", name: `trans${b + 1}_pool` })
        .apply(x) as SymbolicTensor;
    }
  });
  x = bnRelu(x, "final");
  x = tfl.layers.globalAveragePooling2d({ name: "pool" }).apply(x) as SymbolicTensor;
  const out = tfl.layers
    .dense({
      units: opts.numClasses,
      activation: opts.activation ?? "softmax",
      kernelInitializer: init.glorot(),
      name: "fc",
    })
    .apply(x) as SymbolicTensor;
  return tfl.model({ inputs: input, outputs: out, name: opts.name ?? "densenet121" });
}
