/** Random augmentation: flips, rotations, affine, Gaussian noise, contrast/gamma and elastic deformation, seeded. */
import { createImage, type MedicalImage, pixelStats, withData } from "../core/image.js";
import { Rng } from "../core/rng.js";
import {
  type AppliedOperation,
  appliedOperations,
  applyIndexAffine,
  type InterpolationMode,
  identity,
  type PaddingMode,
  resampleIndex,
  sizeXYZ,
} from "./resample.js";
import { type AffineParams, affineIndexMap, cropBox, flipMap, modeFor } from "./spatial.js";
import { defineImageTransform, type ImageTransform, invalid, ndimOf, perAxis, requireRng } from "./types.js";

/** MONAI's default probability for its Rand* transforms. */
const DEFAULT_PROB = 0.1;

function checkProb(p: number, name: string): number {
  if (!(p >= 0 && p <= 1)) throw invalid(name, `prob must be in [0, 1], got ${p}`);
  return p;
}

function toFloat32(img: MedicalImage, f: (v: number, i: number) => number): MedicalImage {
  const src = img.data;
  const out = src instanceof Float64Array ? new Float64Array(src.length) : new Float32Array(src.length);
  for (let i = 0; i < src.length; i++) out[i] = f(src[i] as number, i);
  return withData(img, out);
}

/** Options of {@link randFlip}. */
export interface RandFlipOptions {
  /** Probability of flipping (default 0.1, as MONAI). */
  readonly prob?: number;
  /** Spatial axes in shape order flipped together (default all). */
  readonly axes?: readonly number[];
}

/**
 * With probability `prob`, mirrors the given axes (MONAI RandFlip). Exact and invertible.
 *
 * @example
 * ```ts
 * const out = randFlip({ prob: 0.5, axes: [1] })(img, { rng: new Rng(0) });
 * ```
 */
export function randFlip(options: RandFlipOptions = {}): ImageTransform<boolean, RandFlipOptions> {
  const prob = checkProb(options.prob ?? DEFAULT_PROB, "randFlip");
  return defineImageTransform(
    "randFlip",
    "spatial",
    options,
    (_ref, ctx) => requireRng(ctx, "randFlip").bernoulli(prob),
    (img, doIt) => {
      if (!doIt) return img;
      const nd = ndimOf(img);
      const axes = options.axes ?? Array.from({ length: nd }, (_, i) => i);
      if (axes.some((a) => !(Number.isInteger(a) && a >= 0 && a < nd))) {
        throw invalid("randFlip", `axes [${axes.join(", ")}] are not spatial axes of a ${nd}D image`);
      }
      const { A, b } = flipMap(img, axes);
      return applyIndexAffine(img, "randFlip", img.shape, A, b, "nearest", "zeros");
    },
  );
}

/** Options of {@link randRotate}. */
export interface RandRotateOptions {
  readonly prob?: number;
  /** Largest |angle| in radians: one number (2D, or every 3D axis) or [x, y, z] for 3D. */
  readonly range: number | readonly number[];
  readonly mode?: InterpolationMode;
  readonly padding?: PaddingMode;
}

/**
 * With probability `prob`, rotates about the centre by angles drawn uniformly in [−range, range]
 * (MONAI RandRotate); in millimetres, so anisotropic voxels do not shear. Invertible.
 *
 * @example
 * ```ts
 * const t = randRotate({ prob: 0.5, range: Math.PI / 12 });
 * ```
 */
export function randRotate(options: RandRotateOptions): ImageTransform<number[] | null, RandRotateOptions> {
  const prob = checkProb(options.prob ?? DEFAULT_PROB, "randRotate");
  return defineImageTransform(
    "randRotate",
    "spatial",
    options,
    (ref, ctx) => {
      const rng = requireRng(ctx, "randRotate");
      if (!rng.bernoulli(prob)) return null;
      const n = ndimOf(ref) === 2 ? 1 : 3;
      return perAxis(options.range, n, "randRotate", "range").map((r) => rng.uniform(-r, r));
    },
    (img, angles, o) => {
      if (angles === null) return img;
      const { A, b } = affineIndexMap(img, { rotate: angles }, "randRotate");
      return applyIndexAffine(
        img,
        "randRotate",
        img.shape,
        A,
        b,
        modeFor(options.mode, o.mask),
        options.padding ?? "zeros",
      );
    },
  );
}

/** Options of {@link randAffine}; each range r draws uniformly in [−r, r] per axis. */
export interface RandAffineOptions {
  readonly prob?: number;
  /** Radians: one number, or per rotation axis (2D: 1, 3D: 3). */
  readonly rotateRange?: number | readonly number[];
  /** Scale = 1 + U(−r, r) per axis. */
  readonly scaleRange?: number | readonly number[];
  /** Voxels per axis. */
  readonly translateRange?: number | readonly number[];
  /** Per shear term (2D: 2, 3D: 6). */
  readonly shearRange?: number | readonly number[];
  readonly mode?: InterpolationMode;
  readonly padding?: PaddingMode;
}

/**
 * With probability `prob`, one random affine (rotation, scale, translation, shear) about the centre
 * (MONAI RandAffine), in one resampling. Invertible.
 *
 * @example
 * ```ts
 * const t = randAffine({ prob: 0.8, rotateRange: 0.26, scaleRange: 0.1, translateRange: 4 });
 * ```
 */
export function randAffine(
  options: RandAffineOptions,
): ImageTransform<AffineParams | null, RandAffineOptions> {
  const prob = checkProb(options.prob ?? DEFAULT_PROB, "randAffine");
  return defineImageTransform(
    "randAffine",
    "spatial",
    options,
    (ref, ctx) => {
      const rng = requireRng(ctx, "randAffine");
      if (!rng.bernoulli(prob)) return null;
      const nd = ndimOf(ref);
      const draw = (
        r: number | readonly number[] | undefined,
        n: number,
        what: string,
        base: number,
      ): number[] => perAxis(r ?? 0, n, "randAffine", what).map((x) => base + rng.uniform(-x, x));
      return {
        rotate: draw(options.rotateRange, nd === 2 ? 1 : 3, "rotateRange", 0),
        scale: draw(options.scaleRange, nd, "scaleRange", 1),
        translate: draw(options.translateRange, nd, "translateRange", 0),
        shear: draw(options.shearRange, nd === 2 ? 2 : 6, "shearRange", 0),
      };
    },
    (img, p, o) => {
      if (p === null) return img;
      const { A, b } = affineIndexMap(img, p, "randAffine");
      return applyIndexAffine(
        img,
        "randAffine",
        img.shape,
        A,
        b,
        modeFor(options.mode, o.mask),
        options.padding ?? "zeros",
      );
    },
  );
}

/** Options of {@link randGaussianNoise}. */
export interface RandGaussianNoiseOptions {
  readonly prob?: number;
  readonly mean?: number;
  /** Noise standard deviation (default 0.1). */
  readonly std?: number;
  /** Draw the std uniformly in [0, std] per sample, as MONAI does (default true). */
  readonly sampleStd?: boolean;
}

/**
 * With probability `prob`, adds N(mean, std²) noise per voxel (MONAI RandGaussianNoise). The noise comes from a
 * child seed drawn once, so every key of a sample gets the same field. Output float32.
 *
 * @example
 * ```ts
 * const noisy = randGaussianNoise({ prob: 1, std: 0.05 })(img, { rng: new Rng(1) });
 * ```
 */
export function randGaussianNoise(
  options: RandGaussianNoiseOptions = {},
): ImageTransform<{ std: number; seed: number } | null, RandGaussianNoiseOptions> {
  const prob = checkProb(options.prob ?? DEFAULT_PROB, "randGaussianNoise");
  const std = options.std ?? 0.1;
  if (!(std >= 0)) throw invalid("randGaussianNoise", "std must be ≥ 0");
  const mean = options.mean ?? 0;
  return defineImageTransform(
    "randGaussianNoise",
    "intensity",
    options,
    (_ref, ctx) => {
      const rng = requireRng(ctx, "randGaussianNoise");
      if (!rng.bernoulli(prob)) return null;
      return { std: options.sampleStd === false ? std : rng.uniform(0, std), seed: rng.seed() };
    },
    (img, p, o) => {
      if (p === null || o.mask) return img;
      const noise = new Rng(p.seed);
      const src = img.data;
      const out = src instanceof Float64Array ? new Float64Array(src.length) : new Float32Array(src.length);
      // Box–Muller keeping both outputs of each pair of uniforms: half the draws of Rng.normal per voxel.
      for (let i = 0; i < src.length; i += 2) {
        const u = 1 - noise.float();
        const r = p.std * Math.sqrt(-2 * Math.log(u));
        const t = 2 * Math.PI * noise.float();
        out[i] = (src[i] as number) + mean + r * Math.cos(t);
        if (i + 1 < src.length) out[i + 1] = (src[i + 1] as number) + mean + r * Math.sin(t);
      }
      return withData(img, out);
    },
  );
}

/** Options of {@link randGamma}. */
export interface RandGammaOptions {
  readonly prob?: number;
  /** γ drawn uniformly in [lo, hi] (default [0.5, 4.5], as MONAI). */
  readonly gamma?: readonly [number, number];
}

/**
 * With probability `prob`, gamma contrast (MONAI RandAdjustContrast):
 * y = ((x − min) / (max − min))^γ · (max − min) + min, so the value range is kept. Output float32.
 *
 * @example
 * ```ts
 * const t = randGamma({ prob: 0.3, gamma: [0.7, 1.5] });
 * ```
 */
export function randGamma(options: RandGammaOptions = {}): ImageTransform<number | null, RandGammaOptions> {
  const prob = checkProb(options.prob ?? DEFAULT_PROB, "randGamma");
  const [lo, hi] = options.gamma ?? [0.5, 4.5];
  if (!(lo > 0 && hi >= lo)) throw invalid("randGamma", "gamma must be a range [lo, hi] with 0 < lo ≤ hi");
  return defineImageTransform(
    "randGamma",
    "intensity",
    options,
    (_ref, ctx) => {
      const rng = requireRng(ctx, "randGamma");
      return rng.bernoulli(prob) ? rng.uniform(lo, hi) : null;
    },
    (img, g, o) => {
      if (g === null || o.mask) return img;
      const { min, max } = pixelStats(img.data);
      const range = max - min;
      // The 1e-7 is MONAI's epsilon: a constant image stays constant instead of becoming NaN.
      return toFloat32(img, (v) => ((v - min) / (range + 1e-7)) ** g * range + min);
    },
  );
}

/** Options of {@link randContrast}. */
export interface RandContrastOptions {
  readonly prob?: number;
  /** Contrast factor drawn uniformly in [lo, hi] (default [0.75, 1.25]). */
  readonly factor?: readonly [number, number];
  /** Clip the result to the input's value range (default true). */
  readonly preserveRange?: boolean;
}

/**
 * With probability `prob`, scales contrast about the mean, y = (x − mean)·f + mean, the contrast augmentation
 * of nnU-Net (Isensee et al., Nature Methods 18:203–211, 2021). Output float32.
 *
 * @example
 * ```ts
 * const t = randContrast({ prob: 0.15, factor: [0.65, 1.5] });
 * ```
 */
export function randContrast(
  options: RandContrastOptions = {},
): ImageTransform<number | null, RandContrastOptions> {
  const prob = checkProb(options.prob ?? DEFAULT_PROB, "randContrast");
  const [lo, hi] = options.factor ?? [0.75, 1.25];
  if (!(lo >= 0 && hi >= lo))
    throw invalid("randContrast", "factor must be a range [lo, hi] with 0 ≤ lo ≤ hi");
  return defineImageTransform(
    "randContrast",
    "intensity",
    options,
    (_ref, ctx) => {
      const rng = requireRng(ctx, "randContrast");
      return rng.bernoulli(prob) ? rng.uniform(lo, hi) : null;
    },
    (img, f, o) => {
      if (f === null || o.mask) return img;
      const { min, max, mean } = pixelStats(img.data);
      const keep = options.preserveRange ?? true;
      return toFloat32(img, (v) => {
        const y = (v - mean) * f + mean;
        return keep ? Math.min(max, Math.max(min, y)) : y;
      });
    },
  );
}

/** Options of {@link randElastic}. */
export interface RandElasticOptions {
  readonly prob?: number;
  /** Gaussian smoothing σ of the displacement field, in voxels (one number or per x/y/z axis). */
  readonly sigma: number | readonly number[];
  /** Scaling α of the smoothed field, in voxels (one number or per axis). */
  readonly magnitude: number | readonly number[];
  readonly mode?: InterpolationMode;
  readonly padding?: PaddingMode;
}

/**
 * Widths of three box filters whose cascade approximates a Gaussian of std σ (Wells, "Efficient synthesis of
 * Gaussian filters by cascaded uniform filters", IEEE TPAMI 8(2), 1986; widths as in Kovesi 2010): the cost per
 * voxel no longer grows with σ.
 */
function boxWidths(sigma: number): number[] {
  const ideal = Math.sqrt((12 * sigma * sigma) / 3 + 1);
  let wl = Math.floor(ideal);
  if (wl % 2 === 0) wl--;
  const wu = wl + 2;
  const m = Math.round((12 * sigma * sigma - 3 * wl * wl - 12 * wl - 9) / (-4 * wl - 4));
  return [0, 1, 2].map((i) => (i < m ? wl : wu));
}

/** Smooths a field on a [nz, ny, nx] grid by three box passes per axis (≈ Gaussian of σ), edges clamped. */
function gaussianSmooth(field: Float32Array, sizeX: readonly number[], sigma: readonly number[]): void {
  const nd = sizeX.length;
  const n = [sizeX[0] as number, sizeX[1] as number, nd === 3 ? (sizeX[2] as number) : 1];
  const strides = [1, n[0] as number, (n[0] as number) * (n[1] as number)];
  for (let ax = 0; ax < nd; ax++) {
    const s = sigma[ax] as number;
    if (!(s > 0)) continue;
    const len = n[ax] as number;
    const st = strides[ax] as number;
    const widths = boxWidths(s);
    const maxR = Math.max(...widths.map((w) => (w - 1) / 2));
    const line = new Float64Array(len + 2 * maxR);
    const blocks = field.length / (st * len);
    for (let a = 0; a < blocks; a++) {
      for (let b = 0; b < st; b++) {
        const start = a * st * len + b;
        for (let p = 0; p < len; p++) line[p + maxR] = field[start + p * st] as number;
        for (const w of widths) {
          const r = (w - 1) / 2;
          // Pad with the end values, then a running sum: O(1) per sample whatever the width.
          for (let p = 0; p < maxR; p++) {
            line[p] = line[maxR] as number;
            line[maxR + len + p] = line[maxR + len - 1] as number;
          }
          let acc = 0;
          for (let k = -r; k <= r; k++) acc += line[maxR + k] as number;
          const out = new Float64Array(len);
          for (let p = 0; p < len; p++) {
            out[p] = acc / w;
            acc += (line[maxR + p + r + 1] ?? line[maxR + len - 1]) as number;
            acc -= line[maxR + p - r] as number;
          }
          line.set(out, maxR);
        }
        for (let p = 0; p < len; p++) field[start + p * st] = line[p + maxR] as number;
      }
    }
  }
}

/**
 * With probability `prob`, elastic deformation after Simard, Steinkraus & Platt, "Best practices for
 * convolutional neural networks applied to visual document analysis", ICDAR 2003: per axis a field of
 * U(−1, 1) displacements, smoothed by a Gaussian of σ voxels and scaled by α, moves every voxel. The field
 * comes from one seed per sample, so image and mask deform identically. The Gaussian is applied as three
 * cascaded box filters (Wells 1986), so the cost does not grow with σ. Smoothing shrinks the field: its
 * standard deviation is α/√3 · (2σ√π)^(−nd/2) voxels, so α is far larger than the displacement it gives
 * (Simard: σ = 4, α = 34 on 28×28 digits, about 1.4 px; in 3D, σ = 6 with α = 500 gives about 3 voxels).
 * Not invertible (recorded so
 * {@link invert} refuses rather than silently skipping it).
 *
 * @example
 * ```ts
 * const t = randElastic({ prob: 0.5, sigma: 4, magnitude: 8 });
 * ```
 */
export function randElastic(options: RandElasticOptions): ImageTransform<number | null, RandElasticOptions> {
  const prob = checkProb(options.prob ?? DEFAULT_PROB, "randElastic");
  let cache: { key: string; field: Float32Array[] } | undefined;
  const fieldFor = (img: MedicalImage, seed: number): Float32Array[] => {
    const sizeX = sizeXYZ(img.shape);
    const key = `${seed}:${sizeX.join("x")}`;
    if (cache?.key === key) return cache.field;
    const nd = sizeX.length;
    const sigma = perAxis(options.sigma, nd, "randElastic", "sigma");
    const alpha = perAxis(options.magnitude, nd, "randElastic", "magnitude");
    const nvox = sizeX.reduce((a, b) => a * b, 1);
    const rng = new Rng(seed);
    const field = sizeX.map((_, g) => {
      const f = new Float32Array(nvox);
      for (let i = 0; i < nvox; i++) f[i] = rng.uniform(-1, 1);
      gaussianSmooth(f, sizeX, sigma);
      for (let i = 0; i < nvox; i++) f[i] = (f[i] as number) * (alpha[g] as number);
      return f;
    });
    cache = { key, field };
    return field;
  };
  return defineImageTransform(
    "randElastic",
    "spatial",
    options,
    (_ref, ctx) => {
      const rng = requireRng(ctx, "randElastic");
      return rng.bernoulli(prob) ? rng.seed() : null;
    },
    (img, seed, o) => {
      if (seed === null) return img;
      const nd = ndimOf(img);
      const mode = modeFor(options.mode, o.mask);
      const padding = options.padding ?? "border";
      const data = resampleIndex(img, img.shape.slice(0, -1), identity(nd), new Array<number>(nd).fill(0), {
        mode,
        padding,
        displacement: fieldFor(img, seed),
      });
      const op: AppliedOperation = {
        name: "randElastic",
        matrix: [],
        offset: [],
        inputShape: [...img.shape],
        inputGeometry: { spacing: [...img.spacing], origin: [...img.origin], direction: [...img.direction] },
        mode,
        padding,
        invertible: false,
      };
      return createImage(data, img.shape, {
        spacing: img.spacing,
        origin: img.origin,
        direction: img.direction,
        meta: { ...img.meta, appliedOperations: [...appliedOperations(img), op] },
      });
    },
  );
}

/** Options of {@link randSpatialCrop}. */
export interface RandSpatialCropOptions {
  /** Patch size in shape order; an axis larger than the image is padded with zeros. */
  readonly size: readonly number[];
}

function checkSize(size: readonly number[], ref: MedicalImage, name: string): void {
  const nd = ndimOf(ref);
  if (size.length !== nd || size.some((s) => !(Number.isInteger(s) && s >= 1))) {
    throw invalid(name, `size [${size.join(", ")}] must hold ${nd} positive integers`);
  }
}

/**
 * Crops a patch at a uniformly random position (MONAI RandSpatialCrop with a fixed size). Exact and invertible.
 *
 * @example
 * ```ts
 * const patch = randSpatialCrop({ size: [64, 96, 96] })(ct, { rng: new Rng(0) });
 * ```
 */
export function randSpatialCrop(
  options: RandSpatialCropOptions,
): ImageTransform<number[], RandSpatialCropOptions> {
  return defineImageTransform(
    "randSpatialCrop",
    "spatial",
    options,
    (ref, ctx) => {
      const rng = requireRng(ctx, "randSpatialCrop");
      checkSize(options.size, ref, "randSpatialCrop");
      return options.size.map((s, a) => {
        const n = ref.shape[a] as number;
        return n > s ? rng.int(0, n - s) : Math.floor((n - s) / 2);
      });
    },
    (img, start) => cropBox(img, "randSpatialCrop", start, options.size, 0),
  );
}

/** Options of {@link randCropByLabel}. */
export interface RandCropByLabelOptions {
  readonly size: readonly number[];
  /** Relative weight of patches centred on a foreground (label > 0) voxel (default 1). */
  readonly pos?: number;
  /** Relative weight of patches centred on a background voxel (default 1). */
  readonly neg?: number;
}

/**
 * Crops a patch centred on a random foreground voxel with probability pos/(pos + neg), else on a background one
 * (MONAI RandCropByPosNegLabel), the usual way to keep small lesions in 3D patch training. Use it through
 * `onKeys(keys, t, { refKey: "label", masks: ["label"] })` so the centre is drawn from the label map; patches
 * are shifted inside the image where it is large enough. Exact and invertible.
 *
 * @example
 * ```ts
 * const t = onKeys(["image", "label"], randCropByLabel({ size: [32, 64, 64], pos: 2, neg: 1 }), {
 *   refKey: "label",
 *   masks: ["label"],
 * });
 * ```
 */
export function randCropByLabel(
  options: RandCropByLabelOptions,
): ImageTransform<number[], RandCropByLabelOptions> {
  const pos = options.pos ?? 1;
  const neg = options.neg ?? 1;
  if (!(pos >= 0 && neg >= 0 && pos + neg > 0))
    throw invalid("randCropByLabel", "pos and neg must be ≥ 0, not both 0");
  return defineImageTransform(
    "randCropByLabel",
    "spatial",
    options,
    (ref, ctx) => {
      const rng = requireRng(ctx, "randCropByLabel");
      checkSize(options.size, ref, "randCropByLabel");
      const ch = ref.shape[ref.shape.length - 1] as number;
      const nvox = ref.data.length / ch;
      let fg = 0;
      for (let v = 0; v < nvox; v++) if ((ref.data[v * ch] as number) > 0) fg++;
      const wantFg = rng.float() < pos / (pos + neg);
      // Fall back to the other class when the wanted one is empty (an all-background label map).
      const useFg = fg === 0 ? false : fg === nvox ? true : wantFg;
      const count = useFg ? fg : nvox - fg;
      let k = rng.int(0, count - 1);
      let centre = 0;
      for (let v = 0; v < nvox; v++) {
        if ((ref.data[v * ch] as number) > 0 === useFg && k-- === 0) {
          centre = v;
          break;
        }
      }
      const nd = ndimOf(ref);
      const idx = new Array<number>(nd).fill(0);
      for (let a = nd - 1, r = centre; a >= 0; a--) {
        const n = ref.shape[a] as number;
        idx[a] = r % n;
        r = Math.floor(r / n);
      }
      return options.size.map((s, a) => {
        const n = ref.shape[a] as number;
        const start = (idx[a] as number) - Math.floor(s / 2);
        return n >= s ? Math.min(n - s, Math.max(0, start)) : start;
      });
    },
    (img, start) => cropBox(img, "randCropByLabel", start, options.size, 0),
  );
}
