/** Checks the WASM training kernels against the tfjs CPU backend on randomized shapes. */
import assert from "node:assert/strict";
import { test } from "node:test";
import * as tf from "@tensorflow/tfjs-core";
import { Rng } from "../core/rng.js";
import { initEngine } from "./backend.js";

function randomArray(rng: Rng, n: number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = rng.uniform(-1, 1);
  return a;
}

async function onBackend<T>(name: string, f: () => T): Promise<T> {
  await tf.setBackend(name);
  return f();
}

function maxRelErr(a: Float32Array, b: Float32Array): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num = Math.max(num, Math.abs((a[i] as number) - (b[i] as number)));
    den = Math.max(den, Math.abs(b[i] as number));
  }
  return num / Math.max(den, 1e-12);
}

test("Conv2DBackpropFilter and depthwise backprops on wasm match the cpu backend", async () => {
  await initEngine({ backend: "wasm" });
  const rng = new Rng(7);
  for (let trial = 0; trial < 24; trial++) {
    const n = rng.int(1, 3);
    const h = rng.int(3, 13);
    const w = rng.int(3, 13);
    const cin = rng.int(1, 9);
    const cout = rng.int(1, 9);
    const k = rng.int(1, 3);
    const stride = rng.int(1, 2);
    const dil = 1; // tfjs defines conv gradients for dilation 1 only
    const pad = rng.bernoulli(0.5) ? "same" : "valid";
    if (pad === "valid" && (h < (k - 1) * dil + 1 || w < (k - 1) * dil + 1)) continue;
    const xs = randomArray(rng, n * h * w * cin);
    const ws = randomArray(rng, k * k * cin * cout);
    const wd = randomArray(rng, k * k * cin * 2);
    const grads = (name: string) =>
      onBackend(name, () =>
        tf.tidy(() => {
          const x = tf.tensor4d(xs, [n, h, w, cin]);
          const f = tf.tensor4d(ws, [k, k, cin, cout]);
          const fd = tf.tensor4d(wd, [k, k, cin, 2]);
          const g = tf.grads((a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) =>
            tf.add(
              tf.sum(tf.square(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, stride, pad, "NHWC", dil))),
              tf.sum(
                tf.square(tf.depthwiseConv2d(a as tf.Tensor4D, c as tf.Tensor4D, stride, pad, "NHWC", 1)),
              ),
            ),
          )([x, f, fd]);
          return g.map((t) => t.dataSync() as Float32Array);
        }),
      );
    const before = tf.memory().numTensors;
    const gw = await grads("wasm");
    const gc = await grads("cpu");
    assert.equal(tf.memory().numTensors, before);
    for (let i = 0; i < 3; i++) {
      const err = maxRelErr(gw[i] as Float32Array, gc[i] as Float32Array);
      assert.ok(err < 1e-4, `trial ${trial} grad ${i}: relative error ${err}`);
    }
  }
  await tf.setBackend("wasm");
});
