/** RLE Lossless decoding (PS3.5 Annex G): a 64-byte header of segment offsets, PackBits segments, one per byte plane. */
import { DicomError } from "./errors.js";

/**
 * Decodes one RLE frame into interleaved little-endian samples (`rows*cols*samples*bytesPerSample` bytes).
 * Segment order per PS3.5 G.2: for each sample, its most significant byte plane first.
 *
 * @throws DicomError DICOM_DECODE for a damaged header or segments that do not fill the frame.
 * @example
 * ```ts
 * const bytes = decodeRleFrame(fragment, 64, 64, 1, 2);
 * ```
 */
export function decodeRleFrame(
  frame: Uint8Array,
  rows: number,
  cols: number,
  samples: number,
  bytesPerSample: number,
): Uint8Array {
  if (frame.length < 64)
    throw new DicomError("DICOM_DECODE", "RLE frame shorter than its 64-byte header (PS3.5 G.5)");
  const dv = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  const nSeg = dv.getUint32(0, true);
  const expected = samples * bytesPerSample;
  if (nSeg !== expected || nSeg > 15) {
    throw new DicomError(
      "DICOM_DECODE",
      `RLE header lists ${nSeg} segments; ${expected} expected (PS3.5 G.5)`,
    );
  }
  const pixels = rows * cols;
  const out = new Uint8Array(pixels * expected);
  for (let s = 0; s < nSeg; s++) {
    const start = dv.getUint32(4 + 4 * s, true);
    const end = s + 1 < nSeg ? dv.getUint32(8 + 4 * s, true) : frame.length;
    if (start < 64 || end > frame.length || start > end) {
      throw new DicomError(
        "DICOM_DECODE",
        `RLE segment ${s + 1} offsets ${start}..${end} lie outside the frame`,
      );
    }
    const sample = Math.floor(s / bytesPerSample);
    // Segment s holds byte plane (bytesPerSample - 1 - s % bytesPerSample) in little-endian output order.
    const byteIndex = bytesPerSample - 1 - (s % bytesPerSample);
    const stride = expected;
    let o = sample * bytesPerSample + byteIndex;
    const oEnd = o + pixels * stride;
    let p = start;
    while (p < end && o < oEnd) {
      const n = frame[p++] as number;
      if (n < 128) {
        // Literal run of n + 1 bytes (PS3.5 G.3.1).
        const count = n + 1;
        if (p + count > end) {
          throw new DicomError("DICOM_DECODE", `RLE segment ${s + 1} literal run passes the segment end`);
        }
        for (let i = 0; i < count && o < oEnd; i++, o += stride) out[o] = frame[p + i] as number;
        p += count;
      } else if (n > 128) {
        // Replicate run: the next byte 257 - n times; 128 is a no-op.
        if (p >= end) throw new DicomError("DICOM_DECODE", `RLE segment ${s + 1} replicate run has no byte`);
        const v = frame[p++] as number;
        for (let i = 0; i < 257 - n && o < oEnd; i++, o += stride) out[o] = v;
      }
    }
    if (o < oEnd) {
      throw new DicomError("DICOM_DECODE", `RLE segment ${s + 1} decodes to fewer than ${pixels} bytes`);
    }
  }
  return out;
}
