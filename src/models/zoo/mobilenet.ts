/** MobileNetV2 (Sandler et al. 2018, "MobileNetV2: Inverted Residuals and Linear Bottlenecks"). */
import * as tfl from "@tensorflow/tfjs-layers";
import { SeededDropout } from "../layers.js";
import { type ClassifierOptions, checkClassifierOptions, SeededInit } from "./init.js";
import { batchNorm, type ResNetVariant } from "./resnet.js";

type SymbolicTensor = tfl.SymbolicTensor;

/** Options for {@link createMobileNetV2}. */
export interface MobileNetV2Options extends ClassifierOptions {
  /** Width multiplier α (default 1.0; Sandler et al. §6.1). */
  readonly widthMultiplier?: number;
  /** `imagenet` (stride-2 stem) or `medmnist` (stride-1 stem and first stride-2 stage at stride 1, for 28×28). */
  readonly variant?: ResNetVariant;
  /** Dropout rate before the classifier (default 0.2, as the reference); masks come from a seeded RNG. */
  readonly dropout?: number;
}

/** (expansion t, channels c, repeats n, stride s) of Sandler et al. Table 2. */
const SETTINGS: readonly (readonly [number, number, number, number])[] = [
  [1, 16, 1, 1],
  [6, 24, 2, 2],
  [6, 32, 3, 2],
  [6, 64, 4, 2],
  [6, 96, 3, 1],
  [6, 160, 3, 2],
  [6, 320, 1, 1],
];

/** Rounds channels to a multiple of 8 without dropping more than 10% (the reference implementation's rule). */
function makeDivisible(v: number, divisor = 8): number {
  const n = Math.max(divisor, Math.floor((v + divisor / 2) / divisor) * divisor);
  return n < 0.9 * v ? n + divisor : n;
}

function convBn(
  init: SeededInit,
  x: SymbolicTensor,
  filters: number,
  k: number,
  s: number,
  name: string,
  act: boolean,
): SymbolicTensor {
  let y = tfl.layers
    .conv2d({
      filters,
      kernelSize: k,
      strides: s,
      padding: "same",
      useBias: false,
      kernelInitializer: init.heFanOut(),
      name: `${name}_conv`,
    })
    .apply(x) as SymbolicTensor;
  y = batchNorm(`${name}_bn`).apply(y) as SymbolicTensor;
  return act ? (tfl.layers.reLU({ maxValue: 6, name: `${name}_relu6` }).apply(y) as SymbolicTensor) : y;
}

/**
 * Builds MobileNetV2: inverted residual blocks with linear bottlenecks, ReLU6, a 1280-channel last conv.
 * Dropout before the classifier is a {@link SeededDropout} so training stays reproducible and resumable.
 *
 * @example
 * ```ts
 * const m = createMobileNetV2({ inputShape: [224, 224, 3], numClasses: 1000, seed: 1 }); // 3,504,872 parameters
 * ```
 */
export function createMobileNetV2(opts: MobileNetV2Options): tfl.LayersModel {
  checkClassifierOptions(opts);
  const alpha = opts.widthMultiplier ?? 1;
  const medmnist = opts.variant === "medmnist";
  const init = new SeededInit(opts.seed);
  const input = tfl.input({ shape: [...opts.inputShape], name: "image" });
  let x = convBn(init, input, makeDivisible(32 * alpha), 3, medmnist ? 1 : 2, "stem", true);
  let firstStride2 = true;
  SETTINGS.forEach(([t, c, n, s], stage) => {
    const out = makeDivisible(c * alpha);
    let stageStride = s;
    if (medmnist && s === 2 && firstStride2) {
      stageStride = 1;
      firstStride2 = false;
    }
    for (let i = 0; i < n; i++) {
      const name = `block${stage + 1}_${i}`;
      const stride = i === 0 ? stageStride : 1;
      const inC = x.shape[x.shape.length - 1] as number;
      let y = x;
      if (t !== 1) y = convBn(init, y, inC * t, 1, 1, `${name}_expand`, true);
      y = tfl.layers
        .depthwiseConv2d({
          kernelSize: 3,
          strides: stride,
          padding: "same",
          useBias: false,
          depthwiseInitializer: init.heFanOutDepthwise(t === 1 ? inC : inC * t),
          name: `${name}_dw`,
        })
        .apply(y) as SymbolicTensor;
      y = batchNorm(`${name}_dw_bn`).apply(y) as SymbolicTensor;
      y = tfl.layers.reLU({ maxValue: 6, name: `${name}_dw_relu6` }).apply(y) as SymbolicTensor;
      y = convBn(init, y, out, 1, 1, `${name}_project`, false);
      x =
        stride === 1 && inC === out
          ? (tfl.layers.add({ name: `${name}_add` }).apply([x, y]) as SymbolicTensor)
          : y;
    }
  });
  x = convBn(init, x, makeDivisible(1280 * Math.max(1, alpha)), 1, 1, "last", true);
  x = tfl.layers.globalAveragePooling2d({ name: "pool" }).apply(x) as SymbolicTensor;
  const rate = opts.dropout ?? 0.2;
  if (rate > 0)
    x = new SeededDropout({ rate, seed: init.seed(), name: "dropout" }).apply(x) as SymbolicTensor;
  const out = tfl.layers
    .dense({
      units: opts.numClasses,
      activation: opts.activation ?? "softmax",
      kernelInitializer: init.glorot(),
      name: "fc",
    })
    .apply(x) as SymbolicTensor;
  return tfl.model({ inputs: input, outputs: out, name: opts.name ?? "mobilenetv2" });
}
