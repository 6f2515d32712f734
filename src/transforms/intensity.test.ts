/** Intensity transforms: exact values on small inputs, dtype rules, masks left alone. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { isRadioLensError } from "../core/errors.js";
import { createImage } from "../core/image.js";
import { clip, histogramEqualize, normalize, scaleIntensityRange, window } from "./index.js";

const img1d = (values: number[], Ctor: Float32ArrayConstructor | Int16ArrayConstructor = Float32Array) =>
  createImage(Ctor.from(values), [1, values.length, 1]);

function close(actual: ArrayLike<number>, expected: readonly number[], tol = 1e-6): void {
  assert.equal(actual.length, expected.length);
  for (let i = 0; i < expected.length; i++) {
    assert.ok(
      Math.abs((actual[i] as number) - (expected[i] as number)) <= tol,
      `${i}: ${actual[i]} vs ${expected[i]}`,
    );
  }
}

describe("intensity transforms", () => {
  it("scaleIntensityRange maps HU to [0, 1], clipping on request", () => {
    const ct = img1d([-1000, -300, 400, 1000], Int16Array);
    const t = scaleIntensityRange({ aMin: -1000, aMax: 400, bMin: 0, bMax: 1 });
    close(t(ct).data, [0, 0.5, 1, 2000 / 1400]);
    const c = scaleIntensityRange({ aMin: -1000, aMax: 400, bMin: 0, bMax: 1, clip: true })(ct);
    assert.ok(c.data instanceof Float32Array);
    close(c.data, [0, 0.5, 1, 1]);
    assert.ok(Object.isFrozen(t.options));
    assert.throws(
      () => scaleIntensityRange({ aMin: 1, aMax: 1, bMin: 0, bMax: 1 }),
      (e: unknown) => isRadioLensError(e, "RL_ERR_TRANSFORM_INVALID"),
    );
  });

  it("normalize: z-score, nonzero-only and per channel", () => {
    const sd = Math.sqrt(1.25);
    close(normalize()(img1d([1, 2, 3, 4])).data, [-1.5 / sd, -0.5 / sd, 0.5 / sd, 1.5 / sd]);
    close(normalize({ nonzero: true })(img1d([0, 2, 4, 0])).data, [0, -1, 1, 0]);
    const two = createImage(Float32Array.from([1, 10, 3, 30]), [1, 2, 2]);
    close(normalize({ channelWise: true })(two).data, [-1, -1, 1, 1]);
    close(normalize()(img1d([5, 5, 5])).data, [0, 0, 0]);
  });

  it("window follows the DICOM linear function of PS3.3 C.11.2.1.2.1", () => {
    // c = 40, w = 400: below -160 → 0, above 239 → 1, and y(39.5) = 0.5.
    const out = window({ center: 40, width: 400 })(img1d([-1000, -160, 39.5, 239.5, 3000])).data;
    close(out, [0, 0, 0.5, 1, 1]);
    // c = 0, w = 2: x ≤ -1 → 0, x > 0 → 255, y(-0.5) = 127.5.
    close(
      window({ center: 0, width: 2, outMin: 0, outMax: 255 })(img1d([-1, -0.5, 0.5, 1])).data,
      [0, 127.5, 255, 255],
    );
    assert.throws(
      () => window({ center: 0, width: 0.5 }),
      (e: unknown) => isRadioLensError(e),
    );
  });

  it("clip keeps the element type", () => {
    const out = clip({ min: -1024, max: 3071 })(img1d([-2000, 0, 4000], Int16Array));
    assert.ok(out.data instanceof Int16Array);
    assert.deepEqual(Array.from(out.data), [-1024, 0, 3071]);
  });

  it("histogramEqualize flattens a skewed histogram and is monotone", () => {
    // 1000 values concentrated near 0 (quadratic): after equalization the mean moves to about 0.5.
    const v = Array.from({ length: 1000 }, (_, i) => (i / 999) ** 4 * 1000);
    const out = histogramEqualize({ bins: 256 })(img1d(v)).data;
    let mean = 0;
    for (let i = 0; i < out.length; i++) {
      mean += (out[i] as number) / out.length;
      if (i > 0) assert.ok((out[i] as number) >= (out[i - 1] as number), "not monotone");
    }
    assert.ok(Math.abs(mean - 0.5) < 0.02, `mean ${mean}`);
    assert.equal(out[0], 0);
    assert.ok(Math.abs((out[999] as number) - 1) < 1e-6);
    let before = 0;
    for (const x of v) before += x / 1000 / 1000;
    assert.ok(before < 0.25, "the input really was skewed");
  });
});
