/** Decoding uploads and stored instances to images: DICOM through the display pipeline, PNG and JPEG by magic bytes. */
import { RadioLensError } from "../core/errors.js";
import { createImage, type MedicalImage } from "../core/image.js";
import { parseDicom } from "../io/dicom/index.js";
import { dicomToImage } from "../io/dicom/to-image.js";
import { decodeJpegFast, decodePng, isJpeg, isPng, jpegFrameHeader } from "../io/image/index.js";
import { NETWORK_PARSE_LIMITS } from "./instances.js";
import { contentTypeParams, parseMultipart } from "./multipart.js";

/**
 * Decodes DICOM bytes to the display image the models see: VOI LUT applied (PS3.3 C.11.2), MONOCHROME1 inverted,
 * 8-bit, as a PNG export of the same file would be. Multi-frame instances give their middle frame.
 *
 * @example
 * ```ts
 * const img = await dicomDisplayImage(readFileSync("CT_small.dcm"));
 * ```
 */
export async function dicomDisplayImage(bytes: Uint8Array): Promise<MedicalImage> {
  // A plain Uint8Array view: Buffer.slice shares memory where the pixel decoder expects Uint8Array.slice to copy.
  const plain = Buffer.isBuffer(bytes)
    ? new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    : bytes;
  const parsed = parseDicom(plain, NETWORK_PARSE_LIMITS);
  const img = await dicomToImage(parsed, {
    output: "display",
    maxPixelBytes: NETWORK_PARSE_LIMITS.maxPixelBytes,
  });
  if (img.shape.length === 3) return img;
  const [frames, rows, cols, ch] = img.shape as [number, number, number, number];
  const per = rows * cols * ch;
  const mid = Math.floor(frames / 2);
  return createImage(img.data.slice(mid * per, (mid + 1) * per), [rows, cols, ch], { meta: img.meta });
}

/**
 * Media types predict accepts.
 *
 * @example
 * ```ts
 * ACCEPTED.includes("image/png"); // true
 * ```
 */
export const ACCEPTED = [
  "application/dicom",
  "image/png",
  "image/jpeg",
  "application/octet-stream",
  "multipart/form-data",
];

async function decodeWith(
  kind: string,
  fn: () => MedicalImage | Promise<MedicalImage>,
): Promise<MedicalImage> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof RadioLensError) throw e;
    throw new RadioLensError(
      "RL_ERR_IMAGE_DECODE",
      { path: "upload", detail: `${kind}: ${(e as Error).message}` },
      { cause: e },
    );
  }
}

/** True for a DICOM Part 10 file (preamble + "DICM", PS3.10 7.1). */
function isPart10(b: Uint8Array): boolean {
  return b.length >= 132 && b[128] === 0x44 && b[129] === 0x49 && b[130] === 0x43 && b[131] === 0x4d;
}

/**
 * About how many pixels decoding `body` produces, from the PNG IHDR or JPEG SOF header, else (DICOM, forms) half
 * its byte count; the decoder uses it to keep small images on the event loop, where a worker hop would cost more
 * than the decode.
 *
 * @example
 * ```ts
 * decodedPixels(png224); // 50176
 * ```
 */
export function decodedPixels(body: Uint8Array): number {
  if (isPng(body) && body.length >= 24) {
    const dv = new DataView(body.buffer, body.byteOffset, body.byteLength);
    return dv.getUint32(16) * dv.getUint32(20);
  }
  if (isJpeg(body)) {
    const h = jpegFrameHeader(body);
    if (h) return h.rows * h.columns;
  }
  return body.length / 2;
}

/**
 * Decodes an uploaded body to an image by its media type: DICOM through the display pipeline (VOI LUT), PNG and
 * JPEG through the image readers; octet-stream and form parts by their magic bytes.
 *
 * @example
 * ```ts
 * const { image, format } = await decodeUpload(bytes, "application/dicom");
 * ```
 */
export async function decodeUpload(
  body: Uint8Array,
  contentType: string,
): Promise<{ image: MedicalImage; format: string }> {
  const type = contentType.split(";")[0]?.trim().toLowerCase() ?? "";
  if (type === "multipart/form-data") {
    const parts = parseMultipart(body, contentTypeParams(contentType)["boundary"] ?? "");
    const part = parts.find((p) =>
      /filename=|name="?(file|image)"?/.test(p.headers["content-disposition"] ?? ""),
    );
    if (!part) throw new RadioLensError("RL_ERR_BAD_REQUEST", { detail: "the form has no 'file' part" });
    return decodeUpload(part.body, part.headers["content-type"] ?? "application/octet-stream");
  }
  if (body.length === 0)
    throw new RadioLensError("RL_ERR_BAD_REQUEST", { detail: "the request body is empty" });
  if (type === "application/dicom" || (type === "application/octet-stream" && isPart10(body)))
    return { image: await dicomDisplayImage(body), format: "dicom" };
  if (type === "image/png" || type === "image/jpeg" || type === "application/octet-stream") {
    // By magic bytes, whatever the header claims (PNG signature, JPEG SOI marker).
    if (isPng(body)) return { image: await decodeWith("png", () => decodePng(body)), format: "png" };
    if (isJpeg(body)) return { image: await decodeWith("jpeg", () => decodeJpegFast(body)), format: "jpeg" };
    throw new RadioLensError("RL_ERR_UNKNOWN_FORMAT", { path: "upload", tried: "dicom, png, jpeg" });
  }
  throw new RadioLensError("RL_ERR_UNSUPPORTED_MEDIA", { type, accepted: ACCEPTED.join(", ") });
}
