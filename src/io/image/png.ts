/** PNG reading (8/16-bit, gray/RGB/palette, with or without alpha) into MedicalImage through pngjs. */
import { PNG } from "pngjs";
import { createImage, type MedicalImage } from "../../core/image.js";

/** PNG signature (PNG spec §5.2). */
export const PNG_MAGIC = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a] as const;

/** True when the bytes start with the PNG signature. */
export function isPng(bytes: Uint8Array): boolean {
  return PNG_MAGIC.every((b, i) => bytes[i] === b);
}

/**
 * Decodes a PNG. Gray images give 1 channel, colour images 3 (alpha is dropped: medical images carry no
 * transparency); 16-bit samples stay 16-bit (Uint16Array), everything else is 8-bit.
 *
 * @example
 * ```ts
 * const img = decodePng(readFileSync("xray.png")); // shape [rows, cols, 1]
 * ```
 */
export function decodePng(bytes: Uint8Array): MedicalImage {
  const probe = PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), {
    skipRescale: true,
  });
  const meta = probe as unknown as { colorType: number; depth: number };
  const { width, height } = probe;
  const sixteen = meta.depth === 16;
  const png = sixteen ? probe : PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  const rgba = png.data as unknown as ArrayLike<number>;
  // colorType 0 = gray, 4 = gray + alpha (PNG spec §11.2.2); palette (3) may still be gray but is treated as colour.
  const gray = meta.colorType === 0 || meta.colorType === 4;
  const ch = gray ? 1 : 3;
  const n = width * height;
  const data = sixteen ? new Uint16Array(n * ch) : new Uint8Array(n * ch);
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < ch; c++) data[i * ch + c] = rgba[i * 4 + c] as number;
  }
  return createImage(data, [height, width, ch], {
    meta: {
      format: "png",
      bitsStored: sixteen ? 16 : 8,
      photometricInterpretation: gray ? "MONOCHROME2" : "RGB",
    },
  });
}

/**
 * Encodes a 2D MedicalImage as PNG: 1 channel → grayscale, 3 → RGB, 4 → RGBA; Uint16Array data → 16-bit,
 * anything else is rounded and clamped to 8-bit.
 *
 * @example
 * ```ts
 * writeFileAtomic("grid.png", encodePng(createImage(u8, [64, 64, 1])));
 * ```
 */
export function encodePng(img: MedicalImage): Uint8Array {
  if (img.shape.length !== 3)
    throw new RangeError(`PNG holds 2D images; got shape [${img.shape.join(", ")}]`);
  const [rows, cols, ch] = img.shape as [number, number, number];
  if (ch !== 1 && ch !== 3 && ch !== 4) throw new RangeError(`PNG holds 1, 3 or 4 channels; got ${ch}`);
  const sixteen = img.data instanceof Uint16Array;
  const colorType = ch === 1 ? 0 : ch === 3 ? 2 : 6;
  const png = new PNG({
    width: cols,
    height: rows,
    colorType,
    bitDepth: sixteen ? 16 : 8,
    inputColorType: colorType,
    inputHasAlpha: ch === 4,
  });
  const n = rows * cols * ch;
  if (sixteen) {
    // pngjs packs 16-bit input from native-order samples.
    png.data = Buffer.from(new Uint16Array(img.data as Uint16Array).buffer);
  } else {
    const buf = Buffer.alloc(n);
    for (let i = 0; i < n; i++) buf[i] = Math.min(255, Math.max(0, Math.round(img.data[i] as number)));
    png.data = buf;
  }
  return PNG.sync.write(png, {
    colorType,
    bitDepth: sixteen ? 16 : 8,
    inputColorType: colorType,
    inputHasAlpha: ch === 4,
  });
}
