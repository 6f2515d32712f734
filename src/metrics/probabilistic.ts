/** Probability-quality metrics: log loss, Brier score, reliability bins and expected calibration error. */
import type { ScoreRows } from "./ranking.js";
import { checkLabels, checkSameLength, checkScores, metricInputError } from "./stats.js";

/**
 * Clipping of scikit-learn 1.2's `log_loss(eps="auto")`: float64 machine epsilon.
 *
 * @example
 * ```ts
 * computeLogLoss([1], [0]) === -Math.log(LOG_LOSS_EPS); // true
 * ```
 */
export const LOG_LOSS_EPS = Number.EPSILON;

/**
 * Binary log loss (cross-entropy) of P(class 1), with scikit-learn 1.2's semantics: p is clipped to
 * [ε, 1 − ε] with ε = 2.22e-16, the pair (1 − p, p) is renormalized, and the mean of −log p(true class)
 * is returned. Defined when only one class is present (the label set is {0, 1} by construction).
 *
 * @example
 * ```ts
 * computeLogLoss([0, 1], [0.1, 0.8]); // (−ln 0.9 − ln 0.8) / 2
 * ```
 */
export function computeLogLoss(yTrue: ArrayLike<number>, p: ArrayLike<number>, eps = LOG_LOSS_EPS): number {
  checkSameLength("log_loss", yTrue, p);
  checkLabels("log_loss", yTrue, 2);
  checkScores("log_loss", p, true);
  let s = 0;
  for (let i = 0; i < p.length; i++) {
    const q = Math.min(Math.max(p[i] as number, eps), 1 - eps);
    const q0 = 1 - q;
    const total = q0 + q;
    s -= Math.log((yTrue[i] === 1 ? q : q0) / total);
  }
  return s / p.length;
}

/**
 * Multi-class log loss: each row is clipped to [ε, 1 − ε], renormalized to sum 1, and −log p(true class)
 * averaged (scikit-learn 1.2 with `labels=range(K)`).
 *
 * @example
 * ```ts
 * computeLogLossMulticlass([0, 2], [[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]]); // (−ln 0.7 − ln 0.8) / 2
 * ```
 */
export function computeLogLossMulticlass(
  yTrue: ArrayLike<number>,
  probs: ScoreRows,
  eps = LOG_LOSS_EPS,
): number {
  checkSameLength("log_loss", yTrue, probs);
  const k = probs[0]?.length ?? 0;
  if (k < 2) throw metricInputError("log_loss", "need at least 2 class columns");
  checkLabels("log_loss", yTrue, k);
  let s = 0;
  for (let i = 0; i < probs.length; i++) {
    const row = probs[i]!;
    if (row.length !== k)
      throw metricInputError("log_loss", `row ${i} has ${row.length} scores, expected ${k}`);
    checkScores("log_loss", row, true);
    let total = 0;
    for (let c = 0; c < k; c++) total += Math.min(Math.max(row[c] as number, eps), 1 - eps);
    const py = Math.min(Math.max(row[yTrue[i] as number] as number, eps), 1 - eps);
    s -= Math.log(py / total);
  }
  return s / probs.length;
}

/**
 * Binary Brier score (Brier 1950, two-class form used by scikit-learn): mean (p − y)².
 *
 * @example
 * ```ts
 * computeBrierScore([0, 1], [0.1, 0.8]); // (0.01 + 0.04) / 2
 * ```
 */
export function computeBrierScore(yTrue: ArrayLike<number>, p: ArrayLike<number>): number {
  checkSameLength("brier", yTrue, p);
  checkLabels("brier", yTrue, 2);
  checkScores("brier", p, true);
  let s = 0;
  for (let i = 0; i < p.length; i++) {
    const d = (p[i] as number) - (yTrue[i] as number);
    s += d * d;
  }
  return s / p.length;
}

/**
 * Multi-class Brier score in Brier's original form: mean over samples of Σₖ (pₖ − 1[y = k])², range [0, 2].
 * (For K = 2 this is twice the binary score.)
 *
 * @example
 * ```ts
 * computeBrierScoreMulticlass([0], [[0.5, 0.25, 0.25]]); // 0.375
 * ```
 */
export function computeBrierScoreMulticlass(yTrue: ArrayLike<number>, probs: ScoreRows): number {
  checkSameLength("brier", yTrue, probs);
  const k = probs[0]?.length ?? 0;
  checkLabels("brier", yTrue, k);
  let s = 0;
  for (let i = 0; i < probs.length; i++) {
    const row = probs[i]!;
    if (row.length !== k) throw metricInputError("brier", `row ${i} has ${row.length} scores, expected ${k}`);
    checkScores("brier", row, true);
    for (let c = 0; c < k; c++) {
      const d = (row[c] as number) - (yTrue[i] === c ? 1 : 0);
      s += d * d;
    }
  }
  return s / probs.length;
}

/** One bin of a reliability diagram. */
export interface CalibrationBin {
  /** Bin edges; the bin holds lo < p ≤ hi (the first bin also holds p = 0). */
  readonly lo: number;
  readonly hi: number;
  readonly count: number;
  /** Mean predicted probability in the bin (NaN when empty). */
  readonly meanPredicted: number;
  /** Observed frequency of the event in the bin (NaN when empty). */
  readonly fractionPositive: number;
}

/**
 * Default number of equal-width bins for ECE (Guo et al. 2017 use 15).
 *
 * @example
 * ```ts
 * computeEce(labels, scores, DEFAULT_ECE_BINS);
 * ```
 */
export const DEFAULT_ECE_BINS = 15;

/**
 * Index of the equal-width bin (edges k/B) that holds p: bins are right-closed, (k/B, (k+1)/B], the first also
 * holding 0 — the placement scikit-learn's `calibration_curve(strategy="uniform")` gives grid values.
 */
function binIndex(p: number, edges: Float64Array): number {
  let lo = 0;
  let hi = edges.length;
  // Number of inner edges strictly below p.
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((edges[mid] as number) < p) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Reliability-diagram bins of binary events: B equal-width bins of the predicted probability, each with its
 * count, mean prediction and observed event frequency (the non-empty bins match scikit-learn's
 * `calibration_curve(n_bins=B, strategy="uniform")`).
 *
 * @example
 * ```ts
 * computeCalibrationBins([0, 1, 1], [0.1, 0.8, 0.9], 2)[1]!.fractionPositive; // 1
 * ```
 */
export function computeCalibrationBins(
  events: ArrayLike<number>,
  p: ArrayLike<number>,
  nBins = DEFAULT_ECE_BINS,
): CalibrationBin[] {
  checkSameLength("calibration", events, p);
  checkLabels("calibration", events, 2);
  checkScores("calibration", p, true);
  if (!Number.isInteger(nBins) || nBins < 1)
    throw metricInputError("calibration", `nBins ${nBins} must be ≥ 1`);
  const edges = Float64Array.from({ length: nBins - 1 }, (_, k) => (k + 1) / nBins);
  const count = new Float64Array(nBins);
  const sumP = new Float64Array(nBins);
  const sumY = new Float64Array(nBins);
  for (let i = 0; i < p.length; i++) {
    const b = binIndex(p[i] as number, edges);
    count[b]! += 1;
    sumP[b]! += p[i] as number;
    sumY[b]! += events[i] as number;
  }
  return Array.from({ length: nBins }, (_, b) => ({
    lo: b / nBins,
    hi: (b + 1) / nBins,
    count: count[b]!,
    meanPredicted: count[b]! > 0 ? sumP[b]! / count[b]! : Number.NaN,
    fractionPositive: count[b]! > 0 ? sumY[b]! / count[b]! : Number.NaN,
  }));
}

/**
 * ECE of reliability bins: Σ_b (n_b / N)·|observed_b − predicted_b| over non-empty bins.
 *
 * @example
 * ```ts
 * eceFromBins(computeCalibrationBins([0, 1, 1, 0], [0.2, 0.7, 0.9, 0.4], 10)); // 0.25
 * ```
 */
export function eceFromBins(bins: readonly CalibrationBin[]): number {
  let n = 0;
  let s = 0;
  for (const b of bins) {
    if (b.count === 0) continue;
    n += b.count;
    s += b.count * Math.abs(b.fractionPositive - b.meanPredicted);
  }
  return n === 0 ? Number.NaN : s / n;
}

/**
 * Expected calibration error of a binary probability (Naeini et al. 2015): the reliability-diagram gap of
 * P(class 1) against the observed frequency of class 1, over B equal-width bins.
 *
 * @example
 * ```ts
 * computeEce([0, 1, 1, 0], [0.2, 0.7, 0.9, 0.4], 10); // 0.25
 * ```
 */
export function computeEce(yTrue: ArrayLike<number>, p: ArrayLike<number>, nBins = DEFAULT_ECE_BINS): number {
  return eceFromBins(computeCalibrationBins(yTrue, p, nBins));
}

/**
 * Confidence (largest probability) and correctness of the arg-max prediction of each row.
 *
 * @example
 * ```ts
 * topLabelConfidence([1], [[0.3, 0.7]]); // { confidence: [0.7], correct: [1] }
 * ```
 */
export function topLabelConfidence(
  yTrue: ArrayLike<number>,
  probs: ScoreRows,
): { confidence: Float64Array; correct: Float64Array } {
  checkSameLength("ece", yTrue, probs);
  const confidence = new Float64Array(probs.length);
  const correct = new Float64Array(probs.length);
  probs.forEach((row, i) => {
    const k = argmax(row);
    confidence[i] = row[k] as number;
    correct[i] = yTrue[i] === k ? 1 : 0;
  });
  return { confidence, correct };
}

/**
 * Index of the largest value; the first one on ties (NumPy's `argmax`).
 *
 * @example
 * ```ts
 * argmax([0.2, 0.5, 0.5]); // 1
 * ```
 */
export function argmax(row: ArrayLike<number>): number {
  let best = 0;
  for (let c = 1; c < row.length; c++) if ((row[c] as number) > (row[best] as number)) best = c;
  return best;
}

/**
 * Top-label expected calibration error for multi-class probabilities (Guo et al. 2017): confidence = largest
 * probability, event = "the arg-max class is right", B equal-width bins.
 *
 * @example
 * ```ts
 * computeEceMulticlass([0, 1], [[0.9, 0.1], [0.6, 0.4]], 10); // (0.1 + 0.6) / 2
 * ```
 */
export function computeEceMulticlass(
  yTrue: ArrayLike<number>,
  probs: ScoreRows,
  nBins = DEFAULT_ECE_BINS,
): number {
  const { confidence, correct } = topLabelConfidence(yTrue, probs);
  return computeEce(correct, confidence, nBins);
}
