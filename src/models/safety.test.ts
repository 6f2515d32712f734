/** Intended-use gate, OOD scores and temperature scaling: unit checks, and a short training run whose detector and calibration must work on tfjs and ONNX Runtime alike. */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { sharedData } from "../../test/support/shared-data.js";
import { createImage } from "../core/image.js";
import { Rng } from "../core/rng.js";
import { loadImageSet } from "../data/image-set.js";
import { loadNpzDataset } from "../data/npz-dataset.js";
import { initEngine } from "../engine/backend.js";
import { readImage } from "../io/index.js";
import { trainModel } from "../train/run.js";
import { readCard } from "./bundle.js";
import { applyTemperature, eceOf, fitTemperature } from "./calibration.js";
import { checkIntendedUse, gateDecision, intendedUseFromFlags, oodDecision } from "./intended-use.js";
import { exportBundleOnnx, openBundle } from "./onnx/bundle-runtime.js";
import { fitMahalanobisLayer, mahalanobisScore, oodMetrics } from "./ood.js";
import { preprocessBatch } from "./predict.js";

const work = mkdtempSync(join(tmpdir(), "rl-safety-m-"));
after(() => rmSync(work, { recursive: true, force: true }));
const DCM = sharedData("dicom/pydicom");
const CHEST = intendedUseFromFlags({ modality: "CR,DX", "body-part": "chest" });

test("the gate refuses MR_small and CT_small for a chest CR/DX model, naming attribute, value and allowed values", async () => {
  assert.deepEqual(CHEST, { modalities: ["CR", "DX"], bodyParts: ["CHEST"] });
  const mr = await readImage(join(DCM, "MR_small.dcm"), { dicom: "display" });
  const ct = await readImage(join(DCM, "CT_small.dcm"), { dicom: "display" });
  assert.deepEqual(checkIntendedUse(CHEST, mr), {
    attribute: "Modality",
    value: "MR",
    allowed: "CR, DX",
    reason: "Modality MR is outside this model's intended use (CR, DX)",
  });
  assert.equal(checkIntendedUse(CHEST, ct)?.value, "CT");
  // A chest CR passes; a CR of another body part does not; a PNG passes unless the card says DICOM only.
  const cr = join(work, "cr.dcm");
  copyFileSync(join(DCM, "CT_small.dcm"), cr);
  execFileSync("dcmodify", ["-nb", "-m", "(0008,0060)=CR", "-i", "(0018,0015)=CHEST", cr]);
  assert.equal(checkIntendedUse(CHEST, await readImage(cr, { dicom: "display" })), undefined);
  execFileSync("dcmodify", ["-nb", "-m", "(0018,0015)=HAND", cr]);
  assert.equal(
    checkIntendedUse(CHEST, await readImage(cr, { dicom: "display" }))?.attribute,
    "BodyPartExamined",
  );
  const png = createImage(new Uint8Array(64 * 64), [64, 64, 1], { meta: { format: "png" } });
  assert.equal(checkIntendedUse(CHEST, png), undefined);
  assert.equal(checkIntendedUse({ ...CHEST, acceptNonDicom: false }, png)?.attribute, "Format");
  const small = await readImage(cr, { dicom: "display" });
  assert.equal(
    checkIntendedUse({ modalities: ["CR"], minRows: 1024 }, small)?.reason,
    "Rows 128 is outside this model's intended use (at least 1024)",
  );
  // force analyses anyway and says so; a flagging detector lets an OOD input through with the reason.
  assert.deepEqual(gateDecision(checkIntendedUse(CHEST, mr), true).forced, true);
  assert.equal(gateDecision(checkIntendedUse(CHEST, mr), false).analysed, false);
  const outside = { score: 3, threshold: 1, inDistribution: false };
  assert.equal(oodDecision({ action: "refuse" }, outside, false).analysed, false);
  assert.equal(oodDecision({ action: "flag" }, outside, false).analysed, true);
  assert.equal(
    oodDecision({ action: "refuse" }, { ...outside, inDistribution: true }, false).reason,
    undefined,
  );
});

test("oodMetrics: AUROC with midranks and FPR at 95% TPR; Mahalanobis ranks shifted Gaussians above the fitted ones", () => {
  assert.deepEqual(oodMetrics([0, 0.1, 0.2], [5, 6]), { auroc: 1, fprAt95Tpr: 0 });
  assert.equal(oodMetrics([1, 2], [1, 2]).auroc, 0.5);
  const rng = new Rng(3);
  const sample = (shift: number) =>
    Float32Array.from({ length: 8 }, (_, j) => rng.normal(j === 0 ? shift : 0, 1));
  const feats = Array.from({ length: 400 }, (_, i) => sample(i % 2 ? 2 : -2));
  const layer = fitMahalanobisLayer(
    "f",
    feats,
    Array.from({ length: 400 }, (_, i) => i % 2),
    2,
  );
  const inS = Array.from({ length: 200 }, (_, i) => mahalanobisScore([layer], [sample(i % 2 ? 2 : -2)]));
  const outS = Array.from({ length: 200 }, () =>
    mahalanobisScore([layer], [sample(0).map((v, j) => (j === 3 ? v + 6 : v))]),
  );
  const m = oodMetrics(inS, outS);
  assert.ok(m.auroc > 0.99 && m.fprAt95Tpr < 0.05, JSON.stringify(m));
});

test("temperature scaling recovers an over-confidence of T = 2 and lowers the ECE", () => {
  const rng = new Rng(11);
  const rows: Float32Array[] = [];
  const labels: number[] = [];
  for (let i = 0; i < 3000; i++) {
    const z = rng.normal(0, 1.5);
    const p = 1 / (1 + Math.exp(-z));
    labels.push(rng.float() < p ? 1 : 0);
    // The model reports the logit doubled: over-confident.
    const q = 1 / (1 + Math.exp(-2 * z));
    rows.push(Float32Array.of(1 - q, q));
  }
  const t = fitTemperature(rows, labels, "binary", "softmax");
  assert.ok(Math.abs(t - 2) < 0.2, `T = ${t}`);
  const scaled = rows.map((r) => applyTemperature(r, t, "softmax"));
  assert.ok(eceOf(scaled, labels, "binary") < eceOf(rows, labels, "binary") / 2);
  const s = applyTemperature(Float32Array.of(0.1, 0.9), 2, "softmax");
  assert.ok(Math.abs((s[1] as number) - 0.75) < 1e-6);
});

test("training fits the detector and the temperature; tfjs and ONNX Runtime give the same OOD scores; MR slices score out of distribution", async () => {
  await initEngine({ backend: "wasm" });
  const out = join(work, "m");
  const data = sharedData("medmnist/pneumoniamnist.npz");
  await trainModel({
    data,
    model: "seed-cnn",
    epochs: 1,
    batchSize: 32,
    seed: 1,
    out,
    limit: 600,
    backend: "wasm",
  });
  const card = readCard(out);
  assert.deepEqual((card.intendedUse as { inputs?: unknown }).inputs, {
    modalities: ["CR", "DX"],
    bodyParts: ["CHEST"],
    photometricInterpretations: ["MONOCHROME1", "MONOCHROME2"],
  });
  assert.equal(card.ood?.method, "mahalanobis");
  assert.ok((card.ood?.layers?.length ?? 0) >= 3, "several layers");
  assert.ok((card.calibration?.temperature ?? 0) > 0);
  const metrics = JSON.parse(readFileSync(join(out, "metrics.json"), "utf8"));
  assert.ok(
    Number.isFinite(metrics.calibration.ece_before) && Number.isFinite(metrics.calibration.ece_after),
  );
  await exportBundleOnnx(out);
  const test = loadNpzDataset(data, ["test"]).splits["test"]!;
  const x = test.x.subarray(0, 64 * 784);
  const mr = await loadImageSet(sharedData("dicom/pydicom/MR_small.dcm"));
  const xo = preprocessBatch(readCard(out), mr.images);
  const scores: Record<string, number[][]> = {};
  for (const runtime of ["tfjs", "onnx"] as const) {
    const m = await openBundle(out, { runtime, threads: 1 });
    const a = await m.predictWithOod(x);
    const b = await m.predictWithOod(xo);
    await m.close();
    assert.ok(a.ood && b.ood);
    scores[runtime] = [a.ood.map((o) => o.score), b.ood.map((o) => o.score)];
    // Calibrated rows still sum to one.
    assert.ok(Math.abs((a.rows[0]?.[0] as number) + (a.rows[0]?.[1] as number) - 1) < 1e-5);
  }
  const [t, o] = [scores["tfjs"] as number[][], scores["onnx"] as number[][]];
  for (const [i, s] of (t[0] ?? []).entries())
    assert.ok(Math.abs(s - (o[0]?.[i] as number)) < 1e-3, `${s} vs ${o[0]?.[i]}`);
  const threshold = card.ood?.threshold as number;
  assert.ok((t[1]?.[0] as number) > threshold, `MR score ${t[1]?.[0]} > ${threshold}`);
  const kept = (t[0] as number[]).filter((s) => s <= threshold).length;
  assert.ok(kept >= 48, `${kept}/64 test images in distribution`);
});
