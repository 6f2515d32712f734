/** Model zoo: reference parameter counts, output shapes, one SGD step lowers the loss, seeded weights, no tensor leak. */
import assert from "node:assert/strict";
import { before, describe, test } from "node:test";
import type * as tfl from "@tensorflow/tfjs-layers";
import { isRadioLensError } from "../../core/errors.js";
import { Rng } from "../../core/rng.js";
import { initEngine, tf } from "../../engine/backend.js";
import { shareDropoutRng } from "../layers.js";
import {
  countTrainableParams,
  createDcgan,
  createDenseNet,
  createMobileNetV2,
  createResNet,
  createUNet,
  createZooModel,
  dcganTrainStep,
  diceCeLoss,
  softDiceLoss,
  ZOO,
  zooEntry,
} from "./index.js";
import { VoxelShuffle3D } from "./layers3d.js";

before(async () => {
  await initEngine({ backend: "wasm" });
});

function randomTensor(rng: Rng, shape: number[]): tf.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const v = new Float32Array(n);
  for (let i = 0; i < n; i++) v[i] = rng.normal();
  return tf.tensor(v, shape);
}

function oneHot(labels: number[], c: number): tf.Tensor2D {
  return tf.tidy(() => tf.oneHot(tf.tensor1d(labels, "int32"), c).toFloat() as tf.Tensor2D);
}

/** Loss on the batch in training mode (batch-norm batch statistics), before and after one SGD step. */
function sgdStep(
  model: tfl.LayersModel,
  x: tf.Tensor | tf.Tensor[],
  y: tf.Tensor,
  loss: (yTrue: tf.Tensor, yPred: tf.Tensor) => tf.Scalar,
  lr: number,
): { before: number; after: number } {
  const opt = tf.train.sgd(lr);
  const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const f = (): tf.Scalar => loss(y, model.apply(x, { training: true }) as tf.Tensor);
  // Dropout masks are drawn per call; the same fresh RNG before each evaluation gives both the same mask.
  const evalLoss = (): number => {
    shareDropoutRng(model, new Rng(99));
    return tf.tidy(() => f().dataSync()[0] as number);
  };
  const b = evalLoss();
  tf.tidy(() => {
    opt.minimize(f, false, vars);
  });
  const a = evalLoss();
  opt.dispose();
  return { before: b, after: a };
}

const cce = (t: tf.Tensor, p: tf.Tensor): tf.Scalar =>
  tf.neg(tf.mean(tf.sum(tf.mul(t, tf.log(tf.clipByValue(p, 1e-7, 1))), -1))) as tf.Scalar;

function withModel<T>(model: tfl.LayersModel, fn: (m: tfl.LayersModel) => T): T {
  try {
    return fn(model);
  } finally {
    model.dispose();
  }
}

describe("reference parameter counts (trainable, as torchvision/PyTorch count them)", () => {
  // Counts are independent of the spatial input size (global pooling), so small inputs keep the test fast.
  const cases: [string, () => tfl.LayersModel, number][] = [
    // torchvision.models.resnet18/34/50(num_classes=1000)
    [
      "resnet18 imagenet",
      () => createResNet({ depth: 18, inputShape: [32, 32, 3], numClasses: 1000, seed: 1 }),
      11_689_512,
    ],
    [
      "resnet34 imagenet",
      () => createResNet({ depth: 34, inputShape: [32, 32, 3], numClasses: 1000, seed: 1 }),
      21_797_672,
    ],
    [
      "resnet50 imagenet",
      () => createResNet({ depth: 50, inputShape: [32, 32, 3], numClasses: 1000, seed: 1 }),
      25_557_032,
    ],
    // The CIFAR-style ResNet the MedMNIST experiments use (3×3 stem, no pool): 11,173,962 for 3 channels, 10 classes
    // (its ResNet-50 form, 23,520,842, follows from the same stem change and was checked when the zoo was written).
    [
      "resnet18 medmnist 3ch/10",
      () =>
        createResNet({ depth: 18, variant: "medmnist", inputShape: [28, 28, 3], numClasses: 10, seed: 1 }),
      11_173_962,
    ],
    // torchvision.models.densenet121() / mobilenet_v2()
    ["densenet121", () => createDenseNet({ inputShape: [32, 32, 3], numClasses: 1000, seed: 1 }), 7_978_856],
    [
      "mobilenetv2",
      () => createMobileNetV2({ inputShape: [32, 32, 3], numClasses: 1000, seed: 1 }),
      3_504_872,
    ],
    // Ronneberger et al. 2015 (padded convs, no BN), 1 input and 1 output channel.
    [
      "unet2d paper",
      () =>
        createUNet({
          inputShape: [32, 32, 1],
          numClasses: 1,
          seed: 1,
          baseFilters: 64,
          depth: 4,
          batchNorm: false,
        }),
      31_030_593,
    ],
  ];
  for (const [name, build, expected] of cases) {
    test(name, () => {
      const n0 = tf.memory().numTensors;
      withModel(build(), (m) => {
        assert.equal(countTrainableParams(m), expected);
        const inShape = m.inputs[0]!.shape.slice(1) as number[];
        const outShape = tf.tidy(() => (m.predict(tf.zeros([1, ...inShape])) as tf.Tensor).shape);
        assert.deepEqual(
          outShape,
          m.outputs[0]!.shape.map((d) => d ?? 1),
        );
      });
      assert.equal(tf.memory().numTensors, n0, "model.dispose() frees every weight");
    });
  }
});

describe("output shapes of every zoo entry", () => {
  test("classifiers, segmenters and fusion", () => {
    const n0 = tf.memory().numTensors;
    // The classifiers' shapes are checked with their parameter counts and gradient steps.
    const expectOut: Record<string, [number[], number[]]> = {
      "resnet34-28": [
        [28, 28, 1],
        [2, 5],
      ],
      unet2d: [
        [32, 32, 1],
        [2, 32, 32, 5],
      ],
      unet3d: [
        [8, 16, 16, 1],
        [2, 8, 16, 16, 5],
      ],
    };
    for (const [name, [inShape, outShape]] of Object.entries(expectOut)) {
      withModel(createZooModel(name, { inputShape: inShape, numClasses: 5, seed: 3 }), (m) => {
        const shape = tf.tidy(() => (m.predict(tf.zeros([2, ...inShape])) as tf.Tensor).shape);
        assert.deepEqual(shape, outShape, name);
      });
    }
    withModel(createZooModel("fusion", { inputShape: [28, 28, 1], numClasses: 4, seed: 3 }), (m) => {
      const p = tf.tidy(() => {
        const out = m.predict([
          tf.zeros([2, 28, 28, 1]),
          tf.tensor2d([
            [0.5, 1, 0],
            [0.7, 0, 1],
          ]),
        ]) as tf.Tensor;
        return { shape: out.shape, sums: Array.from(tf.sum(out, 1).dataSync()) };
      });
      assert.deepEqual(p.shape, [2, 4]);
      for (const s of p.sums) assert.ok(Math.abs(s - 1) < 1e-5, "softmax rows sum to 1");
    });
    assert.equal(tf.memory().numTensors, n0);
  });

  test("every ZOO name is documented and unknown names are refused with the list", () => {
    for (const [name, e] of Object.entries(ZOO)) assert.ok(e.description.length > 20, name);
    assert.throws(
      () => zooEntry("resnet19"),
      (e) => isRadioLensError(e, "RL_ERR_UNKNOWN_MODEL") && e.message.includes("resnet18-28"),
    );
    assert.throws(
      () => createZooModel("unet2d", { inputShape: [30, 30, 1], numClasses: 2, seed: 1 }),
      (e) => isRadioLensError(e, "RL_ERR_USAGE") && e.message.includes("divisible"),
    );
  });
});

describe("one gradient step lowers the loss on a tiny batch", () => {
  const rng = new Rng(11);
  // 12×12 inputs keep the WASM backward pass fast (at 8×8 the last stages see 1×1 maps and batch norm over 4 values).
  // The step is small because batch norm makes gradients scale like 1/‖w‖: a freshly initialized stem conv has
  // gradient norms² of ~1e5 (MobileNetV2) and ~1e3 (ResNet-18), the same on the CPU backend.
  for (const name of ["resnet18-28", "densenet121-28", "mobilenetv2-28"]) {
    test(name, () => {
      const n0 = tf.memory().numTensors;
      const x = randomTensor(rng, [4, 12, 12, 1]);
      const y = oneHot([0, 1, 2, 1], 3);
      withModel(createZooModel(name, { inputShape: [12, 12, 1], numClasses: 3, seed: 5 }), (m) => {
        assert.deepEqual(m.outputs[0]!.shape, [null, 3]);
        const { before, after } = sgdStep(m, x, y, cce, 1e-6);
        assert.ok(Number.isFinite(before) && after < before, `${name}: ${before} -> ${after}`);
      });
      tf.dispose([x, y]);
      assert.equal(tf.memory().numTensors, n0);
    });
  }

  test("fusion (image + tabular)", () => {
    const x = randomTensor(rng, [4, 28, 28, 1]);
    const t = tf.tensor2d([
      [0.3, 1, 0],
      [0.8, 0, 1],
      [0.5, 1, 0],
      [0.6, 0, 1],
    ]);
    const y = oneHot([0, 1, 0, 1], 2);
    withModel(createZooModel("fusion", { inputShape: [28, 28, 1], numClasses: 2, seed: 5 }), (m) => {
      const { before, after } = sgdStep(m, [x, t], y, cce, 0.05);
      assert.ok(after < before, `${before} -> ${after}`);
    });
    tf.dispose([x, t, y]);
  });

  test("U-Net 2D and 3D with Dice + cross-entropy", () => {
    const n0 = tf.memory().numTensors;
    for (const shape of [
      [16, 16, 1],
      [8, 8, 8, 1],
    ]) {
      const x = randomTensor(rng, [2, ...shape]);
      // A blob mask: class 1 where x > 0.5.
      const y = tf.tidy(() => {
        const fg = tf.greater(x, 0.5).toFloat();
        return tf.concat([tf.sub(1, fg), fg], -1);
      });
      withModel(createUNet({ inputShape: shape, numClasses: 2, seed: 2, baseFilters: 4, depth: 2 }), (m) => {
        // A small step: first-order decrease is guaranteed only when lr·‖g‖ is small.
        const { before, after } = sgdStep(m, x, y, (a, b) => diceCeLoss(a, b), 0.001);
        assert.ok(after < before, `${shape.length - 1}D: ${before} -> ${after}`);
      });
      tf.dispose([x, y]);
    }
    assert.equal(tf.memory().numTensors, n0);
  });

  test("conditional DCGAN: a training step moves D(real) towards 'real' and leaves no tensors", () => {
    const gan = createDcgan({
      imageShape: [28, 28, 1],
      numClasses: 2,
      seed: 4,
      baseFilters: 8,
      latentDim: 16,
    });
    const real = tf.tidy(() => tf.tanh(randomTensor(rng, [4, 28, 28, 1])));
    const labels = oneHot([0, 1, 0, 1], 2);
    const realLoss = (): number =>
      tf.tidy(() => {
        const logits = gan.discriminator.apply([real, labels], { training: true }) as tf.Tensor;
        return tf.losses.sigmoidCrossEntropy(tf.onesLike(logits), logits).dataSync()[0] as number;
      });
    const opt = { g: tf.train.sgd(0.05), d: tf.train.sgd(0.05) };
    const before = realLoss();
    const n0 = tf.memory().numTensors;
    const r = dcganTrainStep(gan, opt, real, labels, new Rng(9));
    assert.equal(tf.memory().numTensors, n0, "train step leaks no tensors");
    assert.ok(Number.isFinite(r.dLoss) && Number.isFinite(r.gLoss));
    assert.ok(realLoss() < before);
    const fakes = tf.tidy(
      () => (gan.generator.predict([tf.zeros([2, 16]), oneHot([0, 1], 2)]) as tf.Tensor).shape,
    );
    assert.deepEqual(fakes, [2, 28, 28, 1]);
    tf.dispose([real, labels]);
    gan.generator.dispose();
    gan.discriminator.dispose();
    opt.g.dispose();
    opt.d.dispose();
  });
});

describe("seeded initialization", () => {
  const weightsOf = (m: tfl.LayersModel): Float32Array[] =>
    m.getWeights().map((w) => w.dataSync() as Float32Array);
  const same = (a: Float32Array[], b: Float32Array[]): boolean =>
    a.length === b.length &&
    a.every((x, i) => Buffer.from(x.buffer).equals(Buffer.from((b[i] as Float32Array).buffer)));

  const builders: Record<string, (seed: number) => tfl.LayersModel> = {
    "resnet18-28": (seed) => createZooModel("resnet18-28", { inputShape: [28, 28, 1], numClasses: 2, seed }),
    "densenet121-28": (seed) =>
      createZooModel("densenet121-28", { inputShape: [28, 28, 1], numClasses: 2, seed }),
    "mobilenetv2-28": (seed) =>
      createZooModel("mobilenetv2-28", { inputShape: [28, 28, 1], numClasses: 2, seed }),
    unet3d: (seed) => createUNet({ inputShape: [8, 8, 8, 1], numClasses: 2, seed, baseFilters: 4, depth: 2 }),
    fusion: (seed) => createZooModel("fusion", { inputShape: [28, 28, 1], numClasses: 2, seed }),
  };
  for (const [name, build] of Object.entries(builders)) {
    test(`${name}: same seed → identical weights and layer names`, () => {
      const [a, b] = [build(7), build(7)];
      const wa = weightsOf(a);
      assert.ok(same(wa, weightsOf(b)));
      assert.deepEqual(
        a.layers.map((l) => l.name),
        b.layers.map((l) => l.name),
        "fixed layer names keep saved topologies identical",
      );
      b.dispose();
      a.dispose();
    });
  }

  test("another seed gives other weights", () => {
    for (const build of [builders["mobilenetv2-28"], builders["fusion"]]) {
      const [a, c] = [build!(7), build!(8)];
      assert.ok(!same(weightsOf(a), weightsOf(c)));
      a.dispose();
      c.dispose();
    }
  });

  test("dcgan: same seed → identical generator and discriminator", () => {
    const a = createDcgan({ imageShape: [28, 28, 1], numClasses: 3, seed: 1, baseFilters: 8 });
    const b = createDcgan({ imageShape: [28, 28, 1], numClasses: 3, seed: 1, baseFilters: 8 });
    assert.ok(same(weightsOf(a.generator), weightsOf(b.generator)));
    assert.ok(same(weightsOf(a.discriminator), weightsOf(b.discriminator)));
    for (const m of [a.generator, a.discriminator, b.generator, b.discriminator]) m.dispose();
  });
});

describe("VoxelShuffle3D", () => {
  test("places channel (a, b, c, f) of voxel (d, h, w) at (2d+a, 2h+b, 2w+c, f)", () => {
    const [D, H, W, F] = [2, 3, 2, 2];
    const x = tf.range(0, D * H * W * 8 * F).reshape([1, D, H, W, 8 * F]);
    const y = new VoxelShuffle3D({}).apply(x) as tf.Tensor;
    assert.deepEqual(y.shape, [1, 2 * D, 2 * H, 2 * W, F]);
    const xv = x.dataSync();
    const yv = y.dataSync();
    for (let d = 0; d < D; d++)
      for (let h = 0; h < H; h++)
        for (let w = 0; w < W; w++)
          for (let a = 0; a < 2; a++)
            for (let b = 0; b < 2; b++)
              for (let c = 0; c < 2; c++)
                for (let f = 0; f < F; f++) {
                  const src = (((d * H + h) * W + w) * 8 + (a * 4 + b * 2 + c)) * F + f;
                  const dst = (((2 * d + a) * 2 * H + 2 * h + b) * 2 * W + 2 * w + c) * F + f;
                  assert.equal(yv[dst], xv[src]);
                }
    tf.dispose([x, y]);
  });
});

describe("Dice + cross-entropy loss", () => {
  test("hand-computed values", () => {
    const n0 = tf.memory().numTensors;
    // Two pixels, two classes; truth [bg, fg], prediction [[0.8, 0.2], [0.4, 0.6]].
    const t = tf.tensor4d([1, 0, 0, 1], [1, 1, 2, 2]);
    const p = tf.tensor4d([0.8, 0.2, 0.4, 0.6], [1, 1, 2, 2]);
    // Dice bg = 2·0.8 / (1 + 1.2) = 0.72727; fg = 2·0.6 / (1 + 0.8) = 0.66667; loss = 1 − mean.
    const dice = softDiceLoss(t, p, { smooth: 0 });
    assert.ok(Math.abs((dice.dataSync()[0] as number) - (1 - (0.727272727 + 0.666666667) / 2)) < 1e-5);
    const fgOnly = softDiceLoss(t, p, { smooth: 0, includeBackground: false });
    assert.ok(Math.abs((fgOnly.dataSync()[0] as number) - (1 - 0.666666667)) < 1e-5);
    // CE = −(ln 0.8 + ln 0.6)/2 = 0.36698.
    const both = diceCeLoss(t, p, { smooth: 0 });
    assert.ok(
      Math.abs((both.dataSync()[0] as number) - (1 - (0.727272727 + 0.666666667) / 2 + 0.366985)) < 1e-4,
    );
    const perfect = softDiceLoss(t, t);
    assert.ok((perfect.dataSync()[0] as number) < 1e-6);
    tf.dispose([t, p, dice, fgOnly, both, perfect]);
    assert.equal(tf.memory().numTensors, n0);
  });
});
