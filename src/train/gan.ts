/** Conditional DCGAN training on an .npz dataset within an epoch or time budget, and sampling to a PNG grid. */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { RadioLensError } from "../core/errors.js";
import { writeFileAtomic } from "../core/fs.js";
import { createImage } from "../core/image.js";
import { Rng } from "../core/rng.js";
import { loadNpzDataset } from "../data/npz-dataset.js";
import { type BackendName, initEngine, tf } from "../engine/backend.js";
import { encodePng } from "../io/image/index.js";
import { deserializeModel, serializeModel } from "../models/bundle.js";
import { createDcgan, dcganTrainStep, sampleLatent } from "../models/zoo/index.js";

/** Options of {@link trainGan}. */
export interface GanTrainConfig {
  /** MedMNIST-style .npz; its `train` split is used. */
  readonly data: string;
  /** Train on this class only (e.g. 1 = pneumonia); all classes when omitted. */
  readonly label?: number;
  readonly epochs?: number;
  /** Wall-clock budget in seconds; training stops after the step that crosses it. */
  readonly seconds?: number;
  readonly batchSize: number;
  readonly seed: number;
  /** Output folder: `generator/` (model.json + weights.bin), `gan.json`, `samples.png`, `log.jsonl`. */
  readonly out: string;
  readonly latentDim?: number;
  readonly backend?: BackendName;
}

/** What {@link trainGan} did. */
export interface GanTrainResult {
  readonly steps: number;
  readonly seconds: number;
  readonly dLoss: number;
  readonly gLoss: number;
}

interface GanCard {
  readonly format: "radiolens-gan";
  readonly numClasses: number;
  readonly latentDim: number;
  readonly imageShape: readonly [number, number, number];
  readonly labels: readonly string[];
}

/**
 * Writes a grid of images in [-1, 1] (NHWC, 1 or 3 channels) as a PNG.
 *
 * @example
 * ```ts
 * writeGrid("/tmp/g.png", fakes, 4);
 * ```
 */
export function writeGrid(path: string, images: tf.Tensor4D, columns: number): void {
  const [n, h, w, c] = images.shape;
  const data = images.dataSync();
  const rowsOfTiles = Math.ceil(n / columns);
  const gap = 2;
  const H = rowsOfTiles * (h + gap) - gap;
  const W = columns * (w + gap) - gap;
  const out = new Uint8Array(H * W * c);
  for (let i = 0; i < n; i++) {
    const oy = Math.floor(i / columns) * (h + gap);
    const ox = (i % columns) * (w + gap);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        for (let k = 0; k < c; k++) {
          const v = data[((i * h + y) * w + x) * c + k] as number;
          out[((oy + y) * W + ox + x) * c + k] = Math.round(((Math.max(-1, Math.min(1, v)) + 1) / 2) * 255);
        }
      }
    }
  }
  writeFileAtomic(path, encodePng(createImage(out, [H, W, c])));
}

function oneHot(labels: readonly number[], k: number): tf.Tensor2D {
  return tf.tidy(() => tf.oneHot(tf.tensor1d([...labels], "int32"), k).toFloat() as tf.Tensor2D);
}

/**
 * Trains a class-conditional DCGAN (Radford et al., ICLR 2016) and writes the generator and a sample grid.
 *
 * @example
 * ```ts
 * await trainGan({ data: "pneumoniamnist.npz", label: 1, seconds: 300, batchSize: 64, seed: 1, out: "/tmp/gan" });
 * ```
 */
export async function trainGan(
  cfg: GanTrainConfig,
  onStep?: (step: number, d: number, g: number) => void,
): Promise<GanTrainResult> {
  if (cfg.epochs === undefined && cfg.seconds === undefined)
    throw new RadioLensError("RL_ERR_USAGE", { detail: "give --epochs or --seconds" });
  await initEngine(cfg.backend ? { backend: cfg.backend } : {});
  const ds = loadNpzDataset(cfg.data, ["train"]);
  const split = ds.splits["train"]!;
  const per = split.sampleShape.reduce((a, b) => a * b, 1);
  const idx: number[] = [];
  for (let i = 0; i < split.count; i++)
    if (cfg.label === undefined || split.labels[i] === cfg.label) idx.push(i);
  if (idx.length === 0)
    throw new RadioLensError("RL_ERR_DATA_EMPTY", { detail: `no training image has label ${cfg.label}` });
  const rng = new Rng(cfg.seed);
  const gan = createDcgan({
    imageShape: split.sampleShape,
    numClasses: ds.numClasses,
    seed: cfg.seed,
    ...(cfg.latentDim ? { latentDim: cfg.latentDim } : {}),
  });
  const opt = { g: tf.train.adam(2e-4, 0.5), d: tf.train.adam(2e-4, 0.5) };
  const started = performance.now();
  const budget = (cfg.seconds ?? Number.POSITIVE_INFINITY) * 1000;
  const epochs = cfg.epochs ?? Number.POSITIVE_INFINITY;
  let steps = 0;
  let last = { dLoss: Number.NaN, gLoss: Number.NaN };
  const log: string[] = [];
  outer: for (let epoch = 0; epoch < epochs; epoch++) {
    const order = rng.shuffle([...idx]);
    for (let s = 0; s + cfg.batchSize <= order.length; s += cfg.batchSize) {
      const batch = order.slice(s, s + cfg.batchSize);
      const x = new Float32Array(batch.length * per);
      batch.forEach((j, i) => {
        for (let p = 0; p < per; p++) x[i * per + p] = (split.x[j * per + p] as number) * 2 - 1;
      });
      const real = tf.tensor4d(x, [batch.length, ...split.sampleShape]);
      const labels = oneHot(
        batch.map((j) => split.labels[j] as number),
        ds.numClasses,
      );
      last = dcganTrainStep(gan, opt, real, labels, rng);
      real.dispose();
      labels.dispose();
      steps++;
      if (steps % 10 === 0)
        log.push(JSON.stringify({ step: steps, epoch, d_loss: last.dLoss, g_loss: last.gLoss }));
      onStep?.(steps, last.dLoss, last.gLoss);
      if (!Number.isFinite(last.dLoss) || !Number.isFinite(last.gLoss)) {
        throw new RadioLensError("RL_ERR_TRAINING_DIVERGED", {
          detail: `GAN training diverged at step ${steps}`,
        });
      }
      if (performance.now() - started >= budget) break outer;
    }
  }
  const { modelJson, weightData } = await serializeModel(gan.generator);
  writeFileAtomic(join(cfg.out, "generator", "model.json"), modelJson);
  writeFileAtomic(join(cfg.out, "generator", "weights.bin"), weightData);
  const card: GanCard = {
    format: "radiolens-gan",
    numClasses: ds.numClasses,
    latentDim: gan.latentDim,
    imageShape: split.sampleShape,
    labels: ds.labelNames,
  };
  writeFileAtomic(join(cfg.out, "gan.json"), `${JSON.stringify(card, null, 2)}\n`);
  writeFileAtomic(join(cfg.out, "log.jsonl"), `${log.join("\n")}\n`);
  const sampleLabel = cfg.label ?? 0;
  tf.tidy(() => {
    const z = sampleLatent(new Rng(cfg.seed + 1), 64, gan.latentDim);
    const fakes = gan.generator.predict([
      z,
      oneHot(new Array(64).fill(sampleLabel), ds.numClasses),
    ]) as tf.Tensor4D;
    writeGrid(join(cfg.out, "samples.png"), fakes, 8);
  });
  gan.generator.dispose();
  gan.discriminator.dispose();
  opt.g.dispose();
  opt.d.dispose();
  return { steps, seconds: (performance.now() - started) / 1000, ...last };
}

/** Options of {@link sampleGan}. */
export interface GanSampleOptions {
  /** A folder written by {@link trainGan}. */
  readonly model: string;
  readonly n: number;
  readonly label: number;
  readonly seed: number;
  /** Output PNG. */
  readonly out: string;
  readonly backend?: BackendName;
}

/**
 * Generates `n` images of class `label` and writes them as a PNG grid.
 *
 * @example
 * ```ts
 * await sampleGan({ model: "/tmp/gan", n: 16, label: 1, seed: 3, out: "/tmp/s.png" });
 * ```
 */
export async function sampleGan(opts: GanSampleOptions): Promise<void> {
  await initEngine(opts.backend ? { backend: opts.backend } : {});
  const cardPath = join(opts.model, "gan.json");
  if (!existsSync(cardPath))
    throw new RadioLensError("RL_ERR_MODEL_NOT_FOUND", {
      path: opts.model,
      detail: "gan.json is missing (train with 'radiolens gan train')",
    });
  const card = JSON.parse(readFileSync(cardPath, "utf8")) as GanCard;
  if (!(opts.label >= 0 && opts.label < card.numClasses))
    throw new RadioLensError("RL_ERR_USAGE", { detail: `--label must be in 0..${card.numClasses - 1}` });
  const g = await deserializeModel(
    {
      modelJson: readFileSync(join(opts.model, "generator", "model.json"), "utf8"),
      weightData: readFileSync(join(opts.model, "generator", "weights.bin")),
    },
    opts.model,
  );
  tf.tidy(() => {
    const z = sampleLatent(new Rng(opts.seed), opts.n, card.latentDim);
    const fakes = g.predict([z, oneHot(new Array(opts.n).fill(opts.label), card.numClasses)]) as tf.Tensor4D;
    writeGrid(opts.out, fakes, Math.ceil(Math.sqrt(opts.n)));
  });
  g.dispose();
}
