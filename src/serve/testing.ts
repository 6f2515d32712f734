/** Helpers for the service's tests and benchmark: a seeded model bundle, test DICOM instances, loopback clients. */
import { readFileSync } from "node:fs";
import { parseDicom, writeDicom } from "../io/dicom/index.js";
import { newUid } from "../reports/sr.js";

export { writeTestBundle } from "../models/testing.js";

/**
 * Copies a DICOM file with fresh Study/Series/SOP Instance UIDs (2.25 UUID roots), so one real file yields many
 * distinct instances.
 *
 * @example
 * ```ts
 * const bytes = withNewUids(readFileSync(sharedData("dicom/pydicom/CT_small.dcm")));
 * ```
 */
export function withNewUids(
  source: Uint8Array | string,
  uids: { StudyInstanceUID?: string; SeriesInstanceUID?: string; SOPInstanceUID?: string } = {},
): Uint8Array {
  const bytes = typeof source === "string" ? new Uint8Array(readFileSync(source)) : source;
  const parsed = parseDicom(bytes);
  const sop = uids.SOPInstanceUID ?? newUid();
  parsed.dataset.setString("StudyInstanceUID", uids.StudyInstanceUID ?? newUid());
  parsed.dataset.setString("SeriesInstanceUID", uids.SeriesInstanceUID ?? newUid());
  parsed.dataset.setString("SOPInstanceUID", sop);
  parsed.meta.setString("MediaStorageSOPInstanceUID", sop);
  return writeDicom(parsed);
}
