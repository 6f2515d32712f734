/** Checks batch-norm folding: a folded ResNet-18 (28) predicts within 1e-5 of the unfolded one. */
import assert from "node:assert/strict";
import { test } from "node:test";
import * as tfl from "@tensorflow/tfjs-layers";
import { Rng } from "../core/rng.js";
import { initEngine, tf } from "../engine/backend.js";
import { foldBatchNorm } from "./fold.js";
import { createZooModel } from "./zoo/index.js";

test("folding batch norm into convolutions keeps ResNet-18 (28) predictions within 1e-5", async () => {
  await initEngine();
  const before = tf.memory().numTensors;
  const model = createZooModel("resnet18-28", { inputShape: [28, 28, 1], numClasses: 3, seed: 2 });
  const rng = new Rng(5);
  // Non-trivial statistics, as a trained model has (fresh ones are mean 0, variance 1, gamma 1, beta 0).
  for (const layer of model.layers.filter((l) => l.getClassName() === "BatchNormalization")) {
    const stats = layer.getWeights().map((w) => {
      const v = new Float32Array(w.size);
      for (let i = 0; i < v.length; i++) v[i] = rng.uniform(0.5, 1.5);
      return tf.tensor1d(v);
    });
    layer.setWeights(stats);
    tf.dispose(stats);
  }
  const x = new Float32Array(4 * 28 * 28);
  for (let i = 0; i < x.length; i++) x[i] = rng.uniform(0, 1);
  const { model: folded, folded: n } = await foldBatchNorm(model);
  assert.equal(n, 20, "every batch norm of ResNet-18 follows a convolution");
  assert.equal(
    folded.layers.filter((l) => l.getClassName() === "BatchNormalization").length,
    0,
    "no batch norm is left",
  );
  const [a, b] = tf.tidy(() => {
    const xt = tf.tensor4d(x, [4, 28, 28, 1]);
    return [model, folded].map((m) => (m.predict(xt) as tf.Tensor).dataSync() as Float32Array);
  }) as [Float32Array, Float32Array];
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs((a[i] as number) - (b[i] as number)));
  assert.ok(worst < 1e-5, `folded predictions differ by ${worst}`);
  // A Sequential model is returned as it is.
  const seq = tfl.sequential({
    layers: [
      tfl.layers.conv2d({ inputShape: [8, 8, 1], filters: 4, kernelSize: 3, useBias: false }),
      tfl.layers.batchNormalization({}),
    ],
  });
  const same = await foldBatchNorm(seq);
  assert.equal(same.folded, 0);
  assert.equal(same.model, seq);
  seq.dispose();
  model.dispose();
  folded.dispose();
  assert.equal(tf.memory().numTensors, before);
});
