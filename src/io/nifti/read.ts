/** Reads NIfTI-1/NIfTI-2/Analyze images (.nii, .nii.gz, .hdr/.img pairs, either byte order) into MedicalImage. */
import { existsSync, readFileSync } from "node:fs";
import { gunzipSync } from "node:zlib";
import { Gunzip } from "fflate";
import { RadioLensError } from "../../core/errors.js";
import { createImage, type MedicalImage, type PixelArray } from "../../core/image.js";
import { affineToLps, bestAffine, qformAffine, sformAffine } from "./geometry.js";
import { datatypeOf, type NiftiDatatype, type NiftiHeader, parseNiftiHeader } from "./header.js";
import { reorderVolumes } from "./layout.js";

/**
 * `intent_code` NIFTI_INTENT_VECTOR (nifti1.h): the 5th dimension holds vector components.
 *
 * @example
 * ```ts
 * if (hdr.intentCode === NIFTI_INTENT_VECTOR) console.log("displacement field");
 * ```
 */
export const NIFTI_INTENT_VECTOR = 1007;

/** Options for {@link readNifti}. */
export interface ReadNiftiOptions {
  /** Apply scl_slope/scl_inter (default true). False keeps the stored values; the factors stay in `meta.nifti`. */
  readonly scale?: boolean;
  /** Refuse images whose decoded pixel data exceeds this many bytes (default 2 GiB), before allocating. */
  readonly maxBytes?: number;
  /** Name used in error messages when reading bytes. */
  readonly name?: string;
}

/**
 * What `meta.nifti` of an image read by {@link readNifti} holds: facts of the source header (they describe the
 * file, not later transforms) that a writer uses to round-trip the image.
 */
export interface NiftiMeta {
  readonly format: NiftiHeader["format"];
  readonly littleEndian: boolean;
  readonly datatype: number;
  readonly datatypeName: string;
  readonly dim: readonly number[];
  readonly pixdim: readonly number[];
  readonly sclSlope: number;
  readonly sclInter: number;
  readonly scaled: boolean;
  readonly qformCode: number;
  readonly sformCode: number;
  /** The affine used for the geometry (RAS+, row-major 4×4) and where it came from. */
  readonly affine: readonly number[];
  readonly affineSource: string;
  readonly qform: readonly number[] | null;
  readonly sform: readonly number[] | null;
  readonly intentCode: number;
  readonly intentName: string;
  readonly xyztUnits: number;
  readonly calMin: number;
  readonly calMax: number;
  readonly descrip: string;
  readonly extensionCodes: readonly number[];
}

const GZIP_MAGIC = [0x1f, 0x8b] as const;
const DEFAULT_MAX_BYTES = 2 * 1024 ** 3;

function isGzip(b: Uint8Array): boolean {
  return b.length >= 2 && b[0] === GZIP_MAGIC[0] && b[1] === GZIP_MAGIC[1];
}

function gunzip(b: Uint8Array, name: string, maxBytes: number): Uint8Array {
  // zlib (native) inflates 3-7x faster than a JavaScript inflater, and maxOutputLength stops a gzip bomb
  // while inflating instead of after; the extra MiB leaves room for header and extensions.
  try {
    return gunzipSync(b, { maxOutputLength: maxBytes + 1024 * 1024 });
  } catch (e) {
    const tooBig = e instanceof RangeError || (e as { code?: string }).code === "ERR_BUFFER_TOO_LARGE";
    throw new RadioLensError(
      "RL_ERR_NIFTI_INVALID",
      {
        path: name,
        detail: tooBig
          ? `gzip stream inflates beyond the limit of ${maxBytes} bytes`
          : `gzip stream is damaged (${(e as Error).message})`,
      },
      { cause: e },
    );
  }
}

/**
 * True when the bytes (gzip or not) start with a NIfTI-1 or NIfTI-2 header: `sizeof_hdr` 348/540 in either
 * byte order and the magic (`n+1`/`ni1` at byte 344, `n+2`/`ni2` at byte 4). A gzip stream is inflated only
 * as far as the header. Analyze headers (no magic) are not claimed.
 *
 * @example
 * ```ts
 * if (isNifti(bytes)) img = readNifti(bytes);
 * ```
 */
export function isNifti(bytes: Uint8Array): boolean {
  let b = bytes;
  if (isGzip(b)) {
    // Inflate only until a header's worth of bytes is out (fflate streams; zlib's sync API cannot stop early).
    const parts: Uint8Array[] = [];
    let got = 0;
    try {
      const gz = new Gunzip((chunk) => {
        parts.push(chunk);
        got += chunk.length;
      });
      for (let off = 0; off < b.length && got < 548 && off < 1 << 20; off += 512) {
        gz.push(b.subarray(off, Math.min(b.length, off + 512)));
      }
    } catch {
      return false;
    }
    const head = new Uint8Array(got);
    let o = 0;
    for (const p of parts) {
      head.set(p, o);
      o += p.length;
    }
    b = head;
  }
  if (b.length < 348) return false;
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const size = [dv.getInt32(0, true), dv.getInt32(0, false)];
  const magic = (off: number): string => String.fromCharCode(b[off] ?? 0, b[off + 1] ?? 0, b[off + 2] ?? 0);
  if (size.includes(348)) return (magic(344) === "n+1" || magic(344) === "ni1") && b[347] === 0;
  if (size.includes(540)) return (magic(4) === "n+2" || magic(4) === "ni2") && b[7] === 0;
  return false;
}

/**
 * True when the bytes start with an Analyze 7.5 header: `sizeof_hdr` 348 and `dim[0]` in 1..7 in the same byte
 * order, without a NIfTI magic (those are {@link isNifti}'s). The voxels live in the `.img` beside the `.hdr`.
 *
 * @example
 * ```ts
 * if (isAnalyze(readFileSync("brain.hdr"))) img = readNifti("brain.hdr");
 * ```
 */
export function isAnalyze(bytes: Uint8Array): boolean {
  if (bytes.length < 348 || isNifti(bytes)) return false;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (const le of [true, false]) {
    const dim0 = dv.getInt16(40, le);
    if (dv.getInt32(0, le) === 348 && dim0 >= 1 && dim0 <= 7) return true;
  }
  return false;
}

function readBytes(path: string): Uint8Array {
  if (!existsSync(path)) throw new RadioLensError("RL_ERR_FILE_NOT_FOUND", { path });
  try {
    return readFileSync(path);
  } catch (e) {
    throw new RadioLensError("RL_ERR_IO", { path, detail: (e as Error).message }, { cause: e });
  }
}

function stripGz(p: string): string {
  return p.toLowerCase().endsWith(".gz") ? p.slice(0, -3) : p;
}

/** The `.img` file of a `.hdr` (or `.img.gz` / upper-case variants), as nibabel and FSL look for them. */
function companion(path: string, from: "hdr" | "img"): string[] {
  const base = stripGz(path);
  const stem = base.slice(0, -4);
  const ext = base.slice(-4);
  const want = from === "hdr" ? (ext === ".HDR" ? ".IMG" : ".img") : ext === ".IMG" ? ".HDR" : ".hdr";
  return [stem + want, `${stem}${want}.gz`];
}

/**
 * Reads only the header of a NIfTI/Analyze file or byte buffer (gzip is undone first).
 *
 * @example
 * ```ts
 * const h = readNiftiHeader("sub-01_T1w.nii.gz");
 * console.log(h.dim.slice(1, h.dim[0] + 1), h.datatype);
 * ```
 */
export function readNiftiHeader(source: string | Uint8Array, opts: ReadNiftiOptions = {}): NiftiHeader {
  const name = typeof source === "string" ? source : (opts.name ?? "<bytes>");
  let bytes = typeof source === "string" ? readBytes(source) : source;
  if (isGzip(bytes)) bytes = gunzip(bytes, name, opts.maxBytes ?? DEFAULT_MAX_BYTES);
  return parseNiftiHeader(bytes, name);
}

function swapBytes(b: Uint8Array, width: number): void {
  if (width === 1) return;
  for (let i = 0; i + width <= b.length; i += width) {
    for (let lo = i, hi = i + width - 1; lo < hi; lo++, hi--) {
      const t = b[lo] as number;
      b[lo] = b[hi] as number;
      b[hi] = t;
    }
  }
}

/** Decodes raw component values into a typed array (a copy: the result owns its memory). */
function decodeComponents(
  raw: Uint8Array,
  dt: NiftiDatatype,
  le: boolean,
  name: string,
  owned: boolean,
): PixelArray {
  let copy = raw;
  if (!owned || raw.byteOffset !== 0 || raw.byteLength !== raw.buffer.byteLength) {
    copy = new Uint8Array(raw.length);
    copy.set(raw);
  }
  // Node runs little endian; big-endian files are swapped once into native order.
  if (!le) swapBytes(copy, dt.bytes);
  const buf = copy.buffer;
  switch (dt.kind === "float" ? `f${dt.bytes}` : `${dt.kind}${dt.bytes}`) {
    case "uint1":
      return copy;
    case "int1":
      return new Int8Array(buf);
    case "uint2":
      return new Uint16Array(buf);
    case "int2":
      return new Int16Array(buf);
    case "uint4":
      return new Uint32Array(buf);
    case "int4":
      return new Int32Array(buf);
    case "f4":
      return new Float32Array(buf);
    case "f8":
      return new Float64Array(buf);
    case "int8":
    case "uint8": {
      const big = dt.kind === "int" ? new BigInt64Array(buf) : new BigUint64Array(buf);
      const out = new Float64Array(big.length);
      const lim = BigInt(Number.MAX_SAFE_INTEGER);
      for (let i = 0; i < big.length; i++) {
        const v = big[i] as bigint;
        if (v > lim || v < -lim) {
          throw new RadioLensError("RL_ERR_NIFTI_UNSUPPORTED", {
            path: name,
            detail: `${dt.name} value ${v} at voxel ${i} cannot be held exactly in float64`,
          });
        }
        out[i] = Number(v);
      }
      return out;
    }
    default:
      throw new RadioLensError("RL_ERR_NIFTI_UNSUPPORTED", { path: name, detail: `datatype ${dt.name}` });
  }
}

function applyScaling(data: PixelArray, h: NiftiHeader, dt: NiftiDatatype): PixelArray | undefined {
  // nifti1.h: "If the scl_slope field is nonzero, then each voxel value in the dataset should be scaled as
  // y = scl_slope * x + scl_inter"; RGB data is never scaled.
  const slope = h.sclSlope;
  if (!(slope !== 0 && Number.isFinite(slope)) || dt.components > 2) return undefined;
  const inter = Number.isFinite(h.sclInter) ? h.sclInter : 0;
  if (slope === 1 && inter === 0) return undefined;
  const wide = dt.bytes >= 4 && !(dt.kind === "float" && dt.bytes === 4);
  const out = wide ? new Float64Array(data.length) : new Float32Array(data.length);
  for (let i = 0; i < data.length; i++) out[i] = (data[i] as number) * slope + inter;
  return out;
}

/** Shape and channel layout: spatial rank 2 or 3, channels = product of dims 4..7 × components. */
function layoutOf(h: NiftiHeader): { spatial: number[]; nd: 2 | 3; extra: number } {
  const n = h.dim[0] as number;
  const d = (k: number): number => (k <= n ? (h.dim[k] as number) : 1);
  // ITK's convention for 2D vector images (e.g. displacement fields): dim = [5, nx, ny, 1, 1, nc], VECTOR intent.
  const vector2d = n === 5 && d(3) === 1 && d(4) === 1 && h.intentCode === NIFTI_INTENT_VECTOR;
  const nd: 2 | 3 = n <= 2 || vector2d ? 2 : 3;
  let extra = 1;
  for (let k = 4; k <= n; k++) extra *= d(k);
  return { spatial: nd === 2 ? [d(2), d(1)] : [d(3), d(2), d(1)], nd, extra };
}

function decodeImage(
  h: NiftiHeader,
  img: Uint8Array,
  offset: number,
  name: string,
  opts: ReadNiftiOptions,
): MedicalImage {
  const dt = datatypeOf(h);
  const { spatial, nd, extra } = layoutOf(h);
  const nvox = spatial.reduce((a, b) => a * b, 1);
  const maxBytes = opts.maxBytes ?? DEFAULT_MAX_BYTES;
  const nbytes = nvox * extra * dt.components * dt.bytes;
  if (!Number.isSafeInteger(nbytes) || nbytes > maxBytes) {
    throw new RadioLensError("RL_ERR_NIFTI_INVALID", {
      path: name,
      detail: `image needs ${nbytes} bytes, above the limit of ${maxBytes}`,
    });
  }
  if (offset + nbytes > img.length) {
    throw new RadioLensError("RL_ERR_NIFTI_INVALID", {
      path: name,
      detail: `truncated: dim and datatype need ${nbytes} bytes from offset ${offset}, only ${Math.max(0, img.length - offset)} present`,
    });
  }
  let raw = img.subarray(offset, offset + nbytes);
  // NIfTI stores t (and u, v, w) slowest; RadioLens keeps channels last, so volumes of a series interleave.
  if (extra > 1) raw = reorderVolumes(raw, dt.bytes, nvox, extra, dt.components, "toChannelsLast");
  let data = decodeComponents(raw, dt, h.littleEndian, name, extra > 1);
  const doScale = opts.scale ?? true;
  const scaled = doScale ? applyScaling(data, h, dt) : undefined;
  if (scaled !== undefined) data = scaled;
  const { affine, source } = bestAffine(h);
  const geom = affineToLps(affine, h.pixdim, nd);
  const meta: NiftiMeta = {
    format: h.format,
    littleEndian: h.littleEndian,
    datatype: h.datatype,
    datatypeName: dt.name,
    dim: h.dim,
    pixdim: h.pixdim,
    sclSlope: h.sclSlope,
    sclInter: h.sclInter,
    scaled: scaled !== undefined,
    qformCode: h.qformCode,
    sformCode: h.sformCode,
    affine,
    affineSource: source,
    qform: h.qformCode > 0 ? qformAffine(h) : null,
    sform: h.sformCode > 0 ? sformAffine(h) : null,
    intentCode: h.intentCode,
    intentName: h.intentName,
    xyztUnits: h.xyztUnits,
    calMin: h.calMin,
    calMax: h.calMax,
    descrip: h.descrip,
    extensionCodes: h.extensions.map((x) => x.code),
  };
  return createImage(data, [...spatial, extra * dt.components], {
    ...geom,
    meta: { format: h.format, nifti: meta },
  });
}

/**
 * Reads a NIfTI-1 or NIfTI-2 image (`.nii`, `.nii.gz`), or an Analyze/NIfTI pair given by its `.hdr` or
 * `.img`, into a MedicalImage:
 * - voxel (i, j, k) becomes `data[((k * nj + j) * ni + i) * ch + c]`, i.e. shape `[nk, nj, ni, ch]` (2D files:
 *   `[nj, ni, ch]`); time points and vector components (dims 4..7) and complex/RGB components become channels;
 * - geometry comes from the sform, else the qform, else pixdim (see {@link bestAffine}), converted from NIfTI's
 *   RAS+ to RadioLens's LPS;
 * - scl_slope/scl_inter are applied (float32 output, float64 for 32/64-bit sources) unless `scale: false`.
 * Every declared size is checked against the bytes present before anything is allocated.
 *
 * @example
 * ```ts
 * const flair = readNifti("FLAIR.nii.gz");
 * flair.shape;   // [140, 160, 124, 1]
 * flair.spacing; // [1, 1, 1] (mm, x/y/z)
 * ```
 */
export function readNifti(source: string | Uint8Array, opts: ReadNiftiOptions = {}): MedicalImage {
  const maxBytes = opts.maxBytes ?? DEFAULT_MAX_BYTES;
  if (typeof source !== "string") {
    const name = opts.name ?? "<bytes>";
    const bytes = isGzip(source) ? gunzip(source, name, maxBytes) : source;
    const h = parseNiftiHeader(bytes, name);
    if (!h.singleFile) {
      throw new RadioLensError("RL_ERR_NIFTI_MISSING_IMAGE", { path: name, tried: "(bytes given, no .img)" });
    }
    return decodeImage(h, bytes, h.voxOffset, name, opts);
  }
  const lower = stripGz(source.toLowerCase());
  let hdrPath = source;
  let imgPath: string | undefined;
  if (lower.endsWith(".img")) {
    const found = companion(source, "img").find((p) => existsSync(p));
    if (found === undefined) {
      throw new RadioLensError("RL_ERR_NIFTI_MISSING_IMAGE", {
        path: source,
        tried: companion(source, "img").join(", "),
      });
    }
    hdrPath = found;
    imgPath = source;
  }
  let hbytes = readBytes(hdrPath);
  if (isGzip(hbytes)) hbytes = gunzip(hbytes, hdrPath, maxBytes);
  const h = parseNiftiHeader(hbytes, hdrPath);
  if (h.singleFile) return decodeImage(h, hbytes, h.voxOffset, hdrPath, opts);
  if (imgPath === undefined) {
    const tried = companion(hdrPath, "hdr");
    imgPath = tried.find((p) => existsSync(p));
    if (imgPath === undefined) {
      throw new RadioLensError("RL_ERR_NIFTI_MISSING_IMAGE", { path: hdrPath, tried: tried.join(", ") });
    }
  }
  let ibytes = readBytes(imgPath);
  if (isGzip(ibytes)) ibytes = gunzip(ibytes, imgPath, maxBytes);
  return decodeImage(h, ibytes, h.voxOffset, imgPath, opts);
}
