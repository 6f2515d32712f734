/** Callback tests: the progress bar's TTY line with ETA and its plain per-epoch lines, LR schedules. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { Rng } from "../core/rng.js";
import { cosineDecay, progressBar, stepDecay } from "./callbacks.js";
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
