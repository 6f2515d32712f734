/** Writing NIfTI: every written file reads back with the same data, shape and geometry; malformed input fails typed. */
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { gzipSync } from "node:zlib";
import { sharedData } from "../../../test/support/shared-data.js";
import { isRadioLensError } from "../../core/errors.js";
import { createImage, dtypeOf, type MedicalImage, type PixelArray } from "../../core/image.js";
import { Rng } from "../../core/rng.js";
import { encodeNifti, type NiftiMeta, readNifti, type WriteNiftiOptions, writeNifti } from "./index.js";

const dir = mkdtempSync(join(tmpdir(), "radiolens-nifti-"));
after(() => rmSync(dir, { recursive: true, force: true }));

function bytesOf(a: PixelArray): Buffer {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}

function assertSameImage(actual: MedicalImage, expected: MedicalImage): void {
  assert.equal(dtypeOf(actual.data), dtypeOf(expected.data));
  assert.deepEqual(actual.shape, expected.shape);
  // Byte equality also compares NaN payloads, which deepEqual on numbers cannot.
  assert.ok(bytesOf(actual.data).equals(bytesOf(expected.data)), "pixel bytes differ");
  assert.deepEqual(actual.spacing, expected.spacing);
  assert.deepEqual(actual.origin, expected.origin);
  assert.deepEqual(actual.direction, expected.direction);
}

const variants: readonly { name: string; file: string; opts: WriteNiftiOptions }[] = [
  { name: ".nii", file: "a.nii", opts: {} },
  { name: ".nii.gz", file: "a.nii.gz", opts: {} },
  { name: "big-endian .nii", file: "be.nii", opts: { endian: "big" } },
  { name: "NIfTI-2 .nii.gz", file: "v2.nii.gz", opts: { version: 2 } },
  { name: "NIfTI-2 big-endian", file: "v2be.nii", opts: { version: 2, endian: "big" } },
  { name: ".hdr/.img pair", file: "pair.hdr", opts: {} },
];

describe("writeNifti → readNifti round trip", () => {
  const sources = [
    sharedData("nifti", "nibabel", "anatomical.nii"),
    sharedData("nifti", "nibabel", "example4d.nii.gz"),
    sharedData("nifti", "nibabel", "example_nifti2.nii.gz"),
    sharedData("nifti", "nibabel", "functional.nii"),
    sharedData("nifti", "nibabel", "reoriented_anat_moved.nii"),
    sharedData("nifti", "nibabel", "resampled_anat_moved.nii"),
    sharedData("nifti", "nibabel", "row_major.dconn.nii"),
    sharedData("nifti", "nibabel", "standard.nii.gz"),
    sharedData("nifti", "niivue", "lesion.nii.gz"),
  ];
  for (const src of sources) {
    it(`${src.split("/").pop()} reads back identically in every variant`, () => {
      const img = readNifti(src);
      for (const v of variants) {
        const out = join(dir, v.file);
        writeNifti(out, img, v.opts);
        const back = readNifti(out);
        assertSameImage(back, img);
        const m = back.meta["nifti"] as NiftiMeta;
        const m0 = img.meta["nifti"] as NiftiMeta;
        assert.equal(m.littleEndian, v.opts.endian !== "big");
        assert.equal(m.format, v.opts.version === 2 ? "nifti2" : "nifti1");
        assert.deepEqual(m.dim, m0.dim);
        assert.equal(m.intentCode, m0.intentCode);
      }
    });
  }

  it("the FLAIR volume (oblique, 2.7 M voxels) survives .nii.gz", () => {
    const img = readNifti(sharedData("nifti", "niivue", "FLAIR.nii.gz"));
    writeNifti(join(dir, "flair.nii.gz"), img);
    assertSameImage(readNifti(join(dir, "flair.nii.gz")), img);
  });

  it("generated images of every writable dtype, 2D and 3D, single and multi-channel", () => {
    const rng = new Rng(7);
    const ctors = [
      Uint8Array,
      Int8Array,
      Uint16Array,
      Int16Array,
      Uint32Array,
      Int32Array,
      Float32Array,
      Float64Array,
    ];
    const shapes = [
      [5, 7, 1],
      [5, 7, 3],
      [4, 5, 6, 1],
      [4, 5, 6, 2],
    ];
    for (const Ctor of ctors) {
      for (const shape of shapes) {
        const n = shape.reduce((a, b) => a * b, 1);
        const data = new Ctor(n);
        for (let i = 0; i < n; i++) data[i] = rng.int(0, 100) - (Ctor === Uint8Array ? 0 : 0);
        const nd = shape.length - 1;
        // Float32-representable geometry with an axis permutation and flips: exact through NIfTI-1.
        const img = createImage(data, shape, {
          spacing: nd === 2 ? [0.5, 1.25] : [0.5, 1.25, 3],
          origin: nd === 2 ? [-10.5, 20.25] : [-10.5, 20.25, 7],
          direction: nd === 2 ? [0, 1, -1, 0] : [0, 1, 0, -1, 0, 0, 0, 0, 1],
        });
        // In memory for speed (each file write fsyncs); files are covered by the tests above and below.
        for (const opts of [{}, { endian: "big" }, { version: 2 }, { version: 2, endian: "big" }] as const) {
          assertSameImage(readNifti(encodeNifti(img, opts)), img);
        }
        assertSameImage(readNifti(gzipSync(encodeNifti(img))), img);
        if (Ctor === Int16Array || Ctor === Float64Array) {
          writeNifti(join(dir, "gen-pair.hdr"), img);
          assertSameImage(readNifti(join(dir, "gen-pair.hdr")), img);
        }
      }
    }
  });

  it("an oblique float64 geometry is exact within 1e-12 through NIfTI-2 (float32 through NIfTI-1)", () => {
    const c = Math.cos(0.3);
    const s = Math.sin(0.3);
    const img = createImage(new Uint8Array(24).fill(1), [2, 3, 4, 1], {
      spacing: [0.7, 0.9, 2.1],
      origin: [1.1, -2.2, 3.3],
      direction: [c, -s, 0, s, c, 0, 0, 0, 1],
    });
    const v2 = readNifti(encodeNifti(img, { version: 2 }));
    const v1 = readNifti(encodeNifti(img));
    for (const k of ["spacing", "origin", "direction"] as const) {
      img[k].forEach((x, i) => {
        assert.ok(Math.abs((v2[k][i] as number) - x) < 1e-12, `${k}[${i}] v2`);
        assert.ok(Math.abs((v1[k][i] as number) - x) < 1e-6, `${k}[${i}] v1`);
      });
    }
    assert.equal((v2.meta["nifti"] as NiftiMeta).qformCode, 1);
    // The qform written from the quaternion describes the same grid as the sform, for both handednesses.
    for (const direction of [
      [c, -s, 0, s, c, 0, 0, 0, 1],
      [c, -s, 0, s, c, 0, 0, 0, -1],
    ]) {
      const m = readNifti(encodeNifti({ ...img, direction }, { version: 2 })).meta["nifti"] as NiftiMeta;
      (m.sform as number[]).forEach((v, i) => {
        assert.ok(Math.abs(v - ((m.qform as number[])[i] as number)) < 1e-9, `qform[${i}]`);
      });
    }
  });

  it("RGB24 images are written and read as 3 interleaved channels", () => {
    const data = Uint8Array.from({ length: 2 * 3 * 3 }, (_, i) => i * 7);
    const img = createImage(data, [2, 3, 3], { meta: { nifti: { datatype: 128 } } });
    const back = readNifti(encodeNifti(img));
    assert.equal((back.meta["nifti"] as NiftiMeta).datatypeName, "rgb24");
    assertSameImage(back, img);
    const plain = createImage(Uint8Array.from(data), [2, 3, 3]);
    const asRgb = readNifti(encodeNifti(plain, { rgb: true }));
    assert.equal((asRgb.meta["nifti"] as NiftiMeta).datatype, 128);
    assertSameImage(asRgb, plain);
    assert.equal((readNifti(encodeNifti(plain)).meta["nifti"] as NiftiMeta).intentCode, 1007);
    const rgba = createImage(
      Uint8Array.from({ length: 2 * 2 * 2 * 4 }, (_, i) => i),
      [2, 2, 2, 4],
    );
    const backRgba = readNifti(encodeNifti(rgba, { rgb: true, endian: "big" }));
    assert.equal((backRgba.meta["nifti"] as NiftiMeta).datatypeName, "rgba32");
    assertSameImage(backRgba, rgba);
  });

  it("complex64 and int64 voxels are decoded (complex as 2 channels, int64 as float64)", () => {
    const floats = Float32Array.from({ length: 4 * 8 }, (_, i) => i - 3.5);
    const bytes = encodeNifti(createImage(floats, [4, 8, 1]));
    const dv = new DataView(bytes.buffer);
    dv.setInt16(42, 4, true); // dim[1]: 8 floats per row become 4 complex numbers
    dv.setInt16(70, 32, true); // datatype COMPLEX64
    dv.setInt16(72, 64, true);
    const cplx = readNifti(bytes);
    assert.deepEqual(cplx.shape, [4, 4, 2]);
    assert.deepEqual(Array.from(cplx.data), Array.from(floats));

    const big = encodeNifti(createImage(new Float64Array(6), [2, 3, 1]), { endian: "big" });
    const bdv = new DataView(big.buffer);
    bdv.setInt16(70, 1024, false); // INT64
    [-5, 0, 9007199254740991, 3, -9007199254740991, 42].forEach((v, i) => {
      bdv.setBigInt64(352 + 8 * i, BigInt(v), false);
    });
    const i64 = readNifti(big);
    assert.ok(i64.data instanceof Float64Array);
    assert.deepEqual(Array.from(i64.data), [-5, 0, 9007199254740991, 3, -9007199254740991, 42]);
    bdv.setBigInt64(352, 2n ** 60n, false);
    assert.throws(
      () => readNifti(big),
      (e: unknown) => isRadioLensError(e, "RL_ERR_NIFTI_UNSUPPORTED"),
    );
  });

  it("writes atomically: no temporary file is left beside the output", () => {
    const sub = mkdtempSync(join(dir, "atomic-"));
    writeNifti(join(sub, "m.nii.gz"), createImage(new Uint8Array(8), [2, 2, 2, 1]));
    writeNifti(join(sub, "p.hdr"), createImage(new Uint8Array(8), [2, 2, 2, 1]));
    assert.deepEqual(readdirSync(sub).sort(), ["m.nii.gz", "p.hdr", "p.img"]);
    const be = readFileSync(join(sub, "p.hdr"));
    assert.equal(be.readInt32LE(0), 348);
    assert.equal(be.subarray(344, 347).toString("latin1"), "ni1");
  });
});

describe("malformed NIfTI input ends in a typed error", () => {
  const good = encodeNifti(createImage(new Int16Array(60).fill(3), [3, 4, 5, 1]));
  const expectCode = (bytes: Uint8Array, code: "RL_ERR_NIFTI_INVALID" | "RL_ERR_NIFTI_UNSUPPORTED"): void => {
    assert.throws(
      () => readNifti(bytes),
      (e: unknown) => isRadioLensError(e, code),
    );
  };

  it("truncated header and truncated voxels", () => {
    expectCode(good.subarray(0, 200), "RL_ERR_NIFTI_INVALID");
    expectCode(good.subarray(0, good.length - 1), "RL_ERR_NIFTI_INVALID");
  });

  it("bad dim[0], zero size, unknown and 128-bit datatypes, huge dims against maxBytes", () => {
    const patch = (off: number, v: number): Uint8Array => {
      const b = good.slice();
      new DataView(b.buffer).setInt16(off, v, true);
      return b;
    };
    expectCode(patch(40, 9), "RL_ERR_NIFTI_INVALID");
    expectCode(patch(42, 0), "RL_ERR_NIFTI_INVALID");
    expectCode(patch(70, 3), "RL_ERR_NIFTI_UNSUPPORTED");
    expectCode(patch(70, 1536), "RL_ERR_NIFTI_UNSUPPORTED");
    const huge = patch(42, 32767);
    new DataView(huge.buffer).setInt16(44, 32767, true);
    new DataView(huge.buffer).setInt16(46, 32767, true);
    assert.throws(
      () => readNifti(huge, { maxBytes: 1 << 20 }),
      (e: unknown) => isRadioLensError(e, "RL_ERR_NIFTI_INVALID") && e.message.includes("limit"),
    );
  });

  it("damaged gzip and a gzip bomb above maxBytes", () => {
    const gz = gzipSync(good);
    const broken = gz.subarray(0, gz.length - 12);
    expectCode(broken, "RL_ERR_NIFTI_INVALID");
    const bomb = gzipSync(new Uint8Array(4 << 20));
    assert.throws(
      () => readNifti(bomb, { maxBytes: 1024 }),
      (e: unknown) => isRadioLensError(e, "RL_ERR_NIFTI_INVALID") && e.message.includes("limit"),
    );
  });

  it("missing file, missing .img and an unwritable name", () => {
    assert.throws(
      () => readNifti(join(dir, "nope.nii")),
      (e: unknown) => isRadioLensError(e, "RL_ERR_FILE_NOT_FOUND"),
    );
    writeFileSync(join(dir, "lonely.hdr"), good.subarray(0, 352));
    assert.throws(
      () => readNifti(join(dir, "lonely.hdr")),
      (e: unknown) =>
        isRadioLensError(e, "RL_ERR_NIFTI_INVALID") || isRadioLensError(e, "RL_ERR_NIFTI_MISSING_IMAGE"),
    );
    assert.throws(
      () => writeNifti(join(dir, "x.png"), createImage(new Uint8Array(4), [2, 2, 1])),
      (e: unknown) => isRadioLensError(e, "RL_ERR_NIFTI_WRITE"),
    );
  });
});
