/** Checks every native oneDNN kernel against the tfjs CPU backend on randomized shapes, forward and gradient. */
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { test } from "node:test";
import { Rng } from "../../core/rng.js";
import { initEngine, tf } from "../backend.js";
import { loadNativeAddon } from "./index.js";

const built = loadNativeAddon() !== undefined;
const TOL = 1e-4;

type Op = (...xs: tf.Tensor[]) => tf.Tensor;

function randomArray(rng: Rng, n: number, scale = 1): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = rng.uniform(-scale, scale);
  return a;
}

function relErr(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num = Math.max(num, Math.abs((a[i] as number) - (b[i] as number)));
    den = Math.max(den, Math.abs(b[i] as number));
  }
  return num / Math.max(den, 1e-12);
}

/** Output and input gradients (for a random upstream gradient) of `op` on one backend. */
async function evaluate(
  backend: string,
  op: Op,
  inputs: { shape: number[]; data: Float32Array }[],
  dyData: (n: number) => Float32Array,
  grad: boolean,
): Promise<Float32Array[]> {
  await tf.setBackend(backend);
  return tf.tidy(() => {
    const xs = inputs.map((i) => tf.tensor(i.data, i.shape));
    const y = op(...xs);
    const out = [y.dataSync() as Float32Array];
    if (grad) {
      const dy = tf.tensor(dyData(y.size), y.shape);
      for (const g of tf.grads(op)(xs, dy)) out.push(g.dataSync() as Float32Array);
    }
    return out;
  });
}

async function nativeCount(name: string): Promise<number> {
  const { nativeKernelCalls } = await import("./backend.js");
  return nativeKernelCalls().get(name) ?? 0;
}

/** Runs `op` on onednn and cpu and asserts the results agree and that `kernels` ran natively. */
async function compare(
  label: string,
  rng: Rng,
  op: Op,
  shapes: number[][],
  kernels: string[],
  opts: { grad?: boolean; scale?: number } = {},
): Promise<void> {
  const inputs = shapes.map((shape) => ({
    shape,
    data: randomArray(
      rng,
      shape.reduce((a, b) => a * b, 1),
      opts.scale,
    ),
  }));
  const dySeed = rng.seed();
  const dyData = (n: number) => randomArray(new Rng(dySeed), n);
  const before = await Promise.all(kernels.map(nativeCount));
  const got = await evaluate("onednn", op, inputs, dyData, opts.grad ?? true);
  const after = await Promise.all(kernels.map(nativeCount));
  kernels.forEach((k, i) => {
    assert.ok((after[i] ?? 0) > (before[i] ?? 0), `${label}: ${k} did not run natively`);
  });
  const want = await evaluate("cpu", op, inputs, dyData, opts.grad ?? true);
  assert.equal(got.length, want.length);
  got.forEach((g, i) => {
    const e = relErr(g, want[i] as Float32Array);
    assert.ok(e < TOL, `${label}: ${i === 0 ? "output" : `gradient ${i}`} relative error ${e}`);
  });
}

const fusedGrad = (activation: string) => activation === "linear" || activation === "relu";

/**
 * Average pooling is linear, so its exact gradient is its adjoint: <pool(x), dy> = <x, poolGrad(dy)>. The tfjs CPU
 * gradient divides by the full window even where the forward pass excluded padding, so with `same` padding the
 * native gradient is checked against the CPU forward through this identity instead.
 */
async function adjointCheck(label: string, rng: Rng, op: Op, shape: number[], kernel: string): Promise<void> {
  const x = randomArray(
    rng,
    shape.reduce((a, b) => a * b, 1),
  );
  const dySeed = rng.seed();
  const before = await nativeCount(kernel);
  const [, dx] = await evaluate(
    "onednn",
    op,
    [{ shape, data: x }],
    (n) => randomArray(new Rng(dySeed), n),
    true,
  );
  assert.ok((await nativeCount(kernel)) > before, `${label}: ${kernel} did not run natively`);
  const [y] = await evaluate("cpu", op, [{ shape, data: x }], () => new Float32Array(0), false);
  const dy = randomArray(new Rng(dySeed), (y as Float32Array).length);
  let lhs = 0;
  let rhs = 0;
  let scale = 0;
  (y as Float32Array).forEach((v, i) => {
    lhs += v * (dy[i] as number);
    scale += Math.abs(v * (dy[i] as number));
  });
  x.forEach((v, i) => {
    rhs += v * ((dx as Float32Array)[i] as number);
  });
  assert.ok(Math.abs(lhs - rhs) / scale < TOL, `${label}: adjoint mismatch ${lhs} vs ${rhs}`);
}

const pick = <T>(rng: Rng, xs: readonly T[]): T => xs[rng.int(0, xs.length - 1)] as T;
const CHANNELS = [1, 2, 3, 5, 8, 16, 17, 32, 64] as const;

test("conv2d forward, fused bias+activation and both gradients match cpu", async (t) => {
  if (!built) return t.skip("oneDNN addon not built");
  await initEngine({ backend: "onednn" });
  const rng = new Rng(11);
  const before = tf.memory().numTensors;
  for (let trial = 0; trial < 14; trial++) {
    const n = trial === 0 ? 1 : rng.int(1, 3);
    const h = rng.int(3, 12);
    const w = rng.int(3, 12);
    const cin = pick(rng, CHANNELS);
    const cout = pick(rng, CHANNELS);
    const k = rng.int(1, 3);
    const stride = rng.int(1, 2) as 1 | 2;
    const pad = pick(rng, ["same", "valid"] as const);
    if (pad === "valid" && (h < k || w < k)) continue;
    const label = `conv2d n${n} ${h}x${w}x${cin}->${cout} k${k} s${stride} ${pad}`;
    await compare(
      label,
      rng,
      (x, f) => tf.conv2d(x as tf.Tensor4D, f as tf.Tensor4D, stride, pad),
      [
        [n, h, w, cin],
        [k, k, cin, cout],
      ],
      ["Conv2D", "Conv2DBackpropInput", "Conv2DBackpropFilter"],
    );
    const activation = pick(rng, ["linear", "relu", "relu6", "elu", "sigmoid", "leakyrelu"] as const);
    await compare(
      `fused ${activation} ${label}`,
      rng,
      (x, f, b) =>
        tf.fused.conv2d({
          x: x as tf.Tensor4D,
          filter: f as tf.Tensor4D,
          bias: b,
          strides: stride,
          pad,
          activation,
          leakyreluAlpha: 0.2,
        }),
      [[n, h, w, cin], [k, k, cin, cout], [cout]],
      // tfjs differentiates fused ops only for linear and relu.
      ["FusedConv2D", ...(fusedGrad(activation) ? ["Conv2DBackpropInput", "Conv2DBackpropFilter"] : [])],
      { scale: activation === "relu6" ? 4 : 1, grad: fusedGrad(activation) },
    );
  }
  // Dilation (tfjs defines it for stride 1, forward only).
  for (let trial = 0; trial < 4; trial++) {
    const dil = rng.int(2, 3);
    const cin = pick(rng, CHANNELS);
    const cout = pick(rng, CHANNELS);
    const pad = pick(rng, ["same", "valid"] as const);
    await compare(
      `dilated conv2d d${dil} ${pad}`,
      rng,
      (x, f) => tf.conv2d(x as tf.Tensor4D, f as tf.Tensor4D, 1, pad, "NHWC", dil),
      [
        [rng.int(1, 2), rng.int(7, 11), rng.int(7, 11), cin],
        [3, 3, cin, cout],
      ],
      ["Conv2D"],
      { grad: false },
    );
  }
  assert.equal(tf.memory().numTensors, before);
});

test("conv2d with oneDNN-chosen (blocked) activation layouts matches cpu", async (t) => {
  const addon = loadNativeAddon();
  if (!addon) return t.skip("oneDNN addon not built");
  await initEngine({ backend: "onednn" });
  const rng = new Rng(18);
  const native = addon as unknown as { setConvLayout(mode: number): void };
  native.setConvLayout(2);
  try {
    for (const [cin, cout, stride] of [
      [1, 16, 1],
      [17, 32, 2],
      [64, 8, 1],
    ] as const) {
      await compare(
        `blocked conv2d ${cin}->${cout} s${stride}`,
        rng,
        (x, f) => tf.conv2d(x as tf.Tensor4D, f as tf.Tensor4D, stride, "same"),
        [
          [2, 9, 10, cin],
          [3, 3, cin, cout],
        ],
        ["Conv2D", "Conv2DBackpropInput", "Conv2DBackpropFilter"],
      );
    }
  } finally {
    native.setConvLayout(0);
  }
});

test("conv2d on small feature maps with 16k channels (channel-blocked forward) matches cpu", async (t) => {
  if (!built) return t.skip("oneDNN addon not built");
  await initEngine({ backend: "onednn" });
  const rng = new Rng(22);
  for (const [size, cin, cout, stride, act] of [
    [4, 32, 48, 1, "linear"],
    [7, 16, 32, 2, "relu"],
    [3, 64, 16, 1, "relu"],
  ] as const) {
    await compare(
      `conv2d ${size}x${size}x${cin}->${cout} s${stride} ${act}`,
      rng,
      (x, f, b) =>
        tf.fused.conv2d({
          x: x as tf.Tensor4D,
          filter: f as tf.Tensor4D,
          strides: stride,
          pad: "same",
          bias: b,
          activation: act,
        }),
      [[3, size, size, cin], [3, 3, cin, cout], [cout]],
      ["FusedConv2D", "Conv2DBackpropInput", "Conv2DBackpropFilter"],
    );
  }
});

test("depthwise conv2d forward and both gradients match cpu", async (t) => {
  if (!built) return t.skip("oneDNN addon not built");
  await initEngine({ backend: "onednn" });
  const rng = new Rng(12);
  for (let trial = 0; trial < 8; trial++) {
    const n = trial === 0 ? 1 : rng.int(1, 3);
    const cin = pick(rng, CHANNELS);
    const mult = rng.int(1, 3);
    const k = rng.int(1, 3);
    const stride = rng.int(1, 2) as 1 | 2;
    const pad = pick(rng, ["same", "valid"] as const);
    await compare(
      `depthwise n${n} c${cin}x${mult} k${k} s${stride} ${pad}`,
      rng,
      (x, f) => tf.depthwiseConv2d(x as tf.Tensor4D, f as tf.Tensor4D, stride, pad),
      [
        [n, rng.int(4, 11), rng.int(4, 11), cin],
        [k, k, cin, mult],
      ],
      ["DepthwiseConv2dNative", "DepthwiseConv2dNativeBackpropInput", "DepthwiseConv2dNativeBackpropFilter"],
    );
  }
  await compare(
    "dilated depthwise",
    rng,
    (x, f) => tf.depthwiseConv2d(x as tf.Tensor4D, f as tf.Tensor4D, 1, "same", "NHWC", 2),
    [
      [2, 9, 8, 5],
      [3, 3, 5, 2],
    ],
    ["DepthwiseConv2dNative"],
    { grad: false },
  );
});

test("max and average pooling forward and gradients match cpu", async (t) => {
  if (!built) return t.skip("oneDNN addon not built");
  await initEngine({ backend: "onednn" });
  const rng = new Rng(13);
  for (let trial = 0; trial < 10; trial++) {
    const n = trial === 0 ? 1 : rng.int(1, 3);
    const c = pick(rng, CHANNELS);
    const k = rng.int(2, 3);
    const stride = rng.int(1, 2) as 1 | 2;
    const pad = pick(rng, ["same", "valid"] as const);
    const shape = [n, rng.int(4, 13), rng.int(4, 13), c];
    await compare(
      `maxPool ${shape} k${k} s${stride} ${pad}`,
      rng,
      (x) => tf.maxPool(x as tf.Tensor4D, k, stride, pad),
      [shape],
      ["MaxPool", "MaxPoolGrad"],
    );
    const avg = (x: tf.Tensor) => tf.avgPool(x as tf.Tensor4D, k, stride, pad);
    await compare(`avgPool ${shape} k${k} s${stride} ${pad}`, rng, avg, [shape], ["AvgPool"], {
      grad: pad === "valid",
    });
    await adjointCheck(`avgPool grad ${shape} k${k} s${stride} ${pad}`, rng, avg, shape, "AvgPoolGrad");
  }
});

test("conv3d and 3D pooling forward and gradients match cpu", async (t) => {
  if (!built) return t.skip("oneDNN addon not built");
  await initEngine({ backend: "onednn" });
  const rng = new Rng(14);
  for (let trial = 0; trial < 5; trial++) {
    const n = trial === 0 ? 1 : rng.int(1, 2);
    const cin = pick(rng, [1, 2, 3, 8, 16]);
    const cout = pick(rng, [1, 4, 8, 17]);
    const k = rng.int(1, 3);
    const stride = rng.int(1, 2) as 1 | 2;
    const pad = pick(rng, ["same", "valid"] as const);
    const shape = [n, rng.int(3, 7), rng.int(3, 7), rng.int(3, 7), cin];
    await compare(
      `conv3d ${shape} -> ${cout} k${k} s${stride} ${pad}`,
      rng,
      (x, f) => tf.conv3d(x as tf.Tensor5D, f as tf.Tensor5D, stride, pad),
      [shape, [k, k, k, cin, cout]],
      ["Conv3D", "Conv3DBackpropInputV2", "Conv3DBackpropFilterV2"],
    );
    const pk = rng.int(2, 3);
    await compare(
      `maxPool3d ${shape} k${pk} s${stride} ${pad}`,
      rng,
      (x) => tf.maxPool3d(x as tf.Tensor5D, pk, stride, pad),
      [shape],
      ["MaxPool3D", "MaxPool3DGrad"],
    );
    const avg = (x: tf.Tensor) => tf.avgPool3d(x as tf.Tensor5D, pk, stride, pad);
    await compare(`avgPool3d ${shape} k${pk} s${stride} ${pad}`, rng, avg, [shape], ["AvgPool3D"], {
      grad: pad === "valid",
    });
    await adjointCheck(`avgPool3d grad ${shape} k${pk} s${stride} ${pad}`, rng, avg, shape, "AvgPool3DGrad");
  }
  await compare(
    "dilated conv3d",
    rng,
    (x, f) => tf.conv3d(x as tf.Tensor5D, f as tf.Tensor5D, 1, "same", "NDHWC", 2),
    [
      [1, 6, 7, 5, 3],
      [3, 3, 3, 3, 4],
    ],
    ["Conv3D"],
    { grad: false },
  );
});

test("3D U-Net layers: conv3d filter gradient (direct kernel), Concat, SplitV and 5D Transpose match cpu", async (t) => {
  if (!built) return t.skip("oneDNN addon not built");
  await initEngine({ backend: "onednn" });
  const rng = new Rng(23);
  // The shapes of a 3D U-Net level (8-32 channels, 3×3×3 "same"), odd sizes, asymmetric "valid" and 1×1×1 kernels.
  for (const [shape, cout, k, pad] of [
    [[2, 10, 14, 10, 16], 8, 3, "same"],
    [[1, 5, 7, 6, 1], 8, 3, "same"],
    [[2, 6, 5, 7, 8], 16, 3, "valid"],
    [[1, 4, 6, 4, 24], 3, 1, "same"],
    [[1, 7, 6, 5, 3], 5, 2, "same"],
    // The AVX2 register tiles: 16-wide (32 → 32), 8-wide (13 → 24, with input channels left over), a width-1
    // volume whose shifted rows are empty.
    [[2, 3, 4, 6, 32], 32, 3, "same"],
    [[1, 4, 5, 3, 13], 24, 3, "same"],
    [[1, 3, 3, 1, 8], 16, 3, "same"],
  ] as const) {
    await compare(
      `conv3d ${shape} -> ${cout} k${k} ${pad}`,
      rng,
      (x, f) => tf.conv3d(x as tf.Tensor5D, f as tf.Tensor5D, 1, pad),
      [[...shape], [k, k, k, shape[4], cout]],
      ["Conv3D", "Conv3DBackpropInputV2", "Conv3DBackpropFilterV2"],
    );
  }
  // The offsets are dealt to threads, each summing its voxels in one order: 1 and 2 threads agree bit for bit.
  for (const [shape, cout] of [
    [[2, 6, 7, 5, 16], 16],
    [[1, 4, 5, 3, 13], 24],
  ] as const) {
    const x = tf.tensor(randomArray(rng, tf.util.sizeFromShape([...shape])), [...shape]);
    const dy = tf.tensor(randomArray(rng, tf.util.sizeFromShape([...shape.slice(0, 4), cout])), [
      ...shape.slice(0, 4),
      cout,
    ]);
    const grads: Float32Array[] = [];
    for (const threads of [1, 2]) {
      await initEngine({ backend: "onednn", threads });
      const g = tf
        .engine()
        .runKernel(
          "Conv3DBackpropFilterV2",
          { x, dy },
          { strides: [1, 1, 1], pad: "same", filterShape: [3, 3, 3, shape[4], cout] },
        ) as tf.Tensor;
      grads.push(g.dataSync() as Float32Array);
      g.dispose();
    }
    assert.deepEqual(
      grads[0],
      grads[1],
      `conv3d filter gradient ${shape} -> ${cout}: 1 and 2 threads differ`,
    );
    tf.dispose([x, dy]);
  }
  await initEngine({ backend: "onednn" });
  // Concatenation (Concat, its gradient SplitV); the voxel shuffle of the 3D U-Net transposes 5D tensors.
  await compare(
    "concat on channels (SplitV gradient)",
    rng,
    (a, b) => tf.mul(tf.concat([a as tf.Tensor, b as tf.Tensor], -1), 1.5),
    [
      [2, 3, 4, 5, 8],
      [2, 3, 4, 5, 3],
    ],
    ["Concat", "SplitV"],
  );
  await compare(
    "concat of three on a middle axis",
    rng,
    (a, b, c) => tf.concat([a as tf.Tensor, b as tf.Tensor, c as tf.Tensor], 2),
    [
      [2, 3, 1, 5],
      [2, 3, 4, 5],
      [2, 3, 2, 5],
    ],
    ["Concat", "SplitV"],
  );
  for (const perm of [
    [0, 1, 3, 2, 4],
    [4, 2, 0, 3, 1],
    [0, 2, 1, 3],
  ]) {
    const shape = perm.length === 5 ? [2, 3, 4, 5, 6] : [3, 4, 5, 2];
    await compare(`transpose ${perm}`, rng, (x) => tf.transpose(x, perm), [shape], ["Transpose"]);
  }
});

test("matMul (batched, transposed, fused bias+activation) and gradients match cpu", async (t) => {
  if (!built) return t.skip("oneDNN addon not built");
  await initEngine({ backend: "onednn" });
  const rng = new Rng(15);
  for (let trial = 0; trial < 10; trial++) {
    const m = rng.int(1, 40);
    const k = rng.int(1, 64);
    const n = rng.int(1, 40);
    const ta = rng.bernoulli(0.5);
    const tb = rng.bernoulli(0.5);
    const batch = trial < 5 ? [] : [rng.int(1, 3)];
    const broadcast = trial >= 8;
    const bb = broadcast ? [1] : batch;
    const a = [...batch, ...(ta ? [k, m] : [m, k])];
    const b = [...bb, ...(tb ? [n, k] : [k, n])];
    await compare(
      `matMul ${a} x ${b} ${ta} ${tb}`,
      rng,
      (x, y) => tf.matMul(x, y, ta, tb),
      [a, b],
      ["BatchMatMul"],
      // tfjs's BatchMatMul gradient does not reduce broadcast batch dimensions.
      { grad: !broadcast },
    );
    const activation = pick(rng, ["linear", "relu", "relu6", "elu", "sigmoid", "leakyrelu"] as const);
    await compare(
      `fused matMul ${activation} ${a} x ${b}`,
      rng,
      (x, y, bias) =>
        tf.fused.matMul({
          a: x,
          b: y,
          transposeA: ta,
          transposeB: tb,
          bias,
          activation,
          leakyreluAlpha: 0.2,
        }),
      [a, b, [n]],
      ["_FusedMatMul"],
      { scale: activation === "relu6" ? 4 : 1, grad: fusedGrad(activation) && !broadcast },
    );
  }
});

test("activations, softmax, batch norm and Sum/Mean reductions match cpu", async (t) => {
  if (!built) return t.skip("oneDNN addon not built");
  await initEngine({ backend: "onednn" });
  const rng = new Rng(16);
  const shape = [3, 5, 7, 9];
  await compare("relu", rng, (x) => tf.relu(x), [shape], ["Relu"]);
  await compare("relu6", rng, (x) => tf.relu6(x), [shape], ["Relu6"], { scale: 8 });
  await compare("elu", rng, (x) => tf.elu(x), [shape], ["Elu", "EluGrad"], { scale: 3 });
  await compare("sigmoid", rng, (x) => tf.sigmoid(x), [shape], ["Sigmoid"], { scale: 6 });
  await compare("leakyRelu", rng, (x) => tf.leakyRelu(x, 0.1), [shape], ["LeakyRelu"]);
  await compare("softmax", rng, (x) => tf.softmax(x), [[13, 10]], ["Softmax"], { scale: 5 });
  await compare("softmax rank 3", rng, (x) => tf.softmax(x), [[2, 3, 17]], ["Softmax"], { scale: 5 });
  await compare(
    "batchNorm",
    rng,
    (x, m, v, o, s) => tf.batchNorm(x, m, tf.abs(v).add(0.5), o, s, 1e-3),
    [shape, [9], [9], [9], [9]],
    ["FusedBatchNorm", "FusedBatchNormGrad"],
  );
  await compare(
    "batch-norm training (batch statistics, gradient through them)",
    rng,
    (x, o, s) => {
      const { mean, variance } = tf.moments(x, [0, 1, 2]);
      return tf.batchNorm(x, mean, variance, o, s, 1e-3);
    },
    [[4, 6, 5, 33], [33], [33]],
    ["FusedBatchNorm", "FusedBatchNormGrad", "Mean"],
  );

  await compare("sum over batch", rng, (x) => tf.sum(x, [0, 1, 2]), [shape], ["Sum"]);
  await compare("mean keepDims", rng, (x) => tf.mean(x, [0, 1], true), [shape], ["Mean"]);
  await compare("mean over H,W", rng, (x) => tf.mean(x, [1, 2]), [shape], ["Mean"]);
  await compare("sum over last axis", rng, (x) => tf.sum(x, -1), [shape], ["Sum"]);
  await compare("moments", rng, (x) => tf.moments(x, [0, 1, 2]).variance, [[4, 6, 6, 33]], ["Mean"]);
});

test("elementwise arithmetic with broadcasting, unary math, clip and tile match cpu", async (t) => {
  if (!built) return t.skip("oneDNN addon not built");
  await initEngine({ backend: "onednn" });
  const rng = new Rng(17);
  const pairs: [number[], number[]][] = [
    [
      [2, 5, 7, 9],
      [2, 5, 7, 9],
    ],
    [[2, 5, 7, 9], [9]],
    [[2, 5, 7, 9], []],
    [[], [3, 4]],
    [
      [2, 1, 1, 9],
      [2, 5, 7, 9],
    ],
    [
      [4, 1],
      [1, 6],
    ],
    [
      [3, 1, 5],
      [3, 4, 1],
    ],
  ];
  const ops: [string, (a: tf.Tensor, b: tf.Tensor) => tf.Tensor][] = [
    ["Add", tf.add],
    ["Sub", tf.sub],
    ["Multiply", tf.mul],
    ["RealDiv", (a, b) => tf.div(a, tf.add(tf.abs(b), 0.5))],
    ["Maximum", tf.maximum],
    ["Minimum", tf.minimum],
    ["SquaredDifference", tf.squaredDifference],
  ];
  for (const [a, b] of pairs) {
    for (const [name, op] of ops) {
      // tfjs's SquaredDifference gradient does not reduce broadcast dimensions.
      const grad =
        name === "SquaredDifference" ? a.join() === b.join() : name !== "Maximum" && name !== "Minimum";
      await compare(`${name} ${a} ${b}`, rng, op, [a, b], [name], { grad });
    }
  }
  const shape = [3, 4, 5];
  const unary: [string, (x: tf.Tensor) => tf.Tensor][] = [
    ["Sqrt", (x) => tf.sqrt(tf.abs(x))],
    ["Square", tf.square],
    ["Exp", tf.exp],
    ["Log", (x) => tf.log(tf.add(tf.abs(x), 0.1))],
    ["Neg", tf.neg],
    ["Abs", tf.abs],
    ["Reciprocal", (x) => tf.reciprocal(tf.add(tf.abs(x), 0.5))],
    ["Rsqrt", (x) => tf.rsqrt(tf.add(tf.abs(x), 0.5))],
  ];
  for (const [name, op] of unary) await compare(name, rng, op, [shape], [name]);
  await compare("Step", rng, (x) => tf.step(x, 0.3), [shape], ["Step"], { grad: false });
  await compare("ClipByValue", rng, (x) => tf.clipByValue(x, -0.4, 0.6), [shape], ["ClipByValue"]);
  await compare("Tile", rng, (x) => tf.tile(x, [2, 1, 3]), [shape], ["Tile"]);
  await compare("Tile of broadcast", rng, (x) => tf.tile(x, [4, 3, 1, 2]), [[1, 1, 5, 3]], ["Tile"]);
});

test("ClipByValue, Relu, Square and Mean gradients run as one native pass, bit-identical to cpu", async (t) => {
  if (!built) return t.skip("oneDNN addon not built");
  await initEngine({ backend: "onednn" });
  const rng = new Rng(18);
  const cases: [string, Op, number[][]][] = [
    ["ReluGrad", (x) => tf.relu(x), [[2, 3, 5, 7]]],
    ["ReluGrad", (x) => tf.relu(x), [[1, 1, 1, 1]]],
    ["SquareGrad", (x) => tf.square(x), [[3, 17]]],
    ["MeanGrad", (x) => tf.mean(x, [0, 1, 2]), [[4, 5, 3, 33]]],
    ["MeanGrad", (x) => tf.mean(x, [1, 2], true), [[2, 6, 5, 7]]],
    ["MeanGrad", (x) => tf.mean(x, -1), [[5, 11]]],
    ["MeanGrad", (x) => tf.mean(x), [[3, 4, 5]]],
    ["MeanGrad", (x) => tf.moments(x, [0, 1, 2]).variance, [[3, 4, 4, 9]]],
    // The exact zero sits on the lower bound, which passes the gradient (x >= min).
    ["ClipByValueGrad", (x) => tf.clipByValue(x, 0, 0.5), [[2, 3, 5, 7]]],
    ["ClipByValueGrad", (x) => tf.clipByValue(x, -0.25, 1e-7), [[4, 9]]],
  ];
  for (const [kernel, op, shapes] of cases) {
    const inputs = shapes.map((shape) => {
      const data = randomArray(rng, tf.util.sizeFromShape(shape));
      // Exact zeros, a NaN and an infinity exercise the step's edges and NaN propagation.
      if (data.length > 3) [data[0], data[1], data[2]] = [0, Number.NaN, Number.POSITIVE_INFINITY];
      return { shape, data };
    });
    const dySeed = rng.seed();
    const dyData = (n: number) => randomArray(new Rng(dySeed), n);
    const before = await nativeCount(kernel);
    const got = await evaluate("onednn", op, inputs, dyData, true);
    assert.ok((await nativeCount(kernel)) > before, `${kernel} ${shapes}: did not run natively`);
    const want = (await evaluate("cpu", op, inputs, dyData, true))[1] as Float32Array;
    const g = got[1] as Float32Array;
    assert.equal(g.length, want.length);
    // Object.is: NaN matches NaN, +0 and -0 differ.
    const diff = g.findIndex((v, i) => !Object.is(v, want[i]));
    assert.equal(
      diff,
      -1,
      `${kernel} ${shapes}: gradient[${diff}] ${g[diff]} differs from cpu ${want[diff]}`,
    );
  }
});

test("pooled output buffers never overwrite data a caller still holds", async (t) => {
  if (!built) return t.skip("oneDNN addon not built");
  await initEngine({ backend: "onednn" });
  await tf.setBackend("onednn");
  const { OnednnBackend } = await import("./backend.js");
  const be = tf.backend();
  assert.ok(be instanceof OnednnBackend);
  const n = 4096;
  const x = tf.tensor1d(randomArray(new Rng(19), n));
  const before = tf.memory().numTensors;
  // A buffer read by dataSync() belongs to the caller from then on.
  const a = tf.relu(x);
  const held = a.dataSync() as Float32Array;
  const copy = held.slice();
  a.dispose();
  // The next output of that size would take the buffer if it had been pooled (and write -x over relu(x)).
  const e = tf.neg(x);
  // A contiguous CPU slice is a subarray over its input's buffer: that buffer is shared from then on.
  const b = tf.relu(x);
  const part = tf.slice(b, [0], [n / 2]);
  // be.f32 reads the storage without handing it out, unlike dataSync().
  const partCopy = be.f32(b)?.slice(0, n / 2);
  b.dispose();
  const f = tf.neg(x);
  assert.deepEqual(held, copy, "a buffer returned by dataSync() was reused");
  assert.deepEqual(part.dataSync(), partCopy, "a buffer under a live slice was reused");
  // A plain intermediate is pooled and its buffer serves the next output of the same size.
  const c = tf.relu(x);
  const cBuffer = be.f32(c)?.buffer;
  c.dispose();
  assert.ok(be.pooledByteCount() >= n * 4, "a disposed native output was not pooled");
  const d = tf.neg(x);
  assert.equal(be.f32(d)?.buffer, cBuffer, "the pooled buffer was not reused");
  assert.deepEqual(d.dataSync(), e.dataSync());
  tf.dispose([part, d, e, f]);
  // Over budget, the size used longest ago makes room for the newer one.
  be.setPoolBudget(3 * n * 4);
  be.drainPool();
  tf.dispose([tf.relu(x), tf.neg(x), tf.abs(x)]);
  assert.equal(be.pooledByteCount(), 3 * n * 4, "three buffers of n floats fit the budget");
  const y = tf.tensor1d(randomArray(new Rng(21), 2 * n));
  tf.neg(y).dispose();
  assert.equal(be.pooledByteCount(), 3 * n * 4, "the 2n buffer replaced two n buffers");
  const z = tf.neg(y);
  assert.equal(be.pooledByteCount(), n * 4, "the 2n buffer was not reused");
  be.setPoolBudget(2048 * 1024 * 1024);
  tf.dispose([y, z]);
  tf.disposeVariables();
  assert.ok(tf.memory().numTensors <= before + 1);
  x.dispose();
});

test("batch-norm statistics (tf.moments as tfjs-layers calls it) run natively and match cpu", async (t) => {
  if (!built) return t.skip("oneDNN addon not built");
  await initEngine({ backend: "onednn" });
  // tfjs-layers calls moments through tfjs-core's CommonJS exports, where the native version is installed.
  const core = createRequire(import.meta.url)("@tensorflow/tfjs-core") as typeof tf;
  const rng = new Rng(20);
  for (const shape of [
    [4, 6, 5, 33],
    [1, 3, 3, 1],
    [7, 130],
    [2, 3, 2, 4, 65],
  ]) {
    const axes = shape.slice(0, -1).map((_, i) => i);
    const op: Op = (x) => {
      const { mean, variance } = core.moments(x, axes);
      // A loss that weighs mean and variance differently per channel, so both gradients matter.
      const w = tf.range(1, (shape.at(-1) ?? 1) + 1);
      return tf.add(tf.mul(mean, w), tf.mul(variance, tf.sqrt(w)));
    };
    const data = randomArray(rng, tf.util.sizeFromShape(shape), 3);
    // An offset on every 7th element keeps the mean away from zero.
    for (let i = 0; i < data.length; i += 7) data[i] = (data[i] as number) + 2;
    const inputs = [{ shape, data }];
    const dySeed = rng.seed();
    const dyData = (n: number) => randomArray(new Rng(dySeed), n);
    const before = [await nativeCount("Moments"), await nativeCount("MomentsGrad")];
    const got = await evaluate("onednn", op, inputs, dyData, true);
    assert.ok((await nativeCount("Moments")) > (before[0] ?? 0), `${shape}: Moments did not run natively`);
    assert.ok(
      (await nativeCount("MomentsGrad")) > (before[1] ?? 0),
      `${shape}: MomentsGrad did not run natively`,
    );
    const want = await evaluate("cpu", op, inputs, dyData, true);
    // Statistics: the same op chain's rounding, so the same bits.
    const stats = async (backend: string) => {
      await tf.setBackend(backend);
      return tf.tidy(() => {
        const { mean, variance } = core.moments(tf.tensor(data, shape), axes);
        return [mean.dataSync().slice(), variance.dataSync().slice()];
      });
    };
    const [m1, v1] = await stats("onednn");
    const [m0, v0] = await stats("cpu");
    assert.deepEqual([...(m1 ?? [])], [...(m0 ?? [])], `${shape}: mean differs from cpu`);
    assert.deepEqual([...(v1 ?? [])], [...(v0 ?? [])], `${shape}: variance differs from cpu`);
    const e = relErr(got[1] as Float32Array, want[1] as Float32Array);
    assert.ok(e < TOL, `${shape}: moments gradient relative error ${e}`);
  }
  // Other reductions keep tfjs's own path.
  await tf.setBackend("onednn");
  const before = await nativeCount("Moments");
  tf.tidy(() => core.moments(tf.ones([3, 4, 5]), [1]));
  tf.tidy(() => core.moments(tf.ones([3, 4, 5]), [0, 1], true));
  assert.equal(await nativeCount("Moments"), before + 1);
});

test("a layout with no JIT kernel on this ISA falls back to one that has one (ResNet-18's 4×4×512 stage)", async (t) => {
  const addon = loadNativeAddon();
  if (!addon) return t.skip("oneDNN addon not built");
  await initEngine({ backend: "onednn" });
  const native = addon as unknown as {
    setConvLayout(mode: number): void;
    implementations(): string[];
    clearImplementations(): void;
  };
  const rng = new Rng(31);
  // Mode 3 asks for 16-channel blocks whatever the ISA: below AVX-512 only oneDNN's reference loops cover them.
  for (const mode of [0, 3]) {
    native.setConvLayout(mode);
    native.clearImplementations();
    try {
      await compare(
        `4x4x64->64 conv, layout mode ${mode}`,
        rng,
        (x, f) => tf.conv2d(x as tf.Tensor4D, f as tf.Tensor4D, 1, "same"),
        [
          [2, 4, 4, 64],
          [3, 3, 64, 64],
        ],
        ["Conv2D", "Conv2DBackpropInput", "Conv2DBackpropFilter"],
      );
      const impls = native.implementations().filter((s) => s.startsWith("convolution"));
      assert.ok(impls.length >= 3, `mode ${mode}: implementations recorded: ${impls.join("; ")}`);
      assert.deepEqual(
        impls.filter((s) => / ref/.test(s)),
        [],
        `mode ${mode}: reference convolution used: ${impls.join("; ")}`,
      );
    } finally {
      native.setConvLayout(0);
    }
  }
});

test("cached weight reorders follow the weights: a new tensor in a reused buffer is reordered again", async (t) => {
  if (!built) return t.skip("oneDNN addon not built");
  await initEngine({ backend: "onednn" });
  const rng = new Rng(32);
  const x = randomArray(rng, 2 * 6 * 6 * 16);
  const w0 = randomArray(rng, 3 * 3 * 16 * 32);
  const run = async (backend: string, scales: number[]) => {
    await tf.setBackend(backend);
    const out: Float32Array[] = [];
    const xt = tf.tensor(x, [2, 6, 6, 16]) as tf.Tensor4D;
    const base = tf.tensor(w0, [3, 3, 16, 32]);
    for (const s of scales) {
      // A native Multiply's output comes from the buffer pool: once the previous weights are disposed, the next
      // ones land in the same buffer with different values.
      const w = tf.tidy(() => tf.mul(base, tf.scalar(s))) as tf.Tensor4D;
      out.push(tf.tidy(() => tf.conv2d(xt, w, 1, "same").dataSync().slice() as Float32Array));
      out.push(tf.tidy(() => tf.conv2d(xt, w, 1, "same").dataSync().slice() as Float32Array));
      w.dispose();
    }
    xt.dispose();
    base.dispose();
    return out;
  };
  const before = tf.memory().numTensors;
  const scales = [1, -2, 0.5];
  const got = await run("onednn", scales);
  const want = await run("cpu", scales);
  got.forEach((g, i) => {
    const e = relErr(g, want[i] as Float32Array);
    assert.ok(e < TOL, `call ${i} (scale ${scales[i >> 1]}): relative error ${e}`);
  });
  await tf.setBackend("onednn");
  assert.equal(tf.memory().numTensors, before);
});
