/** Numerical helpers shared by the metrics: normal distribution, percentiles, midranks and input checks. */
import { RadioLensError } from "../core/errors.js";

/**
 * The complementary error function erfc(x), to ~1e-14 relative accuracy: the everywhere-positive power series
 * erf(x) = 2/√π·e^(−x²)·Σ 2ⁿx^(2n+1)/(2n+1)!! (Abramowitz & Stegun 7.1.6) below 2.5, and the Laplace continued
 * fraction (A&S 7.1.14) above, evaluated bottom-up.
 *
 * @example
 * ```ts
 * erfc(0); // 1
 * ```
 */
export function erfc(x: number): number {
  if (Number.isNaN(x)) return Number.NaN;
  if (x < 0) return 2 - erfc(-x);
  if (x < 2.5) {
    const x2 = x * x;
    let term = x;
    let sum = x;
    for (let n = 1; n < 200; n++) {
      term *= (2 * x2) / (2 * n + 1);
      sum += term;
      if (term < sum * 1e-17) break;
    }
    return 1 - (2 / Math.sqrt(Math.PI)) * Math.exp(-x2) * sum;
  }
  if (x > 27) return 0;
  let f = x;
  for (let k = 120; k >= 1; k--) f = x + k / 2 / f;
  return Math.exp(-x * x) / (Math.sqrt(Math.PI) * f);
}

/**
 * Standard normal cumulative distribution Φ(x).
 *
 * @example
 * ```ts
 * normalCdf(1.959963984540054); // ≈ 0.975
 * ```
 */
export function normalCdf(x: number): number {
  return 0.5 * erfc(-x / Math.SQRT2);
}

/**
 * The standard normal quantile Φ⁻¹(p), found by bisection on {@link normalCdf} down to adjacent doubles, so it
 * is as exact as Φ itself.
 *
 * @example
 * ```ts
 * normalQuantile(0.975); // 1.959963984540054
 * ```
 */
export function normalQuantile(p: number): number {
  if (!(p > 0 && p < 1)) {
    if (p === 0) return Number.NEGATIVE_INFINITY;
    if (p === 1) return Number.POSITIVE_INFINITY;
    return Number.NaN;
  }
  let lo = -40;
  let hi = 40;
  for (let i = 0; i < 200; i++) {
    const mid = (lo + hi) / 2;
    if (mid === lo || mid === hi) break;
    if (normalCdf(mid) < p) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

/**
 * The q-th quantile (q in [0, 1]) of ascending-sorted values by linear interpolation between closest ranks
 * (Hyndman & Fan 1996 type 7, NumPy's default `np.percentile(..., method="linear")`). NaN for no values.
 *
 * @example
 * ```ts
 * quantileSorted([1, 2, 3, 4], 0.5); // 2.5
 * ```
 */
export function quantileSorted(sorted: ArrayLike<number>, q: number): number {
  const n = sorted.length;
  if (n === 0) return Number.NaN;
  const h = (n - 1) * q;
  const lo = Math.floor(h);
  const a = sorted[lo] as number;
  if (lo >= n - 1) return sorted[n - 1] as number;
  const b = sorted[lo + 1] as number;
  const t = h - lo;
  // NumPy's _lerp: interpolate from the nearer end so the result is monotone in q and exact at t = 1.
  return t >= 0.5 ? b - (b - a) * (1 - t) : a + (b - a) * t;
}

/**
 * Midranks (1-based; tied values share the mean of their ranks), the building block of the fast DeLong
 * algorithm (Sun & Xu 2014, Algorithm 1).
 *
 * @example
 * ```ts
 * midranks([0.1, 0.5, 0.5, 0.9]); // [1, 2.5, 2.5, 4]
 * ```
 */
export function midranks(values: ArrayLike<number>): Float64Array {
  const n = values.length;
  const order = argsortAscending(values);
  const out = new Float64Array(n);
  let i = 0;
  while (i < n) {
    let j = i;
    const v = values[order[i] as number] as number;
    while (j < n && values[order[j] as number] === v) j++;
    const r = 0.5 * (i + j - 1) + 1;
    for (let k = i; k < j; k++) out[order[k] as number] = r;
    i = j;
  }
  return out;
}

/**
 * The RL_ERR_METRIC_INPUT error for a metric (to be thrown by the caller).
 *
 * @example
 * ```ts
 * throw metricInputError("roc_auc", "no samples");
 * ```
 */
export function metricInputError(metric: string, detail: string): RadioLensError {
  return new RadioLensError("RL_ERR_METRIC_INPUT", { metric, detail });
}

/**
 * Checks equal lengths and at least one sample.
 *
 * @example
 * ```ts
 * checkSameLength("accuracy", yTrue, yPred);
 * ```
 */
export function checkSameLength(metric: string, a: ArrayLike<unknown>, b: ArrayLike<unknown>): void {
  if (a.length !== b.length) {
    throw metricInputError(metric, `labels have ${a.length} entries but predictions have ${b.length}`);
  }
  if (a.length === 0) throw metricInputError(metric, "no samples");
}

/**
 * Checks that every label is an integer in [0, numClasses).
 *
 * @example
 * ```ts
 * checkLabels("roc_auc", yTrue, 2);
 * ```
 */
export function checkLabels(metric: string, labels: ArrayLike<number>, numClasses: number): void {
  for (let i = 0; i < labels.length; i++) {
    const y = labels[i] as number;
    if (!Number.isInteger(y) || y < 0 || y >= numClasses) {
      throw metricInputError(metric, `label ${y} at index ${i} is not an integer in [0, ${numClasses - 1}]`);
    }
  }
}

/**
 * Checks that every score is a finite number (and, when `probability`, inside [0, 1]).
 *
 * @example
 * ```ts
 * checkScores("log_loss", p, true);
 * ```
 */
export function checkScores(metric: string, scores: ArrayLike<number>, probability: boolean): void {
  for (let i = 0; i < scores.length; i++) {
    const s = scores[i] as number;
    if (!Number.isFinite(s)) throw metricInputError(metric, `score ${s} at index ${i} is not finite`);
    if (probability && (s < 0 || s > 1)) {
      throw metricInputError(metric, `score ${s} at index ${i} is not a probability in [0, 1]`);
    }
  }
}

/**
 * Mean of values; NaN when any value is NaN or there are none (an undefined part makes the mean undefined).
 *
 * @example
 * ```ts
 * strictMean([0.8, Number.NaN]); // NaN
 * ```
 */
export function strictMean(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  let s = 0;
  for (const v of values) s += v;
  return s / values.length;
}

/**
 * Indices that sort finite values ascending, stable (equal values keep index order). Sorting the values in a
 * Float64Array (native numeric sort), ranking each value by binary search and counting-sorting the ranks is
 * several times faster than `Array.prototype.sort` with a comparator on millions of indices.
 *
 * @example
 * ```ts
 * argsortAscending([0.3, 0.1, 0.3, 0.2]); // [1, 3, 0, 2]
 * ```
 */
export function argsortAscending(values: ArrayLike<number>): Int32Array {
  const n = values.length;
  const sorted = Float64Array.from(values as ArrayLike<number>).sort();
  let u = 0;
  for (let i = 0; i < n; i++) if (i === 0 || sorted[i] !== sorted[u - 1]) sorted[u++] = sorted[i]!;
  const uniq = sorted.subarray(0, u);
  const rank = new Int32Array(n);
  const start = new Int32Array(u + 1);
  for (let i = 0; i < n; i++) {
    const v = values[i] as number;
    let lo = 0;
    let hi = u - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (uniq[mid]! < v) lo = mid + 1;
      else hi = mid;
    }
    rank[i] = lo;
    start[lo + 1]! += 1;
  }
  for (let r = 0; r < u; r++) start[r + 1]! += start[r]!;
  const order = new Int32Array(n);
  for (let i = 0; i < n; i++) order[start[rank[i]!]!++] = i;
  return order;
}
