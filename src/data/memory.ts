/** An in-memory BatchSource over typed arrays, shuffled per epoch from (seed, epoch) with the RadioLens RNG. */
import type { Batch, BatchSource } from "../core/dataset.js";
import { RadioLensError } from "../core/errors.js";
import { Rng } from "../core/rng.js";

/** Options of {@link MemoryBatchSource}. */
export interface MemorySourceOptions {
  /** Samples, row-major, `count × prod(sampleShape)`. */
  readonly x: Float32Array;
  readonly sampleShape: readonly number[];
  /** Targets, `count × prod(targetShape)`. */
  readonly y: Float32Array;
  readonly targetShape: readonly number[];
  readonly batchSize: number;
  /** Shuffle each epoch (training) or keep the order (evaluation). */
  readonly shuffle: boolean;
  readonly seed: number;
  /** Per-sample loss weights. */
  readonly sampleWeight?: Float32Array;
}

/**
 * Batches from arrays already in memory (MedMNIST-sized data).
 *
 * @example
 * ```ts
 * const src = new MemoryBatchSource({ x, sampleShape: [28, 28, 1], y, targetShape: [2], batchSize: 32, shuffle: true, seed: 1 });
 * for await (const b of src.epoch(0)) { ... }
 * ```
 */
export class MemoryBatchSource implements BatchSource {
  readonly size: number;
  readonly batchSize: number;
  private readonly xLen: number;
  private readonly yLen: number;

  constructor(private readonly opts: MemorySourceOptions) {
    this.xLen = opts.sampleShape.reduce((a, b) => a * b, 1);
    this.yLen = opts.targetShape.reduce((a, b) => a * b, 1);
    this.size = opts.x.length / this.xLen;
    this.batchSize = opts.batchSize;
    if (!Number.isInteger(this.size) || opts.y.length !== this.size * this.yLen) {
      throw new RadioLensError("RL_ERR_SHAPE_MISMATCH", {
        detail: `${opts.x.length} image values and ${opts.y.length} target values do not make whole samples of [${opts.sampleShape.join(", ")}] and [${opts.targetShape.join(", ")}]`,
      });
    }
    if (!(opts.batchSize >= 1))
      throw new RadioLensError("RL_ERR_USAGE", { detail: "batch size must be at least 1" });
  }

  batchesPerEpoch(): number {
    return Math.ceil(this.size / this.batchSize);
  }

  /** The sample order of an epoch: a permutation seeded by (seed, epoch). */
  order(epoch: number): number[] {
    if (!this.opts.shuffle) return Array.from({ length: this.size }, (_, i) => i);
    return new Rng((this.opts.seed * 1000003 + epoch * 7919) | 0).permutation(this.size);
  }

  async *epoch(epoch: number, from = 0): AsyncIterable<Batch> {
    const order = this.order(epoch);
    const { x, y, sampleWeight } = this.opts;
    for (let b = from; b < this.batchesPerEpoch(); b++) {
      const idx = order.slice(b * this.batchSize, (b + 1) * this.batchSize);
      const bx = new Float32Array(idx.length * this.xLen);
      const by = new Float32Array(idx.length * this.yLen);
      const bw = sampleWeight ? new Float32Array(idx.length) : undefined;
      idx.forEach((s, i) => {
        bx.set(x.subarray(s * this.xLen, (s + 1) * this.xLen), i * this.xLen);
        by.set(y.subarray(s * this.yLen, (s + 1) * this.yLen), i * this.yLen);
        if (bw && sampleWeight) bw[i] = sampleWeight[s] as number;
      });
      yield {
        x: bx,
        xShape: [idx.length, ...this.opts.sampleShape],
        y: by,
        yShape: [idx.length, ...this.opts.targetShape],
        ...(bw ? { sampleWeight: bw } : {}),
      };
    }
  }
}
