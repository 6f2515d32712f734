/** Out-of-distribution scores: multi-layer class-conditional Mahalanobis for bundles with feature outputs, energy/MSP otherwise. */
import { RadioLensError } from "../core/errors.js";

/**
 * One layer's class-conditional Gaussian with a shared covariance (Lee et al., "A Simple Unified Framework for
 * Detecting Out-of-Distribution Samples and Adversarial Attacks", NeurIPS 2018), plus the mean and standard
 * deviation of its Mahalanobis score on the training split, which put the layers on one scale.
 */
export interface MahalanobisLayer {
  /** Graph output that carries this layer's features (an extra ONNX/tfjs output of the bundle). */
  readonly output: string;
  readonly dim: number;
  /** Class means, `[classes][dim]`. */
  readonly means: readonly (readonly number[])[];
  /** Inverse of the (shrunk) shared covariance, row-major `[dim * dim]`. */
  readonly precision: readonly number[];
  readonly scoreMean: number;
  readonly scoreStd: number;
}

/**
 * The OOD detector stored in the model card (`ood`). `mahalanobis`: the score is the mean over layers of each
 * layer's standardized minimum class Mahalanobis distance; `energy`: −T·logsumexp(logits/T) (Liu et al.,
 * "Energy-based Out-of-distribution Detection", NeurIPS 2020) for models whose graph ends in logits; `msp`:
 * −max softmax probability (Hendrycks & Gimpel, ICLR 2017) when neither features nor logits are available.
 * Higher scores are further from the training data.
 */
export interface OodDetector {
  readonly method: "mahalanobis" | "energy" | "msp";
  readonly layers?: readonly MahalanobisLayer[];
  /** Scores above it are out of distribution; the quantile of the validation split given by `keep`. */
  readonly threshold: number;
  /** Fraction of the validation split the threshold keeps in distribution (0.95). */
  readonly keep: number;
  /** What happens to an out-of-distribution input: not analysed ("refuse") or analysed and marked ("flag"). */
  readonly action: "refuse" | "flag";
  /** Energy temperature (1). */
  readonly temperature?: number;
  /** What the detector was fitted and thresholded on. */
  readonly fittedOn?: Readonly<Record<string, unknown>>;
}

/** The OOD verdict every prediction carries. */
export interface OodResult {
  readonly score: number;
  readonly threshold: number;
  readonly inDistribution: boolean;
  readonly method: OodDetector["method"];
}

/** Shrinkage towards a scaled identity that keeps the pooled covariance invertible (ReLU features have dead units). */
const SHRINKAGE = 0.01;

/** Cholesky factor L (lower, row-major) of a symmetric positive definite `n × n` matrix. */
function cholesky(a: Float64Array, n: number): Float64Array {
  const l = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let s = a[i * n + j] as number;
      for (let k = 0; k < j; k++) s -= (l[i * n + k] as number) * (l[j * n + k] as number);
      if (i === j) {
        if (!(s > 0))
          throw new RadioLensError("RL_ERR_INTERNAL", { detail: "covariance is not positive definite" });
        l[i * n + i] = Math.sqrt(s);
      } else l[i * n + j] = s / (l[j * n + j] as number);
    }
  }
  return l;
}

/** Inverse of a symmetric positive definite matrix through its Cholesky factor. */
function invertSpd(a: Float64Array, n: number): Float64Array {
  const l = cholesky(a, n);
  // inv(L) by forward substitution, then inv(A) = inv(L)ᵀ inv(L).
  const li = new Float64Array(n * n);
  for (let c = 0; c < n; c++) {
    for (let i = c; i < n; i++) {
      let s = i === c ? 1 : 0;
      for (let k = c; k < i; k++) s -= (l[i * n + k] as number) * (li[k * n + c] as number);
      li[i * n + c] = s / (l[i * n + i] as number);
    }
  }
  const inv = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let s = 0;
      for (let k = i; k < n; k++) s += (li[k * n + i] as number) * (li[k * n + j] as number);
      inv[i * n + j] = s;
      inv[j * n + i] = s;
    }
  }
  return inv;
}

/** Minimum over classes of (x − μc)ᵀ P (x − μc). */
function minMahalanobis(
  x: ArrayLike<number>,
  means: readonly (readonly number[])[],
  p: ArrayLike<number>,
): number {
  const d = means[0]?.length ?? 0;
  const diff = new Float64Array(d);
  let best = Number.POSITIVE_INFINITY;
  for (const mu of means) {
    for (let i = 0; i < d; i++) diff[i] = (x[i] as number) - (mu[i] as number);
    let s = 0;
    for (let i = 0; i < d; i++) {
      let r = 0;
      const o = i * d;
      for (let j = 0; j < d; j++) r += (p[o + j] as number) * (diff[j] as number);
      s += (diff[i] as number) * r;
    }
    if (s < best) best = s;
  }
  return best;
}

/**
 * {@link minMahalanobis} of many rows, four at a time: each row of P (2 MB at d = 512, beyond the L2 cache) is
 * read once per four samples instead of once per sample. Every sample's sums run in the same order as in
 * minMahalanobis, so the results are identical.
 */
function minMahalanobisMany(
  rows: readonly ArrayLike<number>[],
  means: readonly (readonly number[])[],
  p: ArrayLike<number>,
): Float64Array {
  const d = means[0]?.length ?? 0;
  const best = new Float64Array(rows.length).fill(Number.POSITIVE_INFINITY);
  const diffs = Array.from({ length: 4 }, () => new Float64Array(d));
  const [d0, d1, d2, d3] = diffs as [Float64Array, Float64Array, Float64Array, Float64Array];
  for (let i0 = 0; i0 < rows.length; i0 += 4) {
    const m = Math.min(4, rows.length - i0);
    for (const mu of means) {
      for (let k = 0; k < 4; k++) {
        const dk = diffs[k] as Float64Array;
        const x = rows[i0 + Math.min(k, m - 1)] as ArrayLike<number>;
        for (let i = 0; i < d; i++) dk[i] = (x[i] as number) - (mu[i] as number);
      }
      let s0 = 0;
      let s1 = 0;
      let s2 = 0;
      let s3 = 0;
      for (let i = 0; i < d; i++) {
        let r0 = 0;
        let r1 = 0;
        let r2 = 0;
        let r3 = 0;
        const o = i * d;
        for (let j = 0; j < d; j++) {
          const pij = p[o + j] as number;
          r0 += pij * (d0[j] as number);
          r1 += pij * (d1[j] as number);
          r2 += pij * (d2[j] as number);
          r3 += pij * (d3[j] as number);
        }
        s0 += (d0[i] as number) * r0;
        s1 += (d1[i] as number) * r1;
        s2 += (d2[i] as number) * r2;
        s3 += (d3[i] as number) * r3;
      }
      const s = [s0, s1, s2, s3];
      for (let k = 0; k < m; k++)
        if ((s[k] as number) < (best[i0 + k] as number)) best[i0 + k] = s[k] as number;
    }
  }
  return best;
}

/**
 * Fits one layer's Gaussians: class means and the pooled within-class covariance of `features` (one row per
 * training sample), shrunk by {@link SHRINKAGE} towards tr(Σ)/d·I, inverted; then the layer's score statistics
 * on the same rows.
 *
 * @example
 * ```ts
 * const layer = fitMahalanobisLayer("ood_fc1", rows, classes, 2);
 * ```
 */
export function fitMahalanobisLayer(
  output: string,
  features: readonly ArrayLike<number>[],
  classes: ArrayLike<number>,
  numClasses: number,
): MahalanobisLayer {
  const n = features.length;
  const d = features[0]?.length ?? 0;
  if (n < 2 || d === 0)
    throw new RadioLensError("RL_ERR_DATA_EMPTY", { detail: "too few samples to fit the OOD detector" });
  const sums = Array.from({ length: numClasses }, () => new Float64Array(d));
  const counts = new Float64Array(numClasses);
  features.forEach((f, i) => {
    const c = classes[i] as number;
    counts[c] = (counts[c] as number) + 1;
    const s = sums[c] as Float64Array;
    for (let j = 0; j < d; j++) s[j] = (s[j] as number) + (f[j] as number);
  });
  const present = [...counts.keys()].filter((c) => (counts[c] as number) > 0);
  const meansAll = sums.map((s, c) => Array.from(s, (v) => v / Math.max(1, counts[c] as number)));
  const cov = new Float64Array(d * d);
  // Four samples per sweep over the lower triangle: the d×d float64 accumulator (2 MB at d = 512) is read and
  // written a quarter as often. Each element still adds the samples one by one in their order, so the sums are
  // the same as one sample per sweep.
  const diffs = Array.from({ length: 4 }, () => new Float64Array(d));
  for (let i0 = 0; i0 < n; i0 += 4) {
    const m = Math.min(4, n - i0);
    for (let k = 0; k < 4; k++) {
      const dk = diffs[k] as Float64Array;
      if (k >= m) {
        dk.fill(0);
        continue;
      }
      const f = features[i0 + k] as ArrayLike<number>;
      const mu = meansAll[classes[i0 + k] as number] as number[];
      for (let j = 0; j < d; j++) dk[j] = (f[j] as number) - (mu[j] as number);
    }
    const [d0, d1, d2, d3] = diffs as [Float64Array, Float64Array, Float64Array, Float64Array];
    for (let a = 0; a < d; a++) {
      const a0 = d0[a] as number;
      const a1 = d1[a] as number;
      const a2 = d2[a] as number;
      const a3 = d3[a] as number;
      const o = a * d;
      for (let b = 0; b <= a; b++) {
        let v = cov[o + b] as number;
        v += a0 * (d0[b] as number);
        v += a1 * (d1[b] as number);
        v += a2 * (d2[b] as number);
        v += a3 * (d3[b] as number);
        cov[o + b] = v;
      }
    }
  }
  let trace = 0;
  for (let a = 0; a < d; a++) trace += (cov[a * d + a] as number) / n;
  const floor = Math.max(trace / d, 1e-12);
  for (let a = 0; a < d; a++) {
    for (let b = 0; b <= a; b++) {
      const v = (1 - SHRINKAGE) * ((cov[a * d + b] as number) / n) + (a === b ? SHRINKAGE * floor : 0);
      cov[a * d + b] = v;
      cov[b * d + a] = v;
    }
  }
  const precision = invertSpd(cov, d);
  const means = present.map((c) => meansAll[c] as number[]);
  const scores = Array.from(minMahalanobisMany(features, means, precision), (v) => Math.log1p(v));
  const mean = scores.reduce((s, v) => s + v, 0) / n;
  const std = Math.sqrt(scores.reduce((s, v) => s + (v - mean) ** 2, 0) / Math.max(1, n - 1)) || 1;
  return {
    output,
    dim: d,
    means: means.map((m) => m.map((v) => Math.fround(v))),
    precision: Array.from(precision, (v) => Math.fround(v)),
    scoreMean: mean,
    scoreStd: std,
  };
}

/**
 * The multi-layer Mahalanobis score of one input: per layer log(1 + min-class distance) standardized by the
 * training split's statistics, averaged over layers. Standardizing replaces Lee et al.'s logistic-regression layer
 * weights, which would need out-of-distribution examples to fit; the log tames the heavy right tail.
 *
 * @example
 * ```ts
 * const s = mahalanobisScore(detector.layers, [gap1, gap2, penultimate]);
 * ```
 */
export function mahalanobisScore(
  layers: readonly MahalanobisLayer[],
  features: readonly ArrayLike<number>[],
): number {
  let s = 0;
  layers.forEach((l, i) => {
    const f = features[i];
    if (!f || f.length !== l.dim)
      throw new RadioLensError("RL_ERR_MODEL_INVALID", {
        path: l.output,
        detail: `OOD feature '${l.output}' has ${f?.length ?? 0} values, the card declares ${l.dim}`,
      });
    s += (Math.log1p(minMahalanobis(f, l.means, l.precision)) - l.scoreMean) / l.scoreStd;
  });
  return s / Math.max(1, layers.length);
}

/**
 * {@link mahalanobisScore} of many inputs at once (`features[l][i]`: layer l's features of input i), with the same
 * results; the precision matrices are read once per four inputs instead of once per input.
 *
 * @example
 * ```ts
 * const scores = mahalanobisScores(detector.layers, [gap1Rows, gap2Rows, penultimateRows]);
 * ```
 */
export function mahalanobisScores(
  layers: readonly MahalanobisLayer[],
  features: readonly (readonly ArrayLike<number>[])[],
): number[] {
  const n = features[0]?.length ?? 0;
  const s = new Array<number>(n).fill(0);
  layers.forEach((l, li) => {
    const rows = features[li] ?? [];
    for (let i = 0; i < n; i++) {
      const f = rows[i];
      if (!f || f.length !== l.dim)
        throw new RadioLensError("RL_ERR_MODEL_INVALID", {
          path: l.output,
          detail: `OOD feature '${l.output}' has ${f?.length ?? 0} values, the card declares ${l.dim}`,
        });
    }
    const min = minMahalanobisMany(rows, l.means, l.precision);
    for (let i = 0; i < n; i++)
      s[i] = (s[i] as number) + (Math.log1p(min[i] as number) - l.scoreMean) / l.scoreStd;
  });
  return s.map((v) => v / Math.max(1, layers.length));
}

/**
 * Energy score −T·logsumexp(logits/T), negated so that higher means more out of distribution (Liu et al. 2020).
 *
 * @example
 * ```ts
 * energyScore(Float32Array.of(2, -1)); // ≈ -2.05
 * ```
 */
export function energyScore(logits: ArrayLike<number>, temperature = 1): number {
  let m = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < logits.length; i++) m = Math.max(m, (logits[i] as number) / temperature);
  let s = 0;
  for (let i = 0; i < logits.length; i++) s += Math.exp((logits[i] as number) / temperature - m);
  return -temperature * (m + Math.log(s));
}

/**
 * Maximum-softmax-probability score, negated (Hendrycks & Gimpel 2017).
 *
 * @example
 * ```ts
 * mspScore(Float32Array.of(0.1, 0.9)); // -0.9
 * ```
 */
export function mspScore(probabilities: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < probabilities.length; i++) m = Math.max(m, probabilities[i] as number);
  return -m;
}

/**
 * The `q`-quantile of scores (linear interpolation between order statistics, numpy's default).
 *
 * @example
 * ```ts
 * quantile([1, 2, 3, 4], 0.5); // 2.5
 * ```
 */
export function quantile(values: readonly number[], q: number): number {
  const s = [...values].sort((a, b) => a - b);
  if (s.length === 0) return Number.NaN;
  const pos = (s.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.min(s.length - 1, lo + 1);
  return (s[lo] as number) + ((s[hi] as number) - (s[lo] as number)) * (pos - lo);
}

/**
 * The verdict for one score.
 *
 * @example
 * ```ts
 * oodVerdict(detector, 3.2); // { score: 3.2, threshold: 2.1, inDistribution: false, method: "mahalanobis" }
 * ```
 */
export function oodVerdict(detector: OodDetector, score: number): OodResult {
  return {
    score,
    threshold: detector.threshold,
    // NaN (a broken input) is never in distribution.
    inDistribution: score <= detector.threshold,
    method: detector.method,
  };
}

/**
 * Detection quality with out-of-distribution as the positive class: the area under the ROC curve (ties count
 * one half) and the false-positive rate at 95% true-positive rate in the usual OOD sense (Hendrycks & Gimpel
 * 2017; Liang et al. 2018): the fraction of out-of-distribution inputs accepted when the threshold keeps 95% of
 * the in-distribution ones.
 *
 * @example
 * ```ts
 * oodMetrics([0, 0.1, 0.2], [5, 6]); // { auroc: 1, fprAt95Tpr: 0 }
 * ```
 */
export function oodMetrics(
  inScores: readonly number[],
  outScores: readonly number[],
): { auroc: number; fprAt95Tpr: number } {
  const all = [...inScores.map((s) => ({ s, out: false })), ...outScores.map((s) => ({ s, out: true }))].sort(
    (a, b) => a.s - b.s,
  );
  // Mann-Whitney U with midranks.
  let rankSumOut = 0;
  for (let i = 0; i < all.length; ) {
    let j = i;
    while (j < all.length && (all[j] as { s: number }).s === (all[i] as { s: number }).s) j++;
    const mid = (i + j + 1) / 2;
    for (let k = i; k < j; k++) if ((all[k] as { out: boolean }).out) rankSumOut += mid;
    i = j;
  }
  const nOut = outScores.length;
  const nIn = inScores.length;
  const auroc = (rankSumOut - (nOut * (nOut + 1)) / 2) / (nOut * nIn);
  const t = quantile(inScores, 0.95);
  const fprAt95Tpr = outScores.filter((s) => s <= t).length / Math.max(1, nOut);
  return { auroc, fprAt95Tpr };
}
