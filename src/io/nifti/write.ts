/** Writes MedicalImage volumes and masks as NIfTI-1/NIfTI-2 (.nii, .nii.gz, .hdr/.img), atomically. */
import { gzipSync } from "node:zlib";
import { RadioLensError } from "../../core/errors.js";
import { writeFileAtomic } from "../../core/fs.js";
import { dtypeOf, type MedicalImage, type PixelDType } from "../../core/image.js";
import { affineToQuaternion, lpsToAffine } from "./geometry.js";
import { type NiftiHeader, serializeNiftiHeader } from "./header.js";
import { reorderVolumes } from "./layout.js";
import { NIFTI_INTENT_VECTOR, type NiftiMeta } from "./read.js";

/** Options for {@link writeNifti} and {@link encodeNifti}. */
export interface WriteNiftiOptions {
  /** Header version; default 1, or 2 when a dimension exceeds NIfTI-1's int16 limit of 32767. */
  readonly version?: 1 | 2;
  /** Byte order of header and data (default little). */
  readonly endian?: "little" | "big";
  /** `descrip` field (≤ 79 ASCII characters); default the one the image was read with, else "RadioLens". */
  readonly descrip?: string;
  /**
   * Store 3- or 4-channel uint8 images as RGB24/RGBA32 voxels (what viewers show in colour) rather than as a
   * vector of channels. Default: only when the image was read from an RGB NIfTI.
   */
  readonly rgb?: boolean;
  /** gzip level 1..9 for `.nii.gz` (default 6). */
  readonly gzipLevel?: 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9;
}

const DATATYPE_OF: Readonly<Record<PixelDType, number>> = {
  uint8: 2,
  int8: 256,
  uint16: 512,
  int16: 4,
  uint32: 768,
  int32: 8,
  float32: 16,
  float64: 64,
};

function fail(path: string, detail: string): RadioLensError {
  return new RadioLensError("RL_ERR_NIFTI_WRITE", { path, detail });
}

function niftiMetaOf(img: MedicalImage): Partial<NiftiMeta> {
  const m = img.meta["nifti"];
  return typeof m === "object" && m !== null ? (m as Partial<NiftiMeta>) : {};
}

interface Plan {
  readonly header: NiftiHeader;
  readonly payload: Uint8Array;
}

function plan(img: MedicalImage, singleFile: boolean, opts: WriteNiftiOptions, name: string): Plan {
  const nd = img.shape.length - 1;
  if (nd !== 2 && nd !== 3) throw fail(name, `shape [${img.shape.join(", ")}] is not 2D or 3D`);
  const ch = img.shape[nd] as number;
  const spatial = img.shape.slice(0, nd).reverse(); // (ni, nj[, nk])
  const nm = niftiMetaOf(img);
  const dtype = dtypeOf(img.data);
  let datatype = DATATYPE_OF[dtype];
  let comps = 1;
  // RGB24/RGBA32 images read from NIfTI go back as RGB, one voxel = 3 or 4 interleaved bytes.
  const wantRgb = opts.rgb ?? (nm.datatype === 128 || nm.datatype === 2304);
  if (dtype === "uint8" && wantRgb && (ch === 3 || ch === 4)) {
    datatype = ch === 3 ? 128 : 2304;
    comps = ch;
  }
  const extra = ch / comps;
  const dim = [nd, ...spatial, 1, 1, 1, 1, 1, 1].slice(0, 8);
  let intentCode = nm.intentCode ?? 0;
  const origDim = nm.dim;
  const origExtra =
    origDim === undefined ? 0 : origDim.slice(4, (origDim[0] ?? 0) + 1).reduce((a, b) => a * b, 1);
  const sameSpatial =
    origDim !== undefined && spatial.every((s, k) => origDim[k + 1] === s) && (origDim[0] ?? 0) >= nd;
  if (extra > 1 && sameSpatial && origExtra === extra) {
    // Keep the original split of dims 4..7 (e.g. time × vector) so a read-write-read cycle is exact.
    for (let k = 0; k < 8; k++) dim[k] = origDim[k] ?? 1;
  } else if (extra > 1 && nd === 2) {
    dim.splice(0, 8, 5, spatial[0] as number, spatial[1] as number, 1, 1, extra, 1, 1);
    intentCode = NIFTI_INTENT_VECTOR;
  } else if (extra > 1) {
    dim[0] = 4;
    dim[4] = extra;
  }
  const version = opts.version ?? (dim.some((d) => d > 32767) ? 2 : 1);
  if (version === 1 && dim.some((d) => d > 32767)) {
    throw fail(name, "a dimension exceeds 32767, NIfTI-1's limit; write with version 2");
  }
  let affine = lpsToAffine(img.spacing, img.origin, img.direction);
  // Geometry read from a NIfTI and not changed since: write the file's own affine back, bit for bit, rather
  // than its float32-rounded reconstruction from unit direction cosines and pixdim.
  const orig = nm.affine;
  if (
    orig !== undefined &&
    orig.length === 16 &&
    affine.every(
      (v, i) => Math.abs(v - (orig[i] as number)) <= 1e-6 * Math.max(1, Math.abs(orig[i] as number)),
    )
  ) {
    affine = [...orig];
  }
  const q = affineToQuaternion(affine);
  const sformCode =
    (nm.sformCode ?? 0) > 0 ? (nm.sformCode as number) : (nm.qformCode ?? 0) > 0 ? nm.qformCode! : 1;
  const qformCode = q === undefined ? 0 : (nm.qformCode ?? 0) > 0 ? (nm.qformCode as number) : 1;
  const pixdim = [q?.qfac ?? 1, ...img.spacing, 1, 1, 1, 1, 1, 1].slice(0, 8);
  if (nd === 2) pixdim[3] = 1;
  if (sameSpatial && nm.pixdim !== undefined) {
    for (let k = 4; k < 8; k++) pixdim[k] = nm.pixdim[k] ?? 1;
  }
  const bytesPer = img.data.BYTES_PER_ELEMENT;
  const header: NiftiHeader = {
    format: version === 2 ? "nifti2" : "nifti1",
    singleFile,
    littleEndian: opts.endian !== "big",
    dimInfo: 0,
    dim,
    intentP1: 0,
    intentP2: 0,
    intentP3: 0,
    intentCode,
    datatype,
    bitpix: bytesPer * 8 * comps,
    sliceStart: 0,
    pixdim,
    voxOffset: singleFile ? (version === 2 ? 544 : 352) : 0,
    sclSlope: 1,
    sclInter: 0,
    sliceEnd: 0,
    sliceCode: 0,
    xyztUnits: nm.xyztUnits ?? 2,
    // The source's display range may no longer fit values changed since it was read: 0/0 lets viewers auto-range.
    calMax: 0,
    calMin: 0,
    sliceDuration: 0,
    toffset: 0,
    descrip: opts.descrip ?? nm.descrip ?? "RadioLens",
    auxFile: "",
    qformCode,
    sformCode,
    quaternB: q?.b ?? 0,
    quaternC: q?.c ?? 0,
    quaternD: q?.d ?? 0,
    qoffsetX: affine[3] as number,
    qoffsetY: affine[7] as number,
    qoffsetZ: affine[11] as number,
    srowX: affine.slice(0, 4),
    srowY: affine.slice(4, 8),
    srowZ: affine.slice(8, 12),
    intentName: nm.intentName ?? "",
    analyzeOrigin: [0, 0, 0],
    extensions: [],
  };
  // Channels last in memory, but NIfTI stores dims 4..7 slowest: de-interleave the extra volumes.
  const src = img.data;
  const bytes = new Uint8Array(src.buffer, src.byteOffset, src.byteLength);
  let payload: Uint8Array;
  if (extra > 1) {
    payload = reorderVolumes(bytes, bytesPer, src.length / ch, extra, comps, "toVolumes");
  } else {
    payload = new Uint8Array(bytes.length);
    payload.set(bytes);
  }
  if (opts.endian === "big" && bytesPer > 1) {
    for (let i = 0; i < payload.length; i += bytesPer) {
      for (let lo = i, hi = i + bytesPer - 1; lo < hi; lo++, hi--) {
        const t = payload[lo] as number;
        payload[lo] = payload[hi] as number;
        payload[hi] = t;
      }
    }
  }
  return { header, payload };
}

/**
 * Encodes an image as the bytes of a single-file NIfTI (`.nii`, uncompressed). Geometry goes into both the
 * sform (exact, as given) and, when the direction is orthonormal, the qform (quaternion); LPS is converted
 * back to NIfTI's RAS+. scl_slope = 1, scl_inter = 0: the stored values are the image's values.
 *
 * @example
 * ```ts
 * const bytes = encodeNifti(mask);
 * const again = readNifti(bytes);
 * ```
 */
export function encodeNifti(img: MedicalImage, opts: WriteNiftiOptions = {}): Uint8Array {
  const { header, payload } = plan(img, true, opts, "<bytes>");
  const version = header.format === "nifti2" ? 2 : 1;
  const hdr = serializeNiftiHeader(header, { version, littleEndian: header.littleEndian });
  const out = new Uint8Array(hdr.length + payload.length);
  out.set(hdr, 0);
  out.set(payload, hdr.length);
  return out;
}

/**
 * Writes an image as NIfTI, chosen by the file name: `.nii`, `.nii.gz` (gzip), or `.hdr` (a NIfTI pair: the
 * header in `.hdr`, the voxels in `.img`). Each file is written to a temporary sibling and renamed, so a
 * reader never sees half a file. Reading the result with {@link readNifti} gives back the same data, shape and
 * geometry (NIfTI-1 stores geometry as float32; use `version: 2` to keep float64 geometry exact).
 *
 * @example
 * ```ts
 * writeNifti("out/lesion_pred.nii.gz", mask);
 * writeNifti("out/ct.nii", ct, { version: 2, endian: "big" });
 * ```
 */
export function writeNifti(path: string, img: MedicalImage, opts: WriteNiftiOptions = {}): void {
  const lower = path.toLowerCase();
  if (lower.endsWith(".nii") || lower.endsWith(".nii.gz")) {
    let bytes = encodeNifti(img, opts);
    if (lower.endsWith(".gz")) bytes = gzipSync(bytes, { level: opts.gzipLevel ?? 6 });
    writeFileAtomic(path, bytes);
    return;
  }
  if (lower.endsWith(".hdr")) {
    const { header, payload } = plan(img, false, opts, path);
    const version = header.format === "nifti2" ? 2 : 1;
    const hdr = serializeNiftiHeader(header, { version, littleEndian: header.littleEndian });
    const imgPath = `${path.slice(0, -4)}${path.endsWith(".HDR") ? ".IMG" : ".img"}`;
    // The voxels first: a header never points at a missing or older .img.
    writeFileAtomic(imgPath, payload);
    writeFileAtomic(path, hdr);
    return;
  }
  throw fail(path, "the file name must end in .nii, .nii.gz or .hdr");
}
