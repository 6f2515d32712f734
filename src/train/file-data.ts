/** Training data from files: a folder per class or a CSV manifest, split by patient, streamed through the DataLoader. */
import { statSync } from "node:fs";
import type { Batch, BatchSource } from "../core/dataset.js";
import { RadioLensError } from "../core/errors.js";
import { createImage } from "../core/image.js";
import { Rng } from "../core/rng.js";
import {
  DataLoader,
  type DataSource,
  folderSource,
  readManifest,
  type Sample,
  type Splits,
  splitByRatio,
  splitInput,
  subset,
  type TaskSpec,
} from "../data/index.js";
import { readImage } from "../io/index.js";
import type { PreprocessStep } from "../models/bundle.js";
import { preprocessForModel } from "../models/preprocess.js";

/** Options of {@link StreamingBatchSource}. */
export interface StreamingOptions {
  readonly batchSize: number;
  readonly seed: number;
  readonly shuffle: boolean;
  /** Converts each decoded sample to the model input (preprocessing, then any augmentation). */
  readonly prepare: (s: Sample, rng: Rng) => Sample;
  /** Batches read ahead (memory holds at most prefetch + 1 batches). */
  readonly prefetch?: number;
}

/** A per-epoch seed: the loader's order then depends on (seed, epoch) only, as resume requires. */
function epochSeed(seed: number, epoch: number): number {
  return (Math.imul(seed ^ 0x2545f491, 0x9e3779b1) + Math.imul(epoch + 1, 0x85ebca6b)) | 0;
}

/**
 * A {@link BatchSource} that streams a {@link DataSource} through the DataLoader: lazy reads, bounded prefetch,
 * memory independent of the dataset size.
 *
 * @example
 * ```ts
 * const train = new StreamingBatchSource(source, { batchSize: 32, seed: 1, shuffle: true, prepare });
 * ```
 */
export class StreamingBatchSource implements BatchSource {
  readonly size: number;
  readonly batchSize: number;

  constructor(
    private readonly source: DataSource,
    private readonly opts: StreamingOptions,
  ) {
    this.size = source.size;
    this.batchSize = opts.batchSize;
  }

  batchesPerEpoch(): number {
    return Math.ceil(this.size / this.batchSize);
  }

  async *epoch(epoch: number, from = 0): AsyncIterable<Batch> {
    const seed = epochSeed(this.opts.seed, epoch);
    const loader = new DataLoader(this.source, {
      batchSize: this.batchSize,
      seed,
      shuffle: this.opts.shuffle,
      prefetch: this.opts.prefetch ?? 2,
      augment: (s, rng) => this.opts.prepare(s, rng),
      ...(from > 0
        ? { cursor: { epoch: 0, position: from * this.batchSize, rngState: new Rng(seed).state() } }
        : {}),
    });
    for await (const b of loader.epoch()) {
      yield {
        x: b.x,
        xShape: b.xShape,
        y: b.y,
        yShape: b.yShape,
        ...(b.tabular ? { tabular: b.tabular } : {}),
      };
    }
  }
}

/** A file dataset split for training. */
export interface FileDataset {
  readonly task: TaskSpec;
  readonly train: DataSource;
  readonly val: DataSource;
  readonly test: DataSource | undefined;
  /** "folder" or "manifest". */
  readonly kind: string;
}

/**
 * Opens a folder per class or a CSV manifest and splits it: a manifest's `split` column when it has one (a patient in
 * two splits is refused), otherwise 80/10/10 grouped by patient and stratified by label.
 *
 * @example
 * ```ts
 * const ds = openFileDataset("data/manifest.csv", 1);
 * ```
 */
export function openFileDataset(path: string, seed: number): FileDataset {
  let isDir = false;
  try {
    isDir = statSync(path).isDirectory();
  } catch {
    throw new RadioLensError("RL_ERR_FILE_NOT_FOUND", { path });
  }
  let source: DataSource;
  let splits: Splits = {};
  let kind: string;
  // DICOM is rendered through its VOI to 8 bits: the intensity domain ("display8") these models train on.
  const reader = (p: string) => readImage(p, { dicom: "display" });
  if (isDir) {
    source = folderSource(path, { reader });
    kind = "folder";
  } else if (/\.csv$/i.test(path)) {
    const m = readManifest(path, { reader });
    source = m.source;
    splits = m.splits;
    kind = "manifest";
  } else {
    throw new RadioLensError("RL_ERR_UNKNOWN_FORMAT", {
      path,
      tried: ".npz, a folder per class, a .csv manifest",
    });
  }
  if (!splits["train"])
    splits = splitByRatio(splitInput(source), { ratios: { train: 0.8, val: 0.1, test: 0.1 }, seed });
  let train = splits["train"] ?? [];
  let val = splits["val"] ?? splits["validation"];
  if (!val) {
    // A manifest with only train (and maybe test) rows: carve validation out of train, still by patient.
    const inner = splitByRatio(splitInput(subset(source, train)), { ratios: { train: 0.9, val: 0.1 }, seed });
    val = (inner["val"] ?? []).map((i) => train[i] as number);
    train = (inner["train"] ?? []).map((i) => train[i] as number);
  }
  if (train.length === 0 || val.length === 0) {
    throw new RadioLensError("RL_ERR_DATA_EMPTY", {
      detail: `${path} gives ${train.length} training and ${val.length} validation items; both must be non-empty`,
    });
  }
  const test = splits["test"];
  return {
    task: source.task,
    train: subset(source, train),
    val: subset(source, val),
    test: test ? subset(source, test) : undefined,
    kind,
  };
}

/**
 * The per-sample preparation for training on files: the model card's preprocessing (the same code inference runs),
 * so training and serving see identical tensors.
 *
 * @example
 * ```ts
 * const prepare = samplePreparer(steps, [224, 224, 1]);
 * ```
 */
export function samplePreparer(
  steps: readonly PreprocessStep[],
  inputShape: readonly [number, number, number],
): (s: Sample) => Sample {
  const card = {
    preprocessing: steps,
    input: { shape: inputShape, layout: "NHWC" as const, dtype: "float32" as const },
  };
  return (s) => ({ ...s, image: createImage(preprocessForModel(s.image, card), inputShape) });
}
