/** Tests of the 3D ResNets: output shapes, ACS and 2.5D keep the 2D parameter count, 3D triples the 3×3 kernels, no leaked tensors. */
import assert from "node:assert/strict";
import { before, test } from "node:test";
import { initEngine, tf } from "../../engine/backend.js";
import { countTrainableParams } from "./init.js";
import { createResNet } from "./resnet.js";
import { createResNet3d } from "./resnet3d.js";

before(async () => {
  await initEngine({});
});

test("ACS and 2.5D ResNet-18 have the 2D ResNet-18 (28)'s parameters; 3D has 3× its 3×3 kernels", () => {
  const two = createResNet({
    depth: 18,
    variant: "medmnist",
    width: 6,
    inputShape: [8, 8, 1],
    numClasses: 3,
    seed: 1,
  });
  const p2 = countTrainableParams(two);
  const mk = (conv: "3d" | "acs" | "2.5d") =>
    createResNet3d({ depth: 18, conv, width: 6, inputShape: [8, 8, 8, 1], numClasses: 3, seed: 1 });
  assert.equal(countTrainableParams(mk("acs")), p2);
  assert.equal(countTrainableParams(mk("2.5d")), p2);
  // 3×3 kernels (every conv but the 1×1 shortcuts) grow ×3 in 3D.
  let k33 = 0;
  for (const w of two.trainableWeights)
    if (w.shape.length === 4 && w.shape[0] === 3) k33 += w.shape.reduce<number>((a, b) => a * (b ?? 1), 1);
  assert.equal(countTrainableParams(mk("3d")), p2 + 2 * k33);
  two.dispose();
});

test("3D ResNets map [B, D, H, W, 1] volumes to class probabilities without leaking tensors", () => {
  for (const conv of ["3d", "acs", "2.5d"] as const) {
    for (const depth of [18, 50] as const) {
      const m = createResNet3d({ depth, conv, width: 4, inputShape: [8, 8, 8, 1], numClasses: 2, seed: 2 });
      const before = tf.memory().numTensors;
      const p = tf.tidy(() => (m.predict(tf.ones([2, 8, 8, 8, 1])) as tf.Tensor).arraySync() as number[][]);
      assert.equal(tf.memory().numTensors, before);
      assert.equal(p.length, 2);
      for (const row of p) assert.ok(Math.abs((row[0] as number) + (row[1] as number) - 1) < 1e-5);
      m.dispose();
    }
  }
});

test("a 2D input shape is refused with a message that says what 3D models take", () => {
  assert.throws(
    () => createResNet3d({ depth: 18, inputShape: [28, 28, 1] as never, numClasses: 2, seed: 1 }),
    /volumes \[slices, rows, cols, channels\]/,
  );
});
