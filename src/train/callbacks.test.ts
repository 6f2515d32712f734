/** Callback tests: the progress bar's TTY line with ETA and its plain per-epoch lines, LR schedules. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { Rng } from "../core/rng.js";
import { cosineDecay, earlyStopping, progressBar, reduceLrOnPlateau, stepDecay } from "./callbacks.js";
import type { TrainContext } from "./trainer.js";

function ctx(batch: number): TrainContext {
  return {
    model: undefined as never,
    optimizer: { learningRate: 1e-3 } as never,
    state: {
      epoch: 0,
      batchInEpoch: batch,
      step: batch,
      rngState: [],
      history: [],
      partial: { loss: 0, acc: 0, seen: 0 },
    },
    epochs: 3,
    batchesPerEpoch: 10,
    rng: new Rng(1),
    stopTraining: false,
  };
}

test("progress bar redraws one TTY line with ETA, loss and accuracy; plain mode prints one line per epoch", () => {
  let t = 0;
  let out = "";
  const bar = progressBar({ write: (s) => (out += s), tty: true, now: () => t });
  bar.onEpochBegin?.(ctx(0));
  t = 1000;
  bar.onBatchEnd?.(ctx(4), { loss: 0.5, acc: 0.75 });
  assert.match(out, /^\repoch 1\/3 \[=+> +\] 4\/10 {2}ETA 2s {2}loss 0\.5000 {2}acc 0\.7500/);
  let plain = "";
  const p = progressBar({ write: (s) => (plain += s), tty: false, now: () => t });
  p.onEpochBegin?.(ctx(0));
  p.onBatchEnd?.(ctx(4), { loss: 0.5, acc: 0.75 });
  assert.equal(plain, "");
  const end = ctx(10);
  end.state.epoch = 1;
  p.onEpochEnd?.(end, { epoch: 1, loss: 0.4, acc: 0.8 });
  assert.equal(plain.split("\n").length, 2);
  assert.match(plain, /^epoch 1\/3 .*loss 0\.4000/);
});

test("step and cosine schedules", () => {
  assert.equal(stepDecay(2, 0.5)(3, 1), 0.5);
  assert.equal(stepDecay(2, 0.5)(4, 1), 0.25);
  assert.equal(cosineDecay(10)(0, 1), 1);
  assert.ok(Math.abs(cosineDecay(10)(5, 1) - 0.5) < 1e-12);
  assert.ok(Math.abs(cosineDecay(10, 0.1)(10, 1) - 0.1) < 1e-12);
});

test("reduce-on-plateau and early stopping decide from the history, so a resumed run decides the same", () => {
  const losses = [1.0, 0.9, 0.95, 0.93, 0.92, 0.8, 0.85, 0.86, 0.87];
  // Uninterrupted: one callback sees every epoch.
  const whole = ctx(0);
  const plateau = reduceLrOnPlateau({ monitor: "val_loss", patience: 2, factor: 0.5 });
  const stop = earlyStopping({ monitor: "val_loss", patience: 4 });
  const lrs: number[] = [];
  let stoppedAt = -1;
  for (const [e, v] of losses.entries()) {
    whole.state.history.push({ val_loss: v });
    plateau.onEpochEnd?.(whole, { val_loss: v });
    stop.onEpochEnd?.(whole, { val_loss: v });
    lrs.push(whole.optimizer.learningRate);
    if (whole.stopTraining && stoppedAt < 0) stoppedAt = e;
  }
  // Patience 2: epochs 2-3 stall (reduce at 3), 4 stalls, 5 improves, 6-7 stall (reduce at 7), 8 stalls. Never four
  // stalled epochs in a row, so early stopping (patience 4) does not fire.
  assert.deepEqual(lrs, [1e-3, 1e-3, 1e-3, 5e-4, 5e-4, 5e-4, 5e-4, 2.5e-4, 2.5e-4]);
  assert.equal(stoppedAt, -1);
  // Resumed after epoch 5: fresh callbacks, history and LR restored from the checkpoint.
  const resumed = ctx(0);
  resumed.state.history.push(...losses.slice(0, 6).map((v) => ({ val_loss: v })));
  resumed.optimizer.learningRate = lrs[5]!;
  const plateau2 = reduceLrOnPlateau({ monitor: "val_loss", patience: 2, factor: 0.5 });
  for (const v of losses.slice(6)) {
    resumed.state.history.push({ val_loss: v });
    plateau2.onEpochEnd?.(resumed, { val_loss: v });
  }
  assert.equal(resumed.optimizer.learningRate, lrs.at(-1));
  const stop4 = ctx(0);
  stop4.state.history.push(...[1, 1, 1, 1, 1].map((v) => ({ val_loss: v })));
  earlyStopping({ monitor: "val_loss", patience: 4 }).onEpochEnd?.(stop4, { val_loss: 1 });
  assert.equal(stop4.stopTraining, true);
});
