/** Seeded agreement cases against scikit-learn 1.2 (and a SciPy/NumPy reference where scikit-learn has no such metric): case generator, our values, and the comparison rules. */
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { RadioLensError } from "../../src/core/errors.js";
import { Rng } from "../../src/core/rng.js";
import {
  computeAccuracy,
  computeBalancedAccuracy,
  computeCohenKappa,
  computeConfusionMatrix,
  computeF1,
  computeFBeta,
  computeMcc,
  computeNpv,
  computePrecision,
  computeRecall,
  computeSpecificity,
} from "../../src/metrics/confusion.js";
import { computeDelong, computeDelongTest } from "../../src/metrics/delong.js";
import { evaluatePredictions } from "../../src/metrics/evaluate-predictions.js";
import { medmnistEvaluate } from "../../src/metrics/medmnist.js";
import {
  argmax,
  computeBrierScore,
  computeEce,
  computeEceMulticlass,
  computeLogLoss,
  computeLogLossMulticlass,
} from "../../src/metrics/probabilistic.js";
import {
  chooseThreshold,
  computeAveragePrecision,
  computeAveragePrecisionMultilabel,
  computeAveragePrecisionOvr,
  computePrCurve,
  computeRocAuc,
  computeRocAucMultilabel,
  computeRocAucOvo,
  computeRocAucOvr,
  computeRocCurve,
} from "../../src/metrics/ranking.js";
import { computeSegmentationScores } from "../../src/metrics/segmentation.js";
import { REPO_ROOT } from "./shared-data.js";

/**
 * ECE bins used in the agreement cases.
 *
 * @example
 * ```ts
 * computeEce(labels, scores, AGREEMENT_ECE_BINS);
 * ```
 */
export const AGREEMENT_ECE_BINS = 15;
/**
 * Surface-Dice tolerance of the segmentation cases (in spacing units).
 *
 * @example
 * ```ts
 * computeSurfaceDice(pred, gt, AGREEMENT_TOLERANCE);
 * ```
 */
export const AGREEMENT_TOLERANCE = 1.5;

/** One generated case. */
export type AgreementCase =
  | {
      readonly id: string;
      readonly kind: string;
      readonly task: "binary";
      readonly labels: number[];
      readonly scores: number[];
      /** A second, correlated model on the same cases (for the DeLong test). */
      readonly scores2: number[];
      readonly threshold: number;
    }
  | {
      readonly id: string;
      readonly kind: string;
      readonly task: "multiclass";
      readonly k: number;
      readonly labels: number[];
      readonly scores: number[][];
    }
  | {
      readonly id: string;
      readonly kind: string;
      readonly task: "multilabel";
      readonly labels: number[][];
      readonly scores: number[][];
      readonly threshold: number;
    }
  | {
      readonly id: string;
      readonly kind: string;
      readonly task: "segmentation";
      readonly shape: number[];
      readonly spacing: number[];
      readonly pred: number[];
      readonly gt: number[];
      readonly tolerance: number;
    };

const BINARY_KINDS = [
  "random",
  "ties",
  "few-distinct",
  "single-class-0",
  "single-class-1",
  "perfect",
  "inverted",
  "constant",
  "extreme-0-1",
  "tiny",
  "threshold-edge",
  "imbalanced",
] as const;
const MULTICLASS_KINDS = [
  "random",
  "ties",
  "single-class",
  "missing-class",
  "perfect",
  "inverted",
  "uniform",
] as const;
const MULTILABEL_KINDS = ["random", "ties", "single-class-label", "perfect", "inverted"] as const;
const SEG_KINDS = ["blobs-2d", "blobs-3d", "pred-empty", "both-empty", "identical", "shifted"] as const;

function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

function binaryCase(rng: Rng, id: string, kind: (typeof BINARY_KINDS)[number]): AgreementCase {
  let n = rng.int(8, 240);
  if (kind === "tiny") n = rng.int(2, 4);
  const prevalence = kind === "imbalanced" ? rng.uniform(0.02, 0.08) : rng.uniform(0.2, 0.8);
  let labels: number[] = Array.from({ length: n }, () => (rng.bernoulli(prevalence) ? 1 : 0));
  if (kind === "single-class-0") labels = labels.map(() => 0);
  if (kind === "single-class-1") labels = labels.map(() => 1);
  if (kind === "tiny" && labels.every((v) => v === labels[0])) labels[0] = 1 - labels[0]!;
  const signal = rng.uniform(0, 2.5);
  const latent = labels.map((y) => rng.normal(y * signal, 1));
  let scores = latent.map(sigmoid);
  const threshold = kind === "threshold-edge" ? 0.3 : 0.5;
  switch (kind) {
    case "ties":
      scores = scores.map((s) => Math.round(s * 10) / 10);
      break;
    case "few-distinct": {
      const vals = [0.2, 0.5, 0.7];
      scores = labels.map((y) => vals[Math.min(2, rng.int(0, 1) + y)]!);
      break;
    }
    case "perfect":
      scores = labels.map((y) => (y === 1 ? rng.uniform(0.6, 1) : rng.uniform(0, 0.4)));
      break;
    case "inverted":
      scores = labels.map((y) => (y === 1 ? rng.uniform(0, 0.4) : rng.uniform(0.6, 1)));
      break;
    case "constant":
      scores = labels.map(() => 0.5);
      break;
    case "extreme-0-1":
      scores = labels.map((y) => (rng.bernoulli(0.8) ? y : 1 - y));
      break;
    case "threshold-edge":
      scores = scores.map((s) => (rng.bernoulli(0.3) ? threshold : s));
      break;
    default:
      break;
  }
  const scores2 = scores.map((s, i) =>
    kind === "constant"
      ? 0.5
      : Math.min(1, Math.max(0, 0.5 * s + 0.5 * sigmoid(latent[i]! + rng.normal(0, 1)))),
  );
  return { id, kind, task: "binary", labels, scores, scores2, threshold };
}

function softmax(z: number[]): number[] {
  const m = Math.max(...z);
  const e = z.map((v) => Math.exp(v - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
}

function multiclassCase(rng: Rng, id: string, kind: (typeof MULTICLASS_KINDS)[number]): AgreementCase {
  const k = rng.int(3, 6);
  const n = rng.int(k * 4, 200);
  let labels = Array.from({ length: n }, (_, i) => (i < k ? i : rng.int(0, k - 1)));
  if (kind === "single-class") labels = labels.map(() => 2);
  if (kind === "missing-class") labels = labels.map((y) => (y === k - 1 ? 0 : y));
  rng.shuffle(labels);
  const signal = rng.uniform(0, 3);
  let scores = labels.map((y) =>
    softmax(Array.from({ length: k }, (_, c) => rng.normal(c === y ? signal : 0, 1))),
  );
  if (kind === "ties") {
    const pattern = [0.5, 0.25, 0.25, ...new Array<number>(k - 3).fill(0)];
    scores = labels.map((y) => {
      const row = rng.shuffle([...pattern]);
      if (rng.bernoulli(0.5)) {
        const j = row.indexOf(0.5);
        row[j] = row[y]!;
        row[y] = 0.5;
      }
      return row;
    });
  }
  if (kind === "perfect") {
    scores = labels.map((y) => Array.from({ length: k }, (_, c) => (c === y ? 0.9 : 0.1 / (k - 1))));
  }
  if (kind === "inverted") {
    scores = labels.map((y) => {
      const row = Array.from({ length: k }, (_, c) => (c === y ? 0 : 1 / (k - 1)));
      return row;
    });
  }
  if (kind === "uniform") scores = labels.map(() => new Array<number>(k).fill(1 / k));
  return { id, kind, task: "multiclass", k, labels, scores };
}

function multilabelCase(rng: Rng, id: string, kind: (typeof MULTILABEL_KINDS)[number]): AgreementCase {
  const l = rng.int(2, 5);
  const n = rng.int(10, 200);
  const prev = Array.from({ length: l }, () => rng.uniform(0.15, 0.7));
  const labels = Array.from({ length: n }, () => prev.map((p) => (rng.bernoulli(p) ? 1 : 0)));
  for (let c = 0; c < l; c++) {
    // Both classes in every label, except where the case asks otherwise.
    labels[0]![c] = 1;
    labels[1]![c] = 0;
  }
  if (kind === "single-class-label") for (const row of labels) row[l - 1] = 0;
  const signal = rng.uniform(0, 2.5);
  let scores = labels.map((row) => row.map((y) => sigmoid(rng.normal(y * signal, 1))));
  if (kind === "ties") scores = scores.map((row) => row.map((s) => Math.round(s * 5) / 5));
  if (kind === "perfect")
    scores = labels.map((row) => row.map((y) => (y ? rng.uniform(0.6, 1) : rng.uniform(0, 0.4))));
  if (kind === "inverted")
    scores = labels.map((row) => row.map((y) => (y ? rng.uniform(0, 0.4) : rng.uniform(0.6, 1))));
  return { id, kind, task: "multilabel", labels, scores, threshold: 0.5 };
}

function blob(rng: Rng, shape: number[], count: number): number[] {
  const size = shape.reduce((a, b) => a * b, 1);
  const out: number[] = new Array<number>(size).fill(0);
  for (let b = 0; b < count; b++) {
    const centre = shape.map((s) => rng.uniform(0, s));
    const radius = shape.map((s) => rng.uniform(1, Math.max(1.5, s / 4)));
    for (let i = 0; i < size; i++) {
      let rem = i;
      let d = 0;
      for (let ax = shape.length - 1; ax >= 0; ax--) {
        const c = rem % shape[ax]!;
        rem = Math.floor(rem / shape[ax]!);
        d += ((c - centre[ax]!) / radius[ax]!) ** 2;
      }
      if (d <= 1) out[i] = 1;
    }
  }
  return out;
}

function segmentationCase(rng: Rng, id: string, kind: (typeof SEG_KINDS)[number]): AgreementCase {
  const threeD = kind === "blobs-3d" || (kind !== "blobs-2d" && rng.bernoulli(0.5));
  const shape = threeD ? [rng.int(4, 12), rng.int(8, 20), rng.int(8, 20)] : [rng.int(8, 40), rng.int(8, 40)];
  const spacing = shape.map(() => Math.round(rng.uniform(0.3, 2.5) * 100) / 100);
  let gt: number[] = blob(rng, shape, rng.int(1, 3));
  let pred: number[] = blob(rng, shape, rng.int(1, 3));
  if (!gt.some((v) => v !== 0)) gt[0] = 1;
  if (kind === "pred-empty") pred = pred.map(() => 0);
  if (kind === "both-empty") {
    pred = pred.map(() => 0);
    gt = gt.map(() => 0);
  }
  if (kind === "identical") pred = [...gt];
  if (kind === "shifted") pred = gt.map((_, i) => gt[i - 1] ?? 0);
  return { id, kind, task: "segmentation", shape, spacing, pred, gt, tolerance: AGREEMENT_TOLERANCE };
}

/**
 * Generates the agreement cases: every kind of each task in turn, from one seed.
 *
 * @example
 * ```ts
 * const cases = generateAgreementCases(250, 20251121);
 * ```
 */
export function generateAgreementCases(count: number, seed: number): AgreementCase[] {
  const rng = new Rng(seed);
  const out: AgreementCase[] = [];
  // Shares: ~50% binary, ~25% multi-class, ~15% multi-label, ~10% segmentation.
  for (let i = 0; i < count; i++) {
    const r = i % 20;
    const id = `c${String(i).padStart(4, "0")}`;
    if (r < 10) out.push(binaryCase(rng, id, BINARY_KINDS[Math.floor(i / 20 + r) % BINARY_KINDS.length]!));
    else if (r < 15)
      out.push(multiclassCase(rng, id, MULTICLASS_KINDS[Math.floor(i / 20 + r) % MULTICLASS_KINDS.length]!));
    else if (r < 18)
      out.push(multilabelCase(rng, id, MULTILABEL_KINDS[Math.floor(i / 20 + r) % MULTILABEL_KINDS.length]!));
    else out.push(segmentationCase(rng, id, SEG_KINDS[Math.floor(i / 20 + r) % SEG_KINDS.length]!));
  }
  return out;
}

/** A value on either side: a number, an array, or NaN for "undefined". */
export type AgreementValue = number | number[];

/**
 * How a metric is compared.
 * - `strict`: when the peer flags the value as undefined (raises, warns, or returns NaN), ours must be NaN;
 *   otherwise the numbers must agree.
 * - `value`: the peer's number is compared even when it warns (used for `zeroDivision: 0` variants, which
 *   reproduce scikit-learn's substitute values, and for warnings about well-defined values).
 */
export type AgreementMode = "strict" | "value";

/** Our value of one metric for one case. */
export interface OurValue {
  readonly metric: string;
  /** The peer's key (defaults to `metric`). */
  readonly peerKey?: string;
  readonly value: AgreementValue;
  readonly mode: AgreementMode;
}

const ZD0 = { zeroDivision: 0 } as const;

function col(rows: readonly number[][], c: number): number[] {
  return rows.map((r) => r[c]!);
}

/**
 * Our values for one case, named as the peer script names its results.
 *
 * @example
 * ```ts
 * ourAgreementValues(generateAgreementCases(1, 1)[0]!);
 * ```
 */
export function ourAgreementValues(c: AgreementCase): OurValue[] {
  const out: OurValue[] = [];
  const add = (metric: string, value: AgreementValue, mode: AgreementMode = "strict", peerKey?: string) =>
    out.push({ metric, value, mode, ...(peerKey === undefined ? {} : { peerKey }) });
  if (c.task === "binary") {
    const y = c.labels;
    const s = c.scores;
    const pred = s.map((v) => (v >= c.threshold ? 1 : 0));
    const bin = { numClasses: 2, average: "binary" } as const;
    add("accuracy", computeAccuracy(y, pred));
    add("balanced_accuracy", computeBalancedAccuracy(y, pred), "value");
    add("precision", computePrecision(y, pred, bin));
    add("recall", computeRecall(y, pred, bin));
    add("specificity", computeSpecificity(y, pred, bin));
    add("npv", computeNpv(y, pred, bin));
    add("f1", computeF1(y, pred, bin));
    add("f2", computeFBeta(y, pred, 2, bin));
    add("precision_zd0", computePrecision(y, pred, { ...bin, ...ZD0 }), "value");
    add("recall_zd0", computeRecall(y, pred, { ...bin, ...ZD0 }), "value");
    add("specificity_zd0", computeSpecificity(y, pred, { ...bin, ...ZD0 }), "value");
    add("npv_zd0", computeNpv(y, pred, { ...bin, ...ZD0 }), "value");
    add("f1_zd0", computeF1(y, pred, { ...bin, ...ZD0 }), "value");
    add("mcc", computeMcc(y, pred, 2));
    add("kappa", computeCohenKappa(y, pred, 2));
    add("confusion_matrix", computeConfusionMatrix(y, pred, 2).flat());
    add("roc_auc", computeRocAuc(y, s));
    const roc = computeRocCurve(y, s);
    // One roc_curve call warns for whichever rate is undefined; each array is judged by its own NaNs.
    add("roc_fpr", Array.from(roc.fpr), "value");
    add("roc_tpr", Array.from(roc.tpr), "value");
    add("roc_thresholds", Array.from(roc.thresholds.subarray(1)), "value");
    const pr = computePrCurve(y, s);
    add("pr_precision", Array.from(pr.precision), "value");
    add("pr_recall", Array.from(pr.recall));
    add("pr_thresholds", Array.from(pr.thresholds), "value");
    add("average_precision", computeAveragePrecision(y, s));
    add("log_loss", computeLogLoss(y, s), "value");
    add("brier", computeBrierScore(y, s), "value");
    add("ece", computeEce(y, s, AGREEMENT_ECE_BINS), "value");
    const yj = chooseThreshold(y, s, { rule: "youden" });
    add("youden_threshold", Number.isFinite(yj.threshold) ? yj.threshold : Number.NaN);
    const mm = medmnistEvaluate("binary-class", y, s);
    add("medmnist_acc", mm.acc, "value");
    add("medmnist_auc", mm.auc);
    const d = computeDelong(y, [s]);
    add("delong_auc", d.aucs[0]!, "strict", "roc_auc");
    add("delong_variance", d.covariance[0]![0]!);
    const t = computeDelongTest(y, s, c.scores2);
    add("delong_test_p", t.pValue);
    const ev = evaluatePredictions({
      task: "binary",
      labels: y,
      scores: s,
      threshold: c.threshold,
      bootstrap: false,
      eceBins: AGREEMENT_ECE_BINS,
    });
    for (const [k, peer] of [
      ["accuracy", "accuracy"],
      ["balanced_accuracy", "balanced_accuracy"],
      ["precision", "precision"],
      ["recall", "recall"],
      ["specificity", "specificity"],
      ["npv", "npv"],
      ["f1", "f1"],
      ["mcc", "mcc"],
      ["kappa", "kappa"],
      ["auc", "roc_auc"],
      ["average_precision", "average_precision"],
      ["log_loss", "log_loss"],
      ["brier", "brier"],
      ["ece", "ece"],
    ] as const) {
      add(
        `evaluate.${k}`,
        ev[k],
        peer === "balanced_accuracy" || peer === "log_loss" || peer === "brier" || peer === "ece"
          ? "value"
          : "strict",
        peer,
      );
    }
  } else if (c.task === "multiclass") {
    const y = c.labels;
    const p = c.scores;
    const pred = p.map((r) => argmax(r));
    const o = { numClasses: c.k };
    add("accuracy", computeAccuracy(y, pred));
    add("balanced_accuracy", computeBalancedAccuracy(y, pred, o), "value");
    for (const avg of ["macro", "micro", "weighted"] as const) {
      const ao = { ...o, average: avg };
      add(`precision_${avg}`, computePrecision(y, pred, ao));
      // Weighted recall: a class without true samples has weight 0, so its undefined recall cannot move the
      // average; scikit-learn still warns about it.
      add(`recall_${avg}`, computeRecall(y, pred, ao), avg === "weighted" ? "value" : "strict");
      add(`f1_${avg}`, computeF1(y, pred, ao));
      add(`precision_${avg}_zd0`, computePrecision(y, pred, { ...ao, ...ZD0 }), "value");
      add(`recall_${avg}_zd0`, computeRecall(y, pred, { ...ao, ...ZD0 }), "value");
      add(`f1_${avg}_zd0`, computeF1(y, pred, { ...ao, ...ZD0 }), "value");
    }
    add("specificity_macro", computeSpecificity(y, pred, { ...o, average: "macro" }));
    add("npv_macro", computeNpv(y, pred, { ...o, average: "macro" }));
    add("mcc", computeMcc(y, pred, c.k));
    add("kappa", computeCohenKappa(y, pred, c.k));
    add("confusion_matrix", computeConfusionMatrix(y, pred, c.k).flat());
    add("roc_auc_ovr_macro", computeRocAucOvr(y, p, "macro"));
    add("roc_auc_ovr_weighted", computeRocAucOvr(y, p, "weighted"));
    add("roc_auc_ovr_micro", computeRocAucOvr(y, p, "micro"));
    add("roc_auc_ovo_macro", computeRocAucOvo(y, p, "macro"));
    add("roc_auc_ovo_weighted", computeRocAucOvo(y, p, "weighted"));
    add("average_precision_macro", computeAveragePrecisionOvr(y, p, "macro"));
    add("average_precision_micro", computeAveragePrecisionOvr(y, p, "micro"));
    add("log_loss", computeLogLossMulticlass(y, p), "value");
    add("ece_top_label", computeEceMulticlass(y, p, AGREEMENT_ECE_BINS), "value");
    const mm = medmnistEvaluate("multi-class", y, p);
    add("medmnist_acc", mm.acc, "value");
    add("medmnist_auc", mm.auc);
    const ev = evaluatePredictions({
      task: "multiclass",
      labels: y,
      scores: p,
      bootstrap: false,
      eceBins: AGREEMENT_ECE_BINS,
    });
    for (const [k, peer, mode] of [
      ["accuracy", "accuracy", "strict"],
      ["balanced_accuracy", "balanced_accuracy", "value"],
      ["precision", "precision_macro", "strict"],
      ["recall", "recall_macro", "strict"],
      ["f1", "f1_macro", "strict"],
      ["specificity", "specificity_macro", "strict"],
      ["npv", "npv_macro", "strict"],
      ["mcc", "mcc", "strict"],
      ["kappa", "kappa", "strict"],
      ["auc", "roc_auc_ovr_macro", "strict"],
      ["average_precision", "average_precision_macro", "strict"],
      ["log_loss", "log_loss", "value"],
      ["ece", "ece_top_label", "value"],
    ] as const) {
      add(`evaluate.${k}`, ev[k], mode, peer);
    }
  } else if (c.task === "multilabel") {
    const y = c.labels;
    const p = c.scores;
    const pred = p.map((r) => r.map((v) => (v >= c.threshold ? 1 : 0)));
    const l = y[0]!.length;
    const perLabel = (f: (yy: number[], pp: number[], ss: number[]) => number) =>
      Array.from({ length: l }, (_, j) => f(col(y, j), col(pred, j), col(p, j)));
    const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
    const bin = { numClasses: 2, average: "binary" } as const;
    add("label_accuracy_mean", mean(perLabel((a, b) => computeAccuracy(a, b))));
    let exact = 0;
    for (let i = 0; i < y.length; i++) if (y[i]!.every((v, j) => v === pred[i]![j])) exact++;
    add("subset_accuracy", exact / y.length);
    add("precision_macro", mean(perLabel((a, b) => computePrecision(a, b, bin))));
    add("recall_macro", mean(perLabel((a, b) => computeRecall(a, b, bin))));
    add("f1_macro", mean(perLabel((a, b) => computeF1(a, b, bin))));
    add("precision_macro_zd0", mean(perLabel((a, b) => computePrecision(a, b, { ...bin, ...ZD0 }))), "value");
    add("recall_macro_zd0", mean(perLabel((a, b) => computeRecall(a, b, { ...bin, ...ZD0 }))), "value");
    add("f1_macro_zd0", mean(perLabel((a, b) => computeF1(a, b, { ...bin, ...ZD0 }))), "value");
    add("roc_auc_macro", computeRocAucMultilabel(y, p, "macro"));
    add("roc_auc_micro", computeRocAucMultilabel(y, p, "micro"));
    add("roc_auc_weighted", computeRocAucMultilabel(y, p, "weighted"));
    add("average_precision_macro", computeAveragePrecisionMultilabel(y, p, "macro"));
    add("average_precision_micro", computeAveragePrecisionMultilabel(y, p, "micro"));
    add("log_loss_label_mean", mean(perLabel((a, _b, s) => computeLogLoss(a, s))), "value");
    add("brier_label_mean", mean(perLabel((a, _b, s) => computeBrierScore(a, s))), "value");
    const mm = medmnistEvaluate("multi-label, binary-class", y, p);
    add("medmnist_acc", mm.acc, "value");
    add("medmnist_auc", mm.auc);
    const ev = evaluatePredictions({
      task: "multilabel",
      labels: y,
      scores: p,
      threshold: c.threshold,
      bootstrap: false,
      eceBins: AGREEMENT_ECE_BINS,
    });
    for (const [k, peer, mode] of [
      ["accuracy", "label_accuracy_mean", "strict"],
      ["precision", "precision_macro", "strict"],
      ["recall", "recall_macro", "strict"],
      ["f1", "f1_macro", "strict"],
      ["auc", "roc_auc_macro", "strict"],
      ["average_precision", "average_precision_macro", "strict"],
      ["log_loss", "log_loss_label_mean", "value"],
      ["brier", "brier_label_mean", "value"],
    ] as const) {
      add(`evaluate.${k}`, ev[k], mode, peer);
    }
    if (ev.subset_accuracy !== undefined)
      add("evaluate.subset_accuracy", ev.subset_accuracy, "strict", "subset_accuracy");
  } else {
    const mask = (data: number[]) => ({ data, shape: c.shape, spacing: c.spacing });
    const r = computeSegmentationScores(mask(c.pred), mask(c.gt), { tolerance: c.tolerance });
    add("dice", r.dice);
    add("iou", r.iou);
    add("hd95", r.hd95);
    add("assd", r.assd);
    add("surface_dice", r.surfaceDice);
  }
  return out;
}

/** The peer's value of one metric: `v` null when it raised; `w` the warning or error text when it flagged one. */
export interface PeerValue {
  readonly v: number | number[] | null;
  readonly w: string | null;
  /** Where the number came from: scikit-learn, or numpy/scipy where scikit-learn has no such metric. */
  readonly src: string;
}

/**
 * Path of the Python peer script.
 *
 * @example
 * ```ts
 * spawnSync(peerPython(), [PEER_SCRIPT], { input });
 * ```
 */
export const PEER_SCRIPT = join(REPO_ROOT, "bench", "metrics_sklearn.py");

/**
 * The Python interpreter that has Debian's scikit-learn 1.2 (override with RADIOLENS_PYTHON).
 *
 * @example
 * ```ts
 * peerPython(); // "/usr/bin/python3"
 * ```
 */
export function peerPython(): string {
  return process.env["RADIOLENS_PYTHON"] ?? "/usr/bin/python3";
}

/**
 * Runs the peer once on every case (all cases as one JSON document on stdin).
 *
 * @example
 * ```ts
 * const { results, versions } = runSklearnPeer(generateAgreementCases(20, 1));
 * ```
 */
export function runSklearnPeer(cases: readonly AgreementCase[]): {
  results: Record<string, Record<string, PeerValue>>;
  versions: Record<string, string>;
  seconds: number;
} {
  const r = spawnSync(peerPython(), [PEER_SCRIPT], {
    input: JSON.stringify({ cases, ece_bins: AGREEMENT_ECE_BINS }),
    encoding: "utf8",
    maxBuffer: 1 << 30,
  });
  if (r.status !== 0) {
    throw new RadioLensError("RL_ERR_INTERNAL", {
      detail: `scikit-learn peer ${PEER_SCRIPT} exited with ${r.status}: ${(r.stderr ?? "").slice(-2000)}`,
    });
  }
  // The peer writes ±Infinity as strings (JSON has no infinities).
  const revive = (_k: string, v: unknown) =>
    v === "Infinity" ? Number.POSITIVE_INFINITY : v === "-Infinity" ? Number.NEGATIVE_INFINITY : v;
  return JSON.parse(r.stdout, revive) as {
    results: Record<string, Record<string, PeerValue>>;
    versions: Record<string, string>;
    seconds: number;
  };
}

/** Outcome of one comparison. */
export interface Comparison {
  readonly caseId: string;
  readonly kind: string;
  readonly task: AgreementCase["task"];
  readonly metric: string;
  readonly src: string;
  /** `agree`: equal within tolerance; `both-undefined`: peer flags undefined and ours is NaN. */
  readonly outcome: "agree" | "both-undefined" | "disagree" | "missing";
  readonly absDiff: number;
  readonly detail?: string;
}

function containsNaN(v: AgreementValue): boolean {
  return typeof v === "number" ? Number.isNaN(v) : v.some((x) => Number.isNaN(x));
}

function closeEnough(a: number, b: number, tol: number): boolean {
  if (Number.isNaN(a) && Number.isNaN(b)) return true;
  if (a === b) return true;
  return Math.abs(a - b) <= tol * Math.max(1, Math.abs(b));
}

/**
 * Compares our values with the peer's under the tolerance (relative above 1, absolute below).
 *
 * @example
 * ```ts
 * const rows = compareAgreement(cases, peer.results, 1e-9);
 * rows.filter((r) => r.outcome === "disagree").length; // 0
 * ```
 */
export function compareAgreement(
  cases: readonly AgreementCase[],
  peer: Record<string, Record<string, PeerValue>>,
  tol = 1e-9,
): Comparison[] {
  const out: Comparison[] = [];
  for (const c of cases) {
    const theirs = peer[c.id] ?? {};
    for (const ours of ourAgreementValues(c)) {
      const key = ours.peerKey ?? ours.metric;
      const base = { caseId: c.id, kind: c.kind, task: c.task, metric: ours.metric };
      const p = theirs[key];
      if (p === undefined) {
        out.push({
          ...base,
          src: "-",
          outcome: "missing",
          absDiff: Number.NaN,
          detail: `peer has no ${key}`,
        });
        continue;
      }
      const undefinedPeer = p.v === null || (p.w !== null && ours.mode === "strict");
      if (undefinedPeer) {
        const ok = containsNaN(ours.value);
        out.push({
          ...base,
          src: p.src,
          outcome: ok ? "both-undefined" : "disagree",
          absDiff: Number.NaN,
          ...(ok
            ? {}
            : { detail: `peer flags undefined (${p.w ?? "raised"}), ours ${JSON.stringify(ours.value)}` }),
        });
        continue;
      }
      const a = ours.value;
      const b = p.v as number | number[];
      let diff = 0;
      let ok: boolean;
      if (typeof a === "number" && typeof b === "number") {
        ok = closeEnough(a, b, tol);
        diff = Number.isNaN(a) || Number.isNaN(b) ? (ok ? 0 : Number.POSITIVE_INFINITY) : Math.abs(a - b);
      } else if (Array.isArray(a) && Array.isArray(b) && a.length === b.length) {
        ok = a.every((x, i) => closeEnough(x, b[i]!, tol));
        for (let i = 0; i < a.length; i++) {
          const d = Math.abs(a[i]! - b[i]!);
          if (!Number.isNaN(d)) diff = Math.max(diff, d);
        }
      } else {
        ok = false;
        diff = Number.POSITIVE_INFINITY;
      }
      out.push({
        ...base,
        src: p.src,
        outcome: ok ? "agree" : "disagree",
        absDiff: diff,
        ...(ok
          ? {}
          : { detail: `ours ${JSON.stringify(a).slice(0, 200)} vs peer ${JSON.stringify(b).slice(0, 200)}` }),
      });
    }
  }
  return out;
}
