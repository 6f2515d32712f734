/** Intensity transforms: range scaling, z-score, DICOM-style window, clipping and histogram equalization. */
import { type MedicalImage, type PixelArray, withData } from "../core/image.js";
import { defineImageTransform, type ImageTransform, invalid } from "./types.js";

function toFloat(img: MedicalImage, f: (v: number, i: number) => number): MedicalImage {
  const src = img.data;
  const out = src instanceof Float64Array ? new Float64Array(src.length) : new Float32Array(src.length);
  for (let i = 0; i < src.length; i++) out[i] = f(src[i] as number, i);
  return withData(img, out);
}

/** y = clamp(v·k + c, lo, hi) into float32 (float64 stays float64): the hot loop of range scaling and z-score. */
function scaleLinear(img: MedicalImage, k: number, c: number, lo: number, hi: number): MedicalImage {
  const src = img.data;
  const out = src instanceof Float64Array ? new Float64Array(src.length) : new Float32Array(src.length);
  for (let i = 0; i < src.length; i++) {
    const y = (src[i] as number) * k + c;
    out[i] = Math.min(hi, Math.max(lo, y));
  }
  return withData(img, out);
}

/** Options of {@link scaleIntensityRange}. */
export interface ScaleIntensityRangeOptions {
  readonly aMin: number;
  readonly aMax: number;
  readonly bMin: number;
  readonly bMax: number;
  /** Clip the result to [bMin, bMax] (default false). */
  readonly clip?: boolean;
}

/**
 * Maps [aMin, aMax] linearly to [bMin, bMax] (MONAI ScaleIntensityRange), e.g. CT Hounsfield units to [0, 1].
 * Output is float32.
 *
 * @example
 * ```ts
 * const t = scaleIntensityRange({ aMin: -1000, aMax: 400, bMin: 0, bMax: 1, clip: true });
 * const ct01 = t(ct);
 * ```
 */
export function scaleIntensityRange(
  options: ScaleIntensityRangeOptions,
): ImageTransform<undefined, ScaleIntensityRangeOptions> {
  const { aMin, aMax, bMin, bMax } = options;
  if (aMax === aMin) throw invalid("scaleIntensityRange", "aMax must differ from aMin");
  const lo = Math.min(bMin, bMax);
  const hi = Math.max(bMin, bMax);
  const k = (bMax - bMin) / (aMax - aMin);
  return defineImageTransform(
    "scaleIntensityRange",
    "intensity",
    options,
    () => undefined,
    (img, _p, o) =>
      o.mask
        ? img
        : scaleLinear(
            img,
            k,
            bMin - aMin * k,
            options.clip === true ? lo : -Infinity,
            options.clip === true ? hi : Infinity,
          ),
  );
}

/** Options of {@link normalize}. */
export interface NormalizeOptions {
  /** Compute mean/std over non-zero voxels only and leave zeros at zero (default false), e.g. skull-stripped MR. */
  readonly nonzero?: boolean;
  /** Separate statistics per channel (default false). */
  readonly channelWise?: boolean;
}

/**
 * Z-score normalization (x − mean) / std (MONAI NormalizeIntensity); a constant image is only shifted
 * (std taken as 1). Output is float32.
 *
 * @example
 * ```ts
 * const mr = normalize({ nonzero: true })(brain);
 * ```
 */
export function normalize(options: NormalizeOptions = {}): ImageTransform<undefined, NormalizeOptions> {
  return defineImageTransform(
    "normalize",
    "intensity",
    options,
    () => undefined,
    (img, _p, o) => {
      if (o.mask) return img;
      const src = img.data;
      const ch = img.shape[img.shape.length - 1] as number;
      const groups = options.channelWise === true ? ch : 1;
      if (groups === 1 && options.nonzero !== true) {
        // One group: two plain passes in locals (mean, then centred squares), about 5x faster than Welford
        // through arrays and as accurate for image-sized data in float64.
        let sum = 0;
        let n = 0;
        for (let i = 0; i < src.length; i++) {
          const v = src[i] as number;
          if (!Number.isNaN(v)) {
            sum += v;
            n++;
          }
        }
        const mu = n > 0 ? sum / n : 0;
        let ss = 0;
        for (let i = 0; i < src.length; i++) {
          const d = (src[i] as number) - mu;
          if (!Number.isNaN(d)) ss += d * d;
        }
        const sd = n > 0 && ss > 0 ? Math.sqrt(ss / n) : 1;
        return scaleLinear(img, 1 / sd, -mu / sd, -Infinity, Infinity);
      }
      const mean = new Float64Array(groups);
      const m2 = new Float64Array(groups);
      const count = new Float64Array(groups);
      for (let i = 0; i < src.length; i++) {
        const v = src[i] as number;
        if ((options.nonzero === true && v === 0) || Number.isNaN(v)) continue;
        const g = groups === 1 ? 0 : i % ch;
        const n = (count[g] as number) + 1;
        count[g] = n;
        const d = v - (mean[g] as number);
        mean[g] = (mean[g] as number) + d / n;
        m2[g] = (m2[g] as number) + d * (v - (mean[g] as number));
      }
      const std = Array.from(m2, (s, g) => {
        const sd = (count[g] as number) > 0 ? Math.sqrt(s / (count[g] as number)) : 0;
        return sd > 0 ? sd : 1;
      });
      return toFloat(img, (v, i) => {
        if (options.nonzero === true && v === 0) return 0;
        const g = groups === 1 ? 0 : i % ch;
        return (v - (mean[g] as number)) / (std[g] as number);
      });
    },
  );
}

/** Options of {@link window}. */
export interface WindowOptions {
  /** Window Center (0028,1050), in the image's units (e.g. HU). */
  readonly center: number;
  /** Window Width (0028,1051), ≥ 1. */
  readonly width: number;
  readonly outMin?: number;
  readonly outMax?: number;
}

/**
 * The DICOM LINEAR VOI window function (PS3.3 C.11.2.1.2.1): values below c − 0.5 − (w − 1)/2 map to outMin,
 * above c − 0.5 + (w − 1)/2 to outMax, linearly in between. Output is float32 in [outMin, outMax] (default
 * [0, 1]).
 *
 * @example
 * ```ts
 * const lung = window({ center: -600, width: 1500 })(ct);
 * ```
 */
export function window(options: WindowOptions): ImageTransform<undefined, WindowOptions> {
  const { center: c, width: w } = options;
  if (!(w >= 1)) throw invalid("window", `width must be at least 1 (PS3.3 C.11.2.1.2.1), got ${w}`);
  const yMin = options.outMin ?? 0;
  const yMax = options.outMax ?? 1;
  const lo = c - 0.5 - (w - 1) / 2;
  const hi = c - 0.5 + (w - 1) / 2;
  return defineImageTransform(
    "window",
    "intensity",
    options,
    () => undefined,
    (img, _p, o) =>
      o.mask
        ? img
        : toFloat(img, (x) => {
            if (x <= lo) return yMin;
            if (x > hi) return yMax;
            return ((x - (c - 0.5)) / (w - 1) + 0.5) * (yMax - yMin) + yMin;
          }),
  );
}

/** Options of {@link clip}. */
export interface ClipOptions {
  readonly min?: number;
  readonly max?: number;
}

/**
 * Clamps values to [min, max], keeping the element type.
 *
 * @example
 * ```ts
 * const hu = clip({ min: -1024, max: 3071 })(ct);
 * ```
 */
export function clip(options: ClipOptions): ImageTransform<undefined, ClipOptions> {
  const lo = options.min ?? Number.NEGATIVE_INFINITY;
  const hi = options.max ?? Number.POSITIVE_INFINITY;
  if (lo > hi) throw invalid("clip", `min ${lo} is above max ${hi}`);
  return defineImageTransform(
    "clip",
    "intensity",
    options,
    () => undefined,
    (img, _p, o) => {
      if (o.mask) return img;
      const src = img.data;
      const out = new (src.constructor as new (n: number) => PixelArray)(src.length);
      for (let i = 0; i < src.length; i++) {
        const v = src[i] as number;
        out[i] = Math.min(hi, Math.max(lo, v));
      }
      return withData(img, out);
    },
  );
}

/** Options of {@link histogramEqualize}. */
export interface HistogramEqualizeOptions {
  /** Histogram bins (default 256). */
  readonly bins?: number;
  readonly outMin?: number;
  readonly outMax?: number;
}

/**
 * Histogram equalization (Gonzalez & Woods, Digital Image Processing, 4th ed., §3.3.1): each value maps to
 * its cumulative distribution, interpolated linearly between bin edges as MONAI HistogramNormalize does.
 * NaN stays NaN. Output is float32 in [outMin, outMax] (default [0, 1]).
 *
 * @example
 * ```ts
 * const eq = histogramEqualize({ bins: 256 })(xray);
 * ```
 */
export function histogramEqualize(
  options: HistogramEqualizeOptions = {},
): ImageTransform<undefined, HistogramEqualizeOptions> {
  const bins = options.bins ?? 256;
  if (!(Number.isInteger(bins) && bins >= 2))
    throw invalid("histogramEqualize", "bins must be an integer ≥ 2");
  const yMin = options.outMin ?? 0;
  const yMax = options.outMax ?? 1;
  return defineImageTransform(
    "histogramEqualize",
    "intensity",
    options,
    () => undefined,
    (img, _p, o) => {
      if (o.mask) return img;
      const src = img.data;
      let lo = Number.POSITIVE_INFINITY;
      let hi = Number.NEGATIVE_INFINITY;
      for (let i = 0; i < src.length; i++) {
        const v = src[i] as number;
        if (v < lo) lo = v;
        if (v > hi) hi = v;
      }
      if (!(hi > lo)) return toFloat(img, (v) => (Number.isNaN(v) ? v : yMin));
      const hist = new Float64Array(bins);
      const scale = bins / (hi - lo);
      let n = 0;
      for (let i = 0; i < src.length; i++) {
        const v = src[i] as number;
        if (Number.isNaN(v)) continue;
        const b = Math.min(bins - 1, Math.floor((v - lo) * scale));
        hist[b] = (hist[b] as number) + 1;
        n++;
      }
      // cdf[k] = fraction of values below the upper edge of bin k; cdf at the lower edge of bin 0 is 0.
      const cdf = new Float64Array(bins + 1);
      for (let k = 0; k < bins; k++) cdf[k + 1] = (cdf[k] as number) + (hist[k] as number) / n;
      return toFloat(img, (v) => {
        if (Number.isNaN(v)) return v;
        const pos = (v - lo) * scale;
        const k = Math.min(bins - 1, Math.floor(pos));
        const f = pos - k;
        const c = (cdf[k] as number) * (1 - f) + (cdf[k + 1] as number) * f;
        return yMin + c * (yMax - yMin);
      });
    },
  );
}
