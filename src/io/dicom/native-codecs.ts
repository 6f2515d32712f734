/** Loads the native decoders (src/io/dicom/native: OpenJPEG, DCMTK's IJG JPEG; built by scripts/build-native.mjs) when they exist. */
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** A frame decoded by the native addon; same layout as the WASM decoders' output. */
export interface NativeFrame {
  readonly bytes: Uint8Array;
  readonly width: number;
  readonly height: number;
  readonly bitsPerSample: number;
  readonly components: number;
  readonly signed: boolean;
}

/** The addon's surface. */
export interface NativeCodecs {
  /**
   * Decodes a JPEG 2000 codestream (or JP2 file) whose header must declare exactly `cols`×`rows`×`samples`;
   * returns `{ fallback }` for colour layouts left to the WASM decoder; throws an Error on a damaged codestream.
   */
  decodeJpeg2000(
    data: Uint8Array,
    rows: number,
    cols: number,
    samples: number,
    threads?: number,
  ): NativeFrame | { readonly fallback: string };
  /** The linked OpenJPEG version, e.g. "2.5.0". */
  openjpegVersion(): string;
  /**
   * Decodes a JPEG frame (lossless Process 14 at 2–16 bits, or 8/12/16-bit DCT) with DCMTK's IJG libraries; its
   * header must declare exactly `cols`×`rows`×`samples`; throws an Error on a damaged codestream. Absent when the
   * addon was built without libdcmtk-dev (ADR 028).
   */
  decodeJpeg?(data: Uint8Array, rows: number, cols: number, samples: number): NativeJpegFrame;
  /** The linked DCMTK version, e.g. "3.6.7"; absent with `decodeJpeg`. */
  dcmtkVersion?(): string;
}

/** A JPEG frame decoded by DCMTK's IJG libraries. */
export interface NativeJpegFrame {
  readonly bytes: Uint8Array;
  readonly width: number;
  readonly height: number;
  readonly bitsPerSample: number;
  readonly components: number;
  /** 14 for a lossless (Process 14) frame, 0 for a DCT frame. */
  readonly process: number;
}

const here = dirname(fileURLToPath(import.meta.url));
let cached: NativeCodecs | null | undefined;

/**
 * The native codecs, or `undefined` when the addon is not built (no libopenjp2-7-dev at install time) or
 * `RADIOLENS_NATIVE_CODECS=0` asks for the WASM decoders.
 *
 * @example
 * ```ts
 * const native = loadNativeCodecs();
 * console.log(native ? `OpenJPEG ${native.openjpegVersion()} (native)` : "OpenJPEG (WASM)");
 * ```
 */
export function loadNativeCodecs(): NativeCodecs | undefined {
  if (cached !== undefined) return cached ?? undefined;
  cached = null;
  if (process.env.RADIOLENS_NATIVE_CODECS === "0") return undefined;
  // From src/io/dicom or from dist/io/dicom (the addon stays in the source tree).
  const path = [here, join(here, "..", "..", "..", "src", "io", "dicom")]
    .map((r) => join(r, "native", "build", "Release", "radiolens_codecs.node"))
    .find((p) => existsSync(p));
  if (!path) return undefined;
  try {
    cached = createRequire(import.meta.url)(path) as NativeCodecs;
  } catch {
    // A stale build for another Node ABI: the WASM decoders still work.
    cached = null;
  }
  return cached ?? undefined;
}

/**
 * Which JPEG 2000 decoder this process uses, for `radiolens doctor`.
 *
 * @example
 * ```ts
 * jpeg2000Decoder(); // "OpenJPEG 2.5.0 (native)" or "OpenJPEG 2.5 (WASM)"
 * ```
 */
export function jpeg2000Decoder(): string {
  const native = loadNativeCodecs();
  return native ? `OpenJPEG ${native.openjpegVersion()} (native)` : "OpenJPEG 2.5 (WASM)";
}

/**
 * Which decoder this process uses for JPEG Lossless and 12-bit JPEG, for `radiolens doctor`.
 *
 * @example
 * ```ts
 * jpegLosslessDecoder(); // "DCMTK 3.6.7 IJG (native)" or "jpeg-lossless-decoder-js (JavaScript)"
 * ```
 */
export function jpegLosslessDecoder(): string {
  const native = loadNativeCodecs();
  return native?.decodeJpeg && native.dcmtkVersion
    ? `DCMTK ${native.dcmtkVersion()} IJG (native)`
    : "jpeg-lossless-decoder-js (JavaScript)";
}
