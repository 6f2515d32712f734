/** Baseline and progressive 8-bit JPEG reading into MedicalImage through jpeg-js, with decode limits. */
import jpeg from "jpeg-js";
import { createImage, type MedicalImage } from "../../core/image.js";

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
