/** Segmentation overlap and surface-distance metrics with voxel spacing: Dice, IoU, HD95, ASSD, surface Dice (2D and 3D). */
import { metricInputError, quantileSorted } from "./stats.js";

/** A binary mask: non-zero is foreground. `shape` is [rows, cols] or [slices, rows, cols] (row-major data). */
export interface Mask {
  readonly data: ArrayLike<number>;
  readonly shape: readonly number[];
  /** Physical size of a voxel along each axis of `shape` (e.g. mm); default 1. */
  readonly spacing?: readonly number[];
}

function checkPair(metric: string, pred: Mask, gt: Mask): { size: number; spacing: number[] } {
  if (pred.shape.length !== gt.shape.length || pred.shape.some((s, i) => s !== gt.shape[i])) {
    throw metricInputError(metric, `mask shapes differ: [${pred.shape}] vs [${gt.shape}]`);
  }
  if (pred.shape.length < 1 || pred.shape.length > 3) {
    throw metricInputError(metric, `masks must be 1-D, 2-D or 3-D, got shape [${pred.shape}]`);
  }
  const size = pred.shape.reduce((a, b) => a * b, 1);
  if (pred.data.length !== size || gt.data.length !== size) {
    throw metricInputError(metric, `mask data length does not match shape [${pred.shape}]`);
  }
  const spacing = pred.spacing ?? gt.spacing ?? pred.shape.map(() => 1);
  if (spacing.length !== pred.shape.length || spacing.some((s) => !(s > 0))) {
    throw metricInputError(metric, `spacing [${spacing}] must hold one positive value per axis`);
  }
  if (gt.spacing && pred.spacing && gt.spacing.some((s, i) => s !== pred.spacing?.[i])) {
    throw metricInputError(metric, `spacings differ: [${pred.spacing}] vs [${gt.spacing}]`);
  }
  return { size, spacing: [...spacing] };
}

function overlapCounts(pred: Mask, gt: Mask, metric: string) {
  const { size } = checkPair(metric, pred, gt);
  let a = 0;
  let b = 0;
  let both = 0;
  for (let i = 0; i < size; i++) {
    const p = pred.data[i] !== 0;
    const g = gt.data[i] !== 0;
    if (p) a++;
    if (g) b++;
    if (p && g) both++;
  }
  return { a, b, both };
}

/**
 * Dice similarity coefficient 2|P∩G| / (|P| + |G|) (Dice 1945). Both masks empty → NaN (undefined, as
 * MONAI's `DiceMetric(ignore_empty=True)` and DeepMind's surface-distance); one empty → 0.
 *
 * @example
 * ```ts
 * computeDice({ data: [1, 1, 0, 0], shape: [2, 2] }, { data: [1, 0, 0, 0], shape: [2, 2] }); // 2/3
 * ```
 */
export function computeDice(pred: Mask, gt: Mask): number {
  const { a, b, both } = overlapCounts(pred, gt, "dice");
  return a + b === 0 ? Number.NaN : (2 * both) / (a + b);
}

/**
 * Intersection over union (Jaccard 1912) |P∩G| / |P∪G|. Both empty → NaN; one empty → 0.
 *
 * @example
 * ```ts
 * computeIou({ data: [1, 1, 0, 0], shape: [2, 2] }, { data: [1, 0, 0, 0], shape: [2, 2] }); // 0.5
 * ```
 */
export function computeIou(pred: Mask, gt: Mask): number {
  const { a, b, both } = overlapCounts(pred, gt, "iou");
  const union = a + b - both;
  return union === 0 ? Number.NaN : both / union;
}

/**
 * Surface voxels of a mask: foreground voxels with a face neighbour (4-connected in 2D, 6 in 3D) that is
 * background or outside the image — the boundary `mask XOR erode(mask)` MONAI's `get_mask_edges` uses
 * (scipy's `binary_erosion` with the cross structuring element and `border_value=0`).
 *
 * @example
 * ```ts
 * surfaceVoxels({ data: [1, 1, 1, 1, 1, 1, 1, 1, 1], shape: [3, 3] }); // all but the centre
 * ```
 */
export function surfaceVoxels(mask: Mask): Uint8Array {
  const shape = mask.shape;
  const size = shape.reduce((a, b) => a * b, 1);
  const strides = stridesOf(shape);
  const out = new Uint8Array(size);
  const coord = new Array<number>(shape.length).fill(0);
  for (let i = 0; i < size; i++) {
    if (mask.data[i] !== 0) {
      let edge = false;
      for (let ax = 0; ax < shape.length && !edge; ax++) {
        const c = coord[ax]!;
        const st = strides[ax]!;
        if (c === 0 || mask.data[i - st] === 0) edge = true;
        else if (c === shape[ax]! - 1 || mask.data[i + st] === 0) edge = true;
      }
      if (edge) out[i] = 1;
    }
    for (let ax = shape.length - 1; ax >= 0; ax--) {
      if (++coord[ax]! < shape[ax]!) break;
      coord[ax] = 0;
    }
  }
  return out;
}

function stridesOf(shape: readonly number[]): number[] {
  const st = new Array<number>(shape.length).fill(1);
  for (let ax = shape.length - 2; ax >= 0; ax--) st[ax] = st[ax + 1]! * shape[ax + 1]!;
  return st;
}

/**
 * Exact squared Euclidean distance transform with anisotropic spacing: for each voxel, the squared physical
 * distance to the nearest voxel where `isTarget` is 1 (Infinity when there is none). Separable lower-envelope
 * algorithm of Felzenszwalb & Huttenlocher, "Distance Transforms of Sampled Functions", Theory of Computing
 * 8 (2012), applied axis by axis.
 *
 * @example
 * ```ts
 * squaredEdt(Uint8Array.from([1, 0, 0]), [3], [2]); // [0, 4, 16]
 * ```
 */
export function squaredEdt(
  isTarget: ArrayLike<number>,
  shape: readonly number[],
  spacing: readonly number[],
): Float64Array {
  const size = shape.reduce((a, b) => a * b, 1);
  const d = new Float64Array(size);
  for (let i = 0; i < size; i++) d[i] = isTarget[i] !== 0 ? 0 : Number.POSITIVE_INFINITY;
  const strides = stridesOf(shape);
  const maxLen = Math.max(...shape);
  const f = new Float64Array(maxLen);
  const out = new Float64Array(maxLen);
  const v = new Int32Array(maxLen);
  const z = new Float64Array(maxLen + 1);
  for (let ax = shape.length - 1; ax >= 0; ax--) {
    const n = shape[ax]!;
    const st = strides[ax]!;
    const sp = spacing[ax]!;
    // Every line along this axis starts at an index whose coordinate on `ax` is 0.
    for (let start = 0; start < size; start++) {
      if (Math.floor(start / st) % n !== 0) continue;
      for (let q = 0; q < n; q++) f[q] = d[start + q * st]!;
      dt1d(f, n, sp, out, v, z);
      for (let q = 0; q < n; q++) d[start + q * st] = out[q]!;
    }
  }
  return d;
}

/** 1-D squared distance transform of samples f at positions q·sp (lower envelope of parabolas). */
function dt1d(
  f: Float64Array,
  n: number,
  sp: number,
  out: Float64Array,
  v: Int32Array,
  z: Float64Array,
): void {
  let k = -1;
  for (let q = 0; q < n; q++) {
    const fq = f[q]!;
    if (fq === Number.POSITIVE_INFINITY) continue;
    const xq = q * sp;
    if (k < 0) {
      k = 0;
      v[0] = q;
      z[0] = Number.NEGATIVE_INFINITY;
      z[1] = Number.POSITIVE_INFINITY;
      continue;
    }
    let s: number;
    // z[0] = −∞ stops the pop loop at the first parabola.
    for (;;) {
      const p = v[k]!;
      const xp = p * sp;
      s = (fq + xq * xq - (f[p]! + xp * xp)) / (2 * (xq - xp));
      if (s <= z[k]!) k--;
      else break;
    }
    k++;
    v[k] = q;
    z[k] = s;
    z[k + 1] = Number.POSITIVE_INFINITY;
  }
  if (k < 0) {
    out.fill(Number.POSITIVE_INFINITY, 0, n);
    return;
  }
  let j = 0;
  for (let q = 0; q < n; q++) {
    const xq = q * sp;
    while (z[j + 1]! < xq) j++;
    const p = v[j]!;
    const dx = xq - p * sp;
    out[q] = dx * dx + f[p]!;
  }
}

/** Directed surface distances between two masks, both ways. */
export interface SurfaceDistances {
  /** Distance from each surface voxel of the prediction to the nearest ground-truth surface voxel. */
  readonly predToGt: Float64Array;
  /** Distance from each ground-truth surface voxel to the nearest predicted surface voxel. */
  readonly gtToPred: Float64Array;
}

/**
 * Surface-to-surface distances in physical units (MONAI's `get_surface_distance` on `get_mask_edges`).
 *
 * @example
 * ```ts
 * const d = computeSurfaceDistances(pred, gt);
 * Math.max(...d.predToGt);
 * ```
 */
export function computeSurfaceDistances(pred: Mask, gt: Mask): SurfaceDistances {
  const { spacing } = checkPair("surface_distance", pred, gt);
  // Surfaces come from the full image (the image border counts as background); the distance transforms then
  // run on the bounding box of both surfaces only, which is exact because every source and target voxel lies
  // inside it, and much cheaper for small structures in large volumes.
  const crop = cropToSurfaces(surfaceVoxels(pred), surfaceVoxels(gt), pred.shape);
  const directed = (from: Uint8Array, to: Uint8Array): Float64Array => {
    const d2 = squaredEdt(to, crop.shape, spacing);
    const out: number[] = [];
    for (let i = 0; i < from.length; i++) if (from[i]) out.push(Math.sqrt(d2[i]!));
    return Float64Array.from(out);
  };
  return { predToGt: directed(crop.a, crop.b), gtToPred: directed(crop.b, crop.a) };
}

function cropToSurfaces(a: Uint8Array, b: Uint8Array, shape: readonly number[]) {
  const nd = shape.length;
  const lo = shape.map((s) => s);
  const hi = shape.map(() => -1);
  const coord = new Array<number>(nd).fill(0);
  for (let i = 0; i < a.length; i++) {
    if (a[i] || b[i]) {
      for (let ax = 0; ax < nd; ax++) {
        if (coord[ax]! < lo[ax]!) lo[ax] = coord[ax]!;
        if (coord[ax]! > hi[ax]!) hi[ax] = coord[ax]!;
      }
    }
    for (let ax = nd - 1; ax >= 0; ax--) {
      if (++coord[ax]! < shape[ax]!) break;
      coord[ax] = 0;
    }
  }
  if (hi[0]! < 0) return { a: new Uint8Array(0), b: new Uint8Array(0), shape: shape.map(() => 0) };
  const cshape = shape.map((_, ax) => hi[ax]! - lo[ax]! + 1);
  const size = cshape.reduce((x, y) => x * y, 1);
  const ca = new Uint8Array(size);
  const cb = new Uint8Array(size);
  const src = stridesOf(shape);
  const c = new Array<number>(nd).fill(0);
  for (let j = 0; j < size; j++) {
    let i = 0;
    for (let ax = 0; ax < nd; ax++) i += (c[ax]! + lo[ax]!) * src[ax]!;
    ca[j] = a[i]!;
    cb[j] = b[i]!;
    for (let ax = nd - 1; ax >= 0; ax--) {
      if (++c[ax]! < cshape[ax]!) break;
      c[ax] = 0;
    }
  }
  return { a: ca, b: cb, shape: cshape };
}

function emptiness(d: SurfaceDistances): "both" | "one" | "none" {
  const a = d.predToGt.length === 0;
  const b = d.gtToPred.length === 0;
  return a && b ? "both" : a || b ? "one" : "none";
}

/**
 * Hausdorff distance at a percentile (Huttenlocher et al. 1993; 95 → "HD95"): the larger of the two directed
 * percentile surface distances (NumPy linear percentile), in the spacing's units. Both masks empty → NaN;
 * exactly one empty → +Infinity (as MONAI and DeepMind's surface-distance).
 *
 * @example
 * ```ts
 * computeHausdorff(pred, gt, 95);
 * ```
 */
export function computeHausdorff(pred: Mask, gt: Mask, percentile = 95): number {
  if (!(percentile >= 0 && percentile <= 100))
    throw metricInputError("hausdorff", `percentile ${percentile} must lie in [0, 100]`);
  return hausdorffFromDistances(computeSurfaceDistances(pred, gt), percentile);
}

/**
 * Percentile Hausdorff distance of precomputed surface distances.
 *
 * @example
 * ```ts
 * hausdorffFromDistances(computeSurfaceDistances(pred, gt), 100); // the classic Hausdorff distance
 * ```
 */
export function hausdorffFromDistances(d: SurfaceDistances, percentile = 95): number {
  const e = emptiness(d);
  if (e === "both") return Number.NaN;
  if (e === "one") return Number.POSITIVE_INFINITY;
  const q = (arr: Float64Array) => quantileSorted(Float64Array.from(arr).sort(), percentile / 100);
  return Math.max(q(d.predToGt), q(d.gtToPred));
}

/**
 * Average symmetric surface distance: the mean of all surface distances in both directions (MONAI
 * `compute_average_surface_distance(symmetric=True)`). Both empty → NaN; one empty → +Infinity.
 *
 * @example
 * ```ts
 * computeAssd(pred, gt);
 * ```
 */
export function computeAssd(pred: Mask, gt: Mask): number {
  return assdFromDistances(computeSurfaceDistances(pred, gt));
}

/**
 * ASSD of precomputed surface distances.
 *
 * @example
 * ```ts
 * assdFromDistances(computeSurfaceDistances(pred, gt));
 * ```
 */
export function assdFromDistances(d: SurfaceDistances): number {
  const e = emptiness(d);
  if (e === "both") return Number.NaN;
  if (e === "one") return Number.POSITIVE_INFINITY;
  let s = 0;
  for (const x of d.predToGt) s += x;
  for (const x of d.gtToPred) s += x;
  return s / (d.predToGt.length + d.gtToPred.length);
}

/**
 * Normalized surface Dice at tolerance τ (Nikolov et al. 2021): the share of both surfaces lying within τ of
 * the other, (|{d_P→G ≤ τ}| + |{d_G→P ≤ τ}|) / (|∂P| + |∂G|), counting surface voxels as MONAI's
 * `compute_surface_dice(use_subvoxels=False)`. Both empty → NaN; one empty → 0.
 *
 * @example
 * ```ts
 * computeSurfaceDice(pred, gt, 1.5); // τ in the spacing's units (mm)
 * ```
 */
export function computeSurfaceDice(pred: Mask, gt: Mask, tolerance: number): number {
  if (!(tolerance >= 0)) throw metricInputError("surface_dice", `tolerance ${tolerance} must be ≥ 0`);
  return surfaceDiceFromDistances(computeSurfaceDistances(pred, gt), tolerance);
}

/**
 * Surface Dice of precomputed surface distances.
 *
 * @example
 * ```ts
 * surfaceDiceFromDistances(computeSurfaceDistances(pred, gt), 2);
 * ```
 */
export function surfaceDiceFromDistances(d: SurfaceDistances, tolerance: number): number {
  const total = d.predToGt.length + d.gtToPred.length;
  if (total === 0) return Number.NaN;
  let ok = 0;
  for (const x of d.predToGt) if (x <= tolerance) ok++;
  for (const x of d.gtToPred) if (x <= tolerance) ok++;
  return ok / total;
}

/** Every segmentation metric of one prediction/ground-truth pair. */
export interface SegmentationScores {
  readonly dice: number;
  readonly iou: number;
  readonly hd95: number;
  readonly assd: number;
  readonly surfaceDice: number;
}

/**
 * Dice, IoU, HD95, ASSD and surface Dice at `tolerance` of one pair, sharing one pair of distance transforms.
 *
 * @example
 * ```ts
 * computeSegmentationScores(pred, gt, { tolerance: 2 }).hd95;
 * ```
 */
export function computeSegmentationScores(
  pred: Mask,
  gt: Mask,
  options: { readonly tolerance?: number } = {},
): SegmentationScores {
  const d = computeSurfaceDistances(pred, gt);
  return {
    dice: computeDice(pred, gt),
    iou: computeIou(pred, gt),
    hd95: hausdorffFromDistances(d, 95),
    assd: assdFromDistances(d),
    surfaceDice: surfaceDiceFromDistances(d, options.tolerance ?? 1),
  };
}

/**
 * Per-structure scores of two label maps (0 = background, other values = structures): each requested label is
 * compared as its own binary mask.
 *
 * @example
 * ```ts
 * const byOrgan = computeLabelMapScores(predLabels, gtLabels, [1, 2, 3], { tolerance: 2 });
 * byOrgan[2]!.dice;
 * ```
 */
export function computeLabelMapScores(
  pred: Mask,
  gt: Mask,
  labels: readonly number[],
  options: { readonly tolerance?: number } = {},
): Record<number, SegmentationScores> {
  const out: Record<number, SegmentationScores> = {};
  for (const label of labels) {
    const pick = (m: Mask): Mask => ({
      data: Uint8Array.from(m.data as ArrayLike<number>, (v) => (v === label ? 1 : 0)),
      shape: m.shape,
      ...(m.spacing === undefined ? {} : { spacing: m.spacing }),
    });
    out[label] = computeSegmentationScores(pick(pred), pick(gt), options);
  }
  return out;
}
