/** Score-ranking metrics: ROC and precision–recall curves, ROC AUC (binary, one-vs-rest, multi-label), average precision and operating-threshold choice. */
import { checkLabels, checkSameLength, checkScores, metricInputError, strictMean } from "./stats.js";

/** Cumulative counts at each distinct score, highest score first. */
export interface BinaryClfCurve {
  /** False positives among samples with score ≥ thresholds[i]. */
  readonly fps: Float64Array;
  /** True positives among samples with score ≥ thresholds[i]. */
  readonly tps: Float64Array;
  /** Distinct scores, descending. */
  readonly thresholds: Float64Array;
}

/**
 * Counts of true and false positives at every distinct score (scikit-learn's `_binary_clf_curve`): tied scores
 * form one operating point, so ties are never broken by sample order.
 *
 * @example
 * ```ts
 * binaryClfCurve([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]).tps; // [1, 1, 2, 2]
 * ```
 */
export function binaryClfCurve(yTrue: ArrayLike<number>, scores: ArrayLike<number>): BinaryClfCurve {
  checkSameLength("roc_curve", yTrue, scores);
  checkLabels("roc_curve", yTrue, 2);
  checkScores("roc_curve", scores, false);
  // Positive and negative scores sorted apart (native typed-array sort) and merged from the top: every
  // distinct score closes one operating point, whatever the sample order.
  const posList: number[] = [];
  const negList: number[] = [];
  for (let i = 0; i < scores.length; i++) (yTrue[i] === 1 ? posList : negList).push(scores[i] as number);
  const pos = Float64Array.from(posList).sort();
  const neg = Float64Array.from(negList).sort();
  const fps: number[] = [];
  const tps: number[] = [];
  const th: number[] = [];
  let i = pos.length - 1;
  let j = neg.length - 1;
  while (i >= 0 || j >= 0) {
    const v = i < 0 ? neg[j]! : j < 0 ? pos[i]! : Math.max(pos[i]!, neg[j]!);
    while (i >= 0 && pos[i] === v) i--;
    while (j >= 0 && neg[j] === v) j--;
    tps.push(pos.length - 1 - i);
    fps.push(neg.length - 1 - j);
    th.push(v);
  }
  return { fps: Float64Array.from(fps), tps: Float64Array.from(tps), thresholds: Float64Array.from(th) };
}

/** A ROC curve: points (fpr[i], tpr[i]) reached by predicting positive when score ≥ thresholds[i]. */
export interface RocCurve {
  readonly fpr: Float64Array;
  readonly tpr: Float64Array;
  /** Descending; thresholds[0] is +Infinity (nothing predicted positive; scikit-learn 1.2 writes max + 1). */
  readonly thresholds: Float64Array;
}

/**
 * The ROC curve. `dropIntermediate` (default true) removes collinear points exactly as scikit-learn's
 * `roc_curve(drop_intermediate=True)`; the area is unchanged. With one class only, the rate that has no
 * denominator is NaN throughout.
 *
 * @example
 * ```ts
 * computeRocCurve([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]).tpr; // [0, 0.5, 0.5, 1, 1]
 * ```
 */
export function computeRocCurve(
  yTrue: ArrayLike<number>,
  scores: ArrayLike<number>,
  options: { readonly dropIntermediate?: boolean } = {},
): RocCurve {
  const c = binaryClfCurve(yTrue, scores);
  let keep = Array.from({ length: c.fps.length }, (_, i) => i);
  if ((options.dropIntermediate ?? true) && c.fps.length > 2) {
    keep = keep.filter((i) => {
      if (i === 0 || i === c.fps.length - 1) return true;
      const d2f = c.fps[i + 1]! - 2 * c.fps[i]! + c.fps[i - 1]!;
      const d2t = c.tps[i + 1]! - 2 * c.tps[i]! + c.tps[i - 1]!;
      return d2f !== 0 || d2t !== 0;
    });
  }
  const m = keep.length + 1;
  const fpr = new Float64Array(m);
  const tpr = new Float64Array(m);
  const thresholds = new Float64Array(m);
  thresholds[0] = Number.POSITIVE_INFINITY;
  const fTotal = c.fps[c.fps.length - 1]!;
  const tTotal = c.tps[c.tps.length - 1]!;
  keep.forEach((i, j) => {
    fpr[j + 1] = fTotal > 0 ? c.fps[i]! / fTotal : Number.NaN;
    tpr[j + 1] = tTotal > 0 ? c.tps[i]! / tTotal : Number.NaN;
    thresholds[j + 1] = c.thresholds[i]!;
  });
  if (fTotal <= 0) fpr[0] = Number.NaN;
  if (tTotal <= 0) tpr[0] = Number.NaN;
  return { fpr, tpr, thresholds };
}

/**
 * Trapezoidal area under a curve given by monotone x (NumPy's `trapz`, scikit-learn's `auc`).
 *
 * @example
 * ```ts
 * trapezoid([0, 0.5, 1], [0, 1, 1]); // 0.75
 * ```
 */
export function trapezoid(x: ArrayLike<number>, y: ArrayLike<number>): number {
  let s = 0;
  let direction = 1;
  for (let i = 1; i < x.length; i++) {
    const dx = (x[i] as number) - (x[i - 1] as number);
    if (dx < 0) direction = -1;
    s += (dx * ((y[i] as number) + (y[i - 1] as number))) / 2;
  }
  return direction * s;
}

/**
 * Binary ROC AUC (Hanley & McNeil 1982): the trapezoidal area under the ROC curve, which equals the
 * Mann–Whitney probability P(score⁺ > score⁻) + ½·P(tie). NaN when the labels hold a single class (the curve
 * has no denominator; scikit-learn raises).
 *
 * @example
 * ```ts
 * computeRocAuc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]); // 0.75
 * computeRocAuc([1, 1], [0.2, 0.9]); // NaN
 * ```
 */
export function computeRocAuc(yTrue: ArrayLike<number>, scores: ArrayLike<number>): number {
  checkSameLength("roc_auc", yTrue, scores);
  checkLabels("roc_auc", yTrue, 2);
  let pos = 0;
  for (let i = 0; i < yTrue.length; i++) pos += yTrue[i] as number;
  if (pos === 0 || pos === yTrue.length) return Number.NaN;
  const r = computeRocCurve(yTrue, scores);
  return trapezoid(r.fpr, r.tpr);
}

/** Averages of one-vs-rest scores. */
export type OvrAverage = "macro" | "weighted" | "micro";

/** Score matrix: one row per sample, one column per class (or label). */
export type ScoreRows = readonly ArrayLike<number>[];

function column(scores: ScoreRows, c: number): Float64Array {
  return Float64Array.from(scores, (row) => row[c] as number);
}

function checkRows(metric: string, scores: ScoreRows, width: number): void {
  scores.forEach((row, i) => {
    if (row.length !== width)
      throw metricInputError(metric, `row ${i} has ${row.length} scores, expected ${width}`);
  });
}

/**
 * Multi-class ROC AUC, one class against the rest (Provost & Domingos 2000): `macro` averages the K binary
 * AUCs, `weighted` weights them by class support, `micro` pools the binarized labels. NaN unless every class
 * occurs in the labels (scikit-learn raises there). Unlike scikit-learn, rows need not sum to 1: only the
 * ranking within each column matters.
 *
 * @example
 * ```ts
 * computeRocAucOvr([0, 1, 2], [[0.8, 0.1, 0.1], [0.2, 0.7, 0.1], [0.1, 0.2, 0.7]]); // 1
 * ```
 */
export function computeRocAucOvr(
  yTrue: ArrayLike<number>,
  scores: ScoreRows,
  average: OvrAverage = "macro",
): number {
  checkSameLength("roc_auc_ovr", yTrue, scores);
  const k = scores[0]?.length ?? 0;
  checkRows("roc_auc_ovr", scores, k);
  checkLabels("roc_auc_ovr", yTrue, k);
  const support = new Array<number>(k).fill(0);
  for (let i = 0; i < yTrue.length; i++) support[yTrue[i] as number]! += 1;
  if (support.some((s) => s === 0)) return Number.NaN;
  const onehot = (c: number) => Float64Array.from(yTrue as ArrayLike<number>, (y) => (y === c ? 1 : 0));
  return averageBinary(
    Array.from({ length: k }, (_, c) => onehot(c)),
    Array.from({ length: k }, (_, c) => column(scores, c)),
    average,
    computeRocAuc,
  );
}

/**
 * Multi-class ROC AUC one-vs-one (Hand & Till 2001, "A simple generalisation of the area under the ROC curve"):
 * for every class pair (a, b), the mean of AUC(a vs b on column a) and AUC(b vs a on column b) over the samples of
 * those two classes; `macro` averages the pairs, `weighted` weights each pair by its share of samples
 * (scikit-learn's `multi_class="ovo"`). NaN unless every class occurs in the labels.
 *
 * @example
 * ```ts
 * computeRocAucOvo([0, 1, 2], [[0.8, 0.1, 0.1], [0.2, 0.7, 0.1], [0.1, 0.2, 0.7]]); // 1
 * ```
 */
export function computeRocAucOvo(
  yTrue: ArrayLike<number>,
  scores: ScoreRows,
  average: "macro" | "weighted" = "macro",
): number {
  checkSameLength("roc_auc_ovo", yTrue, scores);
  const k = scores[0]?.length ?? 0;
  checkRows("roc_auc_ovo", scores, k);
  checkLabels("roc_auc_ovo", yTrue, k);
  const n = yTrue.length;
  const support = new Array<number>(k).fill(0);
  for (let i = 0; i < n; i++) support[yTrue[i] as number]! += 1;
  if (support.some((v) => v === 0)) return Number.NaN;
  let sum = 0;
  let weightSum = 0;
  let pairs = 0;
  for (let a = 0; a < k; a++) {
    for (let b = a + 1; b < k; b++) {
      const idx: number[] = [];
      for (let i = 0; i < n; i++) if (yTrue[i] === a || yTrue[i] === b) idx.push(i);
      const ya = idx.map((i) => (yTrue[i] === a ? 1 : 0));
      const yb = idx.map((i) => (yTrue[i] === b ? 1 : 0));
      const pair =
        (computeRocAuc(
          ya,
          idx.map((i) => scores[i]![a] as number),
        ) +
          computeRocAuc(
            yb,
            idx.map((i) => scores[i]![b] as number),
          )) /
        2;
      const w = average === "weighted" ? idx.length / n : 1;
      sum += w * pair;
      weightSum += w;
      pairs++;
    }
  }
  return pairs === 0 ? Number.NaN : sum / weightSum;
}

function averageBinary(
  truths: readonly Float64Array[],
  scoreCols: readonly Float64Array[],
  average: OvrAverage,
  metric: (y: ArrayLike<number>, s: ArrayLike<number>) => number,
): number {
  if (average === "micro") {
    const n = truths[0]?.length ?? 0;
    const y = new Float64Array(n * truths.length);
    const s = new Float64Array(n * truths.length);
    // Row-major ravel, as NumPy's ravel of the (n, K) matrices.
    for (let i = 0; i < n; i++) {
      for (let c = 0; c < truths.length; c++) {
        y[i * truths.length + c] = truths[c]![i]!;
        s[i * truths.length + c] = scoreCols[c]![i]!;
      }
    }
    return metric(y, s);
  }
  const values = truths.map((y, c) => metric(y, scoreCols[c]!));
  if (average === "macro") return strictMean(values);
  const weights = truths.map((y) => y.reduce((a, b) => a + b, 0));
  const total = weights.reduce((a, b) => a + b, 0);
  if (total === 0) return Number.NaN;
  let s = 0;
  for (let c = 0; c < values.length; c++) s += values[c]! * weights[c]!;
  return s / total;
}

function labelColumns(metric: string, yTrue: ScoreRows, scores: ScoreRows) {
  checkSameLength(metric, yTrue, scores);
  const l = scores[0]?.length ?? 0;
  checkRows(metric, scores, l);
  checkRows(metric, yTrue, l);
  const truths = Array.from({ length: l }, (_, c) => column(yTrue, c));
  truths.forEach((t) => {
    checkLabels(metric, t, 2);
  });
  return { truths, cols: Array.from({ length: l }, (_, c) => column(scores, c)) };
}

/**
 * Multi-label ROC AUC from an indicator matrix: per-label binary AUCs averaged (`macro`, `weighted` by label
 * prevalence) or pooled (`micro`). `macro`/`weighted` are NaN when any label has a single class.
 *
 * @example
 * ```ts
 * computeRocAucMultilabel([[1, 0], [0, 1], [1, 1], [0, 0]], [[0.9, 0.2], [0.1, 0.8], [0.7, 0.6], [0.3, 0.1]]); // 1
 * ```
 */
export function computeRocAucMultilabel(
  yTrue: ScoreRows,
  scores: ScoreRows,
  average: OvrAverage = "macro",
): number {
  const { truths, cols } = labelColumns("roc_auc_multilabel", yTrue, scores);
  return averageBinary(truths, cols, average, computeRocAuc);
}

/**
 * Per-label binary ROC AUC (NaN for a label with one class).
 *
 * @example
 * ```ts
 * computeRocAucPerLabel([[1, 0], [0, 0]], [[0.9, 0.2], [0.1, 0.8]]); // [1, NaN]
 * ```
 */
export function computeRocAucPerLabel(yTrue: ScoreRows, scores: ScoreRows): number[] {
  const { truths, cols } = labelColumns("roc_auc_multilabel", yTrue, scores);
  return truths.map((t, c) => computeRocAuc(t, cols[c]!));
}

/** A precision–recall curve in scikit-learn 1.2's layout: recall decreasing, closing with (precision 1, recall 0). */
export interface PrCurve {
  readonly precision: Float64Array;
  readonly recall: Float64Array;
  /** Ascending distinct scores; point i predicts positive when score ≥ thresholds[i]. */
  readonly thresholds: Float64Array;
}

/**
 * The precision–recall curve (scikit-learn 1.2's `precision_recall_curve`). Recall is NaN throughout when there
 * is no positive sample (scikit-learn sets it to 1 with a warning).
 *
 * @example
 * ```ts
 * computePrCurve([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]).precision; // [0.5, 0.667, 0.5, 1, 1]
 * ```
 */
export function computePrCurve(yTrue: ArrayLike<number>, scores: ArrayLike<number>): PrCurve {
  const c = binaryClfCurve(yTrue, scores);
  const m = c.tps.length;
  const total = c.tps[m - 1]!;
  const precision = new Float64Array(m + 1);
  const recall = new Float64Array(m + 1);
  const thresholds = new Float64Array(m);
  for (let i = 0; i < m; i++) {
    const j = m - 1 - i;
    const ps = c.tps[j]! + c.fps[j]!;
    precision[i] = ps === 0 ? 0 : c.tps[j]! / ps;
    recall[i] = total === 0 ? Number.NaN : c.tps[j]! / total;
    thresholds[i] = c.thresholds[j]!;
  }
  precision[m] = 1;
  recall[m] = 0;
  return { precision, recall, thresholds };
}

/**
 * Average precision, the step-function area AP = Σₙ (Rₙ − Rₙ₋₁)·Pₙ over distinct thresholds (scikit-learn's
 * definition; no interpolation). NaN when there is no positive sample (scikit-learn warns and returns 0).
 *
 * @example
 * ```ts
 * computeAveragePrecision([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]); // 0.8333333333333333
 * ```
 */
export function computeAveragePrecision(yTrue: ArrayLike<number>, scores: ArrayLike<number>): number {
  const c = computePrCurve(yTrue, scores);
  if (Number.isNaN(c.recall[0])) return Number.NaN;
  let s = 0;
  for (let i = 0; i + 1 < c.recall.length; i++) s -= (c.recall[i + 1]! - c.recall[i]!) * c.precision[i]!;
  return s;
}

/**
 * Average precision of a multi-class problem one-vs-rest (`macro`, `weighted` or `micro` over the binarized
 * labels). `macro` is NaN when a class has no sample.
 *
 * @example
 * ```ts
 * computeAveragePrecisionOvr([0, 1, 2], [[0.8, 0.1, 0.1], [0.2, 0.7, 0.1], [0.1, 0.2, 0.7]]); // 1
 * ```
 */
export function computeAveragePrecisionOvr(
  yTrue: ArrayLike<number>,
  scores: ScoreRows,
  average: OvrAverage = "macro",
): number {
  checkSameLength("average_precision_ovr", yTrue, scores);
  const k = scores[0]?.length ?? 0;
  checkRows("average_precision_ovr", scores, k);
  checkLabels("average_precision_ovr", yTrue, k);
  const truths = Array.from({ length: k }, (_, c) =>
    Float64Array.from(yTrue as ArrayLike<number>, (y) => (y === c ? 1 : 0)),
  );
  return averageBinary(
    truths,
    Array.from({ length: k }, (_, c) => column(scores, c)),
    average,
    computeAveragePrecision,
  );
}

/**
 * Multi-label average precision from an indicator matrix.
 *
 * @example
 * ```ts
 * computeAveragePrecisionMultilabel([[1, 0], [0, 1]], [[0.9, 0.2], [0.1, 0.8]]); // 1
 * ```
 */
export function computeAveragePrecisionMultilabel(
  yTrue: ScoreRows,
  scores: ScoreRows,
  average: OvrAverage = "macro",
): number {
  const { truths, cols } = labelColumns("average_precision_multilabel", yTrue, scores);
  return averageBinary(truths, cols, average, computeAveragePrecision);
}

/** How to choose an operating threshold on a binary score. */
export type ThresholdRule =
  | { readonly rule: "youden" }
  | { readonly rule: "sensitivity"; readonly target: number }
  | { readonly rule: "specificity"; readonly target: number };

/** A chosen operating point: predict positive when score ≥ threshold. */
export interface OperatingPoint {
  readonly rule: ThresholdRule["rule"];
  readonly target?: number;
  /** +Infinity means "predict nothing positive". */
  readonly threshold: number;
  readonly sensitivity: number;
  readonly specificity: number;
  /** Youden's J = sensitivity + specificity − 1 at this point. */
  readonly youdenJ: number;
}

/**
 * Chooses an operating threshold on the full (not thinned) ROC curve:
 * - `youden`: maximizes J = sensitivity + specificity − 1 (Youden 1950); ties go to the highest threshold.
 * - `sensitivity`: the highest threshold whose sensitivity ≥ target (the most specific such point).
 * - `specificity`: the lowest threshold whose specificity ≥ target (the most sensitive such point).
 * Returns NaN rates when the labels hold one class.
 *
 * @example
 * ```ts
 * chooseThreshold([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8], { rule: "youden" }).threshold; // 0.8
 * ```
 */
export function chooseThreshold(
  yTrue: ArrayLike<number>,
  scores: ArrayLike<number>,
  rule: ThresholdRule,
): OperatingPoint {
  if (rule.rule !== "youden" && !(rule.target >= 0 && rule.target <= 1)) {
    throw metricInputError("threshold", `target ${rule.target} must lie in [0, 1]`);
  }
  const c = binaryClfCurve(yTrue, scores);
  const m = c.tps.length;
  const pos = c.tps[m - 1]!;
  const neg = c.fps[m - 1]!;
  const target = rule.rule === "youden" ? undefined : rule.target;
  const point = (i: number): OperatingPoint => {
    const tp = i < 0 ? 0 : c.tps[i]!;
    const fp = i < 0 ? 0 : c.fps[i]!;
    const sensitivity = pos > 0 ? tp / pos : Number.NaN;
    const specificity = neg > 0 ? (neg - fp) / neg : Number.NaN;
    return {
      rule: rule.rule,
      ...(target === undefined ? {} : { target }),
      threshold: i < 0 ? Number.POSITIVE_INFINITY : c.thresholds[i]!,
      sensitivity,
      specificity,
      youdenJ: sensitivity + specificity - 1,
    };
  };
  if (pos === 0 || neg === 0) return point(-1);
  if (rule.rule === "youden") {
    let best = -1;
    let bestJ = 0;
    for (let i = 0; i < m; i++) {
      const j = c.tps[i]! / pos - c.fps[i]! / neg;
      if (j > bestJ) {
        bestJ = j;
        best = i;
      }
    }
    return point(best);
  }
  if (rule.rule === "sensitivity") {
    for (let i = 0; i < m; i++) if (c.tps[i]! / pos >= rule.target) return point(i);
    return point(m - 1);
  }
  let chosen = -1;
  for (let i = 0; i < m; i++) if ((neg - c.fps[i]!) / neg >= rule.target) chosen = i;
  return point(chosen);
}
