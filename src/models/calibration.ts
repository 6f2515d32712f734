/** Temperature scaling (Guo et al., "On Calibration of Modern Neural Networks", ICML 2017): fit on validation outputs, apply to every reported probability. */
import type { Task } from "../core/task.js";
import { computeEce, computeEceMulticlass } from "../metrics/probabilistic.js";

/** The card's `calibration` block. */
export interface Calibration {
  readonly method: "temperature";
  readonly temperature: number;
  /** Expected calibration error on the validation split before and after scaling. */
  readonly eceBefore?: number;
  readonly eceAfter?: number;
  readonly fittedOn?: string;
}

const EPS = 1e-12;

/**
 * Rescales one output row by 1/T. Softmax rows: softmax(log p / T), the same as scaling the logits because
 * softmax is invariant to the constant log p differs from them by; sigmoid rows: σ(logit(p) / T) per output.
 *
 * @example
 * ```ts
 * applyTemperature(Float32Array.of(0.1, 0.9), 2, "softmax"); // ≈ [0.25, 0.75]
 * ```
 */
export function applyTemperature(
  row: Float32Array,
  temperature: number,
  activation: "softmax" | "sigmoid" | "none",
): Float32Array {
  if (temperature === 1 || activation === "none") return row;
  const out = new Float32Array(row.length);
  if (activation === "sigmoid") {
    for (let i = 0; i < row.length; i++) {
      const p = Math.min(1 - EPS, Math.max(EPS, row[i] as number));
      out[i] = 1 / (1 + Math.exp(-Math.log(p / (1 - p)) / temperature));
    }
    return out;
  }
  let m = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < row.length; i++)
    m = Math.max(m, Math.log(Math.max(EPS, row[i] as number)) / temperature);
  let s = 0;
  for (let i = 0; i < row.length; i++) {
    const e = Math.exp(Math.log(Math.max(EPS, row[i] as number)) / temperature - m);
    out[i] = e;
    s += e;
  }
  for (let i = 0; i < row.length; i++) out[i] = (out[i] as number) / s;
  return out;
}

/** Mean negative log-likelihood of the labels under rows scaled by T. */
function nll(
  rows: readonly Float32Array[],
  labels: ArrayLike<number>,
  t: number,
  task: Task,
  activation: "softmax" | "sigmoid",
): number {
  let s = 0;
  let n = 0;
  rows.forEach((r, i) => {
    const q = applyTemperature(r, t, activation);
    if (task === "multilabel") {
      for (let j = 0; j < q.length; j++) {
        const y = labels[i * q.length + j] as number;
        const p = Math.min(1 - EPS, Math.max(EPS, q[j] as number));
        s -= y * Math.log(p) + (1 - y) * Math.log(1 - p);
        n++;
      }
    } else {
      s -= Math.log(Math.max(EPS, q[labels[i] as number] as number));
      n++;
    }
  });
  return s / Math.max(1, n);
}

/**
 * The temperature that minimizes the validation negative log-likelihood, by golden-section search over log T in
 * [1/20, 20] (the NLL is unimodal in T for a fixed model).
 *
 * @example
 * ```ts
 * const t = fitTemperature(valRows, valLabels, "binary", "softmax");
 * ```
 */
export function fitTemperature(
  rows: readonly Float32Array[],
  labels: ArrayLike<number>,
  task: Task,
  activation: "softmax" | "sigmoid",
): number {
  let a = Math.log(1 / 20);
  let b = Math.log(20);
  const g = (Math.sqrt(5) - 1) / 2;
  const f = (u: number) => nll(rows, labels, Math.exp(u), task, activation);
  let c = b - g * (b - a);
  let d = a + g * (b - a);
  let fc = f(c);
  let fd = f(d);
  for (let it = 0; it < 60 && b - a > 1e-5; it++) {
    if (fc < fd) {
      b = d;
      d = c;
      fd = fc;
      c = b - g * (b - a);
      fc = f(c);
    } else {
      a = c;
      c = d;
      fc = fd;
      d = a + g * (b - a);
      fd = f(d);
    }
  }
  return Math.exp((a + b) / 2);
}

/**
 * Expected calibration error as `radiolens evaluate` reports it: binary tasks on P(class 1), multi-class on the
 * top label, multi-label over all outputs pooled (15 bins).
 *
 * @example
 * ```ts
 * eceOf(rows, labels, "binary");
 * ```
 */
export function eceOf(rows: readonly Float32Array[], labels: ArrayLike<number>, task: Task): number {
  if (task === "binary" && (rows[0]?.length ?? 0) === 2)
    return computeEce(
      labels,
      rows.map((r) => r[1] as number),
    );
  if (task === "multilabel") {
    const p = rows.flatMap((r) => Array.from(r));
    return computeEce(
      Array.from({ length: p.length }, (_, i) => labels[i] as number),
      p,
    );
  }
  return computeEceMulticlass(labels, rows);
}
