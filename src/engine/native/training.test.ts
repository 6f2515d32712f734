/** End-to-end checks of the onednn backend: tutorial-CNN losses vs cpu, bitwise determinism, Adam, memory stability. */

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import * as tfl from "@tensorflow/tfjs-layers";
import { writeFileAtomic } from "../../core/fs.js";
import { Rng } from "../../core/rng.js";
import { initEngine, tf } from "../backend.js";
import { loadNativeAddon } from "./index.js";

const built = loadNativeAddon() !== undefined;

/** The tutorial CNN (Conv 32, MaxPool, Conv 64, MaxPool, Dense 128, Dropout 0.5, softmax) with seeded initializers. */
function tutorialCnn(input: [number, number, number], classes: number, seed: number): tfl.LayersModel {
  const init = (s: number) => tfl.initializers.glorotUniform({ seed: seed + s });
  const m = tfl.sequential();
  m.add(
    tfl.layers.conv2d({
      inputShape: input,
      filters: 32,
      kernelSize: 3,
      activation: "relu",
      kernelInitializer: init(0),
    }),
  );
  m.add(tfl.layers.maxPooling2d({ poolSize: 2 }));
  m.add(tfl.layers.conv2d({ filters: 64, kernelSize: 3, activation: "relu", kernelInitializer: init(1) }));
  m.add(tfl.layers.maxPooling2d({ poolSize: 2 }));
  m.add(tfl.layers.flatten());
  m.add(tfl.layers.dense({ units: 128, activation: "relu", kernelInitializer: init(2) }));
  // A seeded dropout draws the same mask on every backend (tfjs generates it in JS), so it stays on.
  m.add(tfl.layers.dropout({ rate: 0.5, seed }));
  m.add(tfl.layers.dense({ units: classes, activation: "softmax", kernelInitializer: init(3) }));
  m.compile({ optimizer: tf.train.adam(1e-3), loss: "categoricalCrossentropy" });
  return m;
}

function batch(rng: Rng, n: number, shape: number[], classes: number): { x: Float32Array; y: Float32Array } {
  const size = shape.reduce((a, b) => a * b, 1);
  const x = new Float32Array(n * size);
  const y = new Float32Array(n * classes);
  for (let i = 0; i < n; i++) {
    const label = rng.int(0, classes - 1);
    y[i * classes + label] = 1;
    // A class-dependent bright square on noise, so the losses actually fall.
    for (let j = 0; j < size; j++)
      x[i * size + j] = rng.uniform(0, 0.3) + (j % (classes + 3) === label ? 0.7 : 0);
  }
  return { x, y };
}

/** Losses of `steps` training steps and the final weights, on one backend. */
async function train(
  backend: "onednn" | "cpu",
  steps: number,
  n: number,
  threads?: number,
): Promise<{ losses: number[]; weights: Float32Array[] }> {
  await initEngine({ backend, ...(threads ? { threads } : {}) });
  const model = tutorialCnn([28, 28, 1], 10, 5);
  const rng = new Rng(3);
  const losses: number[] = [];
  for (let s = 0; s < steps; s++) {
    const b = batch(rng, n, [28, 28, 1], 10);
    const [xs, ys] = [tf.tensor4d(b.x, [n, 28, 28, 1]), tf.tensor2d(b.y, [n, 10])];
    losses.push((await model.trainOnBatch(xs, ys)) as number);
    tf.dispose([xs, ys]);
  }
  const weights = model.getWeights().map((w) => w.dataSync() as Float32Array);
  model.optimizer.dispose();
  model.dispose();
  return { losses, weights };
}

/**
 * The tfjs CPU backend needs ~2 s per sample for this CNN's Conv2DBackpropFilter, far beyond a unit test's budget, so
 * its 20 losses are recorded once (pure JS: the same on every machine for a given tfjs version) and regenerated with
 * `RADIOLENS_REGEN_GOLDEN=1 node --import tsx --test src/engine/native/training.test.ts`.
 */
const GOLDEN = join(dirname(fileURLToPath(import.meta.url)), "testdata", "tutorial-cnn-cpu-losses.json");
const GOLDEN_BATCH = 4;

test("tutorial CNN: 20 training steps give the same losses on onednn and cpu", async (t) => {
  if (!built) return t.skip("oneDNN addon not built");
  await initEngine({ backend: "onednn" });
  const before = tf.memory().numTensors;
  if (process.env["RADIOLENS_REGEN_GOLDEN"] === "1") {
    const cpu = await train("cpu", 20, GOLDEN_BATCH);
    const record = { tfjs: tf.version_core, backend: "cpu", batch: GOLDEN_BATCH, losses: cpu.losses };
    writeFileAtomic(GOLDEN, `${JSON.stringify(record, null, 2)}\n`);
  }
  const golden = JSON.parse(readFileSync(GOLDEN, "utf8")) as {
    tfjs: string;
    batch: number;
    losses: number[];
  };
  assert.equal(golden.tfjs, tf.version_core, "tfjs changed: regenerate the golden losses");
  const native = await train("onednn", 20, golden.batch);
  assert.equal(golden.losses.length, 20);
  native.losses.forEach((l, i) => {
    const want = golden.losses[i] as number;
    assert.ok(Math.abs(l - want) < 1e-4, `step ${i}: onednn ${l} vs cpu ${want}`);
  });
  assert.ok((native.losses[19] as number) < (native.losses[0] as number), "the loss falls");
  assert.equal(tf.memory().numTensors, before);
});

test("training twice with the same seed gives byte-identical weights (1 and 2 threads)", async (t) => {
  if (!built) return t.skip("oneDNN addon not built");
  for (const threads of [1, 2]) {
    const a = await train("onednn", 6, 16, threads);
    const b = await train("onednn", 6, 16, threads);
    assert.deepEqual(a.losses, b.losses);
    a.weights.forEach((w, i) => {
      assert.ok(
        Buffer.from(w.buffer).equals(Buffer.from((b.weights[i] as Float32Array).buffer)),
        `weight ${i}`,
      );
    });
  }
});

/** A residual block with batch normalization (the ResNet-18 pattern) and a softmax head, seeded. */
function residualNet(seed: number): tfl.LayersModel {
  const init = (s: number) => tfl.initializers.glorotUniform({ seed: seed + s });
  const conv = (x: tfl.SymbolicTensor, filters: number, k: number, s: number) =>
    tfl.layers
      .conv2d({ filters, kernelSize: k, padding: "same", useBias: false, kernelInitializer: init(s) })
      .apply(x) as tfl.SymbolicTensor;
  const bn = (x: tfl.SymbolicTensor) => tfl.layers.batchNormalization().apply(x) as tfl.SymbolicTensor;
  const relu = (x: tfl.SymbolicTensor) => tfl.layers.reLU().apply(x) as tfl.SymbolicTensor;
  const input = tfl.input({ shape: [8, 8, 3] });
  const stem = relu(bn(conv(input, 16, 3, 0)));
  const y = bn(conv(relu(bn(conv(stem, 16, 3, 1))), 16, 3, 2));
  const x = relu(tfl.layers.add().apply([y, stem]) as tfl.SymbolicTensor);
  const pooled = tfl.layers.globalAveragePooling2d({}).apply(x) as tfl.SymbolicTensor;
  const out = tfl.layers
    .dense({ units: 4, activation: "softmax", kernelInitializer: init(3) })
    .apply(pooled) as tfl.SymbolicTensor;
  const m = tfl.model({ inputs: input, outputs: out });
  m.compile({ optimizer: tf.train.adam(1e-2), loss: "categoricalCrossentropy" });
  return m;
}

/** Losses and final weights (moving statistics included) of a few steps of {@link residualNet}. */
async function trainResidual(
  backend: "onednn" | "cpu",
  threads?: number,
): Promise<{ losses: number[]; weights: Float32Array[] }> {
  await initEngine({ backend, ...(threads ? { threads } : {}) });
  const model = residualNet(4);
  const rng = new Rng(5);
  const losses: number[] = [];
  for (let s = 0; s < 5; s++) {
    const b = batch(rng, 6, [8, 8, 3], 4);
    const [xs, ys] = [tf.tensor4d(b.x, [6, 8, 8, 3]), tf.tensor2d(b.y, [6, 4])];
    losses.push((await model.trainOnBatch(xs, ys)) as number);
    tf.dispose([xs, ys]);
  }
  const weights = model.getWeights().map((w) => (w.dataSync() as Float32Array).slice());
  model.optimizer.dispose();
  model.dispose();
  return { losses, weights };
}

test("residual block with batch norm: onednn matches cpu and is bitwise reproducible per thread count", async (t) => {
  if (!built) return t.skip("oneDNN addon not built");
  const { nativeKernelCalls } = await import("./backend.js");
  await initEngine({ backend: "onednn" });
  const before = tf.memory().numTensors;
  const calls = ["Moments", "MomentsGrad", "FusedBatchNormGrad", "ReluGrad"].map(
    (k) => nativeKernelCalls().get(k) ?? 0,
  );
  const native = await trainResidual("onednn", 1);
  ["Moments", "MomentsGrad", "FusedBatchNormGrad", "ReluGrad"].forEach((k, i) => {
    assert.ok((nativeKernelCalls().get(k) ?? 0) > (calls[i] ?? 0), `${k} did not run natively`);
  });
  const cpu = await trainResidual("cpu");
  native.losses.forEach((l, i) => {
    const want = cpu.losses[i] as number;
    assert.ok(
      Math.abs(l - want) < 1e-4 * Math.max(1, Math.abs(want)),
      `step ${i}: onednn ${l} vs cpu ${want}`,
    );
  });
  native.weights.forEach((w, i) => {
    const c = cpu.weights[i] as Float32Array;
    const scale = Math.max(1e-6, ...c.map(Math.abs));
    const err = Math.max(...w.map((v, j) => Math.abs(v - (c[j] as number)))) / scale;
    assert.ok(err < 1e-3, `weight ${i}: relative difference ${err} after 5 Adam steps`);
  });
  for (const threads of [1, 2]) {
    const a = await trainResidual("onednn", threads);
    const b = await trainResidual("onednn", threads);
    assert.deepEqual(a.losses, b.losses, `${threads} thread(s): losses differ between runs`);
    a.weights.forEach((w, i) => {
      const other = b.weights[i] as Float32Array;
      assert.ok(Buffer.from(w.buffer).equals(Buffer.from(other.buffer)), `${threads} thread(s): weight ${i}`);
    });
  }
  await initEngine({ backend: "onednn" });
  assert.equal(tf.memory().numTensors, before);
});

test("backward-filter and backward-data convolutions are bitwise reproducible", async (t) => {
  if (!built) return t.skip("oneDNN addon not built");
  await initEngine({ backend: "onednn", threads: 2 });
  const rng = new Rng(9);
  const x = tf.tensor4d(
    Float32Array.from({ length: 16 * 24 * 24 * 32 }, () => rng.normal()),
    [16, 24, 24, 32],
  );
  const dy = tf.tensor4d(
    Float32Array.from({ length: 16 * 24 * 24 * 64 }, () => rng.normal()),
    [16, 24, 24, 64],
  );
  const w = tf.tensor4d(
    Float32Array.from({ length: 3 * 3 * 32 * 64 }, () => rng.normal()),
    [3, 3, 32, 64],
  );
  const run = () =>
    tf.tidy(() => {
      const dw = tf
        .engine()
        .runKernel(
          "Conv2DBackpropFilter",
          { x, dy },
          { strides: 1, pad: "same", dataFormat: "NHWC", filterShape: [3, 3, 32, 64] },
        ) as tf.Tensor;
      const dx = tf.conv2dTranspose(dy, w, [16, 24, 24, 32], 1, "same");
      return [
        Buffer.from((dw.dataSync() as Float32Array).buffer),
        Buffer.from((dx.dataSync() as Float32Array).buffer),
      ];
    });
  const first = run();
  for (let i = 0; i < 3; i++) {
    const again = run();
    assert.ok(again[0]?.equals(first[0] as Buffer), "Conv2DBackpropFilter differs between runs");
    assert.ok(again[1]?.equals(first[1] as Buffer), "Conv2DBackpropInput differs between runs");
  }
  tf.dispose([x, dy, w]);
});

test("the native Adam update is bit-identical to tfjs's AdamOptimizer", async (t) => {
  if (!built) return t.skip("oneDNN addon not built");
  const rng = new Rng(4);
  const w0 = Float32Array.from({ length: 5000 }, () => rng.normal());
  const grads = Array.from({ length: 5 }, () =>
    Float32Array.from({ length: 5000 }, () => rng.normal(0, 0.1)),
  );
  const run = async (backend: "onednn" | "cpu") => {
    await initEngine({ backend });
    const init = tf.tensor1d(w0.slice());
    const v = tf.variable(init, true, `adam_probe_${backend}`);
    init.dispose();
    const opt = tf.train.adam(0.01);
    const held = v.dataSync().slice();
    const view = v.dataSync();
    for (const g of grads) tf.tidy(() => opt.applyGradients([{ name: v.name, tensor: tf.tensor1d(g) }]));
    // tfjs tensors are immutable: an array obtained from dataSync() before the update must not change.
    assert.deepEqual(view, held, `${backend}: the update wrote into storage a caller still held`);
    const out = Buffer.from((v.dataSync() as Float32Array).slice().buffer);
    opt.dispose();
    v.dispose();
    return out;
  };
  assert.ok((await run("onednn")).equals(await run("cpu")));
});

/** A full V8 collection (the flag is set at run time, so the test needs no `--expose-gc`). */
function collectGarbage(): void {
  setFlagsFromString("--expose-gc");
  (runInNewContext("gc") as () => void)();
}

test("3,000 training steps: no tensor growth, RSS stable within 5% over the last 2,000", async (t) => {
  if (!built) return t.skip("oneDNN addon not built");
  await initEngine({ backend: "onednn" });
  // A minimal conv net on raw ops keeps 3,000 steps to a few seconds while exercising the native conv, pooling,
  // matmul, elementwise and Adam paths every step.
  const rng = new Rng(2);
  const b = batch(rng, 4, [8, 8, 1], 3);
  const xs = tf.tensor4d(b.x, [4, 8, 8, 1]);
  const ys = tf.tensor2d(b.y, [4, 3]);
  const w1 = tf.variable(tf.randomNormal([3, 3, 1, 4], 0, 0.3, "float32", 1));
  const b1 = tf.variable(tf.zeros([4]));
  const w2 = tf.variable(tf.randomNormal([36, 3], 0, 0.3, "float32", 2));
  const opt = tf.train.adam(1e-3);
  const loss = () =>
    tf.tidy(() => {
      const h = tf.maxPool(
        tf.relu(tf.add(tf.conv2d(xs, w1 as tf.Tensor4D, 1, "valid"), b1)) as tf.Tensor4D,
        2,
        2,
        "valid",
      );
      return tf.losses.softmaxCrossEntropy(ys, tf.matMul(tf.reshape(h, [4, 36]), w2)) as tf.Scalar;
    });
  let tensors = 0;
  let rss = 0;
  let first = 0;
  let last = 0;
  // The first 1,000 steps warm V8 and the allocators up (RSS rises ~30% there when this test runs alone); a leak
  // shows as growth over the 2,000 steps after them.
  for (let s = 0; s < 3000; s++) {
    const l = opt.minimize(loss, true) as tf.Scalar;
    if (s === 0) first = l.dataSync()[0] as number;
    if (s === 2999) last = l.dataSync()[0] as number;
    l.dispose();
    if (s === 999) {
      tensors = tf.memory().numTensors;
      collectGarbage();
      rss = process.memoryUsage().rss;
    }
  }
  assert.equal(tf.memory().numTensors, tensors);
  // Both readings after a full collection, so the comparison sees retained memory, not when V8 last collected.
  collectGarbage();
  const growth = process.memoryUsage().rss / rss - 1;
  assert.ok(growth < 0.05, `RSS grew ${(growth * 100).toFixed(1)}%`);
  assert.ok(last < first, "the loss falls");
  opt.dispose();
  tf.dispose([xs, ys, w1, b1, w2]);
});
