/** SR TID 1500 Measurement Report (PS3.16) for AI results: classification findings with probabilities and segmentation measurements referencing the SEG. */
import { RadioLensError } from "../core/errors.js";
import { newUid } from "../radiology-reports/sr.js";
import { CODES, type Code } from "./codes.js";
import { type AlgorithmIdentity, contributingEquipment, dicomDate, dicomTime, lo } from "./equipment.js";
import type { SegmentMeasurement } from "./measurements.js";
import { type NaturalDataset, writePart10 } from "./part10.js";
import type { SourceImage, StudyAttributes } from "./source.js";

/**
 * Comprehensive SR Storage (PS3.4 B.5), the SOP class TID 1500 documents use here.
 *
 * @example
 * ```ts
 * ds.SOPClassUID === COMPREHENSIVE_SR;
 * ```
 */
export const COMPREHENSIVE_SR = "1.2.840.10008.5.1.4.1.1.88.33";

/** A source image with the series it belongs to. */
export interface ReferencedImage extends SourceImage {
  readonly SeriesInstanceUID: string;
}

/** One model output of a classifier (TID 1501 measurement group with a Probability). */
export interface ClassificationFinding {
  /** The finding (CID 6102-like codes; a local 99RADIOLENS code for a label without one). */
  readonly finding: Code;
  readonly probability: number;
  /** True when the probability was calibrated (temperature scaling, Guo et al. 2017). */
  readonly calibrated?: boolean;
  /** Model label, the Tracking Identifier. */
  readonly label: string;
}

/** One segment of a SEG with its measurements (TID 1411 Volumetric ROI). */
export interface SegmentFinding {
  readonly segmentNumber: number;
  readonly label: string;
  /** The segment's Segmented Property Type, the measurement group's Finding. */
  readonly type: Code;
  readonly measurement: SegmentMeasurement;
}

/** What {@link buildMeasurementReport} needs. */
export interface MeasurementReportInput {
  readonly algorithm: AlgorithmIdentity;
  readonly study: StudyAttributes;
  /** Every source image the results are about (the Image Library, TID 1600). */
  readonly images: readonly ReferencedImage[];
  readonly classification?: readonly ClassificationFinding[];
  readonly segmentation?: {
    readonly seg: { readonly SOPInstanceUID: string; readonly SeriesInstanceUID: string };
    readonly sourceSeriesInstanceUID: string;
    readonly segments: readonly SegmentFinding[];
  };
  readonly now?: Date;
  readonly SOPInstanceUID?: string;
  readonly SeriesInstanceUID?: string;
  readonly SeriesNumber?: number;
  /** Device Observer UID (TID 1004); default a new UID per document. */
  readonly DeviceObserverUID?: string;
}

type Item = Record<string, unknown>;

const SEG_CLASS = "1.2.840.10008.5.1.4.1.1.66.4";

const contentItem = (rel: string, valueType: string, concept: Code | undefined, extra: Item = {}): Item => ({
  RelationshipType: rel,
  ValueType: valueType,
  ...(concept ? { ConceptNameCodeSequence: [concept] } : {}),
  ...extra,
});

const num = (concept: Code, value: number, units: Code, extra: Item[] = []): Item =>
  contentItem("CONTAINS", "NUM", concept, {
    // DS: at most 16 characters (PS3.5 6.2).
    MeasuredValueSequence: [
      { NumericValue: Number(value.toPrecision(10)), MeasurementUnitsCodeSequence: [units] },
    ],
    ...(extra.length ? { ContentSequence: extra } : {}),
  });

function tracking(label: string): Item[] {
  return [
    contentItem("HAS OBS CONTEXT", "TEXT", CODES.trackingIdentifier, { TextValue: lo(label) }),
    contentItem("HAS OBS CONTEXT", "UIDREF", CODES.trackingUid, { UID: newUid() }),
  ];
}

/**
 * Builds the TID 1500 Measurement Report (naturalized): root CONTAINER (DCM 126000) with Content Template
 * DCMR 1500; Language (TID 1204); the algorithm as Device observer (TID 1001/1004); Procedure Reported; an Image
 * Library (TID 1600) of the source images; Imaging Measurements (DCM 126010) holding one Measurement Group per
 * classifier output (TID 1501: tracking identifier and UID, Finding, NUM Probability with the Measurement
 * Method "temperature-scaled" when calibrated) and one per segment (TID 1411: Referenced Segment → the SEG and
 * its segment number, Source series for segmentation, NUM Volume / Area / Long Axis). The Contributing Equipment
 * Sequence names the algorithm (PS3.3 C.12.1); Current Requested Procedure Evidence lists every reference.
 *
 * @throws RadioLensError RL_ERR_RESULT_SOURCE_INVALID without source images, RL_ERR_RESULT_INVALID without results.
 * @example
 * ```ts
 * const ds = buildMeasurementReport({ algorithm, study, images, classification: [{ finding, probability: 0.8, label: "pneumonia" }] });
 * ```
 */
export function buildMeasurementReport(input: MeasurementReportInput): NaturalDataset {
  if (input.images.length === 0) {
    throw new RadioLensError("RL_ERR_RESULT_SOURCE_INVALID", {
      detail: "a measurement report needs its source images",
    });
  }
  if (!input.classification?.length && !input.segmentation?.segments.length) {
    throw new RadioLensError("RL_ERR_RESULT_INVALID", {
      detail: "a measurement report needs findings or segments",
    });
  }
  const now = input.now ?? new Date();
  const algo = input.algorithm;
  const imageRef = (im: { SOPClassUID: string; SOPInstanceUID: string }, extra: Item = {}): Item => ({
    ReferencedSOPSequence: [
      { ReferencedSOPClassUID: im.SOPClassUID, ReferencedSOPInstanceUID: im.SOPInstanceUID, ...extra },
    ],
  });
  const groups: Item[] = [];
  for (const f of input.classification ?? []) {
    const method = f.calibrated
      ? [
          contentItem("HAS CONCEPT MOD", "CODE", CODES.measurementMethod, {
            ConceptCodeSequence: [CODES.calibratedProbability],
          }),
        ]
      : [];
    groups.push(
      contentItem("CONTAINS", "CONTAINER", CODES.measurementGroup, {
        ContinuityOfContent: "SEPARATE",
        ContentTemplateSequence: [{ MappingResource: "DCMR", TemplateIdentifier: "1501" }],
        ContentSequence: [
          ...tracking(f.label),
          contentItem("CONTAINS", "CODE", CODES.finding, { ConceptCodeSequence: [f.finding] }),
          // The source images are in the Image Library; pixelmed's TID 1500 validator reads image references
          // inside this group as a TID 1410/1411 region group, so none are repeated here.
          num(CODES.probability, Math.min(1, Math.max(0, f.probability)), CODES.noUnits, method),
        ],
      }),
    );
  }
  const seg = input.segmentation;
  for (const s of seg?.segments ?? []) {
    const m = s.measurement;
    groups.push(
      contentItem("CONTAINS", "CONTAINER", CODES.measurementGroup, {
        ContinuityOfContent: "SEPARATE",
        ContentTemplateSequence: [{ MappingResource: "DCMR", TemplateIdentifier: "1411" }],
        ContentSequence: [
          ...tracking(s.label),
          contentItem("CONTAINS", "CODE", CODES.finding, { ConceptCodeSequence: [s.type] }),
          contentItem(
            "CONTAINS",
            "IMAGE",
            CODES.referencedSegment,
            imageRef(
              { SOPClassUID: SEG_CLASS, SOPInstanceUID: (seg as NonNullable<typeof seg>).seg.SOPInstanceUID },
              { ReferencedSegmentNumber: s.segmentNumber },
            ),
          ),
          contentItem("CONTAINS", "UIDREF", CODES.sourceSeriesForSegmentation, {
            UID: (seg as NonNullable<typeof seg>).sourceSeriesInstanceUID,
          }),
          ...(m.volumeMm3 !== undefined ? [num(CODES.volume, m.volumeMm3, CODES.cubicMillimeter)] : []),
          num(CODES.area, m.areaMm2, CODES.squareMillimeter),
          num(CODES.longAxis, m.longAxisMm, CODES.millimeter),
        ],
      }),
    );
  }
  const content: Item[] = [
    contentItem("HAS CONCEPT MOD", "CODE", CODES.language, { ConceptCodeSequence: [CODES.englishUS] }),
    contentItem("HAS OBS CONTEXT", "CODE", CODES.observerType, { ConceptCodeSequence: [CODES.device] }),
    contentItem("HAS OBS CONTEXT", "UIDREF", CODES.deviceObserverUid, {
      UID: input.DeviceObserverUID ?? newUid(),
    }),
    contentItem("HAS OBS CONTEXT", "TEXT", CODES.deviceObserverName, { TextValue: lo(algo.name) }),
    contentItem("HAS OBS CONTEXT", "TEXT", CODES.deviceObserverManufacturer, {
      TextValue: lo(algo.manufacturer ?? "RadioLens"),
    }),
    contentItem("HAS OBS CONTEXT", "TEXT", CODES.deviceObserverModelName, {
      TextValue: lo(`${algo.name} ${algo.version}`),
    }),
    contentItem("HAS CONCEPT MOD", "CODE", CODES.procedureReported, {
      ConceptCodeSequence: [CODES.imagingProcedure],
    }),
    contentItem("CONTAINS", "CONTAINER", CODES.imageLibrary, {
      ContinuityOfContent: "SEPARATE",
      ContentSequence: [
        contentItem("CONTAINS", "CONTAINER", CODES.imageLibraryGroup, {
          ContinuityOfContent: "SEPARATE",
          ContentSequence: input.images.map((im) =>
            contentItem("CONTAINS", "IMAGE", undefined, imageRef(im)),
          ),
        }),
      ],
    }),
    contentItem("CONTAINS", "CONTAINER", CODES.imagingMeasurements, {
      ContinuityOfContent: "SEPARATE",
      ContentSequence: groups,
    }),
  ];
  // Evidence (C.17.2.2): every referenced instance, grouped by series.
  const bySeries = new Map<string, Item[]>();
  const add = (series: string, cls: string, uid: string): void => {
    const list = bySeries.get(series) ?? [];
    list.push({ ReferencedSOPClassUID: cls, ReferencedSOPInstanceUID: uid });
    bySeries.set(series, list);
  };
  for (const im of input.images) add(im.SeriesInstanceUID, im.SOPClassUID, im.SOPInstanceUID);
  if (seg) add(seg.seg.SeriesInstanceUID, SEG_CLASS, seg.seg.SOPInstanceUID);
  const s = input.study;
  const text = JSON.stringify(content) + (s.PatientName ?? "");
  return {
    SOPClassUID: COMPREHENSIVE_SR,
    SOPInstanceUID: input.SOPInstanceUID ?? newUid(),
    // UTF-8 only when the text needs it (PS3.3 C.12.1.1.2).
    ...(/[^\x20-\x7e\n]/.test(text) ? { SpecificCharacterSet: "ISO_IR 192" } : {}),
    InstanceCreationDate: dicomDate(now),
    InstanceCreationTime: dicomTime(now),
    ContributingEquipmentSequence: contributingEquipment(algo, now),
    // A local code needs its scheme declared (PS3.3 C.12.1.1.3).
    ...(text.includes('"99RADIOLENS"')
      ? {
          CodingSchemeIdentificationSequence: [
            {
              CodingSchemeDesignator: "99RADIOLENS",
              CodingSchemeName: "RadioLens local codes",
              CodingSchemeResponsibleOrganization: "RadioLens",
            },
          ],
        }
      : {}),
    StudyDate: s.StudyDate ?? "",
    StudyTime: s.StudyTime ?? "",
    ContentDate: dicomDate(now),
    ContentTime: dicomTime(now),
    AccessionNumber: s.AccessionNumber ?? "",
    Modality: "SR",
    Manufacturer: lo(algo.manufacturer ?? "RadioLens"),
    ManufacturerModelName: lo(algo.name),
    SoftwareVersions: lo(algo.version),
    ReferringPhysicianName: s.ReferringPhysicianName ?? "",
    SeriesDescription: lo(`AI measurement report, ${algo.name} ${algo.version}`),
    ReferencedPerformedProcedureStepSequence: [],
    PatientName: s.PatientName ?? "",
    PatientID: s.PatientID ?? "",
    PatientBirthDate: s.PatientBirthDate ?? "",
    PatientSex: s.PatientSex ?? "",
    StudyInstanceUID: s.StudyInstanceUID,
    SeriesInstanceUID: input.SeriesInstanceUID ?? newUid(),
    StudyID: s.StudyID ?? "",
    SeriesNumber: input.SeriesNumber ?? 996,
    InstanceNumber: 1,
    ValueType: "CONTAINER",
    ConceptNameCodeSequence: [CODES.imagingMeasurementReport],
    ContentTemplateSequence: [{ MappingResource: "DCMR", TemplateIdentifier: "1500" }],
    ContinuityOfContent: "SEPARATE",
    CompletionFlag: "COMPLETE",
    VerificationFlag: "UNVERIFIED",
    CurrentRequestedProcedureEvidenceSequence: [
      {
        StudyInstanceUID: s.StudyInstanceUID,
        ReferencedSeriesSequence: [...bySeries].map(([SeriesInstanceUID, ReferencedSOPSequence]) => ({
          SeriesInstanceUID,
          ReferencedSOPSequence,
        })),
      },
    ],
    PerformedProcedureCodeSequence: [],
    ContentSequence: content,
  };
}

/**
 * {@link buildMeasurementReport} encoded as a Part 10 file.
 *
 * @example
 * ```ts
 * writeFileAtomic("sr.dcm", writeMeasurementReport(input));
 * ```
 */
export function writeMeasurementReport(input: MeasurementReportInput): Uint8Array {
  return writePart10(buildMeasurementReport(input));
}
