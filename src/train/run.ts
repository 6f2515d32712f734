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
import { batchAugmenter } from "../transforms/batch-augment.js";
import { VERSION } from "../version.js";
import { PeriodicBatchSource, validationAuc, wallClockCap, warmupCosineSteps } from "./budget.js";
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
import {
  FEATURE_BATCH,
  fitSafety,
  intendedInputsOfDataset,
  safetySample,
  stratumOfTargets,
} from "./safety.js";
import { type Callback, fit, type LossFn, type TrainState } from "./trainer.js";

/**
 * Categorical cross-entropy on probabilities against targets smoothed to `y·(1-ε) + ε/K` (label smoothing,
 * Szegedy et al. 2016, "Rethinking the Inception Architecture", §7).
 */
function smoothedCrossentropy(eps: number): LossFn {
  return (y, p) =>
    tf.tidy(() => {
      const k = y.shape[y.shape.length - 1] as number;
      const ys = tf.add(tf.mul(y, 1 - eps), eps / k);
      return tf.neg(tf.sum(tf.mul(ys, tf.log(tf.clipByValue(p, 1e-7, 1 - 1e-7))), -1)) as tf.Tensor1D;
    });
}

/** Everything a training run needs; the CLI flags and the config file map onto this. */
export interface TrainConfig {
  /** A MedMNIST-style .npz, a folder with one sub-folder per class, or a CSV manifest (`path,label[,patient_id][,split]`). */
  readonly data: string;
  /** Architecture name from the model registry. */
  readonly model: string;
  /** Passes over the training split; a step budget (`steps`) replaces it. */
  readonly epochs?: number;
  /**
   * Budget in optimizer steps: training runs in periods of `evalEverySteps` steps (default: one epoch, at most 100
   * steps), each followed by validation, checkpoints and early stopping, so the cost does not depend on the
   * dataset's size and the same seed gives the same weights.
   */
  readonly steps?: number;
  /** Wall-clock safety cap in minutes, checked after each period; a run it stops is logged. */
  readonly maxMinutes?: number;
  readonly evalEverySteps?: number;
  /** Linear warm-up steps before the step-wise cosine schedule (with `steps` and `schedule: cosine`). */
  readonly warmupSteps?: number;
  /** Channels of the first stage of zoo ResNets (default 64). */
  readonly width?: number;
  /** Seeded training augmentation, adapted to the data: flips and shifts along every spatial axis of 2D or 3D samples. */
  readonly augment?: { readonly flip?: boolean; readonly maxShift?: number; readonly intensity?: number };
  /** Per-sample loss weights from class frequencies: 1/f ("balanced") or 1/√f ("sqrt"), mean 1. */
  readonly classWeighting?: "none" | "balanced" | "sqrt";
  /** Label smoothing ε of single-label targets (Szegedy et al. 2016, §7). */
  readonly labelSmoothing?: number;
  /** Average predictions over flips at evaluation (test-time augmentation); recorded in the card. */
  readonly tta?: boolean;
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
    /** × gamma (default 0.1) at each milestone epoch, e.g. the MedMNIST v2 protocol's [50, 75]. */
    | { readonly kind: "multistep"; readonly milestones: readonly number[]; readonly gamma?: number }
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
  readonly selectBest?: "val_loss" | "val_acc" | "val_auc";
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
  /**
   * The training images the OOD detector is fitted on: a seeded class-stratified {@link safetySample} of the
   * training split, in order, without augmentation (the training source augments step-budget runs and shuffles).
   */
  readonly safetyTrain: () => BatchSource;
  /** Samples in the training split. */
  readonly trainCount: number;
  readonly task: Task;
  readonly numClasses: number;
  readonly labelNames: readonly string[];
  /** `[rows, cols, ch]` or `[slices, rows, cols, 1]`. */
  readonly sampleShape: readonly number[];
  readonly info: Readonly<Record<string, unknown>>;
}

/** The preprocessing recorded in the card and, for file datasets, applied to every training sample. */
function preprocessingFor(shape: readonly number[]): PreprocessStep[] {
  const rc = shape.slice(-3, -1) as [number, number];
  return [
    shape[shape.length - 1] === 1 ? { op: "grayscale" } : { op: "rgb" },
    { op: "resize", size: rc },
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
  const per = train.shape.reduce((a, b) => a * b, 1);
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
  const weights =
    config.classWeighting && config.classWeighting !== "none" && ds.task !== "multilabel"
      ? classWeights(yTrain, ds.numClasses, config.classWeighting)
      : undefined;
  const memory = (x: Float32Array, y: Float32Array, shuffle: boolean, batchSize: number, w?: Float32Array) =>
    new MemoryBatchSource({
      x,
      sampleShape: train.shape,
      y,
      targetShape: [ds.numClasses],
      batchSize,
      shuffle,
      seed: config.seed,
      ...(w ? { sampleWeight: w } : {}),
    });
  const trainSource = memory(xTrain, yTrain, true, config.batchSize, weights);
  const inferBatch = train.dims === 3 ? 32 : FEATURE_BATCH;
  const safetyTrain = (): BatchSource => {
    const k = ds.numClasses;
    const idx = safetySample(stratumOfTargets(yTrain, k, ds.task === "multilabel"), config.seed);
    if (idx.length === n) return memory(xTrain, yTrain, false, inferBatch);
    const xs = new Float32Array(idx.length * per);
    const ys = new Float32Array(idx.length * k);
    idx.forEach((s, i) => {
      xs.set(xTrain.subarray(s * per, (s + 1) * per), i * per);
      ys.set(yTrain.subarray(s * k, (s + 1) * k), i * k);
    });
    return memory(xs, ys, false, inferBatch);
  };
  return {
    train: config.steps ? periodic(trainSource, config, train.dims, train.shape) : trainSource,
    val: memory(val.x, targetsOf(val, ds), false, inferBatch),
    safetyTrain,
    trainCount: n,
    task: ds.task,
    numClasses: ds.numClasses,
    labelNames: ds.labelNames,
    sampleShape: train.shape,
    info: {
      file: basename(config.data),
      sha256: sha256File(config.data),
      trainSamples: n,
      valSamples: val.count,
    },
  };
}

/**
 * Per-sample weights from class frequencies f_c: 1/f_c ("balanced", King & Zeng 2001's prior correction as
 * scikit-learn's class_weight="balanced") or 1/√f_c ("sqrt", a milder correction), scaled to mean 1 over the samples.
 */
function classWeights(y: Float32Array, k: number, mode: "balanced" | "sqrt"): Float32Array {
  const n = y.length / k;
  const label = (i: number) => {
    let best = 0;
    for (let c = 1; c < k; c++) if ((y[i * k + c] as number) > (y[i * k + best] as number)) best = c;
    return best;
  };
  const counts = new Float64Array(k);
  for (let i = 0; i < n; i++) counts[label(i)]! += 1;
  const per = Array.from(counts, (c) => (c > 0 ? (mode === "balanced" ? 1 / c : 1 / Math.sqrt(c)) : 0));
  const w = new Float32Array(n);
  let sum = 0;
  for (let i = 0; i < n; i++) {
    w[i] = per[label(i)] as number;
    sum += w[i] as number;
  }
  for (let i = 0; i < n; i++) w[i] = ((w[i] as number) * n) / sum;
  return w;
}

/** Validation period of a step-budget run: one epoch, at most 100 steps, unless the config says. */
function evalPeriod(config: TrainConfig, batchesPerEpoch: number): number {
  return config.evalEverySteps ?? Math.min(batchesPerEpoch, 100);
}

/** Wraps the training source in step-budget periods with the config's augmentation for 2D or 3D samples. */
function periodic(src: BatchSource, config: TrainConfig, dims: 2 | 3, shape: readonly number[]): BatchSource {
  const a = config.augment;
  // Volumes flip along every axis; images only left–right (anatomy is not upside down in 2D acquisitions).
  const augment =
    a && (a.flip || a.maxShift || a.intensity)
      ? batchAugmenter({
          spatialDims: dims,
          ...(a.flip ? { flipAxes: dims === 3 ? [0, 1, 2] : [1] } : {}),
          ...(a.maxShift ? { maxShift: Math.min(a.maxShift, Math.floor((shape[1] ?? 0) / 4)) } : {}),
          ...(a.intensity ? { intensity: a.intensity } : {}),
        })
      : undefined;
  return new PeriodicBatchSource(src, {
    period: evalPeriod(config, src.batchesPerEpoch()),
    seed: config.seed,
    ...(augment ? { augment } : {}),
  });
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
  const inferBatch = Math.max(config.batchSize, 64);
  const safetyTrain = (): BatchSource => {
    // Labels only, no pixels; multi-label rows are one stratum, as for .npz data.
    const strata = Array.from({ length: train.size }, (_, i) => {
      const l = train.label(i);
      return typeof l === "number" ? l : 0;
    });
    return stream(subset(train, safetySample(strata, config.seed)), false, inferBatch);
  };
  return {
    train: stream(train, true, config.batchSize),
    val: stream(ds.val, false, inferBatch),
    safetyTrain,
    trainCount: train.size,
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
  // Wall and CPU seconds per phase, logged at debug level: the fixed costs around the kernels decide whole-process speed.
  const phases: Record<string, { wall: number; cpu: number }> = {};
  let mark = { wall: started, cpu: process.cpuUsage() };
  const phase = (name: string): void => {
    const now = { wall: performance.now(), cpu: process.cpuUsage() };
    const cpu = process.cpuUsage(mark.cpu);
    phases[name] = { wall: (now.wall - mark.wall) / 1000, cpu: (cpu.user + cpu.system) / 1e6 };
    mark = now;
  };
  if (config.steps !== undefined) {
    if (!(config.steps >= 1) || !Number.isInteger(config.steps))
      throw new RadioLensError("RL_ERR_USAGE", { detail: "steps must be a positive integer" });
  } else if (!(config.epochs !== undefined && config.epochs >= 1 && Number.isInteger(config.epochs)))
    throw new RadioLensError("RL_ERR_USAGE", { detail: "--epochs must be a positive integer" });
  if (!(config.batchSize >= 1) || !Number.isInteger(config.batchSize))
    throw new RadioLensError("RL_ERR_USAGE", { detail: "--batch-size must be a positive integer" });
  const engine = await initEngine({
    ...(config.backend ? { backend: config.backend } : {}),
    ...(config.threads ? { threads: config.threads } : {}),
  });
  const data = /\.npz$/i.test(config.data) ? prepareNpz(config) : prepareFiles(config);
  // With a step budget, an "epoch" of the trainer is one validation period of the periodic source.
  const epochs = config.steps
    ? Math.ceil(config.steps / data.train.batchesPerEpoch())
    : (config.epochs as number);
  const totalSteps = epochs * data.train.batchesPerEpoch();
  const model = createModel(config.model, {
    inputShape: data.sampleShape,
    ...(config.width ? { width: config.width } : {}),
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
  if (config.schedule?.kind === "multistep") {
    const { milestones, gamma } = config.schedule;
    callbacks.unshift(
      lrScheduler((e, base) => base * (gamma ?? 0.1) ** milestones.filter((m) => e >= m).length, lr),
    );
  }
  if (config.schedule?.kind === "cosine" && config.steps) {
    callbacks.unshift(
      warmupCosineSteps({
        baseLr: lr,
        warmupSteps: config.warmupSteps ?? 0,
        totalSteps,
        ...(config.schedule.minLr === undefined ? {} : { minLr: config.schedule.minLr }),
      }),
    );
  } else if (config.schedule?.kind === "cosine")
    callbacks.unshift(lrScheduler(cosineDecay(epochs, config.schedule.minLr), lr));
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
  const monitors = [
    config.selectBest,
    config.earlyStopping?.monitor,
    config.schedule?.kind === "plateau" ? config.schedule.monitor : undefined,
  ];
  // First, so the checkpoint, schedule and stopping callbacks see val_auc in the same period's logs.
  if (monitors.some((m) => m === "val_auc" || m === "val_macc"))
    callbacks.unshift(validationAuc(data.val, data.task));
  if (config.maxMinutes) callbacks.push(wallClockCap(config.maxMinutes));
  callbacks.push(...extraCallbacks);
  const lossName = data.task === "multilabel" ? "binaryCrossentropy" : "categoricalCrossentropy";
  const smoothing = config.labelSmoothing ?? 0;
  phase("setup");
  const state = await fit({
    model,
    optimizer,
    loss:
      smoothing > 0 && lossName === "categoricalCrossentropy" ? smoothedCrossentropy(smoothing) : lossName,
    train: data.train,
    validation: data.val,
    epochs,
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
  phase("fit");
  const safety = await fitSafety(model, data.safetyTrain(), data.val, {
    trainSplit: data.trainCount,
    task: data.task,
    numClasses: data.numClasses,
    activation: data.task === "multilabel" ? "sigmoid" : "softmax",
    ...(config.oodAction ? { oodAction: config.oodAction } : {}),
  });
  phase("safety");
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
      epochs,
      epochsRun: state.epoch,
      ...(config.steps
        ? {
            stepBudget: config.steps,
            evalEverySteps: data.train.batchesPerEpoch(),
            ...(config.warmupSteps ? { warmupSteps: config.warmupSteps } : {}),
          }
        : {}),
      ...(config.width ? { width: config.width } : {}),
      ...(config.augment ? { augment: config.augment } : {}),
      ...(config.classWeighting ? { classWeighting: config.classWeighting } : {}),
      ...(smoothing > 0 ? { labelSmoothing: smoothing } : {}),
      ...(config.tta ? { tta: true } : {}),
      ...(config.weightDecay ? { weightDecay: config.weightDecay } : {}),
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
  phase("bundle");
  createLogger().debug("training finished", { seconds, phases, numTensors: tf.memory().numTensors });
  return { card, state, seconds };
}
