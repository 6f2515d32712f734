/** U-Net in 2D (Ronneberger et al. 2015) and 3D (Çiçek et al. 2016, "3D U-Net") with "same" padding. */
import * as tfl from "@tensorflow/tfjs-layers";
import { RadioLensError } from "../../core/errors.js";
import { checkPositiveInt, type HeadActivation, SeededInit } from "./init.js";
import { VoxelShuffle3D } from "./layers3d.js";
import { batchNorm } from "./resnet.js";

type SymbolicTensor = tfl.SymbolicTensor;

/** Options for {@link createUNet}. */
export interface UNetOptions {
  /** `[rows, cols, channels]` (2D) or `[slices, rows, cols, channels]` (3D); spatial sizes divisible by 2^depth. */
  readonly inputShape: readonly number[];
  /** Output channels: classes including background (softmax), or 1 for a binary mask (sigmoid). */
  readonly numClasses: number;
  readonly seed: number;
  /** Filters of the first level, doubled at each level down (default 64 in 2D, 32 in 3D). */
  readonly baseFilters?: number;
  /** Number of 2× down-samplings (default 4, as in the paper). */
  readonly depth?: number;
  /** Batch norm after each conv (default true; the 2015 paper had none, the 3D U-Net paper added it). */
  readonly batchNorm?: boolean;
  /** Output activation; default softmax for numClasses > 1, sigmoid for 1. */
  readonly activation?: HeadActivation;
  /**
   * Extra softmax heads on the decoder's lower levels 1..n (deep supervision, as nnU-Net, Isensee et al. 2021):
   * the model then has n + 1 outputs, full resolution first, each next one at half the size. Default 0.
   */
  readonly deepSupervision?: number;
  readonly name?: string;
}

/**
 * Builds a U-Net: per level two 3×3(×3) convs + ReLU, 2× max-pool down, 2×2 transposed conv up (in 3D a 1×1×1
 * conv + {@link VoxelShuffle3D}, the same map with a per-offset bias), skip concatenation, 1×1 conv head. The 2D form with `baseFilters: 64, depth: 4, batchNorm: false`, one input and one
 * output channel has the paper's 31,030,593 parameters.
 *
 * @example
 * ```ts
 * const net = createUNet({ inputShape: [64, 64, 1], numClasses: 2, seed: 1, baseFilters: 16, depth: 3 });
 * ```
 */
export function createUNet(opts: UNetOptions): tfl.LayersModel {
  const dims = opts.inputShape.length - 1;
  if (dims !== 2 && dims !== 3) {
    throw new RadioLensError("RL_ERR_USAGE", {
      detail: `U-Net inputShape must be [rows, cols, ch] or [slices, rows, cols, ch], got [${opts.inputShape.join(", ")}]`,
    });
  }
  const depth = opts.depth ?? 4;
  const base = opts.baseFilters ?? (dims === 2 ? 64 : 32);
  checkPositiveInt("numClasses", opts.numClasses);
  checkPositiveInt("depth", depth);
  checkPositiveInt("baseFilters", base);
  opts.inputShape.forEach((d, i) => {
    checkPositiveInt(`inputShape[${i}]`, d);
  });
  for (const d of opts.inputShape.slice(0, dims)) {
    if (d % 2 ** depth !== 0) {
      throw new RadioLensError("RL_ERR_USAGE", {
        detail: `U-Net spatial size ${d} is not divisible by 2^depth = ${2 ** depth}; crop or pad the input, or lower depth`,
      });
    }
  }
  const useBn = opts.batchNorm ?? true;
  const init = new SeededInit(opts.seed);
  const convLayer = dims === 2 ? tfl.layers.conv2d : tfl.layers.conv3d;
  const poolLayer = dims === 2 ? tfl.layers.maxPooling2d : tfl.layers.maxPooling3d;

  // tfjs-layers' BatchNormalization stops at rank 4; statistics over (batch, spatial) per channel do not depend on
  // how the spatial axes are laid out, so a 3D feature map is folded to [slices, rows·cols, ch] around it.
  const normalize = (x: SymbolicTensor, name: string): SymbolicTensor => {
    if (dims === 2) return batchNorm(name).apply(x) as SymbolicTensor;
    const [, d, h, w, c] = x.shape as number[];
    const folded = tfl.layers.reshape({ targetShape: [d!, h! * w!, c!], name: `${name}_fold` }).apply(x);
    const y = batchNorm(name).apply(folded);
    return tfl.layers
      .reshape({ targetShape: [d!, h!, w!, c!], name: `${name}_unfold` })
      .apply(y) as SymbolicTensor;
  };

  const convBlock = (x: SymbolicTensor, filters: number, name: string): SymbolicTensor => {
    let y = x;
    for (const i of [1, 2]) {
      y = convLayer({
        filters,
        kernelSize: 3,
        padding: "same",
        useBias: !useBn,
        kernelInitializer: init.heFanIn(),
        name: `${name}_conv${i}`,
      }).apply(y) as SymbolicTensor;
      if (useBn) y = normalize(y, `${name}_bn${i}`);
      y = tfl.layers.activation({ activation: "relu", name: `${name}_relu${i}` }).apply(y) as SymbolicTensor;
    }
    return y;
  };

  const input = tfl.input({ shape: [...opts.inputShape], name: "image" });
  const skips: SymbolicTensor[] = [];
  const dsLevels = Math.min(opts.deepSupervision ?? 0, depth - 1);
  const dsHeads: SymbolicTensor[] = [];
  let x: SymbolicTensor = input;
  for (let l = 0; l < depth; l++) {
    x = convBlock(x, base * 2 ** l, `down${l}`);
    skips.push(x);
    x = poolLayer({ poolSize: 2, strides: 2, name: `down${l}_pool` }).apply(x) as SymbolicTensor;
  }
  x = convBlock(x, base * 2 ** depth, "bottom");
  for (let l = depth - 1; l >= 0; l--) {
    const filters = base * 2 ** l;
    if (dims === 2) {
      x = tfl.layers
        .conv2dTranspose({
          filters,
          kernelSize: 2,
          strides: 2,
          padding: "same",
          kernelInitializer: init.heFanIn(),
          name: `up${l}_upconv`,
        })
        .apply(x) as SymbolicTensor;
    } else {
      x = tfl.layers
        .conv3d({
          filters: 8 * filters,
          kernelSize: 1,
          kernelInitializer: init.heFanIn(),
          name: `up${l}_upconv`,
        })
        .apply(x) as SymbolicTensor;
      x = new VoxelShuffle3D({ name: `up${l}_shuffle` }).apply(x) as SymbolicTensor;
    }
    x = tfl.layers.concatenate({ axis: -1, name: `up${l}_concat` }).apply([skips[l]!, x]) as SymbolicTensor;
    x = convBlock(x, filters, `up${l}`);
    if (l > 0 && l <= dsLevels) {
      dsHeads.unshift(
        convLayer({
          filters: opts.numClasses,
          kernelSize: 1,
          activation: opts.activation ?? (opts.numClasses === 1 ? "sigmoid" : "softmax"),
          kernelInitializer: init.glorot(),
          name: `ds${l}_head`,
        }).apply(x) as SymbolicTensor,
      );
    }
  }
  const activation = opts.activation ?? (opts.numClasses === 1 ? "sigmoid" : "softmax");
  const out = convLayer({
    filters: opts.numClasses,
    kernelSize: 1,
    activation,
    kernelInitializer: init.glorot(),
    name: "head",
  }).apply(x) as SymbolicTensor;
  return tfl.model({
    inputs: input,
    outputs: dsHeads.length > 0 ? [out, ...dsHeads] : out,
    name: opts.name ?? `unet${dims}d`,
  });
}
