/** 3D segmentation preprocessing and patch augmentation: normalisation, resampling, seeded foreground-oversampled patches. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { Rng } from "../../core/rng.js";
import {
  classLocations,
  downsampleLabel,
  normalizeIntensity,
  resampledShape,
  resampleVolume,
  sampleSegPatch,
  type Volume,
} from "./seg3d.js";

function phantom(): { image: Volume; label: Volume<Uint8Array> } {
  // A 12×16×10 volume with a bright 3×4×3 box labelled 1 and a 2×2×2 box labelled 2.
  const shape: [number, number, number] = [12, 16, 10];
  const n = shape[0] * shape[1] * shape[2];
  const img = new Float32Array(n);
  const lab = new Uint8Array(n);
  const rng = new Rng(3);
  for (let z = 0; z < 12; z++)
    for (let y = 0; y < 16; y++)
      for (let x = 0; x < 10; x++) {
        const i = (z * 16 + y) * 10 + x;
        img[i] = rng.normal(0, 0.1) + z * 0.01;
        if (z >= 4 && z < 7 && y >= 5 && y < 9 && x >= 3 && x < 6) {
          lab[i] = 1;
          img[i] = (img[i] as number) + 2;
        }
        if (z >= 8 && z < 10 && y >= 11 && y < 13 && x >= 6 && x < 8) lab[i] = 2;
      }
  return {
    image: { data: img, shape, spacing: [1, 1, 1] },
    label: { data: lab, shape, spacing: [1, 1, 1] },
  };
}

test("MRI is z-scored per image; CT is clipped to the foreground percentiles then z-scored", () => {
  const z = normalizeIntensity([1, 2, 3, 4, 5], "MRI");
  const mean = z.reduce((a, b) => a + b, 0) / z.length;
  const sd = Math.sqrt(z.reduce((a, b) => a + (b - mean) ** 2, 0) / z.length);
  assert.ok(Math.abs(mean) < 1e-6 && Math.abs(sd - 1) < 1e-6);
  const ct = normalizeIntensity([-1000, 0, 40, 3000], "CT", { mean: 40, std: 20, p005: -100, p995: 200 });
  assert.deepEqual(Array.from(ct), [-7, -2, 0, 8]);
  assert.throws(() => normalizeIntensity([1], "CT"), { code: "RL_ERR_USAGE" });
});

test("resampling keeps the field of view; nearest keeps label values; equal grids are copied", () => {
  assert.deepEqual(resampledShape([36, 50, 35], [1, 1, 1], [1, 1, 1]), [36, 50, 35]);
  assert.deepEqual(resampledShape([20, 50, 35], [3, 1, 1], [1.5, 2, 1]), [40, 25, 35]);
  const { image, label } = phantom();
  const same = resampleVolume(image.data, image.shape, image.shape, "linear");
  assert.deepEqual(same, image.data);
  assert.notEqual(same, image.data);
  const up = resampleVolume(label.data, label.shape, [24, 32, 20], "nearest");
  assert.deepEqual(new Set(up), new Set([0, 1, 2]));
  const count = (a: Uint8Array, v: number) => a.reduce((s, x) => s + (x === v ? 1 : 0), 0);
  assert.equal(count(up, 1), 8 * count(label.data, 1));
  // Linear resampling of a constant is the constant.
  const c = resampleVolume(new Float32Array(60).fill(2.5), [3, 4, 5], [7, 2, 9], "linear");
  assert.ok(c.every((v) => Math.abs(v - 2.5) < 1e-6));
});

test("patches: seeded, one third centred on foreground, labels moved with the image", () => {
  const { image, label } = phantom();
  const locs = classLocations(label.data, 3);
  assert.deepEqual(
    locs.map((l) => l.length),
    [1920 - 36 - 8, 36, 8],
  );
  const draw = (seed: number) => {
    const rng = new Rng(seed);
    return Array.from({ length: 60 }, () => sampleSegPatch(image, label, locs, [8, 8, 8], rng));
  };
  const a = draw(5);
  const b = draw(5);
  assert.deepEqual(
    a.map((p) => p.image),
    b.map((p) => p.image),
  );
  const forced = a.filter((p) => p.forced).length;
  assert.ok(forced >= 10 && forced <= 30, `${forced} of 60 patches centred on foreground`);
  for (const p of a) {
    assert.ok(p.label.every((v) => v <= 2));
    if (p.forced)
      assert.ok(
        p.label.some((v) => v > 0),
        "a foreground-centred patch holds foreground",
      );
  }
  // Without augmentation a foreground-centred patch is an exact crop: labelled voxels are the bright ones.
  const rng = new Rng(9);
  const p = sampleSegPatch(image, label, locs, [6, 6, 6], rng, { foregroundProb: 1, augment: false });
  p.label.forEach((v, i) => {
    if (v === 1) assert.ok((p.image[i] as number) > 1.4);
  });
  assert.ok(p.label.some((v) => v > 0));
});

test("deep-supervision targets are nearest down-samplings", () => {
  const lab = new Uint8Array(4 * 4 * 4);
  lab[0] = 1;
  lab[(2 * 4 + 2) * 4 + 2] = 2;
  const d = downsampleLabel(lab, [4, 4, 4], 1);
  assert.deepEqual(Array.from(d), [1, 0, 0, 0, 0, 0, 0, 2]);
});
