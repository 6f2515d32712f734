/** `trainModel()`: the whole training job behind `radiolens train` — data, model, callbacks, checkpoints, bundle. */
import { existsSync, mkdirSync, readdirSync } from "node:fs";
import { basename, join } from "node:path";
import { RadioLensError } from "../core/errors.js";
import { writeFileAtomic } from "../core/fs.js";
import { createLogger } from "../core/log.js";
import { Rng } from "../core/rng.js";
import { MemoryBatchSource } from "../data/memory.js";
import { loadNpzDataset, targetsOf } from "../data/npz-dataset.js";
import { type BackendName, initEngine, tf } from "../engine/backend.js";
import { type ModelCard, saveBundle, sha256File } from "../models/bundle.js";
import { createModel } from "../models/registry.js";
import { VERSION } from "../version.js";
import {
  checkpoint,
  cosineDecay,
  earlyStopping,
  lrScheduler,
  metricsLogger,
  stepDecay,
} from "./callbacks.js";
import { loadCheckpoint } from "./checkpoint.js";
import { Adam } from "./optim.js";
import { type Callback, fit, type TrainState } from "./trainer.js";

/** Everything a training run needs; the CLI flags and the config file map onto this. */
export interface TrainConfig {
  /** Path to a MedMNIST-style .npz. */
  readonly data: string;
  /** Architecture name from the model registry. */
  readonly model: string;
  readonly epochs: number;
  readonly batchSize: number;
  readonly seed: number;
  /** Output bundle folder. */
  readonly out: string;
  readonly learningRate?: number;
  readonly weightDecay?: number;
  readonly backend?: BackendName;
  readonly threads?: number;
  /** Continue from `out/checkpoints/last`. */
  readonly resume?: boolean;
  /** Save a mid-epoch checkpoint every N steps (0 = only at epoch ends). */
  readonly checkpointEverySteps?: number;
  readonly clipNorm?: number;
  readonly schedule?:
    | { readonly kind: "step"; readonly stepSize: number; readonly gamma?: number }
    | { readonly kind: "cosine"; readonly minLr?: number };
  readonly earlyStopping?: { readonly monitor: string; readonly patience: number };
  /** Limit the training split to its first N samples (quick experiments and tests). */
  readonly limit?: number;
  /** Model version written to the card. */
  readonly version?: string;
  /**
   * Random-label canary: permute the training labels (seeded) so the model can learn nothing real; its test AUC
   * must then stay near 0.5, which catches leaks between splits and evaluation bugs (Zhang et al., ICLR 2017).
   */
  readonly shuffleLabels?: boolean;
  /** Ship the weights of the epoch with the best value of this validation metric instead of the last epoch's. */
  readonly selectBest?: "val_loss" | "val_acc";
}

/** Result of {@link trainModel}. */
export interface TrainResult {
  readonly card: ModelCard;
  readonly state: TrainState;
  readonly seconds: number;
}

const TRAIN_SPLIT = "train";
const VAL_SPLIT = "val";

/**
 * Trains a classifier on an .npz dataset and writes a model bundle to `config.out`. Input problems are found
 * before anything is written; checkpoints and the bundle are written atomically.
 *
 * @example
 * ```ts
 * await trainModel({ data: "pneumoniamnist.npz", model: "seed-cnn", epochs: 3, batchSize: 32, seed: 1, out: "/tmp/m" },
 *   [progressBar({ write: (t) => process.stderr.write(t), tty: true })]);
 * ```
 */
export async function trainModel(
  config: TrainConfig,
  extraCallbacks: readonly Callback[] = [],
): Promise<TrainResult> {
  const started = performance.now();
  if (!(config.epochs >= 1) || !Number.isInteger(config.epochs))
    throw new RadioLensError("RL_ERR_USAGE", { detail: "--epochs must be a positive integer" });
  if (!(config.batchSize >= 1) || !Number.isInteger(config.batchSize))
    throw new RadioLensError("RL_ERR_USAGE", { detail: "--batch-size must be a positive integer" });
  const engine = await initEngine({
    ...(config.backend ? { backend: config.backend } : {}),
    ...(config.threads ? { threads: config.threads } : {}),
  });
  const ds = loadNpzDataset(config.data, [TRAIN_SPLIT, VAL_SPLIT]);
  const train = ds.splits[TRAIN_SPLIT]!;
  const val = ds.splits[VAL_SPLIT]!;
  const per = train.sampleShape.reduce((a, b) => a * b, 1);
  const yAll = targetsOf(train, ds);
  let xTrain = train.x;
  let yTrain = yAll;
  let n = train.count;
  if (config.limit && config.limit < train.count) {
    // A seeded random subset: files are often sorted by label, so the first N samples would be one class.
    const idx = new Rng(config.seed)
      .permutation(train.count)
      .slice(0, config.limit)
      .sort((a, b) => a - b);
    n = idx.length;
    xTrain = new Float32Array(n * per);
    yTrain = new Float32Array(n * ds.numClasses);
    idx.forEach((s, i) => {
      xTrain.set(train.x.subarray(s * per, (s + 1) * per), i * per);
      yTrain.set(yAll.subarray(s * ds.numClasses, (s + 1) * ds.numClasses), i * ds.numClasses);
    });
  }
  if (config.shuffleLabels) {
    const k = ds.numClasses;
    const perm = new Rng(config.seed ^ 0x5eed).permutation(n);
    const src = yTrain.slice();
    yTrain = new Float32Array(src.length);
    perm.forEach((from, to) => {
      yTrain.set(src.subarray(from * k, (from + 1) * k), to * k);
    });
  }
  const trainSrc = new MemoryBatchSource({
    x: xTrain,
    sampleShape: train.sampleShape,
    y: yTrain,
    targetShape: [ds.numClasses],
    batchSize: config.batchSize,
    shuffle: true,
    seed: config.seed,
  });
  const valSrc = new MemoryBatchSource({
    x: val.x,
    sampleShape: val.sampleShape,
    y: targetsOf(val, ds),
    targetShape: [ds.numClasses],
    batchSize: 256,
    shuffle: false,
    seed: config.seed,
  });
  const model = createModel(config.model, {
    inputShape: train.sampleShape,
    numClasses: ds.numClasses,
    seed: config.seed,
    activation: ds.task === "multilabel" ? "sigmoid" : "softmax",
  });
  const lr = config.learningRate ?? 1e-3;
  const optimizer = new Adam({
    learningRate: lr,
    ...(config.weightDecay ? { weightDecay: config.weightDecay } : {}),
  });
  const ckptDir = join(config.out, "checkpoints");
  let resume: TrainState | undefined;
  if (config.resume) {
    const last = join(ckptDir, "last");
    if (!existsSync(last))
      throw new RadioLensError("RL_ERR_USAGE", {
        detail: `--resume: no checkpoint at ${last}; start without --resume`,
      });
    resume = loadCheckpoint(last, model, optimizer).state;
  } else if (existsSync(config.out) && readdirSync(config.out).some((f) => !f.startsWith("."))) {
    // Refuse to mix a new run into an old bundle; the user chooses: --resume or another --out.
    if (existsSync(ckptDir))
      throw new RadioLensError("RL_ERR_USAGE", {
        detail: `${config.out} already holds a training run; pass --resume to continue it or choose another --out`,
      });
  }
  mkdirSync(config.out, { recursive: true });
  const callbacks: Callback[] = [
    checkpoint({
      dir: ckptDir,
      monitor: config.selectBest ?? "val_loss",
      ...(config.checkpointEverySteps ? { everySteps: config.checkpointEverySteps } : {}),
    }),
    metricsLogger(join(config.out, "training_log.jsonl")),
  ];
  if (config.schedule?.kind === "step")
    callbacks.unshift(lrScheduler(stepDecay(config.schedule.stepSize, config.schedule.gamma), lr));
  if (config.schedule?.kind === "cosine")
    callbacks.unshift(lrScheduler(cosineDecay(config.epochs, config.schedule.minLr), lr));
  if (config.earlyStopping) callbacks.push(earlyStopping(config.earlyStopping));
  callbacks.push(...extraCallbacks);
  const state = await fit({
    model,
    optimizer,
    loss: ds.task === "multilabel" ? "binaryCrossentropy" : "categoricalCrossentropy",
    train: trainSrc,
    validation: valSrc,
    epochs: config.epochs,
    seed: config.seed,
    callbacks,
    ...(config.clipNorm ? { clipNorm: config.clipNorm } : {}),
    ...(resume ? { resume } : {}),
  });
  let last = state.history[state.history.length - 1] ?? {};
  if (config.selectBest) {
    // Like Keras's restore_best_weights: the bundle gets the epoch with the best validation metric.
    const best = loadCheckpoint(join(ckptDir, "best"), model, optimizer).state;
    last = best.history[best.history.length - 1] ?? last;
  }
  const seconds = (performance.now() - started) / 1000;
  const card = await saveBundle(config.out, model, {
    name: `${config.model}-${basename(config.data).replace(/\.npz$/i, "")}`,
    architecture: config.model,
    version: config.version ?? "1.0.0",
    task: ds.task,
    labels: ds.labelNames,
    input: { shape: train.sampleShape, layout: "NHWC", dtype: "float32", intensity: "display8" },
    preprocessing: [
      train.sampleShape[2] === 1 ? { op: "grayscale" } : { op: "rgb" },
      { op: "resize", size: [train.sampleShape[0], train.sampleShape[1]] },
      { op: "scale", divisor: 255 },
    ],
    output: { activation: ds.task === "multilabel" ? "sigmoid" : "softmax" },
    threshold: 0.5,
    dataset: {
      file: basename(config.data),
      sha256: sha256File(config.data),
      trainSamples: n,
      valSamples: val.count,
    },
    training: {
      epochs: config.epochs,
      epochsRun: state.epoch,
      batchSize: config.batchSize,
      seed: config.seed,
      learningRate: lr,
      optimizer: "adam",
      loss: ds.task === "multilabel" ? "binary_crossentropy" : "categorical_crossentropy",
      backend: engine.backend,
      steps: state.step,
      ...(config.shuffleLabels ? { shuffledLabels: true } : {}),
    },
    metrics: { final: last, ...(config.selectBest ? { selectedBy: config.selectBest } : {}) },
    versions: { radiolens: VERSION, ...engine.versions },
    intendedUse: "Research and decision support only; not a medical device.",
  });
  writeFileAtomic(
    join(config.out, "metrics.json"),
    `${JSON.stringify({ epochs: state.history, final: last, seconds }, null, 2)}\n`,
  );
  model.dispose();
  optimizer.dispose();
  createLogger().debug("training finished", { seconds, numTensors: tf.memory().numTensors });
  return { card, state, seconds };
}
