/** The typed writer underneath every result object: a naturalized dataset encoded by dcmjs as a Part 10 file. */
import { createRequire } from "node:module";
import { IMPLEMENTATION_CLASS_UID } from "../io/dicom/write.js";

/** A naturalized dataset: DICOM keywords to values, sequences as arrays of datasets (dcmjs's convention). */
export type NaturalDataset = Record<string, unknown>;

interface DcmjsData {
  DicomMetaDictionary: { denaturalizeDataset(ds: NaturalDataset): NaturalDataset };
  DicomDict: new (meta: NaturalDataset) => { dict: NaturalDataset; write(): ArrayBuffer };
}

// dcmjs prints notes about elements it writes to the console, outside the service's logger, through its root
// logger and a "validation.dcmjs" child that does not follow the root's level; both are silenced so that no
// DICOM value reaches a log line.
{
  type Level = { setLevel(level: string): void };
  const dcmjsLog = (
    createRequire(import.meta.url)("dcmjs") as { log: Level & { getLogger(n: string): Level } }
  ).log;
  dcmjsLog.setLevel("silent");
  dcmjsLog.getLogger("validation.dcmjs").setLevel("silent");
}

/**
 * Encodes a naturalized dataset as Part 10 (PS3.10 7.1), Explicit VR Little Endian, with RadioLens's
 * Implementation Class UID in the File Meta Information.
 *
 * @example
 * ```ts
 * const bytes = writePart10({ SOPClassUID: "1.2.840.10008.5.1.4.1.1.66.4", SOPInstanceUID: newUid(), ... });
 * ```
 */
export function writePart10(ds: NaturalDataset): Uint8Array {
  const require = createRequire(import.meta.url);
  const data = (require("dcmjs") as { data: DcmjsData }).data;
  const meta = data.DicomMetaDictionary.denaturalizeDataset({
    FileMetaInformationVersion: new Uint8Array([0, 1]).buffer,
    MediaStorageSOPClassUID: ds["SOPClassUID"],
    MediaStorageSOPInstanceUID: ds["SOPInstanceUID"],
    TransferSyntaxUID: "1.2.840.10008.1.2.1",
    ImplementationClassUID: IMPLEMENTATION_CLASS_UID,
    ImplementationVersionName: "RADIOLENS",
  });
  const dict = new data.DicomDict(meta);
  dict.dict = data.DicomMetaDictionary.denaturalizeDataset(ds);
  return new Uint8Array(dict.write());
}
