/** Standard training callbacks: progress bar with ETA, checkpoints (best and last), early stopping, LR schedules, CSV/JSONL logs. */
import { appendFileSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { saveCheckpoint } from "./checkpoint.js";
import type { Callback, Logs, TrainContext } from "./trainer.js";

function fmt(logs: Logs): string {
  return Object.entries(logs)
    .filter(([k]) => k !== "epoch" && k !== "batch")
    .map(([k, v]) => `${k} ${k === "lr" ? v.toExponential(2) : v.toFixed(4)}`)
    .join("  ");
}

function fmtTime(s: number): string {
  if (!Number.isFinite(s)) return "--";
  const m = Math.floor(s / 60);
  return m > 0 ? `${m}m${String(Math.round(s % 60)).padStart(2, "0")}s` : `${s.toFixed(0)}s`;
}

/** Options of {@link progressBar}. */
export interface ProgressOptions {
  readonly write: (text: string) => void;
  /** Redraw one line in place (TTY) or print one line per epoch. */
  readonly tty: boolean;
  /** Clock for ETA (injectable for tests). */
  readonly now?: () => number;
}

/**
 * A progress bar with ETA, loss and accuracy on a TTY; plain log lines otherwise.
 *
 * @example
 * ```ts
 * fit({ ..., callbacks: [progressBar({ write: (t) => process.stderr.write(t), tty: process.stderr.isTTY })] });
 * ```
 */
export function progressBar(opts: ProgressOptions): Callback {
  const now = opts.now ?? (() => performance.now());
  let epochStart = 0;
  let firstBatch = 0;
  let lastDraw = 0;
  return {
    onEpochBegin(ctx) {
      epochStart = now();
      firstBatch = ctx.state.batchInEpoch;
    },
    onBatchEnd(ctx, logs) {
      if (!opts.tty) return;
      const t = now();
      if (t - lastDraw < 100 && ctx.state.batchInEpoch < ctx.batchesPerEpoch) return;
      lastDraw = t;
      const done = ctx.state.batchInEpoch;
      const total = ctx.batchesPerEpoch;
      const rate = (t - epochStart) / 1000 / Math.max(1, done - firstBatch);
      const width = 24;
      const fill = Math.round((done / total) * width);
      const bar = `${"=".repeat(Math.max(0, fill - 1))}${fill > 0 ? ">" : ""}${" ".repeat(width - fill)}`;
      opts.write(
        `\repoch ${ctx.state.epoch + 1}/${ctx.epochs} [${bar}] ${done}/${total}  ETA ${fmtTime(rate * (total - done))}  ${fmt(logs)}   `,
      );
    },
    onEpochEnd(ctx, logs) {
      const secs = (now() - epochStart) / 1000;
      opts.write(
        `${opts.tty ? "\r" : ""}epoch ${ctx.state.epoch}/${ctx.epochs}  ${fmtTime(secs)}  ${fmt(logs)}${opts.tty ? "          " : ""}\n`,
      );
    },
  };
}

/** Options of {@link checkpoint}. */
export interface CheckpointOptions {
  /** Folder that receives `last/` and `best/`. */
  readonly dir: string;
  /** Also save `last/` every this many steps (mid-epoch resume). */
  readonly everySteps?: number;
  /** Metric deciding `best/`, e.g. "val_loss". */
  readonly monitor?: string;
  readonly mode?: "min" | "max";
  /** Extra JSON stored with each checkpoint (the training config, to rebuild the model on resume). */
  readonly extra?: Readonly<Record<string, unknown>>;
}

/**
 * Saves `last/` after every epoch (and every `everySteps` steps) and `best/` when the monitored metric improves.
 *
 * @example
 * ```ts
 * checkpoint({ dir: "/tmp/m/checkpoints", monitor: "val_loss", everySteps: 50 })
 * ```
 */
export function checkpoint(opts: CheckpointOptions): Callback {
  const mode = opts.mode ?? (opts.monitor?.includes("loss") ? "min" : "max");
  let best = mode === "min" ? Number.POSITIVE_INFINITY : Number.NEGATIVE_INFINITY;
  const save = (ctx: TrainContext, name: string) =>
    saveCheckpoint(join(opts.dir, name), ctx.model, ctx.optimizer, ctx.state, opts.extra ?? {});
  const better = (v: number) => (mode === "min" ? v < best : v > best);
  return {
    onTrainBegin(ctx) {
      // A resumed run starts from the best value of its checkpointed history, so `best/` is overwritten only by an
      // epoch that also beats the epochs before the interruption (as in an uninterrupted run).
      best = mode === "min" ? Number.POSITIVE_INFINITY : Number.NEGATIVE_INFINITY;
      for (const logs of ctx.state.history) {
        const v = opts.monitor ? logs[opts.monitor] : undefined;
        if (v !== undefined && better(v)) best = v;
      }
    },
    async onBatchEnd(ctx) {
      if (
        opts.everySteps &&
        ctx.state.step % opts.everySteps === 0 &&
        ctx.state.batchInEpoch < ctx.batchesPerEpoch
      ) {
        await save(ctx, "last");
      }
    },
    async onEpochEnd(ctx, logs) {
      await save(ctx, "last");
      const v = opts.monitor ? logs[opts.monitor] : undefined;
      if (v !== undefined && better(v)) {
        best = v;
        await save(ctx, "best");
      }
    },
  };
}

/** Options of {@link earlyStopping}. */
export interface EarlyStoppingOptions {
  readonly monitor: string;
  readonly patience: number;
  readonly mode?: "min" | "max";
  readonly minDelta?: number;
}

/**
 * Stops when the monitored metric has not improved by `minDelta` for `patience` epochs.
 *
 * @example
 * ```ts
 * earlyStopping({ monitor: "val_loss", patience: 5 })
 * ```
 */
export function earlyStopping(opts: EarlyStoppingOptions): Callback {
  return {
    onEpochEnd(ctx) {
      // Replayed from the checkpointed history, so a resumed run stops at the same epoch as an uninterrupted one.
      if (replayStalls(ctx.state.history, opts, Number.POSITIVE_INFINITY).stalled) ctx.stopTraining = true;
    },
  };
}

/**
 * Replays the monitored metric over `history` (one log per finished epoch): how many epochs it has gone without
 * improving ends in: whether the last epoch completed a run of `patience` such epochs. `resetAfter` restarts the count
 * after that many stalled epochs (reduce-on-plateau waits again after each reduction).
 */
function replayStalls(
  history: readonly Logs[],
  opts: EarlyStoppingOptions,
  resetAfter: number,
): { stalled: boolean } {
  const mode = opts.mode ?? (opts.monitor.includes("loss") ? "min" : "max");
  const delta = opts.minDelta ?? 0;
  let best = mode === "min" ? Number.POSITIVE_INFINITY : Number.NEGATIVE_INFINITY;
  let wait = 0;
  let stalled = false;
  for (const logs of history) {
    stalled = false;
    const v = logs[opts.monitor];
    if (v === undefined) continue;
    if (mode === "min" ? v < best - delta : v > best + delta) {
      best = v;
      wait = 0;
    } else if (++wait >= opts.patience) {
      stalled = true;
      if (wait >= resetAfter) wait = 0;
    }
  }
  return { stalled };
}

/** A learning-rate schedule: epoch (0-based) and base LR → LR for that epoch. */
export type Schedule = (epoch: number, baseLr: number) => number;

/**
 * Step decay: multiply by `gamma` every `stepSize` epochs.
 *
 * @example
 * ```ts
 * stepDecay(10, 0.1)(25, 1e-3); // 1e-5 (epoch 25, base rate 1e-3)
 * ```
 */
export function stepDecay(stepSize: number, gamma = 0.1): Schedule {
  return (e, lr) => lr * gamma ** Math.floor(e / stepSize);
}

/**
 * Cosine annealing to `minLr` over `epochs` (Loshchilov & Hutter, SGDR, ICLR 2017, without restarts).
 *
 * @example
 * ```ts
 * cosineDecay(50)(25, 1e-3); // 5e-4 (half-way through 50 epochs)
 * ```
 */
export function cosineDecay(epochs: number, minLr = 0): Schedule {
  return (e, lr) => minLr + 0.5 * (lr - minLr) * (1 + Math.cos((Math.PI * Math.min(e, epochs)) / epochs));
}

/**
 * Sets the optimizer's learning rate at the start of each epoch from a schedule.
 *
 * @example
 * ```ts
 * lrScheduler(cosineDecay(30), 1e-3)
 * ```
 */
export function lrScheduler(schedule: Schedule, baseLr: number): Callback {
  return {
    onEpochBegin(ctx) {
      ctx.optimizer.learningRate = schedule(ctx.state.epoch, baseLr);
    },
  };
}

/**
 * Reduce-on-plateau: multiplies the LR by `factor` (default 0.1) when the metric has not improved for `patience`
 * epochs, then waits `patience` epochs again (Keras `ReduceLROnPlateau` without cooldown). The decision is replayed
 * from the checkpointed history, so `--resume` reduces at the same epochs.
 *
 * @example
 * ```ts
 * reduceLrOnPlateau({ monitor: "val_loss", factor: 0.5, patience: 2 })
 * ```
 */
export function reduceLrOnPlateau(
  opts: EarlyStoppingOptions & { readonly factor?: number; readonly minLr?: number },
): Callback {
  return {
    onEpochEnd(ctx) {
      if (!replayStalls(ctx.state.history, opts, opts.patience).stalled) return;
      ctx.optimizer.learningRate = Math.max(
        opts.minLr ?? 0,
        ctx.optimizer.learningRate * (opts.factor ?? 0.1),
      );
    },
  };
}

/**
 * Appends one line per epoch to a CSV (header first) or JSON Lines file.
 *
 * @example
 * ```ts
 * metricsLogger("/tmp/m/log.csv")
 * ```
 */
export function metricsLogger(
  path: string,
  format: "csv" | "jsonl" = path.endsWith(".csv") ? "csv" : "jsonl",
): Callback {
  let header: string[] | undefined;
  return {
    onEpochEnd(_ctx, logs) {
      mkdirSync(dirname(path), { recursive: true });
      if (format === "jsonl") {
        appendFileSync(path, `${JSON.stringify(logs)}\n`);
        return;
      }
      if (!header) {
        header = Object.keys(logs);
        appendFileSync(path, `${header.join(",")}\n`);
      }
      appendFileSync(path, `${header.map((k) => logs[k] ?? "").join(",")}\n`);
    },
  };
}
