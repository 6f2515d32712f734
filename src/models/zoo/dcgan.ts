/** Class-conditional DCGAN (Radford et al. 2016, "Unsupervised Representation Learning with Deep Convolutional GANs"; conditioning as Mirza & Osindero 2014). */
import * as tfl from "@tensorflow/tfjs-layers";
import { RadioLensError } from "../../core/errors.js";
import type { Rng } from "../../core/rng.js";
import { tf } from "../../engine/backend.js";
import { checkPositiveInt, SeededInit } from "./init.js";
import { batchNorm } from "./resnet.js";

type SymbolicTensor = tfl.SymbolicTensor;

/** Options for {@link createDcgan}. */
export interface DcganOptions {
  /** `[rows, cols, channels]` of the generated images; rows and cols divisible by 2 at least once. */
  readonly imageShape: readonly [number, number, number];
  /** Number of classes the generator is conditioned on (1 for an unconditional model). */
  readonly numClasses: number;
  readonly seed: number;
  /** Length of the noise vector z (default 100, as in the paper). */
  readonly latentDim?: number;
  /** Filters of the discriminator's first conv / the generator's last hidden conv (default 64). */
  readonly baseFilters?: number;
}

/** A generator and a discriminator built from one seed. */
export interface Dcgan {
  /** Inputs `[z: [latentDim], label: one-hot [numClasses]]`, output images in [-1, 1] (tanh). */
  readonly generator: tfl.LayersModel;
  /** Inputs `[image, label: one-hot [numClasses]]`, output one real/fake logit. */
  readonly discriminator: tfl.LayersModel;
  readonly latentDim: number;
}

/** 2× up-samplings so that the first feature map is at least 3 pixels and at most 4 steps (Radford et al. use 4). */
function upsamplings(rows: number, cols: number): number {
  let k = 0;
  while (k < 4 && rows % 2 ** (k + 1) === 0 && cols % 2 ** (k + 1) === 0 && rows / 2 ** (k + 1) >= 3) k++;
  return k;
}

/**
 * A label embedding as a bias-free dense layer on the one-hot label: the same map as an Embedding lookup, but its
 * gradient is a matmul, whereas Embedding's (a gather's) needs UnsortedSegmentSum, which the WASM backend lacks.
 */
function embed(init: SeededInit, oneHot: SymbolicTensor, units: number, name: string): SymbolicTensor {
  return tfl.layers
    .dense({ units, useBias: false, kernelInitializer: init.normal(0.02), name })
    .apply(oneHot) as SymbolicTensor;
}

/**
 * Builds a conditional DCGAN: the generator projects [z, embed(label)] to a small feature map and doubles it with
 * 4×4 stride-2 transposed convs (BN + ReLU, tanh output); the discriminator sees the image with a learned label map
 * as an extra channel and halves it with 4×4 stride-2 convs (BN + LeakyReLU 0.2). Every weight ~ N(0, 0.02).
 *
 * @example
 * ```ts
 * const { generator, discriminator } = createDcgan({ imageShape: [28, 28, 1], numClasses: 2, seed: 1 });
 * ```
 */
export function createDcgan(opts: DcganOptions): Dcgan {
  const [rows, cols, ch] = opts.imageShape;
  opts.imageShape.forEach((d, i) => {
    checkPositiveInt(`imageShape[${i}]`, d);
  });
  checkPositiveInt("numClasses", opts.numClasses);
  const latentDim = opts.latentDim ?? 100;
  const f = opts.baseFilters ?? 64;
  checkPositiveInt("latentDim", latentDim);
  checkPositiveInt("baseFilters", f);
  const k = upsamplings(rows, cols);
  if (k === 0) {
    throw new RadioLensError("RL_ERR_USAGE", {
      detail: `DCGAN image size ${rows}×${cols} must be divisible by 2 with at least 3 pixels left (e.g. 28, 32, 64)`,
    });
  }
  const init = new SeededInit(opts.seed);
  const h0 = rows / 2 ** k;
  const w0 = cols / 2 ** k;

  // Generator.
  const z = tfl.input({ shape: [latentDim], name: "z" });
  const gLabel = tfl.input({ shape: [opts.numClasses], name: "label" });
  const e = embed(init, gLabel, latentDim, "g_embed");
  let g = tfl.layers.concatenate({ name: "g_concat" }).apply([z, e]) as SymbolicTensor;
  const f0 = f * 2 ** (k - 1);
  g = tfl.layers
    .dense({ units: h0 * w0 * f0, useBias: false, kernelInitializer: init.normal(0.02), name: "g_project" })
    .apply(g) as SymbolicTensor;
  g = tfl.layers.reshape({ targetShape: [h0, w0, f0], name: "g_reshape" }).apply(g) as SymbolicTensor;
  g = batchNorm("g_project_bn").apply(g) as SymbolicTensor;
  g = tfl.layers.activation({ activation: "relu", name: "g_project_relu" }).apply(g) as SymbolicTensor;
  for (let i = k - 1; i >= 1; i--) {
    g = tfl.layers
      .conv2dTranspose({
        filters: f * 2 ** (i - 1),
        kernelSize: 4,
        strides: 2,
        padding: "same",
        useBias: false,
        kernelInitializer: init.normal(0.02),
        name: `g_up${i}`,
      })
      .apply(g) as SymbolicTensor;
    g = batchNorm(`g_up${i}_bn`).apply(g) as SymbolicTensor;
    g = tfl.layers.activation({ activation: "relu", name: `g_up${i}_relu` }).apply(g) as SymbolicTensor;
  }
  g = tfl.layers
    .conv2dTranspose({
      filters: ch,
      kernelSize: 4,
      strides: 2,
      padding: "same",
      activation: "tanh",
      kernelInitializer: init.normal(0.02),
      name: "g_out",
    })
    .apply(g) as SymbolicTensor;
  const generator = tfl.model({ inputs: [z, gLabel], outputs: g, name: "dcgan_generator" });

  // Discriminator.
  const img = tfl.input({ shape: [rows, cols, ch], name: "image" });
  const dLabel = tfl.input({ shape: [opts.numClasses], name: "label" });
  let m = embed(init, dLabel, rows * cols, "d_embed");
  m = tfl.layers.reshape({ targetShape: [rows, cols, 1], name: "d_label_map" }).apply(m) as SymbolicTensor;
  let d = tfl.layers.concatenate({ name: "d_concat" }).apply([img, m]) as SymbolicTensor;
  for (let i = 0; i < k; i++) {
    d = tfl.layers
      .conv2d({
        filters: f * 2 ** i,
        kernelSize: 4,
        strides: 2,
        padding: "same",
        useBias: i === 0,
        kernelInitializer: init.normal(0.02),
        name: `d_down${i}`,
      })
      .apply(d) as SymbolicTensor;
    // No BN on the discriminator's input layer (Radford et al. §3).
    if (i > 0) d = batchNorm(`d_down${i}_bn`).apply(d) as SymbolicTensor;
    d = tfl.layers.leakyReLU({ alpha: 0.2, name: `d_down${i}_lrelu` }).apply(d) as SymbolicTensor;
  }
  d = tfl.layers.flatten({ name: "d_flat" }).apply(d) as SymbolicTensor;
  d = tfl.layers
    .dense({ units: 1, kernelInitializer: init.normal(0.02), name: "d_logit" })
    .apply(d) as SymbolicTensor;
  const discriminator = tfl.model({ inputs: [img, dLabel], outputs: d, name: "dcgan_discriminator" });
  return { generator, discriminator, latentDim };
}

/**
 * Draws `n` noise vectors z ~ N(0, 1) from a RadioLens {@link Rng} (tfjs's random ops would not be resumable).
 *
 * @example
 * ```ts
 * const z = sampleLatent(new Rng(1), 16, 100); // [16, 100]
 * ```
 */
export function sampleLatent(rng: Rng, n: number, latentDim: number): tf.Tensor2D {
  const v = new Float32Array(n * latentDim);
  for (let i = 0; i < v.length; i++) v[i] = rng.normal();
  return tf.tensor2d(v, [n, latentDim]);
}

/** Losses of one {@link dcganTrainStep}. */
export interface DcganStepResult {
  readonly dLoss: number;
  readonly gLoss: number;
}

/**
 * One DCGAN update (Goodfellow et al. 2014, Alg. 1, with the non-saturating generator loss): a discriminator step
 * on real images vs. generated ones, then a generator step, both with sigmoid cross-entropy on logits. Fakes are
 * conditioned on the real batch's one-hot labels. Leaves no tensors behind.
 *
 * @example
 * ```ts
 * const gan = createDcgan({ imageShape: [28, 28, 1], numClasses: 2, seed: 1 });
 * const opt = { g: tf.train.adam(2e-4, 0.5), d: tf.train.adam(2e-4, 0.5) };
 * const { dLoss, gLoss } = dcganTrainStep(gan, opt, realImages, oneHotLabels, rng);
 * ```
 */
export function dcganTrainStep(
  gan: Dcgan,
  optimizers: { readonly g: tf.Optimizer; readonly d: tf.Optimizer },
  realImages: tf.Tensor,
  labels: tf.Tensor,
  rng: Rng,
): DcganStepResult {
  const n = realImages.shape[0] as number;
  const dVars = gan.discriminator.trainableWeights.map((w) => w.read() as tf.Variable);
  const gVars = gan.generator.trainableWeights.map((w) => w.read() as tf.Variable);
  const bce = (target: number, logits: tf.Tensor): tf.Scalar =>
    tf.losses.sigmoidCrossEntropy(tf.fill(logits.shape, target), logits) as tf.Scalar;
  const z1 = sampleLatent(rng, n, gan.latentDim);
  const z2 = sampleLatent(rng, n, gan.latentDim);
  try {
    const dCost = optimizers.d.minimize(
      () => {
        const fake = gan.generator.apply([z1, labels], { training: true }) as tf.Tensor;
        const realLogits = gan.discriminator.apply([realImages, labels], { training: true }) as tf.Tensor;
        const fakeLogits = gan.discriminator.apply([fake, labels], { training: true }) as tf.Tensor;
        return tf.add(bce(1, realLogits), bce(0, fakeLogits)) as tf.Scalar;
      },
      true,
      dVars,
    );
    const gCost = optimizers.g.minimize(
      () => {
        const fake = gan.generator.apply([z2, labels], { training: true }) as tf.Tensor;
        return bce(1, gan.discriminator.apply([fake, labels], { training: true }) as tf.Tensor);
      },
      true,
      gVars,
    );
    const result = { dLoss: dCost?.dataSync()[0] ?? Number.NaN, gLoss: gCost?.dataSync()[0] ?? Number.NaN };
    dCost?.dispose();
    gCost?.dispose();
    return result;
  } finally {
    z1.dispose();
    z2.dispose();
  }
}
