/** Gradient saliency: vanilla input gradients (Simonyan et al. 2014) and SmoothGrad (Smilkov et al. 2017) with seeded noise. */
import type * as tfl from "@tensorflow/tfjs-layers";
import { RadioLensError } from "../core/errors.js";
import { Rng } from "../core/rng.js";
import { tf } from "../engine/backend.js";
import { checkSingle, classLogits, resolveClass } from "./forward.js";
import { type Heatmap, normalizeMax } from "./heatmap.js";

/** Options of {@link vanillaGradient}. */
export interface GradientOptions {
  /** Class to explain; default the predicted class. */
  readonly classIndex?: number;
}

/** Options of {@link smoothGrad}. */
export interface SmoothGradOptions extends GradientOptions {
  /** Noisy copies averaged (default 25; the paper finds little change past 50). */
  readonly samples?: number;
  /** Noise σ as a fraction of the input's value range (default 0.15; the paper recommends 10–20%). */
  readonly noiseLevel?: number;
  /** Seeds the noise (default 0): the same seed gives the same map. */
  readonly seed?: number;
  /** Noisy copies per forward/backward pass (default 16), bounding memory on large inputs. */
  readonly batchSize?: number;
}

/** ∂S_k/∂x for every row of `x` (S_k the pre-softmax class score), summed over rows into one map per pixel. */
function inputGradients(model: tfl.LayersModel, x: tf.Tensor4D, k: number): Float32Array {
  return tf.tidy(() => {
    const g = tf.grad((xi: tf.Tensor) => {
      const logits = classLogits(model, xi);
      return tf.sum(tf.slice(logits, [0, k], [-1, 1]));
    })(x);
    return tf.sum(g, 0).dataSync() as Float32Array;
  });
}

/** Per pixel, the largest |gradient| over channels (Simonyan et al. 2014 §3.1). */
function channelMaxAbs(g: Float32Array, rows: number, cols: number, ch: number): Float32Array {
  const out = new Float32Array(rows * cols);
  for (let i = 0; i < rows * cols; i++) {
    let m = 0;
    for (let c = 0; c < ch; c++) m = Math.max(m, Math.abs(g[i * ch + c] as number));
    out[i] = m;
  }
  return out;
}

function predictClass(model: tfl.LayersModel, input: tf.Tensor4D, classIndex?: number) {
  const probs = tf.tidy(() => (model.predict(input) as tf.Tensor).dataSync());
  const k = resolveClass(probs, classIndex);
  return { k, score: probs[k] as number };
}

/**
 * Vanilla gradient saliency (Simonyan, Vedaldi & Zisserman, ICLR workshop 2014, §3.1): the magnitude of the
 * derivative of the class score with respect to each input pixel (maximum over channels), scaled to [0, 1].
 *
 * @example
 * ```ts
 * const heat = vanillaGradient(model, tf.tensor4d(x, [1, 28, 28, 1]), { classIndex: 1 });
 * ```
 */
export function vanillaGradient(
  model: tfl.LayersModel,
  input: tf.Tensor4D,
  opts: GradientOptions = {},
): Heatmap {
  checkSingle(input);
  const [, rows, cols, ch] = input.shape;
  const { k, score } = predictClass(model, input, opts.classIndex);
  const g = inputGradients(model, input, k);
  return {
    data: normalizeMax(channelMaxAbs(g, rows, cols, ch)),
    rows,
    cols,
    classIndex: k,
    layer: "input",
    method: "gradient",
    score,
  };
}

/**
 * SmoothGrad (Smilkov et al. 2017, eq. 2): the input gradient averaged over `samples` copies of the image with
 * Gaussian noise N(0, σ²), σ = noiseLevel × (max − min of the input); the noise comes from the seeded Rng, so a
 * seed reproduces the map. Shown as the per-pixel maximum |mean gradient| over channels, scaled to [0, 1].
 *
 * @example
 * ```ts
 * const heat = smoothGrad(model, x, { samples: 25, noiseLevel: 0.15, seed: 1 });
 * ```
 */
export function smoothGrad(
  model: tfl.LayersModel,
  input: tf.Tensor4D,
  opts: SmoothGradOptions = {},
): Heatmap {
  checkSingle(input);
  const samples = opts.samples ?? 25;
  const level = opts.noiseLevel ?? 0.15;
  const batch = opts.batchSize ?? 16;
  if (
    !(Number.isInteger(samples) && samples >= 1) ||
    !(level >= 0) ||
    !(Number.isInteger(batch) && batch >= 1)
  )
    throw new RadioLensError("RL_ERR_USAGE", {
      detail: "SmoothGrad needs samples ≥ 1 (integer), noiseLevel ≥ 0 and batchSize ≥ 1",
    });
  const [, rows, cols, ch] = input.shape;
  const { k, score } = predictClass(model, input, opts.classIndex);
  const x = input.dataSync() as Float32Array;
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  for (const v of x) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  const sigma = level * (hi - lo);
  const rng = new Rng(opts.seed ?? 0);
  const per = x.length;
  const total = new Float32Array(per);
  for (let s = 0; s < samples; s += batch) {
    const n = Math.min(batch, samples - s);
    const noisy = new Float32Array(n * per);
    for (let i = 0; i < n; i++)
      for (let j = 0; j < per; j++) noisy[i * per + j] = (x[j] as number) + rng.normal(0, sigma);
    const t = tf.tensor4d(noisy, [n, rows, cols, ch]);
    try {
      const g = inputGradients(model, t, k);
      for (let j = 0; j < per; j++) total[j] = (total[j] as number) + (g[j] as number);
    } finally {
      t.dispose();
    }
  }
  for (let j = 0; j < per; j++) total[j] = (total[j] as number) / samples;
  return {
    data: normalizeMax(channelMaxAbs(total, rows, cols, ch)),
    rows,
    cols,
    classIndex: k,
    layer: "input",
    method: "smoothgrad",
    score,
  };
}
