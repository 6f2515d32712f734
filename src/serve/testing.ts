/** Helpers for the service's tests and benchmark: a seeded model bundle, test DICOM instances, loopback clients. */
import { readFileSync } from "node:fs";
import { parseDicom, writeDicom } from "../io/dicom/index.js";
import { saveBundle } from "../models/bundle.js";
import { createModel } from "../models/registry.js";
import { newUid } from "../reports/sr.js";
import { VERSION } from "../version.js";

/**
 * Writes a seeded (untrained) seed-cnn bundle for 28×28 grayscale with the labels of PneumoniaMNIST, so tests
 * run the real load → preprocess → predict path without a training run.
 *
 * @example
 * ```ts
 * await writeTestBundle("/tmp/m");
 * ```
 */
export async function writeTestBundle(dir: string, seed = 1): Promise<void> {
  const model = createModel("seed-cnn", { inputShape: [28, 28, 1], numClasses: 2, seed });
  await saveBundle(dir, model, {
    name: "seed-cnn-test",
    architecture: "seed-cnn",
    version: "0.0.1-test",
    task: "binary",
    labels: ["normal", "pneumonia"],
    input: { shape: [28, 28, 1], layout: "NHWC", dtype: "float32" },
    preprocessing: [{ op: "grayscale" }, { op: "resize", size: [28, 28] }, { op: "scale", divisor: 255 }],
    output: { activation: "softmax" },
    threshold: 0.5,
    versions: { radiolens: VERSION },
    intendedUse: "Tests of the inference service only; untrained weights.",
  });
  model.dispose();
}

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
