/** Stored pixel values (PS3.3 C.7.6.3, PS3.5 8 and A.4): Pixel Data → typed array [frames, rows, cols, samples]. */
import { PIXEL_ARRAY_TYPES, type PixelArray, type PixelDType } from "../../core/image.js";
import { DEFAULT_FRAME_TIME_LIMIT_MS, decodeFrame } from "./codec-pool.js";
import { type DicomDataset, decodeBinary } from "./dataset.js";
import { DicomError } from "./errors.js";
import type { ParsedDicom } from "./parse.js";
import { decodeRleFrame } from "./rle.js";
import { transferSyntax } from "./transfer-syntax.js";

/** The decoded stored values of a Pixel Data element, before any LUT: what pydicom's `pixel_array` holds. */
export interface StoredPixels {
  /** Samples interleaved per pixel (planar configuration undone), frames first. */
  readonly data: PixelArray;
  /** `[frames, rows, cols, samples]`. */
  readonly shape: readonly [number, number, number, number];
  readonly dtype: PixelDType;
  /** Image Pixel Module attributes used (PS3.3 C.7.6.3). */
  readonly bitsAllocated: number;
  readonly bitsStored: number;
  readonly highBit: number;
  readonly pixelRepresentation: number;
  readonly photometricInterpretation: string;
  readonly transferSyntaxUID: string;
  /** What lenient decoding filled in (empty in strict mode). */
  readonly warnings: readonly string[];
}

/** Options of {@link decodeStoredPixels}. */
export interface DecodeOptions {
  /** Largest decoded pixel buffer in bytes; default 1 GiB. */
  readonly maxPixelBytes?: number;
  /** Time one compressed frame may take to decode, in milliseconds; default 5000. */
  readonly frameTimeLimitMs?: number;
  /** Time decoding all frames of the file may take, in milliseconds; default 60000. */
  readonly timeLimitMs?: number;
  /** Decode only these frame indices (0-based); default all. */
  readonly frames?: readonly number[];
  /**
   * Fail on short native Pixel Data (default). `false` zero-fills a missing tail of at most half the expected
   * size and reports it in `warnings`, so that a truncated file can still be looked at; the values there are
   * not the scanner's.
   */
  readonly strict?: boolean;
}

/** Image Pixel Module attributes (PS3.3 C.7.6.3) read and checked. */
export interface PixelModule {
  readonly rows: number;
  readonly cols: number;
  readonly samples: number;
  readonly frames: number;
  readonly bitsAllocated: number;
  readonly bitsStored: number;
  readonly highBit: number;
  readonly pixelRepresentation: number;
  readonly planarConfiguration: number;
  readonly photometricInterpretation: string;
}

function required(ds: DicomDataset, keyword: string): number {
  const v = ds.number(keyword);
  if (v === undefined) {
    throw new DicomError(
      "DICOM_MISSING_ATTRIBUTE",
      `${keyword} is required to decode Pixel Data (PS3.3 C.7.6.3)`,
    );
  }
  return v;
}

/**
 * Reads and validates the Image Pixel Module; the buffer size is computed in 64-bit integers and capped.
 *
 * @example
 * ```ts
 * const m = readPixelModule(dataset); // { rows: 512, cols: 512, bitsAllocated: 16, ... }
 * ```
 */
export function readPixelModule(ds: DicomDataset, maxPixelBytes = 2 ** 30): PixelModule {
  const rows = required(ds, "Rows");
  const cols = required(ds, "Columns");
  const bitsAllocated = required(ds, "BitsAllocated");
  const samples = ds.number("SamplesPerPixel") ?? 1;
  const bitsStored = ds.number("BitsStored") ?? bitsAllocated;
  const highBit = ds.number("HighBit") ?? bitsStored - 1;
  const pixelRepresentation = ds.number("PixelRepresentation") ?? 0;
  const planarConfiguration = ds.number("PlanarConfiguration") ?? 0;
  const framesText = ds.string("NumberOfFrames");
  const frames = framesText === undefined ? 1 : Number(framesText);
  const photometricInterpretation = ds.string("PhotometricInterpretation") ?? "MONOCHROME2";
  const bad = (what: string) => new DicomError("DICOM_BAD_VALUE", what);
  if (!Number.isInteger(rows) || rows < 1 || !Number.isInteger(cols) || cols < 1) {
    throw bad(`Rows ${rows} x Columns ${cols} is not an image size`);
  }
  if (![1, 8, 16, 32, 64].includes(bitsAllocated))
    throw bad(`Bits Allocated ${bitsAllocated} is not 1, 8, 16, 32 or 64`);
  if (!Number.isInteger(bitsStored) || bitsStored < 1 || bitsStored > bitsAllocated) {
    throw bad(`Bits Stored ${bitsStored} is outside 1..Bits Allocated (${bitsAllocated})`);
  }
  if (samples !== 1 && samples !== 3 && samples !== 4)
    throw bad(`Samples per Pixel ${samples} is not 1, 3 or 4`);
  if (!Number.isInteger(frames) || frames < 1)
    throw bad(`Number of Frames '${framesText}' is not a positive integer`);
  if (pixelRepresentation !== 0 && pixelRepresentation !== 1)
    throw bad(`Pixel Representation ${pixelRepresentation}`);
  const bits = BigInt(rows) * BigInt(cols) * BigInt(samples) * BigInt(frames) * BigInt(bitsAllocated);
  const bytes = (bits + 7n) / 8n;
  if (bytes > BigInt(maxPixelBytes)) {
    throw new DicomError(
      "DICOM_TOO_LARGE",
      `Decoded pixels need ${bytes} bytes; the limit is ${maxPixelBytes}`,
    );
  }
  return {
    rows,
    cols,
    samples,
    frames,
    bitsAllocated,
    bitsStored,
    highBit,
    pixelRepresentation,
    planarConfiguration,
    photometricInterpretation,
  };
}

/** dtype of stored values, as pydicom chooses it from Bits Allocated and Pixel Representation. */
function dtypeFor(m: PixelModule, floatKind: 0 | 32 | 64): PixelDType {
  if (floatKind === 32) return "float32";
  if (floatKind === 64) return "float64";
  const signed = m.pixelRepresentation === 1;
  if (m.bitsAllocated <= 8) return signed ? "int8" : "uint8";
  if (m.bitsAllocated === 16) return signed ? "int16" : "uint16";
  return signed ? "int32" : "uint32";
}

function allocate(dtype: PixelDType, n: number): PixelArray {
  return new PIXEL_ARRAY_TYPES[dtype](n);
}

/** Copies little-endian sample bytes of one frame into `out` at `offset`, undoing planar configuration. */
function putFrame(
  out: PixelArray,
  offset: number,
  bytes: Uint8Array,
  bytesPer: number,
  littleEndian: boolean,
  m: PixelModule,
  planar: boolean,
): void {
  const n = m.rows * m.cols * m.samples;
  if (
    !planar &&
    (littleEndian || bytesPer === 1) &&
    bytesPer === out.BYTES_PER_ELEMENT &&
    bytes.length >= n * bytesPer
  ) {
    // Same layout as the output: the bytes reinterpreted as the output's element type, copied once into place
    // (a typed view needs an aligned offset; an unaligned frame, e.g. inside a file buffer, is copied first).
    const Ctor = out.constructor as new (b: ArrayBufferLike, o?: number, n?: number) => PixelArray;
    // Uint8Array's slice copies; a Node Buffer's own slice would return an equally unaligned view.
    const aligned =
      bytes.byteOffset % bytesPer === 0 ? bytes : Uint8Array.prototype.slice.call(bytes, 0, n * bytesPer);
    out.set(new Ctor(aligned.buffer, aligned.byteOffset, n) as never, offset);
    return;
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const signed = m.pixelRepresentation === 1;
  const px = m.rows * m.cols;
  for (let i = 0; i < n; i++) {
    // Planar configuration 1 (PS3.3 C.7.6.3.1.3): all of sample 0, then sample 1, ...
    const src = planar ? (i % m.samples) * px + Math.floor(i / m.samples) : i;
    const o = src * bytesPer;
    let v: number;
    if (bytesPer === 1) v = signed ? dv.getInt8(o) : (bytes[o] as number);
    else if (bytesPer === 2) v = signed ? dv.getInt16(o, littleEndian) : dv.getUint16(o, littleEndian);
    else if (bytesPer === 4) v = signed ? dv.getInt32(o, littleEndian) : dv.getUint32(o, littleEndian);
    else v = dv.getFloat64(o, littleEndian);
    out[offset + i] = v;
  }
}

/**
 * Splits encapsulated fragments into frames (PS3.5 A.4): one fragment per frame, the offset table, or EOI markers.
 *
 * @example
 * ```ts
 * const frames = framesOfFragments(el.fragments ?? [], el.offsetTable ?? new Uint8Array(0), 30);
 * ```
 */
export function framesOfFragments(
  fragments: readonly Uint8Array[],
  offsetTable: Uint8Array,
  frames: number,
  extendedOffsets?: readonly number[],
): Uint8Array[] {
  const concat = (parts: readonly Uint8Array[]) => {
    if (parts.length === 1) return parts[0] as Uint8Array;
    const total = parts.reduce((a, p) => a + p.length, 0);
    const out = new Uint8Array(total);
    let o = 0;
    for (const p of parts) {
      out.set(p, o);
      o += p.length;
    }
    return out;
  };
  if (fragments.length === 0)
    throw new DicomError("DICOM_BAD_PIXEL_DATA", "Encapsulated Pixel Data has no fragments");
  if (frames === 1) return [concat(fragments)];
  if (fragments.length === frames) return [...fragments];
  // Byte offsets of each frame's first fragment item, relative to the first fragment's item tag.
  let offsets: number[] | undefined = extendedOffsets ? [...extendedOffsets] : undefined;
  if (!offsets && offsetTable.length >= 4 * frames) {
    offsets = decodeBinary(offsetTable.subarray(0, 4 * frames), "UL", true);
  }
  if (offsets && offsets.length >= frames) {
    const starts: number[] = [];
    let pos = 0;
    for (const f of fragments) {
      starts.push(pos);
      pos += 8 + f.length;
    }
    const out: Uint8Array[] = [];
    for (let k = 0; k < frames; k++) {
      const a = starts.indexOf(offsets[k] as number);
      const b = k + 1 < frames ? starts.indexOf(offsets[k + 1] as number) : fragments.length;
      if (a < 0 || b < 0 || b <= a) {
        throw new DicomError(
          "DICOM_BAD_PIXEL_DATA",
          `Basic Offset Table entry ${k} does not point at a fragment`,
        );
      }
      out.push(concat(fragments.slice(a, b)));
    }
    return out;
  }
  // No usable table: JPEG frames end with an EOI marker (FFD9), possibly followed by one pad byte.
  const out: Uint8Array[] = [];
  let cur: Uint8Array[] = [];
  for (const f of fragments) {
    cur.push(f);
    const n = f.length;
    const eoi =
      (n >= 2 && f[n - 2] === 0xff && f[n - 1] === 0xd9) ||
      (n >= 3 && f[n - 3] === 0xff && f[n - 2] === 0xd9);
    if (eoi) {
      out.push(concat(cur));
      cur = [];
    }
  }
  if (out.length !== frames || cur.length) {
    throw new DicomError(
      "DICOM_BAD_PIXEL_DATA",
      `Cannot split ${fragments.length} fragments into ${frames} frames without an offset table`,
    );
  }
  return out;
}

/**
 * Decodes Pixel Data to stored values exactly as pydicom's `pixel_array` gives them: dtype from Bits Allocated
 * and Pixel Representation, native byte order resolved, planar configuration undone, compressed frames
 * decoded with their codec; no masking, rescale or LUT (those are the pixel pipeline's steps).
 *
 * @throws DicomError for missing or inconsistent Image Pixel Module values, short Pixel Data, codec failures.
 * @example
 * ```ts
 * const px = await decodeStoredPixels(readDicomFile("CT_small.dcm"));
 * px.shape; // [1, 128, 128, 1]
 * ```
 */
export async function decodeStoredPixels(
  parsed: ParsedDicom,
  options: DecodeOptions = {},
): Promise<StoredPixels> {
  const started = performance.now();
  const ds = parsed.dataset;
  const el = ds.get(0x7fe00010) ?? ds.get(0x7fe00008) ?? ds.get(0x7fe00009);
  if (!el) throw new DicomError("DICOM_MISSING_ATTRIBUTE", "The dataset has no Pixel Data (7FE0,0010)");
  const maxPixelBytes = options.maxPixelBytes ?? 2 ** 30;
  const floatKind: 0 | 32 | 64 = el.tag === 0x7fe00008 ? 32 : el.tag === 0x7fe00009 ? 64 : 0;
  const base = readPixelModule(ds, maxPixelBytes);
  const m: PixelModule = floatKind ? { ...base, bitsAllocated: floatKind, pixelRepresentation: 0 } : base;
  const ts = transferSyntax(parsed.transferSyntaxUID);
  const dtype = dtypeFor(m, floatKind);
  const frameList = options.frames ?? Array.from({ length: m.frames }, (_, i) => i);
  for (const f of frameList) {
    if (!Number.isInteger(f) || f < 0 || f >= m.frames) {
      throw new DicomError("DICOM_BAD_VALUE", `Frame ${f} is outside 0..${m.frames - 1}`);
    }
  }
  const perFrame = m.rows * m.cols * m.samples;
  const out = allocate(dtype, perFrame * frameList.length);
  const shape: [number, number, number, number] = [frameList.length, m.rows, m.cols, m.samples];
  const warnings: string[] = [];
  const result = (data: PixelArray): StoredPixels => ({
    data,
    shape,
    dtype,
    bitsAllocated: m.bitsAllocated,
    bitsStored: m.bitsStored,
    highBit: m.highBit,
    pixelRepresentation: m.pixelRepresentation,
    photometricInterpretation: m.photometricInterpretation,
    transferSyntaxUID: parsed.transferSyntaxUID,
    warnings,
  });

  if (!el.fragments) {
    const frameBits = perFrame * m.bitsAllocated;
    const needBytes = Math.ceil((frameBits * m.frames) / 8);
    const ybr422 = m.photometricInterpretation === "YBR_FULL_422" && m.samples === 3;
    // Native YBR_FULL_422 (PS3.3 C.7.6.3.1.2) stores Y0 Y1 Cb Cr per pixel pair: 2/3 of full size.
    const stored422 = ybr422
      ? Math.ceil((((m.rows * m.cols) / 2) * 4 * m.bitsAllocated * m.frames) / 8)
      : needBytes;
    let value = el.value;
    if (value.length < stored422) {
      const msg = `Pixel Data has ${value.length} bytes; Rows x Columns x Samples x Bits Allocated x Frames need ${stored422}`;
      // Lenient reading fills a lost tail, not an image the file never held: a header claiming far more pixels
      // than the data carries (a lie, or the wrong file) fails in both modes.
      if ((options.strict ?? true) || value.length * 2 < stored422)
        throw new DicomError("DICOM_BAD_PIXEL_DATA", msg);
      warnings.push(`DICOM_BAD_PIXEL_DATA: ${msg}; the missing ${stored422 - value.length} bytes read as 0`);
      const padded = new Uint8Array(stored422);
      padded.set(value);
      value = padded;
    }
    if (m.bitsAllocated === 1) {
      // PS3.5 8.1.1: 1-bit pixels packed little-endian bit order, frames not byte-aligned.
      frameList.forEach((f, k) => {
        const first = f * perFrame;
        const base = k * perFrame;
        let i = 0;
        if ((first & 7) === 0) {
          // Byte-aligned frame: unpack eight pixels per byte.
          const b0 = first >> 3;
          for (; i + 8 <= perFrame; i += 8) {
            const b = value[b0 + (i >> 3)] as number;
            const o = base + i;
            out[o] = b & 1;
            out[o + 1] = (b >> 1) & 1;
            out[o + 2] = (b >> 2) & 1;
            out[o + 3] = (b >> 3) & 1;
            out[o + 4] = (b >> 4) & 1;
            out[o + 5] = (b >> 5) & 1;
            out[o + 6] = (b >> 6) & 1;
            out[o + 7] = (b >> 7) & 1;
          }
        }
        for (; i < perFrame; i++) {
          const bit = first + i;
          out[base + i] = ((value[bit >> 3] as number) >> (bit & 7)) & 1;
        }
      });
      return result(out);
    }
    const bytesPer = m.bitsAllocated / 8;
    if (ybr422) {
      frameList.forEach((f, k) => {
        const frameBytes = ((m.rows * m.cols) / 2) * 4 * bytesPer;
        const src = value.subarray(f * frameBytes, (f + 1) * frameBytes);
        const dv = new DataView(src.buffer, src.byteOffset, src.byteLength);
        const get = (i: number) =>
          bytesPer === 1 ? (src[i] as number) : dv.getUint16(i * 2, ds.littleEndian);
        for (let p = 0; p < (m.rows * m.cols) / 2; p++) {
          const y0 = get(4 * p);
          const y1 = get(4 * p + 1);
          const cb = get(4 * p + 2);
          const cr = get(4 * p + 3);
          const o = k * perFrame + 6 * p;
          out.set([y0, cb, cr, y1, cb, cr], o);
        }
      });
      return result(out);
    }
    frameList.forEach((f, k) => {
      const src = value.subarray(f * perFrame * bytesPer, (f + 1) * perFrame * bytesPer);
      putFrame(
        out,
        k * perFrame,
        src,
        bytesPer,
        ds.littleEndian,
        m,
        m.samples > 1 && m.planarConfiguration === 1,
      );
    });
    return result(out);
  }

  const frames = framesOfFragments(
    el.fragments,
    el.offsetTable ?? new Uint8Array(0),
    m.frames,
    extendedOffsetTable(ds),
  );
  const spec = { rows: m.rows, cols: m.cols, samples: m.samples, bitsAllocated: m.bitsAllocated };
  const limit = options.frameTimeLimitMs ?? DEFAULT_FRAME_TIME_LIMIT_MS;
  const deadline = started + (options.timeLimitMs ?? 60_000);
  // All frames are submitted at once so that the codec workers stay busy; RLE (our own, bounded) runs here.
  const pendingFrames = frameList.map((f) => {
    const data = frames[f] as Uint8Array;
    return ts.pixels === "rle"
      ? Promise.resolve({
          bytes: decodeRleFrame(data, m.rows, m.cols, m.samples, m.bitsAllocated / 8),
          bitsPerSample: m.bitsAllocated,
          signed: undefined as boolean | undefined,
        })
      : decodeFrame(ts.pixels, data, spec, limit, deadline);
  });
  const settled = await Promise.allSettled(pendingFrames);
  for (const [k, s] of settled.entries()) {
    if (s.status === "rejected") throw s.reason;
    const decoded = s.value;
    const bytesPer = decoded.bitsPerSample > 8 ? 2 : 1;
    const bytes = decoded.bytes;
    if (bytesPer === m.bitsAllocated / 8 || ts.pixels === "rle") {
      // RLE output is already interleaved and sized by Bits Allocated; JPEG codecs interleave their output.
      putFrame(
        out,
        k * perFrame,
        bytes,
        ts.pixels === "rle" ? m.bitsAllocated / 8 : bytesPer,
        true,
        m,
        false,
      );
    } else {
      // The codestream's precision differs from Bits Allocated (e.g. 8-bit JPEG in a 16-bit dataset): widen.
      const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      for (let i = 0; i < perFrame; i++)
        out[k * perFrame + i] = bytesPer === 1 ? (bytes[i] as number) : dv.getUint16(2 * i, true);
    }
    if (decoded.signed === false && m.pixelRepresentation === 1 && m.bitsStored < m.bitsAllocated) {
      // A JPEG 2000 codestream marked unsigned inside a signed dataset (a known encoder fault): the dataset's
      // Pixel Representation wins, so the Bits Stored-bit values are sign-extended, as pydicom does.
      const half = 2 ** (m.bitsStored - 1);
      const full = 2 ** m.bitsStored;
      for (let i = k * perFrame; i < (k + 1) * perFrame; i++) {
        const v = (out[i] as number) & (full - 1);
        out[i] = v >= half ? v - full : v;
      }
    }
  }
  return result(out);
}

/**
 * Decodes the Pixel Data of several instances (a series, a batch) with up to `concurrency` files in flight, so
 * that the codec workers decode frames of different files at the same time instead of one file after another.
 * Each file keeps its own time budget, which starts when its turn comes; results are in input order.
 *
 * @throws DicomError the first failure, after the files in flight have settled.
 * @example
 * ```ts
 * const all = await decodeStoredPixelsMany(paths.map((p) => readDicomFile(p)));
 * ```
 */
export async function decodeStoredPixelsMany(
  parsed: readonly ParsedDicom[],
  options: DecodeOptions = {},
  concurrency = 4,
): Promise<StoredPixels[]> {
  return mapConcurrent(parsed, concurrency, (p) => decodeStoredPixels(p, options));
}

/**
 * Maps `fn` over `items` with at most `limit` calls pending; rejects with the first failure once the calls in
 * flight have settled (none is left running unobserved), else resolves with the results in input order.
 *
 * @example
 * ```ts
 * const images = await mapConcurrent(slices, 4, (s) => dicomToImage(s));
 * ```
 */
export async function mapConcurrent<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  let failure: { error: unknown } | undefined;
  const lane = async (): Promise<void> => {
    while (next < items.length && !failure) {
      const i = next++;
      try {
        out[i] = await fn(items[i] as T, i);
      } catch (e) {
        failure ??= { error: e };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, lane));
  if (failure) throw failure.error;
  return out;
}

function extendedOffsetTable(ds: DicomDataset): number[] | undefined {
  // Extended Offset Table (7FE0,0001), VR OV: 64-bit offsets (PS3.5 A.4, PS3.3 C.7.6.3.1.8).
  const el = ds.get(0x7fe00001);
  if (!el || el.value.length < 8) return undefined;
  return decodeBinary(el.value, "OV", ds.littleEndian);
}
