/** NIfTI qform/sform (RAS+ world) ↔ MedicalImage geometry (spacing, origin, direction in DICOM LPS). */
import type { NiftiHeader } from "./header.js";

/** A 4×4 affine as 16 numbers, row-major; maps voxel (i, j, k, 1) to world (x, y, z, 1). */
export type Affine4 = readonly number[];

/**
 * Which of the three methods of nifti1.h ("3D IMAGE (VOLUME) ORIENTATION AND LOCATION IN SPACE") gave the
 * affine, or "analyze" for SPM's convention on Analyze 7.5 headers.
 */
export type AffineSource = "sform" | "qform" | "pixdim" | "analyze";

/**
 * Method 2 of nifti1.h: the affine from the quaternion (quatern_b/c/d), qfac = pixdim[0], the voxel sizes and
 * qoffset. `a` is recovered as sqrt(1 - b² - c² - d²), clamped at 0 for rounding noise as nifti1_io does.
 *
 * @example
 * ```ts
 * const q = qformAffine(hdr); // [m00, m01, m02, tx, ..., 0, 0, 0, 1]
 * ```
 */
export function qformAffine(h: NiftiHeader): number[] {
  let b = h.quaternB;
  let c = h.quaternC;
  let d = h.quaternD;
  let a = 1 - (b * b + c * c + d * d);
  if (a < 1e-7) {
    // Special case of nifti1_io: a 180° rotation where a is zero; renormalize (b, c, d).
    const s = 1 / Math.sqrt(b * b + c * c + d * d);
    b *= s;
    c *= s;
    d *= s;
    a = 0;
  } else {
    a = Math.sqrt(a);
  }
  const qfac = (h.pixdim[0] as number) < 0 ? -1 : 1;
  const dx = Math.abs((h.pixdim[1] as number) || 1);
  const dy = Math.abs((h.pixdim[2] as number) || 1);
  const dz = Math.abs((h.pixdim[3] as number) || 1) * qfac;
  const r = [
    [a * a + b * b - c * c - d * d, 2 * b * c - 2 * a * d, 2 * b * d + 2 * a * c],
    [2 * b * c + 2 * a * d, a * a + c * c - b * b - d * d, 2 * c * d - 2 * a * b],
    [2 * b * d - 2 * a * c, 2 * c * d + 2 * a * b, a * a + d * d - c * c - b * b],
  ] as const;
  const t = [h.qoffsetX, h.qoffsetY, h.qoffsetZ];
  const m: number[] = [];
  for (let row = 0; row < 3; row++) {
    const rr = r[row] as readonly number[];
    m.push((rr[0] as number) * dx, (rr[1] as number) * dy, (rr[2] as number) * dz, t[row] as number);
  }
  m.push(0, 0, 0, 1);
  return m;
}

/**
 * Method 3 of nifti1.h: the affine given row by row in srow_x/y/z.
 *
 * @example
 * ```ts
 * const s = sformAffine(hdr); // [srow_x..., srow_y..., srow_z..., 0, 0, 0, 1]
 * ```
 */
export function sformAffine(h: NiftiHeader): number[] {
  return [...h.srowX, ...h.srowY, ...h.srowZ, 0, 0, 0, 1];
}

/**
 * The voxel-to-world affine RadioLens uses: sform when sform_code > 0, else qform when qform_code > 0, else
 * method 1 of nifti1.h (voxel sizes on the diagonal, no rotation, origin 0) — the order nibabel's
 * `get_best_affine` and the NIfTI-1 FAQ recommend, since the sform carries the registration a tool applied.
 * Method 1 follows nifti1.h (`x = pixdim[1] * i`, no flip); a true Analyze 7.5 header (no NIfTI magic) gets
 * SPM's affine instead (x flipped, origin at `originator`), which is what SPM, FSL and nibabel use for it.
 *
 * @example
 * ```ts
 * const { affine, source } = bestAffine(hdr);
 * ```
 */
export function bestAffine(h: NiftiHeader): { affine: number[]; source: AffineSource } {
  if (h.sformCode > 0) return { affine: sformAffine(h), source: "sform" };
  if (h.qformCode > 0) return { affine: qformAffine(h), source: "qform" };
  const p = (k: number): number => Math.abs((h.pixdim[k] as number) || 1);
  if (h.format === "analyze") {
    // SPM's reading of Analyze 7.5 (as nibabel's Spm99AnalyzeHeader): radiological storage, so x is flipped,
    // and `originator` (1-based) is the voxel at world 0; without one the volume centre is.
    const o = h.analyzeOrigin.some((v) => v !== 0)
      ? h.analyzeOrigin.map((v) => v - 1)
      : [1, 2, 3].map((k) => (((h.dim[k] as number) || 1) - 1) / 2);
    const [o0, o1, o2] = o as [number, number, number];
    const aff = [-p(1), 0, 0, p(1) * o0, 0, p(2), 0, -p(2) * o1, 0, 0, p(3), -p(3) * o2, 0, 0, 0, 1];
    return { affine: aff.map((v) => v + 0), source: "analyze" };
  }
  return { affine: [p(1), 0, 0, 0, 0, p(2), 0, 0, 0, 0, p(3), 0, 0, 0, 0, 1], source: "pixdim" };
}

/** Spacing, origin and direction for `nd` spatial axes (x = i, y = j, z = k), in DICOM LPS millimetres. */
export interface LpsGeometry {
  readonly spacing: number[];
  readonly origin: number[];
  readonly direction: number[];
}

/**
 * Converts a NIfTI RAS+ affine to ITK-style LPS geometry. NIfTI world coordinates are RAS+ ("+x = Right,
 * +y = Anterior, +z = Superior", nifti1.h) while DICOM and RadioLens use LPS+ (PS3.3 C.7.6.2.1.1), so the
 * first two world rows change sign. Direction columns are unit vectors; spacing is the length of each affine
 * column, or the stored `pixdim` when that agrees to 1e-5 relative (float32 rounding), as ITK reports it.
 *
 * @example
 * ```ts
 * const g = affineToLps(bestAffine(hdr).affine, hdr.pixdim, 3);
 * createImage(data, shape, g);
 * ```
 */
export function affineToLps(affine: Affine4, pixdim: readonly number[], nd: 2 | 3): LpsGeometry {
  // "+ 0" turns the -0 of a negated zero into 0, so geometry compares equal with Object.is.
  const at = (r: number, c: number): number => (affine[r * 4 + c] as number) * (r < 2 ? -1 : 1) + 0;
  const spacing: number[] = [];
  const direction = new Array<number>(nd * nd).fill(0);
  for (let c = 0; c < nd; c++) {
    let norm = 0;
    for (let r = 0; r < 3; r++) norm += at(r, c) ** 2;
    norm = Math.sqrt(norm);
    const p = Math.abs(pixdim[c + 1] ?? 0);
    let s = p > 0 && Math.abs(norm - p) <= 1e-5 * p ? p : norm;
    if (!(s > 0)) s = 1;
    spacing.push(s);
    for (let r = 0; r < nd; r++) direction[r * nd + c] = norm > 0 ? at(r, c) / norm : r === c ? 1 : 0;
  }
  const origin = Array.from({ length: nd }, (_, r) => at(r, 3));
  return { spacing, origin, direction };
}

/**
 * The RAS+ affine (row-major 4×4) of an LPS geometry; a 2D geometry is embedded with z = identity.
 *
 * @example
 * ```ts
 * const a = lpsToAffine(img.spacing, img.origin, img.direction);
 * ```
 */
export function lpsToAffine(
  spacing: readonly number[],
  origin: readonly number[],
  direction: readonly number[],
): number[] {
  const nd = spacing.length;
  const m = [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1];
  for (let r = 0; r < nd; r++) {
    for (let c = 0; c < nd; c++) m[r * 4 + c] = (direction[r * nd + c] as number) * (spacing[c] as number);
    m[r * 4 + 3] = origin[r] as number;
  }
  for (let r = 0; r < 2; r++) for (let c = 0; c < 4; c++) m[r * 4 + c] = -(m[r * 4 + c] as number);
  return m;
}

/**
 * Quaternion parameters of the rotation part of an affine, following `nifti_mat44_to_quatern` of nifti1_io.c:
 * a left-handed matrix gets qfac = -1 and its third column negated; returns undefined when the columns are
 * not orthogonal (a sheared sform has no qform).
 *
 * @example
 * ```ts
 * const q = affineToQuaternion(lpsToAffine(img.spacing, img.origin, img.direction));
 * ```
 */
export function affineToQuaternion(
  affine: Affine4,
): { b: number; c: number; d: number; qfac: number; pixdim: number[] } | undefined {
  const col = (c: number): number[] => [0, 1, 2].map((r) => affine[r * 4 + c] as number);
  const cols = [col(0), col(1), col(2)];
  const norms = cols.map((v) => Math.hypot(v[0] as number, v[1] as number, v[2] as number));
  if (norms.some((n) => !(n > 0))) return undefined;
  const u = cols.map((v, k) => v.map((x) => x / (norms[k] as number)));
  const dot = (p: number[], q: number[]): number => p.reduce((s, x, k) => s + x * (q[k] as number), 0);
  if (
    Math.abs(dot(u[0] as number[], u[1] as number[])) > 1e-4 ||
    Math.abs(dot(u[0] as number[], u[2] as number[])) > 1e-4 ||
    Math.abs(dot(u[1] as number[], u[2] as number[])) > 1e-4
  ) {
    return undefined;
  }
  const r = (i: number, j: number): number => (u[j] as number[])[i] as number;
  const det =
    r(0, 0) * (r(1, 1) * r(2, 2) - r(1, 2) * r(2, 1)) -
    r(0, 1) * (r(1, 0) * r(2, 2) - r(1, 2) * r(2, 0)) +
    r(0, 2) * (r(1, 0) * r(2, 1) - r(1, 1) * r(2, 0));
  const qfac = det < 0 ? -1 : 1;
  const R = (i: number, j: number): number => r(i, j) * (j === 2 ? qfac : 1);
  const r11 = R(0, 0);
  const r22 = R(1, 1);
  const r33 = R(2, 2);
  let a = r11 + r22 + r33 + 1;
  let b: number;
  let c: number;
  let d: number;
  if (a > 0.5) {
    a = 0.5 * Math.sqrt(a);
    b = (0.25 * (R(2, 1) - R(1, 2))) / a;
    c = (0.25 * (R(0, 2) - R(2, 0))) / a;
    d = (0.25 * (R(1, 0) - R(0, 1))) / a;
  } else {
    const xd = 1 + r11 - (r22 + r33);
    const yd = 1 + r22 - (r11 + r33);
    const zd = 1 + r33 - (r11 + r22);
    if (xd > 1) {
      b = 0.5 * Math.sqrt(xd);
      c = (0.25 * (R(0, 1) + R(1, 0))) / b;
      d = (0.25 * (R(0, 2) + R(2, 0))) / b;
      a = (0.25 * (R(2, 1) - R(1, 2))) / b;
    } else if (yd > 1) {
      c = 0.5 * Math.sqrt(yd);
      b = (0.25 * (R(0, 1) + R(1, 0))) / c;
      d = (0.25 * (R(1, 2) + R(2, 1))) / c;
      a = (0.25 * (R(0, 2) - R(2, 0))) / c;
    } else {
      d = 0.5 * Math.sqrt(zd);
      b = (0.25 * (R(0, 2) + R(2, 0))) / d;
      c = (0.25 * (R(1, 2) + R(2, 1))) / d;
      a = (0.25 * (R(1, 0) - R(0, 1))) / d;
    }
    if (a < 0) {
      b = -b;
      c = -c;
      d = -d;
    }
  }
  return { b, c, d, qfac, pixdim: norms };
}
