/** The streaming loader: seeded, resumable epochs of batches with bounded prefetch and per-sample augmentation. */
import { RadioLensError } from "../core/errors.js";
import { Rng } from "../core/rng.js";
import { AliasSampler } from "./balance.js";
import type { DataSource, Label, Sample } from "./types.js";

/** A per-sample transform; gets its own RNG derived from (epoch seed, position), so results do not depend on timing. */
export type Augment = (sample: Sample, rng: Rng) => Sample | Promise<Sample>;

/** How labels are laid out in `Batch.y`. */
export type LabelEncoding = "onehot" | "index" | "multihot";

/** Where a loader stands: enough to replay the exact remaining order after a restart. */
export interface LoaderCursor {
  /** Epoch number, from 0. */
  readonly epoch: number;
  /** Samples of this epoch already delivered. */
  readonly position: number;
  /** RNG state at the start of this epoch (the epoch's order and augmentation seeds derive from it). */
  readonly rngState: readonly number[];
}

/** Options for {@link DataLoader}. */
export interface LoaderOptions {
  readonly batchSize: number;
  readonly seed: number;
  /** Shuffle each epoch (default true). Ignored when `sampleWeights` is given. */
  readonly shuffle?: boolean;
  /** Drop a last partial batch (default false). */
  readonly dropLast?: boolean;
  /** Batches read ahead of the consumer (default 2); memory holds at most (prefetch + 1) batches. */
  readonly prefetch?: number;
  readonly augment?: Augment;
  /** Draw each epoch with replacement with these per-item weights (see `balancedSampleWeights`). */
  readonly sampleWeights?: ArrayLike<number>;
  /** Items per epoch when sampling with weights (default: the source size). */
  readonly epochSize?: number;
  /** Default: multihot for multi-label tasks, onehot otherwise. */
  readonly labelEncoding?: LabelEncoding;
  /** Resume from a saved cursor instead of the start of epoch 0. */
  readonly cursor?: LoaderCursor;
}

/** One batch, as flat typed arrays with shapes (the trainer turns them into tensors inside its own tidy scope). */
export interface Batch {
  /** Pixels as float32, `[B, ...imageShape]`. */
  readonly x: Float32Array;
  readonly xShape: readonly number[];
  readonly y: Float32Array;
  readonly yShape: readonly number[];
  /** Tabular covariates `[B, F]` when the samples carry them. */
  readonly tabular?: Float32Array;
  /** Source indices of the batch's items. */
  readonly indices: Int32Array;
  readonly epoch: number;
}

/** murmur3's 32-bit finalizer: spreads (seed, position) so neighbouring positions get unrelated augmentation seeds. */
function mix(seed: number, position: number): number {
  let h = (seed ^ Math.imul(position + 1, 0x9e3779b1)) >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h | 0;
}

interface EpochPlan {
  readonly order: Int32Array;
  readonly augSeed: number;
  readonly nextState: number[];
}

/**
 * Streams a {@link DataSource} in batches. Each epoch's order (a permutation, or weighted draws with replacement) and
 * augmentation seeds come from an RNG whose state at the epoch start is part of the {@link LoaderCursor}; restoring
 * the cursor replays the identical remaining batches. Reads are lazy and at most `prefetch` batches ahead, so memory
 * does not grow with the dataset. tfjs's `data.shuffle` is not used: it draws from Math.random.
 *
 * @example
 * ```ts
 * const loader = new DataLoader(train, { batchSize: 64, seed: 1, augment: (s, rng) => flip(s, rng) });
 * for await (const batch of loader.epoch()) {
 *   trainStep(batch);
 *   checkpoint.data = loader.cursor();
 * }
 * ```
 */
export class DataLoader {
  private readonly source: DataSource;
  private readonly opts: LoaderOptions;
  private readonly sampler: AliasSampler | undefined;
  private state: LoaderCursor;

  constructor(source: DataSource, opts: LoaderOptions) {
    if (!Number.isInteger(opts.batchSize) || opts.batchSize < 1) {
      throw new RadioLensError("RL_ERR_USAGE", {
        detail: `batch size must be a positive integer, got ${opts.batchSize}`,
      });
    }
    if (source.size === 0) throw new RadioLensError("RL_ERR_DATA_EMPTY", { detail: "the dataset is empty" });
    if (opts.sampleWeights && opts.sampleWeights.length !== source.size) {
      throw new RadioLensError("RL_ERR_USAGE", {
        detail: `${opts.sampleWeights.length} sample weights for ${source.size} items`,
      });
    }
    this.source = source;
    this.opts = opts;
    this.sampler = opts.sampleWeights ? new AliasSampler(opts.sampleWeights) : undefined;
    this.state = opts.cursor ?? { epoch: 0, position: 0, rngState: new Rng(opts.seed).state() };
  }

  /** Items in one epoch. */
  get epochLength(): number {
    const n = this.sampler ? (this.opts.epochSize ?? this.source.size) : this.source.size;
    return this.opts.dropLast ? n - (n % this.opts.batchSize) : n;
  }

  /** Batches in one epoch. */
  get batchesPerEpoch(): number {
    return Math.ceil(this.epochLength / this.opts.batchSize);
  }

  /** The position after the last delivered batch (JSON-serializable; store it in checkpoints). */
  cursor(): LoaderCursor {
    return { epoch: this.state.epoch, position: this.state.position, rngState: [...this.state.rngState] };
  }

  private plan(rngState: readonly number[]): EpochPlan {
    const rng = Rng.fromState(rngState);
    const n = this.source.size;
    let order: Int32Array;
    if (this.sampler) {
      const m = this.opts.epochSize ?? n;
      order = new Int32Array(m);
      for (let i = 0; i < m; i++) order[i] = this.sampler.draw(rng);
    } else if (this.opts.shuffle ?? true) {
      order = new Int32Array(n);
      for (let i = 0; i < n; i++) order[i] = i;
      for (let i = n - 1; i > 0; i--) {
        const j = rng.int(0, i);
        const t = order[i] as number;
        order[i] = order[j] as number;
        order[j] = t;
      }
    } else {
      order = Int32Array.from({ length: n }, (_, i) => i);
    }
    const augSeed = rng.seed();
    return { order, augSeed, nextState: rng.state() };
  }

  /**
   * The rest of the current epoch (all of it after an epoch ended). The cursor advances as each batch is handed
   * over, and moves to the next epoch when this one is exhausted.
   */
  async *epoch(): AsyncGenerator<Batch, void, undefined> {
    const { epoch, rngState } = this.state;
    const { order, augSeed, nextState } = this.plan(rngState);
    const end = this.epochLength;
    const bs = this.opts.batchSize;
    const window = bs * Math.max(1, this.opts.prefetch ?? 2);
    const queue: Promise<Sample>[] = [];
    let pos = Math.min(this.state.position, end);
    let next = pos;
    const fill = (): void => {
      while (next < end && next - pos < window) {
        const p = this.loadAt(order[next] as number, augSeed, next);
        // Marks the promise handled: a consumer that stops early must not turn prefetched failures into crashes.
        p.catch(() => undefined);
        queue.push(p);
        next++;
      }
    };
    while (pos < end) {
      fill();
      const take = Math.min(bs, end - pos);
      const samples = await Promise.all(queue.splice(0, take));
      pos += take;
      fill();
      const batch = this.collate(samples, epoch);
      this.state = { epoch, position: pos, rngState };
      yield batch;
    }
    this.state = { epoch: epoch + 1, position: 0, rngState: nextState };
  }

  private async loadAt(index: number, augSeed: number, position: number): Promise<Sample> {
    const s = await this.source.load(index);
    return this.opts.augment ? this.opts.augment(s, new Rng(mix(augSeed, position))) : s;
  }

  private encodeLabel(y: Label, out: Float32Array, offset: number, enc: LabelEncoding, c: number): void {
    if (enc === "index") {
      if (typeof y !== "number")
        throw new RadioLensError("RL_ERR_USAGE", { detail: "index labels need a single-label task" });
      out[offset] = y;
    } else if (typeof y === "number") {
      if (enc === "multihot" && c === 1) out[offset] = y;
      else out[offset + y] = 1;
    } else {
      for (let k = 0; k < c; k++) out[offset + k] = (y[k] ?? 0) > 0 ? 1 : 0;
    }
  }

  /** One-hot (or index) label map `[...spatial, C]` from a sample's mask; values outside 0..C-1 are refused. */
  private encodeMask(
    s: Sample,
    out: Float32Array,
    offset: number,
    voxels: number,
    width: number,
    enc: LabelEncoding,
    c: number,
  ): void {
    const m = s.mask?.data;
    if (!m || m.length !== voxels) {
      throw new RadioLensError("RL_ERR_SHAPE_MISMATCH", {
        detail: `item ${s.index} has ${m ? `a mask of ${m.length} voxels for ${voxels} image voxels` : "no mask"}`,
      });
    }
    for (let v = 0; v < voxels; v++) {
      const cls = m[v] as number;
      if (!(Number.isInteger(cls) && cls >= 0 && cls < c)) {
        throw new RadioLensError("RL_ERR_LABEL_OUT_OF_RANGE", {
          detail: `item ${s.index}: mask value ${cls} is not a class 0..${c - 1}; merge labels or name more classes`,
        });
      }
      if (enc === "index") out[offset + v] = cls;
      else out[offset + v * width + cls] = 1;
    }
  }

  private collate(samples: Sample[], epoch: number): Batch {
    const first = samples[0] as Sample;
    const shape = first.image.shape;
    const per = first.image.data.length;
    const b = samples.length;
    const x = new Float32Array(b * per);
    const c = this.source.task.classNames.length;
    const seg = this.source.task.type === "segmentation";
    const enc = this.opts.labelEncoding ?? (this.source.task.type === "multilabel" ? "multihot" : "onehot");
    const width = enc === "index" ? 1 : c;
    const voxels = seg ? per / (shape[shape.length - 1] as number) : 1;
    const y = new Float32Array(b * width * voxels);
    const tabWidth = first.tabular?.length ?? 0;
    const tabular = tabWidth > 0 ? new Float32Array(b * tabWidth) : undefined;
    const indices = new Int32Array(b);
    samples.forEach((s, k) => {
      if (s.image.data.length !== per || s.image.shape.some((d, j) => d !== shape[j])) {
        throw new RadioLensError("RL_ERR_SHAPE_MISMATCH", {
          detail: `item ${s.index} has shape [${s.image.shape.join(", ")}], the batch has [${shape.join(", ")}]; resize images to one size (a transform) before batching`,
        });
      }
      x.set(s.image.data, k * per);
      if (seg) this.encodeMask(s, y, k * voxels * width, voxels, width, enc, c);
      else this.encodeLabel(s.label, y, k * width, enc, c);
      if (tabular) {
        if (s.tabular?.length !== tabWidth) {
          throw new RadioLensError("RL_ERR_SHAPE_MISMATCH", {
            detail: `item ${s.index} lacks ${tabWidth} tabular values`,
          });
        }
        tabular.set(s.tabular, k * tabWidth);
      }
      indices[k] = s.index;
    });
    return {
      x,
      xShape: [b, ...shape],
      y,
      yShape: seg ? [b, ...shape.slice(0, -1), width] : [b, width],
      ...(tabular ? { tabular } : {}),
      indices,
      epoch,
    };
  }
}
