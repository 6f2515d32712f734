/** Seeded stratified bootstrap percentile confidence intervals (Efron & Tibshirani 1993, ch. 13). */
import { Rng } from "../core/rng.js";
import { metricInputError, quantileSorted } from "./stats.js";

/** Options of {@link bootstrapCi}. */
export interface BootstrapOptions {
  /** Number of resamples (default 1000). */
  readonly nResamples?: number;
  /** Seed of the {@link Rng} (default 0): the same seed gives the same intervals. */
  readonly seed?: number;
  /** Coverage (default 0.95). */
  readonly level?: number;
  /**
   * Stratum of each unit (e.g. its class): each resample draws, with replacement, as many units from every
   * stratum as it holds, so class prevalence is fixed and AUC stays defined in every resample.
   */
  readonly strata?: ArrayLike<number | string>;
}

/** A percentile interval of one statistic. */
export interface BootstrapInterval {
  readonly lo: number;
  readonly hi: number;
  /** Resamples where the statistic was defined (not NaN); the interval uses only these. */
  readonly nValid: number;
}

/** The resolved options recorded beside the intervals. */
export interface BootstrapSetting {
  readonly method: "stratified percentile bootstrap";
  readonly nResamples: number;
  readonly seed: number;
  readonly level: number;
}

/**
 * Percentile bootstrap intervals for several statistics at once. `statistic` receives the multiplicity of every
 * unit in the resample (a weight vector of non-negative integers summing to the unit count) and returns named
 * values; weighting is identical to evaluating on the resampled rows, without copying them.
 *
 * @example
 * ```ts
 * const y = [0, 0, 1, 1, 1];
 * const ci = bootstrapCi(y.length, (w) => ({ mean: w.reduce((a, wi, i) => a + wi * y[i]!, 0) / y.length }), {
 *   seed: 7, strata: y,
 * });
 * ci.intervals.mean; // { lo: 0.6, hi: 0.6, nValid: 1000 } (strata fix the mean)
 * ```
 */
export function bootstrapCi<K extends string>(
  nUnits: number,
  statistic: (weights: Int32Array) => Record<K, number>,
  options: BootstrapOptions = {},
): { setting: BootstrapSetting; intervals: Record<K, BootstrapInterval> } {
  const nResamples = options.nResamples ?? 1000;
  const seed = options.seed ?? 0;
  const level = options.level ?? 0.95;
  if (!Number.isInteger(nResamples) || nResamples < 1) {
    throw metricInputError("bootstrap", `nResamples ${nResamples} must be a positive integer`);
  }
  if (!(level > 0 && level < 1)) throw metricInputError("bootstrap", `level ${level} must lie in (0, 1)`);
  if (nUnits < 1) throw metricInputError("bootstrap", "no samples");
  const groups = new Map<number | string, number[]>();
  for (let i = 0; i < nUnits; i++) {
    const key = options.strata === undefined ? 0 : (options.strata[i] as number | string);
    let g = groups.get(key);
    if (g === undefined) groups.set(key, (g = []));
    g.push(i);
  }
  const rng = new Rng(seed);
  const samples = new Map<K, number[]>();
  const weights = new Int32Array(nUnits);
  for (let r = 0; r < nResamples; r++) {
    weights.fill(0);
    for (const g of groups.values()) {
      for (let j = 0; j < g.length; j++) weights[g[rng.int(0, g.length - 1)]!]! += 1;
    }
    const values = statistic(weights);
    for (const key of Object.keys(values) as K[]) {
      let arr = samples.get(key);
      if (arr === undefined) samples.set(key, (arr = []));
      const v = values[key];
      if (!Number.isNaN(v)) arr.push(v);
    }
  }
  const alpha = (1 - level) / 2;
  const intervals = {} as Record<K, BootstrapInterval>;
  for (const [key, arr] of samples) {
    arr.sort((a, b) => a - b);
    intervals[key] = {
      lo: quantileSorted(arr, alpha),
      hi: quantileSorted(arr, 1 - alpha),
      nValid: arr.length,
    };
  }
  return { setting: { method: "stratified percentile bootstrap", nResamples, seed, level }, intervals };
}
