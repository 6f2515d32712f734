/** NIfTI-1/NIfTI-2 volumes opened in the browser: the library's header parser and geometry, voxels decoded to per-slice arrays. */
import { affineToLps, bestAffine } from "../../src/io/nifti/geometry.js";
import { datatypeOf, parseNiftiHeader } from "../../src/io/nifti/header.js";

/** A NIfTI volume as axial-in-file slices (k), each `columns × rows` (i × j), in DICOM LPS geometry. */
export interface NiftiVolume {
  readonly name: string;
  /** Voxels along i (columns), j (rows), k (slices). */
  readonly dims: readonly [number, number, number];
  /** Millimetres along i, j, k. */
  readonly spacing: readonly [number, number, number];
  /** LPS position of voxel (0, 0, 0). */
  readonly origin: readonly [number, number, number];
  /** Unit LPS directions of i, j, k, row-major 3×3 with the axes as columns (ITK convention). */
  readonly direction: readonly number[];
  /** Voxel values after scl_slope/scl_inter, slice k at `[k * rows * columns, (k + 1) * rows * columns)`. */
  readonly data: Float32Array;
}

/** True when `b` starts with the gzip magic (RFC 1952 2.3.1): `.nii.gz` files. */
function isGzip(b: Uint8Array): boolean {
  return b.length > 2 && b[0] === 0x1f && b[1] === 0x8b;
}

async function gunzip(b: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([b as BlobPart]).stream().pipeThrough(new DecompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/**
 * Reads a single-file NIfTI (`.nii` or `.nii.gz`) of one 3D volume: the header with `src/io/nifti` (so the
 * console and the library agree on every field), geometry from the sform, else the qform, else pixdim,
 * converted from NIfTI's RAS+ to DICOM's LPS+ (nifti1.h; PS3.3 C.7.6.2.1.1), values scaled by scl_slope/scl_inter.
 *
 * @example
 * ```ts
 * const vol = await readNiftiVolume(new Uint8Array(await file.arrayBuffer()), file.name);
 * ```
 */
export async function readNiftiVolume(file: Uint8Array, name: string): Promise<NiftiVolume> {
  const bytes = isGzip(file) ? await gunzip(file) : file;
  const h = parseNiftiHeader(bytes, name);
  if (!h.singleFile)
    throw new Error(`${name}: a .hdr/.img pair cannot be opened here; convert it to .nii.gz`);
  const dt = datatypeOf(h);
  if (dt.components !== 1) throw new Error(`${name}: ${dt.name} (multi-component) volumes are not shown`);
  const n = h.dim[0] as number;
  const d = (k: number): number => (k <= n ? Math.max(1, h.dim[k] as number) : 1);
  for (let k = 4; k <= n; k++)
    if (d(k) > 1) throw new Error(`${name}: a 4D series (dim ${k} = ${d(k)}) is not shown; open one volume`);
  const [ni, nj, nk] = [d(1), d(2), d(3)];
  const count = ni * nj * nk;
  if (h.voxOffset + count * dt.bytes > bytes.length)
    throw new Error(`${name}: truncated (${count} voxels of ${dt.name} from byte ${h.voxOffset})`);
  const view = new DataView(bytes.buffer, bytes.byteOffset + h.voxOffset, count * dt.bytes);
  const le = h.littleEndian;
  const readers: Record<string, (o: number) => number> = {
    uint1: (o: number) => view.getUint8(o),
    int1: (o: number) => view.getInt8(o),
    uint2: (o: number) => view.getUint16(o, le),
    int2: (o: number) => view.getInt16(o, le),
    uint4: (o: number) => view.getUint32(o, le),
    int4: (o: number) => view.getInt32(o, le),
    float4: (o: number) => view.getFloat32(o, le),
    float8: (o: number) => view.getFloat64(o, le),
  };
  const get = readers[`${dt.kind}${dt.bytes}`];
  if (!get) throw new Error(`${name}: datatype ${dt.name} is not shown`);
  // nifti1.h: a nonzero scl_slope scales every voxel as y = scl_slope * x + scl_inter.
  const slope = h.sclSlope !== 0 && Number.isFinite(h.sclSlope) ? h.sclSlope : 1;
  const inter = h.sclSlope !== 0 && Number.isFinite(h.sclInter) ? h.sclInter : 0;
  const data = new Float32Array(count);
  for (let v = 0; v < count; v++) data[v] = get(v * dt.bytes) * slope + inter;
  const g = affineToLps(bestAffine(h).affine, h.pixdim, 3);
  return {
    name,
    dims: [ni, nj, nk],
    spacing: g.spacing as [number, number, number],
    origin: g.origin as [number, number, number],
    direction: g.direction,
    data,
  };
}

/** Image Position (Patient) of slice k: the origin moved k slices along the k axis (PS3.3 C.7.6.2.1.1). */
export function slicePosition(v: NiftiVolume, k: number): [number, number, number] {
  const dir = (r: number): number => v.direction[r * 3 + 2] as number;
  return [0, 1, 2].map((r) => (v.origin[r] as number) + k * v.spacing[2] * dir(r)) as [
    number,
    number,
    number,
  ];
}

/**
 * Image Orientation (Patient) of every slice: the row direction is the i axis, the column direction the j axis
 * (voxel (i, j) is column i of row j, as DICOM stores pixels).
 */
export function sliceOrientation(v: NiftiVolume): number[] {
  const col = (c: number): number[] => [0, 1, 2].map((r) => v.direction[r * 3 + c] as number);
  return [...col(0), ...col(1)];
}

/** True when `mask` lies on `image`'s voxel grid (same dimensions, and geometry within 1e-3 mm / 1e-4). */
export function sameGrid(image: NiftiVolume, mask: NiftiVolume): boolean {
  const near = (a: readonly number[], b: readonly number[], tol: number): boolean =>
    a.length === b.length && a.every((x, i) => Math.abs(x - (b[i] as number)) <= tol);
  return (
    near(image.dims, mask.dims, 0) &&
    near(image.spacing, mask.spacing, 1e-3) &&
    near(image.origin, mask.origin, 1e-3) &&
    near(image.direction, mask.direction, 1e-4)
  );
}
