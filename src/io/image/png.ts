/** PNG reading (8/16-bit, gray/RGB/palette, with or without alpha) into MedicalImage: native inflate for the common layouts, pngjs for the rest. */
import { crc32, inflateSync } from "node:zlib";
import { PNG } from "pngjs";
import { createImage, type MedicalImage } from "../../core/image.js";

/** PNG signature (PNG spec §5.2). */
export const PNG_MAGIC = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a] as const;

/**
 * True when the bytes start with the PNG signature.
 *
 * @example
 * ```ts
 * isPng(readFileSync("xray.png")); // true
 * ```
 */
export function isPng(bytes: Uint8Array): boolean {
  return PNG_MAGIC.every((b, i) => bytes[i] === b);
}

/** Header and image data of a PNG datastream, chunk CRCs checked (PNG spec §5.3, §11.2). */
interface PngParts {
  readonly width: number;
  readonly height: number;
  readonly depth: number;
  readonly colorType: number;
  readonly interlace: number;
  readonly palette: Uint8Array | undefined;
  readonly idat: Uint8Array;
}

function readPngParts(b: Uint8Array): PngParts {
  if (!isPng(b)) throw new Error("not a PNG file (the signature is missing)");
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  let pos = 8;
  let ihdr:
    | { width: number; height: number; depth: number; colorType: number; interlace: number }
    | undefined;
  let palette: Uint8Array | undefined;
  const idat: Uint8Array[] = [];
  let ended = false;
  while (!ended) {
    if (pos + 12 > b.length)
      throw new Error("PNG is truncated: a chunk header runs past the end of the file");
    const len = dv.getUint32(pos);
    const type = String.fromCharCode(
      b[pos + 4] as number,
      b[pos + 5] as number,
      b[pos + 6] as number,
      b[pos + 7] as number,
    );
    const dataStart = pos + 8;
    const dataEnd = dataStart + len;
    if (len > 0x7fffffff || dataEnd + 4 > b.length)
      throw new Error(`PNG is truncated: chunk ${type} runs past the end of the file`);
    // zlib's CRC-32 is the PNG one (PNG spec Annex D), natively and several times faster than a table loop.
    if (crc32(b.subarray(pos + 4, dataEnd)) !== dv.getUint32(dataEnd))
      throw new Error(`PNG chunk ${type} fails its CRC check`);
    if (type === "IHDR") {
      if (len < 13) throw new Error("PNG IHDR chunk is too short");
      ihdr = {
        width: dv.getUint32(dataStart),
        height: dv.getUint32(dataStart + 4),
        depth: b[dataStart + 8] as number,
        colorType: b[dataStart + 9] as number,
        interlace: b[dataStart + 12] as number,
      };
    } else if (type === "PLTE") palette = b.subarray(dataStart, dataEnd);
    else if (type === "IDAT") idat.push(b.subarray(dataStart, dataEnd));
    else if (type === "IEND") ended = true;
    pos = dataEnd + 4;
  }
  if (!ihdr) throw new Error("PNG has no IHDR chunk");
  if (idat.length === 0) throw new Error("PNG has no IDAT chunk");
  const all = idat.length === 1 ? (idat[0] as Uint8Array) : Buffer.concat(idat);
  return { ...ihdr, palette, idat: all };
}

/**
 * Reverses the per-scanline filters (PNG spec §9.2: None, Sub, Up, Average, Paeth) in place; `bpp` is the
 * filter's byte distance (bytes per complete pixel, at least 1). Returns the unfiltered rows, without filter bytes.
 */
function unfilter(raw: Uint8Array, rows: number, stride: number, bpp: number): Uint8Array {
  if (raw.length < rows * (stride + 1)) throw new Error("PNG image data is shorter than its header declares");
  // In place: row y's output starts y + 1 bytes before its input, so each byte is read before it is overwritten,
  // and the row above is already reconstructed. A server decoding PNG uploads allocates one buffer less per image,
  // and with it fewer garbage collections (ADR 145).
  const out = new Uint8Array(raw.buffer, raw.byteOffset, rows * stride);
  for (let y = 0; y < rows; y++) {
    const f = raw[y * (stride + 1)] as number;
    const src = y * (stride + 1) + 1;
    const dst = y * stride;
    const up = dst - stride;
    switch (f) {
      case 0:
        raw.copyWithin(dst, src, src + stride);
        break;
      case 1:
        for (let x = 0; x < stride; x++) {
          out[dst + x] = ((raw[src + x] as number) + (x >= bpp ? (out[dst + x - bpp] as number) : 0)) & 0xff;
        }
        break;
      case 2:
        for (let x = 0; x < stride; x++) {
          out[dst + x] = ((raw[src + x] as number) + (y > 0 ? (out[up + x] as number) : 0)) & 0xff;
        }
        break;
      case 3:
        for (let x = 0; x < stride; x++) {
          const a = x >= bpp ? (out[dst + x - bpp] as number) : 0;
          const c = y > 0 ? (out[up + x] as number) : 0;
          out[dst + x] = ((raw[src + x] as number) + ((a + c) >> 1)) & 0xff;
        }
        break;
      case 4:
        for (let x = 0; x < stride; x++) {
          const a = x >= bpp ? (out[dst + x - bpp] as number) : 0;
          const b = y > 0 ? (out[up + x] as number) : 0;
          const c = x >= bpp && y > 0 ? (out[up + x - bpp] as number) : 0;
          const p = a + b - c;
          const pa = Math.abs(p - a);
          const pb = Math.abs(p - b);
          const pc = Math.abs(p - c);
          const pred = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
          out[dst + x] = ((raw[src + x] as number) + pred) & 0xff;
        }
        break;
      default:
        throw new Error(`PNG scanline ${y} has an unknown filter type ${f}`);
    }
  }
  return out;
}

const CHANNELS_OF_TYPE: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };

/**
 * The samples of a non-interlaced image: inflate in one output chunk of the known size (node:zlib's default 16 KiB
 * chunks would be concatenated into a second copy), then the filters reversed in place.
 */
function reconstruct(idat: Uint8Array, rows: number, stride: number, bpp: number): Uint8Array {
  const raw = inflateSync(idat, { chunkSize: Math.max(4096, rows * (stride + 1) + 1024) });
  return unfilter(raw, rows, stride, bpp);
}

/**
 * The common PNGs (not interlaced; 8 or 16 bits per sample; or 8-bit palette) decoded directly: native zlib
 * inflate, then unfiltering and channel selection in one pass, without pngjs's RGBA expansion. Undefined for the
 * other layouts, which pngjs decodes.
 */
function decodePngFast(parts: PngParts): MedicalImage | undefined {
  const { width, height, depth, colorType, interlace, palette } = parts;
  const inCh = CHANNELS_OF_TYPE[colorType];
  if (
    interlace !== 0 ||
    inCh === undefined ||
    (depth !== 8 && depth !== 16) ||
    (colorType === 3 && depth !== 8)
  ) {
    return undefined;
  }
  if (colorType === 3 && (!palette || palette.length % 3 !== 0))
    throw new Error("PNG palette image has no valid PLTE chunk");
  const bytesPer = depth / 8;
  const stride = width * inCh * bytesPer;
  const px = reconstruct(parts.idat, height, stride, inCh * bytesPer);
  const gray = colorType === 0 || colorType === 4;
  const ch = gray ? 1 : 3;
  const n = width * height;
  let data: Uint8Array | Uint16Array;
  if (colorType === 3) {
    const pal = palette as Uint8Array;
    const entries = pal.length / 3;
    data = new Uint8Array(n * 3);
    for (let i = 0; i < n; i++) {
      const k = px[i] as number;
      if (k >= entries) throw new Error(`PNG pixel uses palette entry ${k} of ${entries}`);
      data[i * 3] = pal[k * 3] as number;
      data[i * 3 + 1] = pal[k * 3 + 1] as number;
      data[i * 3 + 2] = pal[k * 3 + 2] as number;
    }
  } else if (depth === 8) {
    if (inCh === ch) data = px;
    else {
      data = new Uint8Array(n * ch);
      for (let i = 0; i < n; i++) for (let c = 0; c < ch; c++) data[i * ch + c] = px[i * inCh + c] as number;
    }
  } else {
    data = new Uint16Array(n * ch);
    for (let i = 0; i < n; i++) {
      for (let c = 0; c < ch; c++) {
        const o = 2 * (i * inCh + c);
        data[i * ch + c] = ((px[o] as number) << 8) | (px[o + 1] as number);
      }
    }
  }
  return pngImage(data, height, width, ch, depth === 16, gray);
}

function pngImage(
  data: Uint8Array | Uint16Array,
  height: number,
  width: number,
  ch: number,
  sixteen: boolean,
  gray: boolean,
): MedicalImage {
  return createImage(data, [height, width, ch], {
    meta: {
      format: "png",
      bitsStored: sixteen ? 16 : 8,
      photometricInterpretation: gray ? "MONOCHROME2" : "RGB",
    },
  });
}

/**
 * Decodes a PNG. Gray images give 1 channel, colour images 3 (alpha is dropped: medical images carry no
 * transparency); 16-bit samples stay 16-bit (Uint16Array), everything else is 8-bit. Chunk CRCs are checked.
 *
 * @example
 * ```ts
 * const img = decodePng(readFileSync("xray.png")); // shape [rows, cols, 1]
 * ```
 */
export function decodePng(bytes: Uint8Array): MedicalImage {
  const parts = readPngParts(bytes);
  const fast = decodePngFast(parts);
  if (fast) return fast;
  // Interlaced (Adam7) and 1/2/4-bit images: pngjs, which expands every layout to RGBA. The header is already
  // known, so one decode suffices: 16-bit samples unscaled, lower depths scaled to 8 bits as pngjs does.
  const sixteen = parts.depth === 16;
  const png = PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), {
    skipRescale: sixteen,
  });
  const { width, height } = png;
  const rgba = png.data as unknown as ArrayLike<number>;
  // colorType 0 = gray, 4 = gray + alpha (PNG spec §11.2.2); palette (3) may still be gray but is treated as colour.
  const gray = parts.colorType === 0 || parts.colorType === 4;
  const ch = gray ? 1 : 3;
  const n = width * height;
  const data = sixteen ? new Uint16Array(n * ch) : new Uint8Array(n * ch);
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < ch; c++) data[i * ch + c] = rgba[i * 4 + c] as number;
  }
  return pngImage(data, height, width, ch, sixteen, gray);
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
