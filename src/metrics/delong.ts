/** DeLong variance of ROC AUC, its confidence interval and the paired test between correlated AUCs (DeLong et al. 1988; fast algorithm of Sun & Xu 2014). */
import {
  checkLabels,
  checkSameLength,
  checkScores,
  metricInputError,
  midranks,
  normalCdf,
  normalQuantile,
} from "./stats.js";

/** AUCs of k models scored on the same samples, with their DeLong covariance matrix. */
export interface DelongResult {
  readonly aucs: number[];
  /** k×k covariance of the AUC estimates: S10/m + S01/n (DeLong et al. 1988, eq. 3–5). */
  readonly covariance: number[][];
  readonly positives: number;
  readonly negatives: number;
}

function covariance(v: readonly Float64Array[]): number[][] {
  const k = v.length;
  const n = v[0]?.length ?? 0;
  const means = v.map((row) => row.reduce((a, b) => a + b, 0) / n);
  return Array.from({ length: k }, (_, a) =>
    Array.from({ length: k }, (_, b) => {
      if (n < 2) return Number.NaN;
      let s = 0;
      for (let i = 0; i < n; i++) s += (v[a]![i]! - means[a]!) * (v[b]![i]! - means[b]!);
      return s / (n - 1);
    }),
  );
}

/**
 * DeLong's structural components and covariance for one or more score vectors on the same labels, computed
 * with midranks in O(k·N log N) (Sun & Xu 2014, "Fast implementation of DeLong's algorithm", Algorithm 2).
 * The AUC of a one-class label set is NaN, and so is the covariance with fewer than 2 positives or negatives.
 *
 * @example
 * ```ts
 * const r = computeDelong([0, 0, 1, 1], [[0.1, 0.4, 0.35, 0.8]]);
 * r.aucs[0]; // 0.75
 * ```
 */
export function computeDelong(
  yTrue: ArrayLike<number>,
  scoreSets: readonly ArrayLike<number>[],
): DelongResult {
  checkLabels("delong", yTrue, 2);
  const posIdx: number[] = [];
  const negIdx: number[] = [];
  for (let i = 0; i < yTrue.length; i++) (yTrue[i] === 1 ? posIdx : negIdx).push(i);
  const m = posIdx.length;
  const n = negIdx.length;
  const k = scoreSets.length;
  if (k === 0) throw metricInputError("delong", "need at least one score vector");
  for (const s of scoreSets) {
    checkSameLength("delong", yTrue, s);
    checkScores("delong", s, false);
  }
  if (m === 0 || n === 0) {
    return {
      aucs: new Array<number>(k).fill(Number.NaN),
      covariance: Array.from({ length: k }, () => new Array<number>(k).fill(Number.NaN)),
      positives: m,
      negatives: n,
    };
  }
  const v10: Float64Array[] = [];
  const v01: Float64Array[] = [];
  const aucs: number[] = [];
  for (const s of scoreSets) {
    const x = Float64Array.from(posIdx, (i) => s[i] as number);
    const y = Float64Array.from(negIdx, (i) => s[i] as number);
    const z = new Float64Array(m + n);
    z.set(x, 0);
    z.set(y, m);
    const tx = midranks(x);
    const ty = midranks(y);
    const tz = midranks(z);
    let sumPos = 0;
    for (let i = 0; i < m; i++) sumPos += tz[i]!;
    aucs.push(sumPos / m / n - (m + 1) / (2 * n));
    // V10(Xi): share of negatives ranked below positive i (ties count ½); V01(Yj): share of positives above j.
    v10.push(Float64Array.from({ length: m }, (_, i) => (tz[i]! - tx[i]!) / n));
    v01.push(Float64Array.from({ length: n }, (_, j) => 1 - (tz[m + j]! - ty[j]!) / m));
  }
  const s10 = covariance(v10);
  const s01 = covariance(v01);
  return {
    aucs,
    covariance: s10.map((row, a) => row.map((v, b) => v / m + s01[a]![b]! / n)),
    positives: m,
    negatives: n,
  };
}

/** A DeLong confidence interval for one AUC. */
export interface DelongCi {
  readonly auc: number;
  readonly variance: number;
  readonly lo: number;
  readonly hi: number;
  readonly level: number;
}

/**
 * Wald interval AUC ± z·√var with DeLong's variance, clipped to [0, 1] (as pROC's `ci.auc(method="delong")`).
 * A perfect separation has variance 0 and a zero-width interval; NaN bounds when undefined.
 *
 * @example
 * ```ts
 * computeDelongCi([0, 0, 0, 1, 1, 1], [0.1, 0.5, 0.3, 0.4, 0.8, 0.9]).lo; // < 0.889 < hi
 * ```
 */
export function computeDelongCi(yTrue: ArrayLike<number>, scores: ArrayLike<number>, level = 0.95): DelongCi {
  if (!(level > 0 && level < 1)) throw metricInputError("delong", `level ${level} must lie in (0, 1)`);
  const r = computeDelong(yTrue, [scores]);
  const auc = r.aucs[0]!;
  const variance = r.covariance[0]![0]!;
  const z = normalQuantile(0.5 + level / 2);
  const half = z * Math.sqrt(variance);
  return { auc, variance, lo: Math.max(0, auc - half), hi: Math.min(1, auc + half), level };
}

/** The paired DeLong test of two AUCs on the same samples. */
export interface DelongTest {
  readonly auc1: number;
  readonly auc2: number;
  /** auc1 − auc2. */
  readonly difference: number;
  /** Var(auc1 − auc2) = S11 + S22 − 2·S12. */
  readonly variance: number;
  readonly z: number;
  /** Two-sided p-value 2·Φ(−|z|); NaN when the difference has zero variance (e.g. identical rankings). */
  readonly pValue: number;
}

/**
 * DeLong's test that two correlated ROC AUCs (two models scored on the same cases) are equal
 * (DeLong et al. 1988, section 3).
 *
 * @example
 * ```ts
 * const t = computeDelongTest(labels, modelA, modelB);
 * if (t.pValue < 0.05) console.log("AUCs differ");
 * ```
 */
export function computeDelongTest(
  yTrue: ArrayLike<number>,
  scores1: ArrayLike<number>,
  scores2: ArrayLike<number>,
): DelongTest {
  const r = computeDelong(yTrue, [scores1, scores2]);
  const [a1, a2] = r.aucs as [number, number];
  const c = r.covariance;
  const variance = c[0]![0]! + c[1]![1]! - 2 * c[0]![1]!;
  const difference = a1 - a2;
  const z = variance > 0 ? difference / Math.sqrt(variance) : Number.NaN;
  return {
    auc1: a1,
    auc2: a2,
    difference,
    variance,
    z,
    pValue: Number.isNaN(z) ? Number.NaN : 2 * normalCdf(-Math.abs(z)),
  };
}
