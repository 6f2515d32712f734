/** Writes a model's chest X-ray report as a DICOM Comprehensive SR (PS3.3 A.35.3) with dcmjs, referencing the source image. */
import { randomUUID } from "node:crypto";
import { createRequire } from "node:module";
import { RadioLensError } from "../core/errors.js";
import type { StudyAttributes } from "../io/dicom/study.js";
import codesData from "./data/sr-codes.json" with { type: "json" };
import type { GeneratedReport, RegionBox } from "./generate.js";

/** Comprehensive SR Storage SOP Class (PS3.4 B.5). */
export const COMPREHENSIVE_SR_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.88.33";
const EXPLICIT_VR_LITTLE_ENDIAN = "1.2.840.10008.1.2.1";

/** A coded concept (PS3.3 Table 8.8-1: CodeValue, CodingSchemeDesignator, CodeMeaning). */
export interface CodedConcept {
  readonly value: string;
  readonly scheme: string;
  readonly meaning: string;
}

/** The image the report is about, and the patient/study attributes the SR copies from it. */
export interface SourceImageRef extends StudyAttributes {
  readonly SOPClassUID: string;
  readonly SOPInstanceUID: string;
  readonly SeriesInstanceUID: string;
  readonly Columns?: number;
  readonly Rows?: number;
}

/** Options of {@link buildComprehensiveSR}. */
export interface SrOptions {
  /** Creation time (default now); fixed in tests for reproducible files. */
  readonly now?: Date;
  /** UIDs for the new series, instance and device (default: fresh 2.25 UUID-derived UIDs, PS3.5 B.2). */
  readonly SeriesInstanceUID?: string;
  readonly SOPInstanceUID?: string;
  readonly DeviceObserverUID?: string;
  readonly Manufacturer?: string;
  readonly SeriesNumber?: number;
  readonly InstanceNumber?: number;
}

interface DcmjsData {
  DicomMetaDictionary: {
    denaturalizeDataset(ds: Record<string, unknown>): Record<string, unknown>;
    naturalizeDataset(ds: Record<string, unknown>): Record<string, unknown>;
  };
  DicomDict: new (
    meta: Record<string, unknown>,
  ) => { dict: Record<string, unknown>; write(opts?: Record<string, unknown>): ArrayBuffer };
  DicomMessage: {
    readFile(
      buf: ArrayBuffer,
      opts?: Record<string, unknown>,
    ): { dict: Record<string, unknown>; meta: Record<string, unknown> };
  };
}

/** dcmjs ships a UMD bundle without type declarations; this is the part of its API used here. */
function dcmjsData(): DcmjsData {
  const require = createRequire(import.meta.url);
  return (require("dcmjs") as { data: DcmjsData }).data;
}

/**
 * A new UID under the 2.25 root derived from a random UUID (PS3.5 B.2).
 *
 * @example
 * ```ts
 * newUid(); // "2.25.3296...."
 * ```
 */
export function newUid(): string {
  return `2.25.${BigInt(`0x${randomUUID().replace(/-/g, "")}`).toString()}`;
}

const codes = codesData as unknown as Record<string, CodedConcept> & {
  findings: Record<string, CodedConcept>;
};

function code(c: CodedConcept): Record<string, unknown> {
  return { CodeValue: c.value, CodingSchemeDesignator: c.scheme, CodeMeaning: c.meaning };
}

type Item = Record<string, unknown>;

function item(rel: string, valueType: string, concept: CodedConcept | undefined, extra: Item = {}): Item {
  const o: Item = { RelationshipType: rel, ValueType: valueType };
  if (concept) o["ConceptNameCodeSequence"] = [code(concept)];
  return { ...o, ...extra };
}

const text = (rel: string, concept: CodedConcept, value: string): Item =>
  item(rel, "TEXT", concept, { TextValue: value });

function imageRef(src: SourceImageRef): Item {
  return {
    ReferencedSOPSequence: [
      { ReferencedSOPClassUID: src.SOPClassUID, ReferencedSOPInstanceUID: src.SOPInstanceUID },
    ],
  };
}

/**
 * The box as a closed POLYLINE in image pixel coordinates, (column,row) pairs with 0\0 the top left corner of
 * the top left pixel (PS3.3 C.18.6.1.2).
 */
function boxPolyline(b: RegionBox): number[] {
  const x2 = b.x + b.width;
  const y2 = b.y + b.height;
  return [b.x, b.y, x2, b.y, x2, y2, b.x, y2, b.x, b.y];
}

const pad = (n: number, w = 2): string => String(n).padStart(w, "0");
const dicomDate = (d: Date): string =>
  `${d.getUTCFullYear()}${pad(d.getUTCMonth() + 1)}${pad(d.getUTCDate())}`;
const dicomTime = (d: Date): string =>
  `${pad(d.getUTCHours())}${pad(d.getUTCMinutes())}${pad(d.getUTCSeconds())}`;

/**
 * Builds the SR dataset (naturalized dcmjs keywords). Structure, a simple diagnostic-report tree without a
 * template claim:
 * CONTAINER (LN 18748-4 Diagnostic Imaging Report), with language and device observer context (TID 1004 items),
 * an Image Library (DCM 111028) holding the source IMAGE, a Findings section (LN 59776-5) with one CODE
 * (DCM 121071 Finding) per positive finding → HAS PROPERTIES NUM (DCM 122157 Probability) and, with Grad-CAM,
 * INFERRED FROM SCOORD (DCM 111030 Image Region) → SELECTED FROM IMAGE, and an Impressions section
 * (LN 19005-8) with the impression, confidence and decision-support statement.
 *
 * @example
 * ```ts
 * const ds = buildComprehensiveSR(report, source, { now: new Date(0) });
 * ds.SOPClassUID; // "1.2.840.10008.5.1.4.1.1.88.33"
 * ```
 */
export function buildComprehensiveSR(
  report: GeneratedReport,
  src: SourceImageRef,
  opts: SrOptions = {},
): Item {
  for (const k of ["SOPClassUID", "SOPInstanceUID", "StudyInstanceUID", "SeriesInstanceUID"] as const) {
    if (!/^[0-9]+(\.[0-9]+)*$/.test(src[k] ?? "") || (src[k] ?? "").length > 64) {
      throw new RadioLensError("RL_ERR_SR_SOURCE_INVALID", {
        detail: `source image ${k} '${src[k] ?? ""}' is not a valid UID; give the DICOM file the report is about`,
      });
    }
  }
  const now = opts.now ?? new Date();
  const sopInstanceUid = opts.SOPInstanceUID ?? newUid();
  const deviceUid = opts.DeviceObserverUID ?? newUid();
  const t = report.template;
  const findings: Item[] = report.positive.map((p) => {
    const children: Item[] = [
      item("HAS PROPERTIES", "NUM", codes["probability"], {
        MeasuredValueSequence: [
          { NumericValue: p.probability.toFixed(4), MeasurementUnitsCodeSequence: [code(codes["noUnits"]!)] },
        ],
      }),
    ];
    if (p.region) {
      children.push(
        item("INFERRED FROM", "SCOORD", codes["imageRegion"], {
          GraphicType: "POLYLINE",
          GraphicData: boxPolyline(p.region),
          ContentSequence: [item("SELECTED FROM", "IMAGE", undefined, imageRef(src))],
        }),
      );
    }
    return item("CONTAINS", "CODE", codes["finding"], {
      ConceptCodeSequence: [code(codes.findings[p.finding]!)],
      ContentSequence: children,
    });
  });
  const findingsText = report.findingsText.map((l) => text("CONTAINS", codes["finding"]!, l));
  const content: Item[] = [
    item("HAS CONCEPT MOD", "CODE", codes["language"], {
      ConceptCodeSequence: [code({ value: t.language.code, scheme: "RFC5646", meaning: t.language.meaning })],
    }),
    item("HAS OBS CONTEXT", "CODE", codes["observerType"], { ConceptCodeSequence: [code(codes["device"]!)] }),
    item("HAS OBS CONTEXT", "UIDREF", codes["deviceObserverUid"], { UID: deviceUid }),
    text("HAS OBS CONTEXT", codes["deviceObserverName"]!, report.model.name),
    text(
      "HAS OBS CONTEXT",
      codes["deviceObserverModelName"]!,
      `${report.model.name} ${report.model.version}`,
    ),
    text("HAS OBS CONTEXT", codes["algorithmName"]!, report.model.name),
    text("HAS OBS CONTEXT", codes["algorithmVersion"]!, report.model.version),
    item("CONTAINS", "CONTAINER", codes["imageLibrary"], {
      ContinuityOfContent: "SEPARATE",
      ContentSequence: [item("CONTAINS", "IMAGE", undefined, imageRef(src))],
    }),
    item("CONTAINS", "CONTAINER", codes["findingsSection"], {
      ContinuityOfContent: "SEPARATE",
      ContentSequence: [...findings, ...findingsText],
    }),
    item("CONTAINS", "CONTAINER", codes["impressionsSection"], {
      ContinuityOfContent: "SEPARATE",
      ContentSequence: [
        text("CONTAINS", codes["impression"]!, report.impression),
        text("CONTAINS", codes["comment"]!, report.confidence),
        text("CONTAINS", codes["comment"]!, report.disclaimer),
      ],
    }),
  ];
  return {
    SOPClassUID: COMPREHENSIVE_SR_SOP_CLASS,
    SOPInstanceUID: sopInstanceUid,
    // UTF-8 only when the text needs it (PS3.3 C.12.1.1.2); the default repertoire keeps old readers happy.
    ...(/[^\x20-\x7e\n]/.test(JSON.stringify(content) + (src.PatientName ?? ""))
      ? { SpecificCharacterSet: "ISO_IR 192" }
      : {}),
    InstanceCreationDate: dicomDate(now),
    InstanceCreationTime: dicomTime(now),
    StudyDate: src.StudyDate ?? "",
    StudyTime: src.StudyTime ?? "",
    ContentDate: dicomDate(now),
    ContentTime: dicomTime(now),
    AccessionNumber: src.AccessionNumber ?? "",
    Modality: "SR",
    Manufacturer: opts.Manufacturer ?? "RadioLens",
    ReferringPhysicianName: src.ReferringPhysicianName ?? "",
    SeriesDescription: "AI chest X-ray report (decision support)",
    ReferencedPerformedProcedureStepSequence: [],
    PatientName: src.PatientName ?? "",
    PatientID: src.PatientID ?? "",
    PatientBirthDate: src.PatientBirthDate ?? "",
    PatientSex: src.PatientSex ?? "",
    StudyInstanceUID: src.StudyInstanceUID,
    SeriesInstanceUID: opts.SeriesInstanceUID ?? newUid(),
    StudyID: src.StudyID ?? "",
    SeriesNumber: opts.SeriesNumber ?? 999,
    InstanceNumber: opts.InstanceNumber ?? 1,
    ValueType: "CONTAINER",
    ConceptNameCodeSequence: [code(codes["document"]!)],
    ContinuityOfContent: "SEPARATE",
    CompletionFlag: "COMPLETE",
    VerificationFlag: "UNVERIFIED",
    CurrentRequestedProcedureEvidenceSequence: [
      {
        StudyInstanceUID: src.StudyInstanceUID,
        ReferencedSeriesSequence: [
          {
            SeriesInstanceUID: src.SeriesInstanceUID,
            ReferencedSOPSequence: [
              { ReferencedSOPClassUID: src.SOPClassUID, ReferencedSOPInstanceUID: src.SOPInstanceUID },
            ],
          },
        ],
      },
    ],
    PerformedProcedureCodeSequence: [],
    ContentSequence: content,
  };
}

/**
 * Encodes the SR as a DICOM Part 10 file (explicit VR little endian).
 *
 * @example
 * ```ts
 * writeFileAtomic("report.dcm", writeComprehensiveSR(report, source));
 * ```
 */
export function writeComprehensiveSR(
  report: GeneratedReport,
  src: SourceImageRef,
  opts: SrOptions = {},
): Uint8Array {
  const data = dcmjsData();
  const ds = buildComprehensiveSR(report, src, opts);
  const meta = data.DicomMetaDictionary.denaturalizeDataset({
    FileMetaInformationVersion: new Uint8Array([0, 1]).buffer,
    MediaStorageSOPClassUID: ds["SOPClassUID"],
    MediaStorageSOPInstanceUID: ds["SOPInstanceUID"],
    TransferSyntaxUID: EXPLICIT_VR_LITTLE_ENDIAN,
    ImplementationClassUID: "2.25.156221371370112133404421392496744931081",
    ImplementationVersionName: "RADIOLENS",
  });
  const dict = new data.DicomDict(meta);
  dict.dict = data.DicomMetaDictionary.denaturalizeDataset(ds);
  return new Uint8Array(dict.write());
}

/**
 * Reads the UIDs and patient/study attributes an SR needs from a source DICOM file.
 *
 * @example
 * ```ts
 * const src = readSourceImageRef(readFileSync("cxr.dcm"));
 * ```
 */
export function readSourceImageRef(bytes: Uint8Array): SourceImageRef {
  const data = dcmjsData();
  let ds: Record<string, unknown>;
  try {
    const buf = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
    ds = data.DicomMetaDictionary.naturalizeDataset(
      data.DicomMessage.readFile(buf, { untilTag: "7FE00010" }).dict,
    );
  } catch (e) {
    throw new RadioLensError(
      "RL_ERR_DICOM",
      { detail: `source image is not readable DICOM: ${(e as Error).message}` },
      { cause: e },
    );
  }
  const s = (k: string): string | undefined => {
    const v = ds[k];
    if (typeof v === "string") return v;
    if (typeof v === "number") return String(v);
    if (Array.isArray(v) && v.length > 0) {
      const first = v[0] as unknown;
      if (typeof first === "string") return first;
      if (first && typeof first === "object" && "Alphabetic" in first)
        return String((first as { Alphabetic: string }).Alphabetic);
    }
    if (v && typeof v === "object" && "Alphabetic" in v)
      return String((v as { Alphabetic: string }).Alphabetic);
    return undefined;
  };
  const required = ["SOPClassUID", "SOPInstanceUID", "StudyInstanceUID", "SeriesInstanceUID"] as const;
  const missing = required.filter((k) => !s(k));
  if (missing.length > 0) {
    throw new RadioLensError("RL_ERR_SR_SOURCE_INVALID", {
      detail: `source image lacks ${missing.join(", ")}`,
    });
  }
  const out: Record<string, string | number> = {};
  for (const k of [
    ...required,
    "PatientName",
    "PatientID",
    "PatientBirthDate",
    "PatientSex",
    "StudyDate",
    "StudyTime",
    "StudyID",
    "AccessionNumber",
    "ReferringPhysicianName",
  ]) {
    const v = s(k);
    if (v !== undefined) out[k] = v;
  }
  for (const k of ["Rows", "Columns"]) if (typeof ds[k] === "number") out[k] = ds[k] as number;
  return out as unknown as SourceImageRef;
}
