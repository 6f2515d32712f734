/** Occlusion sensitivity (Zeiler & Fergus, ECCV 2014 §4.2): how much the class probability drops when a patch is hidden. */
import type * as tfl from "@tensorflow/tfjs-layers";
import { RadioLensError } from "../core/errors.js";
import { tf } from "../engine/backend.js";
import { checkSingle, resolveClass } from "./forward.js";
import { type Heatmap, normalizeMax } from "./heatmap.js";

/** Options of {@link occlusionSensitivity}. */
export interface OcclusionOptions {
  /** Class to explain; default the predicted class. */
  readonly classIndex?: number;
  /** Side of the square patch in input pixels (default: a seventh of the shorter side, at least 2). */
  readonly patch?: number;
  /** Step between patch positions (default half the patch, at least 1). */
  readonly stride?: number;
  /** Value of the hidden pixels (default: the image's mean per channel, a grey square as in the paper). */
  readonly baseline?: number;
  /** Occluded copies per forward pass (default 64). */
  readonly batchSize?: number;
}

function positions(n: number, patch: number, stride: number): number[] {
  const out: number[] = [];
  for (let p = 0; p + patch < n; p += stride) out.push(p);
  out.push(Math.max(0, n - patch)); // the last patch always reaches the border
  return [...new Set(out)];
}

/**
 * Slides a `patch × patch` square of `baseline` over the image and records, for every pixel, the mean drop of
 * the class probability over the patches that covered it; only drops count (hiding the pixel hurt the class),
 * scaled to [0, 1]. Model-agnostic: it needs only forward passes.
 *
 * @example
 * ```ts
 * const heat = occlusionSensitivity(model, x, { patch: 4, stride: 2 });
 * ```
 */
export function occlusionSensitivity(
  model: tfl.LayersModel,
  input: tf.Tensor4D,
  opts: OcclusionOptions = {},
): Heatmap {
  checkSingle(input);
  const [, rows, cols, ch] = input.shape;
  const patch = opts.patch ?? Math.max(2, Math.round(Math.min(rows, cols) / 7));
  const stride = opts.stride ?? Math.max(1, Math.floor(patch / 2));
  const batch = opts.batchSize ?? 64;
  if (!(Number.isInteger(patch) && patch >= 1 && patch <= Math.min(rows, cols)))
    throw new RadioLensError("RL_ERR_USAGE", {
      detail: `occlusion patch must be an integer from 1 to ${Math.min(rows, cols)}, got ${patch}`,
    });
  if (!(Number.isInteger(stride) && stride >= 1) || !(Number.isInteger(batch) && batch >= 1))
    throw new RadioLensError("RL_ERR_USAGE", {
      detail: "occlusion stride and batch size must be integers ≥ 1",
    });
  const x = input.dataSync() as Float32Array;
  const probs = tf.tidy(() => (model.predict(input) as tf.Tensor).dataSync());
  const k = resolveClass(probs, opts.classIndex);
  const base = probs[k] as number;
  const fill = new Float32Array(ch);
  for (let c = 0; c < ch; c++) {
    if (opts.baseline !== undefined) fill[c] = opts.baseline;
    else {
      let s = 0;
      for (let i = c; i < x.length; i += ch) s += x[i] as number;
      fill[c] = s / (rows * cols);
    }
  }
  const windows: [number, number][] = [];
  for (const r of positions(rows, patch, stride))
    for (const c of positions(cols, patch, stride)) windows.push([r, c]);
  const drop = new Float32Array(rows * cols);
  const count = new Float32Array(rows * cols);
  const per = x.length;
  for (let s = 0; s < windows.length; s += batch) {
    const part = windows.slice(s, s + batch);
    const buf = new Float32Array(part.length * per);
    part.forEach(([r0, c0], i) => {
      buf.set(x, i * per);
      for (let r = r0; r < r0 + patch; r++)
        for (let c = c0; c < c0 + patch; c++)
          for (let q = 0; q < ch; q++) buf[i * per + (r * cols + c) * ch + q] = fill[q] as number;
    });
    const out = tf.tidy(() => {
      const p = model.predict(tf.tensor4d(buf, [part.length, rows, cols, ch])) as tf.Tensor;
      return p.dataSync();
    });
    const width = out.length / part.length;
    part.forEach(([r0, c0], i) => {
      const d = base - (out[i * width + k] as number);
      for (let r = r0; r < r0 + patch; r++)
        for (let c = c0; c < c0 + patch; c++) {
          drop[r * cols + c] = (drop[r * cols + c] as number) + d;
          count[r * cols + c] = (count[r * cols + c] as number) + 1;
        }
    });
  }
  for (let i = 0; i < drop.length; i++)
    drop[i] = Math.max(0, (drop[i] as number) / Math.max(1, count[i] as number));
  return {
    data: normalizeMax(drop),
    rows,
    cols,
    classIndex: k,
    layer: "input",
    method: "occlusion",
    score: base,
  };
}
