/** Trainer tests: same seed → byte-identical weights, exact mid-epoch resume, no tensor leak, callbacks. */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { Rng } from "../core/rng.js";
import { MemoryBatchSource } from "../data/memory.js";
import { initEngine, tf } from "../engine/backend.js";
import { serializeModel } from "../models/bundle.js";
import { createSeedCnn } from "../models/seed-cnn.js";
import { checkpoint, earlyStopping, metricsLogger } from "./callbacks.js";
import { loadCheckpoint } from "./checkpoint.js";
import { Adam } from "./optim.js";
import { type Callback, fit } from "./trainer.js";

/** A small learnable task: class 1 images are brighter in the top-left quadrant. */
function syntheticSource(seed: number, n: number, batchSize: number, shuffle = true): MemoryBatchSource {
  const rng = new Rng(seed);
  const x = new Float32Array(n * 12 * 12);
  const y = new Float32Array(n * 2);
  for (let i = 0; i < n; i++) {
    const c = i % 2;
    y[i * 2 + c] = 1;
    for (let r = 0; r < 12; r++) {
      for (let k = 0; k < 12; k++)
        x[i * 144 + r * 12 + k] = rng.float() * 0.5 + (c === 1 && r < 6 && k < 6 ? 0.5 : 0);
    }
  }
  return new MemoryBatchSource({
    x,
    sampleShape: [12, 12, 1],
    y,
    targetShape: [2],
    batchSize,
    shuffle,
    seed,
  });
}

async function run(epochs: number, callbacks: Callback[] = [], resumeDir?: string) {
  const model = createSeedCnn({ inputShape: [12, 12, 1], numClasses: 2, seed: 3 });
  const optimizer = new Adam({ learningRate: 1e-3 });
  const resume = resumeDir ? loadCheckpoint(resumeDir, model, optimizer).state : undefined;
  const state = await fit({
    model,
    optimizer,
    loss: "categoricalCrossentropy",
    train: syntheticSource(5, 96, 16),
    validation: syntheticSource(6, 32, 32, false),
    epochs,
    seed: 9,
    callbacks,
    ...(resume ? { resume } : {}),
  });
  const bytes = (await serializeModel(model)).weightData;
  model.dispose();
  optimizer.dispose();
  return { state, bytes };
}

test("same seed gives byte-identical weights and the loss falls; no tensor leak", async () => {
  await initEngine({ backend: "wasm" });
  const before = tf.memory().numTensors;
  const a = await run(3);
  const b = await run(3);
  assert.equal(tf.memory().numTensors, before);
  assert.ok(Buffer.from(a.bytes).equals(Buffer.from(b.bytes)), "weights differ between identical runs");
  const h = a.state.history;
  assert.equal(h.length, 3);
  assert.ok(
    (h[2]?.["loss"] as number) < (h[0]?.["loss"] as number),
    `loss did not fall: ${h.map((e) => e["loss"]).join(", ")}`,
  );
  assert.ok(Number.isFinite(h[2]?.["val_loss"]));
});

test("a run stopped mid-epoch resumes from its checkpoint to byte-identical weights", async () => {
  await initEngine({ backend: "wasm" });
  const dir = mkdtempSync(join(tmpdir(), "rl-ckpt-"));
  const full = await run(2);
  // 96 samples / 16 = 6 batches per epoch; crash after step 8 (mid second epoch), checkpoint every 2 steps.
  const crash: Callback = {
    onBatchEnd(ctx) {
      if (ctx.state.step === 8) ctx.stopTraining = true;
    },
  };
  const partial = await run(2, [checkpoint({ dir, everySteps: 2 }), crash]);
  assert.equal(partial.state.step, 8);
  const resumed = await run(2, [], join(dir, "last"));
  assert.equal(resumed.state.step, 12);
  assert.ok(
    Buffer.from(full.bytes).equals(Buffer.from(resumed.bytes)),
    "resumed weights differ from the uninterrupted run",
  );
  assert.deepEqual(resumed.state.history, full.state.history);
});

test("early stopping stops and the JSONL logger writes one line per epoch", async () => {
  await initEngine({ backend: "wasm" });
  const dir = mkdtempSync(join(tmpdir(), "rl-log-"));
  const log = join(dir, "log.jsonl");
  // patience 1 on a metric that can never improve after the first epoch.
  const worsen: Callback = {
    onEpochEnd(ctx, logs) {
      logs["fake"] = ctx.state.epoch;
    },
  };
  const r = await run(5, [
    worsen,
    earlyStopping({ monitor: "fake", patience: 1, mode: "min" }),
    metricsLogger(log),
  ]);
  assert.equal(r.state.history.length, 2);
  const lines = readFileSync(log, "utf8").trim().split("\n");
  assert.equal(lines.length, 2);
  assert.equal(JSON.parse(lines[0] as string).epoch, 1);
});
