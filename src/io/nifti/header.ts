/** NIfTI-1, NIfTI-2 and Analyze 7.5 header parsing and serialization (byte layouts of nifti1.h and nifti2.h). */
import { RadioLensError } from "../../core/errors.js";

/** Which header layout a file uses: Analyze 7.5 (no magic), NIfTI-1 (348 bytes) or NIfTI-2 (540 bytes). */
export type NiftiFormat = "analyze" | "nifti1" | "nifti2";

/** One header extension (NIfTI-1 §"extension"): `esize` bytes including its 8-byte code/size prefix. */
export interface NiftiExtension {
  /** `ecode`: 2 = DICOM, 4 = AFNI XML, 6 = comment, 32 = CIFTI... */
  readonly code: number;
  /** Extension payload (without the size/code prefix). */
  readonly data: Uint8Array;
}

/**
 * Every field of a NIfTI-1/NIfTI-2 header, NIfTI-2 widths (64-bit dims, float64 geometry); an Analyze header
 * reads as a NIfTI-1 one whose NIfTI-only fields are zero.
 */
export interface NiftiHeader {
  readonly format: NiftiFormat;
  /** True for a single `.nii` file (`n+1`/`n+2`), false for a `.hdr`/`.img` pair (`ni1`/`ni2`, Analyze). */
  readonly singleFile: boolean;
  readonly littleEndian: boolean;
  readonly dimInfo: number;
  /** `dim[0]` is the number of dimensions, `dim[1..7]` their sizes (i, j, k, t, u, v, w). */
  readonly dim: readonly number[];
  readonly intentP1: number;
  readonly intentP2: number;
  readonly intentP3: number;
  readonly intentCode: number;
  readonly datatype: number;
  readonly bitpix: number;
  readonly sliceStart: number;
  /** `pixdim[0]` is qfac (±1), `pixdim[1..7]` the voxel sizes. */
  readonly pixdim: readonly number[];
  readonly voxOffset: number;
  readonly sclSlope: number;
  readonly sclInter: number;
  readonly sliceEnd: number;
  readonly sliceCode: number;
  readonly xyztUnits: number;
  readonly calMax: number;
  readonly calMin: number;
  readonly sliceDuration: number;
  readonly toffset: number;
  readonly descrip: string;
  readonly auxFile: string;
  readonly qformCode: number;
  readonly sformCode: number;
  readonly quaternB: number;
  readonly quaternC: number;
  readonly quaternD: number;
  readonly qoffsetX: number;
  readonly qoffsetY: number;
  readonly qoffsetZ: number;
  readonly srowX: readonly number[];
  readonly srowY: readonly number[];
  readonly srowZ: readonly number[];
  readonly intentName: string;
  /** Analyze 7.5 / SPM `originator` (1-based voxel of the world origin, bytes 253..258); zeros for NIfTI. */
  readonly analyzeOrigin: readonly number[];
  readonly extensions: readonly NiftiExtension[];
}

/** How a NIfTI `datatype` code is stored: bytes per component, components per voxel, element type. */
export interface NiftiDatatype {
  readonly code: number;
  readonly name: string;
  /** Bytes of one component. */
  readonly bytes: number;
  /** Components per voxel (2 for complex, 3 for RGB24, 4 for RGBA32). */
  readonly components: number;
  readonly kind: "uint" | "int" | "float";
}

/**
 * The datatype codes of nifti1.h (`NIFTI_TYPE_*`) that RadioLens reads.
 *
 * @example
 * ```ts
 * NIFTI_DATATYPES.get(4)?.name; // "int16"
 * ```
 */
export const NIFTI_DATATYPES: ReadonlyMap<number, NiftiDatatype> = new Map(
  (
    [
      [2, "uint8", 1, 1, "uint"],
      [4, "int16", 2, 1, "int"],
      [8, "int32", 4, 1, "int"],
      [16, "float32", 4, 1, "float"],
      [32, "complex64", 4, 2, "float"],
      [64, "float64", 8, 1, "float"],
      [128, "rgb24", 1, 3, "uint"],
      [256, "int8", 1, 1, "int"],
      [512, "uint16", 2, 1, "uint"],
      [768, "uint32", 4, 1, "uint"],
      [1024, "int64", 8, 1, "int"],
      [1280, "uint64", 8, 1, "uint"],
      [1792, "complex128", 8, 2, "float"],
      [2304, "rgba32", 1, 4, "uint"],
    ] as const
  ).map(([code, name, bytes, components, kind]) => [code, { code, name, bytes, components, kind }]),
);

/** Datatype codes nifti1.h defines that have no JavaScript element type (1-bit, 128-bit floats). */
const UNREADABLE_DATATYPES: ReadonlyMap<number, string> = new Map([
  [1, "binary (1 bit)"],
  [1536, "float128"],
  [2048, "complex256"],
]);

/**
 * Size of the NIfTI-1 header (also Analyze 7.5).
 *
 * @example
 * ```ts
 * const isV1 = view.getInt32(0, true) === NIFTI1_HEADER_SIZE;
 * ```
 */
export const NIFTI1_HEADER_SIZE = 348;
/**
 * Size of the NIfTI-2 header.
 *
 * @example
 * ```ts
 * const isV2 = view.getInt32(0, true) === NIFTI2_HEADER_SIZE;
 * ```
 */
export const NIFTI2_HEADER_SIZE = 540;

function invalid(path: string, detail: string): RadioLensError {
  return new RadioLensError("RL_ERR_NIFTI_INVALID", { path, detail });
}

function cString(bytes: Uint8Array, off: number, len: number): string {
  let end = off;
  while (end < off + len && bytes[end] !== 0) end++;
  let s = "";
  for (let i = off; i < end; i++) s += String.fromCharCode(bytes[i] as number);
  return s;
}

/**
 * Finds the header layout and byte order from `sizeof_hdr` (348 or 540), as nifti1.h advises
 * ("sizeof_hdr ... can be used to detect byte swapping").
 */
function detectLayout(bytes: Uint8Array, path: string): { v2: boolean; le: boolean } {
  if (bytes.length < NIFTI1_HEADER_SIZE) {
    throw invalid(path, `${bytes.length} bytes is shorter than the 348-byte NIfTI-1/Analyze header`);
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const le = dv.getInt32(0, true);
  const be = dv.getInt32(0, false);
  if (le === NIFTI1_HEADER_SIZE) return { v2: false, le: true };
  if (be === NIFTI1_HEADER_SIZE) return { v2: false, le: false };
  if (le === NIFTI2_HEADER_SIZE || be === NIFTI2_HEADER_SIZE) {
    if (bytes.length < NIFTI2_HEADER_SIZE) {
      throw invalid(path, `${bytes.length} bytes is shorter than the 540-byte NIfTI-2 header`);
    }
    return { v2: true, le: le === NIFTI2_HEADER_SIZE };
  }
  throw invalid(path, `sizeof_hdr is ${le} (expected 348 for NIfTI-1/Analyze or 540 for NIfTI-2)`);
}

function parseExtensions(
  bytes: Uint8Array,
  dv: DataView,
  le: boolean,
  start: number,
  end: number,
  path: string,
): NiftiExtension[] {
  // The 4-byte "extender" after the header says whether extensions follow (nifti1.h, "extension").
  if (start + 4 > bytes.length || bytes[start] === 0) return [];
  const out: NiftiExtension[] = [];
  let off = start + 4;
  while (off + 8 <= end) {
    const esize = dv.getInt32(off, le);
    const ecode = dv.getInt32(off + 4, le);
    if (esize < 8 || esize % 16 !== 0 || off + esize > end) {
      throw invalid(
        path,
        `header extension at byte ${off} declares esize ${esize}, beyond vox_offset ${end}`,
      );
    }
    out.push({ code: ecode, data: bytes.slice(off + 8, off + esize) });
    off += esize;
  }
  return out;
}

/**
 * Parses a NIfTI-1, NIfTI-2 or Analyze 7.5 header (either byte order), checking every field the reader relies
 * on (dim[0] in 1..7, positive sizes, a known datatype, vox_offset inside a single file).
 *
 * @example
 * ```ts
 * const hdr = parseNiftiHeader(readFileSync("brain.nii"), "brain.nii");
 * console.log(hdr.dim, hdr.datatype);
 * ```
 */
export function parseNiftiHeader(bytes: Uint8Array, path = "<bytes>"): NiftiHeader {
  const { v2, le } = detectLayout(bytes, path);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const i16 = (o: number): number => dv.getInt16(o, le);
  const i32 = (o: number): number => dv.getInt32(o, le);
  const i64 = (o: number): number => {
    const v = dv.getBigInt64(o, le);
    if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) {
      throw invalid(path, `64-bit header field at byte ${o} is out of range (${v})`);
    }
    return Number(v);
  };
  const f32 = (o: number): number => dv.getFloat32(o, le);
  const f64 = (o: number): number => dv.getFloat64(o, le);

  let h: Omit<NiftiHeader, "extensions">;
  let headerSize: number;
  if (v2) {
    headerSize = NIFTI2_HEADER_SIZE;
    const magic = cString(bytes, 4, 4);
    if (magic !== "n+2" && magic !== "ni2") throw invalid(path, `NIfTI-2 magic is '${magic}'`);
    h = {
      format: "nifti2",
      singleFile: magic === "n+2",
      littleEndian: le,
      datatype: i16(12),
      bitpix: i16(14),
      dim: Array.from({ length: 8 }, (_, k) => i64(16 + 8 * k)),
      intentP1: f64(80),
      intentP2: f64(88),
      intentP3: f64(96),
      pixdim: Array.from({ length: 8 }, (_, k) => f64(104 + 8 * k)),
      voxOffset: i64(168),
      sclSlope: f64(176),
      sclInter: f64(184),
      calMax: f64(192),
      calMin: f64(200),
      sliceDuration: f64(208),
      toffset: f64(216),
      sliceStart: i64(224),
      sliceEnd: i64(232),
      descrip: cString(bytes, 240, 80),
      auxFile: cString(bytes, 320, 24),
      qformCode: i32(344),
      sformCode: i32(348),
      quaternB: f64(352),
      quaternC: f64(360),
      quaternD: f64(368),
      qoffsetX: f64(376),
      qoffsetY: f64(384),
      qoffsetZ: f64(392),
      srowX: [0, 1, 2, 3].map((k) => f64(400 + 8 * k)),
      srowY: [0, 1, 2, 3].map((k) => f64(432 + 8 * k)),
      srowZ: [0, 1, 2, 3].map((k) => f64(464 + 8 * k)),
      sliceCode: i32(496),
      xyztUnits: i32(500),
      intentCode: i32(504),
      intentName: cString(bytes, 508, 16),
      dimInfo: bytes[524] as number,
      analyzeOrigin: [0, 0, 0],
    };
  } else {
    headerSize = NIFTI1_HEADER_SIZE;
    const magic = cString(bytes, 344, 4);
    const isNifti = magic === "n+1" || magic === "ni1";
    const nz = (v: number): number => (isNifti ? v : 0);
    h = {
      format: isNifti ? "nifti1" : "analyze",
      singleFile: magic === "n+1",
      littleEndian: le,
      dimInfo: nz(bytes[39] as number),
      dim: Array.from({ length: 8 }, (_, k) => i16(40 + 2 * k)),
      intentP1: nz(f32(56)),
      intentP2: nz(f32(60)),
      intentP3: nz(f32(64)),
      intentCode: nz(i16(68)),
      datatype: i16(70),
      bitpix: i16(72),
      sliceStart: nz(i16(74)),
      pixdim: Array.from({ length: 8 }, (_, k) => f32(76 + 4 * k)),
      voxOffset: f32(108),
      // Analyze's funused1 (SPM's scale factor) shares these bytes; only NIfTI defines them as scaling.
      sclSlope: nz(f32(112)),
      sclInter: nz(f32(116)),
      sliceEnd: nz(i16(120)),
      sliceCode: nz(bytes[122] as number),
      xyztUnits: nz(bytes[123] as number),
      calMax: f32(124),
      calMin: f32(128),
      sliceDuration: nz(f32(132)),
      toffset: nz(f32(136)),
      descrip: cString(bytes, 148, 80),
      auxFile: cString(bytes, 228, 24),
      qformCode: nz(i16(252)),
      sformCode: nz(i16(254)),
      quaternB: nz(f32(256)),
      quaternC: nz(f32(260)),
      quaternD: nz(f32(264)),
      qoffsetX: nz(f32(268)),
      qoffsetY: nz(f32(272)),
      qoffsetZ: nz(f32(276)),
      srowX: [0, 1, 2, 3].map((k) => nz(f32(280 + 4 * k))),
      srowY: [0, 1, 2, 3].map((k) => nz(f32(296 + 4 * k))),
      srowZ: [0, 1, 2, 3].map((k) => nz(f32(312 + 4 * k))),
      intentName: isNifti ? cString(bytes, 328, 16) : "",
      analyzeOrigin: isNifti ? [0, 0, 0] : [i16(253), i16(255), i16(257)],
    };
  }
  const ndim = h.dim[0] as number;
  if (!(ndim >= 1 && ndim <= 7)) throw invalid(path, `dim[0] is ${ndim} (must be 1..7)`);
  for (let k = 1; k <= ndim; k++) {
    const d = h.dim[k] as number;
    if (!(d >= 1)) throw invalid(path, `dim[${k}] is ${d} (every used dimension must be at least 1)`);
  }
  const unreadable = UNREADABLE_DATATYPES.get(h.datatype);
  if (unreadable !== undefined) {
    throw new RadioLensError("RL_ERR_NIFTI_UNSUPPORTED", {
      path,
      detail: `datatype ${h.datatype} (${unreadable}) has no JavaScript element type`,
    });
  }
  if (!NIFTI_DATATYPES.has(h.datatype)) {
    throw new RadioLensError("RL_ERR_NIFTI_UNSUPPORTED", {
      path,
      detail: `unknown datatype code ${h.datatype}`,
    });
  }
  if (!Number.isInteger(h.voxOffset) || h.voxOffset < 0) {
    throw invalid(path, `vox_offset is ${h.voxOffset}`);
  }
  if (h.singleFile && h.voxOffset < headerSize) {
    // nifti1.h: vox_offset of a .nii must be at least 352; some writers leave it 0, meaning "right after".
    h = { ...h, voxOffset: headerSize + 4 };
  }
  const extEnd = h.singleFile ? Math.min(h.voxOffset, bytes.length) : bytes.length;
  const extensions = h.format === "analyze" ? [] : parseExtensions(bytes, dv, le, headerSize, extEnd, path);
  return { ...h, extensions };
}

/**
 * The NIfTI datatype of a parsed header.
 *
 * @example
 * ```ts
 * datatypeOf(parseNiftiHeader(bytes)).components; // 3 for RGB24
 * ```
 */
export function datatypeOf(h: NiftiHeader): NiftiDatatype {
  return NIFTI_DATATYPES.get(h.datatype) as NiftiDatatype;
}

/**
 * Serializes a header as NIfTI-1 or NIfTI-2 in the requested byte order, followed by the 4-byte extender
 * (always zero: RadioLens writes no extensions). `voxOffset` must already be set by the caller.
 *
 * @example
 * ```ts
 * const bytes = serializeNiftiHeader({ ...hdr, voxOffset: 352 }, { version: 1, littleEndian: true });
 * ```
 */
export function serializeNiftiHeader(
  h: NiftiHeader,
  opts: { readonly version: 1 | 2; readonly littleEndian: boolean },
): Uint8Array {
  const v2 = opts.version === 2;
  const size = v2 ? NIFTI2_HEADER_SIZE : NIFTI1_HEADER_SIZE;
  const out = new Uint8Array(size + 4);
  const dv = new DataView(out.buffer);
  const le = opts.littleEndian;
  const str = (o: number, len: number, s: string): void => {
    for (let k = 0; k < Math.min(len - 1, s.length); k++) out[o + k] = s.charCodeAt(k) & 0x7f;
  };
  if (v2) {
    dv.setInt32(0, size, le);
    const magic = h.singleFile ? [0x6e, 0x2b, 0x32, 0] : [0x6e, 0x69, 0x32, 0];
    out.set([...magic, 0x0d, 0x0a, 0x1a, 0x0a], 4);
    dv.setInt16(12, h.datatype, le);
    dv.setInt16(14, h.bitpix, le);
    h.dim.forEach((d, k) => {
      dv.setBigInt64(16 + 8 * k, BigInt(d), le);
    });
    dv.setFloat64(80, h.intentP1, le);
    dv.setFloat64(88, h.intentP2, le);
    dv.setFloat64(96, h.intentP3, le);
    h.pixdim.forEach((p, k) => {
      dv.setFloat64(104 + 8 * k, p, le);
    });
    dv.setBigInt64(168, BigInt(h.voxOffset), le);
    dv.setFloat64(176, h.sclSlope, le);
    dv.setFloat64(184, h.sclInter, le);
    dv.setFloat64(192, h.calMax, le);
    dv.setFloat64(200, h.calMin, le);
    dv.setFloat64(208, h.sliceDuration, le);
    dv.setFloat64(216, h.toffset, le);
    dv.setBigInt64(224, BigInt(h.sliceStart), le);
    dv.setBigInt64(232, BigInt(h.sliceEnd), le);
    str(240, 80, h.descrip);
    str(320, 24, h.auxFile);
    dv.setInt32(344, h.qformCode, le);
    dv.setInt32(348, h.sformCode, le);
    [h.quaternB, h.quaternC, h.quaternD, h.qoffsetX, h.qoffsetY, h.qoffsetZ].forEach((v, k) => {
      dv.setFloat64(352 + 8 * k, v, le);
    });
    [...h.srowX, ...h.srowY, ...h.srowZ].forEach((v, k) => {
      dv.setFloat64(400 + 8 * k, v, le);
    });
    dv.setInt32(496, h.sliceCode, le);
    dv.setInt32(500, h.xyztUnits, le);
    dv.setInt32(504, h.intentCode, le);
    str(508, 16, h.intentName);
    out[524] = h.dimInfo & 0xff;
  } else {
    dv.setInt32(0, size, le);
    out[38] = 0x72; // "regular" = 'r', as nifti1.h asks for Analyze compatibility
    out[39] = h.dimInfo & 0xff;
    h.dim.forEach((d, k) => {
      dv.setInt16(40 + 2 * k, d, le);
    });
    dv.setFloat32(56, h.intentP1, le);
    dv.setFloat32(60, h.intentP2, le);
    dv.setFloat32(64, h.intentP3, le);
    dv.setInt16(68, h.intentCode, le);
    dv.setInt16(70, h.datatype, le);
    dv.setInt16(72, h.bitpix, le);
    dv.setInt16(74, h.sliceStart, le);
    h.pixdim.forEach((p, k) => {
      dv.setFloat32(76 + 4 * k, p, le);
    });
    dv.setFloat32(108, h.voxOffset, le);
    dv.setFloat32(112, h.sclSlope, le);
    dv.setFloat32(116, h.sclInter, le);
    dv.setInt16(120, h.sliceEnd, le);
    out[122] = h.sliceCode & 0xff;
    out[123] = h.xyztUnits & 0xff;
    dv.setFloat32(124, h.calMax, le);
    dv.setFloat32(128, h.calMin, le);
    dv.setFloat32(132, h.sliceDuration, le);
    dv.setFloat32(136, h.toffset, le);
    str(148, 80, h.descrip);
    str(228, 24, h.auxFile);
    dv.setInt16(252, h.qformCode, le);
    dv.setInt16(254, h.sformCode, le);
    [h.quaternB, h.quaternC, h.quaternD, h.qoffsetX, h.qoffsetY, h.qoffsetZ].forEach((v, k) => {
      dv.setFloat32(256 + 4 * k, v, le);
    });
    [...h.srowX, ...h.srowY, ...h.srowZ].forEach((v, k) => {
      dv.setFloat32(280 + 4 * k, v, le);
    });
    str(328, 16, h.intentName);
    out.set(h.singleFile ? [0x6e, 0x2b, 0x31, 0] : [0x6e, 0x69, 0x31, 0], 344);
  }
  return out;
}
