/** Tests the Mahalanobis detector's fit against direct computations: the blocked covariance and the batched training-split scores. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { Rng } from "../core/rng.js";
import { fitMahalanobisLayer, mahalanobisScore, mahalanobisScores } from "./ood.js";

/** Seeded rows (a row count that is not a multiple of 4) with class-dependent means and correlated features. */
function rows(n: number, d: number, classes: number): { features: Float32Array[]; labels: number[] } {
  const rng = new Rng(14);
  const labels = Array.from({ length: n }, () => rng.int(0, classes - 1));
  const features = labels.map((c) => {
    const z = Array.from({ length: d }, () => rng.normal());
    return Float32Array.from(z, (v, j) => v + 0.5 * (z[(j + 1) % d] as number) + c * (j % 3));
  });
  return { features, labels };
}

test("the fitted precision inverts the shrunk pooled within-class covariance computed directly", () => {
  const n = 103;
  const d = 9;
  const { features, labels } = rows(n, d, 3);
  const layer = fitMahalanobisLayer("ood_x", features, labels, 3);
  const means = Array.from({ length: 3 }, (_, c) => {
    const m = new Float64Array(d);
    const members = features.filter((_, i) => labels[i] === c);
    for (const f of members)
      for (let j = 0; j < d; j++) m[j] = (m[j] as number) + (f[j] as number) / members.length;
    return m;
  });
  const cov = new Float64Array(d * d);
  features.forEach((f, i) => {
    const mu = means[labels[i] as number] as Float64Array;
    for (let a = 0; a < d; a++)
      for (let b = 0; b < d; b++)
        cov[a * d + b] =
          (cov[a * d + b] as number) +
          ((f[a] as number) - (mu[a] as number)) * ((f[b] as number) - (mu[b] as number));
  });
  let trace = 0;
  for (let a = 0; a < d; a++) trace += (cov[a * d + a] as number) / n;
  // Shrinkage 0.01 towards tr(Σ)/d·I (ood.ts).
  for (let a = 0; a < d; a++)
    for (let b = 0; b < d; b++)
      cov[a * d + b] = 0.99 * ((cov[a * d + b] as number) / n) + (a === b ? 0.01 * (trace / d) : 0);
  for (let a = 0; a < d; a++) {
    for (let b = 0; b < d; b++) {
      let s = 0;
      for (let k = 0; k < d; k++) s += (layer.precision[a * d + k] as number) * (cov[k * d + b] as number);
      assert.ok(Math.abs(s - (a === b ? 1 : 0)) < 1e-5, `(P·Σ)[${a},${b}] = ${s}`);
    }
  }
});

test("the training-split score statistics equal the per-sample scores (batched scoring changes nothing)", () => {
  for (const [n, d, classes] of [
    [103, 9, 3],
    [41, 64, 2],
  ] as const) {
    const { features, labels } = rows(n, d, classes);
    const layer = fitMahalanobisLayer("ood_x", features, labels, classes);
    // Standardized by the fit's own statistics, the per-sample scores of the fitted rows have mean 0 and std 1, to
    // the float32 rounding of the stored means and precision (a row scored against another row's diff would be off
    // by far more).
    const z = features.map((f) => mahalanobisScore([layer], [f]));
    const mean = z.reduce((s, v) => s + v, 0) / n;
    const std = Math.sqrt(z.reduce((s, v) => s + (v - mean) ** 2, 0) / (n - 1));
    assert.ok(Math.abs(mean) < 1e-3, `mean ${mean}`);
    assert.ok(Math.abs(std - 1) < 1e-3, `std ${std}`);
  }
});

test("scores of many inputs at once equal one input at a time, bit for bit, and a wrong feature size is refused", () => {
  const a = rows(57, 12, 2);
  const b = rows(57, 5, 2);
  const layers = [
    fitMahalanobisLayer("ood_a", a.features, a.labels, 2),
    fitMahalanobisLayer("ood_b", b.features, b.labels, 2),
  ];
  const rng = new Rng(3);
  const qa = Array.from({ length: 23 }, () => Float32Array.from({ length: 12 }, () => 3 * rng.normal()));
  const qb = Array.from({ length: 23 }, () => Float32Array.from({ length: 5 }, () => 3 * rng.normal()));
  const many = mahalanobisScores(layers, [qa, qb]);
  assert.deepEqual(
    many,
    qa.map((f, i) => mahalanobisScore(layers, [f, qb[i] as Float32Array])),
  );
  assert.throws(() => mahalanobisScores(layers, [qa, qa]), /has 12 values, the card declares 5/);
});
