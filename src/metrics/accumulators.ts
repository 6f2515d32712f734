/** Accumulating metrics (update per batch, aggregate at the end, reset between epochs) over the pure compute functions. */
import {
  type Average,
  accuracyFromConfusion,
  averagedFromConfusion,
  balancedAccuracyFromConfusion,
  computeConfusionMatrix,
  kappaFromConfusion,
  mccFromConfusion,
} from "./confusion.js";
import { type EvaluationInput, type EvaluationResult, evaluatePredictions } from "./evaluate-predictions.js";
import { computeAveragePrecision, computeRocAuc } from "./ranking.js";
import { computeSegmentationScores, type Mask, type SegmentationScores } from "./segmentation.js";
import { metricInputError } from "./stats.js";

/** Aggregate of {@link ConfusionMatrixMetric}. */
export interface ConfusionSummary {
  readonly confusionMatrix: number[][];
  readonly n: number;
  readonly accuracy: number;
  readonly balancedAccuracy: number;
  readonly precision: number;
  readonly recall: number;
  readonly specificity: number;
  readonly npv: number;
  readonly f1: number;
  readonly mcc: number;
  readonly kappa: number;
}

/**
 * Confusion-matrix metrics accumulated over batches of hard predictions: only the K×K counts are kept, so the
 * aggregate equals the compute functions on all batches concatenated.
 *
 * @example
 * ```ts
 * const m = new ConfusionMatrixMetric(3);
 * m.update([0, 1], [0, 2]);
 * m.update([2], [2]);
 * m.aggregate().accuracy; // 2/3
 * m.reset();
 * ```
 */
export class ConfusionMatrixMetric {
  private counts: number[][];

  constructor(
    readonly numClasses: number,
    readonly options: { readonly average?: Average; readonly zeroDivision?: number | "nan" } = {},
  ) {
    if (!Number.isInteger(numClasses) || numClasses < 2) {
      throw metricInputError("ConfusionMatrixMetric", `numClasses ${numClasses} must be an integer ≥ 2`);
    }
    this.counts = this.empty();
  }

  private empty(): number[][] {
    return Array.from({ length: this.numClasses }, () => new Array<number>(this.numClasses).fill(0));
  }

  /** Adds a batch of labels and predicted classes. */
  update(yTrue: ArrayLike<number>, yPred: ArrayLike<number>): void {
    const cm = computeConfusionMatrix(yTrue, yPred, this.numClasses);
    cm.forEach((row, t) => {
      row.forEach((v, p) => {
        this.counts[t]![p]! += v;
      });
    });
  }

  /** The metrics of everything added since the last reset. */
  aggregate(): ConfusionSummary {
    const cm = this.counts.map((r) => [...r]);
    const o = this.options;
    return {
      confusionMatrix: cm,
      n: cm.flat().reduce((a, b) => a + b, 0),
      accuracy: accuracyFromConfusion(cm),
      balancedAccuracy: balancedAccuracyFromConfusion(cm),
      precision: averagedFromConfusion(cm, "precision", o),
      recall: averagedFromConfusion(cm, "recall", o),
      specificity: averagedFromConfusion(cm, "specificity", o),
      npv: averagedFromConfusion(cm, "npv", o),
      f1: averagedFromConfusion(cm, "f1", o),
      mcc: mccFromConfusion(cm),
      kappa: kappaFromConfusion(cm),
    };
  }

  /** Forgets every batch. */
  reset(): void {
    this.counts = this.empty();
  }
}

/**
 * ROC AUC and average precision accumulated over batches of (label, score) — a cheap validation metric for
 * training loops. Binary: one score per row; multi-class: probability rows (one-vs-rest macro); multi-label:
 * indicator rows (macro over labels). NaN when a class or label has a single class, as the compute functions.
 *
 * @example
 * ```ts
 * const auc = new RankingMetric();
 * auc.update([0, 1], [0.2, 0.9]);
 * auc.update([1, 0], [0.6, 0.7]);
 * auc.aggregate().auc; // 0.75
 * auc.reset();
 * ```
 */
export class RankingMetric {
  private truth: number[][] = [];
  private scores: number[][] = [];
  private width: number | undefined;

  constructor(readonly task: "binary" | "multiclass" | "multilabel" = "binary") {}

  /** Adds a batch. */
  update(
    labels: ArrayLike<number> | readonly ArrayLike<number>[],
    scores: ArrayLike<number> | readonly ArrayLike<number>[],
  ): void {
    if (labels.length !== scores.length) {
      throw metricInputError("RankingMetric", `${labels.length} labels but ${scores.length} scores`);
    }
    for (let i = 0; i < scores.length; i++) {
      const row = scores[i] as number | ArrayLike<number>;
      const s = typeof row === "number" ? [row] : Array.from(row);
      this.width ??= s.length;
      if (s.length !== this.width)
        throw metricInputError("RankingMetric", `row width ${s.length}, expected ${this.width}`);
      const l = labels[i] as number | ArrayLike<number>;
      const y =
        typeof l === "number"
          ? this.task === "multiclass"
            ? s.map((_, c) => (c === l ? 1 : 0))
            : [l]
          : Array.from(l);
      if (y.length !== s.length)
        throw metricInputError("RankingMetric", `label width ${y.length}, expected ${s.length}`);
      this.truth.push(y);
      this.scores.push(s);
    }
  }

  /** AUC and average precision (macro over columns when there are several). */
  aggregate(): { auc: number; averagePrecision: number; n: number } {
    const k = this.width ?? 0;
    if (this.scores.length === 0) return { auc: Number.NaN, averagePrecision: Number.NaN, n: 0 };
    let auc = 0;
    let ap = 0;
    for (let c = 0; c < k; c++) {
      const y = this.truth.map((r) => r[c]!);
      const s = this.scores.map((r) => r[c]!);
      auc += computeRocAuc(y, s);
      ap += computeAveragePrecision(y, s);
    }
    return { auc: auc / k, averagePrecision: ap / k, n: this.scores.length };
  }

  /** Forgets every batch. */
  reset(): void {
    this.truth = [];
    this.scores = [];
    this.width = undefined;
  }
}

type Task = EvaluationInput["task"];
type Settings = Omit<EvaluationInput, "labels" | "scores" | "patientIds" | "task">;

/**
 * Collects labels, scores and optional patient ids batch by batch and runs {@link evaluatePredictions} on
 * all of them at the end (ranking metrics such as AUC need every score at once).
 *
 * @example
 * ```ts
 * const acc = new EvaluationAccumulator("binary", { bootstrap: false });
 * acc.update([0, 1], [0.2, 0.9]);
 * acc.update([1, 0], [0.7, 0.4]);
 * acc.aggregate().auc; // 1
 * ```
 */
export class EvaluationAccumulator {
  private labels: (number | number[])[] = [];
  private scores: (number | number[])[] = [];
  private patients: string[] = [];

  constructor(
    readonly task: Task,
    readonly settings: Settings = {},
  ) {}

  /** Adds a batch; binary labels and scores are numbers, multi-class scores and multi-label rows arrays. */
  update(
    labels: ArrayLike<number> | readonly ArrayLike<number>[],
    scores: ArrayLike<number> | readonly ArrayLike<number>[],
    patientIds?: readonly string[],
  ): void {
    if (labels.length !== scores.length) {
      throw metricInputError("EvaluationAccumulator", `${labels.length} labels but ${scores.length} scores`);
    }
    const withIds = patientIds !== undefined;
    if (this.labels.length > 0 && withIds !== this.patients.length > 0) {
      throw metricInputError("EvaluationAccumulator", "give patient ids for every batch or for none");
    }
    const copy = (v: number | ArrayLike<number>) => (typeof v === "number" ? v : Array.from(v));
    for (let i = 0; i < labels.length; i++) {
      this.labels.push(copy(labels[i] as number | ArrayLike<number>));
      this.scores.push(copy(scores[i] as number | ArrayLike<number>));
    }
    if (patientIds !== undefined) {
      if (patientIds.length !== labels.length) {
        throw metricInputError(
          "EvaluationAccumulator",
          `${patientIds.length} patient ids for ${labels.length} rows`,
        );
      }
      this.patients.push(...patientIds);
    }
  }

  /** Evaluates everything added since the last reset. */
  aggregate(): EvaluationResult {
    const common = { ...this.settings, ...(this.patients.length > 0 ? { patientIds: this.patients } : {}) };
    if (this.task === "binary") {
      return evaluatePredictions({
        ...common,
        task: "binary",
        labels: this.labels as number[],
        scores: this.scores as number[],
      });
    }
    if (this.task === "multiclass") {
      return evaluatePredictions({
        ...common,
        task: "multiclass",
        labels: this.labels as number[],
        scores: this.scores as number[][],
      });
    }
    return evaluatePredictions({
      ...common,
      task: "multilabel",
      labels: this.labels as number[][],
      scores: this.scores as number[][],
    });
  }

  /** Forgets every batch. */
  reset(): void {
    this.labels = [];
    this.scores = [];
    this.patients = [];
  }
}

/** Aggregate of {@link SegmentationMetric}: per-metric means over the cases where the metric is defined. */
export interface SegmentationSummary {
  readonly cases: number;
  readonly mean: SegmentationScores;
  /** Cases where each metric was NaN (both masks empty) and so left out of the mean. */
  readonly undefinedCases: Record<keyof SegmentationScores, number>;
  /** Cases where HD95/ASSD were infinite (exactly one mask empty); an infinite case makes the mean infinite. */
  readonly infiniteCases: Record<"hd95" | "assd", number>;
  readonly perCase: SegmentationScores[];
}

/**
 * Segmentation metrics accumulated case by case (one prediction/ground-truth pair per update).
 *
 * @example
 * ```ts
 * const seg = new SegmentationMetric({ tolerance: 2 });
 * seg.update(predMask, gtMask);
 * seg.aggregate().mean.dice;
 * ```
 */
export class SegmentationMetric {
  private cases: SegmentationScores[] = [];

  constructor(readonly options: { readonly tolerance?: number } = {}) {}

  /** Adds one case. */
  update(pred: Mask, gt: Mask): SegmentationScores {
    const s = computeSegmentationScores(pred, gt, this.options);
    this.cases.push(s);
    return s;
  }

  /** Means over the defined cases. */
  aggregate(): SegmentationSummary {
    const keys = ["dice", "iou", "hd95", "assd", "surfaceDice"] as const;
    const mean = {} as Record<(typeof keys)[number], number>;
    const undefinedCases = {} as Record<(typeof keys)[number], number>;
    for (const k of keys) {
      const vals = this.cases.map((c) => c[k]).filter((v) => !Number.isNaN(v));
      undefinedCases[k] = this.cases.length - vals.length;
      mean[k] = vals.length === 0 ? Number.NaN : vals.reduce((a, b) => a + b, 0) / vals.length;
    }
    return {
      cases: this.cases.length,
      mean,
      undefinedCases,
      infiniteCases: {
        hd95: this.cases.filter((c) => c.hd95 === Number.POSITIVE_INFINITY).length,
        assd: this.cases.filter((c) => c.assd === Number.POSITIVE_INFINITY).length,
      },
      perCase: [...this.cases],
    };
  }

  /** Forgets every case. */
  reset(): void {
    this.cases = [];
  }
}
