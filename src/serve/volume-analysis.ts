/** Series- and study-level analysis: a completed series read as one volume, segmented by a 3D U-Net, written as a DICOM SEG and a TID 1500 SR. */
import { RadioLensError } from "../core/errors.js";
import { DicomError, type ParsedDicom, parseDicom, seriesToVolume } from "../io/dicom/index.js";
import { CODES } from "../results/codes.js";
import { writeMeasurementReport } from "../results/measurement-report.js";
import { segmentMeasurements } from "../results/measurements.js";
import { type SegmentSpec, writeSegmentation } from "../results/seg.js";
import { sourceSeriesOf } from "../results/source.js";
import { predictVolume } from "../train/seg3d-infer.js";
import { NETWORK_PARSE_LIMITS } from "./instances.js";
import type { InstanceRecord, Repository } from "./repository/sqlite.js";
import type { ServedModel } from "./served-models.js";

/** The scope of a group job, `series:<uid>` or `study:<uid>`, split. */
export interface JobScope {
  readonly level: "series" | "study";
  readonly uid: string;
}

/**
 * Reads a job's scope.
 *
 * @throws RadioLensError RL_ERR_INTERNAL for a scope this version does not write.
 * @example
 * ```ts
 * parseScope("series:1.2.3"); // { level: "series", uid: "1.2.3" }
 * ```
 */
export function parseScope(scope: string): JobScope {
  const m = /^(series|study):([0-9.]+)$/.exec(scope);
  if (!m)
    throw new RadioLensError("RL_ERR_INTERNAL", {
      detail: "a job's scope is not series:<uid> or study:<uid>",
    });
  return { level: m[1] as JobScope["level"], uid: m[2] as string };
}

/** The objects one series' segmentation produced, and what the prediction row records. */
export interface VolumeResult {
  /** The Segmentation, then the Measurement Report. */
  readonly objects: readonly Uint8Array[];
  /** The label volume in the order of the series' slices along the normal (`slices × Rows × Columns`). */
  readonly labels: Uint8Array;
  /** Voxels per segment label. */
  readonly voxels: Readonly<Record<string, number>>;
}

/**
 * Segments one series: its instances ordered along the slice normal (ImagePositionPatient projected on the normal
 * of ImageOrientationPatient, PS3.3 C.7.6.2.1.1) into one volume with PixelSpacing and the slice spacing, the
 * model's sliding-window inference (src/train/seg3d-infer.ts) back on the series' grid, then a binary DICOM SEG
 * (PS3.3 A.51) referencing the source series and its Frame of Reference, and a TID 1500 Measurement Report with
 * each present segment's volume, largest area and long axis referencing the SEG. A series of fewer than two
 * slices, or whose instances lack the geometry or disagree in size, orientation or spacing, is refused with
 * DicomError DICOM_SERIES.
 *
 * @example
 * ```ts
 * const r = await segmentSeries(model, parsedInstances);
 * ```
 */
export async function segmentSeries(
  model: ServedModel,
  instances: readonly ParsedDicom[],
): Promise<VolumeResult> {
  const seg = model.segmentation;
  if (!seg) {
    throw new RadioLensError("RL_ERR_USAGE", {
      detail: `model '${model.id}' is not a 3D segmentation model; series- and study-level rules need one`,
    });
  }
  // A 3D model needs a volume: several slices placed by the Image Plane module (PS3.3 C.7.6.2). A radiograph or
  // a lone slice would be segmented as a one-slice volume, at a projection image's size window by window.
  const planar = instances.filter(
    (p) =>
      p.dataset.numbers("ImagePositionPatient").length === 3 &&
      p.dataset.numbers("ImageOrientationPatient").length === 6,
  );
  if (instances.length < 2 || planar.length !== instances.length) {
    throw new DicomError(
      "DICOM_SERIES",
      `a volume needs at least 2 slices, each with Image Position (Patient) and Image Orientation (Patient); the series has ${instances.length} instance(s), ${planar.length} with both`,
    );
  }
  const { image } = await seriesToVolume(instances);
  const series = sourceSeriesOf(instances);
  const mask = predictVolume(seg.model, seg.plan, image, { mirror: true });
  const labels = Uint8Array.from(mask.data);
  const algorithm = { name: model.card.name, version: model.card.version };
  const segments: SegmentSpec[] = seg.labels
    .map((label, value) => ({ labelValue: value, label }))
    .filter((s) => s.labelValue > 0);
  const segBytes = writeSegmentation(labels, series, {
    algorithm,
    segments,
    SeriesDescription: `${model.card.name} segmentation`.slice(0, 64),
  });
  const segDs = parseDicom(segBytes, { untilTag: 0x7fe00010 }).dataset;
  const measured = segmentMeasurements(
    labels,
    series,
    segments.map((s) => s.labelValue),
  ).filter((m) => m.voxels > 0);
  const voxels: Record<string, number> = {};
  for (const s of segments)
    voxels[s.label] = measured.find((m) => m.labelValue === s.labelValue)?.voxels ?? 0;
  const objects: Uint8Array[] = [segBytes];
  if (measured.length > 0) {
    objects.push(
      writeMeasurementReport({
        algorithm,
        study: series,
        images: series.images.map((im) => ({ ...im, SeriesInstanceUID: series.SeriesInstanceUID })),
        segmentation: {
          seg: {
            SOPInstanceUID: segDs.uid("SOPInstanceUID") as string,
            SeriesInstanceUID: segDs.uid("SeriesInstanceUID") as string,
          },
          sourceSeriesInstanceUID: series.SeriesInstanceUID,
          segments: measured.map((m) => ({
            // Segment numbers are 1.. in `segments` order (PS3.3 C.8.20.2).
            segmentNumber: segments.findIndex((s) => s.labelValue === m.labelValue) + 1,
            label: segments.find((s) => s.labelValue === m.labelValue)?.label ?? String(m.labelValue),
            type: CODES.anatomicalStructure,
            measurement: m,
          })),
        },
      }),
    );
  }
  return { objects, labels, voxels };
}

/**
 * The received instances of a group job's series or study, parsed, by series (a study-level rule segments each
 * series of the study).
 *
 * @example
 * ```ts
 * const bySeries = await readScope(repo, (rec) => store.read(rec), parseScope(job.scope));
 * ```
 */
export async function readScope(
  repo: Repository,
  read: (rec: InstanceRecord) => Uint8Array,
  scope: JobScope,
): Promise<Map<string, ParsedDicom[]>> {
  const recs = await repo.findInstances({
    ...(scope.level === "series" ? { seriesInstanceUid: scope.uid } : { studyInstanceUid: scope.uid }),
    origin: "received",
    limit: 100_000,
  });
  const out = new Map<string, ParsedDicom[]>();
  for (const rec of recs) {
    const list = out.get(rec.seriesInstanceUid) ?? [];
    list.push(parseDicom(read(rec), NETWORK_PARSE_LIMITS));
    out.set(rec.seriesInstanceUid, list);
  }
  if (out.size === 0) throw new DicomError("DICOM_SERIES", `the ${scope.level} has no stored instances`);
  return out;
}
