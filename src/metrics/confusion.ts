/** Confusion-matrix metrics for hard predictions: accuracy, balanced accuracy, PPV, sensitivity, specificity, NPV, Fβ, MCC, Cohen's kappa. */
import { checkLabels, checkSameLength, metricInputError } from "./stats.js";

/**
 * How per-class values combine: `binary` reports the positive class only; `macro` is the unweighted mean over
 * classes; `micro` pools the counts; `weighted` weights by true support (scikit-learn's `average`).
 */
export type Average = "binary" | "macro" | "micro" | "weighted";

/**
 * Options of the confusion-matrix metrics.
 *
 * `zeroDivision` is what a ratio with a zero denominator (precision of a never-predicted class, recall of an
 * absent class) becomes: `"nan"` (default: the value is undefined and says so) or a number (scikit-learn 1.2's
 * `zero_division=0` gives the numbers scikit-learn prints after its UndefinedMetricWarning).
 */
export interface ClassificationOptions {
  /** Number of classes K (labels are 0..K-1); default: the largest label or prediction + 1, at least 2. */
  readonly numClasses?: number;
  /** Default `binary` when K = 2, else `macro`. */
  readonly average?: Average;
  /** Positive class for `binary` (default 1). */
  readonly positiveClass?: number;
  /** Value of an undefined ratio; default NaN. */
  readonly zeroDivision?: number | "nan";
  /**
   * Classes that enter `macro`/`weighted`/`micro` averages. Default: the classes present in the labels or the
   * predictions (scikit-learn's default), so a class absent from both does not count.
   */
  readonly labels?: readonly number[];
}

/** Per-class one-vs-rest counts. */
export interface ClassCounts {
  readonly tp: number;
  readonly fp: number;
  readonly fn: number;
  readonly tn: number;
  /** Number of samples whose true class is this one (tp + fn). */
  readonly support: number;
}

/**
 * The K×K confusion matrix: `m[t][p]` counts samples of true class t predicted as p (rows true, columns
 * predicted, as scikit-learn's `confusion_matrix`).
 *
 * @example
 * ```ts
 * computeConfusionMatrix([0, 1, 1], [0, 1, 0], 2); // [[1, 0], [1, 1]]
 * ```
 */
export function computeConfusionMatrix(
  yTrue: ArrayLike<number>,
  yPred: ArrayLike<number>,
  numClasses?: number,
): number[][] {
  checkSameLength("confusion_matrix", yTrue, yPred);
  const k = numClasses ?? inferNumClasses(yTrue, yPred);
  checkLabels("confusion_matrix", yTrue, k);
  checkLabels("confusion_matrix", yPred, k);
  const m = Array.from({ length: k }, () => new Array<number>(k).fill(0));
  for (let i = 0; i < yTrue.length; i++) (m[yTrue[i] as number] as number[])[yPred[i] as number]! += 1;
  return m;
}

function inferNumClasses(yTrue: ArrayLike<number>, yPred: ArrayLike<number>): number {
  let max = 1;
  for (let i = 0; i < yTrue.length; i++) max = Math.max(max, yTrue[i] as number, yPred[i] as number);
  if (!Number.isFinite(max)) throw metricInputError("confusion_matrix", "labels must be finite integers");
  return Math.floor(max) + 1;
}

/**
 * One-vs-rest counts for every class of a confusion matrix.
 *
 * @example
 * ```ts
 * classCounts([[5, 1], [2, 7]])[1]; // { tp: 7, fp: 1, fn: 2, tn: 5, support: 9 }
 * ```
 */
export function classCounts(cm: readonly (readonly number[])[]): ClassCounts[] {
  const k = cm.length;
  let n = 0;
  const rowSum = new Array<number>(k).fill(0);
  const colSum = new Array<number>(k).fill(0);
  for (let t = 0; t < k; t++) {
    for (let p = 0; p < k; p++) {
      const c = cm[t]?.[p] ?? 0;
      rowSum[t]! += c;
      colSum[p]! += c;
      n += c;
    }
  }
  return Array.from({ length: k }, (_, c) => {
    const tp = cm[c]?.[c] ?? 0;
    const fn = rowSum[c]! - tp;
    const fp = colSum[c]! - tp;
    return { tp, fp, fn, tn: n - tp - fn - fp, support: rowSum[c]! };
  });
}

/** Every confusion-matrix metric of one class (one-vs-rest). */
export interface ClassReport extends ClassCounts {
  readonly precision: number;
  readonly recall: number;
  readonly specificity: number;
  readonly npv: number;
  readonly f1: number;
}

function ratio(num: number, den: number, zd: number): number {
  return den === 0 ? zd : num / den;
}

function zdValue(o: ClassificationOptions): number {
  return o.zeroDivision === undefined || o.zeroDivision === "nan" ? Number.NaN : o.zeroDivision;
}

function fbetaFromCounts(c: ClassCounts, beta: number, zd: number): number {
  const b2 = beta * beta;
  return ratio((1 + b2) * c.tp, (1 + b2) * c.tp + b2 * c.fn + c.fp, zd);
}

/**
 * Per-class report (precision/PPV, recall/sensitivity, specificity, NPV, F1, support) from a confusion matrix.
 *
 * @example
 * ```ts
 * classReport([[5, 1], [2, 7]])[1]!.recall; // 7 / 9
 * ```
 */
export function classReport(
  cm: readonly (readonly number[])[],
  options: ClassificationOptions = {},
): ClassReport[] {
  const zd = zdValue(options);
  return classCounts(cm).map((c) => ({
    ...c,
    precision: ratio(c.tp, c.tp + c.fp, zd),
    recall: ratio(c.tp, c.tp + c.fn, zd),
    specificity: ratio(c.tn, c.tn + c.fp, zd),
    npv: ratio(c.tn, c.tn + c.fn, zd),
    f1: fbetaFromCounts(c, 1, zd),
  }));
}

type CountMetric = (c: ClassCounts, zd: number) => number;

const PRECISION: CountMetric = (c, zd) => ratio(c.tp, c.tp + c.fp, zd);
const RECALL: CountMetric = (c, zd) => ratio(c.tp, c.tp + c.fn, zd);
const SPECIFICITY: CountMetric = (c, zd) => ratio(c.tn, c.tn + c.fp, zd);
const NPV: CountMetric = (c, zd) => ratio(c.tn, c.tn + c.fn, zd);

function averaged(cm: readonly (readonly number[])[], metric: CountMetric, o: ClassificationOptions): number {
  const k = cm.length;
  const zd = zdValue(o);
  const counts = classCounts(cm);
  const average = o.average ?? (k === 2 ? "binary" : "macro");
  if (average === "binary") {
    const pos = o.positiveClass ?? 1;
    const c = counts[pos];
    if (c === undefined)
      throw metricInputError("average", `positive class ${pos} is not one of the ${k} classes`);
    return metric(c, zd);
  }
  const labels = o.labels ?? presentClasses(counts);
  if (labels.length === 0) return Number.NaN;
  const chosen = labels.map((l) => {
    const c = counts[l];
    if (c === undefined) throw metricInputError("average", `class ${l} is not one of the ${k} classes`);
    return c;
  });
  if (average === "micro") {
    const pooled = chosen.reduce(
      (a, c) => ({
        tp: a.tp + c.tp,
        fp: a.fp + c.fp,
        fn: a.fn + c.fn,
        tn: a.tn + c.tn,
        support: a.support + c.support,
      }),
      { tp: 0, fp: 0, fn: 0, tn: 0, support: 0 },
    );
    return metric(pooled, zd);
  }
  const values = chosen.map((c) => metric(c, zd));
  if (average === "macro") return values.reduce((a, b) => a + b, 0) / values.length;
  const totalWeight = chosen.reduce((a, c) => a + c.support, 0);
  if (totalWeight === 0) return zd;
  // A class with zero support adds nothing, even when its own value is undefined (scikit-learn zeroes it).
  return (
    values.reduce((a, v, i) => a + (chosen[i]!.support === 0 ? 0 : v * chosen[i]!.support), 0) / totalWeight
  );
}

function presentClasses(counts: readonly ClassCounts[]): number[] {
  const out: number[] = [];
  counts.forEach((c, i) => {
    if (c.tp + c.fn + c.fp > 0) out.push(i);
  });
  return out;
}

function cmOf(metric: string, yTrue: ArrayLike<number>, yPred: ArrayLike<number>, o: ClassificationOptions) {
  checkSameLength(metric, yTrue, yPred);
  return computeConfusionMatrix(yTrue, yPred, o.numClasses);
}

/**
 * Fraction of samples whose prediction equals the label.
 *
 * @example
 * ```ts
 * computeAccuracy([0, 1, 1, 0], [0, 1, 0, 0]); // 0.75
 * ```
 */
export function computeAccuracy(yTrue: ArrayLike<number>, yPred: ArrayLike<number>): number {
  checkSameLength("accuracy", yTrue, yPred);
  let hit = 0;
  for (let i = 0; i < yTrue.length; i++) if (yTrue[i] === yPred[i]) hit++;
  return hit / yTrue.length;
}

/**
 * Accuracy of a confusion matrix (trace / total).
 *
 * @example
 * ```ts
 * accuracyFromConfusion([[2, 1], [2, 3]]); // 0.625
 * ```
 */
export function accuracyFromConfusion(cm: readonly (readonly number[])[]): number {
  let tr = 0;
  let n = 0;
  cm.forEach((row, t) => {
    row.forEach((c, p) => {
      n += c;
      if (t === p) tr += c;
    });
  });
  return n === 0 ? Number.NaN : tr / n;
}

/**
 * Balanced accuracy (Brodersen et al. 2010): mean recall over the classes that occur in the labels. Classes
 * that are only predicted are left out, as scikit-learn's `balanced_accuracy_score` does.
 *
 * @example
 * ```ts
 * computeBalancedAccuracy([0, 0, 0, 1], [0, 0, 1, 1]); // (2/3 + 1) / 2
 * ```
 */
export function computeBalancedAccuracy(
  yTrue: ArrayLike<number>,
  yPred: ArrayLike<number>,
  options: Pick<ClassificationOptions, "numClasses"> = {},
): number {
  return balancedAccuracyFromConfusion(cmOf("balanced_accuracy", yTrue, yPred, options));
}

/**
 * Balanced accuracy of a confusion matrix (mean recall over rows with samples).
 *
 * @example
 * ```ts
 * balancedAccuracyFromConfusion([[2, 1], [2, 3]]); // (2/3 + 3/5) / 2
 * ```
 */
export function balancedAccuracyFromConfusion(cm: readonly (readonly number[])[]): number {
  let sum = 0;
  let m = 0;
  for (const c of classCounts(cm)) {
    if (c.support === 0) continue;
    sum += c.tp / c.support;
    m++;
  }
  return m === 0 ? Number.NaN : sum / m;
}

/**
 * Precision (positive predictive value, PPV) = TP / (TP + FP).
 *
 * @example
 * ```ts
 * computePrecision([0, 1, 1, 0], [1, 1, 0, 0]); // 0.5
 * computePrecision([0, 0], [0, 0]); // NaN: nothing predicted positive
 * ```
 */
export function computePrecision(
  yTrue: ArrayLike<number>,
  yPred: ArrayLike<number>,
  options: ClassificationOptions = {},
): number {
  return averaged(cmOf("precision", yTrue, yPred, options), PRECISION, options);
}

/**
 * Recall (sensitivity, true-positive rate) = TP / (TP + FN).
 *
 * @example
 * ```ts
 * computeRecall([0, 1, 1, 0], [1, 1, 0, 0]); // 0.5
 * ```
 */
export function computeRecall(
  yTrue: ArrayLike<number>,
  yPred: ArrayLike<number>,
  options: ClassificationOptions = {},
): number {
  return averaged(cmOf("recall", yTrue, yPred, options), RECALL, options);
}

/**
 * Specificity (true-negative rate) = TN / (TN + FP); per class one-vs-rest when averaged.
 *
 * @example
 * ```ts
 * computeSpecificity([0, 0, 1, 1], [0, 1, 1, 1]); // 0.5
 * ```
 */
export function computeSpecificity(
  yTrue: ArrayLike<number>,
  yPred: ArrayLike<number>,
  options: ClassificationOptions = {},
): number {
  return averaged(cmOf("specificity", yTrue, yPred, options), SPECIFICITY, options);
}

/**
 * Negative predictive value = TN / (TN + FN).
 *
 * @example
 * ```ts
 * computeNpv([0, 0, 1, 1], [0, 0, 0, 1]); // 2 / 3
 * ```
 */
export function computeNpv(
  yTrue: ArrayLike<number>,
  yPred: ArrayLike<number>,
  options: ClassificationOptions = {},
): number {
  return averaged(cmOf("npv", yTrue, yPred, options), NPV, options);
}

/**
 * Fβ = (1+β²)·TP / ((1+β²)·TP + β²·FN + FP) (van Rijsbergen 1979); undefined only when the class is neither
 * present nor predicted.
 *
 * @example
 * ```ts
 * computeFBeta([0, 1, 1, 0], [1, 1, 0, 0], 2); // 0.5
 * ```
 */
export function computeFBeta(
  yTrue: ArrayLike<number>,
  yPred: ArrayLike<number>,
  beta: number,
  options: ClassificationOptions = {},
): number {
  if (!(beta > 0)) throw metricInputError("fbeta", `beta must be > 0, got ${beta}`);
  return averaged(cmOf("fbeta", yTrue, yPred, options), (c, zd) => fbetaFromCounts(c, beta, zd), options);
}

/**
 * F1 = harmonic mean of precision and recall.
 *
 * @example
 * ```ts
 * computeF1([0, 1, 1, 0], [1, 1, 0, 0]); // 0.5
 * ```
 */
export function computeF1(
  yTrue: ArrayLike<number>,
  yPred: ArrayLike<number>,
  options: ClassificationOptions = {},
): number {
  return computeFBeta(yTrue, yPred, 1, options);
}

/**
 * Precision, recall, specificity, NPV or Fβ of a confusion matrix under an averaging rule.
 *
 * @example
 * ```ts
 * averagedFromConfusion([[2, 1], [2, 3]], "recall"); // 0.6 (binary: class 1)
 * averagedFromConfusion(cm, { fbeta: 2 }, { average: "macro" });
 * ```
 */
export function averagedFromConfusion(
  cm: readonly (readonly number[])[],
  metric: "precision" | "recall" | "specificity" | "npv" | "f1" | { readonly fbeta: number },
  options: ClassificationOptions = {},
): number {
  const fn: CountMetric =
    typeof metric === "object"
      ? (c, zd) => fbetaFromCounts(c, metric.fbeta, zd)
      : {
          precision: PRECISION,
          recall: RECALL,
          specificity: SPECIFICITY,
          npv: NPV,
          f1: ((c, zd) => fbetaFromCounts(c, 1, zd)) as CountMetric,
        }[metric];
  return averaged(cm, fn, options);
}

/**
 * Matthews correlation coefficient, multi-class form of Gorodkin (2004) as scikit-learn computes it. NaN when a
 * marginal is concentrated in one class (the denominator is 0); scikit-learn 1.2 returns 0 there.
 *
 * @example
 * ```ts
 * computeMcc([0, 1, 1, 0], [0, 1, 1, 0]); // 1
 * ```
 */
export function computeMcc(yTrue: ArrayLike<number>, yPred: ArrayLike<number>, numClasses?: number): number {
  return mccFromConfusion(cmOf("mcc", yTrue, yPred, numClasses === undefined ? {} : { numClasses }));
}

/**
 * MCC of a confusion matrix (NaN when a marginal is concentrated in one class).
 *
 * @example
 * ```ts
 * mccFromConfusion([[2, 1], [2, 3]]); // 4 / √240
 * ```
 */
export function mccFromConfusion(cm: readonly (readonly number[])[]): number {
  const k = cm.length;
  const t = new Array<number>(k).fill(0);
  const p = new Array<number>(k).fill(0);
  let c = 0;
  let s = 0;
  for (let i = 0; i < k; i++) {
    for (let j = 0; j < k; j++) {
      const v = cm[i]?.[j] ?? 0;
      t[i]! += v;
      p[j]! += v;
      s += v;
      if (i === j) c += v;
    }
  }
  let tp = 0;
  let pp = 0;
  let tt = 0;
  for (let i = 0; i < k; i++) {
    tp += t[i]! * p[i]!;
    pp += p[i]! * p[i]!;
    tt += t[i]! * t[i]!;
  }
  const covYtYp = c * s - tp;
  const covYpYp = s * s - pp;
  const covYtYt = s * s - tt;
  if (covYpYp * covYtYt === 0) return Number.NaN;
  return covYtYp / Math.sqrt(covYtYt * covYpYp);
}

/**
 * Cohen's kappa (Cohen 1960): agreement beyond chance, 1 − Σ_{i≠j} O_ij / Σ_{i≠j} E_ij. NaN when chance
 * disagreement is 0 (e.g. labels and predictions all of one class), as in scikit-learn.
 *
 * @example
 * ```ts
 * computeCohenKappa([0, 1, 1, 0], [0, 1, 0, 0]); // 0.5
 * ```
 */
export function computeCohenKappa(
  yTrue: ArrayLike<number>,
  yPred: ArrayLike<number>,
  numClasses?: number,
): number {
  return kappaFromConfusion(cmOf("kappa", yTrue, yPred, numClasses === undefined ? {} : { numClasses }));
}

/**
 * Cohen's kappa of a confusion matrix.
 *
 * @example
 * ```ts
 * kappaFromConfusion([[2, 1], [2, 3]]); // 0.25
 * ```
 */
export function kappaFromConfusion(cm: readonly (readonly number[])[]): number {
  const k = cm.length;
  const rows = new Array<number>(k).fill(0);
  const cols = new Array<number>(k).fill(0);
  let n = 0;
  let observed = 0;
  for (let i = 0; i < k; i++) {
    for (let j = 0; j < k; j++) {
      const v = cm[i]?.[j] ?? 0;
      rows[i]! += v;
      cols[j]! += v;
      n += v;
      if (i !== j) observed += v;
    }
  }
  let expected = 0;
  for (let i = 0; i < k; i++) {
    for (let j = 0; j < k; j++) if (i !== j) expected += (cols[i]! * rows[j]!) / n;
  }
  if (expected === 0 || n === 0) return Number.NaN;
  return 1 - observed / expected;
}
