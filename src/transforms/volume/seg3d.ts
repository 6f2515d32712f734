/** 3D segmentation preprocessing and augmentation on plain volumes: nnU-Net's normalisation, resampling, and foreground-oversampled augmented patches. */
import { RadioLensError } from "../../core/errors.js";
import type { Rng } from "../../core/rng.js";

/** A single-channel volume, `data` row-major over `shape` = `[slices, rows, cols]`. */
export interface Volume<T extends Float32Array | Uint8Array = Float32Array> {
  readonly data: T;
  readonly shape: readonly [number, number, number];
  /** Voxel size in mm along (slices, rows, cols), i.e. (z, y, x). */
  readonly spacing: readonly [number, number, number];
}

/** Dataset intensity statistics of foreground voxels (nnU-Net's fingerprint), used for CT. */
export interface ForegroundIntensity {
  readonly mean: number;
  readonly std: number;
  readonly p005: number;
  readonly p995: number;
}

/**
 * nnU-Net's intensity normalisation (Isensee et al. 2021, Nat. Methods 18:203, Methods "intensity normalization"):
 * CT is clipped to the 0.5 and 99.5 percentiles of the dataset's foreground voxels then z-scored with their mean and
 * std; every other modality is z-scored per image with its own mean and std.
 *
 * @example
 * ```ts
 * const z = normalizeIntensity(img.data, "MRI");
 * ```
 */
export function normalizeIntensity(
  data: ArrayLike<number>,
  modality: string,
  ct?: ForegroundIntensity,
): Float32Array {
  const out = new Float32Array(data.length);
  if (modality.toUpperCase() === "CT") {
    if (!ct) {
      throw new RadioLensError("RL_ERR_USAGE", {
        detail:
          "CT normalisation needs the dataset's foreground intensity statistics (the plan's fingerprint)",
      });
    }
    const sd = Math.max(ct.std, 1e-8);
    for (let i = 0; i < data.length; i++) {
      const v = Math.min(ct.p995, Math.max(ct.p005, data[i] as number));
      out[i] = (v - ct.mean) / sd;
    }
    return out;
  }
  let sum = 0;
  let sq = 0;
  for (let i = 0; i < data.length; i++) {
    const v = data[i] as number;
    sum += v;
    sq += v * v;
  }
  const mean = sum / Math.max(1, data.length);
  const sd = Math.sqrt(Math.max(0, sq / Math.max(1, data.length) - mean * mean));
  const inv = 1 / Math.max(sd, 1e-8);
  for (let i = 0; i < data.length; i++) out[i] = ((data[i] as number) - mean) * inv;
  return out;
}

/** Shape a volume of `shape` at `spacing` takes when resampled to `target` spacing (nnU-Net rounds). */
export function resampledShape(
  shape: readonly [number, number, number],
  spacing: readonly [number, number, number],
  target: readonly [number, number, number],
): [number, number, number] {
  return [0, 1, 2].map((i) => Math.max(1, Math.round(((shape[i] as number) * spacing[i]!) / target[i]!))) as [
    number,
    number,
    number,
  ];
}

/**
 * Resamples a volume onto a grid of `outShape` covering the same field of view (voxel centres aligned as
 * `align_corners=False`): trilinear for images, nearest for label maps. Identity when the shapes are equal.
 *
 * @example
 * ```ts
 * const r = resampleVolume(vol.data, vol.shape, [40, 56, 40], "linear");
 * ```
 */
export function resampleVolume<T extends Float32Array | Uint8Array>(
  data: T,
  shape: readonly [number, number, number],
  outShape: readonly [number, number, number],
  mode: "linear" | "nearest",
): T {
  const [d, h, w] = shape;
  const [od, oh, ow] = outShape;
  if (d === od && h === oh && w === ow) return data.slice() as T;
  const out = (
    data instanceof Uint8Array ? new Uint8Array(od * oh * ow) : new Float32Array(od * oh * ow)
  ) as T;
  const src = (o: number, n: number, on: number) => Math.min(n - 1, Math.max(0, ((o + 0.5) * n) / on - 0.5));
  let k = 0;
  for (let z = 0; z < od; z++) {
    const sz = src(z, d, od);
    for (let y = 0; y < oh; y++) {
      const sy = src(y, h, oh);
      for (let x = 0; x < ow; x++, k++) {
        const sx = src(x, w, ow);
        out[k] =
          mode === "nearest" ? nearest(data, shape, sz, sy, sx) : trilinear(data, shape, sz, sy, sx, 0);
      }
    }
  }
  return out;
}

function nearest(data: ArrayLike<number>, shape: readonly number[], z: number, y: number, x: number): number {
  const [d, h, w] = shape as [number, number, number];
  const iz = Math.round(z);
  const iy = Math.round(y);
  const ix = Math.round(x);
  if (iz < 0 || iy < 0 || ix < 0 || iz >= d || iy >= h || ix >= w) return 0;
  return data[(iz * h + iy) * w + ix] as number;
}

/** Trilinear sample at a continuous index; voxels outside the volume read as `pad`. */
function trilinear(
  data: ArrayLike<number>,
  shape: readonly number[],
  z: number,
  y: number,
  x: number,
  pad: number,
): number {
  const [d, h, w] = shape as [number, number, number];
  if (z <= -1 || y <= -1 || x <= -1 || z >= d || y >= h || x >= w) return pad;
  const z0 = Math.floor(z);
  const y0 = Math.floor(y);
  const x0 = Math.floor(x);
  const fz = z - z0;
  const fy = y - y0;
  const fx = x - x0;
  let acc = 0;
  for (let dz = 0; dz < 2; dz++) {
    const zz = z0 + dz;
    const wz = dz ? fz : 1 - fz;
    if (wz === 0) continue;
    for (let dy = 0; dy < 2; dy++) {
      const yy = y0 + dy;
      const wy = dy ? fy : 1 - fy;
      if (wy === 0) continue;
      for (let dx = 0; dx < 2; dx++) {
        const xx = x0 + dx;
        const wx = dx ? fx : 1 - fx;
        if (wx === 0) continue;
        const inside = zz >= 0 && yy >= 0 && xx >= 0 && zz < d && yy < h && xx < w;
        acc += wz * wy * wx * (inside ? (data[(zz * h + yy) * w + xx] as number) : pad);
      }
    }
  }
  return acc;
}

/** Probabilities and ranges of the patch augmentations (nnU-Net's default 3D pipeline, Isensee et al. 2021, Suppl. Note 4). */
export interface SegAugmentOptions {
  /** Probability of a rotation about each axis, angle uniform in ±`rotationMax` radians (default 0.2, ±30°). */
  readonly rotationProb?: number;
  readonly rotationMax?: number;
  /** Probability of an isotropic zoom, factor uniform in `scaleRange` (default 0.2, [0.7, 1.4]). */
  readonly scaleProb?: number;
  readonly scaleRange?: readonly [number, number];
  /** Probability of an elastic deformation (smooth random displacement, `elasticMagnitude` voxels; default 0.2, 2). */
  readonly elasticProb?: number;
  readonly elasticMagnitude?: number;
  /** Probability of additive Gaussian noise with variance uniform in [0, 0.1] (default 0.15). */
  readonly noiseProb?: number;
  /** Probability of a multiplicative brightness change in [0.75, 1.25] (default 0.15). */
  readonly brightnessProb?: number;
  /** Probability of a gamma change, γ uniform in [0.7, 1.5], intensities rescaled to [0, 1] around it (default 0.3). */
  readonly gammaProb?: number;
  /** Probability of mirroring along each axis (default 0.5). */
  readonly mirrorProb?: number;
}

/** What a {@link sampleSegPatch} call produced. */
export interface SegPatch {
  readonly image: Float32Array;
  readonly label: Uint8Array;
  /** Whether the patch centre was drawn on a foreground voxel. */
  readonly forced: boolean;
}

/**
 * Foreground voxel indices per class of a label map (1..numClasses−1), for oversampling; computed once per case.
 */
export function classLocations(label: Uint8Array, numClasses: number): Int32Array[] {
  const counts = new Array<number>(numClasses).fill(0);
  for (const v of label) counts[v] = (counts[v] ?? 0) + 1;
  const locs = counts.map((c) => new Int32Array(c));
  const fill = new Array<number>(numClasses).fill(0);
  for (let i = 0; i < label.length; i++) {
    const v = label[i] as number;
    (locs[v] as Int32Array)[fill[v] as number] = i;
    fill[v] = (fill[v] as number) + 1;
  }
  return locs;
}

/**
 * Draws one training patch of `patch` voxels from a case, as nnU-Net's data loader does: with probability
 * `foregroundProb` (nnU-Net: 1/3) the patch is centred on a voxel of a random present foreground class, otherwise
 * anywhere in the (padded) volume; then one spatial transform (rotation, zoom, elastic, mirroring) is applied by
 * sampling the source at transformed coordinates (trilinear image, nearest label, zeros outside), followed by the
 * intensity augmentations. Every random choice comes from `rng`.
 *
 * @example
 * ```ts
 * const p = sampleSegPatch(img, lab, classLocations(lab.data, 3), [40, 56, 40], rng, { foregroundProb: 1 / 3 });
 * ```
 */
export function sampleSegPatch(
  image: Volume,
  label: Volume<Uint8Array>,
  locations: readonly Int32Array[],
  patch: readonly [number, number, number],
  rng: Rng,
  opts: SegAugmentOptions & { readonly foregroundProb?: number; readonly augment?: boolean } = {},
): SegPatch {
  const [d, h, w] = image.shape;
  const [pd, ph, pw] = patch;
  const fgClasses = locations.map((l, c) => (c > 0 && l.length > 0 ? c : -1)).filter((c) => c > 0);
  const forced = fgClasses.length > 0 && rng.float() < (opts.foregroundProb ?? 1 / 3);
  let cz: number;
  let cy: number;
  let cx: number;
  if (forced) {
    const cls = fgClasses[rng.int(0, fgClasses.length - 1)] as number;
    const l = locations[cls] as Int32Array;
    const v = l[rng.int(0, l.length - 1)] as number;
    cz = Math.floor(v / (h * w));
    cy = Math.floor(v / w) % h;
    cx = v % w;
  } else {
    // Centres range so the patch may hang over each border by up to half its size (nnU-Net pads to the patch).
    const pick = (n: number, p: number) => rng.uniform(Math.min(p / 2, n / 2), Math.max(n - p / 2, n / 2));
    cz = Math.floor(pick(d, pd));
    cy = Math.floor(pick(h, ph));
    cx = Math.floor(pick(w, pw));
  }
  const aug = opts.augment ?? true;
  // Output index relative to the patch's centre voxel (integer, so an untransformed patch is an exact crop) →
  // source index: M = R·s⁻¹, plus mirroring.
  let m = [1, 0, 0, 0, 1, 0, 0, 0, 1];
  if (aug) {
    const rmax = opts.rotationMax ?? Math.PI / 6;
    for (let axis = 0; axis < 3; axis++) {
      if (rng.float() >= (opts.rotationProb ?? 0.2)) continue;
      const a = rng.uniform(-rmax, rmax);
      const c = Math.cos(a);
      const s = Math.sin(a);
      const r =
        axis === 0
          ? [1, 0, 0, 0, c, -s, 0, s, c]
          : axis === 1
            ? [c, 0, s, 0, 1, 0, -s, 0, c]
            : [c, -s, 0, s, c, 0, 0, 0, 1];
      m = mul3(r, m);
    }
    if (rng.float() < (opts.scaleProb ?? 0.2)) {
      const [lo, hi] = opts.scaleRange ?? [0.7, 1.4];
      const f = 1 / rng.uniform(lo, hi);
      m = m.map((v) => v * f);
    }
    for (let axis = 0; axis < 3; axis++) {
      if (rng.float() < (opts.mirrorProb ?? 0.5))
        for (let r = 0; r < 3; r++) m[r * 3 + axis] = -m[r * 3 + axis]!;
    }
  }
  const field = aug && rng.float() < (opts.elasticProb ?? 0.2) ? elasticField(patch, rng, opts) : undefined;
  const n = pd * ph * pw;
  const img = new Float32Array(n);
  const lab = new Uint8Array(n);
  let k = 0;
  for (let z = 0; z < pd; z++) {
    const oz = z - (pd >> 1);
    for (let y = 0; y < ph; y++) {
      const oy = y - (ph >> 1);
      for (let x = 0; x < pw; x++, k++) {
        const ox = x - (pw >> 1);
        let sz = cz + m[0]! * oz + m[1]! * oy + m[2]! * ox;
        let sy = cy + m[3]! * oz + m[4]! * oy + m[5]! * ox;
        let sx = cx + m[6]! * oz + m[7]! * oy + m[8]! * ox;
        if (field) {
          sz += field[3 * k] as number;
          sy += field[3 * k + 1] as number;
          sx += field[3 * k + 2] as number;
        }
        img[k] = trilinear(image.data, image.shape, sz, sy, sx, 0);
        lab[k] = nearest(label.data, label.shape, sz, sy, sx);
      }
    }
  }
  if (aug) intensityAugment(img, rng, opts);
  return { image: img, label: lab, forced };
}

function mul3(a: readonly number[], b: readonly number[]): number[] {
  const o = new Array<number>(9).fill(0);
  for (let i = 0; i < 3; i++)
    for (let j = 0; j < 3; j++)
      for (let k = 0; k < 3; k++) o[i * 3 + j]! += (a[i * 3 + k] as number) * (b[k * 3 + j] as number);
  return o;
}

/**
 * A smooth random displacement field (Simard et al. 2003, as used by nnU-Net's elastic deformation): random
 * displacements on a coarse grid (every 8 voxels), interpolated trilinearly, so neighbouring voxels move together.
 */
function elasticField(
  patch: readonly [number, number, number],
  rng: Rng,
  opts: SegAugmentOptions,
): Float32Array {
  const mag = opts.elasticMagnitude ?? 2;
  const g = patch.map((p) => Math.ceil(p / 8) + 2) as [number, number, number];
  const coarse = [0, 1, 2].map(() => {
    const c = new Float32Array(g[0] * g[1] * g[2]);
    for (let i = 0; i < c.length; i++) c[i] = rng.normal(0, mag);
    return c;
  });
  const [pd, ph, pw] = patch;
  const out = new Float32Array(pd * ph * pw * 3);
  let k = 0;
  for (let z = 0; z < pd; z++)
    for (let y = 0; y < ph; y++)
      for (let x = 0; x < pw; x++, k++)
        for (let a = 0; a < 3; a++)
          out[3 * k + a] = trilinear(coarse[a] as Float32Array, g, z / 8 + 0.5, y / 8 + 0.5, x / 8 + 0.5, 0);
  return out;
}

function intensityAugment(img: Float32Array, rng: Rng, opts: SegAugmentOptions): void {
  if (rng.float() < (opts.noiseProb ?? 0.15)) {
    const sd = Math.sqrt(rng.uniform(0, 0.1));
    for (let i = 0; i < img.length; i++) img[i] = (img[i] as number) + rng.normal(0, sd);
  }
  if (rng.float() < (opts.brightnessProb ?? 0.15)) {
    const f = rng.uniform(0.75, 1.25);
    for (let i = 0; i < img.length; i++) img[i] = (img[i] as number) * f;
  }
  if (rng.float() < (opts.gammaProb ?? 0.3)) {
    // Gamma on intensities rescaled to [0, 1], then mapped back to the original range (nnU-Net keeps mean and std).
    const g = rng.float() < 0.5 ? rng.uniform(0.7, 1) : rng.uniform(1, 1.5);
    let lo = Number.POSITIVE_INFINITY;
    let hi = Number.NEGATIVE_INFINITY;
    let sum = 0;
    let sq = 0;
    for (const v of img) {
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
      sum += v;
      sq += v * v;
    }
    const n = img.length;
    const mean = sum / n;
    const sd = Math.sqrt(Math.max(0, sq / n - mean * mean));
    const range = Math.max(hi - lo, 1e-7);
    let sum2 = 0;
    let sq2 = 0;
    for (let i = 0; i < n; i++) {
      const v = (((img[i] as number) - lo) / range) ** g * range + lo;
      img[i] = v;
      sum2 += v;
      sq2 += v * v;
    }
    const mean2 = sum2 / n;
    const sd2 = Math.sqrt(Math.max(0, sq2 / n - mean2 * mean2));
    const f = sd / Math.max(sd2, 1e-7);
    for (let i = 0; i < n; i++) img[i] = ((img[i] as number) - mean2) * f + mean;
  }
}

/**
 * Nearest down-sampling of a label patch by 2^`level` per axis (deep-supervision targets, as nnU-Net derives them).
 */
export function downsampleLabel(
  label: Uint8Array,
  shape: readonly [number, number, number],
  level: number,
): Uint8Array {
  const f = 2 ** level;
  const [d, h, w] = shape;
  const [od, oh, ow] = [Math.floor(d / f), Math.floor(h / f), Math.floor(w / f)];
  const out = new Uint8Array(od * oh * ow);
  let k = 0;
  for (let z = 0; z < od; z++)
    for (let y = 0; y < oh; y++)
      for (let x = 0; x < ow; x++, k++) out[k] = label[(z * f * h + y * f) * w + x * f] as number;
  return out;
}
