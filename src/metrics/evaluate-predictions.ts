/** The headline evaluation of a model's predictions (binary, multi-class, multi-label; optional patient-level aggregation) with per-class details and confidence intervals. */
import { type BootstrapOptions, bootstrapCi } from "./bootstrap.js";
import {
  type Average,
  accuracyFromConfusion,
  averagedFromConfusion,
  balancedAccuracyFromConfusion,
  classReport,
  kappaFromConfusion,
  mccFromConfusion,
} from "./confusion.js";
import { computeDelongCi, type DelongCi } from "./delong.js";
import { argmax, DEFAULT_ECE_BINS, LOG_LOSS_EPS } from "./probabilistic.js";
import { chooseThreshold, type ScoreRows, type ThresholdRule } from "./ranking.js";
import { argsortAscending, checkLabels, checkScores, metricInputError, strictMean } from "./stats.js";

/** The kind of prediction problem. */
export type EvaluationTask = "binary" | "multiclass" | "multilabel";

/**
 * The headline metric keys, in report order (the JSON's top-level keys).
 *
 * @example
 * ```ts
 * for (const k of HEADLINE_KEYS) console.log(k, result[k]);
 * ```
 */
export const HEADLINE_KEYS = [
  "accuracy",
  "balanced_accuracy",
  "precision",
  "recall",
  "specificity",
  "npv",
  "f1",
  "mcc",
  "kappa",
  "auc",
  "average_precision",
  "log_loss",
  "brier",
  "ece",
] as const;

/** One headline metric key. */
export type HeadlineKey = (typeof HEADLINE_KEYS)[number];

/** Headline values; NaN marks an undefined metric (null in JSON). */
export type Headline = Record<HeadlineKey, number>;

interface CommonInput {
  /**
   * Binary and multi-label: predict positive when score ≥ threshold (default 0.5). Binary only: a rule
   * (`youden`, or a target sensitivity/specificity) chooses the threshold on these same data — an optimistic,
   * in-sample choice; the intervals then hold the threshold fixed.
   */
  readonly threshold?: number | ThresholdRule;
  /** One id per row: rows are averaged per patient (mean score) before any metric; labels must agree. */
  readonly patientIds?: readonly string[];
  /** Class (multi-class) or label (multi-label) names; binary defaults to ["negative", "positive"]. */
  readonly classNames?: readonly string[];
  /** Bootstrap settings, or false to skip the bootstrap (DeLong intervals are always given). */
  readonly bootstrap?: false | Omit<BootstrapOptions, "strata">;
  /** Equal-width bins of the expected calibration error (default 15). */
  readonly eceBins?: number;
  /** Value of an undefined precision/recall/specificity/NPV/F1 (default NaN; 0 reproduces scikit-learn 1.2). */
  readonly zeroDivision?: number | "nan";
}

/** Input of {@link evaluatePredictions}. */
export type EvaluationInput =
  | (CommonInput & {
      readonly task: "binary";
      readonly labels: ArrayLike<number>;
      /** P(class 1) per row. */
      readonly scores: ArrayLike<number>;
    })
  | (CommonInput & {
      readonly task: "multiclass";
      readonly labels: ArrayLike<number>;
      /** One probability row per sample (rows sum to 1). */
      readonly scores: ScoreRows;
    })
  | (CommonInput & {
      readonly task: "multilabel";
      /** 0/1 indicator row per sample. */
      readonly labels: ScoreRows;
      /** One probability per label per sample. */
      readonly scores: ScoreRows;
    });

/** Per-class (multi-class, binary) or per-label (multi-label) details. */
export interface PerClassEntry {
  readonly name: string;
  readonly support: number;
  readonly precision: number;
  readonly recall: number;
  readonly specificity: number;
  readonly npv: number;
  readonly f1: number;
  /** One-vs-rest ROC AUC (multi-class, multi-label); absent for the binary classes. */
  readonly auc?: number;
  readonly average_precision?: number;
  /** Multi-label only: the label's own headline metrics and 2×2 confusion matrix [[tn, fp], [fn, tp]]. */
  readonly metrics?: Headline;
  readonly confusion_matrix?: number[][];
}

/** DeLong interval in the JSON's naming. */
export interface AucDelongCi {
  readonly name: string;
  readonly auc: number;
  readonly variance: number;
  readonly lo: number;
  readonly hi: number;
}

/** The Youden-optimal operating point in the JSON's naming. */
export interface YoudenPoint {
  /** Predict positive when score ≥ threshold (+Infinity, null in JSON: nothing positive). */
  readonly threshold: number;
  readonly sensitivity: number;
  readonly specificity: number;
  readonly youden_j: number;
}

/** The result: headline metrics at the top level, details nested (all keys snake_case). */
export interface EvaluationResult extends Headline {
  readonly task: EvaluationTask;
  readonly n_samples: number;
  /** Number of patients after aggregation, or null when rows were not aggregated. */
  readonly n_patients: number | null;
  /** `binary` (positive class) or `macro` (unweighted mean over classes/labels). */
  readonly averaging: "binary" | "macro";
  readonly class_names: string[];
  readonly threshold: {
    readonly rule: string;
    readonly value: number | null;
    /** Binary: Youden-optimal operating point on the same data (informative; not used for the metrics). */
    readonly youden?: YoudenPoint;
  };
  readonly confusion_matrix: { readonly labels: string[]; readonly matrix: number[][] } | null;
  readonly per_class: PerClassEntry[];
  readonly ci: {
    readonly level: number;
    readonly bootstrap: {
      readonly method: "stratified percentile bootstrap";
      readonly n_resamples: number;
      readonly seed: number;
      readonly level: number;
      /** Resamples where a metric was undefined are left out; `n_valid` counts the others. */
      readonly intervals: Record<
        HeadlineKey,
        { readonly lo: number; readonly hi: number; readonly n_valid: number }
      >;
    } | null;
    /** Binary: one entry; multi-class: one per class (one-vs-rest); multi-label: one per label. */
    readonly auc_delong: AucDelongCi[];
  };
  /** Multi-label only: fraction of samples with every label right (scikit-learn's multi-label accuracy). */
  readonly subset_accuracy?: number;
  readonly ece_bins: number;
  /** Why a headline metric is NaN (null in JSON). */
  readonly warnings: string[];
}

/** A binary problem prepared for repeated weighted evaluation. */
interface BinaryPrep {
  readonly y: Uint8Array;
  readonly s: Float64Array;
  readonly pred: Uint8Array;
  readonly order: Int32Array;
  readonly ll: Float64Array;
  readonly br: Float64Array;
  readonly bin: Int32Array;
}

function descendingOrder(s: Float64Array): Int32Array {
  return argsortAscending(s).reverse();
}

function binOf(p: number, nBins: number): number {
  // Right-closed equal-width bins (k/B, (k+1)/B], the first also holding 0: count edges k/B strictly below p.
  let b = 0;
  while (b < nBins - 1 && (b + 1) / nBins < p) b++;
  return b;
}

function prepBinary(y: Uint8Array, s: Float64Array, threshold: number, nBins: number): BinaryPrep {
  const n = y.length;
  const ll = new Float64Array(n);
  const br = new Float64Array(n);
  const bin = new Int32Array(n);
  const pred = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const p = s[i]!;
    const q = Math.min(Math.max(p, LOG_LOSS_EPS), 1 - LOG_LOSS_EPS);
    ll[i] = -Math.log((y[i] === 1 ? q : 1 - q) / (1 - q + q));
    br[i] = (p - y[i]!) ** 2;
    bin[i] = binOf(p, nBins);
    pred[i] = p >= threshold ? 1 : 0;
  }
  return { y, s, pred, order: descendingOrder(s), ll, br, bin };
}

/** Weighted trapezoidal ROC AUC and step average precision over a presorted score order. */
function weightedAucAp(y: Uint8Array, s: Float64Array, order: Int32Array, w: ArrayLike<number>) {
  let pos = 0;
  let neg = 0;
  for (let i = 0; i < y.length; i++) {
    if (y[i] === 1) pos += w[i]!;
    else neg += w[i]!;
  }
  let tp = 0;
  let fp = 0;
  let area = 0;
  let ap = 0;
  let i = 0;
  const n = order.length;
  while (i < n) {
    const tp0 = tp;
    const fp0 = fp;
    const v = s[order[i]!]!;
    while (i < n && s[order[i]!] === v) {
      const idx = order[i]!;
      if (y[idx] === 1) tp += w[idx]!;
      else fp += w[idx]!;
      i++;
    }
    area += ((fp - fp0) * (tp + tp0)) / 2;
    if (tp > tp0) ap += (tp - tp0) * (tp / (tp + fp));
  }
  return {
    auc: pos === 0 || neg === 0 ? Number.NaN : area / (pos * neg),
    ap: pos === 0 ? Number.NaN : ap / pos,
  };
}

function weightedEce(
  y: ArrayLike<number>,
  p: ArrayLike<number>,
  bin: Int32Array,
  nBins: number,
  w: ArrayLike<number>,
) {
  const cnt = new Float64Array(nBins);
  const sp = new Float64Array(nBins);
  const sy = new Float64Array(nBins);
  for (let i = 0; i < bin.length; i++) {
    const wi = w[i]!;
    if (wi === 0) continue;
    const b = bin[i]!;
    cnt[b]! += wi;
    sp[b]! += wi * p[i]!;
    sy[b]! += wi * y[i]!;
  }
  let total = 0;
  let e = 0;
  for (let b = 0; b < nBins; b++) {
    if (cnt[b] === 0) continue;
    total += cnt[b]!;
    e += cnt[b]! * Math.abs(sy[b]! / cnt[b]! - sp[b]! / cnt[b]!);
  }
  return total === 0 ? Number.NaN : e / total;
}

function weightedMean(v: Float64Array, w: ArrayLike<number>): number {
  let s = 0;
  let t = 0;
  for (let i = 0; i < v.length; i++) {
    s += w[i]! * v[i]!;
    t += w[i]!;
  }
  return s / t;
}

function confusion(
  y: ArrayLike<number>,
  pred: ArrayLike<number>,
  k: number,
  w: ArrayLike<number>,
): number[][] {
  const m = Array.from({ length: k }, () => new Array<number>(k).fill(0));
  for (let i = 0; i < y.length; i++) m[y[i]!]![pred[i]!]! += w[i]!;
  return m;
}

function fromConfusion(cm: number[][], average: Average, zeroDivision: number | "nan") {
  const o = { average, zeroDivision };
  return {
    accuracy: accuracyFromConfusion(cm),
    balanced_accuracy: balancedAccuracyFromConfusion(cm),
    precision: averagedFromConfusion(cm, "precision", o),
    recall: averagedFromConfusion(cm, "recall", o),
    specificity: averagedFromConfusion(cm, "specificity", o),
    npv: averagedFromConfusion(cm, "npv", o),
    f1: averagedFromConfusion(cm, "f1", o),
    mcc: mccFromConfusion(cm),
    kappa: kappaFromConfusion(cm),
  };
}

function binaryHeadline(b: BinaryPrep, w: ArrayLike<number>, nBins: number, zd: number | "nan"): Headline {
  const cm = confusion(b.y, b.pred, 2, w);
  const { auc, ap } = weightedAucAp(b.y, b.s, b.order, w);
  return {
    ...fromConfusion(cm, "binary", zd),
    auc,
    average_precision: ap,
    log_loss: weightedMean(b.ll, w),
    brier: weightedMean(b.br, w),
    ece: weightedEce(b.y, b.s, b.bin, nBins, w),
  };
}

interface MulticlassPrep {
  readonly k: number;
  readonly y: Int32Array;
  readonly pred: Int32Array;
  readonly ll: Float64Array;
  readonly br: Float64Array;
  readonly conf: Float64Array;
  readonly correct: Uint8Array;
  readonly confBin: Int32Array;
  readonly cols: { y: Uint8Array; s: Float64Array; order: Int32Array }[];
}

function prepMulticlass(y: Int32Array, rows: ScoreRows, nBins: number): MulticlassPrep {
  const n = y.length;
  const k = rows[0]?.length ?? 0;
  const pred = new Int32Array(n);
  const ll = new Float64Array(n);
  const br = new Float64Array(n);
  const conf = new Float64Array(n);
  const correct = new Uint8Array(n);
  const confBin = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const row = rows[i]!;
    let total = 0;
    let b = 0;
    for (let c = 0; c < k; c++) {
      const p = row[c] as number;
      total += Math.min(Math.max(p, LOG_LOSS_EPS), 1 - LOG_LOSS_EPS);
      b += (p - (y[i] === c ? 1 : 0)) ** 2;
    }
    const py = Math.min(Math.max(row[y[i]!] as number, LOG_LOSS_EPS), 1 - LOG_LOSS_EPS);
    ll[i] = -Math.log(py / total);
    br[i] = b;
    pred[i] = argmax(row);
    conf[i] = row[pred[i]!] as number;
    correct[i] = pred[i] === y[i] ? 1 : 0;
    confBin[i] = binOf(conf[i]!, nBins);
  }
  const cols = Array.from({ length: k }, (_, c) => {
    const s = Float64Array.from(rows, (r) => r[c] as number);
    return { y: Uint8Array.from(y, (v) => (v === c ? 1 : 0)), s, order: descendingOrder(s) };
  });
  return { k, y, pred, ll, br, conf, correct, confBin, cols };
}

function multiclassHeadline(
  m: MulticlassPrep,
  w: ArrayLike<number>,
  nBins: number,
  zd: number | "nan",
): Headline {
  const cm = confusion(m.y, m.pred, m.k, w);
  const per = m.cols.map((c) => weightedAucAp(c.y, c.s, c.order, w));
  return {
    ...fromConfusion(cm, "macro", zd),
    auc: strictMean(per.map((p) => p.auc)),
    average_precision: strictMean(per.map((p) => p.ap)),
    log_loss: weightedMean(m.ll, w),
    brier: weightedMean(m.br, w),
    ece: weightedEce(m.correct, m.conf, m.confBin, nBins, w),
  };
}

function multilabelHeadline(
  labels: readonly BinaryPrep[],
  w: ArrayLike<number>,
  nBins: number,
  zd: number | "nan",
) {
  const per = labels.map((b) => binaryHeadline(b, w, nBins, zd));
  const out = {} as Record<HeadlineKey, number>;
  for (const key of HEADLINE_KEYS) out[key] = strictMean(per.map((h) => h[key]));
  return { headline: out, per };
}

/** Rows aggregated per patient: mean score, common label. */
function aggregatePatients(
  patientIds: readonly string[],
  labelRows: number[][],
  scoreRows: number[][],
): { labels: number[][]; scores: number[][]; nPatients: number } {
  if (patientIds.length !== labelRows.length) {
    throw metricInputError(
      "patient aggregation",
      `${patientIds.length} patient ids for ${labelRows.length} rows`,
    );
  }
  const index = new Map<string, number>();
  const firstRow: number[] = [];
  const labels: number[][] = [];
  const sums: number[][] = [];
  const counts: number[] = [];
  patientIds.forEach((id, i) => {
    let g = index.get(id);
    if (g === undefined) {
      g = labels.length;
      index.set(id, g);
      firstRow.push(i);
      labels.push([...labelRows[i]!]);
      sums.push(new Array<number>(scoreRows[i]!.length).fill(0));
      counts.push(0);
    } else if (labelRows[i]!.some((v, j) => v !== labels[g!]![j])) {
      // Row numbers only: a patient identifier never goes into a message.
      throw metricInputError(
        "patient aggregation",
        `rows ${firstRow[g]! + 1} and ${i + 1} belong to the same patient but have different labels`,
      );
    }
    scoreRows[i]!.forEach((v, j) => {
      sums[g!]![j]! += v;
    });
    counts[g]! += 1;
  });
  return { labels, scores: sums.map((row, g) => row.map((v) => v / counts[g]!)), nPatients: labels.length };
}

function asRows(x: ArrayLike<number> | ScoreRows): number[][] {
  return Array.from(x as ArrayLike<number | ArrayLike<number>>, (v) =>
    typeof v === "number" ? [v] : Array.from(v as ArrayLike<number>),
  );
}

function delongEntries(name: string, y: Uint8Array, s: Float64Array, level: number): AucDelongCi {
  const d: DelongCi = computeDelongCi(y, s, level);
  return { name, auc: d.auc, variance: d.variance, lo: d.lo, hi: d.hi };
}

const UNDEFINED_REASON: Record<EvaluationTask, Partial<Record<HeadlineKey, string>>> = {
  binary: {
    precision: "no sample was predicted positive",
    recall: "there is no positive sample",
    specificity: "there is no negative sample",
    npv: "no sample was predicted negative",
    f1: "the positive class is neither present nor predicted",
    mcc: "labels or predictions hold a single class",
    kappa: "labels and predictions agree by chance only trivially (a single class)",
    auc: "the labels hold a single class",
    average_precision: "there is no positive sample",
  },
  multiclass: {
    precision: "a class is never predicted",
    recall: "a predicted class has no sample",
    specificity: "a class covers every sample",
    npv: "a class is predicted for every sample",
    f1: "a class is neither present nor predicted",
    mcc: "labels or predictions hold a single class",
    kappa: "chance disagreement is zero (a single class)",
    auc: "a class has no sample (one-vs-rest AUC needs every class)",
    average_precision: "a class has no sample",
  },
  multilabel: {
    auc: "a label holds a single class",
    average_precision: "a label has no positive sample",
  },
};

/**
 * The input with rows averaged per patient (mean score per column, common label), in first-appearance order,
 * and `patientIds` removed; the input itself when it has no patient ids.
 *
 * @example
 * ```ts
 * aggregateByPatient({ task: "binary", labels: [1, 1], scores: [0.2, 0.6], patientIds: ["a", "a"] }).scores; // [[0.4]]
 * ```
 */
export function aggregateByPatient(input: EvaluationInput): EvaluationInput {
  if (input.patientIds === undefined) return input;
  const { patientIds, ...rest } = input;
  const agg = aggregatePatients(patientIds, asRows(input.labels), asRows(input.scores));
  if (rest.task === "binary") {
    return { ...rest, labels: agg.labels.map((r) => r[0]!), scores: agg.scores.map((r) => r[0]!) };
  }
  if (rest.task === "multiclass")
    return { ...rest, labels: agg.labels.map((r) => r[0]!), scores: agg.scores };
  return { ...rest, labels: agg.labels, scores: agg.scores };
}

/**
 * Evaluates predictions: the headline metrics (snake_case keys at the top level) plus per-class details,
 * confusion matrix, operating threshold, DeLong AUC intervals and stratified bootstrap intervals of every
 * headline metric. Binary metrics use the positive class (predict positive when score ≥ threshold);
 * multi-class uses the arg-max and macro averages over the classes present in labels or predictions (AUC
 * and average precision one-vs-rest over all K classes; Brier in its K-class form; top-label ECE);
 * multi-label averages every metric over labels (accuracy = mean per-label accuracy, as MedMNIST).
 * Undefined metrics are NaN and explained in `warnings`.
 *
 * @example
 * ```ts
 * const r = evaluatePredictions({ task: "binary", labels: [0, 1, 1, 0], scores: [0.2, 0.9, 0.4, 0.1] });
 * r.auc; // 1
 * r.ci.auc_delong[0]!.lo;
 * ```
 */
export function evaluatePredictions(input: EvaluationInput): EvaluationResult {
  const thresholdRule = typeof input.threshold === "object" ? input.threshold : undefined;
  if (thresholdRule !== undefined && input.task !== "binary") {
    throw metricInputError(
      "evaluate",
      "a threshold rule (youden, sensitivity, specificity) needs a binary task",
    );
  }
  let threshold = typeof input.threshold === "number" ? input.threshold : 0.5;
  if (!Number.isFinite(threshold))
    throw metricInputError("evaluate", `threshold ${threshold} is not a number`);
  const nBins = input.eceBins ?? DEFAULT_ECE_BINS;
  const zd = input.zeroDivision ?? "nan";
  let labelRows = asRows(input.labels);
  let scoreRows = asRows(input.scores);
  if (labelRows.length !== scoreRows.length) {
    throw metricInputError("evaluate", `${labelRows.length} labels but ${scoreRows.length} score rows`);
  }
  if (labelRows.length === 0) throw metricInputError("evaluate", "no samples");
  const width = scoreRows[0]!.length;
  scoreRows.forEach((r, i) => {
    if (r.length !== width)
      throw metricInputError("evaluate", `row ${i + 1} has ${r.length} scores, expected ${width}`);
    checkScores("evaluate", r, true);
  });
  if (input.task === "multiclass") {
    if (width < 2) throw metricInputError("evaluate", "multi-class scores need at least 2 columns");
    scoreRows.forEach((r, i) => {
      const sum = r.reduce((a, b) => a + b, 0);
      if (Math.abs(sum - 1) > 1e-3) {
        throw metricInputError(
          "evaluate",
          `row ${i + 1}: class probabilities sum to ${sum}, not 1 (apply softmax)`,
        );
      }
    });
  }
  const nSamples = labelRows.length;
  let nPatients: number | null = null;
  if (input.patientIds !== undefined) {
    const agg = aggregatePatients(input.patientIds, labelRows, scoreRows);
    labelRows = agg.labels;
    scoreRows = agg.scores;
    nPatients = agg.nPatients;
  }
  const n = labelRows.length;
  const bootOptions = input.bootstrap === false ? null : (input.bootstrap ?? {});
  const level = bootOptions?.level ?? 0.95;
  const warnings: string[] = [];

  let headline: Headline;
  let stat: (w: ArrayLike<number>) => Headline;
  let strata: (number | string)[];
  let perClass: PerClassEntry[];
  let cmOut: EvaluationResult["confusion_matrix"] = null;
  let delong: AucDelongCi[];
  let thresholdOut: EvaluationResult["threshold"];
  let classNames: string[];
  let subsetAccuracy: number | undefined;
  const ones = new Float64Array(n).fill(1);

  if (input.task === "binary" || input.task === "multiclass") {
    const k = input.task === "binary" ? 2 : width;
    if (input.task === "binary" && width !== 1)
      throw metricInputError("evaluate", "binary scores need one column");
    const y = Int32Array.from(labelRows, (r) => r[0]!);
    checkLabels("evaluate", y, k);
    classNames = input.classNames
      ? [...input.classNames]
      : input.task === "binary"
        ? ["negative", "positive"]
        : Array.from({ length: k }, (_, c) => String(c));
    if (classNames.length !== k)
      throw metricInputError("evaluate", `${classNames.length} class names for ${k} classes`);
    strata = Array.from(y);
    if (input.task === "binary") {
      const yb = Uint8Array.from(y);
      const sb = Float64Array.from(scoreRows, (r) => r[0]!);
      let ruleText = "positive when score >= threshold";
      if (thresholdRule !== undefined) {
        threshold = chooseThreshold(yb, sb, thresholdRule).threshold;
        const target = thresholdRule.rule === "youden" ? "" : ` >= ${thresholdRule.target}`;
        ruleText += `; threshold chosen on these data by ${thresholdRule.rule}${target} (in-sample, optimistic)`;
      }
      const b = prepBinary(yb, sb, threshold, nBins);
      stat = (w) => binaryHeadline(b, w, nBins, zd);
      headline = stat(ones);
      const cm = confusion(b.y, b.pred, 2, ones);
      cmOut = { labels: classNames, matrix: cm };
      perClass = classReport(cm, { zeroDivision: zd }).map((r, c) => ({
        name: classNames[c]!,
        support: r.support,
        precision: r.precision,
        recall: r.recall,
        specificity: r.specificity,
        npv: r.npv,
        f1: r.f1,
      }));
      delong = [delongEntries(classNames[1]!, b.y, b.s, level)];
      thresholdOut = {
        rule: ruleText,
        value: threshold,
        youden: (() => {
          const j = chooseThreshold(b.y, b.s, { rule: "youden" });
          return {
            threshold: j.threshold,
            sensitivity: j.sensitivity,
            specificity: j.specificity,
            youden_j: j.youdenJ,
          };
        })(),
      };
    } else {
      const m = prepMulticlass(y, scoreRows, nBins);
      stat = (w) => multiclassHeadline(m, w, nBins, zd);
      headline = stat(ones);
      const cm = confusion(m.y, m.pred, k, ones);
      cmOut = { labels: classNames, matrix: cm };
      const per = m.cols.map((c) => weightedAucAp(c.y, c.s, c.order, ones));
      perClass = classReport(cm, { zeroDivision: zd }).map((r, c) => ({
        name: classNames[c]!,
        support: r.support,
        precision: r.precision,
        recall: r.recall,
        specificity: r.specificity,
        npv: r.npv,
        f1: r.f1,
        auc: per[c]!.auc,
        average_precision: per[c]!.ap,
      }));
      delong = m.cols.map((c, i) => delongEntries(classNames[i]!, c.y, c.s, level));
      thresholdOut = { rule: "argmax", value: null };
    }
  } else {
    const l = width;
    labelRows.forEach((r, i) => {
      if (r.length !== l)
        throw metricInputError("evaluate", `row ${i + 1} has ${r.length} labels, expected ${l}`);
      checkLabels("evaluate", r, 2);
    });
    classNames = input.classNames ? [...input.classNames] : Array.from({ length: l }, (_, c) => `label_${c}`);
    if (classNames.length !== l)
      throw metricInputError("evaluate", `${classNames.length} label names for ${l} labels`);
    const preps = Array.from({ length: l }, (_, c) =>
      prepBinary(
        Uint8Array.from(labelRows, (r) => r[c]!),
        Float64Array.from(scoreRows, (r) => r[c]!),
        threshold,
        nBins,
      ),
    );
    stat = (w) => multilabelHeadline(preps, w, nBins, zd).headline;
    const full = multilabelHeadline(preps, ones, nBins, zd);
    headline = full.headline;
    strata = labelRows.map((r) => r.join(""));
    perClass = preps.map((b, c) => {
      const cm = confusion(b.y, b.pred, 2, ones);
      const h = full.per[c]!;
      return {
        name: classNames[c]!,
        support: b.y.reduce((a, v) => a + v, 0),
        precision: h.precision,
        recall: h.recall,
        specificity: h.specificity,
        npv: h.npv,
        f1: h.f1,
        auc: h.auc,
        average_precision: h.average_precision,
        metrics: h,
        confusion_matrix: cm,
      };
    });
    let exact = 0;
    for (let i = 0; i < n; i++) if (preps.every((b) => b.pred[i] === b.y[i])) exact++;
    subsetAccuracy = exact / n;
    delong = preps.map((b, c) => delongEntries(classNames[c]!, b.y, b.s, level));
    thresholdOut = { rule: "positive when score >= threshold (per label)", value: threshold };
  }

  for (const key of HEADLINE_KEYS) {
    if (Number.isNaN(headline[key])) {
      const why =
        UNDEFINED_REASON[input.task][key] ?? "it is undefined for at least one label (see per_class)";
      warnings.push(`${key} is undefined (null): ${why}`);
    }
  }

  let boot: EvaluationResult["ci"]["bootstrap"] = null;
  if (bootOptions !== null) {
    const r = bootstrapCi(n, stat, { ...bootOptions, strata });
    const intervals = {} as Record<HeadlineKey, { lo: number; hi: number; n_valid: number }>;
    for (const key of HEADLINE_KEYS) {
      const iv = r.intervals[key];
      intervals[key] = iv
        ? { lo: iv.lo, hi: iv.hi, n_valid: iv.nValid }
        : { lo: Number.NaN, hi: Number.NaN, n_valid: 0 };
    }
    boot = {
      method: r.setting.method,
      n_resamples: r.setting.nResamples,
      seed: r.setting.seed,
      level: r.setting.level,
      intervals,
    };
  }
  return {
    task: input.task,
    n_samples: nSamples,
    n_patients: nPatients,
    averaging: input.task === "binary" ? "binary" : "macro",
    class_names: classNames,
    ...headline,
    threshold: thresholdOut,
    confusion_matrix: cmOut,
    per_class: perClass,
    ci: { level, bootstrap: boot, auc_delong: delong },
    ...(subsetAccuracy === undefined ? {} : { subset_accuracy: subsetAccuracy }),
    ece_bins: nBins,
    warnings,
  };
}
