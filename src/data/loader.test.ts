/** Loader: seeded order, exact resume from a cursor, timing-independent augmentation, bounded prefetch, weighting. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { isRadioLensError } from "../core/errors.js";
import { createImage } from "../core/image.js";
import type { Rng } from "../core/rng.js";
import { balancedClassWeights, balancedSampleWeights, positiveWeights } from "./balance.js";
import { type Batch, DataLoader, type LoaderCursor } from "./loader.js";
import type { DataSource, Sample } from "./types.js";

/** Item i is a 2×2 image filled with i; label i % 3 (or 1 for every tenth item when `rare`). */
function synthetic(n: number, opts: { rare?: boolean; delayMs?: (i: number) => number } = {}) {
  const stats = { inFlight: 0, maxInFlight: 0, loads: 0 };
  const label = (i: number) => (opts.rare ? (i % 10 === 0 ? 1 : 0) : i % 3);
  const source: DataSource = {
    task: opts.rare
      ? { type: "binary", classNames: ["neg", "pos"] }
      : { type: "multiclass", classNames: ["a", "b", "c"] },
    size: n,
    label,
    group: () => undefined,
    async load(i) {
      stats.inFlight++;
      stats.loads++;
      stats.maxInFlight = Math.max(stats.maxInFlight, stats.inFlight);
      await new Promise((r) => setTimeout(r, opts.delayMs?.(i) ?? 0));
      stats.inFlight--;
      return { image: createImage(new Float32Array(4).fill(i), [2, 2, 1]), label: label(i), index: i };
    },
  };
  return { source, stats };
}

/** Adds a random offset per sample: makes the augmentation RNG visible in the batch pixels. */
const jitter = (s: Sample, rng: Rng): Sample => ({
  ...s,
  image: createImage(
    Float32Array.from(s.image.data, (v) => v + rng.float()),
    s.image.shape,
  ),
});

async function collect(loader: DataLoader, maxBatches = Number.POSITIVE_INFINITY): Promise<Batch[]> {
  const out: Batch[] = [];
  for await (const b of loader.epoch()) {
    out.push(b);
    if (out.length >= maxBatches) break;
  }
  return out;
}

const flat = (bs: Batch[]) => bs.flatMap((b) => Array.from(b.indices));
const pixels = (bs: Batch[]) => bs.flatMap((b) => Array.from(b.x));

describe("DataLoader", () => {
  test("same seed → same order; each epoch is a permutation; epochs and seeds differ", async () => {
    const { source } = synthetic(100);
    const a = new DataLoader(source, { batchSize: 16, seed: 7 });
    const b = new DataLoader(source, { batchSize: 16, seed: 7 });
    const a0 = flat(await collect(a));
    const a1 = flat(await collect(a));
    assert.deepEqual(flat(await collect(b)), a0);
    assert.deepEqual(
      [...a0].sort((x, y) => x - y),
      Array.from({ length: 100 }, (_, i) => i),
    );
    assert.notDeepEqual(a1, a0);
    assert.notDeepEqual(flat(await collect(new DataLoader(source, { batchSize: 16, seed: 8 }))), a0);
    assert.deepEqual(
      flat(await collect(new DataLoader(source, { batchSize: 16, seed: 7, shuffle: false }))).slice(0, 5),
      [0, 1, 2, 3, 4],
    );
  });

  test("a cursor saved mid-epoch replays the identical remaining batches, augmentation included", async () => {
    const { source } = synthetic(90);
    const opts = { batchSize: 8, seed: 3, augment: jitter };
    const full = new DataLoader(source, opts);
    await collect(full); // epoch 0
    const reference = await collect(full); // epoch 1
    const interrupted = new DataLoader(source, opts);
    await collect(interrupted);
    const head = await collect(interrupted, 5);
    const saved: LoaderCursor = JSON.parse(JSON.stringify(interrupted.cursor()));
    assert.deepEqual({ epoch: saved.epoch, position: saved.position }, { epoch: 1, position: 40 });
    const resumed = new DataLoader(source, { ...opts, cursor: saved });
    const tail = await collect(resumed);
    assert.deepEqual(flat([...head, ...tail]), flat(reference));
    assert.deepEqual(pixels([...head, ...tail]), pixels(reference));
    // Both continue into the same next epoch.
    assert.deepEqual(flat(await collect(resumed)), flat(await collect(full)));
  });

  test("weighted sampling resumes exactly too", async () => {
    const { source } = synthetic(50, { rare: true });
    const w = Array.from({ length: 50 }, (_, i) => (i % 10 === 0 ? 9 : 1));
    const opts = { batchSize: 7, seed: 5, sampleWeights: w, epochSize: 60 };
    const reference = flat(await collect(new DataLoader(source, opts)));
    const first = new DataLoader(source, opts);
    const head = flat(await collect(first, 4));
    const tail = flat(await collect(new DataLoader(source, { ...opts, cursor: first.cursor() })));
    assert.deepEqual([...head, ...tail], reference);
    assert.equal(reference.length, 60);
  });

  test("augmentation does not depend on read timing or prefetch depth", async () => {
    const slowOdd = synthetic(40, { delayMs: (i) => (i % 2 ? 3 : 0) }).source;
    const fast = synthetic(40).source;
    const a = pixels(
      await collect(new DataLoader(slowOdd, { batchSize: 5, seed: 1, augment: jitter, prefetch: 4 })),
    );
    const b = pixels(
      await collect(new DataLoader(fast, { batchSize: 5, seed: 1, augment: jitter, prefetch: 1 })),
    );
    assert.deepEqual(a, b);
  });

  test("reads stay within the prefetch window", async () => {
    const { source, stats } = synthetic(200, { delayMs: () => 1 });
    const loader = new DataLoader(source, { batchSize: 10, seed: 1, prefetch: 2 });
    let batches = 0;
    for await (const _ of loader.epoch()) {
      batches++;
      assert.ok(stats.loads <= batches * 10 + 20, `${stats.loads} loads after ${batches} batches`);
      if (batches === 5) break;
    }
    assert.ok(stats.maxInFlight <= 20, `max in flight ${stats.maxInFlight}`);
    assert.ok(stats.loads < 200, "stopping early stops reading");
  });

  test("batch layout: one-hot, index and partial last batch; dropLast", async () => {
    const { source } = synthetic(10);
    const bs = await collect(new DataLoader(source, { batchSize: 4, seed: 1, shuffle: false }));
    assert.deepEqual(
      bs.map((b) => b.xShape),
      [
        [4, 2, 2, 1],
        [4, 2, 2, 1],
        [2, 2, 2, 1],
      ],
    );
    assert.deepEqual(Array.from(bs[0]?.y ?? []), [1, 0, 0, 0, 1, 0, 0, 0, 1, 1, 0, 0]);
    const idx = await collect(
      new DataLoader(source, {
        batchSize: 4,
        seed: 1,
        shuffle: false,
        labelEncoding: "index",
        dropLast: true,
      }),
    );
    assert.equal(idx.length, 2);
    assert.deepEqual(Array.from(idx[1]?.y ?? []), [1, 2, 0, 1]);
    assert.deepEqual(idx[1]?.yShape, [4, 1]);
  });

  test("images of different sizes in one batch are refused with a fix", async () => {
    const src: DataSource = {
      ...synthetic(4).source,
      load: async (i) => ({
        image: createImage(new Uint8Array(i === 2 ? 9 : 4), i === 2 ? [3, 3, 1] : [2, 2, 1]),
        label: 0,
        index: i,
      }),
    };
    await assert.rejects(
      collect(new DataLoader(src, { batchSize: 4, seed: 1, shuffle: false })),
      (e) => isRadioLensError(e, "RL_ERR_SHAPE_MISMATCH") && /resize/.test(e.message),
    );
  });

  test("weighted sampling balances a 9:1 dataset; class weights follow N/(C·n_c)", async () => {
    const { source } = synthetic(1000, { rare: true });
    const labels = Array.from({ length: 1000 }, (_, i) => source.label(i));
    const loader = new DataLoader(source, {
      batchSize: 100,
      seed: 4,
      sampleWeights: balancedSampleWeights(labels, 2),
      epochSize: 4000,
    });
    let pos = 0;
    let n = 0;
    for await (const b of loader.epoch()) {
      for (let k = 0; k < b.indices.length; k++) pos += b.y[k * 2 + 1] as number;
      n += b.indices.length;
    }
    assert.equal(n, 4000);
    assert.ok(Math.abs(pos / n - 0.5) < 0.03, `positive share ${pos / n}`);
    const w = balancedClassWeights(labels, 2);
    assert.ok(
      Math.abs((w[0] as number) - 1000 / (2 * 900)) < 1e-12 && Math.abs((w[1] as number) - 5) < 1e-12,
    );
    assert.deepEqual(
      Array.from(
        positiveWeights(
          [
            [1, 0],
            [0, 0],
            [0, 1],
            [0, 0],
          ],
          2,
        ),
      ),
      [3, 3],
    );
  });
});
