/** DICOM Segmentation (PS3.3 A.51, C.8.20) from a label volume on a source series: binary or fractional, one frame per segment and slice. */
import { RadioLensError } from "../core/errors.js";
import { newUid } from "../radiology-reports/sr.js";
import { CODES, type Code } from "./codes.js";
import { type AlgorithmIdentity, contributingEquipment, dicomDate, dicomTime, lo } from "./equipment.js";
import { type NaturalDataset, writePart10 } from "./part10.js";
import type { SourceSeries, StudyAttributes } from "./source.js";

/**
 * Segmentation Storage SOP Class (PS3.4 B.5).
 *
 * @example
 * ```ts
 * ds.SOPClassUID === SEGMENTATION_SOP_CLASS;
 * ```
 */
export const SEGMENTATION_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.66.4";

/** One segment: a label value of the volume and what it is (C.8.20.4 Segment Description Macro). */
export interface SegmentSpec {
  /** The label value in the volume (1..). */
  readonly labelValue: number;
  /** Segment Label (LO). */
  readonly label: string;
  /** Segmented Property Category (CID 7150); default "Tissue". */
  readonly category?: Code;
  /** Segmented Property Type (CID 7151 and its families); default "Anatomical Structure". */
  readonly type?: Code;
  /** Recommended Display CIELab Value (0062,000D), scaled 0..65535 as PS3.3 C.10.7.1.1 defines. */
  readonly cielab?: readonly [number, number, number];
}

/** Options of {@link buildSegmentation}. */
export interface SegmentationOptions {
  readonly algorithm: AlgorithmIdentity;
  readonly segments: readonly SegmentSpec[];
  /**
   * "BINARY" (1 bit per pixel, from `labels`) or "FRACTIONAL" (8 bits, Segmentation Fractional Type
   * PROBABILITY, from `probabilities`: one map per segment in `segments` order, values in [0, 1]).
   */
  readonly type?: "BINARY" | "FRACTIONAL";
  readonly probabilities?: readonly Float32Array[];
  readonly now?: Date;
  readonly SOPInstanceUID?: string;
  readonly SeriesInstanceUID?: string;
  readonly SeriesNumber?: number;
  readonly SeriesDescription?: string;
}

/** Largest fractional value (0062,000E): a probability p is stored as round(p · 255). */
export const MAX_FRACTIONAL_VALUE = 255;

function copyStudy(s: StudyAttributes): NaturalDataset {
  return {
    PatientName: s.PatientName ?? "",
    PatientID: s.PatientID ?? "",
    PatientBirthDate: s.PatientBirthDate ?? "",
    PatientSex: s.PatientSex ?? "",
    StudyInstanceUID: s.StudyInstanceUID,
    StudyDate: s.StudyDate ?? "",
    StudyTime: s.StudyTime ?? "",
    StudyID: s.StudyID ?? "",
    AccessionNumber: s.AccessionNumber ?? "",
    ReferringPhysicianName: s.ReferringPhysicianName ?? "",
  };
}

/**
 * Builds the Segmentation dataset (naturalized) for a label volume on its source series. `labels` holds
 * `images.length × Rows × Columns` label values, slice-major in the order of `series.images`. Frames follow
 * the Multi-frame Functional Groups (C.7.6.16): per frame the Segment Identification (Referenced Segment
 * Number), Plane Position, Frame Content (Dimension Index Values: segment, slice) and Derivation Image
 * (the source slice, purpose DCM 121322); shared Plane Orientation and Pixel Measures. A frame is written for
 * every segment and slice where the segment is present (as dcmqi and highdicom do), and at least one frame.
 * Binary frames are packed 1 bit per pixel, LSB first, contiguously across frames (PS3.5 8.1.1).
 *
 * @throws RadioLensError RL_ERR_SHAPE_MISMATCH when the volume or the probabilities do not match the series,
 *   RL_ERR_RESULT_INVALID without segments or probability maps, RL_ERR_RESULT_SOURCE_INVALID for an empty series.
 * @example
 * ```ts
 * const seg = buildSegmentation(labels, sourceSeriesOf(parsed), { algorithm: { name: "unet", version: "1" },
 *   segments: [{ labelValue: 1, label: "Anterior hippocampus" }] });
 * ```
 */
export function buildSegmentation(
  labels: ArrayLike<number>,
  series: SourceSeries,
  opts: SegmentationOptions,
): NaturalDataset {
  const { Rows: rows, Columns: cols } = series;
  const nSlices = series.images.length;
  const plane = rows * cols;
  const type = opts.type ?? "BINARY";
  const bad = (detail: string): RadioLensError => new RadioLensError("RL_ERR_RESULT_INVALID", { detail });
  if (nSlices === 0)
    throw new RadioLensError("RL_ERR_RESULT_SOURCE_INVALID", { detail: "the source series has no images" });
  if (labels.length !== nSlices * plane) {
    throw new RadioLensError("RL_ERR_SHAPE_MISMATCH", {
      detail: `the label volume has ${labels.length} voxels; the series needs ${nSlices} × ${rows} × ${cols}`,
    });
  }
  if (opts.segments.length === 0) throw bad("a segmentation needs at least one segment");
  if (type === "FRACTIONAL" && opts.probabilities?.length !== opts.segments.length) {
    throw bad("a fractional segmentation needs one probability map per segment");
  }
  for (const [i, p] of (opts.probabilities ?? []).entries()) {
    if (p.length !== nSlices * plane) {
      throw new RadioLensError("RL_ERR_SHAPE_MISMATCH", {
        detail: `probability map ${i + 1} does not match the label volume`,
      });
    }
  }
  const now = opts.now ?? new Date();
  const multiSlice = nSlices > 1 || series.images[0]?.ImagePositionPatient !== undefined;

  // Frames: (segment, slice) pairs where the segment is present.
  const frames: { seg: number; slice: number; values: Uint8Array }[] = [];
  opts.segments.forEach((s, si) => {
    const prob = opts.probabilities?.[si];
    for (let z = 0; z < nSlices; z++) {
      const values = new Uint8Array(plane);
      let any = false;
      for (let i = 0; i < plane; i++) {
        const v =
          type === "BINARY"
            ? labels[z * plane + i] === s.labelValue
              ? 1
              : 0
            : Math.round(
                Math.min(1, Math.max(0, (prob as Float32Array)[z * plane + i] as number)) *
                  MAX_FRACTIONAL_VALUE,
              );
        values[i] = v;
        if (v) any = true;
      }
      if (any) frames.push({ seg: si + 1, slice: z, values });
    }
  });
  if (frames.length === 0) frames.push({ seg: 1, slice: 0, values: new Uint8Array(plane) });

  let pixels: Uint8Array;
  if (type === "BINARY") {
    const bits = frames.length * plane;
    pixels = new Uint8Array(Math.ceil(bits / 8) + (Math.ceil(bits / 8) & 1));
    let b = 0;
    for (const f of frames) {
      for (let i = 0; i < plane; i++, b++)
        if (f.values[i]) pixels[b >> 3] = (pixels[b >> 3] as number) | (1 << (b & 7));
    }
  } else {
    pixels = new Uint8Array(frames.length * plane + ((frames.length * plane) & 1));
    for (const [k, f] of frames.entries()) pixels.set(f.values, k * plane);
  }

  const dimensionOrganizationUid = newUid();
  const perFrame = frames.map((f) => {
    const img = series.images[f.slice] as (typeof series.images)[number];
    const item: NaturalDataset = {
      DerivationImageSequence: [
        {
          SourceImageSequence: [
            {
              ReferencedSOPClassUID: img.SOPClassUID,
              ReferencedSOPInstanceUID: img.SOPInstanceUID,
              PurposeOfReferenceCodeSequence: [CODES.sourceImageForProcessing],
            },
          ],
          DerivationCodeSequence: [CODES.segmentation],
        },
      ],
      FrameContentSequence: [{ DimensionIndexValues: multiSlice ? [f.seg, f.slice + 1] : [f.seg] }],
      SegmentIdentificationSequence: [{ ReferencedSegmentNumber: f.seg }],
    };
    if (img.ImagePositionPatient)
      item["PlanePositionSequence"] = [{ ImagePositionPatient: [...img.ImagePositionPatient] }];
    return item;
  });
  const shared: NaturalDataset = {};
  if (series.ImageOrientationPatient) {
    shared["PlaneOrientationSequence"] = [{ ImageOrientationPatient: [...series.ImageOrientationPatient] }];
  }
  if (series.PixelSpacing) {
    shared["PixelMeasuresSequence"] = [
      {
        PixelSpacing: [...series.PixelSpacing],
        SliceThickness: series.SliceSpacing ?? 1,
        ...(series.SliceSpacing ? { SpacingBetweenSlices: series.SliceSpacing } : {}),
      },
    ];
  }
  const dimensionIndex: NaturalDataset[] = [
    {
      DimensionOrganizationUID: dimensionOrganizationUid,
      DimensionIndexPointer: "0062000B",
      FunctionalGroupPointer: "0062000A",
      DimensionDescriptionLabel: "Segment Number",
    },
  ];
  if (multiSlice) {
    dimensionIndex.push({
      DimensionOrganizationUID: dimensionOrganizationUid,
      DimensionIndexPointer: "00200032",
      FunctionalGroupPointer: "00209113",
      DimensionDescriptionLabel: "Image Position Patient",
    });
  }

  const segmentSequence = opts.segments.map((s, i) => ({
    SegmentNumber: i + 1,
    SegmentLabel: lo(s.label),
    SegmentedPropertyCategoryCodeSequence: [s.category ?? CODES.tissue],
    SegmentedPropertyTypeCodeSequence: [s.type ?? CODES.anatomicalStructure],
    SegmentAlgorithmType: "AUTOMATIC",
    SegmentAlgorithmName: lo(opts.algorithm.name),
    ...(s.cielab ? { RecommendedDisplayCIELabValue: [...s.cielab] } : {}),
  }));
  const referenced = series.images.map((im) => ({
    ReferencedSOPClassUID: im.SOPClassUID,
    ReferencedSOPInstanceUID: im.SOPInstanceUID,
  }));

  return {
    _vrMap: { PixelData: "OB" },
    SOPClassUID: SEGMENTATION_SOP_CLASS,
    SOPInstanceUID: opts.SOPInstanceUID ?? newUid(),
    InstanceCreationDate: dicomDate(now),
    InstanceCreationTime: dicomTime(now),
    ContributingEquipmentSequence: contributingEquipment(opts.algorithm, now),
    ...copyStudy(series),
    // Segmentation Series (C.8.20.1) and General Series (C.7.3.1).
    Modality: "SEG",
    SeriesInstanceUID: opts.SeriesInstanceUID ?? newUid(),
    SeriesNumber: opts.SeriesNumber ?? 997,
    SeriesDescription: lo(
      opts.SeriesDescription ?? `AI segmentation, ${opts.algorithm.name} ${opts.algorithm.version}`,
    ),
    // Frame of Reference (C.7.4.1): the source's, so the SEG overlays it.
    ...(series.FrameOfReferenceUID
      ? { FrameOfReferenceUID: series.FrameOfReferenceUID, PositionReferenceIndicator: "" }
      : {}),
    // General Equipment (C.7.5.1) and Enhanced General Equipment (C.7.5.2).
    Manufacturer: lo(opts.algorithm.manufacturer ?? "RadioLens"),
    ManufacturerModelName: lo(opts.algorithm.name),
    DeviceSerialNumber: "1",
    SoftwareVersions: lo(opts.algorithm.version),
    // General Image (C.7.6.1) and Segmentation Image (C.8.20.2) with the Content Identification Macro.
    InstanceNumber: 1,
    ContentDate: dicomDate(now),
    ContentTime: dicomTime(now),
    ContentLabel: "SEGMENTATION",
    ContentDescription: lo(`${opts.algorithm.name} ${opts.algorithm.version}`),
    ContentCreatorName: "",
    ImageType: ["DERIVED", "PRIMARY"],
    SamplesPerPixel: 1,
    PhotometricInterpretation: "MONOCHROME2",
    Rows: rows,
    Columns: cols,
    BitsAllocated: type === "BINARY" ? 1 : 8,
    BitsStored: type === "BINARY" ? 1 : 8,
    HighBit: type === "BINARY" ? 0 : 7,
    PixelRepresentation: 0,
    LossyImageCompression: "00",
    SegmentationType: type,
    ...(type === "FRACTIONAL"
      ? { SegmentationFractionalType: "PROBABILITY", MaximumFractionalValue: MAX_FRACTIONAL_VALUE }
      : {}),
    SegmentSequence: segmentSequence,
    // Multi-frame Functional Groups (C.7.6.16) and Multi-frame Dimension (C.7.6.17).
    NumberOfFrames: frames.length,
    SharedFunctionalGroupsSequence: [shared],
    PerFrameFunctionalGroupsSequence: perFrame,
    DimensionOrganizationSequence: [{ DimensionOrganizationUID: dimensionOrganizationUid }],
    DimensionOrganizationType: multiSlice ? "3D" : "",
    DimensionIndexSequence: dimensionIndex,
    // Common Instance Reference (C.12.2): the source series.
    ReferencedSeriesSequence: [
      { SeriesInstanceUID: series.SeriesInstanceUID, ReferencedInstanceSequence: referenced },
    ],
    PixelData: pixels.buffer.slice(pixels.byteOffset, pixels.byteOffset + pixels.byteLength),
  };
}

/**
 * {@link buildSegmentation} encoded as a Part 10 file.
 *
 * @example
 * ```ts
 * writeFileAtomic("seg.dcm", writeSegmentation(labels, series, opts));
 * ```
 */
export function writeSegmentation(
  labels: ArrayLike<number>,
  series: SourceSeries,
  opts: SegmentationOptions,
): Uint8Array {
  return writePart10(buildSegmentation(labels, series, opts));
}
