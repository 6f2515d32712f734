/** Baseline and progressive 8-bit JPEG reading into MedicalImage: jpeg-js (synchronous) and libjpeg-turbo (native or WASM, faster), with decode limits. */
import { createRequire } from "node:module";
import jpeg from "jpeg-js";
import { createImage, type MedicalImage } from "../../core/image.js";
import { loadNativeJpeg } from "./native-jpeg.js";

/**
 * True when the bytes start with a JPEG SOI marker followed by another marker (ITU T.81 §B.1.1.3).
 *
 * @example
 * ```ts
 * isJpeg(readFileSync("xray.jpg")); // true
 * ```
 */
export function isJpeg(bytes: Uint8Array): boolean {
  return bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff;
}

/**
 * Number of components declared by the first SOF segment, or 0 when none is found (ITU T.81 §B.2.2).
 *
 * @example
 * ```ts
 * jpegComponents(readFileSync("xray.jpg")); // 1 for grey, 3 for colour
 * ```
 */
export function jpegComponents(bytes: Uint8Array): number {
  let i = 2;
  while (i + 9 < bytes.length) {
    if (bytes[i] !== 0xff) return 0;
    const marker = bytes[i + 1] as number;
    const len = ((bytes[i + 2] as number) << 8) | (bytes[i + 3] as number);
    // SOF0..SOF15 except DHT (C4), JPG (C8) and DAC (CC).
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      return bytes[i + 9] as number;
    }
    i += 2 + len;
  }
  return 0;
}

/**
 * Frame size and component count from the first SOF segment (ITU T.81 §B.2.2), or undefined when none is found.
 *
 * @example
 * ```ts
 * jpegFrameHeader(readFileSync("xray.jpg")); // { rows: 972, columns: 1151, components: 3 }
 * ```
 */
export function jpegFrameHeader(
  bytes: Uint8Array,
): { rows: number; columns: number; components: number } | undefined {
  let i = 2;
  while (i + 9 < bytes.length) {
    if (bytes[i] !== 0xff) return undefined;
    const marker = bytes[i + 1] as number;
    const len = ((bytes[i + 2] as number) << 8) | (bytes[i + 3] as number);
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      return {
        rows: ((bytes[i + 5] as number) << 8) | (bytes[i + 6] as number),
        columns: ((bytes[i + 7] as number) << 8) | (bytes[i + 8] as number),
        components: bytes[i + 9] as number,
      };
    }
    i += 2 + len;
  }
  return undefined;
}

/** Limits that stop decompression bombs. */
export interface JpegLimits {
  readonly maxResolutionMP?: number;
  readonly maxMemoryMB?: number;
}

/**
 * Decodes a JPEG. Single-component JPEGs give 1 channel, others 3 (RGB).
 *
 * @example
 * ```ts
 * const img = decodeJpeg(readFileSync("COVID-00001.jpg"));
 * ```
 */
export function decodeJpeg(bytes: Uint8Array, limits: JpegLimits = {}): MedicalImage {
  const decoded = jpeg.decode(bytes, {
    useTArray: true,
    formatAsRGBA: false,
    maxResolutionInMP: limits.maxResolutionMP ?? 250,
    maxMemoryUsageInMB: limits.maxMemoryMB ?? 1024,
  });
  const { width, height } = decoded;
  const src = decoded.data;
  const comps = jpegComponents(bytes);
  const n = width * height;
  const stride = src.length / n;
  if (!Number.isInteger(stride) || stride < 1)
    throw new Error(`decoder returned ${src.length} bytes for ${width}x${height}`);
  if (comps === 1) {
    const data = new Uint8Array(n);
    for (let i = 0; i < n; i++) data[i] = src[i * stride] as number;
    return createImage(data, [height, width, 1], {
      meta: { format: "jpeg", bitsStored: 8, photometricInterpretation: "MONOCHROME2" },
    });
  }
  const data = new Uint8Array(n * 3);
  for (let i = 0; i < n; i++) {
    data[i * 3] = src[i * stride] as number;
    data[i * 3 + 1] = src[i * stride + 1] as number;
    data[i * 3 + 2] = src[i * stride + 2] as number;
  }
  return createImage(data, [height, width, 3], {
    meta: { format: "jpeg", bitsStored: 8, photometricInterpretation: "RGB" },
  });
}

/** The libjpeg-turbo decoder object of @cornerstonejs/codec-libjpeg-turbo-8bit. */
interface TurboDecoder {
  getEncodedBuffer(length: number): Uint8Array;
  getDecodedBuffer(): Uint8Array;
  decode(): void;
  getFrameInfo(): { width: number; height: number; bitsPerSample: number; componentCount: number };
  delete(): void;
}

let turbo: Promise<new () => TurboDecoder> | undefined;

function loadTurbo(): Promise<new () => TurboDecoder> {
  if (!turbo) {
    const require = createRequire(import.meta.url);
    const factory = require("@cornerstonejs/codec-libjpeg-turbo-8bit/decodewasmjs") as
      | ((o: object) => Promise<{ JPEGDecoder: new () => TurboDecoder }>)
      | { default: (o: object) => Promise<{ JPEGDecoder: new () => TurboDecoder }> };
    const f = typeof factory === "function" ? factory : factory.default;
    // The codec's own messages stay out of our stdout (CLI output such as --json must stay clean).
    turbo = f({ print: () => {}, printErr: () => {} }).then((m) => m.JPEGDecoder);
    turbo.catch(() => {
      turbo = undefined;
    });
  }
  return turbo;
}

/**
 * Decodes an 8-bit JPEG with libjpeg-turbo, the decoder PIL and most viewers use: the system library through the
 * native addon (src/io/image/native) when it is built, else its WASM build; natively 2–4 times faster than
 * the WASM build and it 8 times faster than jpeg-js on a 224×224 image. Both give the same samples. Same result
 * layout and limits as {@link decodeJpeg}: one channel for a single-component JPEG, else RGB (YCbCr converted by
 * libjpeg's rules). Sample values may differ from jpeg-js by the rounding of the inverse DCT (ITU T.81 allows
 * it). What libjpeg-turbo refuses or decodes only with a warning (CMYK, 12-bit, damaged or truncated data) falls
 * back to jpeg-js, which decodes it or reports the error.
 *
 * @example
 * ```ts
 * const img = await decodeJpegFast(readFileSync("COVID-00001.jpg"));
 * ```
 */
export async function decodeJpegFast(bytes: Uint8Array, limits: JpegLimits = {}): Promise<MedicalImage> {
  const head = jpegFrameHeader(bytes);
  if (!head || head.rows === 0 || head.columns === 0) return decodeJpeg(bytes, limits);
  if (head.rows * head.columns > (limits.maxResolutionMP ?? 250) * 1e6)
    throw new Error(
      `JPEG of ${head.columns}x${head.rows} exceeds the ${limits.maxResolutionMP ?? 250} MP limit`,
    );
  const native = loadNativeJpeg();
  if (native) {
    const r = native.decodeJpeg(bytes, (limits.maxResolutionMP ?? 250) * 1e6);
    if ("fallback" in r) return decodeJpeg(bytes, limits);
    return createImage(r.bytes, [r.height, r.width, r.components], {
      meta: {
        format: "jpeg",
        bitsStored: 8,
        photometricInterpretation: r.components === 1 ? "MONOCHROME2" : "RGB",
      },
    });
  }
  return decodeJpegWasm(bytes, limits);
}

/**
 * Decodes an 8-bit JPEG with the WASM build of libjpeg-turbo ({@link decodeJpegFast} without the native addon);
 * what it refuses falls back to jpeg-js.
 *
 * @example
 * ```ts
 * const img = await decodeJpegWasm(readFileSync("COVID-00001.jpg"));
 * ```
 */
export async function decodeJpegWasm(bytes: Uint8Array, limits: JpegLimits = {}): Promise<MedicalImage> {
  const head = jpegFrameHeader(bytes);
  if (!head || head.rows === 0 || head.columns === 0) return decodeJpeg(bytes, limits);
  if (head.rows * head.columns > (limits.maxResolutionMP ?? 250) * 1e6)
    throw new Error(
      `JPEG of ${head.columns}x${head.rows} exceeds the ${limits.maxResolutionMP ?? 250} MP limit`,
    );
  const Decoder = await loadTurbo();
  const d = new Decoder();
  let out: Uint8Array;
  let info: { width: number; height: number; bitsPerSample: number; componentCount: number };
  try {
    d.getEncodedBuffer(bytes.length).set(bytes);
    d.decode();
    info = d.getFrameInfo();
    // The one copy out of the WASM heap.
    out = d.getDecodedBuffer().slice();
  } catch (e) {
    // A trap inside the WASM module may leave its heap inconsistent: load a fresh instance next time.
    if ((e as { name?: string } | null)?.name === "RuntimeError") turbo = undefined;
    return decodeJpeg(bytes, limits);
  } finally {
    d.delete();
  }
  const ch = info.componentCount === 1 ? 1 : 3;
  if (info.bitsPerSample !== 8 || out.length !== info.width * info.height * ch)
    return decodeJpeg(bytes, limits);
  return createImage(out, [info.height, info.width, ch], {
    meta: { format: "jpeg", bitsStored: 8, photometricInterpretation: ch === 1 ? "MONOCHROME2" : "RGB" },
  });
}
