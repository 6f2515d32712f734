/** 3D ResNet-18/50 classifiers for 28³ volumes, with full 3D, ACS (Yang et al. 2021) and 2.5D convolutions. */
import * as tfl from "@tensorflow/tfjs-layers";
import { RadioLensError } from "../../core/errors.js";
import { checkPositiveInt, type HeadActivation, SeededInit } from "./init.js";
import { batchNorm } from "./resnet.js";

type SymbolicTensor = tfl.SymbolicTensor;

/**
 * How each k×k 2D kernel of ResNet becomes 3D (the three "+3D", "+ACS" and "+2.5D" rows of MedMNIST v2, Yang et al.,
 * Scientific Data 2023, Table 4):
 * - `3d`: k×k×k kernels (Hara et al. 2018, "Can Spatiotemporal 3D CNNs Retrace the History of 2D CNNs?");
 * - `acs`: the output channels are split in three groups convolved with k×k×1, k×1×k and 1×k×k kernels, one per
 *   anatomical view (axial, coronal, sagittal; Yang et al. 2021, "Reinventing 2D Convolutions for 3D Images", IEEE
 *   JBHI), so each conv keeps the 2D parameter count;
 * - `2.5d`: 1×k×k kernels, a 2D network run on every slice with 3D pooling at the end.
 */
export type Conv3dKind = "3d" | "acs" | "2.5d";

/** Options for {@link createResNet3d}. */
export interface ResNet3dOptions {
  /** `[slices, rows, cols, channels]`. */
  readonly inputShape: readonly [number, number, number, number];
  readonly numClasses: number;
  readonly seed: number;
  readonly depth: 18 | 50;
  readonly conv?: Conv3dKind;
  /** Channels of the first stage (64 in the paper); each later stage doubles it. Narrower nets fit a CPU budget. */
  readonly width?: number;
  readonly activation?: HeadActivation;
  readonly name?: string;
}

const STAGES: Readonly<Record<18 | 50, readonly number[]>> = { 18: [2, 2, 2, 2], 50: [3, 4, 6, 3] };

/** Builds the layers of one network; `init` draws every layer's seed in build order. */
class Builder {
  constructor(
    private readonly init: SeededInit,
    private readonly kind: Conv3dKind,
  ) {}

  /** `[slices, rows, cols]` kernel of one view. */
  private conv1(x: SymbolicTensor, filters: number, kernel: number[], strides: number, name: string) {
    return tfl.layers
      .conv3d({
        filters,
        kernelSize: kernel,
        strides,
        padding: "same",
        useBias: false,
        kernelInitializer: this.init.heFanOut(),
        name,
      })
      .apply(x) as SymbolicTensor;
  }

  conv(x: SymbolicTensor, filters: number, k: number, strides: number, name: string): SymbolicTensor {
    if (k === 1 || this.kind === "3d") return this.conv1(x, filters, [k, k, k], strides, name);
    if (this.kind === "2.5d") return this.conv1(x, filters, [1, k, k], strides, name);
    // ACS splits the output channels as the reference ACSConv does: ⌊F/3⌋ per view, the remainder to the first views.
    const third = Math.floor(filters / 3);
    const split = [third + (filters % 3 > 0 ? 1 : 0), third + (filters % 3 > 1 ? 1 : 0), third];
    const kernels = [
      [k, k, 1],
      [k, 1, k],
      [1, k, k],
    ];
    const parts = (["a", "c", "s"] as const).flatMap((view, i) =>
      (split[i] as number) > 0
        ? [this.conv1(x, split[i] as number, kernels[i] as number[], strides, `${name}_${view}`)]
        : [],
    );
    if (parts.length === 1) return parts[0] as SymbolicTensor;
    return tfl.layers.concatenate({ axis: -1, name }).apply(parts) as SymbolicTensor;
  }

  /**
   * tfjs-layers' BatchNormalization stops at rank 4; per-channel statistics over (batch, space) do not depend on how
   * the space is laid out, so the map is folded to `[slices, rows·cols, ch]` around it (as the 3D U-Net does).
   */
  bn(x: SymbolicTensor, name: string): SymbolicTensor {
    const [, d, h, w, c] = x.shape as number[];
    const folded = tfl.layers.reshape({ targetShape: [d!, h! * w!, c!], name: `${name}_fold` }).apply(x);
    const y = batchNorm(name).apply(folded);
    return tfl.layers
      .reshape({ targetShape: [d!, h!, w!, c!], name: `${name}_unfold` })
      .apply(y) as SymbolicTensor;
  }

  relu(x: SymbolicTensor, name: string): SymbolicTensor {
    return tfl.layers.activation({ activation: "relu", name }).apply(x) as SymbolicTensor;
  }

  shortcut(x: SymbolicTensor, out: number, strides: number, name: string): SymbolicTensor {
    if (strides === 1 && x.shape[x.shape.length - 1] === out) return x;
    return this.bn(this.conv(x, out, 1, strides, `${name}_down_conv`), `${name}_down_bn`);
  }

  basic(x: SymbolicTensor, planes: number, strides: number, name: string): SymbolicTensor {
    let y = this.relu(
      this.bn(this.conv(x, planes, 3, strides, `${name}_conv1`), `${name}_bn1`),
      `${name}_relu1`,
    );
    y = this.bn(this.conv(y, planes, 3, 1, `${name}_conv2`), `${name}_bn2`);
    const s = this.shortcut(x, planes, strides, name);
    return this.relu(tfl.layers.add({ name: `${name}_add` }).apply([y, s]) as SymbolicTensor, `${name}_out`);
  }

  bottleneck(x: SymbolicTensor, planes: number, strides: number, name: string): SymbolicTensor {
    let y = this.relu(this.bn(this.conv(x, planes, 1, 1, `${name}_conv1`), `${name}_bn1`), `${name}_relu1`);
    y = this.relu(this.bn(this.conv(y, planes, 3, strides, `${name}_conv2`), `${name}_bn2`), `${name}_relu2`);
    y = this.bn(this.conv(y, planes * 4, 1, 1, `${name}_conv3`), `${name}_bn3`);
    const s = this.shortcut(x, planes * 4, strides, name);
    return this.relu(tfl.layers.add({ name: `${name}_add` }).apply([y, s]) as SymbolicTensor, `${name}_out`);
  }
}

/**
 * A ResNet for small volumes in the layout of the MedMNIST v2 3D baselines: 3×3×3 stride-1 stem without max-pool
 * (the 28³ form of the 2D "ResNet (28)"), four stages, global average pooling over the volume, dense head.
 * Batch-norm statistics are per channel over batch and all voxels.
 *
 * @example
 * ```ts
 * const m = createResNet3d({ depth: 18, conv: "acs", inputShape: [28, 28, 28, 1], numClasses: 2, seed: 1 });
 * ```
 */
export function createResNet3d(opts: ResNet3dOptions): tfl.LayersModel {
  if (opts.inputShape.length !== 4) {
    throw new RadioLensError("RL_ERR_USAGE", {
      detail: `3D ResNets take volumes [slices, rows, cols, channels], got [${opts.inputShape.join(", ")}]`,
    });
  }
  for (const [i, d] of opts.inputShape.entries()) checkPositiveInt(`inputShape[${i}]`, d);
  checkPositiveInt("numClasses", opts.numClasses);
  const width = opts.width ?? 64;
  checkPositiveInt("width", width);
  const kind = opts.conv ?? "3d";
  const b = new Builder(new SeededInit(opts.seed), kind);
  const input = tfl.input({ shape: [...opts.inputShape], name: "volume" });
  let x = b.relu(b.bn(b.conv(input, width, 3, 1, "stem_conv"), "stem_bn"), "stem_relu");
  STAGES[opts.depth].forEach((n, s) => {
    const planes = width * 2 ** s;
    for (let i = 0; i < n; i++) {
      const strides = i === 0 && s > 0 ? 2 : 1;
      const name = `layer${s + 1}_${i}`;
      x = opts.depth === 50 ? b.bottleneck(x, planes, strides, name) : b.basic(x, planes, strides, name);
    }
  });
  // Global average pooling over [slices, rows, cols]: tfjs-layers has no 3D form, the 1D one over the flattened voxels is the same mean.
  const [, d, h, w, c] = x.shape as number[];
  x = tfl.layers.reshape({ targetShape: [d! * h! * w!, c!], name: "pool_flat" }).apply(x) as SymbolicTensor;
  x = tfl.layers.globalAveragePooling1d({ name: "pool" }).apply(x) as SymbolicTensor;
  const out = tfl.layers
    .dense({
      units: opts.numClasses,
      activation: opts.activation ?? "softmax",
      kernelInitializer: new SeededInit(opts.seed ^ 0x3d).glorot(),
      name: "fc",
    })
    .apply(x) as SymbolicTensor;
  return tfl.model({ inputs: input, outputs: out, name: opts.name ?? `resnet${opts.depth}-${kind}` });
}
