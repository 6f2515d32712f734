/** The plots render to well-formed SVG with the marks each chart needs, and rasterize to PNG. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { computeCalibrationBins, computePrCurve, computeRocCurve } from "./index.js";
import {
  confusionMatrixSvg,
  prCurveSvg,
  reliabilityDiagramSvg,
  rocCurveSvg,
  svgToPng,
  trainingCurvesSvg,
} from "./plots.js";

/** Tag-balance check of an SVG document (no DTD, no CDATA in vega's output). */
function assertWellFormedSvg(svg: string): void {
  assert.match(svg, /^<svg [^>]*xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
  assert.ok(svg.trimEnd().endsWith("</svg>"), "closes the svg element");
  const stack: string[] = [];
  for (const m of svg.matchAll(/<(\/?)([a-zA-Z][\w:-]*)[^>]*?(\/?)>/g)) {
    const [, close, name, self] = m as unknown as [string, string, string, string];
    if (self === "/") continue;
    if (close === "/") assert.equal(stack.pop(), name, `closing </${name}> matches its opening tag`);
    else stack.push(name);
  }
  assert.deepEqual(stack, [], "every element is closed");
}

const count = (svg: string, role: string) => svg.split(`aria-roledescription="${role}"`).length - 1;

const Y = [0, 0, 1, 1, 0, 1, 0, 1, 1, 0];
const S = [0.1, 0.4, 0.35, 0.8, 0.2, 0.9, 0.6, 0.7, 0.55, 0.3];

describe("plots", () => {
  it("ROC: curves, chance diagonal and legend with the AUC", async () => {
    const roc = computeRocCurve(Y, S);
    const svg = await rocCurveSvg([
      { name: "model A", fpr: roc.fpr, tpr: roc.tpr, auc: 0.8 },
      { name: "model B", fpr: [0, 0.5, 1], tpr: [0, 0.7, 1] },
    ]);
    assertWellFormedSvg(svg);
    assert.equal(count(svg, "line mark"), 3, "two curves + the diagonal");
    assert.ok(svg.includes("model A (AUC 0.800)"));
    assert.ok(svg.includes("sensitivity (true-positive rate)"));
  });

  it("PR: step curve and the prevalence baseline", async () => {
    const pr = computePrCurve(Y, S);
    const svg = await prCurveSvg([
      { name: "m", precision: pr.precision, recall: pr.recall, averagePrecision: 0.81, prevalence: 0.5 },
    ]);
    assertWellFormedSvg(svg);
    assert.equal(count(svg, "line mark"), 1);
    assert.ok(count(svg, "rule mark") >= 1, "baseline rule");
    assert.ok(svg.includes("m (AP 0.810)"));
  });

  it("confusion matrix: K² cells with their counts", async () => {
    const svg = await confusionMatrixSvg(
      {
        labels: ["a", "b", "c"],
        matrix: [
          [5, 1, 0],
          [2, 7, 1],
          [0, 0, 9],
        ],
      },
      { normalize: true },
    );
    assertWellFormedSvg(svg);
    assert.equal(count(svg, "rect mark"), 9);
    assert.ok(svg.includes("7 (70%)"));
    await assert.rejects(confusionMatrixSvg({ labels: ["a"], matrix: [[1, 2]] }));
  });

  it("reliability diagram: one point per non-empty bin and the count histogram", async () => {
    const bins = computeCalibrationBins(Y, S, 5);
    const svg = await reliabilityDiagramSvg(bins, { ece: 0.1 });
    assertWellFormedSvg(svg);
    assert.equal(count(svg, "point"), bins.filter((b) => b.count > 0).length);
    assert.equal(count(svg, "rect mark"), 5);
    assert.ok(svg.includes("ECE 0.100"));
  });

  it("training curves: a loss panel and a metric panel", async () => {
    const svg = await trainingCurvesSvg({
      loss: [0.7, 0.5, 0.4],
      val_loss: [0.72, 0.6, 0.55],
      val_auc: [0.7, 0.8, 0.84],
    });
    assertWellFormedSvg(svg);
    assert.equal(count(svg, "line mark"), 3);
    assert.equal(count(svg, "point") >= 9, true, "a point per epoch per series");
    const fromLogs = await trainingCurvesSvg([
      { epoch: 1, loss: 0.7, val_auc: 0.7 },
      { epoch: 2, loss: 0.5, val_auc: 0.8 },
    ]);
    assert.equal(count(fromLogs, "line mark"), 2);
  });

  it("rasterizes to PNG", async () => {
    const roc = computeRocCurve(Y, S);
    const png = await svgToPng(await rocCurveSvg([{ name: "m", fpr: roc.fpr, tpr: roc.tpr }]), { scale: 2 });
    assert.deepEqual([...png.subarray(0, 8)], [137, 80, 78, 71, 13, 10, 26, 10]);
    const width = new DataView(png.buffer, png.byteOffset).getUint32(16);
    assert.ok(width > 500, `2× width ${width}`);
  });
});
