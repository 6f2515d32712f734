/** Grad-CAM sanity checks: the map localizes a known class signal, and it depends on the learned weights (Adebayo et al. 2018). */
import assert from "node:assert/strict";
import { test } from "node:test";
import * as tfl from "@tensorflow/tfjs-layers";
import { Rng } from "../core/rng.js";
import { MemoryBatchSource } from "../data/memory.js";
import { initEngine, tf } from "../engine/backend.js";
import { Adam } from "../train/optim.js";
import { fit } from "../train/trainer.js";
import { gradCam, gradCamPlusPlus } from "./gradcam.js";
import type { Heatmap } from "./heatmap.js";
import { randomizeTopLayers, spearman } from "./sanity.js";

const SIZE = 32;
const SQUARE = 16;

interface Sample {
  readonly x: Float32Array;
  readonly label: number;
  /** Top-left corner of the signal square (class 1 only). */
  readonly at: readonly [number, number];
}

/**
 * Noise everywhere (uniform [0, 0.3)); a class-1 image also holds a bright checkerboard in a SQUARE × SQUARE
 * square at a random place, so the only class evidence is inside that square.
 */
function sample(rng: Rng, label: number): Sample {
  const x = new Float32Array(SIZE * SIZE);
  for (let i = 0; i < x.length; i++) x[i] = rng.float() * 0.6;
  const r0 = rng.int(0, SIZE - SQUARE);
  const c0 = rng.int(0, SIZE - SQUARE);
  if (label === 1)
    for (let r = r0; r < r0 + SQUARE; r++)
      for (let c = c0; c < c0 + SQUARE; c++) x[r * SIZE + c] = (r + c) % 2 === 0 ? 0.3 + 0.173 : 0.3 - 0.173;
  return { x, label, at: [r0, c0] };
}

function source(samples: readonly Sample[], seed: number): MemoryBatchSource {
  const x = new Float32Array(samples.length * SIZE * SIZE);
  const y = new Float32Array(samples.length * 2);
  samples.forEach((s, i) => {
    x.set(s.x, i * SIZE * SIZE);
    y[i * 2 + s.label] = 1;
  });
  return new MemoryBatchSource({
    x,
    sampleShape: [SIZE, SIZE, 1],
    y,
    targetShape: [2],
    batchSize: 32,
    shuffle: true,
    seed,
  });
}

function smallCnn(seed: number): tfl.LayersModel {
  const rng = new Rng(seed);
  const init = () => tfl.initializers.glorotUniform({ seed: rng.seed() });
  const conv = (filters: number, name: string, inputShape?: number[], kernelSize = 3) =>
    tfl.layers.conv2d({
      filters,
      kernelSize,
      padding: "same",
      activation: "relu",
      kernelInitializer: init(),
      name,
      ...(inputShape ? { inputShape } : {}),
    });
  const m = tfl.sequential();
  m.add(conv(8, "conv1", [SIZE, SIZE, 1]));
  m.add(tfl.layers.maxPooling2d({ poolSize: 2, name: "pool1" }));
  m.add(conv(16, "conv2"));
  m.add(conv(16, "conv3", undefined, 1));
  m.add(tfl.layers.globalAveragePooling2d({ name: "gap" }));
  m.add(tfl.layers.dense({ units: 2, activation: "softmax", kernelInitializer: init(), name: "fc" }));
  return m;
}

function massInside(heat: Float32Array, at: readonly [number, number]): number {
  let inside = 0;
  let total = 0;
  for (let r = 0; r < SIZE; r++)
    for (let c = 0; c < SIZE; c++) {
      const v = heat[r * SIZE + c] as number;
      total += v;
      if (r >= at[0] && r < at[0] + SQUARE && c >= at[1] && c < at[1] + SQUARE) inside += v;
    }
  return total > 0 ? inside / total : 0;
}

const mean = (a: readonly number[]) => a.reduce((p, q) => p + q, 0) / a.length;

test("Grad-CAM localizes a known square and changes when the weights are randomized", async () => {
  await initEngine({ backend: "wasm" });
  const rng = new Rng(11);
  const train = Array.from({ length: 384 }, (_, i) => sample(rng, i % 2));
  const held = Array.from({ length: 16 }, () => sample(rng, 1));
  const model = smallCnn(3);
  const optimizer = new Adam({ learningRate: 1e-2 });
  const state = await fit({
    model,
    optimizer,
    loss: "categoricalCrossentropy",
    train: source(train, 5),
    epochs: 8,
    seed: 9,
  });
  const finalLoss = state.history[state.history.length - 1]?.["loss"] as number;
  assert.ok(finalLoss < 0.1, `the model did not learn the task (loss ${finalLoss})`);

  const before = tf.memory().numTensors;
  const explain = (fn: typeof gradCam) =>
    held.map((s) => {
      const x = tf.tensor4d(s.x, [1, SIZE, SIZE, 1]);
      try {
        return fn(model, x, { classIndex: 1 });
      } finally {
        x.dispose();
      }
    });
  const cams = explain(gradCam);
  const camsPP = explain(gradCamPlusPlus);
  assert.equal(tf.memory().numTensors, before, "explanations leaked tensors");
  for (const h of cams) {
    assert.equal(h.layer, "conv3");
    assert.ok(h.score > 0.9, `held-out class-1 image scored ${h.score}`);
  }
  const inside = cams.map((h, i) => massInside(h.data, (held[i] as Sample).at));
  const insidePP = camsPP.map((h, i) => massInside(h.data, (held[i] as Sample).at));
  // The square is a quarter of the image: a map blind to the signal would put ~25% of its mass there.
  assert.ok(mean(inside) >= 0.8, `Grad-CAM mass inside the square: ${inside.map((v) => v.toFixed(2))}`);
  assert.ok(mean(insidePP) >= 0.8, `Grad-CAM++ mass inside the square: ${insidePP.map((v) => v.toFixed(2))}`);

  // Cascading randomization from the logits down (Adebayo et al. 2018 §3.1), same class explained.
  const stages: number[][] = [];
  for (let n = 1; n <= 4; n++) {
    randomizeTopLayers(model, n, 100);
    stages.push(explain(gradCam).map((h, i) => spearman((cams[i] as Heatmap).data, h.data)));
  }
  assert.equal(tf.memory().numTensors, before);
  const [logitsOnly, , , all] = stages as [number[], number[], number[], number[]];
  for (const rho of [...logitsOnly, ...all]) assert.ok(Number.isFinite(rho), "a randomized map was constant");
  assert.ok(
    Math.max(...logitsOnly) < 0.5,
    `logit layer randomized: ρ ${logitsOnly.map((v) => v.toFixed(2))}`,
  );
  assert.ok(mean(all) < 0.5, `all layers randomized: ρ ${all.map((v) => v.toFixed(2))}`);
  console.log(
    `mass inside ${mean(inside).toFixed(3)} (min ${Math.min(...inside).toFixed(3)}), Grad-CAM++ ${mean(insidePP).toFixed(3)}; ` +
      `mean ρ by cascade stage: ${stages.map((r) => mean(r).toFixed(2)).join(", ")}`,
  );
  model.dispose();
  optimizer.dispose();
});
