/** Index-space resampling (nearest / bi- and trilinear) and the geometry bookkeeping every spatial transform shares. */
import { RadioLensError } from "../core/errors.js";
import { createImage, type MedicalImage, type PixelArray } from "../core/image.js";

/** How values between voxel centres are computed. */
export type InterpolationMode = "linear" | "nearest";
/** What a sample outside the input reads: zeros (or `fill`), or the nearest edge voxel. */
export type PaddingMode = "zeros" | "border";

/** A square matrix, row-major. */
export type Matrix = readonly number[];

/**
 * Identity matrix of size n, row-major.
 *
 * @example
 * ```ts
 * identity(2); // [1, 0, 0, 1]
 * ```
 */
export function identity(n: number): number[] {
  const m = new Array<number>(n * n).fill(0);
  for (let i = 0; i < n; i++) m[i * n + i] = 1;
  return m;
}

/**
 * Product a·b of two n×n row-major matrices.
 *
 * @example
 * ```ts
 * matMul([0, 1, 1, 0], [2, 0, 0, 3], 2); // [0, 3, 2, 0]
 * ```
 */
export function matMul(a: Matrix, b: Matrix, n: number): number[] {
  const out = new Array<number>(n * n).fill(0);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let k = 0; k < n; k++) s += (a[i * n + k] as number) * (b[k * n + j] as number);
      out[i * n + j] = s;
    }
  }
  return out;
}

/**
 * a·v for an n×n row-major matrix.
 *
 * @example
 * ```ts
 * matVec([0, 1, 1, 0], [5, 7], 2); // [7, 5]
 * ```
 */
export function matVec(a: Matrix, v: readonly number[], n: number): number[] {
  const out = new Array<number>(n).fill(0);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let k = 0; k < n; k++) s += (a[i * n + k] as number) * (v[k] as number);
    out[i] = s;
  }
  return out;
}

/**
 * Inverse of an n×n matrix by Gauss–Jordan elimination with partial pivoting; a singular matrix is a typed error.
 *
 * @example
 * ```ts
 * matInv([2, 0, 0, 4], 2); // [0.5, 0, 0, 0.25]
 * ```
 */
export function matInv(a: Matrix, n: number): number[] {
  const m = [...a];
  const inv = identity(n);
  for (let col = 0; col < n; col++) {
    let piv = col;
    for (let r = col + 1; r < n; r++) {
      if (Math.abs(m[r * n + col] as number) > Math.abs(m[piv * n + col] as number)) piv = r;
    }
    const p = m[piv * n + col] as number;
    if (Math.abs(p) < 1e-12) {
      throw new RadioLensError("RL_ERR_TRANSFORM_INVALID", {
        name: "affine",
        detail: "the transform matrix is singular (a scale of 0?)",
      });
    }
    if (piv !== col) {
      for (let k = 0; k < n; k++) {
        [m[col * n + k], m[piv * n + k]] = [m[piv * n + k] as number, m[col * n + k] as number];
        [inv[col * n + k], inv[piv * n + k]] = [inv[piv * n + k] as number, inv[col * n + k] as number];
      }
    }
    for (let k = 0; k < n; k++) {
      m[col * n + k] = (m[col * n + k] as number) / p;
      inv[col * n + k] = (inv[col * n + k] as number) / p;
    }
    for (let r = 0; r < n; r++) {
      if (r === col) continue;
      const f = m[r * n + col] as number;
      if (f === 0) continue;
      for (let k = 0; k < n; k++) {
        m[r * n + k] = (m[r * n + k] as number) - f * (m[col * n + k] as number);
        inv[r * n + k] = (inv[r * n + k] as number) - f * (inv[col * n + k] as number);
      }
    }
  }
  return inv;
}

/**
 * Spatial sizes in geometry order (x = cols, y = rows, z = slices).
 *
 * @example
 * ```ts
 * sizeXYZ([10, 20, 30, 1]); // [30, 20, 10]
 * ```
 */
export function sizeXYZ(shape: readonly number[]): number[] {
  return shape.slice(0, shape.length - 1).reverse();
}

/** Options of {@link resampleIndex}. */
export interface ResampleOptions {
  readonly mode: InterpolationMode;
  readonly padding: PaddingMode;
  /** Value read outside the input with `padding: "zeros"` (default 0). */
  readonly fill?: number;
  /** Per-output-voxel displacement (in input voxels) added after the affine map, one array per x/y/z axis. */
  readonly displacement?: readonly Float32Array[];
}

/**
 * Resamples an image on a new grid: output voxel o (x, y[, z] order) reads the input at index A·o + b.
 * Nearest keeps the element type; linear (bi/trilinear) gives float32 (float64 stays float64), as MONAI's
 * resamplers do. Channels are carried per voxel.
 *
 * @example
 * ```ts
 * // halve a 2D image's resolution along x
 * const data = resampleIndex(img, [img.shape[0], 16], [2, 0, 0, 1], [0.5, 0], { mode: "linear", padding: "border" });
 * ```
 */
export function resampleIndex(
  img: MedicalImage,
  outShapeArray: readonly number[],
  A: Matrix,
  b: readonly number[],
  opts: ResampleOptions,
): PixelArray {
  const nd = img.shape.length - 1;
  const ch = img.shape[nd] as number;
  const inX = sizeXYZ(img.shape);
  const nx = inX[0] as number;
  const ny = inX[1] as number;
  const nz = nd === 3 ? (inX[2] as number) : 1;
  const out3 = [...outShapeArray].reverse();
  const ox = out3[0] as number;
  const oy = out3[1] as number;
  const oz = nd === 3 ? (out3[2] as number) : 1;
  // A 2D map is embedded as 3D with z fixed at 0.
  const a = (r: number, c: number): number =>
    r < nd && c < nd ? (A[r * nd + c] as number) : r === c ? 1 : 0;
  const a00 = a(0, 0);
  const a01 = a(0, 1);
  const a02 = a(0, 2);
  const a10 = a(1, 0);
  const a11 = a(1, 1);
  const a12 = a(1, 2);
  const a20 = a(2, 0);
  const a21 = a(2, 1);
  const a22 = a(2, 2);
  const b0 = b[0] as number;
  const b1 = b[1] as number;
  const b2 = nd === 3 ? (b[2] as number) : 0;
  const src = img.data;
  const nOut = ox * oy * oz * ch;
  const nearest = opts.mode === "nearest";
  const dst: PixelArray = nearest
    ? new (src.constructor as new (n: number) => PixelArray)(nOut)
    : src instanceof Float64Array
      ? new Float64Array(nOut)
      : new Float32Array(nOut);
  const fill = opts.fill ?? 0;
  const border = opts.padding === "border";
  const disp = opts.displacement;
  const dx = disp?.[0];
  const dy = disp?.[1];
  const dz = nd === 3 ? disp?.[2] : undefined;
  const sy = nx * ch;
  const sz = ny * nx * ch;
  const clamp = (v: number, hi: number): number => Math.min(hi, Math.max(0, v));
  const isInt = (v: number): boolean => Number.isInteger(v);
  if (
    nearest &&
    disp === undefined &&
    [a00, a01, a02, a10, a11, a12, a20, a21, a22, b0, b1, b2].every(isInt)
  ) {
    // Flips, 90° rotations, crops and pads: integer index maps, so a plain copy with integer arithmetic.
    const rowCopy = a00 === 1 && a10 === 0 && a20 === 0 && !border;
    const rowReverse = a00 === -1 && a10 === 0 && a20 === 0 && !border;
    let oi = 0;
    for (let z = 0; z < oz; z++) {
      for (let y = 0; y < oy; y++) {
        let ix = a01 * y + a02 * z + b0;
        let iy = a11 * y + a12 * z + b1;
        let iz = a21 * y + a22 * z + b2;
        if (rowCopy) {
          // x runs forward through one input row: copy the overlapping run in one memcpy, fill the rest.
          const lo = iy < 0 || iy >= ny || iz < 0 || iz >= nz ? ox : Math.min(ox, Math.max(0, -ix));
          const hi = lo === ox ? ox : Math.max(lo, Math.min(ox, nx - ix));
          if (lo > 0) dst.fill(fill, oi, oi + lo * ch);
          if (hi > lo) {
            const si = (iz * sz + iy * sy + (ix + lo) * ch) | 0;
            dst.set(src.subarray(si, si + (hi - lo) * ch), oi + lo * ch);
          }
          if (hi < ox) dst.fill(fill, oi + hi * ch, oi + ox * ch);
          oi += ox * ch;
          continue;
        }
        if (rowReverse) {
          // x runs backwards through one input row (a flip of x): a tight reversed copy of the overlap.
          const rowOk = iy >= 0 && iy < ny && iz >= 0 && iz < nz;
          const lo = rowOk ? Math.min(ox, Math.max(0, ix - nx + 1)) : ox;
          const hi = rowOk ? Math.max(lo, Math.min(ox, ix + 1)) : ox;
          if (lo > 0) dst.fill(fill, oi, oi + lo * ch);
          const base = iz * sz + iy * sy;
          if (ch === 1) {
            for (let x = lo; x < hi; x++) dst[oi + x] = src[base + ix - x] as number;
          } else {
            for (let x = lo; x < hi; x++) {
              const si = base + (ix - x) * ch;
              const di = oi + x * ch;
              for (let c = 0; c < ch; c++) dst[di + c] = src[si + c] as number;
            }
          }
          if (hi < ox) dst.fill(fill, oi + hi * ch, oi + ox * ch);
          oi += ox * ch;
          continue;
        }
        for (let x = 0; x < ox; x++, ix += a00, iy += a10, iz += a20) {
          let rx = ix;
          let ry = iy;
          let rz = iz;
          if (border) {
            rx = clamp(rx, nx - 1);
            ry = clamp(ry, ny - 1);
            rz = clamp(rz, nz - 1);
          }
          if (rx < 0 || ry < 0 || rz < 0 || rx >= nx || ry >= ny || rz >= nz) {
            for (let c = 0; c < ch; c++) dst[oi++] = fill;
          } else if (ch === 1) {
            dst[oi++] = src[rz * sz + ry * sy + rx] as number;
          } else {
            const si = rz * sz + ry * sy + rx * ch;
            for (let c = 0; c < ch; c++) dst[oi++] = src[si + c] as number;
          }
        }
      }
    }
    return dst;
  }
  if (
    !nearest &&
    border &&
    disp === undefined &&
    a01 === 0 &&
    a02 === 0 &&
    a10 === 0 &&
    a12 === 0 &&
    a20 === 0 &&
    a21 === 0
  ) {
    // Resize and spacing: a diagonal map is separable, so three 1D passes replace per-voxel trilinear.
    return separableLinear(src, dst, [nx, ny, nz], [ox, oy, oz], [a00, a11, a22], [b0, b1, b2], ch);
  }
  const flat = nz === 1 && a20 === 0 && a21 === 0 && a22 === 1 && b2 === 0 && dz === undefined;
  let oi = 0;
  let vox = 0;
  for (let z = 0; z < oz; z++) {
    for (let y = 0; y < oy; y++) {
      const rowX = a01 * y + a02 * z + b0;
      const rowY = a11 * y + a12 * z + b1;
      const rowZ = a21 * y + a22 * z + b2;
      for (let x = 0; x < ox; x++, vox++) {
        let ix = a00 * x + rowX;
        let iy = a10 * x + rowY;
        let iz = a20 * x + rowZ;
        if (dx !== undefined) ix += dx[vox] as number;
        if (dy !== undefined) iy += dy[vox] as number;
        if (dz !== undefined) iz += dz[vox] as number;
        if (border) {
          ix = clamp(ix, nx - 1);
          iy = clamp(iy, ny - 1);
          iz = clamp(iz, nz - 1);
        }
        if (nearest) {
          const rx = Math.round(ix);
          const ry = Math.round(iy);
          const rz = Math.round(iz);
          if (rx < 0 || ry < 0 || rz < 0 || rx >= nx || ry >= ny || rz >= nz) {
            for (let c = 0; c < ch; c++) dst[oi++] = fill;
          } else {
            const si = rz * sz + ry * sy + rx * ch;
            for (let c = 0; c < ch; c++) dst[oi++] = src[si + c] as number;
          }
          continue;
        }
        const x0 = Math.floor(ix);
        const y0 = Math.floor(iy);
        const fx = ix - x0;
        const fy = iy - y0;
        if (flat) {
          if (x0 >= 0 && y0 >= 0 && x0 + 1 < nx && y0 + 1 < ny) {
            // Interior of a 2D image: all four neighbours exist.
            const base = y0 * sy + x0 * ch;
            for (let c = 0; c < ch; c++) {
              const p = base + c;
              const top = (src[p] as number) + fx * ((src[p + ch] as number) - (src[p] as number));
              const q = p + sy;
              const bot = (src[q] as number) + fx * ((src[q + ch] as number) - (src[q] as number));
              dst[oi++] = top + fy * (bot - top);
            }
            continue;
          }
        } else {
          const z0 = Math.floor(iz);
          if (x0 >= 0 && y0 >= 0 && z0 >= 0 && x0 + 1 < nx && y0 + 1 < ny && z0 + 1 < nz) {
            // Interior of a volume: all eight neighbours exist (the common case, kept branch-free).
            const fz = iz - z0;
            const base = z0 * sz + y0 * sy + x0 * ch;
            for (let c = 0; c < ch; c++) {
              const p = base + c;
              const v00 = (src[p] as number) + fx * ((src[p + ch] as number) - (src[p] as number));
              const p1 = p + sy;
              const v01 = (src[p1] as number) + fx * ((src[p1 + ch] as number) - (src[p1] as number));
              const p2 = p + sz;
              const v10 = (src[p2] as number) + fx * ((src[p2 + ch] as number) - (src[p2] as number));
              const p3 = p2 + sy;
              const v11 = (src[p3] as number) + fx * ((src[p3 + ch] as number) - (src[p3] as number));
              const a = v00 + fy * (v01 - v00);
              const b = v10 + fy * (v11 - v10);
              dst[oi++] = a + fz * (b - a);
            }
            continue;
          }
        }
        // Edge voxels: neighbours outside read `fill`; zero weights are skipped so exact indices stay exact.
        const z0 = Math.floor(iz);
        const fz = iz - z0;
        for (let c = 0; c < ch; c++) {
          let acc = 0;
          for (let kz = 0; kz < 2; kz++) {
            const wz = kz === 0 ? 1 - fz : fz;
            if (wz === 0) continue;
            const zz = z0 + kz;
            for (let ky = 0; ky < 2; ky++) {
              const wy = ky === 0 ? 1 - fy : fy;
              if (wy === 0) continue;
              const yy = y0 + ky;
              for (let kx = 0; kx < 2; kx++) {
                const wx = kx === 0 ? 1 - fx : fx;
                if (wx === 0) continue;
                const xx = x0 + kx;
                const w = wx * wy * wz;
                acc +=
                  xx < 0 || yy < 0 || zz < 0 || xx >= nx || yy >= ny || zz >= nz
                    ? w * fill
                    : w * (src[zz * sz + yy * sy + xx * ch + c] as number);
              }
            }
          }
          dst[oi++] = acc;
        }
      }
    }
  }
  return dst;
}

/** Sample positions of one axis: clamped (border) indices and weights of a 1D linear interpolation. */
function axisTaps(
  n: number,
  out: number,
  scale: number,
  shift: number,
): { i0: Int32Array; i1: Int32Array; w: Float64Array } {
  const i0 = new Int32Array(out);
  const i1 = new Int32Array(out);
  const w = new Float64Array(out);
  for (let o = 0; o < out; o++) {
    const pos = Math.min(n - 1, Math.max(0, scale * o + shift));
    const f = Math.floor(pos);
    i0[o] = f;
    i1[o] = Math.min(f + 1, n - 1);
    w[o] = pos - f;
  }
  return { i0, i1, w };
}

/**
 * Linear resampling for a diagonal index map with border padding, as three separable passes (x, then y, then
 * z); equal to trilinear interpolation up to rounding, at a fraction of the cost.
 */
function separableLinear(
  src: PixelArray,
  dst: PixelArray,
  n: readonly [number, number, number],
  o: readonly [number, number, number],
  scale: readonly [number, number, number],
  shift: readonly [number, number, number],
  ch: number,
): PixelArray {
  const [nx, ny, nz] = n;
  const [ox, oy, oz] = o;
  const tx = axisTaps(nx, ox, scale[0], shift[0]);
  const ty = axisTaps(ny, oy, scale[1], shift[1]);
  const tz = axisTaps(nz, oz, scale[2], shift[2]);
  // Pass x: [nz][ny][nx][ch] → [nz][ny][ox][ch].
  const px = new Float64Array(nz * ny * ox * ch);
  for (let r = 0, rows = nz * ny; r < rows; r++) {
    const si = r * nx * ch;
    const di = r * ox * ch;
    for (let x = 0; x < ox; x++) {
      const a = si + (tx.i0[x] as number) * ch;
      const b = si + (tx.i1[x] as number) * ch;
      const w = tx.w[x] as number;
      for (let c = 0; c < ch; c++) {
        const va = src[a + c] as number;
        px[di + x * ch + c] = va + w * ((src[b + c] as number) - va);
      }
    }
  }
  // Pass y: rows of ox·ch values are blended whole.
  const row = ox * ch;
  const py = new Float64Array(nz * oy * row);
  for (let z = 0; z < nz; z++) {
    for (let y = 0; y < oy; y++) {
      const a = (z * ny + (ty.i0[y] as number)) * row;
      const b = (z * ny + (ty.i1[y] as number)) * row;
      const w = ty.w[y] as number;
      const d = (z * oy + y) * row;
      for (let k = 0; k < row; k++) {
        const va = px[a + k] as number;
        py[d + k] = va + w * ((px[b + k] as number) - va);
      }
    }
  }
  // Pass z: planes of oy·ox·ch values.
  const plane = oy * row;
  for (let z = 0; z < oz; z++) {
    const a = (tz.i0[z] as number) * plane;
    const b = (tz.i1[z] as number) * plane;
    const w = tz.w[z] as number;
    const d = z * plane;
    for (let k = 0; k < plane; k++) {
      const va = py[a + k] as number;
      dst[d + k] = va + w * ((py[b + k] as number) - va);
    }
  }
  return dst;
}

/** Geometry (spacing, origin, direction) of an image. */
export interface Geometry {
  readonly spacing: readonly number[];
  readonly origin: readonly number[];
  readonly direction: readonly number[];
}

/**
 * Geometry of a resampled grid whose voxel o maps to input index A·o + b: world(o) = origin + D·S·(A·o + b), so
 * the new D'·S' = D·S·A (columns split into length = spacing and unit direction) and origin' = origin + D·S·b.
 * Every voxel keeps its world position, as MONAI's MetaTensor affine update does.
 *
 * @example
 * ```ts
 * const g = resampledGeometry(img, [-1, 0, 0, 1], [31, 0]); // a flip of x on a 32-wide image
 * ```
 */
export function resampledGeometry(img: Geometry, A: Matrix, b: readonly number[]): Geometry {
  const nd = img.spacing.length;
  const DS = img.direction.map((v, i) => v * (img.spacing[i % nd] as number));
  const M = matMul(DS, A, nd);
  const spacing: number[] = [];
  const direction = new Array<number>(nd * nd).fill(0);
  for (let c = 0; c < nd; c++) {
    let norm = 0;
    for (let r = 0; r < nd; r++) norm += (M[r * nd + c] as number) ** 2;
    norm = Math.sqrt(norm);
    spacing.push(norm);
    for (let r = 0; r < nd; r++) direction[r * nd + c] = (M[r * nd + c] as number) / norm + 0;
  }
  const shift = matVec(DS, b, nd);
  const origin = img.origin.map((o, i) => o + (shift[i] as number) + 0);
  return { spacing, origin, direction };
}

/** One spatial operation recorded in `meta.appliedOperations`, enough to undo it (MONAI's `applied_operations`). */
export interface AppliedOperation {
  /** The transform that did it. */
  readonly name: string;
  /** Output index → input index map, x/y/z order: input = matrix·output + offset; empty when not affine. */
  readonly matrix: readonly number[];
  readonly offset: readonly number[];
  /** Shape and geometry before the operation, restored exactly by the inverse. */
  readonly inputShape: readonly number[];
  readonly inputGeometry: Geometry;
  /** Interpolation the forward pass used (nearest for masks); the inverse uses the same. */
  readonly mode: InterpolationMode;
  readonly padding: PaddingMode;
  /** False for non-linear operations (elastic), which cannot be undone. */
  readonly invertible: boolean;
}

/**
 * The appliedOperations stack of an image (empty when none).
 *
 * @example
 * ```ts
 * appliedOperations(flip()(img)).map((op) => op.name); // ["flip"]
 * ```
 */
export function appliedOperations(img: MedicalImage): readonly AppliedOperation[] {
  const ops = img.meta["appliedOperations"];
  return Array.isArray(ops) ? (ops as AppliedOperation[]) : [];
}

/**
 * Runs an index-space affine resampling and returns the new image with updated geometry and the operation
 * pushed on `meta.appliedOperations`.
 *
 * @example
 * ```ts
 * const out = applyIndexAffine(img, "flip", img.shape, [-1, 0, 0, 1], [w - 1, 0], "nearest", "zeros");
 * ```
 */
export function applyIndexAffine(
  img: MedicalImage,
  name: string,
  outShape: readonly number[],
  A: Matrix,
  b: readonly number[],
  mode: InterpolationMode,
  padding: PaddingMode,
  extra: { readonly fill?: number; readonly geometry?: Geometry } = {},
): MedicalImage {
  const data = resampleIndex(img, outShape.slice(0, -1), A, b, {
    mode,
    padding,
    ...(extra.fill === undefined ? {} : { fill: extra.fill }),
  });
  const geom = extra.geometry ?? resampledGeometry(img, A, b);
  const op: AppliedOperation = {
    name,
    matrix: [...A],
    offset: [...b],
    inputShape: [...img.shape],
    inputGeometry: { spacing: [...img.spacing], origin: [...img.origin], direction: [...img.direction] },
    mode,
    padding,
    invertible: true,
  };
  return createImage(data, outShape, {
    ...geom,
    meta: { ...img.meta, appliedOperations: [...appliedOperations(img), op] },
  });
}
