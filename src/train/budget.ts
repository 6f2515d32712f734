/** Step-budget training: evaluation periods of a fixed number of steps, seeded batch augmentation, per-step LR, validation AUC, a logged wall-clock cap. */
import type * as tfl from "@tensorflow/tfjs-layers";
import type { Batch, BatchSource } from "../core/dataset.js";
import { createLogger } from "../core/log.js";
import { Rng } from "../core/rng.js";
import type { Task } from "../core/task.js";
import { tf } from "../engine/backend.js";
import { type MedmnistTask, medmnistEvaluate } from "../metrics/medmnist.js";
import type { BatchAugmenter } from "../transforms/batch-augment.js";
import type { Callback } from "./trainer.js";

/**
 * Presents an endless stream of training batches as "periods" of `period` batches each, so that validation,
 * checkpoints and early stopping happen every `period` optimizer steps whatever the dataset's size. Global batch
 * `g` is batch `g mod B` of the inner source's epoch `⌊g / B⌋` (B = its batches per epoch), and its augmentation
 * draws from an RNG seeded by `(seed, g)` only: a resumed run sees the same batches.
 *
 * @example
 * ```ts
 * const src = new PeriodicBatchSource(memorySource, { period: 50, seed: 1, augment: batchAugmenter({ spatialDims: 2, maxShift: 2 }) });
 * ```
 */
export class PeriodicBatchSource implements BatchSource {
  readonly size: number;
  readonly batchSize: number;
  private readonly period: number;

  constructor(
    private readonly inner: BatchSource,
    private readonly opts: {
      readonly period: number;
      readonly seed: number;
      readonly augment?: BatchAugmenter;
    },
  ) {
    this.period = Math.max(1, Math.floor(opts.period));
    this.batchSize = inner.batchSize;
    this.size = this.period * inner.batchSize;
  }

  batchesPerEpoch(): number {
    return this.period;
  }

  async *epoch(epoch: number, from = 0): AsyncIterable<Batch> {
    const perInner = this.inner.batchesPerEpoch();
    let g = epoch * this.period + from;
    const end = (epoch + 1) * this.period;
    while (g < end) {
      const innerEpoch = Math.floor(g / perInner);
      for await (const b of this.inner.epoch(innerEpoch, g - innerEpoch * perInner)) {
        if (this.opts.augment) {
          const rng = new Rng((Math.imul(this.opts.seed, 1000003) ^ Math.imul(g + 1, 0x9e3779b1)) | 0);
          this.opts.augment(b.x, b.xShape, rng);
        }
        yield b;
        g++;
        if (g >= end) return;
      }
    }
  }
}

/**
 * Linear warm-up to `baseLr` over `warmupSteps`, then cosine decay to `minLr` at `totalSteps` (Goyal et al. 2017
 * for the warm-up; Loshchilov & Hutter, SGDR, ICLR 2017, for the cosine). Set before every step from the step
 * count, so a resumed run follows the same curve.
 *
 * @example
 * ```ts
 * warmupCosineSteps({ baseLr: 2e-3, warmupSteps: 50, totalSteps: 1000 })
 * ```
 */
export function warmupCosineSteps(opts: {
  readonly baseLr: number;
  readonly warmupSteps: number;
  readonly totalSteps: number;
  readonly minLr?: number;
}): Callback {
  const minLr = opts.minLr ?? 0;
  const lrAt = (step: number): number => {
    if (step < opts.warmupSteps) return (opts.baseLr * (step + 1)) / opts.warmupSteps;
    const span = Math.max(1, opts.totalSteps - opts.warmupSteps);
    const t = Math.min(1, (step - opts.warmupSteps) / span);
    return minLr + 0.5 * (opts.baseLr - minLr) * (1 + Math.cos(Math.PI * t));
  };
  return {
    onTrainBegin(ctx) {
      ctx.optimizer.learningRate = lrAt(ctx.state.step);
    },
    onBatchEnd(ctx) {
      ctx.optimizer.learningRate = lrAt(ctx.state.step);
    },
  };
}

/** The MedMNIST evaluator's task name for a RadioLens task. */
export function medmnistTaskOf(task: Task): MedmnistTask {
  return task === "binary"
    ? "binary-class"
    : task === "multilabel"
      ? "multi-label, binary-class"
      : "multi-class";
}

/**
 * Scores of `model` over a source in inference mode, one row per sample, with the targets as class indices
 * (single-label) or 0/1 rows (multi-label).
 *
 * @example
 * ```ts
 * const { scores, labels } = await predictSource(model, valSource, false);
 * ```
 */
export async function predictSource(
  model: tfl.LayersModel,
  source: BatchSource,
  multilabel: boolean,
  tta?: (x: tf.Tensor) => tf.Tensor[],
): Promise<{ scores: number[][]; labels: (number | number[])[] }> {
  const scores: number[][] = [];
  const labels: (number | number[])[] = [];
  for await (const b of source.epoch(0)) {
    const n = b.xShape[0] as number;
    const p = tf.tidy(() => {
      const x = tf.tensor(b.x, [...b.xShape]);
      const views = tta ? tta(x) : [x];
      const preds = views.map((v) => model.predict(v) as tf.Tensor);
      return (
        preds.length === 1 ? preds[0]! : tf.div(tf.addN(preds), preds.length)
      ).dataSync() as Float32Array;
    });
    const k = p.length / n;
    const ky = b.y.length / n;
    for (let i = 0; i < n; i++) {
      scores.push(Array.from(p.subarray(i * k, (i + 1) * k)));
      const t = Array.from(b.y.subarray(i * ky, (i + 1) * ky));
      if (multilabel) labels.push(t.map((v) => (v >= 0.5 ? 1 : 0)));
      else labels.push(t.indexOf(Math.max(...t)));
    }
  }
  return { scores, labels };
}

/**
 * Adds `val_auc` (and `val_macc`, the evaluator's accuracy) to every period's logs, with the MedMNIST evaluator's
 * semantics (one-vs-rest macro AUC for multi-class). Put it before the callbacks that monitor it.
 *
 * @example
 * ```ts
 * callbacks.unshift(validationAuc(valSource, "binary"));
 * ```
 */
export function validationAuc(source: BatchSource, task: Task): Callback {
  const mt = medmnistTaskOf(task);
  return {
    async onEpochEnd(ctx, logs) {
      const { scores, labels } = await predictSource(ctx.model, source, task === "multilabel");
      const r = medmnistEvaluate(mt, labels as number[] & number[][], scores);
      logs["val_auc"] = r.auc;
      logs["val_macc"] = r.acc;
    },
  };
}

/**
 * A safety net: stops at the end of the first period that ends after `minutes` of this process's training time,
 * and logs it (a capped run is no longer a pure function of its seed).
 *
 * @example
 * ```ts
 * wallClockCap(28)
 * ```
 */
export function wallClockCap(minutes: number, now: () => number = () => performance.now()): Callback {
  let start = 0;
  return {
    onTrainBegin() {
      start = now();
    },
    onEpochEnd(ctx) {
      const elapsed = (now() - start) / 60000;
      if (elapsed < minutes) return;
      ctx.stopTraining = true;
      createLogger().warn("training stopped by the wall-clock cap before the step budget", {
        minutes,
        step: ctx.state.step,
      });
    },
  };
}
