/** Seeded augmentations applied to whole batches of 2D images or 3D volumes in place: flips, shifts, intensity jitter. */
import type { Rng } from "../core/rng.js";

/** Options of {@link batchAugmenter}; every field is off by default. */
export interface BatchAugmentOptions {
  /** Spatial axes of a sample (2 for `[rows, cols, ch]`, 3 for `[slices, rows, cols, ch]`). */
  readonly spatialDims: 2 | 3;
  /**
   * Spatial axes (0-based within the sample) each flipped with probability ½. For 2D images `[1]` flips left–right;
   * for volumes `[0, 1, 2]` flips along each axis, the augmentation of the MedMNIST 3D baselines' flip family.
   */
  readonly flipAxes?: readonly number[];
  /** Largest translation in voxels along each spatial axis, uniform in [-s, s], zero filled (random-crop with padding). */
  readonly maxShift?: number;
  /** Multiplicative and additive intensity jitter: `x·(1 + a) + b`, a and b uniform in [-s, s]. */
  readonly intensity?: number;
}

/** Augments `x` (`[batch, ...sampleShape]`, channels last) in place with draws from `rng`. */
export type BatchAugmenter = (x: Float32Array, xShape: readonly number[], rng: Rng) => void;

/**
 * A batch augmenter: every sample gets its own flips, shift and intensity draw, in sample order, so the same RNG
 * state gives the same batch (seeded, resumable training).
 *
 * @example
 * ```ts
 * const aug = batchAugmenter({ spatialDims: 3, flipAxes: [0, 1, 2], maxShift: 2 });
 * aug(batch.x, batch.xShape, new Rng(7));
 * ```
 */
export function batchAugmenter(opts: BatchAugmentOptions): BatchAugmenter {
  const flips = opts.flipAxes ?? [];
  const maxShift = Math.max(0, Math.floor(opts.maxShift ?? 0));
  const jitter = opts.intensity ?? 0;
  for (const a of flips) {
    if (!(Number.isInteger(a) && a >= 0 && a < opts.spatialDims))
      throw new RangeError(`flip axis ${a} is not a spatial axis of a ${opts.spatialDims}D sample`);
  }
  return (x, xShape, rng) => {
    const sp = xShape.slice(1, 1 + opts.spatialDims);
    if (sp.length !== opts.spatialDims || xShape.length !== opts.spatialDims + 2)
      throw new RangeError(
        `batch shape [${xShape.join(", ")}] is not [batch, ${opts.spatialDims} axes, channels]`,
      );
    const n = xShape[0] as number;
    const ch = xShape[xShape.length - 1] as number;
    const per = x.length / n;
    const tmp = new Float32Array(per);
    // Row-major strides of the spatial axes in units of voxels (channels stay together).
    const strides = sp.map((_, i) => sp.slice(i + 1).reduce((a, b) => a * b, 1));
    for (let s = 0; s < n; s++) {
      const maps = sp.map((size, axis) => {
        const flip = flips.includes(axis) && rng.bernoulli(0.5);
        const shift = maxShift > 0 ? rng.int(-maxShift, maxShift) : 0;
        // Output index i reads source index src[i] (-1: outside, zero filled).
        const src = new Int32Array(size);
        for (let i = 0; i < size; i++) {
          const j = (flip ? size - 1 - i : i) - shift;
          src[i] = j >= 0 && j < size ? j : -1;
        }
        return src;
      });
      const a = jitter > 0 ? rng.uniform(-jitter, jitter) : 0;
      const b = jitter > 0 ? rng.uniform(-jitter, jitter) : 0;
      const identity = maps.every((m) => m.every((v, i) => v === i));
      if (identity && a === 0 && b === 0) continue;
      const view = x.subarray(s * per, (s + 1) * per);
      tmp.set(view);
      const voxels = per / ch;
      for (let v = 0; v < voxels; v++) {
        let rem = v;
        let from = 0;
        let inside = true;
        for (let axis = 0; axis < sp.length; axis++) {
          const st = strides[axis] as number;
          const i = Math.floor(rem / st);
          rem -= i * st;
          const j = (maps[axis] as Int32Array)[i] as number;
          if (j < 0) {
            inside = false;
            break;
          }
          from += j * st;
        }
        for (let c = 0; c < ch; c++) {
          view[v * ch + c] = inside ? (tmp[from * ch + c] as number) * (1 + a) + b : 0;
        }
      }
    }
  };
}
