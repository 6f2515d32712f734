/** Random transforms: same seed → same output, image and mask move together under onKeys, masks stay labels. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { isRadioLensError } from "../core/errors.js";
import { createImage, type MedicalImage, pixelStats } from "../core/image.js";
import { Rng } from "../core/rng.js";
import {
  appliedOperations,
  type ImageTransform,
  invert,
  onKeys,
  randAffine,
  randContrast,
  randCropByLabel,
  randElastic,
  randFlip,
  randGamma,
  randGaussianNoise,
  randRotate,
  randSpatialCrop,
} from "./index.js";

/** A label map of three nested boxes (labels 0..3) on a `shape` grid. */
function labels(shape: readonly number[]): MedicalImage {
  const nd = shape.length - 1;
  const sizes = shape.slice(0, nd);
  const n = shape.reduce((a, b) => a * b, 1);
  const data = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    let r = i;
    let d = 1;
    for (let a = nd - 1; a >= 0; a--) {
      const s = sizes[a] as number;
      const x = r % s;
      r = Math.floor(r / s);
      // Off-centre (at 40% of each axis) so that every flip and rotation changes the picture.
      d = Math.min(d, 1 - Math.abs(x - 0.4 * s) / (s / 2));
    }
    data[i] = d > 0.7 ? 3 : d > 0.4 ? 2 : d > 0.2 ? 1 : 0;
  }
  return createImage(data, shape, { spacing: nd === 2 ? [1, 1.5] : [1, 1, 2.5] });
}

function asImage(mask: MedicalImage): MedicalImage {
  return createImage(
    Float32Array.from(mask.data, (v) => v * 100),
    mask.shape,
    mask,
  );
}

const random2d = (): ImageTransform[] =>
  [
    randFlip({ prob: 1, axes: [1] }),
    randRotate({ prob: 1, range: 0.5 }),
    randAffine({ prob: 1, rotateRange: 0.4, scaleRange: 0.2, translateRange: 3, shearRange: 0.1 }),
    randElastic({ prob: 1, sigma: 3, magnitude: 30 }),
    randGaussianNoise({ prob: 1, std: 5 }),
    randGamma({ prob: 1, gamma: [0.5, 2] }),
    randContrast({ prob: 1, factor: [0.5, 1.5] }),
  ] as ImageTransform[];

describe("random transforms", () => {
  it("same seed → same output, another seed → another output (2D and 3D)", () => {
    for (const shape of [
      [24, 20, 1],
      [10, 12, 14, 1],
    ]) {
      const x = asImage(labels(shape));
      for (const t of random2d()) {
        const a = t(x, { rng: new Rng(11) });
        const b = t(x, { rng: new Rng(11) });
        const c = t(x, { rng: new Rng(12) });
        assert.deepEqual(a.shape, x.shape, t.transformName);
        assert.deepEqual(Array.from(a.data), Array.from(b.data), `${t.transformName} not reproducible`);
        if (t.transformName !== "randFlip") {
          assert.notDeepEqual(Array.from(a.data), Array.from(c.data), `${t.transformName} ignores the seed`);
        }
        assert.notDeepEqual(Array.from(a.data), Array.from(x.data), `${t.transformName} did nothing`);
      }
    }
  });

  it("prob 0 returns the input untouched; no context is a typed error", () => {
    const x = asImage(labels([8, 8, 1]));
    for (const t of [
      randFlip({ prob: 0 }),
      randAffine({ prob: 0, rotateRange: 1 }),
      randGaussianNoise({ prob: 0 }),
    ]) {
      assert.equal(t(x, { rng: new Rng(1) }), x);
      assert.throws(
        () => t(x),
        (e: unknown) => isRadioLensError(e, "RL_ERR_TRANSFORM_INVALID") && e.message.includes("rng"),
      );
    }
  });

  it("onKeys: image and mask move together; the mask keeps its labels", () => {
    for (const shape of [
      [32, 28, 1],
      [12, 16, 18, 1],
    ]) {
      const mask = labels(shape);
      const image = asImage(mask);
      const spatial = [
        randFlip({ prob: 1, axes: [0] }),
        randRotate({ prob: 1, range: 0.6, mode: "nearest" }),
        randAffine({ prob: 1, rotateRange: 0.4, scaleRange: 0.2, translateRange: 2, mode: "nearest" }),
        randElastic({ prob: 1, sigma: 3, magnitude: 40, mode: "nearest" }),
      ];
      for (const t of spatial) {
        const out = onKeys(["image", "label"], t as ImageTransform, { masks: ["label"] })(
          { image, label: mask, id: "case-1" },
          { rng: new Rng(5) },
        );
        const img = out["image"] as MedicalImage;
        const lab = out["label"] as MedicalImage;
        assert.equal(out["id"], "case-1");
        assert.ok(lab.data instanceof Uint8Array, "mask keeps its dtype");
        // With nearest on both keys the image must be exactly 100 × the mask, voxel for voxel.
        for (let i = 0; i < lab.data.length; i++) {
          assert.equal(img.data[i], (lab.data[i] as number) * 100, `${t.transformName} voxel ${i}`);
        }
        assert.notDeepEqual(Array.from(lab.data), Array.from(mask.data), `${t.transformName} did not move`);
        assert.ok(new Set(lab.data).size > 1);
        assert.deepEqual(img.direction, lab.direction);
      }
      // Linear image + nearest mask: the labels stay a subset of {0..3} while the image interpolates.
      const t = randAffine({ prob: 1, rotateRange: 0.5, scaleRange: 0.1 });
      const out = onKeys(["image", "label"], t, { masks: ["label"] })(
        { image, label: mask },
        { rng: new Rng(9) },
      );
      const lab = out["label"] as MedicalImage;
      const img = out["image"] as MedicalImage;
      assert.ok([...new Set(lab.data)].every((v) => [0, 1, 2, 3].includes(v)));
      assert.ok(
        Array.from(img.data).some((v) => v % 100 !== 0),
        "image used linear interpolation",
      );
      let agree = 0;
      for (let i = 0; i < lab.data.length; i++)
        if (Math.round((img.data[i] as number) / 100) === lab.data[i]) agree++;
      assert.ok(agree / lab.data.length > 0.9, `agreement ${agree / lab.data.length}`);
    }
  });

  it("onKeys: intensity transforms skip masks and give every image key the same draw", () => {
    const mask = labels([16, 16, 1]);
    const image = asImage(mask);
    const out = onKeys(["a", "b", "label"], randGaussianNoise({ prob: 1, std: 10 }), { masks: ["label"] })(
      { a: image, b: image, label: mask },
      { rng: new Rng(3) },
    );
    assert.equal(out["label"], mask);
    assert.deepEqual(
      Array.from((out["a"] as MedicalImage).data),
      Array.from((out["b"] as MedicalImage).data),
    );
    assert.notDeepEqual(Array.from((out["a"] as MedicalImage).data), Array.from(image.data));
  });

  it("randRotate and randAffine invert approximately; randElastic refuses to invert", () => {
    const mask = labels([40, 40, 1]);
    const image = asImage(mask);
    const rot = randRotate({ prob: 1, range: 0.3, mode: "nearest" })(image, { rng: new Rng(2) });
    const back = invert(rot);
    let same = 0;
    for (let i = 0; i < back.data.length; i++) if (back.data[i] === image.data[i]) same++;
    assert.ok(same / back.data.length > 0.9, `only ${same / back.data.length} of voxels restored`);
    const el = randElastic({ prob: 1, sigma: 3, magnitude: 2 })(image, { rng: new Rng(2) });
    assert.throws(
      () => invert(el),
      (e: unknown) =>
        isRadioLensError(e, "RL_ERR_TRANSFORM_NOT_INVERTIBLE") && e.message.includes("randElastic"),
    );
  });

  it("randSpatialCrop: fixed size, seeded position, exact inverse", () => {
    const x = asImage(labels([20, 24, 1]));
    const t = randSpatialCrop({ size: [8, 10] });
    const a = t(x, { rng: new Rng(1) });
    assert.deepEqual(a.shape, [8, 10, 1]);
    assert.deepEqual(Array.from(a.data), Array.from(t(x, { rng: new Rng(1) }).data));
    const starts = new Set<string>();
    for (let seed = 0; seed < 10; seed++) {
      const y = t(x, { rng: new Rng(seed) });
      const op = appliedOperations(y)[0];
      assert.ok(op !== undefined);
      starts.add(op.offset.join(","));
      const back = invert(y);
      // Inside the patch the original values come back; outside, zeros.
      const [sx, sy] = op.offset as [number, number];
      for (let r = 0; r < 20; r++) {
        for (let c = 0; c < 24; c++) {
          const inside = r >= sy && r < sy + 8 && c >= sx && c < sx + 10;
          assert.equal(back.data[r * 24 + c], inside ? x.data[r * 24 + c] : 0);
        }
      }
    }
    assert.ok(starts.size > 5, "positions vary with the seed");
  });

  it("randCropByLabel centres patches on foreground or background as asked, image and label together", () => {
    // Foreground = left half of the columns, so a patch shifted back inside the image keeps its centre's class.
    const label = createImage(
      Uint8Array.from({ length: 16 * 20 * 24 }, (_, i) => (i % 24 < 12 ? 2 : 0)),
      [16, 20, 24, 1],
    );
    const image = asImage(label);
    const centreOf = (p: MedicalImage): number => p.data[(2 * 4 + 2) * 4 + 2] as number;
    for (const [pos, neg, wantFg] of [
      [1, 0, true],
      [0, 1, false],
    ] as const) {
      const t = onKeys(["image", "label"], randCropByLabel({ size: [4, 4, 4], pos, neg }), {
        refKey: "label",
        masks: ["label"],
      });
      for (let seed = 0; seed < 15; seed++) {
        const out = t({ image, label }, { rng: new Rng(seed) });
        const lab = out["label"] as MedicalImage;
        const img = out["image"] as MedicalImage;
        assert.deepEqual(lab.shape, [4, 4, 4, 1]);
        assert.equal(centreOf(lab) > 0, wantFg, `seed ${seed}`);
        for (let i = 0; i < lab.data.length; i++) assert.equal(img.data[i], (lab.data[i] as number) * 100);
      }
    }
    // The centre comes from the refKey image: an inverted "image" would put foreground patches on label 0.
    const inverted = createImage(
      Float32Array.from(label.data, (v) => (v > 0 ? 0 : 1)),
      label.shape,
    );
    const fromLabel = onKeys(["image", "label"], randCropByLabel({ size: [4, 4, 4], pos: 1, neg: 0 }), {
      refKey: "label",
      masks: ["label"],
    })({ image: inverted, label }, { rng: new Rng(3) });
    assert.ok(centreOf(fromLabel["label"] as MedicalImage) > 0);
    const empty = createImage(new Uint8Array(16 * 20 * 24), [16, 20, 24, 1]);
    const p = randCropByLabel({ size: [8, 8, 8], pos: 1, neg: 0 })(empty, { rng: new Rng(0) });
    assert.deepEqual(p.shape, [8, 8, 8, 1]);
  });

  it("randGamma and randContrast keep the value range; noise has the drawn spread", () => {
    const x = asImage(labels([30, 30, 1]));
    const s0 = pixelStats(x.data);
    for (const t of [randGamma({ prob: 1 }), randContrast({ prob: 1, factor: [1.5, 2] })]) {
      const s = pixelStats(t(x, { rng: new Rng(4) }).data);
      assert.ok(s.min >= s0.min - 1e-3 && s.max <= s0.max + 1e-3, t.transformName);
    }
    const flat = createImage(new Float32Array(10000), [100, 100, 1]);
    const n = randGaussianNoise({ prob: 1, std: 2, sampleStd: false, mean: 1 })(flat, { rng: new Rng(8) });
    const s = pixelStats(n.data);
    assert.ok(Math.abs(s.mean - 1) < 0.1 && Math.abs(s.std - 2) < 0.1, `mean ${s.mean} std ${s.std}`);
  });
});
