/** Helpers for the service's tests and benchmark: a seeded model bundle, test DICOM instances, loopback clients. */
import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { DicomDataset } from "../../src/io/dicom/dataset.js";
import { parseDicom, writeDicom } from "../../src/io/dicom/index.js";
import { TS } from "../../src/io/dicom/transfer-syntax.js";
import { decodeJpeg } from "../../src/io/image/index.js";
import { newUid } from "../../src/radiology-reports/sr.js";
import { REPO_ROOT } from "./shared-data.js";

export { writeTestBundle } from "./bundle.js";

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

/**
 * Starts `radiolens serve --config <config>` from the source tree in a child process, as it is deployed (tests
 * that kill it, benchmarks that load it from outside).
 *
 * @example
 * ```ts
 * const child = spawnServe("/tmp/serve.json", { stderr: "pipe" });
 * ```
 */
export function spawnServe(
  config: string,
  opts: { readonly stderr?: "pipe" | "inherit"; readonly env?: NodeJS.ProcessEnv } = {},
): ChildProcess {
  const code = `const { runCli } = await import("./src/cli/main.ts"); process.exitCode = await runCli(["serve", "--config", ${JSON.stringify(config)}]);`;
  return spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", code], {
    cwd: REPO_ROOT,
    stdio: ["ignore", "ignore", opts.stderr ?? "inherit"],
    env: opts.env ?? process.env,
  });
}

/**
 * Resolves with the base URL a server started by {@link spawnServe} (with `stderr: "pipe"`) announces, or rejects
 * when it exits first or stays silent for a minute.
 *
 * @example
 * ```ts
 * const url = await servedUrl(spawnServe("/tmp/serve.json", { stderr: "pipe" }));
 * ```
 */
export function servedUrl(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let err = "";
    const timer = setTimeout(() => reject(new Error(`server did not start: ${err}`)), 60_000);
    child.stderr?.on("data", (c: Buffer) => {
      err += c.toString();
      const m = /HTTP (http:\/\/[0-9.]+:\d+)/.exec(err);
      if (m) {
        clearTimeout(timer);
        resolve(m[1] as string);
      }
    });
    child.on("exit", (code) => reject(new Error(`server exited with ${code}: ${err}`)));
  });
}

/**
 * A chest radiograph as a CR Image Storage Part 10 file (PS3.3 A.2): the JPEG's pixels as 8-bit MONOCHROME2 with
 * fictitious patient and study attributes and fresh UIDs, as a modality would send it.
 *
 * @example
 * ```ts
 * const cr = chestRadiograph(sharedData("xray", "COVID-00003b.jpg"));
 * ```
 */
export function chestRadiograph(jpegPath: string, patientId = "CXR-TEST-1"): Uint8Array {
  const img = decodeJpeg(new Uint8Array(readFileSync(jpegPath)));
  const [rows, cols, ch] = img.shape as [number, number, number];
  const px = new Uint8Array(rows * cols);
  for (let i = 0; i < rows * cols; i++) px[i] = Math.round(Number(img.data[i * ch] ?? 0));
  const sop = newUid();
  const meta = new DicomDataset(true);
  meta.setString("MediaStorageSOPClassUID", "1.2.840.10008.5.1.4.1.1.1", "UI");
  meta.setString("MediaStorageSOPInstanceUID", sop, "UI");
  const ds = new DicomDataset(true);
  const s = (k: string, v: string): void => ds.setString(k, v);
  s("SOPClassUID", "1.2.840.10008.5.1.4.1.1.1");
  s("SOPInstanceUID", sop);
  s("StudyInstanceUID", newUid());
  s("SeriesInstanceUID", newUid());
  s("Modality", "CR");
  s("BodyPartExamined", "CHEST");
  s("ViewPosition", "PA");
  s("PatientName", "Test^Chest");
  s("PatientID", patientId);
  s("PatientBirthDate", "19600101");
  s("PatientSex", "F");
  s("StudyDate", "20260301");
  s("StudyTime", "101500");
  s("StudyID", "1");
  s("AccessionNumber", "ACC-CXR-1");
  s("SeriesDescription", "Chest PA");
  ds.setNumbers("SeriesNumber", [1], "IS");
  ds.setNumbers("InstanceNumber", [1], "IS");
  ds.setNumbers("SamplesPerPixel", [1]);
  s("PhotometricInterpretation", "MONOCHROME2");
  ds.setNumbers("Rows", [rows]);
  ds.setNumbers("Columns", [cols]);
  ds.setNumbers("BitsAllocated", [8]);
  ds.setNumbers("BitsStored", [8]);
  ds.setNumbers("HighBit", [7]);
  ds.setNumbers("PixelRepresentation", [0]);
  ds.setNumbers("ImagerPixelSpacing", [0.2, 0.2], "DS");
  ds.set({ tag: 0x7fe00010, vr: "OB", value: px, undefinedLength: false });
  return writeDicom({ meta, dataset: ds, transferSyntaxUID: TS.ExplicitVRLittleEndian });
}
