/** `trainModel()`: the whole training job behind `radiolens train` — data, model, callbacks, checkpoints, bundle. */
import { existsSync, mkdirSync, readdirSync } from "node:fs";
import { basename, join } from "node:path";
import type { BatchSource } from "../core/dataset.js";
import { RadioLensError } from "../core/errors.js";
import { writeFileAtomic } from "../core/fs.js";
import { createLogger } from "../core/log.js";
import { Rng } from "../core/rng.js";
import type { Task } from "../core/task.js";
import { subset } from "../data/index.js";
import { MemoryBatchSource } from "../data/memory.js";
import { loadNpzDataset, targetsOf } from "../data/npz-dataset.js";
import { type BackendName, initEngine, tf } from "../engine/backend.js";
import { type ModelCard, type PreprocessStep, saveBundle, sha256File } from "../models/bundle.js";
import type { IntendedUseInputs } from "../models/intended-use.js";
import { createModel } from "../models/registry.js";
import { VERSION } from "../version.js";
import {
  checkpoint,
  cosineDecay,
  earlyStopping,
  lrScheduler,
  metricsLogger,
  reduceLrOnPlateau,
  stepDecay,
} from "./callbacks.js";
import { loadCheckpoint } from "./checkpoint.js";
import { openFileDataset, StreamingBatchSource, samplePreparer } from "./file-data.js";
import { Adam } from "./optim.js";
import { fitSafety, intendedInputsOfDataset } from "./safety.js";
import { type Callback, fit, type TrainState } from "./trainer.js";

/** Everything a training run needs; the CLI flags and the config file map onto this. */
export interface TrainConfig {
  /** A MedMNIST-style .npz, a folder with one sub-folder per class, or a CSV manifest (`path,label[,patient_id][,split]`). */
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
    | { readonly kind: "cosine"; readonly minLr?: number }
    | {
        readonly kind: "plateau";
        readonly monitor?: string;
        readonly patience: number;
        readonly factor?: number;
        readonly minLr?: number;
      };
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
  /** Model input size `[rows, cols]` for folder and manifest datasets (default 224×224; .npz keeps its own size). */
  readonly inputSize?: readonly [number, number];
  /** Model input channels for folder and manifest datasets (1 = grayscale, default; 3 = RGB). */
  readonly channels?: 1 | 3;
  /** Ship the weights of the epoch with the best value of this validation metric instead of the last epoch's. */
  readonly selectBest?: "val_loss" | "val_acc";
  /** The inputs the model is meant for (model card `intendedUse.inputs`); default: what a MedMNIST dataset implies. */
  readonly intendedUse?: IntendedUseInputs;
  /** What the service does with out-of-distribution inputs: not analysed ("refuse", default) or marked ("flag"). */
  readonly oodAction?: "refuse" | "flag";
}

/** Result of {@link trainModel}. */
export interface TrainResult {
  readonly card: ModelCard;
  readonly state: TrainState;
  readonly seconds: number;
}

const TRAIN_SPLIT = "train";
const VAL_SPLIT = "val";

/** Training and validation batches plus what the model card records about the data. */
interface PreparedData {
  readonly train: BatchSource;
  readonly val: BatchSource;
  readonly task: Task;
  readonly numClasses: number;
  readonly labelNames: readonly string[];
  readonly sampleShape: readonly [number, number, number];
  readonly info: Readonly<Record<string, unknown>>;
}

/** The preprocessing recorded in the card and, for file datasets, applied to every training sample. */
function preprocessingFor(shape: readonly [number, number, number]): PreprocessStep[] {
  return [
    shape[2] === 1 ? { op: "grayscale" } : { op: "rgb" },
    { op: "resize", size: [shape[0], shape[1]] },
    { op: "scale", divisor: 255 },
  ];
}

/** Permutes one-hot rows (the random-label canary). */
function shuffleRows(y: Float32Array, k: number, seed: number): Float32Array {
  const n = y.length / k;
  const perm = new Rng(seed ^ 0x5eed).permutation(n);
  const out = new Float32Array(y.length);
  perm.forEach((from, to) => {
    out.set(y.subarray(from * k, (from + 1) * k), to * k);
  });
  return out;
}

function prepareNpz(config: TrainConfig): PreparedData {
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
  if (config.shuffleLabels) yTrain = shuffleRows(yTrain, ds.numClasses, config.seed);
  const memory = (x: Float32Array, y: Float32Array, shuffle: boolean, batchSize: number) =>
    new MemoryBatchSource({
      x,
      sampleShape: train.sampleShape,
      y,
      targetShape: [ds.numClasses],
      batchSize,
      shuffle,
      seed: config.seed,
    });
  return {
    train: memory(xTrain, yTrain, true, config.batchSize),
    val: memory(val.x, targetsOf(val, ds), false, 256),
    task: ds.task,
    numClasses: ds.numClasses,
    labelNames: ds.labelNames,
    sampleShape: train.sampleShape,
    info: {
      file: basename(config.data),
      sha256: sha256File(config.data),
      trainSamples: n,
      valSamples: val.count,
    },
  };
}

function prepareFiles(config: TrainConfig): PreparedData {
  if (config.shuffleLabels)
    throw new RadioLensError("RL_ERR_USAGE", { detail: "--shuffle-labels is available for .npz datasets" });
  const ds = openFileDataset(config.data, config.seed);
  const size = config.inputSize ?? [224, 224];
  const sampleShape: [number, number, number] = [size[0], size[1], config.channels ?? 1];
  const prepare = samplePreparer(preprocessingFor(sampleShape), sampleShape);
  const train =
    config.limit && config.limit < ds.train.size
      ? subset(ds.train, new Rng(config.seed).permutation(ds.train.size).slice(0, config.limit))
      : ds.train;
  const stream = (src: typeof train, shuffle: boolean, batchSize: number) =>
    new StreamingBatchSource(src, { batchSize, seed: config.seed, shuffle, prepare });
  const task = ds.task.type === "segmentation" ? undefined : ds.task.type;
  if (!task)
    throw new RadioLensError("RL_ERR_USAGE", {
      detail: "segmentation datasets train with the segmentation trainer",
    });
  return {
    train: stream(train, true, config.batchSize),
    val: stream(ds.val, false, Math.max(config.batchSize, 64)),
    task,
    numClasses: ds.task.classNames.length,
    labelNames: ds.task.classNames,
    sampleShape,
    info: {
      source: ds.kind,
      path: basename(config.data),
      trainSamples: train.size,
      valSamples: ds.val.size,
      testSamples: ds.test?.size ?? 0,
    },
  };
}

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
  const data = /\.npz$/i.test(config.data) ? prepareNpz(config) : prepareFiles(config);
  const model = createModel(config.model, {
    inputShape: data.sampleShape,
    numClasses: data.numClasses,
    seed: config.seed,
    activation: data.task === "multilabel" ? "sigmoid" : "softmax",
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
  if (config.schedule?.kind === "plateau") {
    const { monitor, patience, factor, minLr } = config.schedule;
    callbacks.push(
      reduceLrOnPlateau({
        monitor: monitor ?? "val_loss",
        patience,
        ...(factor === undefined ? {} : { factor }),
        ...(minLr === undefined ? {} : { minLr }),
      }),
    );
  }
  if (config.earlyStopping) callbacks.push(earlyStopping(config.earlyStopping));
  callbacks.push(...extraCallbacks);
  const state = await fit({
    model,
    optimizer,
    loss: data.task === "multilabel" ? "binaryCrossentropy" : "categoricalCrossentropy",
    train: data.train,
    validation: data.val,
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
  const safety = await fitSafety(model, data.train, data.val, {
    task: data.task,
    numClasses: data.numClasses,
    activation: data.task === "multilabel" ? "sigmoid" : "softmax",
    ...(config.oodAction ? { oodAction: config.oodAction } : {}),
  });
  const inputs = config.intendedUse ?? intendedInputsOfDataset(config.data);
  const seconds = (performance.now() - started) / 1000;
  const card = await saveBundle(config.out, model, {
    name: `${config.model}-${basename(config.data).replace(/\.(npz|csv)$/i, "")}`,
    architecture: config.model,
    version: config.version ?? "1.0.0",
    task: data.task,
    labels: data.labelNames,
    input: { shape: data.sampleShape, layout: "NHWC", dtype: "float32", intensity: "display8" },
    preprocessing: preprocessingFor(data.sampleShape),
    output: { activation: data.task === "multilabel" ? "sigmoid" : "softmax" },
    threshold: 0.5,
    dataset: data.info,
    training: {
      epochs: config.epochs,
      epochsRun: state.epoch,
      batchSize: config.batchSize,
      seed: config.seed,
      learningRate: lr,
      optimizer: "adam",
      loss: data.task === "multilabel" ? "binary_crossentropy" : "categorical_crossentropy",
      backend: engine.backend,
      steps: state.step,
      ...(config.shuffleLabels ? { shuffledLabels: true } : {}),
    },
    metrics: { final: last, ...(config.selectBest ? { selectedBy: config.selectBest } : {}) },
    versions: { radiolens: VERSION, ...engine.versions },
    intendedUse: {
      statement: "Research and decision support only; not a medical device.",
      ...(inputs ? { inputs } : {}),
    },
    ood: safety.ood,
    calibration: safety.calibration,
  });
  const { temperature, eceBefore, eceAfter } = safety.calibration;
  writeFileAtomic(
    join(config.out, "metrics.json"),
    `${JSON.stringify(
      {
        epochs: state.history,
        final: last,
        calibration: { split: "val", temperature, ece_before: eceBefore, ece_after: eceAfter },
        ood: { method: safety.ood.method, threshold: safety.ood.threshold, keep: safety.ood.keep },
        seconds,
      },
      null,
      2,
    )}\n`,
  );
  model.dispose();
  optimizer.dispose();
  createLogger().debug("training finished", { seconds, numTensors: tf.memory().numTensors });
  return { card, state, seconds };
}
