/** `evaluateBundle()`: scores a model bundle on a dataset split and computes the clinical metrics (same code as `radiolens metrics`). */
import { RadioLensError } from "../core/errors.js";
import { loadImageSet } from "../data/image-set.js";
import { loadNpzDataset } from "../data/npz-dataset.js";
import { type BackendName, initEngine } from "../engine/backend.js";
import type { RuntimeKind } from "../engine/runtime/index.js";
import { type EvaluationResult, evaluatePredictions } from "../metrics/index.js";
import { openBundle } from "../models/onnx/bundle-runtime.js";
import type { OodResult } from "../models/ood.js";
import { oodMetrics } from "../models/ood.js";
import { preprocessBatch } from "../models/predict.js";

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
  /** Out-of-distribution sets (an .npz's test split, or a folder of images/DICOM/NIfTI) scored against the split. */
  readonly ood?: readonly string[];
}

/** OOD detection quality and the metrics of the in-distribution images the detector lets through. */
export interface OodEvaluation {
  /** Pooled over every OOD set; out of distribution is the positive class. */
  readonly ood_auroc?: number;
  readonly ood_fpr_at_95_tpr?: number;
  readonly ood_sets?: readonly {
    readonly name: string;
    readonly n: number;
    readonly skipped: number;
    readonly auroc: number;
    readonly fpr_at_95_tpr: number;
  }[];
  /** The split restricted to the images the OOD detector keeps, next to the ungated top-level metrics. */
  readonly gated?: {
    readonly n_samples: number;
    readonly flagged_fraction: number;
    readonly accuracy: number;
    readonly auc: number;
  };
}

/** The evaluation plus what was evaluated. */
export type BundleEvaluation = EvaluationResult &
  OodEvaluation & {
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
      throw new RadioLensError("RL_ERR_MODEL_DATA_MISMATCH", {
        detail: `the model takes [${want.join(", ")}] images, the dataset has [${split.sampleShape.join(", ")}]`,
      });
    }
    if (card.labels.length !== ds.numClasses) {
      throw new RadioLensError("RL_ERR_MODEL_DATA_MISMATCH", {
        detail: `the model has ${card.labels.length} classes, the dataset ${ds.numClasses}`,
      });
    }
    const { rows, ood: inOod } = await scorer.predictWithOod(split.x);
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
    let extra: OodEvaluation = {};
    if (inOod) {
      const keep = inOod.map((o) => o.inDistribution);
      const idx = keep.flatMap((k, i) => (k ? [i] : []));
      const gatedInput = { ...common, bootstrap: false as const };
      const g =
        ds.task === "binary"
          ? evaluatePredictions({
              ...gatedInput,
              task: "binary",
              labels: idx.map((i) => split.labels[i] as number),
              scores: idx.map((i) => (rows[i] as Float32Array)[1] as number),
            })
          : ds.task === "multiclass"
            ? evaluatePredictions({
                ...gatedInput,
                task: "multiclass",
                labels: idx.map((i) => split.labels[i] as number),
                scores: idx.map((i) => rows[i] as Float32Array),
              })
            : evaluatePredictions({
                ...gatedInput,
                task: "multilabel",
                labels: idx.map((i) => split.labels.subarray(i * k, (i + 1) * k)),
                scores: idx.map((i) => rows[i] as Float32Array),
              });
      extra = {
        gated: {
          n_samples: idx.length,
          flagged_fraction: 1 - idx.length / split.count,
          accuracy: g.accuracy,
          auc: g.auc,
        },
      };
    }
    if (opts.ood && opts.ood.length > 0) {
      if (!inOod)
        throw new RadioLensError("RL_ERR_USAGE", {
          detail:
            "--ood needs a model with an OOD detector (train it again with this version, or export it again)",
        });
      const inScores = inOod.map((o) => o.score);
      const sets: NonNullable<OodEvaluation["ood_sets"]>[number][] = [];
      const pooled: number[] = [];
      for (const path of opts.ood) {
        const set = await loadImageSet(path);
        if (set.images.length === 0)
          throw new RadioLensError("RL_ERR_DATA_EMPTY", { detail: `--ood ${path}: no readable 2D images` });
        const got = await scorer.predictWithOod(preprocessBatch(card, set.images));
        const scores = (got.ood as OodResult[]).map((o) => o.score);
        pooled.push(...scores);
        const m = oodMetrics(inScores, scores);
        sets.push({
          name: set.name,
          n: scores.length,
          skipped: set.skipped,
          auroc: m.auroc,
          fpr_at_95_tpr: m.fprAt95Tpr,
        });
      }
      const all = oodMetrics(inScores, pooled);
      extra = { ood_auroc: all.auroc, ood_fpr_at_95_tpr: all.fprAt95Tpr, ood_sets: sets, ...extra };
    }
    return {
      ...result,
      ...extra,
      model: { name: card.name, version: card.version, architecture: card.architecture },
      dataset: { file: opts.data, split: opts.split },
    };
  } finally {
    await scorer.close();
  }
}
