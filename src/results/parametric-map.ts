/** Parametric Map (PS3.3 A.75, C.8.32) of float values on a source image's grid: a heatmap a viewer overlays without burned-in pixels. */
import { RadioLensError } from "../core/errors.js";
import { newUid } from "../radiology-reports/sr.js";
import { CODES } from "./codes.js";
import { type AlgorithmIdentity, contributingEquipment, dicomDate, dicomTime, lo } from "./equipment.js";
import { type NaturalDataset, writePart10 } from "./part10.js";
import type { SourceSeries } from "./source.js";

/**
 * Parametric Map Storage SOP Class (PS3.4 B.5).
 *
 * @example
 * ```ts
 * ds.SOPClassUID === PARAMETRIC_MAP_SOP_CLASS;
 * ```
 */
export const PARAMETRIC_MAP_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.30";

// Image Type values 3 and 4 (C.8.16.1 Image Flavor, Derived Pixel Contrast): a map derived by an algorithm.
const IMAGE_TYPE = ["DERIVED", "PRIMARY", "OTHER", "NONE"];

/** Options of {@link buildParametricMap}. */
export interface ParametricMapOptions {
  readonly algorithm: AlgorithmIdentity;
  /** What the values are (LUT Explanation, Content Description), e.g. "Grad-CAM, class pneumonia". */
  readonly description: string;
  readonly now?: Date;
  readonly SOPInstanceUID?: string;
  readonly SeriesInstanceUID?: string;
  readonly SeriesNumber?: number;
}

/**
 * Builds a single-frame-per-slice Parametric Map (naturalized): 32-bit float values in Float Pixel Data
 * (7FE0,0008), one frame per source image, on the source's grid and frame of reference (a new frame of reference
 * for a projection image that has none, which A.75 requires), each frame's Derivation Image pointing at its source
 * image, and a Real World Value Mapping of identity (unitless, C.7.6.16.2.11) so a viewer shows the stored values.
 *
 * @throws RadioLensError RL_ERR_SHAPE_MISMATCH when the values do not cover the source grid, RL_ERR_RESULT_INVALID
 *   for a non-finite value.
 * @example
 * ```ts
 * const pm = buildParametricMap(heatOnImageGrid, sourceSeriesOf([parsed]), { algorithm, description: "Grad-CAM" });
 * ```
 */
export function buildParametricMap(
  values: Float32Array,
  series: SourceSeries,
  opts: ParametricMapOptions,
): NaturalDataset {
  const frames = series.images.length;
  const plane = series.Rows * series.Columns;
  if (frames === 0 || values.length !== frames * plane) {
    throw new RadioLensError("RL_ERR_SHAPE_MISMATCH", {
      detail: `the map has ${values.length} values; the source grid has ${frames} × ${series.Rows} × ${series.Columns}`,
    });
  }
  const now = opts.now ?? new Date();
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  for (const v of values) {
    if (!Number.isFinite(v))
      throw new RadioLensError("RL_ERR_RESULT_INVALID", { detail: "the map has a non-finite value" });
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const geometric =
    series.ImageOrientationPatient !== undefined && series.images.every((i) => i.ImagePositionPatient);
  const dim = newUid();
  const perFrame = series.images.map((im, k) => ({
    DerivationImageSequence: [
      {
        SourceImageSequence: [
          {
            ReferencedSOPClassUID: im.SOPClassUID,
            ReferencedSOPInstanceUID: im.SOPInstanceUID,
            PurposeOfReferenceCodeSequence: [CODES.sourceImageForProcessing],
          },
        ],
        DerivationCodeSequence: [
          { CodeValue: "113085", CodingSchemeDesignator: "DCM", CodeMeaning: "Spatial resampling" },
        ],
      },
    ],
    FrameContentSequence: [{ DimensionIndexValues: [k + 1] }],
    ...(geometric
      ? { PlanePositionSequence: [{ ImagePositionPatient: [...(im.ImagePositionPatient ?? [])] }] }
      : {}),
  }));
  const shared: NaturalDataset = {
    PixelMeasuresSequence: [
      {
        PixelSpacing: [...(series.PixelSpacing ?? [1, 1])],
        SliceThickness: series.SliceSpacing ?? 1,
      },
    ],
    PlaneOrientationSequence: [
      { ImageOrientationPatient: [...(series.ImageOrientationPatient ?? [1, 0, 0, 0, 1, 0])] },
    ],
    ...(geometric ? {} : { PlanePositionSequence: [{ ImagePositionPatient: [0, 0, 0] }] }),
    RealWorldValueMappingSequence: [
      {
        DoubleFloatRealWorldValueFirstValueMapped: min,
        DoubleFloatRealWorldValueLastValueMapped: max,
        RealWorldValueIntercept: 0,
        RealWorldValueSlope: 1,
        LUTExplanation: lo(opts.description),
        LUTLabel: "AI_MAP",
        MeasurementUnitsCodeSequence: [CODES.noUnits],
      },
    ],
    // Identity Pixel Value Transformation (C.7.6.16.2.9b) and Parametric Map Frame Type (C.8.32.3.1).
    PixelValueTransformationSequence: [{ RescaleIntercept: 0, RescaleSlope: 1, RescaleType: "US" }],
    ParametricMapFrameTypeSequence: [{ FrameType: IMAGE_TYPE }],
    // LINEAR_EXACT (C.11.2.1.3.2): the window spans exactly [min, max], even when narrower than 1.
    FrameVOILUTSequence: [
      {
        WindowCenter: Number(((min + max) / 2).toPrecision(8)),
        WindowWidth: Number(Math.max(max - min, 1e-6).toPrecision(8)),
        VOILUTFunction: "LINEAR_EXACT",
      },
    ],
  };
  const pixels = new Float32Array(values);
  return {
    SOPClassUID: PARAMETRIC_MAP_SOP_CLASS,
    SOPInstanceUID: opts.SOPInstanceUID ?? newUid(),
    InstanceCreationDate: dicomDate(now),
    InstanceCreationTime: dicomTime(now),
    ContributingEquipmentSequence: contributingEquipment(opts.algorithm, now),
    PatientName: series.PatientName ?? "",
    PatientID: series.PatientID ?? "",
    PatientBirthDate: series.PatientBirthDate ?? "",
    PatientSex: series.PatientSex ?? "",
    StudyInstanceUID: series.StudyInstanceUID,
    StudyDate: series.StudyDate ?? "",
    StudyTime: series.StudyTime ?? "",
    StudyID: series.StudyID ?? "",
    AccessionNumber: series.AccessionNumber ?? "",
    ReferringPhysicianName: series.ReferringPhysicianName ?? "",
    // Parametric Map Series (C.8.32.1).
    Modality: "OT",
    SeriesInstanceUID: opts.SeriesInstanceUID ?? newUid(),
    SeriesNumber: opts.SeriesNumber ?? 995,
    SeriesDescription: lo(`AI map: ${opts.description}`),
    // General Series (C.7.3.1) Type 2C: the source's laterality is not carried over, so it is empty.
    Laterality: "",
    FrameOfReferenceUID: series.FrameOfReferenceUID ?? newUid(),
    PositionReferenceIndicator: "",
    Manufacturer: lo(opts.algorithm.manufacturer ?? "RadioLens"),
    ManufacturerModelName: lo(opts.algorithm.name),
    DeviceSerialNumber: "1",
    SoftwareVersions: lo(opts.algorithm.version),
    // Parametric Map Image (C.8.32.2) with the Content Identification Macro.
    ImageType: IMAGE_TYPE,
    InstanceNumber: 1,
    ContentDate: dicomDate(now),
    ContentTime: dicomTime(now),
    ContentLabel: "AI_MAP",
    ContentDescription: lo(opts.description),
    ContentCreatorName: "",
    ContentQualification: "RESEARCH",
    SamplesPerPixel: 1,
    PhotometricInterpretation: "MONOCHROME2",
    Rows: series.Rows,
    Columns: series.Columns,
    BitsAllocated: 32,
    PresentationLUTShape: "IDENTITY",
    LossyImageCompression: "00",
    BurnedInAnnotation: "NO",
    RecognizableVisualFeatures: "NO",
    AcquisitionContextSequence: [],
    NumberOfFrames: frames,
    SharedFunctionalGroupsSequence: [shared],
    PerFrameFunctionalGroupsSequence: perFrame,
    DimensionOrganizationSequence: [{ DimensionOrganizationUID: dim }],
    DimensionIndexSequence: [
      {
        DimensionOrganizationUID: dim,
        DimensionIndexPointer: "00209157",
        FunctionalGroupPointer: "00209111",
        DimensionDescriptionLabel: "Frame",
      },
    ],
    ReferencedSeriesSequence: [
      {
        SeriesInstanceUID: series.SeriesInstanceUID,
        ReferencedInstanceSequence: series.images.map((im) => ({
          ReferencedSOPClassUID: im.SOPClassUID,
          ReferencedSOPInstanceUID: im.SOPInstanceUID,
        })),
      },
    ],
    FloatPixelData: pixels.buffer,
  };
}

/**
 * {@link buildParametricMap} encoded as a Part 10 file.
 *
 * @example
 * ```ts
 * writeFileAtomic("map.dcm", writeParametricMap(values, series, opts));
 * ```
 */
export function writeParametricMap(
  values: Float32Array,
  series: SourceSeries,
  opts: ParametricMapOptions,
): Uint8Array {
  return writePart10(buildParametricMap(values, series, opts));
}
