/** A DICOM folder labelled by a CSV keyed on StudyInstanceUID (0020,000D) or SOPInstanceUID (0008,0018). */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { RadioLensError } from "../core/errors.js";
import { readDicomFile } from "../io/dicom/parse.js";
import { dicomToImage } from "../io/dicom/to-image.js";
import { parseCsv } from "./csv.js";
import { type FileItem, fileSource, labelSchema, type ManifestOptions } from "./files.js";
import type { DataSource } from "./types.js";

/** Options for {@link dicomFolderSource}. */
export interface DicomFolderOptions
  extends Pick<ManifestOptions, "labelColumn" | "labelColumns" | "uncertain" | "classNames"> {
  /** Which UID the labels CSV is keyed by (default StudyInstanceUID: every image of a study gets its label). */
  readonly key?: "StudyInstanceUID" | "SOPInstanceUID";
  /** CSV column holding the UID (default: the key's name). */
  readonly uidColumn?: string;
}

/** What {@link dicomFolderSource} found. */
export interface DicomFolder {
  readonly source: DataSource;
  /** Files with a UID that the labels CSV does not list (not part of the dataset). */
  readonly unlabelled: number;
  /** Files that are not DICOM (no SOPInstanceUID) or could not be parsed (not part of the dataset). */
  readonly unreadable: number;
}

function walk(dir: string, out: string[]): void {
  for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) =>
    a.name < b.name ? -1 : a.name > b.name ? 1 : 0,
  )) {
    if (e.name.startsWith(".")) continue;
    const p = join(dir, e.name);
    if (e.isDirectory()) walk(p, out);
    else if (e.isFile()) out.push(p);
  }
}

/**
 * Scans `root` for DICOM files (headers only, stopping before Pixel Data), joins each to its row of `labelsCsv` by
 * the chosen UID, and groups items by PatientID (0010,0020) for splits; the identifier is used as a key only and
 * never reported. Pixels are decoded lazily to modality values (HU for CT).
 *
 * @example
 * ```ts
 * const { source } = dicomFolderSource("studies/", "labels.csv", { key: "StudyInstanceUID" });
 * ```
 */
export function dicomFolderSource(
  root: string,
  labelsCsv: string,
  opts: DicomFolderOptions = {},
): DicomFolder {
  const key = opts.key ?? "StudyInstanceUID";
  const uidCol = opts.uidColumn ?? key;
  let text: string;
  try {
    text = readFileSync(labelsCsv, "utf8");
  } catch {
    throw new RadioLensError("RL_ERR_FILE_NOT_FOUND", { path: labelsCsv });
  }
  const table = parseCsv(text, labelsCsv);
  if (!table.columns.includes(uidCol)) {
    throw new RadioLensError("RL_ERR_TABLE_INVALID", {
      detail: `${labelsCsv} has no column '${uidCol}' (columns: ${table.columns.join(", ")})`,
    });
  }
  const { task, labelOf } = labelSchema(table, opts, labelsCsv);
  const byUid = new Map<string, ReturnType<typeof labelOf>>();
  table.rows.forEach((row, k) => {
    byUid.set((row[uidCol] ?? "").trim(), labelOf(row, k + 2));
  });
  const files: string[] = [];
  try {
    walk(root, files);
  } catch {
    throw new RadioLensError("RL_ERR_FILE_NOT_FOUND", { path: root });
  }
  const items: FileItem[] = [];
  let unlabelled = 0;
  let unreadable = 0;
  for (const path of files) {
    let uid: string | undefined;
    let patient: string | undefined;
    try {
      const { dataset } = readDicomFile(path, { strict: false, untilTag: 0x7fe00010 });
      // Every composite instance has a SOP Instance UID (PS3.3 C.12.1); a lenient parse of a non-DICOM file has none.
      if (dataset.string("SOPInstanceUID") === undefined) throw new RangeError("no SOPInstanceUID");
      uid = dataset.string(key);
      patient = dataset.string("PatientID");
    } catch {
      unreadable++;
      continue;
    }
    const label = uid === undefined ? undefined : byUid.get(uid);
    if (label === undefined) {
      unlabelled++;
      continue;
    }
    items.push(patient ? { path, label, patient } : { path, label });
  }
  if (items.length === 0) {
    throw new RadioLensError("RL_ERR_DATA_EMPTY", {
      detail: `no DICOM file under ${root} has a ${key} listed in ${labelsCsv} (${unlabelled} unlabelled, ${unreadable} unreadable)`,
    });
  }
  const reader = async (p: string) => dicomToImage(readDicomFile(p, { strict: false }));
  return { source: fileSource(items, task, reader), unlabelled, unreadable };
}
