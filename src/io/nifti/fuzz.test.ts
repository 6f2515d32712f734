/** Seeded mutation fuzzing of the NIfTI reader: every mutated file reads or fails with a RadioLensError, never anything else. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { gzipSync } from "node:zlib";
import { RadioLensError } from "../../core/errors.js";
import { createImage } from "../../core/image.js";
import { Rng } from "../../core/rng.js";
import { encodeNifti, readNifti } from "./index.js";

const CASES = Number(process.env["RADIOLENS_FUZZ_CASES"] ?? 3000);

/** Header offsets whose corruption matters most: sizeof_hdr, dim, datatype, bitpix, pixdim, vox_offset, scl, xforms, magic. */
const HOT_V1 = [0, 40, 42, 44, 46, 48, 56, 68, 70, 72, 76, 80, 108, 112, 116, 252, 254, 256, 280, 344];
const HOT_V2 = [0, 4, 12, 14, 16, 24, 32, 40, 104, 168, 176, 344, 348, 352, 400, 504];

function mutate(base: Uint8Array, rng: Rng, hot: readonly number[]): Uint8Array {
  const b = base.slice();
  const dv = new DataView(b.buffer);
  switch (rng.int(0, 5)) {
    case 0:
      return b.subarray(0, rng.int(0, b.length - 1));
    case 1: {
      for (let k = rng.int(1, 8); k > 0; k--) b[rng.int(0, b.length - 1)] = rng.int(0, 255);
      return b;
    }
    case 2: {
      const off = hot[rng.int(0, hot.length - 1)] as number;
      const huge = [0x7fffffff, -1, 0, 1, 32767, -32768, 0x40000000][rng.int(0, 6)] as number;
      if (off + 4 <= b.length) dv.setInt32(off, huge, rng.bernoulli(0.5));
      return b;
    }
    case 3: {
      const off = hot[rng.int(0, hot.length - 1)] as number;
      if (off + 8 <= b.length)
        dv.setFloat64(off, [Number.NaN, Number.POSITIVE_INFINITY, -1e300, 1e-300][rng.int(0, 3)] as number);
      return b;
    }
    case 4: {
      const off = hot[rng.int(0, hot.length - 1)] as number;
      if (off + 2 <= b.length) dv.setInt16(off, rng.int(-32768, 32767), rng.bernoulli(0.5));
      return b;
    }
    default: {
      const extra = new Uint8Array(rng.int(1, 64));
      for (let i = 0; i < extra.length; i++) extra[i] = rng.int(0, 255);
      const out = new Uint8Array(b.length + extra.length);
      out.set(b);
      out.set(extra, b.length);
      return out;
    }
  }
}

describe("NIfTI reader under mutation", () => {
  const img = createImage(
    Int16Array.from({ length: 4 * 5 * 6 * 2 }, (_, i) => i - 50),
    [4, 5, 6, 2],
    { spacing: [0.5, 1, 2] },
  );
  const seeds = [
    { name: "NIfTI-1", bytes: encodeNifti(img), hot: HOT_V1 },
    { name: "NIfTI-1 big-endian", bytes: encodeNifti(img, { endian: "big" }), hot: HOT_V1 },
    { name: "NIfTI-2", bytes: encodeNifti(img, { version: 2 }), hot: HOT_V2 },
  ];

  for (const seed of seeds) {
    it(`${seed.name}: ${CASES} mutations end in an image or a RadioLensError`, () => {
      const rng = new Rng(2024);
      let typed = 0;
      let read = 0;
      for (let c = 0; c < CASES; c++) {
        let bytes = mutate(seed.bytes, rng, seed.hot);
        if (c % 10 === 0) bytes = gzipSync(bytes);
        if (c % 10 === 5) bytes = gzipSync(seed.bytes).subarray(0, rng.int(0, 200));
        try {
          const out = readNifti(bytes, { maxBytes: 1 << 24 });
          assert.equal(
            out.data.length,
            out.shape.reduce((a, b) => a * b, 1),
          );
          read++;
        } catch (e) {
          if (!(e instanceof RadioLensError)) {
            assert.fail(`case ${c}: untyped ${(e as Error).name}: ${(e as Error).message}`);
          }
          typed++;
        }
      }
      // Both outcomes occur, so the mutations really reach the checks.
      assert.ok(typed > CASES / 10 && read > CASES / 20, `typed ${typed}, read ${read}`);
    });
  }
});
