/** 2D segmentation training on a NIfTI image + mask pair: slices → U-Net with Dice + cross-entropy → Dice on held-out slices. */
import { RadioLensError } from "../core/errors.js";
import { createImage, type MedicalImage } from "../core/image.js";
import { Rng } from "../core/rng.js";
import { MemoryBatchSource } from "../data/memory.js";
import { type BackendName, initEngine, tf } from "../engine/backend.js";
import { readNifti } from "../io/nifti/index.js";
import { computeDice } from "../metrics/index.js";
import { createUNet, diceCeLoss } from "../models/zoo/index.js";
import { resize } from "../transforms/index.js";
import { Adam } from "./optim.js";
import { type Callback, fit } from "./trainer.js";

/** Options of {@link trainSegmentation2D}. */
export interface Segmentation2DOptions {
  readonly image: string;
  readonly mask: string;
  /** In-plane size the slices are resized to (divisible by 2^depth). */
  readonly size?: readonly [number, number];
  readonly epochs: number;
  readonly batchSize?: number;
  readonly seed: number;
  readonly baseFilters?: number;
  readonly depth?: number;
  readonly learningRate?: number;
  /** Slices without foreground kept per slice with foreground (default 0.25), so the model also sees negatives. */
  readonly negativeRatio?: number;
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

function sliceOf(
  vol: MedicalImage,
  z: number,
  size: readonly [number, number],
  mode: "linear" | "nearest",
): Float32Array {
  const [, rows, cols] = vol.shape as [number, number, number, number];
  const plane = new Float32Array(rows * cols);
  for (let i = 0; i < rows * cols; i++) plane[i] = vol.data[z * rows * cols + i] as number;
  const img = createImage(plane, [rows, cols, 1]);
  return Float32Array.from(resize({ size, mode })(img).data);
}

/**
 * Trains a 2D U-Net (Ronneberger et al. 2015) on the axial slices of a volume and its label mask (any label > 0 is
 * foreground); even slices train, odd slices test. Returns the test Dice and the all-background baseline's Dice (0
 * whenever the test slices hold foreground).
 *
 * @example
 * ```ts
 * const r = await trainSegmentation2D({ image: "FLAIR.nii.gz", mask: "lesion.nii.gz", epochs: 5, seed: 1 });
 * console.log(r.dice, r.baselineDice);
 * ```
 */
export async function trainSegmentation2D(opts: Segmentation2DOptions): Promise<Segmentation2DResult> {
  await initEngine(opts.backend ? { backend: opts.backend } : {});
  const image = await readNifti(opts.image);
  const mask = await readNifti(opts.mask);
  if (image.shape.join() !== mask.shape.join()) {
    throw new RadioLensError("RL_ERR_DATA_INVALID", {
      detail: `image [${image.shape.join(", ")}] and mask [${mask.shape.join(", ")}] differ in shape`,
    });
  }
  if (image.shape.length !== 4)
    throw new RadioLensError("RL_ERR_DATA_INVALID", { detail: "segmentation training needs a 3D volume" });
  const [slices, rows, cols] = image.shape as [number, number, number, number];
  const size = opts.size ?? [Math.floor(rows / 16) * 8, Math.floor(cols / 16) * 8];
  let max = 0;
  for (const v of image.data) if ((v as number) > max) max = v as number;
  const rng = new Rng(opts.seed);
  const fg: number[] = [];
  const bg: number[] = [];
  for (let z = 0; z < slices; z++) {
    let any = false;
    for (let i = z * rows * cols; i < (z + 1) * rows * cols && !any; i++) any = (mask.data[i] as number) > 0;
    (any ? fg : bg).push(z);
  }
  if (fg.length < 2)
    throw new RadioLensError("RL_ERR_DATA_INVALID", {
      detail: "the mask has foreground on fewer than 2 slices",
    });
  const negatives = rng.shuffle(bg).slice(0, Math.round(fg.length * (opts.negativeRatio ?? 0.25)));
  const chosen = [...fg, ...negatives].sort((a, b) => a - b);
  const train = chosen.filter((z) => z % 2 === 0);
  const test = chosen.filter((z) => z % 2 === 1);
  const per = size[0] * size[1];
  const pack = (zs: number[]) => {
    const x = new Float32Array(zs.length * per);
    const y = new Float32Array(zs.length * per * 2);
    zs.forEach((z, i) => {
      const xi = sliceOf(image, z, size, "linear");
      const yi = sliceOf(mask, z, size, "nearest");
      for (let p = 0; p < per; p++) {
        x[i * per + p] = (xi[p] as number) / (max || 1);
        const f = (yi[p] as number) > 0 ? 1 : 0;
        y[(i * per + p) * 2 + f] = 1;
      }
    });
    return { x, y };
  };
  const tr = pack(train);
  const te = pack(test);
  const model = createUNet({
    inputShape: [size[0], size[1], 1],
    numClasses: 2,
    seed: opts.seed,
    baseFilters: opts.baseFilters ?? 8,
    depth: opts.depth ?? 3,
  });
  const optimizer = new Adam({ learningRate: opts.learningRate ?? 3e-3 });
  const source = new MemoryBatchSource({
    x: tr.x,
    sampleShape: [size[0], size[1], 1],
    y: tr.y,
    targetShape: [size[0], size[1], 2],
    batchSize: opts.batchSize ?? 8,
    shuffle: true,
    seed: opts.seed,
  });
  await fit({
    model,
    optimizer,
    loss: (y, p) => tf.reshape(diceCeLoss(y, p, { includeBackground: false }), [1]) as tf.Tensor1D,
    train: source,
    epochs: opts.epochs,
    seed: opts.seed,
    callbacks: opts.callbacks ?? [],
  });
  const pred = tf.tidy(() => {
    const p = model.predict(tf.tensor4d(te.x, [test.length, size[0], size[1], 1])) as tf.Tensor;
    return tf.argMax(p, -1).dataSync() as Int32Array;
  });
  const gt = new Uint8Array(test.length * per);
  for (let i = 0; i < gt.length; i++) gt[i] = te.y[i * 2 + 1] as number;
  const shape = [test.length, size[0], size[1]];
  const dice = computeDice({ data: pred, shape }, { data: gt, shape });
  const baselineDice = computeDice({ data: new Uint8Array(gt.length), shape }, { data: gt, shape });
  model.dispose();
  optimizer.dispose();
  return { dice, baselineDice, trainSlices: train.length, testSlices: test.length };
}
