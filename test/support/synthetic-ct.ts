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

/**
 * A synthetic axial CT series as Part 10 files: `slices` slices of `size`² pixels in one study, series and frame
 * of reference, with full Image Plane geometry (0.7 mm pixels, 2.5 mm apart, head first supine), patient and
 * study attributes, and a bright ellipsoid whose mask {@link ellipsoidLabels} gives. Instances are returned in
 * an order other than the slice order (as a modality may send them).
 *
 * @example
 * ```ts
 * const { files, study } = ctSeries(8, 64, 1);
 * ```
 */
export function ctSeries(
  slices: number,
  size: number,
  seed: number,
): { files: Uint8Array[]; study: string; series: string } {
  const rng = new Rng(seed);
  const study = `2.25.${1000 + seed}${rng.int(100000, 999999)}`;
  const series = `${study}.1`;
  const frame = `${study}.2`;
  const labels = ellipsoidLabels(slices, size);
  const files: Uint8Array[] = [];
  for (let z = 0; z < slices; z++) {
    const sop = `${series}.${z + 1}`;
    const meta = new DicomDataset(true);
    meta.setString("MediaStorageSOPClassUID", "1.2.840.10008.5.1.4.1.1.2", "UI");
    meta.setString("MediaStorageSOPInstanceUID", sop, "UI");
    const ds = new DicomDataset(true);
    const s = (k: string, v: string): void => ds.setString(k, v);
    s("SOPClassUID", "1.2.840.10008.5.1.4.1.1.2");
    s("SOPInstanceUID", sop);
    s("StudyInstanceUID", study);
    s("SeriesInstanceUID", series);
    s("FrameOfReferenceUID", frame);
    s("Modality", "CT");
    s("PatientName", "Synthetic^Phantom");
    s("PatientID", `PHANTOM${seed}`);
    s("PatientBirthDate", "19700101");
    s("PatientSex", "O");
    s("StudyDate", "20260101");
    s("StudyTime", "120000");
    s("StudyID", "1");
    s("AccessionNumber", `ACC${seed}`);
    s("SeriesDescription", "Synthetic CT");
    s("ImageType", "ORIGINAL\\PRIMARY\\AXIAL");
    ds.setNumbers("SeriesNumber", [1], "IS");
    ds.setNumbers("InstanceNumber", [z + 1], "IS");
    ds.setNumbers("ImagePositionPatient", [-22.4, -22.4, -50 + 2.5 * z], "DS");
    ds.setNumbers("ImageOrientationPatient", [1, 0, 0, 0, 1, 0], "DS");
    ds.setNumbers("PixelSpacing", [0.7, 0.7], "DS");
    ds.setNumbers("SliceThickness", [2.5], "DS");
    ds.setNumbers("RescaleIntercept", [-1024], "DS");
    ds.setNumbers("RescaleSlope", [1], "DS");
    ds.setNumbers("SamplesPerPixel", [1]);
    s("PhotometricInterpretation", "MONOCHROME2");
    ds.setNumbers("Rows", [size]);
    ds.setNumbers("Columns", [size]);
    ds.setNumbers("BitsAllocated", [16]);
    ds.setNumbers("BitsStored", [16]);
    ds.setNumbers("HighBit", [15]);
    ds.setNumbers("PixelRepresentation", [1]);
    const px = new Int16Array(size * size);
    for (let i = 0; i < px.length; i++) {
      px[i] = (labels[z * size * size + i] ? 1100 : 1000) + rng.int(-20, 20);
    }
    ds.set({ tag: 0x7fe00010, vr: "OW", value: new Uint8Array(px.buffer), undefinedLength: false });
    files.push(writeDicom({ meta, dataset: ds, transferSyntaxUID: TS.ExplicitVRLittleEndian }));
  }
  // Reverse the odd half so the arrival order is not the slice order.
  return {
    files: [...files.filter((_, i) => i % 2 === 1).reverse(), ...files.filter((_, i) => i % 2 === 0)],
    study,
    series,
  };
}

/**
 * The label volume of {@link ctSeries}'s phantom, slice-major (`slices × size × size`): 1 inside an ellipsoid
 * centred in the volume, 2 inside a smaller sphere off its centre, 0 elsewhere.
 *
 * @example
 * ```ts
 * const labels = ellipsoidLabels(8, 64);
 * ```
 */
export function ellipsoidLabels(slices: number, size: number): Uint8Array {
  const out = new Uint8Array(slices * size * size);
  const c = size / 2;
  const cz = (slices - 1) / 2;
  for (let z = 0; z < slices; z++) {
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        const e =
          ((x - c) / (size * 0.3)) ** 2 + ((y - c) / (size * 0.2)) ** 2 + ((z - cz) / (slices * 0.35)) ** 2;
        const s =
          ((x - c * 1.4) / (size * 0.08)) ** 2 + ((y - c) / (size * 0.08)) ** 2 + ((z - cz) / 1.5) ** 2;
        out[(z * size + y) * size + x] = s <= 1 ? 2 : e <= 1 ? 1 : 0;
      }
    }
  }
  return out;
}
