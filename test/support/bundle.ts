/** Test and benchmark helper: a seeded, untrained seed-cnn bundle written through the real bundle format. */
import { type ModelCard, saveBundle } from "../../src/models/bundle.js";
import { createModel } from "../../src/models/registry.js";
import { VERSION } from "../../src/version.js";

/**
 * Writes a seeded (untrained) seed-cnn bundle for 28×28 grayscale with the labels of PneumoniaMNIST, so tests
 * and benchmarks run the real load → preprocess → predict path without a training run.
 *
 * @example
 * ```ts
 * await writeTestBundle("/tmp/m");
 * await writeTestBundle("/tmp/chest", 1, { intendedUse: { statement: "test", inputs: { modalities: ["CR", "DX"] } } });
 * ```
 */
export async function writeTestBundle(
  dir: string,
  seed = 1,
  card: Partial<Pick<ModelCard, "intendedUse" | "ood" | "calibration">> = {},
): Promise<void> {
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
    ...card,
  });
  model.dispose();
}
