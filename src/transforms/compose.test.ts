/** compose() runs steps in order and names the failing one; onKeys() checks keys and grids; a real image/mask pipeline. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { sharedData } from "../../test/support/shared-data.js";
import { isRadioLensError, RadioLensError } from "../core/errors.js";
import { createImage, type MedicalImage } from "../core/image.js";
import { Rng } from "../core/rng.js";
import { readNifti } from "../io/nifti/index.js";
import {
  compose,
  crop,
  flip,
  invert,
  normalize,
  onKeys,
  randAffine,
  randFlip,
  randGaussianNoise,
  resize,
  rotate90,
  type Sample,
  scaleIntensityRange,
} from "./index.js";

const ramp = (): MedicalImage =>
  createImage(
    Float32Array.from({ length: 16 }, (_, i) => i),
    [4, 4, 1],
  );

describe("compose", () => {
  it("runs the steps in order and passes the context", () => {
    const t = compose([
      crop({ start: [1, 0], size: [2, 4] }),
      flip({ axes: [1] }),
      randFlip({ prob: 1, axes: [0] }),
    ]);
    const out = t(ramp(), { rng: new Rng(0) });
    assert.deepEqual(Array.from(out.data), [11, 10, 9, 8, 7, 6, 5, 4]);
    assert.equal(t.steps.length, 3);
    assert.equal(t.transformName, "compose");
  });

  it("names the failing step, keeping the original error as cause", () => {
    const t = compose([flip(), resize({ size: [2, 2, 2] }), normalize()]);
    assert.throws(
      () => t(ramp()),
      (e: unknown) => {
        assert.ok(isRadioLensError(e, "RL_ERR_TRANSFORM_FAILED"));
        assert.equal(e.details["step"], 1);
        assert.equal(e.details["name"], "resize");
        assert.match(e.message, /step 1 \(resize\) failed: .*3 values for a 2D image/);
        assert.ok(e.cause instanceof RadioLensError && e.cause.code === "RL_ERR_TRANSFORM_INVALID");
        return true;
      },
    );
    // A random step without a context is named too.
    assert.throws(
      () => compose([flip(), randGaussianNoise({ prob: 1 })])(ramp()),
      (e: unknown) =>
        isRadioLensError(e, "RL_ERR_TRANSFORM_FAILED") && e.message.includes("randGaussianNoise"),
    );
  });

  it("onKeys refuses missing keys, non-images and images on different grids", () => {
    const t = onKeys(["image", "label"], flip());
    assert.throws(
      () => t({ image: ramp() }),
      (e: unknown) => isRadioLensError(e) && e.message.includes("'label'"),
    );
    assert.throws(
      () => t({ image: ramp(), label: 3 }),
      (e: unknown) => isRadioLensError(e, "RL_ERR_TRANSFORM_INVALID"),
    );
    const other = createImage(new Uint8Array(9), [3, 3, 1]);
    assert.throws(
      () => t({ image: ramp(), label: other }),
      (e: unknown) => isRadioLensError(e) && e.message.includes("one grid"),
    );
    assert.throws(
      () => onKeys(["image"], flip(), { refKey: "nope" })({ image: ramp() }),
      (e: unknown) => isRadioLensError(e, "RL_ERR_TRANSFORM_INVALID") && e.message.includes("'nope'"),
    );
    const lenient = onKeys(["image", "label"], flip(), { allowMissingKeys: true });
    assert.deepEqual(Array.from((lenient({ image: ramp() })["image"] as MedicalImage).data)[0], 15);
  });
});

describe("a training pipeline on the niivue FLAIR + lesion pair", () => {
  const flair = readNifti(sharedData("nifti", "niivue", "FLAIR.nii.gz"));
  const lesion = readNifti(sharedData("nifti", "niivue", "lesion.nii.gz"));

  const pipeline = compose<Sample>([
    // A 40×64×64 box around the lesions keeps the test fast.
    onKeys(["image", "label"], crop({ start: [50, 40, 30], size: [40, 64, 64] })),
    onKeys(["image", "label"], resize({ size: [32, 48, 48] }), { masks: ["label"] }),
    onKeys(["image"], scaleIntensityRange({ aMin: 0, aMax: 255, bMin: 0, bMax: 1 })),
    onKeys(["image", "label"], randAffine({ prob: 1, rotateRange: 0.2, scaleRange: 0.1 }), {
      masks: ["label"],
    }),
    onKeys(["image", "label"], randFlip({ prob: 0.5, axes: [2] }), { masks: ["label"] }),
  ]);

  it("is reproducible per seed, keeps label values and moves image and mask together", () => {
    const a = pipeline({ image: flair, label: lesion }, { rng: new Rng(21) });
    const b = pipeline({ image: flair, label: lesion }, { rng: new Rng(21) });
    const img = a["image"] as MedicalImage;
    const lab = a["label"] as MedicalImage;
    assert.deepEqual(img.shape, [32, 48, 48, 1]);
    assert.deepEqual(lab.shape, [32, 48, 48, 1]);
    assert.deepEqual(Array.from(img.data), Array.from((b["image"] as MedicalImage).data));
    assert.deepEqual(Array.from(lab.data), Array.from((b["label"] as MedicalImage).data));
    assert.ok(lab.data instanceof Uint8Array);
    assert.ok([...new Set(lab.data)].every((v) => [0, 1, 2, 3].includes(v)));
    assert.ok(
      lab.data.some((v) => v > 0),
      "the crop holds lesion voxels",
    );
    assert.deepEqual(img.origin, lab.origin);
    assert.deepEqual(img.direction, lab.direction);
    // Undo the spatial steps: the mask returns to the scanner grid and overlaps the original lesion.
    const back = invert(a);
    const labBack = back["label"] as MedicalImage;
    assert.deepEqual(labBack.shape, lesion.shape);
    assert.deepEqual(labBack.origin, lesion.origin);
    assert.deepEqual(labBack.spacing, lesion.spacing);
    let inter = 0;
    let union = 0;
    for (let z = 50; z < 90; z++) {
      for (let y = 40; y < 104; y++) {
        for (let x = 30; x < 94; x++) {
          const i = (z * 160 + y) * 124 + x;
          const p = (labBack.data[i] as number) > 0;
          const q = (lesion.data[i] as number) > 0;
          if (p && q) inter++;
          if (p || q) union++;
        }
      }
    }
    // Nearest resampling there and back (0.8× resize, ≤ 0.2 rad rotation) erodes these thin lesions: the
    // overlap is about 0.4, against under 0.05 for a misregistered inverse.
    assert.ok(union > 0 && inter / union > 0.3, `IoU after invert ${inter / union}`);
  });

  it("invert({ like }) maps a history-less prediction back to the scanner grid", () => {
    const pre = compose([crop({ start: [50, 40, 30], size: [40, 64, 64] }), resize({ size: [20, 32, 32] })]);
    const x = pre(flair);
    // A "prediction": the resized lesion mask, rebuilt without meta as a model output would be.
    const labelOnGrid = resize({ size: [20, 32, 32], mode: "nearest" })(
      crop({ start: [50, 40, 30], size: [40, 64, 64] })(lesion),
    );
    const pred = createImage(Uint8Array.from(labelOnGrid.data), labelOnGrid.shape);
    const back = invert(pred, { like: x, mode: "nearest" });
    assert.deepEqual(back.shape, lesion.shape);
    assert.deepEqual(back.spacing, lesion.spacing);
    assert.deepEqual(back.origin, lesion.origin);
    assert.ok(back.data instanceof Uint8Array);
    let inter = 0;
    let union = 0;
    let outside = 0;
    for (let z = 0; z < 140; z++) {
      for (let y = 0; y < 160; y++) {
        for (let xx = 0; xx < 124; xx++) {
          const i = (z * 160 + y) * 124 + xx;
          const p = (back.data[i] as number) > 0;
          const inBox = z >= 50 && z < 90 && y >= 40 && y < 104 && xx >= 30 && xx < 94;
          if (!inBox) {
            if (p) outside++;
            continue;
          }
          const q = (lesion.data[i] as number) > 0;
          if (p && q) inter++;
          if (p || q) union++;
        }
      }
    }
    assert.equal(outside, 0);
    // Halving the resolution with nearest keeps about half of these thin lesions' overlap (0.50 measured).
    assert.ok(inter / union > 0.4, `IoU ${inter / union}`);
    assert.throws(
      () => invert(createImage(new Uint8Array(8), [2, 2, 2, 1]), { like: x }),
      (e: unknown) => isRadioLensError(e, "RL_ERR_TRANSFORM_NOT_INVERTIBLE"),
    );
  });

  it("exact steps (crop, flip, rotate90) invert to the original voxels", () => {
    const exact = compose<Sample>([
      onKeys(["image", "label"], crop({ start: [50, 40, 30], size: [40, 64, 64] })),
      onKeys(["image", "label"], randFlip({ prob: 1, axes: [0, 2] }), { masks: ["label"] }),
      onKeys(["image", "label"], rotate90({ k: 1, axes: [1, 2] }), { masks: ["label"] }),
    ]);
    const out = exact({ image: flair, label: lesion }, { rng: new Rng(1) });
    assert.deepEqual((out["label"] as MedicalImage).shape, [40, 64, 64, 1]);
    const back = invert(out);
    for (const [key, orig] of [
      ["image", flair],
      ["label", lesion],
    ] as const) {
      const img = back[key] as MedicalImage;
      assert.deepEqual(img.shape, orig.shape);
      assert.ok(img.data instanceof Uint8Array);
      for (let z = 50; z < 90; z += 3) {
        for (let y = 40; y < 104; y++) {
          for (let x = 30; x < 94; x++) {
            const i = (z * 160 + y) * 124 + x;
            assert.equal(img.data[i], orig.data[i]);
          }
        }
      }
    }
  });
});
