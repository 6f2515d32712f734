/** Tests of step-budget training: periods that cross epochs and resume exactly, seeded augmentation, the warm-up cosine schedule, the wall-clock cap. */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { Batch } from "../core/dataset.js";
import { MemoryBatchSource } from "../data/memory.js";
import { batchAugmenter } from "../transforms/batch-augment.js";
import { PeriodicBatchSource, wallClockCap, warmupCosineSteps } from "./budget.js";
import type { TrainContext } from "./trainer.js";

function source(): MemoryBatchSource {
  const n = 10;
  const x = Float32Array.from({ length: n * 4 }, (_, i) => i);
  const y = Float32Array.from({ length: n * 2 }, (_, i) => (i % 2 === 0 ? 1 : 0));
  return new MemoryBatchSource({
    x,
    sampleShape: [2, 2, 1],
    y,
    targetShape: [2],
    batchSize: 3,
    shuffle: true,
    seed: 4,
  });
}

async function collect(it: AsyncIterable<Batch>): Promise<string[]> {
  const out: string[] = [];
  for await (const b of it) out.push(Array.from(b.x).join(","));
  return out;
}

test("periods concatenate the inner epochs, and a period resumed mid-way gives the same batches", async () => {
  const aug = batchAugmenter({ spatialDims: 2, flipAxes: [1], maxShift: 1 });
  const p = new PeriodicBatchSource(source(), { period: 5, seed: 9, augment: aug });
  assert.equal(p.batchesPerEpoch(), 5);
  const plain = new PeriodicBatchSource(source(), { period: 5, seed: 9 });
  // Inner epochs have 4 batches: periods 0..2 = batches 0..14 = inner epochs 0, 1, 2, 3 (partly).
  const inner = source();
  const want: string[] = [];
  for (let e = 0; e < 4; e++) want.push(...(await collect(inner.epoch(e))));
  const got: string[] = [];
  for (let e = 0; e < 3; e++) got.push(...(await collect(plain.epoch(e))));
  assert.deepEqual(got, want.slice(0, 15));
  const whole = await collect(p.epoch(1));
  const resumed = await collect(p.epoch(1, 3));
  assert.deepEqual(resumed, whole.slice(3));
  assert.notDeepEqual(whole, got.slice(5, 10), "augmentation changed the batches");
  assert.deepEqual(await collect(p.epoch(1)), whole, "augmentation is a function of (seed, batch)");
});

function ctx(step: number): TrainContext {
  return {
    state: {
      step,
      epoch: 0,
      batchInEpoch: 0,
      rngState: [],
      history: [],
      partial: { loss: 0, acc: 0, seen: 0 },
    },
    optimizer: { learningRate: -1 },
    stopTraining: false,
  } as unknown as TrainContext;
}

test("warm-up then cosine, set from the step count (the same after a resume)", () => {
  const cb = warmupCosineSteps({ baseLr: 1, warmupSteps: 4, totalSteps: 104, minLr: 0 });
  const at = (step: number) => {
    const c = ctx(step);
    cb.onTrainBegin?.(c);
    return c.optimizer.learningRate;
  };
  assert.equal(at(0), 0.25);
  assert.equal(at(3), 1);
  assert.equal(at(4), 1);
  assert.ok(Math.abs(at(54) - 0.5) < 1e-12);
  assert.ok(at(104) < 1e-12);
});

test("the wall-clock cap stops after the period in which it expires", () => {
  let now = 0;
  const cb = wallClockCap(1, () => now);
  const c = ctx(10);
  cb.onTrainBegin?.(c);
  now = 59_000;
  cb.onEpochEnd?.(c, {});
  assert.equal(c.stopTraining, false);
  now = 61_000;
  cb.onEpochEnd?.(c, {});
  assert.equal(c.stopTraining, true);
});
