/** Parser for NumPy's .npy format (versions 1.0, 2.0 and 3.0), the members of an .npz archive. */
import type { PixelArray } from "../../core/image.js";

/** Element types RadioLens reads from .npy files. */
export type NpyDType =
  | "uint8"
  | "int8"
  | "uint16"
  | "int16"
  | "uint32"
  | "int32"
  | "int64"
  | "uint64"
  | "float32"
  | "float64"
  | "bool";

/** A decoded NumPy array, always in C (row-major) order, native (little-endian) byte order. */
export interface NpyArray {
  readonly dtype: NpyDType;
  readonly shape: readonly number[];
  /** int64/uint64 are narrowed to Float64Array (exact up to 2^53); bool becomes Uint8Array. */
  readonly data: PixelArray;
}

/**
 * Thrown for a malformed .npy member; the npz reader turns it into RL_ERR_NPZ_INVALID.
 *
 * @example
 * ```ts
 * throw new NpyFormatError("the .npy magic string is missing");
 * ```
 */
export class NpyFormatError extends Error {
  override readonly name = "NpyFormatError";
}

const DESCR: Record<string, { dtype: NpyDType; size: number }> = {
  u1: { dtype: "uint8", size: 1 },
  i1: { dtype: "int8", size: 1 },
  b1: { dtype: "bool", size: 1 },
  u2: { dtype: "uint16", size: 2 },
  i2: { dtype: "int16", size: 2 },
  u4: { dtype: "uint32", size: 4 },
  i4: { dtype: "int32", size: 4 },
  u8: { dtype: "uint64", size: 8 },
  i8: { dtype: "int64", size: 8 },
  f4: { dtype: "float32", size: 4 },
  f8: { dtype: "float64", size: 8 },
};

function parseHeader(text: string): { descr: string; fortran: boolean; shape: number[] } {
  // The header is a Python dict literal; its grammar is fixed by numpy.lib.format (keys descr, fortran_order, shape).
  const descr = /'descr'\s*:\s*'([^']+)'/.exec(text)?.[1];
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(text)?.[1];
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(text)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) {
    throw new NpyFormatError(`unreadable .npy header ${JSON.stringify(text.slice(0, 120))}`);
  }
  const shape = shapeText
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
    .map((s) => {
      const n = Number(s.replace(/L$/, ""));
      if (!Number.isSafeInteger(n) || n < 0) throw new NpyFormatError(`bad dimension '${s}' in .npy shape`);
      return n;
    });
  return { descr, fortran: fortran === "True", shape };
}

/** Converts a Fortran-ordered buffer to C order. */
function fortranToC(src: PixelArray, shape: readonly number[]): PixelArray {
  const n = src.length;
  const out = new (src.constructor as new (n: number) => PixelArray)(n);
  const nd = shape.length;
  const idx = new Array<number>(nd).fill(0);
  const fStride = new Array<number>(nd);
  let s = 1;
  for (let d = 0; d < nd; d++) {
    fStride[d] = s;
    s *= shape[d] as number;
  }
  for (let i = 0; i < n; i++) {
    let f = 0;
    for (let d = 0; d < nd; d++) f += (idx[d] as number) * (fStride[d] as number);
    out[i] = src[f] as number;
    for (let d = nd - 1; d >= 0; d--) {
      idx[d] = (idx[d] as number) + 1;
      if ((idx[d] as number) < (shape[d] as number)) break;
      idx[d] = 0;
    }
  }
  return out;
}

/**
 * Decodes one .npy file.
 *
 * @example
 * ```ts
 * const arr = parseNpy(readFileSync("x.npy"));
 * console.log(arr.dtype, arr.shape);
 * ```
 */
export function parseNpy(bytes: Uint8Array): NpyArray {
  const magic = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59];
  if (bytes.length < 10 || magic.some((b, i) => bytes[i] !== b))
    throw new NpyFormatError("missing \\x93NUMPY magic");
  const major = bytes[6] as number;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let headerLen: number;
  let start: number;
  if (major === 1) {
    headerLen = view.getUint16(8, true);
    start = 10;
  } else if (major === 2 || major === 3) {
    if (bytes.length < 12) throw new NpyFormatError("truncated .npy header");
    headerLen = view.getUint32(8, true);
    start = 12;
  } else {
    throw new NpyFormatError(`unsupported .npy version ${major}`);
  }
  if (start + headerLen > bytes.length) throw new NpyFormatError("truncated .npy header");
  const header = new TextDecoder(major === 3 ? "utf-8" : "latin1").decode(
    bytes.subarray(start, start + headerLen),
  );
  const { descr, fortran, shape } = parseHeader(header);
  const order = descr[0];
  const spec = DESCR[descr.slice(1)];
  if (!spec || (order !== "<" && order !== ">" && order !== "|" && order !== "=")) {
    throw new NpyFormatError(`unsupported dtype '${descr}'`);
  }
  const count = shape.reduce((a, b) => a * b, 1);
  const offset = start + headerLen;
  const need = count * spec.size;
  if (bytes.length - offset < need) {
    throw new NpyFormatError(
      `data holds ${bytes.length - offset} bytes but shape (${shape.join(", ")}) needs ${need}`,
    );
  }
  const le = order !== ">";
  const dv = new DataView(bytes.buffer, bytes.byteOffset + offset, need);
  let data: PixelArray;
  switch (spec.dtype) {
    case "uint8":
    case "bool":
      data = bytes.slice(offset, offset + need);
      break;
    case "int8":
      data = new Int8Array(bytes.slice(offset, offset + need).buffer);
      break;
    case "uint16": {
      const a = new Uint16Array(count);
      for (let i = 0; i < count; i++) a[i] = dv.getUint16(i * 2, le);
      data = a;
      break;
    }
    case "int16": {
      const a = new Int16Array(count);
      for (let i = 0; i < count; i++) a[i] = dv.getInt16(i * 2, le);
      data = a;
      break;
    }
    case "uint32": {
      const a = new Uint32Array(count);
      for (let i = 0; i < count; i++) a[i] = dv.getUint32(i * 4, le);
      data = a;
      break;
    }
    case "int32": {
      const a = new Int32Array(count);
      for (let i = 0; i < count; i++) a[i] = dv.getInt32(i * 4, le);
      data = a;
      break;
    }
    case "float32": {
      const a = new Float32Array(count);
      for (let i = 0; i < count; i++) a[i] = dv.getFloat32(i * 4, le);
      data = a;
      break;
    }
    case "float64": {
      const a = new Float64Array(count);
      for (let i = 0; i < count; i++) a[i] = dv.getFloat64(i * 8, le);
      data = a;
      break;
    }
    case "int64":
    case "uint64": {
      const a = new Float64Array(count);
      for (let i = 0; i < count; i++) {
        a[i] = Number(spec.dtype === "int64" ? dv.getBigInt64(i * 8, le) : dv.getBigUint64(i * 8, le));
      }
      data = a;
      break;
    }
  }
  return { dtype: spec.dtype, shape, data: fortran && shape.length > 1 ? fortranToC(data, shape) : data };
}
