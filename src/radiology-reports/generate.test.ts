/** Tests for text report generation from model predictions (English and Chinese templates). */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { generateReport, type ModelPrediction } from "./generate.js";

const prediction: ModelPrediction = {
  model: { name: "densenet121-cxr14", version: "2.1.0" },
  labels: ["Effusion", "Cardiomegaly", "Edema", "Pneumothorax"],
  probabilities: [0.93, 0.71, 0.2, 0.02],
  threshold: 0.5,
  regions: [{ label: "Effusion", box: { x: 612, y: 880, width: 300, height: 210 } }],
};

describe("report generation", () => {
  it("writes findings, region, impression, confidence, model and the decision-support statement", () => {
    const r = generateReport(prediction, "en");
    assert.deepEqual(
      r.positive.map((p) => p.finding),
      ["Effusion", "Cardiomegaly"],
    );
    assert.deepEqual(r.negative, ["Edema", "Pneumothorax"]);
    assert.match(r.text, /Pleural effusion: present \(model probability 0\.93\)/);
    assert.match(r.text, /x 612, y 880, width 300, height 210 pixels/);
    assert.equal(r.impression, "Findings suggestive of Pleural effusion and Cardiomegaly.");
    assert.match(r.text, /densenet121-cxr14 \(version 2\.1\.0\)/);
    assert.match(r.text, /decision support\. It is not a diagnosis/);
    // The least certain call sets the level: Cardiomegaly at 0.71 is 42 % of the way from 0.5 to 1.
    assert.equal(r.confidenceLevel, "moderate");
    assert.match(r.confidence, /^Moderate confidence: .* Cardiomegaly at probability 0\.71/);
  });

  it("derives the region box from a raw Grad-CAM map", () => {
    const r = generateReport({
      ...prediction,
      regions: [],
      heatmaps: [{ label: "Cardiomegaly", rows: 2, cols: 2, values: [0, 0, 0.2, 1] }],
      imageSize: { rows: 1000, columns: 800 },
    });
    assert.deepEqual(r.positive.find((p) => p.finding === "Cardiomegaly")?.region, {
      x: 400,
      y: 500,
      width: 400,
      height: 500,
    });
    assert.throws(
      () => generateReport({ ...prediction, heatmaps: [{ label: "Edema", rows: 1, cols: 1, values: [1] }] }),
      {
        code: "RL_ERR_PREDICTION_INVALID",
      },
    );
  });

  it("renders the Chinese template", () => {
    const r = generateReport(prediction, "zh");
    assert.match(r.text, /胸腔积液：阳性（模型概率 0\.93）/);
    assert.equal(r.impression, "提示胸腔积液和心脏增大。");
    assert.match(r.text, /不构成诊断/);
  });

  it("reports a normal study and rejects malformed predictions", () => {
    const r = generateReport({ ...prediction, probabilities: [0.1, 0.2, 0.3, 0.4], regions: [] });
    assert.equal(r.positive.length, 0);
    assert.equal(r.impression, "No abnormality among the screened chest X-ray findings.");
    assert.equal(r.confidenceLevel, "low");
    assert.throws(
      () => generateReport({ ...prediction, labels: ["Fracture", "Cardiomegaly", "Edema", "Pneumothorax"] }),
      {
        code: "RL_ERR_PREDICTION_INVALID",
      },
    );
    assert.throws(() => generateReport({ ...prediction, probabilities: [1.2, 0, 0, 0] }), {
      code: "RL_ERR_PREDICTION_INVALID",
    });
    assert.throws(
      () =>
        generateReport({
          ...prediction,
          regions: [{ label: "Effusion", box: { x: 0, y: 0, width: 0, height: 5 } }],
        }),
      { code: "RL_ERR_PREDICTION_INVALID" },
    );
  });
});

describe("generateReport confidence and the OOD verdict", () => {
  it("states high confidence only for an in-distribution image", () => {
    const p: ModelPrediction = {
      model: { name: "m", version: "1" },
      labels: ["Pneumonia"],
      probabilities: [0.97],
      threshold: 0.5,
    };
    assert.equal(generateReport(p, "en").confidenceLevel, "high");
    assert.equal(generateReport({ ...p, inDistribution: true }, "en").confidenceLevel, "high");
    const out = generateReport({ ...p, inDistribution: false }, "en");
    assert.equal(out.confidenceLevel, "low");
    assert.doesNotMatch(out.text, /High confidence/);
  });
});
