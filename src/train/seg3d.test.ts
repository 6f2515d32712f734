/** 3D segmentation end to end: planner, Gaussian sliding window, per-case scores, and train → predict → evaluate through the CLI. */
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { sharedData } from "../../test/support/shared-data.js";
import { runCli } from "../cli/main.js";
import { createImage } from "../core/image.js";
import { initEngine, tf } from "../engine/backend.js";
import { readNifti } from "../io/nifti/index.js";
import { evaluateSegmentations, gaussianMap } from "./seg3d-infer.js";
import { estimateStepCoreSeconds, planSegmentation, type SegFingerprint } from "./seg3d-plan.js";

const HIPPO: SegFingerprint = {
  cases: 166,
  modality: "MRI",
  numClasses: 3,
  medianSpacing: [1, 1, 1],
  spacingP10: [1, 1, 1],
  medianShape: [36, 50, 35],
  foreground: { mean: 0, std: 1, p005: -2, p995: 2 },
};

test("the planner covers the median shape, stops pooling at a 4-voxel bottleneck and sizes the run by time", () => {
  const plan = planSegmentation(HIPPO, { minutes: 60, cores: 2 });
  assert.deepEqual(plan.patch, [40, 56, 40]);
  assert.equal(plan.depth, 3);
  assert.equal(plan.deepSupervision, 2);
  assert.deepEqual(plan.targetSpacing, [1, 1, 1]);
  const perStep = estimateStepCoreSeconds(plan.patch, plan.depth, plan.baseFilters, plan.batchSize, 3);
  assert.ok(Math.abs(plan.steps * perStep - 60 * 60 * 2 * 0.8) < perStep + 1e-6, "steps fill the budget");
  assert.ok(plan.steps >= 1500, `${plan.steps} steps: the planner keeps at least 1500`);
  // Width costs less than its MACs on this engine: 16 filters at batch 2 fit 60 minutes on 2 cores, 24 do not.
  assert.equal(plan.baseFilters, 16);
  assert.equal(plan.batchSize, 2);
  const long = planSegmentation(HIPPO, { minutes: 600, cores: 16 });
  assert.ok(
    long.baseFilters * long.batchSize > plan.baseFilters * plan.batchSize,
    "more time buys a wider net",
  );
  // An anisotropic set (5 mm slices) resamples the slice axis to its 10th percentile, not the median.
  const aniso = planSegmentation(
    { ...HIPPO, medianSpacing: [5, 0.8, 0.8], spacingP10: [3, 0.7, 0.7], medianShape: [20, 256, 256] },
    { minutes: 60, cores: 2 },
  );
  assert.deepEqual(aniso.targetSpacing, [3, 0.8, 0.8]);
  assert.ok(aniso.patch.every((s) => s % 2 ** aniso.depth === 0));
});

test("the Gaussian importance map peaks at the patch centre and is symmetric", () => {
  const g = gaussianMap([8, 6, 4]);
  const at = (z: number, y: number, x: number) => g[(z * 6 + y) * 4 + x] as number;
  assert.ok(at(4, 3, 2) > at(0, 0, 0));
  assert.ok(Math.abs(at(0, 0, 0) - at(7, 5, 3)) < 1e-7);
  assert.ok(Math.abs(at(3, 2, 1) - at(4, 3, 2)) < 1e-7);
});

test("per-case scores: a perfect map scores Dice 1 and HD95 0, a shifted one less, means over cases with CIs", () => {
  const shape = [6, 8, 8, 1];
  const truth = new Uint8Array(6 * 8 * 8);
  for (let z = 1; z < 4; z++)
    for (let y = 2; y < 6; y++) for (let x = 2; x < 5; x++) truth[(z * 8 + y) * 8 + x] = 1;
  truth[(4 * 8 + 6) * 8 + 6] = 2;
  const shifted = new Uint8Array(truth.length);
  truth.forEach((v, i) => {
    if (v === 1) shifted[i + 1] = 1;
  });
  const img = (d: Uint8Array) => createImage(d, shape, { spacing: [1, 1, 2] });
  const ev = evaluateSegmentations(
    [
      { id: "a", pred: img(truth), truth: img(truth) },
      { id: "b", pred: img(shifted), truth: img(truth) },
    ],
    ["background", "anterior", "posterior"],
  );
  assert.equal(ev.cases[0]?.byClass["anterior"]?.dice, 1);
  assert.equal(ev.cases[0]?.byClass["anterior"]?.hd95, 0);
  const b = ev.cases[1]?.byClass["anterior"]?.dice as number;
  assert.ok(b > 0.5 && b < 1);
  const s = ev.summary["anterior"]?.["dice"];
  assert.ok(s && Math.abs(s.mean - (1 + b) / 2) < 1e-12 && s.lo <= s.mean && s.hi >= s.mean && s.n === 2);
  // Posterior is missing in case b's prediction: Dice 0 there.
  assert.equal(ev.cases[1]?.byClass["posterior"]?.dice, 0);
});

test("train → predict → evaluate on an MSD folder: NIfTI on the input's grid and affine, reproducible", async () => {
  await initEngine();
  const dir = mkdtempSync(join(tmpdir(), "rl-seg3d-"));
  try {
    const task = join(dir, "task");
    mkdirSync(join(task, "imagesTr"), { recursive: true });
    mkdirSync(join(task, "labelsTr"));
    const src = sharedData("segmentation/msd-hippocampus");
    for (const id of ["001", "003", "004", "006", "007", "008"]) {
      for (const sub of ["imagesTr", "labelsTr"])
        symlinkSync(join(src, sub, `hippocampus_${id}.nii.gz`), join(task, sub, `hippocampus_${id}.nii.gz`));
    }
    const run = async (argv: string[]) => {
      let out = "";
      let err = "";
      const code = await runCli(argv, { stdout: (t) => (out += t), stderr: (t) => (err += t), isTTY: false });
      assert.equal(code, 0, `${argv.join(" ")}: ${err}`);
      return out;
    };
    const model = join(dir, "model");
    const trained = await run([
      "train",
      "--data",
      task,
      "--out",
      model,
      "--labels",
      "background,anterior,posterior",
      "--folds",
      "3",
      "--fold",
      "1",
      "--steps",
      "2",
      "--seed",
      "4",
      "--threads",
      "2",
    ]);
    assert.match(trained, /2 steps/);
    const metrics = JSON.parse(readFileSync(join(model, "metrics.json"), "utf8"));
    assert.equal(metrics.validation.cases.length, 2);
    assert.deepEqual(metrics.plan.patch, [40, 56, 40]);
    const card = JSON.parse(readFileSync(join(model, "radiolens.json"), "utf8"));
    assert.equal(card.architecture, "unet3d");
    assert.equal(card.training.folds.val.length, 2);

    const input = join(task, "imagesTr", `${card.training.folds.val[0]}.nii.gz`);
    const before = tf.memory().numTensors;
    const outs = [join(dir, "a.nii.gz"), join(dir, "b.nii.gz")];
    for (const out of outs) await run(["predict", "--model", model, input, "--out", out]);
    assert.equal(tf.memory().numTensors, before);
    assert.deepEqual(
      readFileSync(outs[0] as string),
      readFileSync(outs[1] as string),
      "same seed and threads",
    );
    const image = readNifti(input);
    const mask = readNifti(outs[0] as string);
    assert.deepEqual(mask.shape, [...image.shape.slice(0, 3), 1]);
    assert.deepEqual(mask.spacing, image.spacing);
    assert.deepEqual(mask.origin, image.origin);
    assert.deepEqual(mask.direction, image.direction);
    assert.ok(Array.from(mask.data).every((v) => v === 0 || v === 1 || v === 2));

    const evaluated = await run(["evaluate", "--model", model, "--data", task, "--json"]);
    const ev = JSON.parse(evaluated);
    assert.deepEqual(
      ev.cases.map((c: { id: string }) => c.id),
      card.training.folds.val,
    );
    assert.ok(existsSync(join(model, "weights.bin")));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
