/** Spatial transforms (resize, spacing, crop/pad, flip, rotate90, affine), 2D and 3D, each recording its inverse. */
import type { MedicalImage } from "../core/image.js";
import {
  applyIndexAffine,
  type InterpolationMode,
  identity,
  matInv,
  matMul,
  matVec,
  type PaddingMode,
  sizeXYZ,
} from "./resample.js";
import { defineImageTransform, type ImageTransform, invalid, ndimOf, perAxis } from "./types.js";

/**
 * The interpolation for one key: masks always use nearest, so labels stay labels.
 *
 * @example
 * ```ts
 * modeFor("linear", true); // "nearest"
 * ```
 */
export function modeFor(mode: InterpolationMode | undefined, mask: boolean): InterpolationMode {
  return mask ? "nearest" : (mode ?? "linear");
}

/** Array spatial axis (0 = first of `shape`) → geometry axis (0 = x = cols). */
function geomAxis(arrayAxis: number, nd: number): number {
  return nd - 1 - arrayAxis;
}

function checkAxes(axes: readonly number[], nd: number, name: string): void {
  for (const a of axes) {
    if (!Number.isInteger(a) || a < 0 || a >= nd) {
      throw invalid(name, `axis ${a} is not a spatial axis of a ${nd}D image (0..${nd - 1}, in shape order)`);
    }
  }
}

function withChannels(img: MedicalImage, spatialArray: readonly number[]): number[] {
  return [...spatialArray, img.shape[img.shape.length - 1] as number];
}

/** Options of {@link resize}. */
export interface ResizeOptions {
  /** Output spatial size in shape order ([rows, cols] or [slices, rows, cols]). */
  readonly size: readonly number[];
  readonly mode?: InterpolationMode;
}

/**
 * Resizes to a spatial size, voxel centres aligned as PyTorch's `align_corners=False` (input index
 * (o + 0.5)·n_in/n_out − 0.5); spacing grows by n_in/n_out so the field of view is unchanged. No
 * anti-aliasing: downsample by large factors with {@link spacing} after smoothing if that matters.
 *
 * @example
 * ```ts
 * const small = resize({ size: [64, 128, 128] })(ct);
 * ```
 */
export function resize(options: ResizeOptions): ImageTransform<undefined, ResizeOptions> {
  if (options.size.some((s) => !(Number.isInteger(s) && s >= 1))) {
    throw invalid("resize", `size [${options.size.join(", ")}] must hold positive integers`);
  }
  return defineImageTransform(
    "resize",
    "spatial",
    options,
    () => undefined,
    (img, _p, o) => {
      const nd = ndimOf(img);
      if (options.size.length !== nd)
        throw invalid("resize", `size has ${options.size.length} values for a ${nd}D image`);
      const inX = sizeXYZ(img.shape);
      const outX = [...options.size].reverse();
      const s = inX.map((n, g) => n / (outX[g] as number));
      const A = identity(nd);
      for (let g = 0; g < nd; g++) A[g * nd + g] = s[g] as number;
      const b = s.map((k) => 0.5 * k - 0.5);
      return applyIndexAffine(
        img,
        "resize",
        withChannels(img, options.size),
        A,
        b,
        modeFor(options.mode, o.mask),
        "border",
      );
    },
  );
}

/** Options of {@link spacing}. */
export interface SpacingOptions {
  /** Target voxel size in mm, x/y[/z] order like `MedicalImage.spacing`. */
  readonly pixdim: number | readonly number[];
  readonly mode?: InterpolationMode;
}

/**
 * Resamples to a target voxel size in mm (MONAI Spacing, ITK ResampleImageFilter): the first voxel centre and
 * the direction stay, the size becomes round(n·spacing/target).
 *
 * @example
 * ```ts
 * const iso = spacing({ pixdim: [1, 1, 1] })(mr);
 * ```
 */
export function spacing(options: SpacingOptions): ImageTransform<undefined, SpacingOptions> {
  return defineImageTransform(
    "spacing",
    "spatial",
    options,
    () => undefined,
    (img, _p, o) => {
      const nd = ndimOf(img);
      const target = perAxis(options.pixdim, nd, "spacing", "pixdim");
      if (target.some((t) => !(t > 0))) throw invalid("spacing", "pixdim must be positive");
      const inX = sizeXYZ(img.shape);
      const outX = inX.map((n, g) =>
        Math.max(1, Math.round((n * (img.spacing[g] as number)) / (target[g] as number))),
      );
      const A = identity(nd);
      for (let g = 0; g < nd; g++) A[g * nd + g] = (target[g] as number) / (img.spacing[g] as number);
      const b = new Array<number>(nd).fill(0);
      return applyIndexAffine(
        img,
        "spacing",
        withChannels(img, [...outX].reverse()),
        A,
        b,
        modeFor(options.mode, o.mask),
        "border",
        { geometry: { spacing: target, origin: img.origin, direction: img.direction } },
      );
    },
  );
}

/**
 * Cuts the box `start`..`start + size` (shape order, may reach outside: padded with `fill`) and records it.
 *
 * @example
 * ```ts
 * const patch = cropBox(img, "myCrop", [0, 10, 10], [16, 32, 32], 0);
 * ```
 */
export function cropBox(
  img: MedicalImage,
  name: string,
  startArray: readonly number[],
  sizeArray: readonly number[],
  fill: number,
): MedicalImage {
  const nd = ndimOf(img);
  const b = [...startArray].reverse();
  return applyIndexAffine(img, name, withChannels(img, sizeArray), identity(nd), b, "nearest", "zeros", {
    fill,
  });
}

/** Options of {@link crop}. */
export interface CropOptions {
  /** First voxel kept, shape order; may be negative or run past the end (that part is padded with `value`). */
  readonly start: readonly number[];
  readonly size: readonly number[];
  readonly value?: number;
}

/**
 * Cuts a box (MONAI SpatialCrop); parts outside the image are padded with `value`. Exact: values are copied.
 *
 * @example
 * ```ts
 * const roi = crop({ start: [10, 20, 20], size: [32, 64, 64] })(ct);
 * ```
 */
export function crop(options: CropOptions): ImageTransform<undefined, CropOptions> {
  return defineImageTransform(
    "crop",
    "spatial",
    options,
    () => undefined,
    (img) => {
      const nd = ndimOf(img);
      if (options.start.length !== nd || options.size.length !== nd) {
        throw invalid("crop", `start and size need ${nd} values for a ${nd}D image`);
      }
      return cropBox(img, "crop", options.start, options.size, options.value ?? 0);
    },
  );
}

/** Options of {@link cropOrPad}. */
export interface CropOrPadOptions {
  /** Output spatial size, shape order. */
  readonly size: readonly number[];
  /** Padding value (default 0). */
  readonly value?: number;
}

/**
 * Centre crop where the image is larger and centre pad where it is smaller (MONAI ResizeWithPadOrCrop).
 * Exact: values are copied, geometry follows so every voxel keeps its world position.
 *
 * @example
 * ```ts
 * const fixed = cropOrPad({ size: [160, 160] })(slice);
 * ```
 */
export function cropOrPad(options: CropOrPadOptions): ImageTransform<undefined, CropOrPadOptions> {
  return defineImageTransform(
    "cropOrPad",
    "spatial",
    options,
    () => undefined,
    (img) => {
      const nd = ndimOf(img);
      if (options.size.length !== nd)
        throw invalid("cropOrPad", `size has ${options.size.length} values for a ${nd}D image`);
      const start = options.size.map((s, a) => Math.floor(((img.shape[a] as number) - s) / 2));
      return cropBox(img, "cropOrPad", start, options.size, options.value ?? 0);
    },
  );
}

/**
 * Index map (input = A·output + b) of flipping the given spatial axes (shape order).
 *
 * @example
 * ```ts
 * flipMap(img2d, [1]); // { A: [-1, 0, 0, 1], b: [cols - 1, 0] }
 * ```
 */
export function flipMap(img: MedicalImage, axes: readonly number[]): { A: number[]; b: number[] } {
  const nd = ndimOf(img);
  const A = identity(nd);
  const b = new Array<number>(nd).fill(0);
  const inX = sizeXYZ(img.shape);
  for (const a of axes) {
    const g = geomAxis(a, nd);
    A[g * nd + g] = -1;
    b[g] = (inX[g] as number) - 1;
  }
  return { A, b };
}

/** Options of {@link flip}. */
export interface FlipOptions {
  /** Spatial axes in shape order (0 = slices of a volume, rows of a 2D image); default all. */
  readonly axes?: readonly number[];
}

/**
 * Mirrors along spatial axes (MONAI Flip). Exact; the direction cosines flip with it, so anatomy keeps its
 * world position.
 *
 * @example
 * ```ts
 * const lr = flip({ axes: [1] })(xray); // mirror columns of a 2D image
 * ```
 */
export function flip(options: FlipOptions = {}): ImageTransform<undefined, FlipOptions> {
  return defineImageTransform(
    "flip",
    "spatial",
    options,
    () => undefined,
    (img) => {
      const nd = ndimOf(img);
      const axes = options.axes ?? Array.from({ length: nd }, (_, i) => i);
      checkAxes(axes, nd, "flip");
      const { A, b } = flipMap(img, axes);
      return applyIndexAffine(img, "flip", img.shape, A, b, "nearest", "zeros");
    },
  );
}

/** Options of {@link rotate90}. */
export interface Rotate90Options {
  /** Quarter turns (any integer; negative turns the other way). Default 1. */
  readonly k?: number;
  /** The plane, two spatial axes in shape order, rotating from the first towards the second (default the last two). */
  readonly axes?: readonly [number, number];
}

/**
 * Rotates by k·90° in a plane with the semantics of `numpy.rot90(x, k, axes)`. Exact (a permutation of voxels).
 *
 * @example
 * ```ts
 * const r = rotate90({ k: 1 })(img);
 * ```
 */
export function rotate90(options: Rotate90Options = {}): ImageTransform<undefined, Rotate90Options> {
  return defineImageTransform(
    "rotate90",
    "spatial",
    options,
    () => undefined,
    (img) => {
      const nd = ndimOf(img);
      const [p, q] = options.axes ?? [nd - 2, nd - 1];
      checkAxes([p, q], nd, "rotate90");
      if (p === q) throw invalid("rotate90", "the two axes must differ");
      const k = (((options.k ?? 1) % 4) + 4) % 4;
      let out = img;
      // rot90 once: out = transpose(flip(x, q), (p, q)); so out[.., i_p, .., i_q, ..] = x[.., i_q, .., n_q-1-i_p, ..].
      for (let t = 0; t < k; t++) {
        const gp = geomAxis(p, nd);
        const gq = geomAxis(q, nd);
        const inX = sizeXYZ(out.shape);
        const A = identity(nd);
        const b = new Array<number>(nd).fill(0);
        A[gp * nd + gp] = 0;
        A[gq * nd + gq] = 0;
        A[gp * nd + gq] = 1; // input index along p = output index along q
        A[gq * nd + gp] = -1; // input index along q = n_q − 1 − output index along p
        b[gq] = (inX[gq] as number) - 1;
        const shape = [...out.shape];
        shape[p] = out.shape[q] as number;
        shape[q] = out.shape[p] as number;
        out = applyIndexAffine(out, "rotate90", shape, A, b, "nearest", "zeros");
      }
      return out;
    },
  );
}

/** Parameters of an affine content transform, geometry (x/y/z) order. */
export interface AffineParams {
  /**
   * Radians: 2D one angle; 3D angles about x, y and z (applied x, then y, then z). A positive 2D angle turns
   * +x towards +y, i.e. clockwise on screen where rows go down (`affine({ rotate: [π/2] })` = `rotate90({ k: -1 })`).
   */
  readonly rotate?: readonly number[];
  /** Scale factors per axis (> 1 enlarges the content). */
  readonly scale?: readonly number[];
  /** Translation in voxels per axis. */
  readonly translate?: readonly number[];
  /** Shear: 2D [xy, yx]; 3D [xy, xz, yx, yz, zx, zy] (off-diagonal terms of the shear matrix). */
  readonly shear?: readonly number[];
}

function rotationMatrix(nd: number, angles: readonly number[]): number[] {
  if (nd === 2) {
    const t = angles[0] ?? 0;
    return [Math.cos(t), -Math.sin(t), Math.sin(t), Math.cos(t)];
  }
  const [ax = 0, ay = 0, az = 0] = angles;
  const rx = [1, 0, 0, 0, Math.cos(ax), -Math.sin(ax), 0, Math.sin(ax), Math.cos(ax)];
  const ry = [Math.cos(ay), 0, Math.sin(ay), 0, 1, 0, -Math.sin(ay), 0, Math.cos(ay)];
  const rz = [Math.cos(az), -Math.sin(az), 0, Math.sin(az), Math.cos(az), 0, 0, 0, 1];
  return matMul(rz, matMul(ry, rx, 3), 3);
}

/**
 * The index map (input = A·output + b) of an affine content transform about the image centre. Rotation and
 * shear act in millimetres (voxel spacing taken into account), so anisotropic volumes are not distorted.
 *
 * @example
 * ```ts
 * const { A, b } = affineIndexMap(img, { rotate: [0.2] });
 * ```
 */
export function affineIndexMap(
  img: MedicalImage,
  p: AffineParams,
  name = "affine",
): { A: number[]; b: number[] } {
  const nd = ndimOf(img);
  const nRot = nd === 2 ? 1 : 3;
  const nShear = nd === 2 ? 2 : 6;
  const rot = p.rotate ?? new Array<number>(nRot).fill(0);
  const scale = p.scale ?? new Array<number>(nd).fill(1);
  const trans = p.translate ?? new Array<number>(nd).fill(0);
  const shear = p.shear ?? new Array<number>(nShear).fill(0);
  if (rot.length !== nRot) throw invalid(name, `rotate needs ${nRot} angle(s) for a ${nd}D image`);
  if (scale.length !== nd || trans.length !== nd)
    throw invalid(name, `scale and translate need ${nd} values`);
  if (shear.length !== nShear) throw invalid(name, `shear needs ${nShear} values for a ${nd}D image`);
  const sh = identity(nd);
  for (let r = 0, k = 0; r < nd; r++)
    for (let c = 0; c < nd; c++) if (r !== c) sh[r * nd + c] = shear[k++] as number;
  const sc = identity(nd);
  for (let g = 0; g < nd; g++) sc[g * nd + g] = scale[g] as number;
  const L = matMul(rotationMatrix(nd, rot), matMul(sh, sc, nd), nd);
  const Linv = matInv(L, nd);
  const S = img.spacing;
  // A = S⁻¹·L⁻¹·S in index units; b keeps the centre fixed and applies the translation.
  const A = new Array<number>(nd * nd).fill(0);
  for (let r = 0; r < nd; r++) {
    for (let c = 0; c < nd; c++)
      A[r * nd + c] = ((Linv[r * nd + c] as number) * (S[c] as number)) / (S[r] as number);
  }
  const centre = sizeXYZ(img.shape).map((n) => (n - 1) / 2);
  const tMm = trans.map((t, g) => t * (S[g] as number));
  const LinvT = matVec(Linv, tMm, nd).map((v, g) => v / (S[g] as number));
  const Ac = matVec(A, centre, nd);
  const b = centre.map((c, g) => c - (Ac[g] as number) - (LinvT[g] as number));
  return { A, b };
}

/** Options of {@link affine}. */
export interface AffineOptions extends AffineParams {
  readonly mode?: InterpolationMode;
  /** Outside the input: zeros (default) or the nearest edge value. */
  readonly padding?: PaddingMode;
}

/**
 * Rotation, scaling, translation and shear about the image centre in one resampling (MONAI Affine). Output
 * has the input's shape; geometry is updated so world positions stay consistent.
 *
 * @example
 * ```ts
 * const t = affine({ rotate: [Math.PI / 12], scale: [1.1, 1.1] });
 * ```
 */
export function affine(options: AffineOptions): ImageTransform<undefined, AffineOptions> {
  return defineImageTransform(
    "affine",
    "spatial",
    options,
    () => undefined,
    (img, _p, o) => {
      const { A, b } = affineIndexMap(img, options);
      return applyIndexAffine(
        img,
        "affine",
        img.shape,
        A,
        b,
        modeFor(options.mode, o.mask),
        options.padding ?? "zeros",
      );
    },
  );
}

/** Options of {@link orient}. */
export interface OrientOptions {
  /**
   * Where each geometry axis (x = cols, y = rows[, z = slices]) should point, one letter per axis from
   * L/R, P/A, S/I, e.g. "LPS" (direction ≈ identity, ITK's default) or "RAS" (nibabel's canonical).
   */
  readonly axcodes: string;
}

const AXIS_LETTERS: Readonly<Record<string, readonly [number, number]>> = {
  L: [0, 1],
  R: [0, -1],
  P: [1, 1],
  A: [1, -1],
  S: [2, 1],
  I: [2, -1],
};

/**
 * Reorders and flips axes so the image axes point as `axcodes` says (MONAI Orientation, ITK
 * DICOMOrientImageFilter): each axis goes to the world axis its direction cosine is closest to. Exact (voxels are
 * permuted, not interpolated) and invertible; oblique images keep their small residual rotation in `direction`.
 *
 * @example
 * ```ts
 * const canonical = orient({ axcodes: "LPS" })(readNifti("t1.nii.gz"));
 * ```
 */
export function orient(options: OrientOptions): ImageTransform<undefined, OrientOptions> {
  const codes = options.axcodes.toUpperCase().split("");
  const target = codes.map((c) => AXIS_LETTERS[c]);
  const parsed = target.filter((t): t is readonly [number, number] => t !== undefined);
  if (parsed.length !== codes.length || new Set(parsed.map((t) => t[0])).size !== parsed.length) {
    throw invalid("orient", `axcodes '${options.axcodes}' must name each world axis once with L/R, P/A, S/I`);
  }
  return defineImageTransform(
    "orient",
    "spatial",
    options,
    () => undefined,
    (img) => {
      const nd = ndimOf(img);
      if (parsed.length !== nd) throw invalid("orient", `axcodes needs ${nd} letters for a ${nd}D image`);
      if (parsed.some((t) => t[0] >= nd))
        throw invalid("orient", "a 2D image has only the L/R and P/A world axes");
      // Greedy assignment, strongest cosine first, so even a 45°-oblique image gets a permutation.
      const pairs: [number, number, number][] = [];
      for (let j = 0; j < nd; j++) {
        for (let w = 0; w < nd; w++) pairs.push([Math.abs(img.direction[w * nd + j] as number), j, w]);
      }
      pairs.sort((p, q) => q[0] - p[0]);
      const worldOf = new Array<number>(nd).fill(-1);
      const used = new Set<number>();
      for (const [, j, w] of pairs) {
        if (worldOf[j] !== -1 || used.has(w)) continue;
        worldOf[j] = w;
        used.add(w);
      }
      const inX = sizeXYZ(img.shape);
      const A = new Array<number>(nd * nd).fill(0);
      const b = new Array<number>(nd).fill(0);
      const outX = new Array<number>(nd).fill(0);
      for (let j = 0; j < nd; j++) {
        const w = worldOf[j] as number;
        const k = parsed.findIndex((t) => t[0] === w);
        const sign = Math.sign(img.direction[w * nd + j] as number) || 1;
        const flipIt = sign !== (parsed[k] as readonly [number, number])[1];
        A[j * nd + k] = flipIt ? -1 : 1;
        b[j] = flipIt ? (inX[j] as number) - 1 : 0;
        outX[k] = inX[j] as number;
      }
      return applyIndexAffine(
        img,
        "orient",
        withChannels(img, [...outX].reverse()),
        A,
        b,
        "nearest",
        "zeros",
      );
    },
  );
}
