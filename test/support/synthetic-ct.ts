/** Synthetic CT slices for codec tests and benchmarks: seeded, CT-like values, written as uncompressed Part 10. */
import { Rng } from "../../src/core/rng.js";
import { DicomDataset } from "../../src/io/dicom/dataset.js";
import { TS } from "../../src/io/dicom/transfer-syntax.js";
import { writeDicom } from "../../src/io/dicom/write.js";

/**
 * A CT-like signed 16-bit slice: a noisy disc in a field of -2000 (the padding value outside a CT's circular
 * reconstruction), so that the scan ends in a run of zero differences; `tail` random samples on the last row
 * move where the entropy-coded data ends relative to a byte boundary.
 *
 * @example
 * ```ts
 * const px = ctSlice(512, 7, 100); // px[512 * 512 - 1] === -2000
 * ```
 */
export function ctSlice(size: number, seed: number, tail: number): Int16Array {
  const rng = new Rng(seed);
  const px = new Int16Array(size * size).fill(-2000);
  const c = size / 2;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const r = Math.hypot(y - c, x - c);
      if (r < size * 0.49) px[y * size + x] = (r < size * 0.4 ? 0 : -1000) + rng.int(-60, 60);
    }
  }
  for (let x = 0; x < Math.min(tail, size - 1); x++) px[(size - 1) * size + x] = rng.int(-2000, 2000);
  return px;
}

/**
 * The slice as an Explicit VR Little Endian CT Image Part 10 file (Pixel Representation 1, 16 bits stored), for
 * encoders such as DCMTK's `dcmcjpeg` to compress.
 *
 * @example
 * ```ts
 * writeFileSync("ct.dcm", ctFile(ctSlice(512, 1, 0), 512));
 * ```
 */
export function ctFile(px: Int16Array, size: number): Uint8Array {
  const meta = new DicomDataset(true);
  meta.setString("MediaStorageSOPClassUID", "1.2.840.10008.5.1.4.1.1.2", "UI");
  meta.setString("MediaStorageSOPInstanceUID", "2.25.1", "UI");
  const ds = new DicomDataset(true);
  ds.setString("SOPClassUID", "1.2.840.10008.5.1.4.1.1.2");
  ds.setString("SOPInstanceUID", "2.25.1");
  ds.setString("Modality", "CT");
  ds.setNumbers("SamplesPerPixel", [1]);
  ds.setString("PhotometricInterpretation", "MONOCHROME2");
  ds.setNumbers("Rows", [size]);
  ds.setNumbers("Columns", [size]);
  ds.setNumbers("BitsAllocated", [16]);
  ds.setNumbers("BitsStored", [16]);
  ds.setNumbers("HighBit", [15]);
  ds.setNumbers("PixelRepresentation", [1]);
  ds.set({ tag: 0x7fe00010, vr: "OW", value: new Uint8Array(px.buffer), undefinedLength: false });
  return writeDicom({ meta, dataset: ds, transferSyntaxUID: TS.ExplicitVRLittleEndian });
}
