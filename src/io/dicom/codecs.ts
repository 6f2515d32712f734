/** Compressed frame decoding with maintained codecs: libjpeg-turbo, IJG 12-bit (dcmjs-codecs), jpeg-lossless-decoder-js, CharLS, OpenJPEG, OpenJPH. */
import { createRequire } from "node:module";
import { availableParallelism } from "node:os";
import { DicomError } from "./errors.js";
import { loadNativeCodecs } from "./native-codecs.js";
import { decodeRleFrame } from "./rle.js";
import type { PixelEncoding } from "./transfer-syntax.js";

const require = createRequire(import.meta.url);

/** A decoded frame: samples interleaved, little endian, 1 byte per sample up to 8 bits, else 2. */
export interface DecodedFrame {
  readonly bytes: Uint8Array;
  readonly width: number;
  readonly height: number;
  readonly bitsPerSample: number;
  readonly components: number;
  /** The codestream says samples are signed (JPEG 2000 only); undefined when the codec does not say. */
  readonly signed: boolean | undefined;
}

/** What the dataset says a frame holds; the codecs' output is checked against it. */
export interface FrameSpec {
  readonly rows: number;
  readonly cols: number;
  readonly samples: number;
  readonly bitsAllocated: number;
}

interface WasmDecoder {
  getEncodedBuffer(n: number): Uint8Array;
  getDecodedBuffer(): Uint8Array;
  decode(): void;
  getFrameInfo(): {
    width: number;
    height: number;
    bitsPerSample: number;
    componentCount: number;
    isSigned?: boolean;
  };
  getIsHeaderValid?(): boolean;
  getLastErrorMessage?(): string;
  delete(): void;
}

type WasmModule = Record<string, new () => WasmDecoder>;

const SPECS = {
  "jpeg-ls": { module: "@cornerstonejs/codec-charls/decodewasmjs", cls: "JpegLSDecoder" },
  jpeg: { module: "@cornerstonejs/codec-libjpeg-turbo-8bit/decodewasmjs", cls: "JPEGDecoder" },
  "jpeg-2000": { module: "@cornerstonejs/codec-openjpeg/decodewasmjs", cls: "J2KDecoder" },
  htj2k: { module: "@cornerstonejs/codec-openjph/wasmjs", cls: "HTJ2KDecoder" },
} as const;

type WasmCodec = keyof typeof SPECS;

const loaded = new Map<WasmCodec, Promise<WasmModule>>();
/** Messages the codec printed while decoding the current frame (OpenJPEG and OpenJPH report errors there). */
let printed: string[] = [];

function loadCodec(name: WasmCodec): Promise<WasmModule> {
  let m = loaded.get(name);
  if (!m) {
    const factory = require(SPECS[name].module) as
      | ((o: object) => Promise<WasmModule>)
      | { default: (o: object) => Promise<WasmModule> };
    const f = typeof factory === "function" ? factory : factory.default;
    // Route the codec's stdout/stderr away from ours: CLI output (e.g. --json) must stay clean.
    const sink = (s: string) => {
      if (printed.length < 20) printed.push(String(s));
    };
    m = f({ print: sink, printErr: sink });
    loaded.set(name, m);
  }
  return m;
}

/**
 * Loads every WASM codec up front, so that the first decode is not slowed by compilation.
 *
 * @example
 * ```ts
 * await preloadCodecs();
 * ```
 */
export async function preloadCodecs(): Promise<void> {
  await Promise.all((Object.keys(SPECS) as WasmCodec[]).map(loadCodec));
}

/**
 * A fresh decoder instance for every frame. A reused instance keeps the previous frame's info and decoded buffer,
 * and OpenJPEG reports some corrupt codestreams only in its log, so a reused decoder returned the previous frame's
 * pixels for a damaged one; the allocation a fresh instance costs is small next to the decode itself.
 */
function dropDecoder(name: WasmCodec, d: WasmDecoder): void {
  try {
    d.delete();
  } catch {
    loaded.delete(name);
  }
}

async function decodeWasm(name: WasmCodec, data: Uint8Array): Promise<DecodedFrame> {
  const mod = await loadCodec(name);
  const Ctor = mod[SPECS[name].cls];
  if (!Ctor) throw new DicomError("DICOM_DECODE", `Codec ${name} lacks ${SPECS[name].cls}`);
  const d = new Ctor();
  printed = [];
  try {
    d.getEncodedBuffer(data.length).set(data);
    d.decode();
    const logged = printed.find((l) => l.includes("[ERROR]"));
    if (logged) throw new DicomError("DICOM_DECODE", `${name} codestream is damaged: ${printed.join(" ")}`);
    if (d.getIsHeaderValid && !d.getIsHeaderValid()) {
      throw new DicomError(
        "DICOM_DECODE",
        `${name} codestream header is invalid: ${d.getLastErrorMessage?.() ?? ""}`,
      );
    }
    const info = d.getFrameInfo();
    const out = d.getDecodedBuffer();
    if (!info.width || !info.height || out.length === 0) {
      throw new DicomError(
        "DICOM_DECODE",
        `${name} decoded nothing${printed.length ? `: ${printed.join(" ")}` : ""}`,
      );
    }
    const frame = {
      // The one copy out of the WASM heap, which cannot be transferred to the caller's thread.
      bytes: out.slice(),
      width: info.width,
      height: info.height,
      bitsPerSample: info.bitsPerSample,
      components: info.componentCount,
      signed: name === "jpeg-2000" || name === "htj2k" ? Boolean(info.isSigned) : undefined,
    };
    dropDecoder(name, d);
    return frame;
  } catch (e) {
    dropDecoder(name, d);
    if (e instanceof DicomError) throw e;
    // A trap inside the WASM module may leave its heap inconsistent: load a fresh instance next time.
    if ((e as { name?: string } | null)?.name === "RuntimeError") loaded.delete(name);
    const why = e instanceof Error ? e.message : typeof e === "number" ? `code ${e}` : String(e);
    throw new DicomError("DICOM_DECODE", `${name} decoder failed: ${why}`, { cause: e });
  }
}

interface DcmjsCodecContext {
  getWidth(): number | undefined;
  getHeight(): number | undefined;
  getBitsStored(): number | undefined;
  getSamplesPerPixel(): number | undefined;
  getDecodedBuffer(): Uint8Array | undefined;
}
interface DcmjsCodecs {
  NativeCodecs: {
    initializeAsync(opts?: object): Promise<void>;
    decodeJpeg(ctx: DcmjsCodecContext, params?: { convertColorspaceToRgb?: boolean }): DcmjsCodecContext;
  };
  Context: new (attrs: object) => DcmjsCodecContext;
  log: { setLevel(level: string): void };
}

let jpeg12Codec: Promise<DcmjsCodecs> | undefined;

function loadJpeg12(): Promise<DcmjsCodecs> {
  if (!jpeg12Codec) {
    // Loaded on the first 12-bit frame only: the module pulls in dcmjs and a 4 MB WASM (about 0.5 s).
    jpeg12Codec = (async () => {
      const m = require("dcmjs-codecs") as DcmjsCodecs;
      // Its logger writes codec messages to the console; CLI output (e.g. --json) must stay clean.
      m.log.setLevel("silent");
      await m.NativeCodecs.initializeAsync();
      return m;
    })();
    jpeg12Codec.catch(() => {
      jpeg12Codec = undefined;
    });
  }
  return jpeg12Codec;
}

/**
 * Loads the 12-bit JPEG codec now instead of on the first 12-bit frame (see {@link warmUpCodecs}); nothing to
 * load when the native addon decodes 12-bit JPEG.
 *
 * @example
 * ```ts
 * await preloadJpeg12();
 * ```
 */
export async function preloadJpeg12(): Promise<void> {
  // With DCMTK in the native addon (ADR 028) the WASM module is never used: do not pay its load time and memory.
  if (loadNativeCodecs()?.decodeJpeg) return;
  await loadJpeg12();
}

/**
 * ITU T.81 Process 2/4 (extended sequential DCT, 12-bit samples; DICOM 1.2.840.10008.1.2.4.51) with the IJG
 * 12-bit libjpeg that DCMTK's dcmdjpeg uses, from the dcmjs-codecs WASM build. The codestream's frame header is
 * checked against the dataset first, so the codec never writes more samples than the dataset declares.
 */
async function decodeJpeg12(data: Uint8Array, spec: FrameSpec): Promise<DecodedFrame> {
  const sof = jpegFrameHeader(data);
  if (!sof || sof.cols !== spec.cols || sof.rows !== spec.rows || sof.components !== spec.samples) {
    throw new DicomError(
      "DICOM_DECODE",
      sof
        ? `The JPEG frame header says ${sof.cols}x${sof.rows}x${sof.components} but the dataset says ${spec.cols}x${spec.rows}x${spec.samples}`
        : "The JPEG codestream has no frame header (SOF)",
    );
  }
  const m = await loadJpeg12();
  let r: DcmjsCodecContext;
  try {
    const ctx = new m.Context({
      width: spec.cols,
      height: spec.rows,
      bitsAllocated: 16,
      bitsStored: sof.precision,
      samplesPerPixel: spec.samples,
      pixelRepresentation: 0,
      planarConfiguration: 0,
      // As for 8-bit JPEG, the codestream's own components are kept (no YCbCr → RGB), as pydicom does.
      photometricInterpretation: spec.samples === 1 ? "MONOCHROME2" : "YBR_FULL",
      encodedBuffer: data,
    });
    r = m.NativeCodecs.decodeJpeg(ctx, { convertColorspaceToRgb: false });
  } catch (e) {
    // The codec reports errors by throwing out of the WASM call, past its own clean-up: start afresh next time.
    jpeg12Codec = undefined;
    throw new DicomError(
      "DICOM_DECODE",
      `12-bit JPEG decoder failed: ${e instanceof Error ? e.message : String(e)}`,
      { cause: e },
    );
  }
  const bytes = r.getDecodedBuffer();
  if (!bytes || bytes.length < spec.rows * spec.cols * spec.samples * 2) {
    throw new DicomError("DICOM_DECODE", "12-bit JPEG decoder returned too few samples");
  }
  return {
    bytes,
    width: r.getWidth() ?? 0,
    height: r.getHeight() ?? 0,
    bitsPerSample: sof.precision,
    components: r.getSamplesPerPixel() ?? 0,
    signed: undefined,
  };
}

interface LosslessDecoder {
  decompress(buffer: ArrayBuffer, offset?: number, length?: number): ArrayBuffer;
  numComp: number;
  xDim: number;
  yDim: number;
  precision?: number;
  frame?: { precision: number };
}

/**
 * A copy of a lossless JPEG codestream whose entropy-coded data ends in two stuffed 0xFF bytes (FF 00, i.e. 16
 * fill bits of 1, T.81 F.1.2.3 / B.1.1.5) before EOI, with any fill bytes (FF) before the EOI dropped.
 *
 * Why: jpeg-lossless-decoder-js 2.1 reads a byte ahead of each Huffman code and treats the code as cut off by a
 * marker when it ends exactly at the last data byte (its `index < markerIndex` test is off by one), so the last
 * sample of a scan whose data ends on a byte boundary stays 0. Fill bits after the last code change no sample:
 * the decoder stops after Rows × Columns samples.
 */
function withTrailingFill(data: Uint8Array): Uint8Array {
  // Without an EOI there is no end of scan to pad (decodeFrameInThread refuses such a codestream first).
  if (!endsWithEoi(data)) return data;
  let n = data.length;
  while (n > 0 && (data[n - 1] === 0 || data[n - 1] === 0xff) && data.length - n < 16) n--;
  // n now ends just after the EOI's D9; drop the EOI and the fill bytes before it.
  n -= 2;
  while (n > 0 && data[n - 1] === 0xff) n--;
  const out = new Uint8Array(n + 6);
  out.set(data.subarray(0, n), 0);
  out.set([0xff, 0x00, 0xff, 0x00, 0xff, 0xd9], n);
  return out;
}

/**
 * JPEG Lossless with the pure JavaScript decoder (jpeg-lossless-decoder-js), the fallback when the native addon
 * lacks DCMTK (ADR 028); exported for the tests that hold it to the same exactness.
 *
 * @example
 * ```ts
 * const f = decodeJpegLosslessJs(fragment, { rows: 512, cols: 512, samples: 1, bitsAllocated: 16 });
 * ```
 */
export function decodeJpegLosslessJs(data: Uint8Array, spec: FrameSpec): DecodedFrame {
  const jl = require("jpeg-lossless-decoder-js") as { Decoder: new () => LosslessDecoder };
  const dec = new jl.Decoder();
  let out: ArrayBuffer;
  try {
    const padded = withTrailingFill(data);
    out = dec.decompress(
      padded.buffer.slice(padded.byteOffset, padded.byteOffset + padded.byteLength) as ArrayBuffer,
    );
  } catch (e) {
    throw new DicomError(
      "DICOM_DECODE",
      `JPEG lossless decoder failed: ${e instanceof Error ? e.message : String(e)}`,
      {
        cause: e,
      },
    );
  }
  const bytes = new Uint8Array(out);
  const pixels = dec.xDim * dec.yDim * dec.numComp;
  const bytesPer = pixels > 0 ? Math.round(bytes.length / pixels) : 0;
  if (!pixels || (bytesPer !== 1 && bytesPer !== 2)) {
    throw new DicomError("DICOM_DECODE", "JPEG lossless decoder returned no image");
  }
  return {
    bytes,
    width: dec.xDim,
    height: dec.yDim,
    bitsPerSample: bytesPer === 1 ? 8 : Math.max(9, spec.bitsAllocated),
    components: dec.numComp,
    signed: undefined,
  };
}

/** Threads one frame's decoder may use: `RADIOLENS_CODEC_THREADS`, else the number of cores. */
function codecThreads(): number {
  const n = Number.parseInt(process.env.RADIOLENS_CODEC_THREADS ?? "", 10);
  return Number.isFinite(n) && n > 0 ? Math.min(n, 64) : availableParallelism();
}

/**
 * JPEG 2000 through the native OpenJPEG build when it is installed (ADR 027): the same library as the WASM one,
 * at about two thirds of its CPU time. Undefined when the addon is absent or the frame needs the WASM wrapper's
 * colour conversion (sub-sampled or sYCC JP2 components).
 */
function decodeJpeg2000Native(data: Uint8Array, spec: FrameSpec): DecodedFrame | undefined {
  const native = loadNativeCodecs();
  if (!native) return undefined;
  let r: ReturnType<typeof native.decodeJpeg2000>;
  // OpenJPEG decodes code-blocks on a thread pool, as GDCM (pydicom's decoder) lets it; below ~64k samples the
  // pool's start-up costs more than it saves.
  const threads = spec.rows * spec.cols * spec.samples >= 65536 ? codecThreads() : 1;
  try {
    r = native.decodeJpeg2000(data, spec.rows, spec.cols, spec.samples, threads);
  } catch (e) {
    throw new DicomError("DICOM_DECODE", `jpeg-2000 ${(e as Error).message}`, { cause: e });
  }
  return "fallback" in r ? undefined : r;
}

/**
 * JPEG Lossless and 12-bit JPEG through DCMTK's IJG 8/12/16-bit libraries when the addon was built with them
 * (ADR 028); undefined when it was not, so that the WASM / JavaScript decoders run instead.
 */
function decodeJpegNative(data: Uint8Array, spec: FrameSpec): DecodedFrame | undefined {
  const native = loadNativeCodecs();
  if (!native?.decodeJpeg) return undefined;
  let r: ReturnType<NonNullable<typeof native.decodeJpeg>>;
  try {
    r = native.decodeJpeg(data, spec.rows, spec.cols, spec.samples);
  } catch (e) {
    throw new DicomError("DICOM_DECODE", `JPEG ${(e as Error).message}`, { cause: e });
  }
  return {
    bytes: r.bytes,
    width: r.width,
    height: r.height,
    // Samples wider than 8 bits come back as 2 bytes each, whatever the precision (as from the JS decoder).
    bitsPerSample: r.bitsPerSample > 8 ? Math.max(r.bitsPerSample, 9) : r.bitsPerSample,
    components: r.components,
    signed: undefined,
  };
}

/**
 * Decodes one compressed frame in this thread with the codec its transfer syntax names; the result is checked
 * against the dataset's Rows, Columns and Samples per Pixel so that a lying header cannot overrun a buffer.
 * Codecs cannot be interrupted, so callers use {@link decodeFrame} (codec-pool.ts), which runs this in a
 * worker under a time limit.
 *
 * @throws DicomError DICOM_DECODE on a damaged bitstream or a size mismatch; DICOM_UNSUPPORTED_TS otherwise.
 * @example
 * ```ts
 * const f = await decodeFrameInThread("jpeg-ls", fragment, { rows: 64, cols: 64, samples: 1, bitsAllocated: 16 });
 * ```
 */
export async function decodeFrameInThread(
  encoding: PixelEncoding,
  data: Uint8Array,
  spec: FrameSpec,
): Promise<DecodedFrame> {
  const twelveBit = (encoding === "jpeg-baseline" || encoding === "jpeg-extended") && jpegPrecision(data) > 8;
  if ((encoding === "jpeg-ls" || encoding === "jpeg-lossless" || twelveBit) && !endsWithEoi(data)) {
    // JPEG-LS (T.87 / T.81 B.2.1) and lossless JPEG codestreams end with EOI (FFD9); without it the frame is
    // truncated: CharLS spins for tens of seconds on such input, and the IJG 12-bit libjpeg pads it silently.
    throw new DicomError(
      "DICOM_DECODE",
      `The ${encoding} codestream is truncated: it does not end with an EOI/EOC marker`,
    );
  }
  let f: DecodedFrame;
  switch (encoding) {
    case "rle":
      return {
        bytes: decodeRleFrame(data, spec.rows, spec.cols, spec.samples, spec.bitsAllocated / 8),
        width: spec.cols,
        height: spec.rows,
        bitsPerSample: spec.bitsAllocated,
        components: spec.samples,
        signed: undefined,
      };
    case "jpeg-baseline":
    case "jpeg-extended":
      // pydicom's pixel_array holds the codestream's components as encoded (YBR stays YBR, PS3.5 8.2.1), so
      // libjpeg is told that no colour transform applies instead of converting and converting back.
      if (twelveBit) {
        // ITU T.81 Process 4 (12-bit) needs a 12-bit libjpeg; the libjpeg-turbo build on npm is 8-bit only.
        f = decodeJpegNative(data, spec) ?? (await decodeJpeg12(data, spec));
        break;
      }
      f = await decodeWasm("jpeg", jpegColorTransformed(data) ? withoutColorTransform(data) : data);
      break;
    case "jpeg-lossless":
      f = decodeJpegNative(data, spec) ?? decodeJpegLosslessJs(data, spec);
      break;
    case "jpeg-ls":
      f = await decodeWasm("jpeg-ls", data);
      break;
    case "jpeg-2000":
      f = decodeJpeg2000Native(data, spec) ?? (await decodeWasm("jpeg-2000", data));
      break;
    case "htj2k":
      f = await decodeWasm("htj2k", data);
      break;
    default:
      throw new DicomError("DICOM_UNSUPPORTED_TS", `No decoder for pixel encoding '${encoding}'`);
  }
  if (f.width !== spec.cols || f.height !== spec.rows || f.components !== spec.samples) {
    throw new DicomError(
      "DICOM_DECODE",
      `Decoded frame is ${f.width}x${f.height}x${f.components} but the dataset says ${spec.cols}x${spec.rows}x${spec.samples}`,
    );
  }
  const need = spec.rows * spec.cols * spec.samples * (f.bitsPerSample > 8 ? 2 : 1);
  if (f.bytes.length < need) {
    throw new DicomError("DICOM_DECODE", `Decoded frame has ${f.bytes.length} bytes; ${need} expected`);
  }
  return f;
}

/** A marker segment of a JPEG header: its marker code, the offset of its FF and its declared length (T.81 B.1.1.4). */
interface JpegSegment {
  readonly marker: number;
  readonly offset: number;
  readonly length: number;
}

/**
 * The header's marker segments from `start` up to and including SOS (T.81 B.2.4.2: entropy-coded data follows),
 * skipping fill bytes (FF FF); stops at the first byte that does not start a marker.
 */
function* jpegSegments(data: Uint8Array, start = 2): Generator<JpegSegment> {
  let i = start;
  while (i + 4 <= data.length && data[i] === 0xff) {
    const marker = data[i + 1] as number;
    if (marker === 0xff) {
      i++;
      continue;
    }
    const length = ((data[i + 2] as number) << 8) | (data[i + 3] as number);
    yield { marker, offset: i, length };
    if (marker === 0xda) return;
    i += 2 + length;
  }
}

/** SOF0–SOF15 except DHT (C4), JPG (C8) and DAC (CC) (T.81 Table B.1). */
function isSof(marker: number): boolean {
  return marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
}

/**
 * Whether libjpeg converted YCbCr to RGB while decoding, by its own rules (jdapimin.c default_decompress_parms):
 * an Adobe APP14 marker decides by its transform flag, then a JFIF APP0 means YCbCr, then component IDs
 * 'R','G','B' mean RGB, else three components are taken as YCbCr.
 *
 * @example
 * ```ts
 * jpegColorTransformed(fragment); // true for a JFIF YCbCr codestream
 * ```
 */
export function jpegColorTransformed(data: Uint8Array): boolean {
  let adobe: number | undefined;
  let jfif = false;
  let ids: number[] = [];
  for (const { marker: m, offset: i, length: len } of jpegSegments(data)) {
    if (m === 0xe0 && len >= 7 && String.fromCharCode(...data.subarray(i + 4, i + 8)) === "JFIF") jfif = true;
    if (m === 0xee && len >= 12 && String.fromCharCode(...data.subarray(i + 4, i + 9)) === "Adobe") {
      adobe = data[i + 15] as number;
    }
    if (isSof(m)) {
      const nc = data[i + 9] as number;
      ids = Array.from({ length: nc }, (_, k) => data[i + 10 + 3 * k] as number);
    }
  }
  if (adobe !== undefined) return adobe !== 0;
  if (jfif) return true;
  if (ids[0] === 0x52 && ids[1] === 0x47 && ids[2] === 0x42) return false;
  return true;
}

/**
 * Returns a copy of a JPEG codestream that libjpeg decodes without YCbCr → RGB conversion: a JFIF APP0 is
 * renamed to an APP15 it ignores, and an Adobe APP14 with transform 0 (no transform) replaces or precedes the rest.
 * Entropy-coded data is untouched, so the decoded samples are the codestream's own components.
 *
 * @example
 * ```ts
 * const raw = await decodeFrameInThread("jpeg-baseline", withoutColorTransform(fragment), spec);
 * ```
 */
export function withoutColorTransform(data: Uint8Array): Uint8Array {
  const out = new Uint8Array(data.length + 16);
  out.set(data.subarray(0, 2), 0);
  // APP14 "Adobe", version 100, flags 0, 0, transform 0 (PS3.5 8.2.1 notes; Adobe TN 5116).
  out.set(
    [0xff, 0xee, 0x00, 0x0e, 0x41, 0x64, 0x6f, 0x62, 0x65, 0x00, 0x64, 0x00, 0x00, 0x00, 0x00, 0x00],
    2,
  );
  out.set(data.subarray(2), 18);
  for (const { marker, offset } of jpegSegments(out, 18)) {
    if (marker === 0xe0 || marker === 0xee) out[offset + 1] = 0xef;
  }
  return out;
}

/**
 * True when the codestream ends with FFD9 (EOI/EOC), allowing the padding that makes fragments even.
 *
 * @example
 * ```ts
 * endsWithEoi(Uint8Array.of(0xff, 0xd8, 0xff, 0xd9, 0)); // true
 * ```
 */
export function endsWithEoi(data: Uint8Array): boolean {
  let n = data.length;
  // Encoders pad odd-length fragments with 0x00 or with a 0xFF fill byte (T.81 B.1.1.2), e.g. JPGExtended.dcm.
  while (n > 0 && (data[n - 1] === 0 || data[n - 1] === 0xff) && data.length - n < 16) n--;
  return n >= 2 && data[n - 2] === 0xff && data[n - 1] === 0xd9;
}

/** Frame header (SOFn) fields of a JPEG codestream (ITU T.81 B.2.2). */
export interface JpegFrameHeader {
  /** Sample precision P. */
  readonly precision: number;
  /** Number of lines Y. */
  readonly rows: number;
  /** Number of samples per line X. */
  readonly cols: number;
  /** Number of image components Nf. */
  readonly components: number;
}

/**
 * Reads the frame header (SOFn, ITU T.81 B.2.2) of a JPEG codestream; undefined when none precedes the first scan.
 *
 * @example
 * ```ts
 * jpegFrameHeader(fragment); // { precision: 12, rows: 1024, cols: 256, components: 1 }
 * ```
 */
export function jpegFrameHeader(data: Uint8Array): JpegFrameHeader | undefined {
  for (const { marker, offset: i } of jpegSegments(data)) {
    if (!isSof(marker)) continue;
    if (i + 10 > data.length) return undefined;
    return {
      precision: data[i + 4] as number,
      rows: ((data[i + 5] as number) << 8) | (data[i + 6] as number),
      cols: ((data[i + 7] as number) << 8) | (data[i + 8] as number),
      components: data[i + 9] as number,
    };
  }
  return undefined;
}

/**
 * Sample precision P of a JPEG codestream's frame header (ITU T.81 B.2.2), or 0 when no SOF marker is found.
 *
 * @example
 * ```ts
 * jpegPrecision(fragment); // 8 for baseline, 12 for Process 4
 * ```
 */
export function jpegPrecision(data: Uint8Array): number {
  return jpegFrameHeader(data)?.precision ?? 0;
}
