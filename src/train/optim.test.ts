/** Adam/AdamW: the fused native step gives the bits of the tfjs op sequence; state round-trips through get/setState. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { Rng } from "../core/rng.js";
import { initEngine, tf } from "../engine/backend.js";
import { loadNativeAddon } from "../engine/native/index.js";
import { Adam } from "./optim.js";

const SHAPES = [[3, 3, 2, 5], [7], [2000]];

/** Weights and moments after `steps` updates of seeded variables with seeded gradients, on one backend. */
async function run(backend: "onednn" | "cpu", weightDecay: number, steps: number): Promise<Float32Array[]> {
  await initEngine({ backend });
  const rng = new Rng(11);
  const fill = (n: number) => Float32Array.from({ length: n }, () => rng.uniform(-1, 1));
  // Variables outlive tidy; their initial tensors do not.
  const vars = SHAPES.map((s) => tf.tidy(() => tf.variable(tf.tensor(fill(tf.util.sizeFromShape(s)), s))));
  const opt = new Adam({ learningRate: 0.01, weightDecay });
  for (let s = 0; s < steps; s++) {
    const grads = SHAPES.map((shape) => tf.tensor(fill(tf.util.sizeFromShape(shape)), shape));
    opt.apply(vars, grads);
    tf.dispose(grads);
  }
  const state = opt.getState();
  const out = [
    ...vars.map((v) => (v.dataSync() as Float32Array).slice()),
    ...state.moments.flatMap(({ m, v }) => [m.slice(), v.slice()]),
  ];
  opt.dispose();
  tf.dispose(vars);
  return out;
}

const sameBits = (a: Float32Array, b: Float32Array) =>
  a.length === b.length && a.every((x, i) => Object.is(x, b[i]));

test("Adam and AdamW on onednn (one fused native pass per variable) give the bits of the tfjs ops on cpu", async (t) => {
  if (!loadNativeAddon()) return t.skip("oneDNN addon not built");
  const { nativeKernelCalls } = await import("../engine/native/backend.js");
  for (const weightDecay of [0, 0.05]) {
    await initEngine({ backend: "onednn" });
    const before = nativeKernelCalls().get("AdamStep") ?? 0;
    const tensors = tf.memory().numTensors;
    const fused = await run("onednn", weightDecay, 5);
    assert.equal(tf.memory().numTensors, tensors, "the fused step leaked tensors");
    assert.equal(
      (nativeKernelCalls().get("AdamStep") ?? 0) - before,
      5 * SHAPES.length,
      "fused step did not run",
    );
    const ops = await run("cpu", weightDecay, 5);
    fused.forEach((f, i) => {
      assert.ok(
        sameBits(f, ops[i] as Float32Array),
        `weight decay ${weightDecay}: tensor ${i} differs from cpu`,
      );
    });
  }
});

test("getState/setState continue bit for bit", async () => {
  await initEngine({ backend: loadNativeAddon() ? "onednn" : "cpu" });
  const rng = new Rng(12);
  const w0 = Float32Array.from({ length: 50 }, () => rng.uniform(-1, 1));
  const gs = Array.from({ length: 6 }, () => Float32Array.from({ length: 50 }, () => rng.uniform(-1, 1)));
  const straight = tf.tidy(() => tf.variable(tf.tensor(w0)));
  const a = new Adam({ learningRate: 0.02 });
  for (const g of gs) tf.tidy(() => a.apply([straight], [tf.tensor(g)]));
  const resumed = tf.tidy(() => tf.variable(tf.tensor(w0)));
  const b = new Adam({ learningRate: 0.02 });
  for (const g of gs.slice(0, 3)) tf.tidy(() => b.apply([resumed], [tf.tensor(g)]));
  const c = new Adam({ learningRate: 0.02 });
  c.setState(b.getState(), [[50]]);
  for (const g of gs.slice(3)) tf.tidy(() => c.apply([resumed], [tf.tensor(g)]));
  assert.equal(c.iterations, 6);
  assert.ok(sameBits(straight.dataSync() as Float32Array, resumed.dataSync() as Float32Array));
  for (const o of [a, b, c]) o.dispose();
  tf.dispose([straight, resumed]);
});
