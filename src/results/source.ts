/** The source images a result refers to: patient/study attributes and the series geometry, read from DICOM headers. */
import { RadioLensError } from "../core/errors.js";
import type { ParsedDicom } from "../io/dicom/index.js";
import { orderSeries } from "../io/dicom/series.js";
import type { StudyAttributes } from "../io/dicom/study.js";

export type { StudyAttributes } from "../io/dicom/study.js";

/** One source image (a slice of the series, or the single image of a radiograph). */
export interface SourceImage {
  readonly SOPClassUID: string;
  readonly SOPInstanceUID: string;
  /** Image Position (Patient) (0020,0032), mm, LPS; absent for projection images. */
  readonly ImagePositionPatient?: readonly number[];
}

/**
 * A source series and its geometry: what a Segmentation needs to place its frames (PS3.3 C.7.6.2 Image Plane).
 * `images` are in the order of the label volume's slices.
 */
export interface SourceSeries extends StudyAttributes {
  readonly SeriesInstanceUID: string;
  readonly FrameOfReferenceUID?: string;
  readonly Rows: number;
  readonly Columns: number;
  /** Row then column direction cosines (0020,0037). */
  readonly ImageOrientationPatient?: readonly number[];
  /** Row spacing then column spacing (0028,0030), mm. */
  readonly PixelSpacing?: readonly [number, number];
  /** Distance between slice centres along the normal, mm (the slice thickness of the SEG's voxels). */
  readonly SliceSpacing?: number;
  readonly images: readonly SourceImage[];
}

const STUDY_KEYS = [
  "PatientID",
  "PatientBirthDate",
  "PatientSex",
  "StudyDate",
  "StudyTime",
  "StudyID",
  "AccessionNumber",
] as const;

/**
 * The study attributes of a parsed instance.
 *
 * @example
 * ```ts
 * const study = studyAttributesOf(parseDicom(bytes));
 * ```
 */
export function studyAttributesOf(p: ParsedDicom): StudyAttributes {
  const ds = p.dataset;
  const study = ds.uid("StudyInstanceUID");
  if (!study)
    throw new RadioLensError("RL_ERR_RESULT_SOURCE_INVALID", {
      detail: "source image lacks StudyInstanceUID",
    });
  const out: Record<string, string> = { StudyInstanceUID: study };
  for (const k of STUDY_KEYS) {
    const v = ds.string(k);
    if (v !== undefined) out[k] = v;
  }
  for (const k of ["PatientName", "ReferringPhysicianName"] as const) {
    const v = ds.rawString(k);
    if (v !== undefined) out[k] = v.trim();
  }
  return out as unknown as StudyAttributes;
}

/**
 * Reads the geometry of one series from its parsed instances (headers only), slices ordered along the normal as
 * {@link orderSeries} orders them for the volume a model sees, so label slice k lies on `images[k]`.
 *
 * @throws DicomError DICOM_SERIES for several series or mixed geometry; RadioLensError RL_ERR_RESULT_SOURCE_INVALID
 *   for an instance without UIDs.
 * @example
 * ```ts
 * const series = sourceSeriesOf(files.map((f) => readDicomFile(f, { untilTag: 0x7fe00010 })));
 * ```
 */
export function sourceSeriesOf(instances: readonly ParsedDicom[]): SourceSeries {
  const o = orderSeries(instances);
  const first = o.slices[0] as ParsedDicom;
  const images = o.slices.map((p): SourceImage => {
    const cls = p.dataset.uid("SOPClassUID");
    const inst = p.dataset.uid("SOPInstanceUID");
    if (!cls || !inst) {
      throw new RadioLensError("RL_ERR_RESULT_SOURCE_INVALID", {
        detail: "source image lacks SOPClassUID or SOPInstanceUID",
      });
    }
    const ipp = p.dataset.numbers("ImagePositionPatient");
    return {
      SOPClassUID: cls,
      SOPInstanceUID: inst,
      ...(ipp.length === 3 ? { ImagePositionPatient: ipp } : {}),
    };
  });
  const frame = first.dataset.uid("FrameOfReferenceUID");
  const spacing = first.dataset.numbers("PixelSpacing");
  return {
    ...studyAttributesOf(first),
    SeriesInstanceUID: first.dataset.uid("SeriesInstanceUID") ?? "",
    ...(frame ? { FrameOfReferenceUID: frame } : {}),
    Rows: o.rows,
    Columns: o.columns,
    ...(first.dataset.numbers("ImageOrientationPatient").length === 6
      ? { ImageOrientationPatient: o.orientation }
      : {}),
    ...(spacing.length === 2 ? { PixelSpacing: [o.pixelSpacing[1], o.pixelSpacing[0]] as const } : {}),
    ...(o.slices.length > 1 ? { SliceSpacing: o.sliceSpacing } : {}),
    images,
  };
}
