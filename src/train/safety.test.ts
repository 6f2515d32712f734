/** The safety fit's training sample: capped, class-stratified and seeded, so that the same seed fits the same OOD detector. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { sharedData } from "../../test/support/shared-data.js";
import { MemoryBatchSource } from "../data/memory.js";
import { loadNpzDataset, targetsOf } from "../data/npz-dataset.js";
import { stratifiedSample } from "../data/split.js";
import { initEngine, tf } from "../engine/backend.js";
import { createModel } from "../models/registry.js";
import { fitSafety, OOD_FIT_SAMPLES, safetySample, stratumOfTargets } from "./safety.js";

const ds = loadNpzDataset(sharedData("medmnist/pneumoniamnist.npz"), ["train", "val"]);
const train = ds.splits["train"]!;
const val = ds.splits["val"]!;
const yTrain = targetsOf(train, ds);
const strata = stratumOfTargets(yTrain, ds.numClasses, false);

const count = (idx: readonly number[], cls: readonly number[], c: number) =>
  idx.filter((i) => cls[i] === c).length;

test("the fit sample of PneumoniaMNIST train is capped, keeps each class's share and depends only on the seed", () => {
  assert.equal(strata.length, 4708);
  const normals = count(
    strata.map((_, i) => i),
    strata,
    0,
  );
  assert.equal(normals, 1214, "the split's class counts");
  const a = safetySample(strata, 1);
  assert.equal(a.length, OOD_FIT_SAMPLES);
  assert.equal(new Set(a).size, a.length, "no sample twice");
  assert.ok(
    a.every((v, i) => i === 0 || v > (a[i - 1] as number)),
    "increasing order",
  );
  // The fewer class (normal, 25.8%) keeps its share of the cap to within the rounding.
  const share = (normals * OOD_FIT_SAMPLES) / strata.length;
  assert.ok(Math.abs(count(a, strata, 0) - share) < 1, `${count(a, strata, 0)} normals, share ${share}`);
  assert.deepEqual(safetySample(strata, 1), a, "same seed, same sample");
  assert.notDeepEqual(safetySample(strata, 2), a, "another seed, another sample");
  // A split no larger than the cap is used whole.
  assert.deepEqual(
    safetySample(strata.slice(0, 300), 1),
    Array.from({ length: 300 }, (_, i) => i),
  );
});

test("stratifiedSample apportions by largest remainder and keeps a rare class present", () => {
  const cls = Array.from({ length: 1000 }, (_, i) => (i < 900 ? 0 : 1));
  const s = stratifiedSample(cls, 100, 3);
  assert.deepEqual([count(s, cls, 0), count(s, cls, 1)], [90, 10]);
  // 3 of 1000 in class 2 with a cap of 50: its share rounds to 0 of 0.15, but it keeps one item.
  const rare = Array.from({ length: 1000 }, (_, i) => (i < 3 ? 2 : i % 2));
  const r = stratifiedSample(rare, 50, 3);
  assert.equal(r.length, 50);
  assert.equal(count(r, rare, 2), 1);
  assert.ok(Math.abs(count(r, rare, 0) - 24.5) <= 1 && Math.abs(count(r, rare, 1) - 24.5) <= 1);
  assert.throws(() => stratifiedSample(cls, 0, 1));
});

test("the detector fitted on a capped sample is the same for the same seed and records the sample", async () => {
  await initEngine({ backend: "wasm" });
  const before = tf.memory().numTensors;
  const model = createModel("seed-cnn", { inputShape: [28, 28, 1], numClasses: 2, seed: 1 });
  const per = 28 * 28;
  const source = (seed: number) => {
    const idx = safetySample(strata, seed, 256);
    const x = new Float32Array(idx.length * per);
    const y = new Float32Array(idx.length * 2);
    idx.forEach((s, i) => {
      x.set(train.x.subarray(s * per, (s + 1) * per), i * per);
      y.set(yTrain.subarray(s * 2, s * 2 + 2), i * 2);
    });
    return new MemoryBatchSource({
      x,
      sampleShape: [28, 28, 1],
      y,
      targetShape: [2],
      batchSize: 256,
      shuffle: false,
      seed,
    });
  };
  const valSource = new MemoryBatchSource({
    x: val.x,
    sampleShape: [28, 28, 1],
    y: targetsOf(val, ds),
    targetShape: [2],
    batchSize: 256,
    shuffle: false,
    seed: 0,
  });
  const opts = { task: "binary", numClasses: 2, activation: "softmax", trainSplit: train.count } as const;
  const a = await fitSafety(model, source(1), valSource, opts);
  const b = await fitSafety(model, source(1), valSource, opts);
  const c = await fitSafety(model, source(2), valSource, opts);
  assert.deepEqual(a.ood, b.ood);
  assert.deepEqual(a.calibration, b.calibration);
  assert.notDeepEqual(a.ood.layers?.[0]?.means, c.ood.layers?.[0]?.means, "another seed, another sample");
  assert.equal(a.ood.fittedOn?.["train"], 256);
  assert.equal(a.ood.fittedOn?.["trainSplit"], 4708);
  assert.equal(a.ood.fittedOn?.["val"], 524);
  model.dispose();
  assert.equal(tf.memory().numTensors, before);
});
