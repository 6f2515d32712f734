/** Loads the native JPEG decoder (src/io/image/native: libjpeg-turbo's TurboJPEG; built by scripts/build-native.mjs) when it exists. */
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** A JPEG decoded by the native addon: 8-bit samples, interleaved, 1 (grey) or 3 (RGB) components. */
export interface NativeJpegImage {
  readonly bytes: Uint8Array;
  readonly width: number;
  readonly height: number;
  readonly components: 1 | 3;
  /** The frame's size before DCT scaling. */
  readonly sourceWidth: number;
  readonly sourceHeight: number;
}

/** The addon's surface. */
export interface NativeJpeg {
  /**
   * Decodes an 8-bit JPEG at 1/`denominator` of its size (1, 2, 4 or 8; scaled inverse DCT); throws when the
   * frame has more than `maxPixels` pixels; returns `{ fallback }` for what libjpeg-turbo refuses or decodes only
   * with a warning (CMYK, 12-bit, damaged or truncated data).
   */
  decodeJpeg(
    data: Uint8Array,
    maxPixels: number,
    denominator?: 1 | 2 | 4 | 8,
  ): NativeJpegImage | { readonly fallback: string };
}

const here = dirname(fileURLToPath(import.meta.url));
let cached: NativeJpeg | null | undefined;

/**
 * The native JPEG decoder, or `undefined` when the addon is not built (no libturbojpeg0-dev at install time) or
 * `RADIOLENS_NATIVE_CODECS=0` asks for the WASM decoders.
 *
 * @example
 * ```ts
 * const native = loadNativeJpeg();
 * console.log(native ? "libjpeg-turbo (native)" : "libjpeg-turbo (WASM)");
 * ```
 */
export function loadNativeJpeg(): NativeJpeg | undefined {
  if (cached !== undefined) return cached ?? undefined;
  cached = null;
  if (process.env.RADIOLENS_NATIVE_CODECS === "0") return undefined;
  // From src/io/image or from dist/io/image (the addon stays in the source tree).
  const path = [here, join(here, "..", "..", "..", "src", "io", "image")]
    .map((r) => join(r, "native", "build", "Release", "radiolens_jpeg.node"))
    .find((p) => existsSync(p));
  if (!path) return undefined;
  try {
    cached = createRequire(import.meta.url)(path) as NativeJpeg;
  } catch {
    // A stale build for another Node ABI: the WASM decoder still works.
    cached = null;
  }
  return cached ?? undefined;
}

/**
 * Which decoder serves JPEG uploads in this process, for `radiolens doctor`.
 *
 * @example
 * ```ts
 * jpegDecoder(); // "libjpeg-turbo (native)" or "libjpeg-turbo (WASM)"
 * ```
 */
export function jpegDecoder(): string {
  return loadNativeJpeg() ? "libjpeg-turbo (native)" : "libjpeg-turbo (WASM)";
}
