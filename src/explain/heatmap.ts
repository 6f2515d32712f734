/** The Heatmap type shared by every explanation method, and the resampling that maps a map between pixel grids. */
import { RadioLensError } from "../core/errors.js";

/** Explanation methods `radiolens explain` offers. */
export type ExplainMethod = "gradcam" | "gradcam++" | "occlusion" | "gradient" | "smoothgrad";

/**
 * Every method name, in help order.
 *
 * @example
 * ```ts
 * EXPLAIN_METHODS.includes("occlusion"); // true
 * ```
 */
export const EXPLAIN_METHODS: readonly ExplainMethod[] = [
  "gradcam",
  "gradcam++",
  "occlusion",
  "gradient",
  "smoothgrad",
];

/** A relevance map on the model's input grid, values in [0, 1] (all zeros when nothing is relevant). */
export interface Heatmap {
  /** Row-major `rows × cols`. */
  readonly data: Float32Array;
  readonly rows: number;
  readonly cols: number;
  /** The class explained. */
  readonly classIndex: number;
  /** The layer a CAM method used, or "input" for gradient and occlusion methods. */
  readonly layer: string;
  readonly method: ExplainMethod;
  /** The model's output for that class (a probability for softmax/sigmoid models). */
  readonly score: number;
}

/**
 * Bilinear resampling of a single-channel map with half-pixel centres (pixel i covers [i, i+1), its centre is
 * i + 0.5 on both grids), the inverse geometry of the area resize in model preprocessing; samples outside the
 * source are clamped to its edge. Used to lift a layer's coarse map to the input grid and an input-grid map to
 * the original image's grid.
 *
 * @example
 * ```ts
 * const big = resizeBilinear(heat.data, 28, 28, 512, 512);
 * ```
 */
export function resizeBilinear(
  src: ArrayLike<number>,
  rows: number,
  cols: number,
  outRows: number,
  outCols: number,
): Float32Array {
  if (src.length !== rows * cols)
    throw new RadioLensError("RL_ERR_INTERNAL", {
      detail: `map of ${src.length} values is not ${rows}×${cols}`,
    });
  const out = new Float32Array(outRows * outCols);
  const axis = (inN: number, outN: number) => {
    const i0 = new Int32Array(outN);
    const i1 = new Int32Array(outN);
    const w = new Float32Array(outN);
    for (let o = 0; o < outN; o++) {
      const x = Math.min(Math.max(((o + 0.5) * inN) / outN - 0.5, 0), inN - 1);
      const a = Math.floor(x);
      i0[o] = a;
      i1[o] = Math.min(a + 1, inN - 1);
      w[o] = x - a;
    }
    return { i0, i1, w };
  };
  const ay = axis(rows, outRows);
  const ax = axis(cols, outCols);
  for (let y = 0; y < outRows; y++) {
    const r0 = (ay.i0[y] as number) * cols;
    const r1 = (ay.i1[y] as number) * cols;
    const wy = ay.w[y] as number;
    for (let x = 0; x < outCols; x++) {
      const c0 = ax.i0[x] as number;
      const c1 = ax.i1[x] as number;
      const wx = ax.w[x] as number;
      const top = (src[r0 + c0] as number) * (1 - wx) + (src[r0 + c1] as number) * wx;
      const bot = (src[r1 + c0] as number) * (1 - wx) + (src[r1 + c1] as number) * wx;
      out[y * outCols + x] = top * (1 - wy) + bot * wy;
    }
  }
  return out;
}

/**
 * Scales a non-negative map to [0, 1] by its maximum; an all-zero map stays zero (no relevance found).
 *
 * @example
 * ```ts
 * const m = normalizeMax(Float32Array.from([0, 2, 4])); // [0, 0.5, 1]
 * ```
 */
export function normalizeMax(m: Float32Array): Float32Array {
  let max = 0;
  for (const v of m) if (v > max) max = v;
  const out = new Float32Array(m.length);
  if (max > 0) for (let i = 0; i < m.length; i++) out[i] = Math.max(0, m[i] as number) / max;
  return out;
}
