/** Class imbalance: class weights for the loss, and per-sample weights plus an alias-method sampler for resampling. */
import { RadioLensError } from "../core/errors.js";
import type { Rng } from "../core/rng.js";
import type { Label } from "./types.js";

/**
 * Counts items per class (multi-label: positives per label).
 *
 * @example
 * ```ts
 * labelCounts([0, 1, 1], 2); // Float64Array [1, 2]
 * ```
 */
export function labelCounts(labels: Iterable<Label>, numClasses: number): Float64Array {
  const n = new Float64Array(numClasses);
  for (const y of labels) {
    if (typeof y === "number") n[y] = (n[y] ?? 0) + 1;
    else for (let c = 0; c < numClasses; c++) if ((y[c] ?? 0) > 0) n[c] = (n[c] as number) + 1;
  }
  return n;
}

/**
 * "Balanced" class weights w_c = N / (C · n_c) (King & Zeng 2001; scikit-learn's `class_weight="balanced"`), so every
 * class contributes equally to a weighted loss. Absent classes get weight 0.
 *
 * @example
 * ```ts
 * balancedClassWeights([0, 0, 0, 1], 2); // [0.667, 2]
 * ```
 */
export function balancedClassWeights(labels: readonly Label[], numClasses: number): Float64Array {
  const counts = labelCounts(labels, numClasses);
  const w = new Float64Array(numClasses);
  for (let c = 0; c < numClasses; c++) {
    const n = counts[c] as number;
    w[c] = n > 0 ? labels.length / (numClasses * n) : 0;
  }
  return w;
}

/**
 * Positive-class weights for multi-label BCE, negatives/positives per label (as PyTorch's `pos_weight` suggests).
 *
 * @example
 * ```ts
 * positiveWeights([[1, 0], [0, 0], [0, 1], [0, 0]], 2); // [3, 3]
 * ```
 */
export function positiveWeights(labels: readonly Label[], numLabels: number): Float64Array {
  const pos = labelCounts(labels, numLabels);
  return pos.map((p) => (p > 0 ? (labels.length - p) / p : 0));
}

/**
 * Per-sample weights 1 / n_{class}, so a weighted sampler draws every class equally often in expectation.
 * Multi-label items use their rarest positive label (all-negative items count as their own class).
 *
 * @example
 * ```ts
 * const w = balancedSampleWeights(labels, 2);
 * ```
 */
export function balancedSampleWeights(labels: readonly Label[], numClasses: number): Float64Array {
  const counts = labelCounts(labels, numClasses);
  let negatives = 0;
  for (const y of labels) if (typeof y !== "number" && !y.some((v) => v > 0)) negatives++;
  return Float64Array.from(labels, (y) => {
    if (typeof y === "number") return 1 / (counts[y] as number);
    let best = 0;
    for (let c = 0; c < numClasses; c++)
      if ((y[c] ?? 0) > 0) best = Math.max(best, 1 / (counts[c] as number));
    return best > 0 ? best : 1 / negatives;
  });
}

/**
 * Draws indices with probability proportional to fixed weights in O(1) per draw (Vose 1991, "A linear algorithm
 * for generating random numbers with a given distribution", the alias method).
 *
 * @example
 * ```ts
 * const s = new AliasSampler(balancedSampleWeights(labels, 2));
 * const i = s.draw(rng);
 * ```
 */
export class AliasSampler {
  private readonly prob: Float64Array;
  private readonly alias: Int32Array;

  constructor(weights: ArrayLike<number>) {
    const n = weights.length;
    let sum = 0;
    for (let i = 0; i < n; i++) {
      const w = weights[i] as number;
      if (!(w >= 0) || !Number.isFinite(w)) {
        throw new RadioLensError("RL_ERR_CONFIG_INVALID", {
          detail: `sample weight ${i} is ${w}; weights must be finite and ≥ 0`,
        });
      }
      sum += w;
    }
    if (!(sum > 0))
      throw new RadioLensError("RL_ERR_CONFIG_INVALID", { detail: "sample weights are all zero" });
    this.prob = new Float64Array(n);
    this.alias = new Int32Array(n);
    const scaled = Float64Array.from({ length: n }, (_, i) => ((weights[i] as number) * n) / sum);
    const small: number[] = [];
    const large: number[] = [];
    scaled.forEach((p, i) => {
      (p < 1 ? small : large).push(i);
    });
    while (small.length > 0 && large.length > 0) {
      const s = small.pop() as number;
      const l = large.pop() as number;
      this.prob[s] = scaled[s] as number;
      this.alias[s] = l;
      scaled[l] = (scaled[l] as number) + (scaled[s] as number) - 1;
      (scaled[l] < 1 ? small : large).push(l);
    }
    for (const i of [...large, ...small]) this.prob[i] = 1;
  }

  /** One index. */
  draw(rng: Rng): number {
    const i = rng.int(0, this.prob.length - 1);
    return rng.float() < (this.prob[i] as number) ? i : (this.alias[i] as number);
  }
}
