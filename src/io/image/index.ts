/** PNG and JPEG readers for MedicalImage. */
export { decodeJpeg, isJpeg, jpegComponents } from "./jpeg.js";
export { decodePng, encodePng, isPng, PNG_MAGIC } from "./png.js";
