/** `evaluateBundle()`: scores a model bundle on a dataset split and computes the clinical metrics (same code as `radiolens metrics`). */
import { RadioLensError } from "../core/errors.js";
import { loadNpzDataset } from "../data/npz-dataset.js";
import { type BackendName, initEngine } from "../engine/backend.js";
import type { RuntimeKind } from "../engine/runtime/index.js";
import { type EvaluationResult, evaluatePredictions } from "../metrics/index.js";
import { openBundle } from "../models/onnx/bundle-runtime.js";

/** Options of {@link evaluateBundle}. */
export interface EvaluateOptions {
  readonly model: string;
  readonly data: string;
  /** Split name in the .npz (`test`, `val`, `train`). */
  readonly split: string;
  readonly backend?: BackendName;
  /** Bootstrap resamples for the CIs (0 = none). */
  readonly bootstrap?: number;
  readonly seed?: number;
  readonly threshold?: number;
  /** tfjs or onnx; by default ONNX Runtime when the bundle has an ONNX file. */
  readonly runtime?: RuntimeKind;
}

/** The evaluation plus what was evaluated. */
export type BundleEvaluation = EvaluationResult & {
  readonly model: { readonly name: string; readonly version: string; readonly architecture: string };
  readonly dataset: { readonly file: string; readonly split: string };
};

/**
 * Evaluates a bundle on one split with MedMNIST evaluator semantics (binary threshold 0.5 on P(class 1),
 * multi-class argmax, multi-label mean) and the full metric set.
 *
 * @example
 * ```ts
 * const r = await evaluateBundle({ model: "/tmp/m", data: "pneumoniamnist.npz", split: "test" });
 * console.log(r.accuracy, r.auc);
 * ```
 */
export async function evaluateBundle(opts: EvaluateOptions): Promise<BundleEvaluation> {
  await initEngine(opts.backend ? { backend: opts.backend } : {});
  const ds = loadNpzDataset(opts.data, [opts.split]);
  const split = ds.splits[opts.split]!;
  const scorer = await openBundle(opts.model, opts.runtime ? { runtime: opts.runtime } : {});
  const card = scorer.card;
  try {
    const want = card.input.shape;
    if (
      want[0] !== split.sampleShape[0] ||
      want[1] !== split.sampleShape[1] ||
      want[2] !== split.sampleShape[2]
    ) {
      throw new RadioLensError("RL_ERR_DATA_INVALID", {
        detail: `the model takes [${want.join(", ")}] images, the dataset has [${split.sampleShape.join(", ")}]`,
      });
    }
    if (card.labels.length !== ds.numClasses) {
      throw new RadioLensError("RL_ERR_DATA_INVALID", {
        detail: `the model has ${card.labels.length} classes, the dataset ${ds.numClasses}`,
      });
    }
    const rows = await scorer.predict(split.x);
    const k = ds.numClasses;
    const common = {
      classNames: [...card.labels],
      threshold: opts.threshold ?? card.threshold,
      bootstrap:
        (opts.bootstrap ?? 1000) > 0
          ? { nResamples: opts.bootstrap ?? 1000, seed: opts.seed ?? 0 }
          : (false as const),
    };
    let result: EvaluationResult;
    if (ds.task === "binary") {
      result = evaluatePredictions({
        ...common,
        task: "binary",
        labels: split.labels,
        scores: rows.map((r) => r[1] as number),
      });
    } else if (ds.task === "multiclass") {
      result = evaluatePredictions({ ...common, task: "multiclass", labels: split.labels, scores: rows });
    } else {
      const labels = Array.from({ length: split.count }, (_, i) => split.labels.subarray(i * k, (i + 1) * k));
      result = evaluatePredictions({ ...common, task: "multilabel", labels, scores: rows });
    }
    return {
      ...result,
      model: { name: card.name, version: card.version, architecture: card.architecture },
      dataset: { file: opts.data, split: opts.split },
    };
  } finally {
    await scorer.close();
  }
}
