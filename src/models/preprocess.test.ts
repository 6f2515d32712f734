/** Tests the fused colour + resize preprocessing against the step-by-step reference on seeded images and a real X-ray. */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { sharedData } from "../../test/support/shared-data.js";
import { createImage, type MedicalImage } from "../core/image.js";
import { Rng } from "../core/rng.js";
import { decodeJpeg } from "../io/image/index.js";
import type { ModelCard, PreprocessStep } from "./bundle.js";
import { preprocessForModel, preprocessStepwise } from "./preprocess.js";

function randomImage(rng: Rng, rows: number, cols: number, ch: number, max: number): MedicalImage {
  const data =
    max === 255
      ? Uint8Array.from({ length: rows * cols * ch }, () => rng.int(0, 255))
      : Uint16Array.from({ length: rows * cols * ch }, () => rng.int(0, max));
  return createImage(data, [rows, cols, ch]);
}

function maxRelDiff(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs((a[i] as number) - (b[i] as number)) / Math.max(1, Math.abs(b[i] as number));
    if (d > m) m = d;
  }
  return m;
}

const card = (
  steps: PreprocessStep[],
  shape: [number, number, number],
): Pick<ModelCard, "preprocessing" | "input"> => ({
  preprocessing: steps,
  input: { shape, layout: "NHWC", dtype: "float32" },
});

test("fused colour + resize gives the step-by-step result to float32 rounding, shrinking and enlarging", () => {
  const rng = new Rng(7);
  const cases: { img: MedicalImage; steps: PreprocessStep[]; shape: [number, number, number] }[] = [
    // The reference model's card: grey, area resize 224 → 28, /255.
    {
      img: randomImage(rng, 224, 224, 1, 255),
      steps: [{ op: "grayscale" }, { op: "resize", size: [28, 28] }, { op: "scale", divisor: 255 }],
      shape: [28, 28, 1],
    },
    // RGB to grey with a non-integer shrink and a per-channel normalisation.
    {
      img: randomImage(rng, 97, 131, 3, 255),
      steps: [
        { op: "grayscale" },
        { op: "resize", size: [28, 30] },
        { op: "normalize", mean: [0.5], std: [0.25] },
      ],
      shape: [28, 30, 1],
    },
    // Grey to RGB while enlarging (bilinear), 16-bit input, then a window.
    {
      img: randomImage(rng, 20, 17, 1, 4095),
      steps: [{ op: "rgb" }, { op: "resize", size: [64, 48] }, { op: "window", center: 2000, width: 3000 }],
      shape: [64, 48, 3],
    },
    // RGB kept, resized only.
    {
      img: randomImage(rng, 50, 60, 3, 255),
      steps: [
        { op: "resize", size: [25, 20] },
        { op: "normalize", mean: [10, 20, 30], std: [2, 3, 4] },
      ],
      shape: [25, 20, 3],
    },
    // RGB to grey by a whole factor (the block-mean path).
    {
      img: randomImage(rng, 56, 84, 3, 255),
      steps: [{ op: "grayscale" }, { op: "resize", size: [28, 28] }, { op: "scale", divisor: 255 }],
      shape: [28, 28, 1],
    },
    // A colour step only.
    { img: randomImage(rng, 9, 11, 3, 255), steps: [{ op: "grayscale" }], shape: [9, 11, 1] },
  ];
  for (const { img, steps, shape } of cases) {
    const fused = preprocessForModel(img, card(steps, shape));
    const ref = preprocessStepwise(img, steps);
    assert.ok(maxRelDiff(fused, ref) < 1e-5, `${JSON.stringify(steps)}: ${maxRelDiff(fused, ref)}`);
  }
});

test("fused preprocessing of a real chest X-ray matches the reference; other step orders run step by step", () => {
  const xray = decodeJpeg(readFileSync(sharedData("xray/COVID-00001.jpg"))); // 972×1151 RGB
  const steps: PreprocessStep[] = [
    { op: "grayscale" },
    { op: "resize", size: [28, 28] },
    { op: "scale", divisor: 255 },
  ];
  const fused = preprocessForModel(xray, card(steps, [28, 28, 1]));
  assert.ok(maxRelDiff(fused, preprocessStepwise(xray, steps)) < 1e-5);
  // A window before the resize does not commute with it: this order is not fused, and the result is exact.
  const windowFirst: PreprocessStep[] = [
    { op: "grayscale" },
    { op: "window", center: 100, width: 80 },
    { op: "resize", size: [28, 28] },
  ];
  assert.deepEqual(
    preprocessForModel(xray, card(windowFirst, [28, 28, 1])),
    preprocessStepwise(xray, windowFirst),
  );
  assert.throws(
    () => preprocessForModel(xray, card(steps, [32, 32, 1])),
    /preprocessing produced \[28, 28, 1\]/,
  );
});
