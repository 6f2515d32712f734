/** 2D segmentation training on NIfTI image + mask pairs: slices → U-Net with Dice + cross-entropy → Dice on held-out slices. */
import { RadioLensError } from "../core/errors.js";
import { niftiPairSource, type Sample, subset } from "../data/index.js";
import { type BackendName, initEngine, tf } from "../engine/backend.js";
import { computeDice } from "../metrics/index.js";
import { createUNet, diceCeLoss } from "../models/zoo/index.js";
import { normalize, resize } from "../transforms/index.js";
import { StreamingBatchSource } from "./file-data.js";
import { Adam } from "./optim.js";
import { type Callback, fit } from "./trainer.js";

/** Options of {@link trainSegmentation2D}. */
export interface Segmentation2DOptions {
  readonly image: string;
  readonly mask: string;
  /** In-plane size the slices are resized to (divisible by 2^depth). */
  readonly size: readonly [number, number];
  readonly epochs: number;
  readonly batchSize?: number;
  readonly seed: number;
  readonly baseFilters?: number;
  readonly depth?: number;
  readonly learningRate?: number;
  /** Share of slices without foreground that are kept (default 0.1), so the model also sees negatives. */
  readonly emptySliceFraction?: number;
  readonly backend?: BackendName;
  readonly callbacks?: readonly Callback[];
}

/** Held-out Dice of the model and of the all-background baseline. */
export interface Segmentation2DResult {
  readonly dice: number;
  readonly baselineDice: number;
  readonly trainSlices: number;
  readonly testSlices: number;
}

/**
 * Trains a 2D U-Net (Ronneberger et al. 2015) on the axial slices of a volume and its label mask (any label > 0 is
 * foreground), with Dice + cross-entropy (Milletari et al. 2016); even slices train, odd slices test. Slices are
 * z-scored (MONAI NormalizeIntensity) and resized, masks with nearest neighbour. Returns the test Dice and the
 * all-background baseline's Dice (0 whenever the test slices hold foreground).
 *
 * @example
 * ```ts
 * const r = await trainSegmentation2D({ image: "FLAIR.nii.gz", mask: "lesion.nii.gz", size: [64, 48], epochs: 8, seed: 1 });
 * console.log(r.dice, r.baselineDice);
 * ```
 */
export async function trainSegmentation2D(opts: Segmentation2DOptions): Promise<Segmentation2DResult> {
  await initEngine(opts.backend ? { backend: opts.backend } : {});
  const all = niftiPairSource([{ image: opts.image, mask: opts.mask }], {
    slices: true,
    binarize: true,
    emptySliceFraction: opts.emptySliceFraction ?? 0.1,
  });
  const even = Array.from({ length: Math.ceil(all.size / 2) }, (_, i) => 2 * i);
  const odd = Array.from({ length: Math.floor(all.size / 2) }, (_, i) => 2 * i + 1);
  if (odd.length === 0)
    throw new RadioLensError("RL_ERR_DATA_EMPTY", {
      detail: "the mask has foreground on fewer than 2 slices",
    });
  const [rows, cols] = opts.size;
  const z = normalize({});
  const img = resize({ size: [rows, cols], mode: "linear" });
  const msk = resize({ size: [rows, cols], mode: "nearest" });
  const prepare = (s: Sample): Sample => ({
    ...s,
    image: img(z(s.image)),
    ...(s.mask ? { mask: msk(s.mask) } : {}),
  });
  const model = createUNet({
    inputShape: [rows, cols, 1],
    numClasses: 2,
    seed: opts.seed,
    baseFilters: opts.baseFilters ?? 8,
    depth: opts.depth ?? 3,
  });
  const optimizer = new Adam({ learningRate: opts.learningRate ?? 3e-3 });
  const batchSize = opts.batchSize ?? 4;
  await fit({
    model,
    optimizer,
    loss: (y, p) => tf.reshape(diceCeLoss(y, p, { includeBackground: false }), [1]) as tf.Tensor1D,
    train: new StreamingBatchSource(subset(all, even), {
      batchSize,
      seed: opts.seed,
      shuffle: true,
      prepare,
    }),
    epochs: opts.epochs,
    seed: opts.seed,
    callbacks: opts.callbacks ?? [],
  });
  const test = new StreamingBatchSource(subset(all, odd), {
    batchSize: 16,
    seed: opts.seed,
    shuffle: false,
    prepare,
  });
  const pred: number[] = [];
  const gt: number[] = [];
  for await (const b of test.epoch(0)) {
    const p = tf.tidy(() =>
      tf.argMax(model.predict(tf.tensor(b.x, [...b.xShape])) as tf.Tensor, -1).dataSync(),
    );
    for (let i = 0; i < p.length; i++) {
      pred.push(p[i] as number);
      gt.push(b.y[i * 2 + 1] as number);
    }
  }
  const shape = [odd.length, rows, cols];
  const dice = computeDice({ data: pred, shape }, { data: gt, shape });
  const baselineDice = computeDice({ data: new Uint8Array(gt.length), shape }, { data: gt, shape });
  model.dispose();
  optimizer.dispose();
  return { dice, baselineDice, trainSlices: even.length, testSlices: odd.length };
}
