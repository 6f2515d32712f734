/** PNG and JPEG readers for MedicalImage. */
export {
  decodeJpeg,
  decodeJpegFast,
  decodeJpegWasm,
  isJpeg,
  jpegComponents,
  jpegFrameHeader,
} from "./jpeg.js";
export { decodePng, encodePng, isPng, PNG_MAGIC } from "./png.js";
