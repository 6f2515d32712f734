/** Hand-computed literal values, undefined cases and invariants of the metrics (no Python needed). */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { RadioLensError } from "../core/errors.js";
import { Rng } from "../core/rng.js";
import {
  bootstrapCi,
  ConfusionMatrixMetric,
  chooseThreshold,
  computeAccuracy,
  computeAssd,
  computeAveragePrecision,
  computeBalancedAccuracy,
  computeBrierScore,
  computeBrierScoreMulticlass,
  computeCalibrationBins,
  computeCohenKappa,
  computeConfusionMatrix,
  computeDelong,
  computeDelongCi,
  computeDelongTest,
  computeDice,
  computeEce,
  computeEceMulticlass,
  computeF1,
  computeFBeta,
  computeHausdorff,
  computeIou,
  computeLabelMapScores,
  computeLogLoss,
  computeLogLossMulticlass,
  computeMcc,
  computeNpv,
  computePrCurve,
  computePrecision,
  computeRecall,
  computeRocAuc,
  computeRocAucOvo,
  computeRocAucOvr,
  computeRocCurve,
  computeSpecificity,
  computeSurfaceDice,
  EvaluationAccumulator,
  evaluatePredictions,
  HEADLINE_KEYS,
  medmnistEvaluate,
  midranks,
  normalCdf,
  normalQuantile,
  quantileSorted,
  RankingMetric,
  SegmentationMetric,
  squaredEdt,
} from "./index.js";

const close = (a: number, b: number, tol = 1e-12) =>
  assert.ok(Math.abs(a - b) <= tol, `expected ${b}, got ${a} (|diff| ${Math.abs(a - b)})`);
const closeAll = (a: ArrayLike<number>, b: readonly number[], tol = 1e-12) => {
  assert.equal(a.length, b.length, `length ${a.length} vs ${b.length}`);
  for (let i = 0; i < b.length; i++) close(a[i]!, b[i]!, tol);
};

// tp = 3 (rows 1, 4, 6), fn = 2 (2, 7), fp = 1 (5), tn = 2 (0, 3).
const Y = [0, 1, 1, 0, 1, 0, 1, 1];
const P = [0, 1, 0, 0, 1, 1, 1, 0];

describe("confusion-matrix metrics (hand-computed)", () => {
  it("matches the counts tp=3 fn=2 fp=1 tn=2", () => {
    assert.deepEqual(computeConfusionMatrix(Y, P, 2), [
      [2, 1],
      [2, 3],
    ]);
    close(computeAccuracy(Y, P), 5 / 8);
    close(computePrecision(Y, P), 3 / 4);
    close(computeRecall(Y, P), 3 / 5);
    close(computeSpecificity(Y, P), 2 / 3);
    close(computeNpv(Y, P), 2 / 4);
    close(computeF1(Y, P), 6 / 9);
    close(computeFBeta(Y, P, 2), 15 / 24);
    close(computeBalancedAccuracy(Y, P), (3 / 5 + 2 / 3) / 2);
    close(computeMcc(Y, P), (3 * 2 - 1 * 2) / Math.sqrt(4 * 5 * 3 * 4));
    // p_o = 5/8, p_e = (4·5 + 4·3)/64 = 1/2 → κ = (5/8 − 1/2)/(1/2).
    close(computeCohenKappa(Y, P), 0.25);
  });

  it("multi-class macro/micro/weighted averages", () => {
    const y = [0, 1, 2, 2, 1, 0];
    const p = [0, 1, 2, 1, 1, 0];
    close(computeF1(y, p, { average: "macro" }), 0.8222222222222223);
    close(computePrecision(y, p, { average: "micro" }), 5 / 6);
    close(computeRecall(y, p, { average: "weighted" }), 5 / 6);
    close(computeCohenKappa(y, p), 0.75);
    close(computeMcc(y, p), 0.7833494518006403);
  });

  it("undefined ratios are NaN by default and a chosen number on request", () => {
    assert.ok(Number.isNaN(computePrecision([0, 1], [0, 0])));
    assert.equal(computePrecision([0, 1], [0, 0], { zeroDivision: 0 }), 0);
    assert.ok(Number.isNaN(computeRecall([0, 0], [0, 1])));
    assert.ok(Number.isNaN(computeMcc([1, 1, 1], [1, 0, 1])), "MCC with one true class");
    assert.ok(Number.isNaN(computeCohenKappa([1, 1], [1, 1])), "kappa with one class");
    assert.equal(computeF1([0, 1], [1, 0]), 0, "F1 is 0, not undefined, when the class is present");
  });

  it("rejects bad input with a catalogue error", () => {
    assert.throws(
      () => computeAccuracy([0, 1], [0]),
      (e: unknown) => e instanceof RadioLensError && e.code === "RL_ERR_METRIC_INPUT",
    );
    assert.throws(() => computeConfusionMatrix([0, 3], [0, 1], 2), RadioLensError);
    assert.throws(() => computeLogLoss([0, 1], [0.2, 1.5]), RadioLensError);
  });
});

describe("ranking metrics (hand-computed)", () => {
  const y = [0, 0, 1, 1];
  const s = [0.1, 0.4, 0.35, 0.8];

  it("ROC curve, AUC, PR curve and AP of scikit-learn's documented example", () => {
    const roc = computeRocCurve(y, s);
    closeAll(roc.fpr, [0, 0, 0.5, 0.5, 1]);
    closeAll(roc.tpr, [0, 0.5, 0.5, 1, 1]);
    assert.equal(roc.thresholds[0], Number.POSITIVE_INFINITY);
    closeAll(roc.thresholds.subarray(1), [0.8, 0.4, 0.35, 0.1]);
    close(computeRocAuc(y, s), 0.75);
    const pr = computePrCurve(y, s);
    closeAll(pr.precision, [0.5, 2 / 3, 0.5, 1, 1]);
    closeAll(pr.recall, [1, 1, 0.5, 0.5, 0]);
    close(computeAveragePrecision(y, s), 0.5 * 1 + 0.5 * (2 / 3));
  });

  it("ties count one half (Mann–Whitney)", () => {
    // Positive 0.5 ties one negative 0.5 and beats 0.2: (1 + 0.5) / 2.
    close(computeRocAuc([1, 0, 0], [0.5, 0.5, 0.2]), 0.75);
    close(computeRocAuc([1, 1, 0, 0], [0.5, 0.5, 0.5, 0.5]), 0.5);
  });

  it("perfect, inverted and one-class labels", () => {
    assert.equal(computeRocAuc([0, 1, 0, 1], [0.1, 0.9, 0.2, 0.8]), 1);
    assert.equal(computeRocAuc([0, 1, 0, 1], [0.9, 0.1, 0.8, 0.2]), 0);
    assert.ok(Number.isNaN(computeRocAuc([1, 1, 1], [0.2, 0.5, 0.9])));
    assert.ok(Number.isNaN(computeAveragePrecision([0, 0], [0.2, 0.9])));
    assert.equal(computeAveragePrecision([1, 1], [0.2, 0.9]), 1);
  });

  it("multi-class one-vs-rest AUC", () => {
    const yt = [0, 1, 2, 2, 1, 0];
    const p = [
      [0.7, 0.2, 0.1],
      [0.2, 0.5, 0.3],
      [0.1, 0.3, 0.6],
      [0.3, 0.4, 0.3],
      [0.1, 0.8, 0.1],
      [0.4, 0.4, 0.2],
    ];
    close(computeRocAucOvr(yt, p, "macro"), 0.9791666666666666);
    close(computeRocAucOvr(yt, p, "weighted"), 0.9791666666666666);
    close(computeRocAucOvo(yt, p, "macro"), 0.9791666666666666);
    close(computeRocAucOvo(yt, p, "weighted"), 0.9791666666666666);
    assert.ok(Number.isNaN(computeRocAucOvr([0, 0, 1, 1, 0, 1], p)), "a class with no sample");
    close(computeLogLossMulticlass(yt, p), 0.6506758059631615);
  });

  it("chooses thresholds by Youden and by target sensitivity/specificity", () => {
    const yy = [0, 0, 0, 0, 1, 1, 1, 1];
    const ss = [0.1, 0.2, 0.3, 0.6, 0.4, 0.7, 0.8, 0.9];
    const j = chooseThreshold(yy, ss, { rule: "youden" });
    assert.equal(j.threshold, 0.7);
    close(j.youdenJ, 0.75);
    const sens = chooseThreshold(yy, ss, { rule: "sensitivity", target: 1 });
    assert.equal(sens.threshold, 0.4);
    close(sens.specificity, 0.75);
    const spec = chooseThreshold(yy, ss, { rule: "specificity", target: 1 });
    assert.equal(spec.threshold, 0.7);
    close(spec.sensitivity, 0.75);
  });
});

describe("probability metrics (hand-computed)", () => {
  it("log loss with scikit-learn's clipping", () => {
    close(computeLogLoss([0, 1], [0.1, 0.8]), (-Math.log(0.9) - Math.log(0.8)) / 2);
    // p = 0 for a positive is clipped to ε = 2.22e-16: −ln ε ≈ 36.04.
    close(computeLogLoss([1], [0]), -Math.log(Number.EPSILON), 1e-9);
    assert.ok(Number.isFinite(computeLogLoss([0, 0], [0.2, 0.3])), "defined with one class present");
  });

  it("Brier, reliability bins and ECE", () => {
    close(computeBrierScore([0, 1], [0.1, 0.8]), 0.025);
    close(computeBrierScoreMulticlass([0], [[0.5, 0.25, 0.25]]), 0.375);
    // Right-closed bins: 0.2 falls in (0.1, 0.2], 0.4 in (0.3, 0.4].
    const bins = computeCalibrationBins([0, 1, 1, 0], [0.2, 0.7, 0.9, 0.4], 10);
    assert.deepEqual(
      bins.map((b) => b.count),
      [0, 1, 0, 1, 0, 0, 1, 0, 1, 0],
    );
    close(computeEce([0, 1, 1, 0], [0.2, 0.7, 0.9, 0.4], 10), 0.25);
    close(
      computeEceMulticlass(
        [0, 1],
        [
          [0.9, 0.1],
          [0.6, 0.4],
        ],
        10,
      ),
      (0.1 + 0.6) / 2,
    );
  });
});

describe("DeLong and the normal distribution", () => {
  it("normal CDF and quantile to full precision", () => {
    close(normalCdf(-1.96), 0.024997895148220435, 1e-15);
    close(normalQuantile(0.975), 1.959963984540054, 1e-14);
    close(normalQuantile(0.001), -3.090232306167813, 1e-13);
    close(normalCdf(-8), 6.220960574271785e-16, 1e-28);
  });

  it("midranks", () => {
    assert.deepEqual(Array.from(midranks([0.1, 0.5, 0.5, 0.9])), [1, 2.5, 2.5, 4]);
  });

  it("variance, interval and paired test (values from the O(m·n) definition)", () => {
    // V10 = [2/3, 1, 1], V01 = [1, 2/3, 1]: each sample variance 1/27 → var = 1/81 + 1/81.
    const d = computeDelong([0, 0, 0, 1, 1, 1], [[0.1, 0.5, 0.3, 0.4, 0.8, 0.9]]);
    close(d.aucs[0]!, 8 / 9);
    close(d.covariance[0]![0]!, 2 / 81);
    const ci = computeDelongCi([0, 0, 0, 1, 1, 1], [0.1, 0.5, 0.3, 0.4, 0.8, 0.9]);
    close(ci.lo, 8 / 9 - 1.959963984540054 * Math.sqrt(2 / 81), 1e-13);
    assert.equal(ci.hi, 1, "clipped to 1");
    const y = [0, 0, 0, 0, 1, 1, 1, 1, 1, 0];
    const s1 = [0.1, 0.4, 0.35, 0.8, 0.7, 0.9, 0.65, 0.3, 0.85, 0.2];
    const s2 = [0.2, 0.3, 0.5, 0.6, 0.35, 0.7, 0.4, 0.45, 0.5, 0.1];
    const t = computeDelongTest(y, s1, s2);
    close(t.auc1, 0.8);
    close(t.auc2, 0.7);
    close(t.variance, 0.022, 1e-15);
    close(t.z, 0.6741998624632426, 1e-12);
    close(t.pValue, 0.5001842570707941, 1e-12);
    assert.ok(Number.isNaN(computeDelongTest(y, s1, s1).pValue), "identical models: zero variance");
  });
});

describe("bootstrap", () => {
  it("is deterministic per seed, keeps strata sizes and brackets the estimate", () => {
    const rng = new Rng(3);
    const y = Array.from({ length: 200 }, (_, i) => (i < 60 ? 1 : 0));
    const s = y.map((v) => 1 / (1 + Math.exp(-rng.normal(v, 1))));
    const stat = (w: Int32Array) => {
      let pos = 0;
      for (let i = 0; i < y.length; i++) pos += w[i]! * y[i]!;
      const ev = evaluatePredictions({ task: "binary", labels: y, scores: s, bootstrap: false });
      return { positives: pos, auc: ev.auc };
    };
    const a = bootstrapCi(y.length, stat, { seed: 5, nResamples: 50, strata: y });
    const b = bootstrapCi(y.length, stat, { seed: 5, nResamples: 50, strata: y });
    assert.deepEqual(a, b);
    assert.deepEqual(a.intervals.positives, { lo: 60, hi: 60, nValid: 50 });
    const ev = evaluatePredictions({
      task: "binary",
      labels: y,
      scores: s,
      bootstrap: { seed: 1, nResamples: 300 },
    });
    const iv = ev.ci.bootstrap!.intervals.auc;
    assert.ok(iv.lo < ev.auc && ev.auc < iv.hi, `${iv.lo} < ${ev.auc} < ${iv.hi}`);
    const dl = ev.ci.auc_delong[0]!;
    // Bootstrap and DeLong intervals describe the same uncertainty: their widths agree within 40%.
    const ratio = (iv.hi - iv.lo) / (dl.hi - dl.lo);
    assert.ok(ratio > 0.6 && ratio < 1.4, `width ratio ${ratio}`);
  });

  it("quantiles are NumPy's linear percentile", () => {
    close(quantileSorted([1, 2, 3, 4], 0.5), 2.5);
    close(quantileSorted([1, 2, 3, 4, 10], 0.95), 8.8);
  });
});

describe("segmentation", () => {
  it("exact EDT matches brute force on a random anisotropic 3-D mask", () => {
    const rng = new Rng(11);
    const shape = [5, 6, 7];
    const spacing = [2.5, 0.7, 1.1];
    const m = Array.from({ length: 5 * 6 * 7 }, () => (rng.bernoulli(0.05) ? 1 : 0));
    m[17] = 1;
    const d = squaredEdt(m, shape, spacing);
    for (let i = 0; i < m.length; i++) {
      let best = Number.POSITIVE_INFINITY;
      const [a, b, c] = [Math.floor(i / 42), Math.floor(i / 7) % 6, i % 7];
      for (let j = 0; j < m.length; j++) {
        if (!m[j]) continue;
        const [x, y, z] = [Math.floor(j / 42), Math.floor(j / 7) % 6, j % 7];
        best = Math.min(best, ((a - x) * 2.5) ** 2 + ((b - y) * 0.7) ** 2 + ((c - z) * 1.1) ** 2);
      }
      close(d[i]!, best, 1e-9);
    }
  });

  it("single-voxel masks with spacing: distance 3 columns × 2 mm = 6 mm", () => {
    const shape = [3, 5];
    const gt = { data: [1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], shape, spacing: [1, 2] };
    const pred = { data: [0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], shape, spacing: [1, 2] };
    assert.equal(computeDice(pred, gt), 0);
    assert.equal(computeIou(pred, gt), 0);
    assert.equal(computeHausdorff(pred, gt), 6);
    assert.equal(computeAssd(pred, gt), 6);
    assert.equal(computeSurfaceDice(pred, gt, 5.9), 0);
    assert.equal(computeSurfaceDice(pred, gt, 6), 1);
  });

  it("overlap of 2×2 vs 2×1 blocks and the empty-mask conventions", () => {
    const shape = [2, 2];
    close(computeDice({ data: [1, 1, 0, 0], shape }, { data: [1, 0, 0, 0], shape }), 2 / 3);
    close(computeIou({ data: [1, 1, 0, 0], shape }, { data: [1, 0, 0, 0], shape }), 0.5);
    const empty = { data: [0, 0, 0, 0], shape };
    const one = { data: [0, 1, 0, 0], shape };
    assert.ok(Number.isNaN(computeDice(empty, empty)));
    assert.equal(computeDice(empty, one), 0);
    assert.ok(Number.isNaN(computeHausdorff(empty, empty)));
    assert.equal(computeHausdorff(empty, one), Number.POSITIVE_INFINITY);
    assert.equal(computeAssd(one, empty), Number.POSITIVE_INFINITY);
    assert.equal(computeSurfaceDice(one, empty, 1), 0);
    assert.ok(Number.isNaN(computeSurfaceDice(empty, empty, 1)));
    assert.equal(computeHausdorff(one, one), 0);
  });

  it("label maps are scored per structure", () => {
    const shape = [2, 3];
    const r = computeLabelMapScores(
      { data: [1, 1, 2, 0, 2, 2], shape },
      { data: [1, 0, 2, 0, 2, 2], shape },
      [1, 2],
    );
    close(r[1]!.dice, 2 / 3);
    assert.equal(r[2]!.dice, 1);
  });

  it("SegmentationMetric accumulates and resets", () => {
    const shape = [2, 2];
    const seg = new SegmentationMetric({ tolerance: 1 });
    seg.update({ data: [1, 1, 0, 0], shape }, { data: [1, 0, 0, 0], shape });
    seg.update({ data: [0, 0, 0, 0], shape }, { data: [0, 0, 0, 0], shape });
    const agg = seg.aggregate();
    assert.equal(agg.cases, 2);
    close(agg.mean.dice, 2 / 3);
    assert.equal(agg.undefinedCases.dice, 1);
    seg.reset();
    assert.equal(seg.aggregate().cases, 0);
  });
});

describe("MedMNIST evaluator semantics", () => {
  it("binary uses score > 0.5 strictly and the last column", () => {
    const r = medmnistEvaluate(
      "binary-class",
      [0, 1, 1],
      [
        [0.5, 0.5],
        [0.2, 0.8],
        [0.6, 0.4],
      ],
    );
    close(r.acc, 2 / 3, 1e-15);
    // Negative 0.5 beats positive 0.4 and loses to 0.8.
    assert.equal(r.auc, 0.5);
  });
  it("multi-class arg-max and mean one-vs-rest AUC; multi-label means", () => {
    const r = medmnistEvaluate(
      "multi-class",
      [0, 1, 2],
      [
        [0.8, 0.1, 0.1],
        [0.2, 0.7, 0.1],
        [0.5, 0.2, 0.3],
      ],
    );
    close(r.acc, 2 / 3);
    assert.equal(r.auc, 1);
    const ml = medmnistEvaluate(
      "multi-label, binary-class",
      [
        [1, 0],
        [0, 1],
      ],
      [
        [0.9, 0.6],
        [0.1, 0.8],
      ],
    );
    close(ml.acc, (1 + 0.5) / 2);
    assert.equal(ml.auc, 1);
  });
});

describe("evaluatePredictions", () => {
  it("puts exactly the headline keys in snake_case at the top level and details nested", () => {
    const r = evaluatePredictions({
      task: "binary",
      labels: Y,
      scores: [0.1, 0.9, 0.4, 0.2, 0.8, 0.7, 0.6, 0.3],
      bootstrap: { nResamples: 20 },
    });
    for (const k of HEADLINE_KEYS) assert.equal(typeof r[k], "number", k);
    close(r.accuracy, 5 / 8);
    close(r.kappa, 0.25);
    assert.deepEqual(r.confusion_matrix?.matrix, [
      [2, 1],
      [2, 3],
    ]);
    assert.equal(r.per_class.length, 2);
    assert.ok(r.ci.bootstrap && r.ci.auc_delong.length === 1);
    assert.equal(r.threshold.value, 0.5);
    const json = JSON.parse(JSON.stringify(r)) as Record<string, unknown>;
    const keys = (v: unknown): string[] =>
      v && typeof v === "object"
        ? Object.entries(v as Record<string, unknown>).flatMap(([k, x]) => [
            ...(Array.isArray(v) ? [] : [k]),
            ...keys(x),
          ])
        : [];
    assert.deepEqual(
      keys(json).filter((k) => !/^[a-z0-9_]+$/.test(k)),
      [],
      "every key is snake_case",
    );
    assert.deepEqual(
      Object.keys(json).filter((k) => (HEADLINE_KEYS as readonly string[]).includes(k)),
      [...HEADLINE_KEYS],
    );
  });

  it("headline values equal the compute functions", () => {
    const rng = new Rng(21);
    const y = Array.from({ length: 120 }, () => (rng.bernoulli(0.4) ? 1 : 0));
    const s = y.map((v) => Math.round(100 / (1 + Math.exp(-rng.normal(v, 1)))) / 100);
    const pred = s.map((v) => (v >= 0.5 ? 1 : 0));
    const r = evaluatePredictions({ task: "binary", labels: y, scores: s, bootstrap: false });
    close(r.auc, computeRocAuc(y, s));
    close(r.average_precision, computeAveragePrecision(y, s));
    close(r.log_loss, computeLogLoss(y, s));
    close(r.ece, computeEce(y, s));
    close(r.mcc, computeMcc(y, pred));
  });

  it("a threshold rule picks the operating point on the same data", () => {
    const y = [0, 0, 0, 0, 1, 1, 1, 1];
    const s = [0.1, 0.2, 0.3, 0.6, 0.4, 0.7, 0.8, 0.9];
    const r = evaluatePredictions({
      task: "binary",
      labels: y,
      scores: s,
      threshold: { rule: "sensitivity", target: 1 },
      bootstrap: false,
    });
    assert.equal(r.threshold.value, 0.4);
    assert.equal(r.recall, 1);
    close(r.specificity, 0.75);
    assert.match(r.threshold.rule, /in-sample/);
    const j = evaluatePredictions({
      task: "binary",
      labels: y,
      scores: s,
      threshold: { rule: "youden" },
      bootstrap: false,
    });
    assert.equal(j.threshold.value, 0.7);
    assert.throws(
      () =>
        evaluatePredictions({
          task: "multiclass",
          labels: [0, 1],
          scores: [
            [0.6, 0.4],
            [0.3, 0.7],
          ],
          threshold: { rule: "youden" },
        }),
      RadioLensError,
    );
  });

  it("undefined metrics are NaN (null in JSON) with a warning", () => {
    const r = evaluatePredictions({
      task: "binary",
      labels: [1, 1, 1],
      scores: [0.2, 0.7, 0.9],
      bootstrap: false,
    });
    assert.ok(Number.isNaN(r.auc));
    assert.ok(r.warnings.some((w) => w.startsWith("auc is undefined")));
    assert.equal((JSON.parse(JSON.stringify(r)) as { auc: unknown }).auc, null);
  });

  it("aggregates per patient (mean score) and refuses conflicting labels without naming the patient", () => {
    const r = evaluatePredictions({
      task: "binary",
      labels: [0, 0, 1, 1, 0],
      scores: [0.2, 0.4, 0.9, 0.5, 0.6],
      patientIds: ["A", "A", "B", "B", "C"],
      bootstrap: false,
    });
    assert.equal(r.n_samples, 5);
    assert.equal(r.n_patients, 3);
    // Patient means: A 0.3 (neg), B 0.7 (pos), C 0.6 (neg) → one false positive.
    close(r.accuracy, 2 / 3);
    close(r.auc, 1);
    assert.throws(
      () =>
        evaluatePredictions({
          task: "binary",
          labels: [0, 1],
          scores: [0.1, 0.2],
          patientIds: ["MRN-123", "MRN-123"],
        }),
      (e: unknown) =>
        e instanceof RadioLensError && !e.message.includes("MRN-123") && e.message.includes("rows 1 and 2"),
    );
  });

  it("multi-class and multi-label headline definitions", () => {
    const mc = evaluatePredictions({
      task: "multiclass",
      labels: [0, 1, 2, 2, 1, 0],
      scores: [
        [0.7, 0.2, 0.1],
        [0.2, 0.5, 0.3],
        [0.1, 0.3, 0.6],
        [0.3, 0.4, 0.3],
        [0.1, 0.8, 0.1],
        [0.4, 0.4, 0.2],
      ],
      bootstrap: false,
    });
    close(mc.auc, 0.9791666666666666);
    close(mc.f1, 0.8222222222222223);
    close(mc.log_loss, 0.6506758059631615);
    assert.equal(mc.per_class.length, 3);
    const ml = evaluatePredictions({
      task: "multilabel",
      labels: [
        [1, 0],
        [0, 1],
        [1, 1],
        [0, 0],
      ],
      scores: [
        [0.9, 0.2],
        [0.1, 0.8],
        [0.7, 0.4],
        [0.3, 0.1],
      ],
      classNames: ["effusion", "nodule"],
      bootstrap: false,
    });
    close(ml.accuracy, (1 + 0.75) / 2);
    close(ml.subset_accuracy!, 0.75);
    assert.equal(ml.auc, 1);
    assert.equal(ml.per_class[1]!.name, "nodule");
    assert.throws(
      () => evaluatePredictions({ task: "multiclass", labels: [0], scores: [[0.5, 0.1]] }),
      RadioLensError,
    );
  });
});

describe("accumulators equal the one-shot functions", () => {
  it("ConfusionMatrixMetric over batches", () => {
    const m = new ConfusionMatrixMetric(2);
    m.update(Y.slice(0, 3), P.slice(0, 3));
    m.update(Y.slice(3), P.slice(3));
    const a = m.aggregate();
    close(a.f1, 6 / 9);
    close(a.kappa, 0.25);
    m.reset();
    assert.equal(m.aggregate().n, 0);
  });

  it("RankingMetric over batches", () => {
    const r = new RankingMetric();
    r.update([0, 0], [0.1, 0.4]);
    r.update([1, 1], [0.35, 0.8]);
    close(r.aggregate().auc, 0.75);
    close(r.aggregate().averagePrecision, 0.5 + 0.5 * (2 / 3));
    const mc = new RankingMetric("multiclass");
    mc.update(
      [0, 1, 2],
      [
        [0.8, 0.1, 0.1],
        [0.2, 0.7, 0.1],
        [0.1, 0.2, 0.7],
      ],
    );
    assert.equal(mc.aggregate().auc, 1);
    mc.reset();
    mc.update(
      [0, 0],
      [
        [0.8, 0.1, 0.1],
        [0.2, 0.7, 0.1],
      ],
    );
    assert.ok(Number.isNaN(mc.aggregate().auc), "classes without samples");
  });

  it("EvaluationAccumulator over batches", () => {
    const acc = new EvaluationAccumulator("binary", { bootstrap: false });
    acc.update([0, 0], [0.1, 0.4]);
    acc.update([1, 1], [0.35, 0.8]);
    close(acc.aggregate().auc, 0.75);
    acc.reset();
    assert.throws(() => acc.aggregate(), RadioLensError);
  });
});
