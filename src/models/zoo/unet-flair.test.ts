/** Segmentation smoke test: a 2D U-Net trained on FLAIR slices beats the all-background baseline on lesion Dice. */
import assert from "node:assert/strict";
import { before, test } from "node:test";
import { createImage, type MedicalImage } from "../../core/image.js";
import { sharedData } from "../../core/testing.js";
import { DataLoader, niftiPairSource, type Sample, subset } from "../../data/index.js";
import { initEngine, tf } from "../../engine/backend.js";
import { createUNet, diceCeLoss } from "./index.js";

before(async () => {
  await initEngine({ backend: "wasm" });
});

const F = Number(process.env["RL_FLAIR_FACTOR"] ?? 4);
// Crop columns so that the shrunk width stays divisible by 4 (the U-Net's two 2× poolings).
const CROP = 124 - (124 % (4 * F));
const [R, C, OFF] = [160 / F, CROP / F, (124 - CROP) / 2];

/** F× down-sampling of a centre-cropped [160, 124, 1] slice: mean for the image scaled to [0, 1], max for the mask
 * so small lesions survive. */
function shrink(img: MedicalImage, reduce: "mean" | "max", scale: number): MedicalImage {
  const cols = img.shape[1] as number;
  const out = new Float32Array(R * C);
  for (let r = 0; r < R; r++) {
    for (let c = 0; c < C; c++) {
      let acc = 0;
      for (let dr = 0; dr < F; dr++) {
        for (let dc = 0; dc < F; dc++) {
          const v = img.data[(F * r + dr) * cols + OFF + F * c + dc] as number;
          acc = reduce === "max" ? Math.max(acc, v) : acc + v / (F * F);
        }
      }
      out[r * C + c] = acc * scale;
    }
  }
  return createImage(out, [R, C, 1]);
}

const prepare = (s: Sample): Sample => ({
  ...s,
  image: shrink(s.image, "mean", 1 / 255),
  ...(s.mask ? { mask: shrink(s.mask, "max", 1) } : {}),
});

test("U-Net 2D on FLAIR + lesion slices: foreground Dice above the all-background baseline (0)", async () => {
  const all = niftiPairSource(
    [{ image: sharedData("nifti/niivue/FLAIR.nii.gz"), mask: sharedData("nifti/niivue/lesion.nii.gz") }],
    { slices: true, binarize: true },
  );
  // Even slices train, odd slices are held out (one volume: a smoke test of the path, not a generalization claim).
  const train = subset(
    all,
    Array.from({ length: all.size / 2 }, (_, i) => 2 * i),
  );
  const held = subset(
    all,
    Array.from({ length: all.size / 2 }, (_, i) => 2 * i + 1),
  );
  const n0 = tf.memory().numTensors;
  const model = createUNet({ inputShape: [R, C, 1], numClasses: 2, seed: 1, baseFilters: 8, depth: 2 });
  const opt = tf.train.adam(0.01);
  const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const loader = new DataLoader(train, { batchSize: 10, seed: 1, augment: prepare });
  const epochs = Number(process.env["RL_FLAIR_EPOCHS"] ?? 4);
  for (let epoch = 0; epoch < epochs; epoch++) {
    for await (const b of loader.epoch()) {
      tf.tidy(() => {
        const x = tf.tensor(b.x, [...b.xShape]);
        const y = tf.tensor(b.y, [...b.yShape]);
        opt.minimize(() => diceCeLoss(y, model.apply(x, { training: true }) as tf.Tensor), false, vars);
      });
    }
  }
  let inter = 0;
  let sum = 0;
  for await (const b of new DataLoader(held, {
    batchSize: 35,
    seed: 1,
    shuffle: false,
    augment: prepare,
  }).epoch()) {
    const [i, s] = tf.tidy(() => {
      const p = model.predict(tf.tensor(b.x, [...b.xShape])) as tf.Tensor;
      const predFg = tf.cast(tf.greater(tf.slice(p, [0, 0, 0, 1], [-1, -1, -1, 1]), 0.5), "float32");
      const trueFg = tf.slice(tf.tensor(b.y, [...b.yShape]), [0, 0, 0, 1], [-1, -1, -1, 1]);
      return [
        tf.sum(tf.mul(predFg, trueFg)).dataSync()[0] as number,
        tf.sum(tf.add(predFg, trueFg)).dataSync()[0] as number,
      ];
    });
    inter += i as number;
    sum += s as number;
  }
  const dice = (2 * inter) / sum;
  if (process.env["RL_FLAIR_SHOW"]) process.stderr.write(`held-out lesion Dice ${dice.toFixed(3)}\n`);
  model.dispose();
  opt.dispose();
  assert.equal(tf.memory().numTensors, n0, "no tensors left once model and optimizer are disposed");
  assert.ok(
    dice > 0.25,
    `held-out lesion Dice ${dice.toFixed(3)} (all-background predicts no lesion: Dice 0)`,
  );
});
