/** Segmentation smoke test: a small 2D U-Net on FLAIR slices beats the all-background baseline on lesion Dice. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { sharedData } from "../../test/support/shared-data.js";
import { initEngine, tf } from "../engine/backend.js";
import { trainSegmentation2D } from "./segment.js";

test("2D U-Net on FLAIR + lesion slices beats the all-background baseline on held-out Dice", async () => {
  await initEngine();
  const before = tf.memory().numTensors;
  const r = await trainSegmentation2D({
    image: sharedData("nifti/niivue/FLAIR.nii.gz"),
    mask: sharedData("nifti/niivue/lesion.nii.gz"),
    size: [64, 48],
    batchSize: 4,
    epochs: 8,
    seed: 1,
  });
  assert.equal(r.baselineDice, 0);
  assert.ok(r.testSlices > 10);
  assert.ok(r.dice > 0.2, `held-out Dice ${r.dice}`);
  assert.equal(tf.memory().numTensors, before);
});
