/** The training loop: batches in, callbacks out. Everything that varies (logging, checkpoints, schedules, stopping) is a callback. */
import type * as tfl from "@tensorflow/tfjs-layers";
import type { Batch, BatchSource } from "../core/dataset.js";
import { RadioLensError } from "../core/errors.js";
import { Rng } from "../core/rng.js";
import { tf } from "../engine/backend.js";
import { shareDropoutRng } from "../models/layers.js";
import type { Adam } from "./optim.js";

/** Loss functions the trainer knows by name; a custom function gets (targets, predictions) and returns per-sample losses. */
export type LossName = "categoricalCrossentropy" | "binaryCrossentropy";
/**
 * A custom loss: per-sample losses from targets and predictions.
 *
 * @example
 * ```ts
 * const mse: LossFn = (y, p) => tf.mean(tf.squaredDifference(y, p), -1) as tf.Tensor1D;
 * ```
 */
export type LossFn = (yTrue: tf.Tensor, yPred: tf.Tensor) => tf.Tensor1D;

/** Metrics of one step or epoch. */
export type Logs = Record<string, number>;

/** The trainer's resumable position. */
export interface TrainState {
  /** Epoch in progress (0-based). */
  epoch: number;
  /** Batches of `epoch` already trained (the data cursor). */
  batchInEpoch: number;
  /** Optimizer steps so far. */
  step: number;
  /** RNG state (dropout masks and any other per-step randomness). */
  rngState: number[];
  /** Per-epoch logs so far. */
  history: Logs[];
  /** Running sums of the epoch in progress, so a resumed epoch reports the same means. */
  partial: { loss: number; acc: number; seen: number };
}

/** What callbacks see and may change. */
export interface TrainContext {
  readonly model: tfl.LayersModel;
  readonly optimizer: Adam;
  readonly state: TrainState;
  readonly epochs: number;
  readonly batchesPerEpoch: number;
  /** The trainer's RNG, whose state is checkpointed. */
  readonly rng: Rng;
  /** Set to true to stop after the current batch/epoch. */
  stopTraining: boolean;
}

/**
 * Hooks into training (Keras-style callbacks). Each is optional and may be async.
 *
 * @example
 * ```ts
 * const printer: Callback = { onEpochEnd: (ctx, logs) => console.log(ctx.state.epoch, logs) };
 * ```
 */
export interface Callback {
  onTrainBegin?(ctx: TrainContext): void | Promise<void>;
  onEpochBegin?(ctx: TrainContext): void | Promise<void>;
  onBatchEnd?(ctx: TrainContext, logs: Logs): void | Promise<void>;
  /** `logs` holds `loss`, `acc` and, with validation data, `val_loss`, `val_acc`. */
  onEpochEnd?(ctx: TrainContext, logs: Logs): void | Promise<void>;
  onTrainEnd?(ctx: TrainContext): void | Promise<void>;
}

/** Options of {@link fit}. */
export interface FitOptions {
  readonly model: tfl.LayersModel;
  readonly optimizer: Adam;
  readonly loss: LossName | LossFn;
  readonly train: BatchSource;
  readonly validation?: BatchSource;
  readonly epochs: number;
  /** Seed of the trainer RNG (ignored when resuming: the checkpoint's RNG state is used). */
  readonly seed: number;
  readonly callbacks?: readonly Callback[];
  /** Clip gradients to this global L2 norm (Pascanu et al. 2013). */
  readonly clipNorm?: number;
  /** Resume from this state (from a checkpoint). */
  readonly resume?: TrainState;
}

const EPS = 1e-7;

function namedLoss(name: LossName): LossFn {
  if (name === "categoricalCrossentropy") {
    // Keras semantics on probabilities: clip to [eps, 1 - eps], then -Σ y log p.
    return (y, p) => tf.neg(tf.sum(tf.mul(y, tf.log(tf.clipByValue(p, EPS, 1 - EPS))), -1)) as tf.Tensor1D;
  }
  return (y, p) => {
    const pc = tf.clipByValue(p, EPS, 1 - EPS);
    const ll = tf.add(tf.mul(y, tf.log(pc)), tf.mul(tf.sub(1, y), tf.log(tf.sub(1, pc))));
    return tf.neg(tf.mean(ll, -1)) as tf.Tensor1D;
  };
}

function accuracy(y: tf.Tensor, p: tf.Tensor, multiLabel: boolean): tf.Scalar {
  if (multiLabel)
    return tf.mean(tf.cast(tf.equal(tf.greaterEqual(p, 0.5), tf.greaterEqual(y, 0.5)), "float32"));
  return tf.mean(tf.cast(tf.equal(tf.argMax(p, -1), tf.argMax(y, -1)), "float32"));
}

function toTensors(b: Batch): { x: tf.Tensor; y: tf.Tensor; w: tf.Tensor1D | undefined } {
  return {
    x: tf.tensor(b.x, [...b.xShape]),
    y: tf.tensor(b.y, [...b.yShape]),
    w: b.sampleWeight ? tf.tensor1d(b.sampleWeight) : undefined,
  };
}

/**
 * Evaluates mean loss and accuracy over a source (inference mode, no dropout).
 *
 * @example
 * ```ts
 * const { loss, acc } = await evaluateLoss(model, "categoricalCrossentropy", valSource);
 * ```
 */
export async function evaluateLoss(
  model: tfl.LayersModel,
  loss: LossName | LossFn,
  source: BatchSource,
): Promise<{ loss: number; acc: number }> {
  const lossFn = typeof loss === "string" ? namedLoss(loss) : loss;
  let sumLoss = 0;
  let sumAcc = 0;
  let n = 0;
  for await (const b of source.epoch(0)) {
    const [l, a] = tf.tidy(() => {
      const { x, y } = toTensors(b);
      const p = model.predict(x) as tf.Tensor;
      return [
        tf.sum(lossFn(y, p)).dataSync()[0] as number,
        (accuracy(y, p, loss === "binaryCrossentropy").dataSync()[0] as number) * (b.xShape[0] as number),
      ];
    });
    sumLoss += l;
    sumAcc += a;
    n += b.xShape[0] as number;
  }
  return { loss: sumLoss / n, acc: sumAcc / n };
}

/**
 * Trains `model` on `train` for `epochs`, calling callbacks; with `resume`, continues exactly where a
 * checkpoint left off (same data order, same dropout masks, same optimizer moments).
 *
 * @example
 * ```ts
 * const state = await fit({ model, optimizer: new Adam(), loss: "categoricalCrossentropy", train, epochs: 3, seed: 1,
 *   callbacks: [progressBar()] });
 * ```
 */
export async function fit(opts: FitOptions): Promise<TrainState> {
  const { model, optimizer } = opts;
  const lossFn = typeof opts.loss === "string" ? namedLoss(opts.loss) : opts.loss;
  const multiLabel = opts.loss === "binaryCrossentropy";
  const rng = opts.resume ? Rng.fromState(opts.resume.rngState) : new Rng(opts.seed);
  shareDropoutRng(model, rng);
  const state: TrainState = opts.resume
    ? { ...opts.resume, history: [...opts.resume.history], partial: { ...opts.resume.partial } }
    : {
        epoch: 0,
        batchInEpoch: 0,
        step: 0,
        rngState: rng.state(),
        history: [],
        partial: { loss: 0, acc: 0, seen: 0 },
      };
  const ctx: TrainContext = {
    model,
    optimizer,
    state,
    epochs: opts.epochs,
    batchesPerEpoch: opts.train.batchesPerEpoch(),
    rng,
    stopTraining: false,
  };
  const cbs = opts.callbacks ?? [];
  const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
  for (const cb of cbs) await cb.onTrainBegin?.(ctx);

  while (state.epoch < opts.epochs && !ctx.stopTraining) {
    if (state.batchInEpoch === 0) for (const cb of cbs) await cb.onEpochBegin?.(ctx);
    const sums = state.partial;
    for await (const batch of opts.train.epoch(state.epoch, state.batchInEpoch)) {
      const bs = batch.xShape[0] as number;
      const [lossVal, accVal] = tf.tidy(() => {
        const { x, y, w } = toTensors(batch);
        let acc: tf.Scalar | undefined;
        const { value, grads } = tf.variableGrads(() => {
          const pred = model.apply(x, { training: true }) as tf.Tensor;
          // Kept: tensors made inside the gradient function are freed when it returns.
          acc = tf.keep(accuracy(y, pred, multiLabel));
          const per = lossFn(y, pred);
          return (w ? tf.div(tf.sum(tf.mul(per, w)), tf.sum(w)) : tf.mean(per)) as tf.Scalar;
        }, vars);
        let gs = vars.map((v) => grads[v.name] as tf.Tensor);
        if (opts.clipNorm !== undefined) {
          const norm = tf.sqrt(tf.addN(gs.map((g) => tf.sum(tf.square(g))))).dataSync()[0] as number;
          if (norm > opts.clipNorm) gs = gs.map((g) => tf.mul(g, opts.clipNorm! / norm));
        }
        optimizer.apply(vars, gs);
        const accVal = (acc as tf.Scalar).dataSync()[0] as number;
        (acc as tf.Scalar).dispose();
        return [value.dataSync()[0] as number, accVal];
      });
      if (!Number.isFinite(lossVal)) {
        throw new RadioLensError("RL_ERR_TRAINING_DIVERGED", {
          detail: `training diverged (loss ${lossVal} at step ${state.step}); lower the learning rate or enable gradient clipping`,
        });
      }
      state.step++;
      state.batchInEpoch++;
      state.rngState = rng.state();
      sums.loss += lossVal * bs;
      sums.acc += accVal * bs;
      sums.seen += bs;
      for (const cb of cbs)
        await cb.onBatchEnd?.(ctx, { loss: lossVal, acc: accVal, batch: state.batchInEpoch });
      if (ctx.stopTraining) break;
    }
    if (ctx.stopTraining && state.batchInEpoch < ctx.batchesPerEpoch) break;
    const logs: Logs = {
      epoch: state.epoch + 1,
      loss: sums.seen > 0 ? sums.loss / sums.seen : Number.NaN,
      acc: sums.seen > 0 ? sums.acc / sums.seen : Number.NaN,
      lr: optimizer.learningRate,
    };
    if (opts.validation) {
      const v = await evaluateLoss(model, opts.loss, opts.validation);
      logs["val_loss"] = v.loss;
      logs["val_acc"] = v.acc;
    }
    state.history.push(logs);
    state.epoch++;
    state.batchInEpoch = 0;
    state.partial = { loss: 0, acc: 0, seen: 0 };
    for (const cb of cbs) await cb.onEpochEnd?.(ctx, logs);
  }
  for (const cb of cbs) await cb.onTrainEnd?.(ctx);
  return state;
}
