/** Spatial transforms: literal outputs, shapes, geometry kept world-consistent, and invert(transform(x)) ≈ x. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createImage, type MedicalImage } from "../core/image.js";
import { Rng } from "../core/rng.js";
import {
  affine,
  appliedOperations,
  crop,
  cropOrPad,
  flip,
  type ImageTransform,
  invert,
  orient,
  resize,
  rotate90,
  spacing,
} from "./index.js";
import { matVec, resampleIndex } from "./resample.js";

const ramp2d = (rows: number, cols: number): MedicalImage =>
  createImage(
    Float32Array.from({ length: rows * cols }, (_, i) => i + 1),
    [rows, cols, 1],
  );

/** A smooth blob, so interpolation errors are small and measurable. */
function blob(shape: readonly number[], sp?: readonly number[]): MedicalImage {
  const nd = shape.length - 1;
  const n = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  const sizes = shape.slice(0, nd);
  for (let i = 0; i < n; i++) {
    let r = i;
    let d2 = 0;
    for (let a = nd - 1; a >= 0; a--) {
      const s = sizes[a] as number;
      const x = r % s;
      r = Math.floor(r / s);
      d2 += ((x - (s - 1) / 2) / (s / 4)) ** 2;
    }
    data[i] = 100 * Math.exp(-d2 / 2);
  }
  return createImage(data, shape, {
    spacing: sp ?? new Array<number>(nd).fill(1),
    origin: nd === 2 ? [-5, 7] : [-5, 7, 3],
    direction: nd === 2 ? [0, 1, 1, 0] : [1, 0, 0, 0, 0, -1, 0, 1, 0],
  });
}

/** World position (LPS mm) of index (x, y[, z]). */
function world(img: MedicalImage, idx: readonly number[]): number[] {
  const nd = img.spacing.length;
  const ds = img.direction.map((v, i) => v * (img.spacing[i % nd] as number));
  return matVec(ds, idx, nd).map((v, i) => v + (img.origin[i] as number));
}

/** Mean |a − b| over the central half of each spatial axis (edges lose content to padding). */
function centralError(a: MedicalImage, b: MedicalImage): number {
  assert.deepEqual(a.shape, b.shape);
  const nd = a.shape.length - 1;
  const sizes = a.shape.slice(0, nd);
  let err = 0;
  let n = 0;
  for (let i = 0; i < a.data.length; i++) {
    let r = i;
    let inside = true;
    for (let ax = nd - 1; ax >= 0; ax--) {
      const s = sizes[ax] as number;
      const x = r % s;
      r = Math.floor(r / s);
      if (x < s / 4 || x >= (3 * s) / 4) inside = false;
    }
    if (!inside) continue;
    err += Math.abs((a.data[i] as number) - (b.data[i] as number));
    n++;
  }
  return err / n;
}

function assertGeometryEqual(a: MedicalImage, b: MedicalImage, tol = 1e-9): void {
  for (const k of ["spacing", "origin", "direction"] as const) {
    a[k].forEach((v, i) => {
      assert.ok(Math.abs(v - (b[k][i] as number)) <= tol, `${k}[${i}] ${v} vs ${b[k][i]}`);
    });
  }
}

describe("exact spatial transforms", () => {
  it("flip: literal values, direction flips, world positions kept, exact inverse", () => {
    const x = ramp2d(2, 3);
    const f = flip({ axes: [1] })(x);
    assert.deepEqual(Array.from(f.data), [3, 2, 1, 6, 5, 4]);
    assert.deepEqual(Array.from(flip()(x).data), [6, 5, 4, 3, 2, 1]);
    // The voxel holding value 1 sits at the same world point before and after.
    assert.deepEqual(world(f, [2, 0]), world(x, [0, 0]));
    assert.deepEqual(f.direction, [-1, 0, 0, 1]);
    const back = invert(f);
    assert.deepEqual(Array.from(back.data), Array.from(x.data));
    assert.deepEqual(back.direction, x.direction);
    assert.equal(appliedOperations(back).length, 0);
  });

  it("rotate90 has numpy.rot90 semantics in 2D and 3D and inverts exactly", () => {
    const x = ramp2d(2, 3); // [[1,2,3],[4,5,6]]
    const r = rotate90()(x);
    assert.deepEqual(r.shape, [3, 2, 1]);
    assert.deepEqual(Array.from(r.data), [3, 6, 2, 5, 1, 4]);
    assert.deepEqual(Array.from(rotate90({ k: -1 })(x).data), [4, 1, 5, 2, 6, 3]);
    assert.deepEqual(Array.from(rotate90({ k: 4 })(x).data), Array.from(x.data));
    assert.deepEqual(Array.from(invert(r).data), Array.from(x.data));
    const v = createImage(
      Float32Array.from({ length: 24 }, (_, i) => i),
      [2, 3, 4, 1],
    );
    const r3 = rotate90({ axes: [0, 2] })(v);
    assert.deepEqual(r3.shape, [4, 3, 2, 1]);
    // numpy: np.rot90(np.arange(24).reshape(2, 3, 4), 1, axes=(0, 2)).ravel()
    assert.deepEqual(
      Array.from(r3.data),
      [3, 15, 7, 19, 11, 23, 2, 14, 6, 18, 10, 22, 1, 13, 5, 17, 9, 21, 0, 12, 4, 16, 8, 20],
    );
    const back = invert(r3);
    assert.deepEqual(Array.from(back.data), Array.from(v.data));
    assert.deepEqual(back.shape, v.shape);
    assert.deepEqual(world(r3, [0, 0, 0]), world(v, [3, 0, 0]));
  });

  it("crop and cropOrPad copy values, keep world positions and invert exactly", () => {
    const x = ramp2d(4, 4);
    const c = crop({ start: [1, 1], size: [2, 3] })(x);
    assert.deepEqual(Array.from(c.data), [6, 7, 8, 10, 11, 12]);
    assert.deepEqual(world(c, [0, 0]), world(x, [1, 1]));
    // Inverting a crop puts the values back and zeros where the crop removed content.
    assert.deepEqual(Array.from(invert(c).data), [0, 0, 0, 0, 0, 6, 7, 8, 0, 10, 11, 12, 0, 0, 0, 0]);
    const p = cropOrPad({ size: [6, 2], value: -1 })(x);
    assert.deepEqual(p.shape, [6, 2, 1]);
    assert.deepEqual(Array.from(p.data), [-1, -1, 2, 3, 6, 7, 10, 11, 14, 15, -1, -1]);
    assert.deepEqual(Array.from(invert(cropOrPad({ size: [7, 9] })(x)).data), Array.from(x.data));
    const i16 = createImage(Int16Array.from([1, 2, 3, 4]), [2, 2, 1]);
    assert.ok(cropOrPad({ size: [3, 3] })(i16).data instanceof Int16Array);
  });

  it("an affine quarter turn with nearest equals rotate90 (positive angles turn +x towards +y)", () => {
    const x = ramp2d(5, 5);
    const a = affine({ rotate: [Math.PI / 2], mode: "nearest" })(x);
    assert.deepEqual(Array.from(a.data), Array.from(rotate90({ k: -1 })(x).data));
    assert.notDeepEqual(Array.from(a.data), Array.from(rotate90({ k: 1 })(x).data));
  });
});

describe("random chains of exact transforms invert exactly", () => {
  it("200 seeded chains of flip / rotate90 / crop / cropOrPad on 2D and 3D images", () => {
    const rng = new Rng(99);
    for (let c = 0; c < 200; c++) {
      const nd = rng.bernoulli(0.5) ? 2 : 3;
      const spatialShape = Array.from({ length: nd }, () => rng.int(2, 7));
      const ch = rng.int(1, 2);
      const n = spatialShape.reduce((a, b) => a * b, 1) * ch;
      const x = createImage(
        Int16Array.from({ length: n }, (_, i) => i + 1),
        [...spatialShape, ch],
        { spacing: Array.from({ length: nd }, () => rng.uniform(0.5, 2)) },
      );
      let y = x;
      const steps = rng.int(1, 4);
      for (let k = 0; k < steps; k++) {
        const shape = y.shape.slice(0, nd);
        const kind = rng.int(0, 2);
        if (kind === 0) y = flip({ axes: [rng.int(0, nd - 1)] })(y);
        else if (kind === 1) {
          const p = rng.int(0, nd - 1);
          y = rotate90({ k: rng.int(-3, 3), axes: [p, (p + 1) % nd] })(y);
        } else {
          // Only growing pads, so no voxel is lost and the chain must come back exactly.
          y = cropOrPad({ size: shape.map((s) => s + rng.int(0, 3)) })(y);
        }
      }
      const back = invert(y);
      assert.deepEqual(back.shape, x.shape, `chain ${c}`);
      assert.ok(back.data instanceof Int16Array);
      assert.deepEqual(Array.from(back.data), Array.from(x.data), `chain ${c}`);
      assertGeometryEqual(back, x, 0);
    }
  });
});

describe("orient", () => {
  it("turns a RAS-stored volume into LPS by flipping x and y, exactly and invertibly", () => {
    const data = Int16Array.from({ length: 2 * 3 * 4 }, (_, i) => i);
    const ras = createImage(data, [2, 3, 4, 1], {
      direction: [-1, 0, 0, 0, -1, 0, 0, 0, 1],
      origin: [10, 20, 30],
    });
    const lps = orient({ axcodes: "LPS" })(ras);
    assert.deepEqual(lps.direction, [1, 0, 0, 0, 1, 0, 0, 0, 1]);
    assert.deepEqual(Array.from(lps.data), Array.from(flip({ axes: [1, 2] })(ras).data));
    // The first voxel of the output is the last column and row of the input: world (10 - 3, 20 - 2, 30).
    assert.deepEqual(lps.origin, [7, 18, 30]);
    assert.deepEqual(Array.from(invert(lps).data), Array.from(data));
    assert.deepEqual(orient({ axcodes: "RAS" })(ras).data, ras.data);
  });

  it("permutes axes whose directions are swapped, 2D and 3D", () => {
    const x = createImage(
      Float32Array.from({ length: 6 }, (_, i) => i),
      [2, 3, 1],
      { direction: [0, 1, 1, 0] },
    );
    const y = orient({ axcodes: "LP" })(x);
    assert.deepEqual(y.shape, [3, 2, 1]);
    assert.deepEqual(y.direction, [1, 0, 0, 1]);
    assert.deepEqual(Array.from(y.data), [0, 3, 1, 4, 2, 5]);
    assert.throws(
      () => orient({ axcodes: "LLS" }),
      (e: unknown) => e instanceof Error && /axcodes/.test(e.message),
    );
  });

  it("an oblique volume gets a dominant, correctly signed diagonal and keeps world positions", () => {
    const c = Math.cos(0.3);
    const s = Math.sin(0.3);
    // Columns: x → mostly -y (anterior), y → mostly +x, z → S; rotated by 0.3 rad.
    const x = blob([4, 5, 6, 1]);
    const obl = createImage(x.data, x.shape, { direction: [s, c, 0, -c, s, 0, 0, 0, 1], origin: [1, 2, 3] });
    const y = orient({ axcodes: "RAS" })(obl);
    assert.deepEqual(y.shape, [4, 6, 5, 1]);
    assert.ok((y.direction[0] as number) < -0.9 && (y.direction[4] as number) < -0.9 && y.direction[8] === 1);
    const op = appliedOperations(y)[0];
    assert.ok(op !== undefined);
    const o = [2, 1, 3];
    const i = matVec(op.matrix, o, 3).map((v, k) => v + (op.offset[k] as number));
    world(y, o).forEach((w, k) => {
      assert.ok(Math.abs(w - (world(obl, i)[k] as number)) < 1e-9);
    });
    assert.deepEqual(Array.from(invert(y).data), Array.from(obl.data));
  });
});

describe("separable resize", () => {
  it("equals per-voxel trilinear interpolation (2D and 3D, several channels)", () => {
    for (const shape of [
      [9, 13, 2],
      [5, 7, 6, 3],
    ]) {
      const x = blob(shape);
      const nd = shape.length - 1;
      const out = shape.slice(0, nd).map((s, i) => s + (i % 2 === 0 ? 4 : -2));
      const A = [1.3, 0, 0, 0, 0.7, 0, 0, 0, 0.55].filter((_, i) => nd === 3 || [0, 1, 3, 4].includes(i));
      if (nd === 2) A.splice(0, 4, 1.3, 0, 0, 0.7);
      const b = [0.2, -0.4, 0.1].slice(0, nd);
      const fast = resampleIndex(x, out, A, b, { mode: "linear", padding: "border" });
      // Zero displacement fields force the general per-voxel path.
      const nOut = out.reduce((p, q) => p * q, 1);
      const zeros = Array.from({ length: nd }, () => new Float32Array(nOut));
      const slow = resampleIndex(x, out, A, b, { mode: "linear", padding: "border", displacement: zeros });
      assert.equal(fast.length, slow.length);
      for (let i = 0; i < fast.length; i++) {
        assert.ok(Math.abs((fast[i] as number) - (slow[i] as number)) < 1e-4, `${shape} at ${i}`);
      }
    }
  });
});

describe("multi-channel and 2D spacing", () => {
  it("channels travel with their voxel through rotate90, resize and spacing", () => {
    // Two channels: c0 = v, c1 = -v, so every output voxel must keep c1 = -c0.
    const data = Float32Array.from({ length: 6 * 8 * 2 }, (_, i) => (i % 2 === 0 ? i : -(i - 1)));
    const x = createImage(data, [6, 8, 2], { spacing: [0.5, 2] });
    for (const y of [rotate90()(x), resize({ size: [3, 5] })(x), spacing({ pixdim: [1, 1] })(x)]) {
      assert.equal(y.shape[2], 2);
      for (let i = 0; i < y.data.length; i += 2)
        assert.equal((y.data[i + 1] as number) + (y.data[i] as number), 0);
    }
    const s = spacing({ pixdim: 1 })(x);
    assert.deepEqual(s.shape, [12, 4, 2]);
    assert.deepEqual(s.spacing, [1, 1]);
  });
});

describe("interpolating spatial transforms", () => {
  it("resize: shape, spacing ×(n_in/n_out), centre of the field of view kept, invert ≈ x", () => {
    const x = blob([32, 40, 1], [0.5, 0.8]);
    const t = resize({ size: [16, 20] });
    const y = t(x);
    assert.deepEqual(y.shape, [16, 20, 1]);
    assert.deepEqual(y.spacing, [1, 1.6]);
    assert.deepEqual(y.direction, x.direction);
    // The corner of the field of view (half a voxel outside the first voxel centre) stays put.
    assertGeometryEqual(
      { ...y, origin: world(y, [-0.5, -0.5]) } as MedicalImage,
      { ...y, origin: world(x, [-0.5, -0.5]) } as MedicalImage,
      1e-9,
    );
    const back = invert(y);
    assert.deepEqual(back.shape, x.shape);
    assertGeometryEqual(back, x, 0);
    assert.ok(centralError(back, x) < 1.5, `error ${centralError(back, x)}`);
    const up = resize({ size: [5, 6, 7] })(blob([3, 3, 3, 1]));
    assert.deepEqual(up.shape, [5, 6, 7, 1]);
    const mask = createImage(Uint8Array.from([0, 1, 2, 3]), [2, 2, 1]);
    const m = resize({ size: [4, 4], mode: "nearest" })(mask);
    assert.ok(m.data instanceof Uint8Array);
    assert.deepEqual(Array.from(m.data), [0, 0, 1, 1, 0, 0, 1, 1, 2, 2, 3, 3, 2, 2, 3, 3]);
  });

  it("spacing resamples to target mm, keeps origin and direction, invert ≈ x", () => {
    const x = blob([12, 40, 40, 1], [0.5, 0.5, 2]);
    const y = spacing({ pixdim: [1, 1, 1] })(x);
    assert.deepEqual(y.shape, [24, 20, 20, 1]);
    assert.deepEqual(y.spacing, [1, 1, 1]);
    assert.deepEqual(y.origin, x.origin);
    assert.deepEqual(y.direction, x.direction);
    // A voxel of the output is the world point it claims to be: index 3 along x at 1 mm = index 6 at 0.5 mm.
    assert.deepEqual(world(y, [3, 2, 1]), world(x, [6, 4, 0.5]));
    const back = invert(y);
    assert.deepEqual(back.shape, x.shape);
    assert.ok(centralError(back, x) < 1.5, `error ${centralError(back, x)}`);
  });

  it("affine (rotation, scale, translation, shear) in 2D and 3D: invert ≈ x, geometry world-consistent", () => {
    const cases: [MedicalImage, ImageTransform][] = [
      [blob([40, 40, 1]), affine({ rotate: [0.3], scale: [1.1, 0.9], translate: [2, -1], shear: [0.05, 0] })],
      [
        blob([24, 28, 28, 1], [1, 1, 2]),
        affine({ rotate: [0.1, -0.2, 0.25], scale: [1, 1.05, 0.95], translate: [1, 0, -1] }),
      ],
    ];
    for (const [x, t] of cases) {
      const y = t(x);
      assert.deepEqual(y.shape, x.shape);
      const op = appliedOperations(y)[0];
      assert.ok(op !== undefined);
      const nd = x.spacing.length;
      // Output voxel o holds the input content at index A·o + b: both name the same world point.
      const o = new Array<number>(nd).fill(3);
      const i = matVec(op.matrix, o, nd).map((v, k) => v + (op.offset[k] as number));
      world(y, o).forEach((w, k) => {
        assert.ok(Math.abs(w - (world(x, i)[k] as number)) < 1e-9);
      });
      const back = invert(y);
      assertGeometryEqual(back, x, 0);
      const err = centralError(back, x);
      assert.ok(err < 1.5, `invert error ${err}`);
      assert.ok(centralError(y, x) > 3 * err, "the transform did move the image");
    }
  });

  it("invert undoes a chain last-first and can stop after n steps", () => {
    const x = blob([20, 24, 1]);
    const y = resize({ size: [10, 12] })(flip({ axes: [0] })(cropOrPad({ size: [24, 24] })(x)));
    assert.equal(appliedOperations(y).length, 3);
    const oneBack = invert(y, { steps: 1 });
    assert.deepEqual(oneBack.shape, [24, 24, 1]);
    assert.equal(appliedOperations(oneBack).length, 2);
    const back = invert(y);
    assert.deepEqual(back.shape, x.shape);
    assertGeometryEqual(back, x, 0);
    assert.ok(centralError(back, x) < 2);
  });
});
