/** Tests that 3D MedMNIST files load as volumes `[slices, rows, cols, 1]` and 2D files keep `[rows, cols, ch]`. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { sharedData } from "../../test/support/shared-data.js";
import { loadNpzDataset } from "./npz-dataset.js";

test("AdrenalMNIST3D loads as 28³ volumes with one channel; RetinaMNIST as 28×28 RGB images", () => {
  const a = loadNpzDataset(sharedData("medmnist/adrenalmnist3d.npz"), ["val"]);
  const v = a.splits["val"]!;
  assert.equal(v.dims, 3);
  assert.deepEqual(v.shape, [28, 28, 28, 1]);
  assert.equal(v.count, 98);
  assert.equal(a.task, "binary");
  assert.deepEqual(a.labelNames, ["normal", "hyperplasia"]);
  const r = loadNpzDataset(sharedData("medmnist/retinamnist.npz"), ["val"]);
  assert.equal(r.splits["val"]!.dims, 2);
  assert.deepEqual(r.splits["val"]!.shape, [28, 28, 3]);
  assert.equal(r.numClasses, 5);
  assert.equal(r.task, "multiclass");
});
