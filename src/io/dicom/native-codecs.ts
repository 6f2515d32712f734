/** Loads the native JPEG 2000 decoder (src/io/dicom/native, OpenJPEG, built by scripts/build-native.mjs) when it exists. */
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
