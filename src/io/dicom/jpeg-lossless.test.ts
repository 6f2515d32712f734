/** JPEG Lossless (Process 14, .57/.70) decodes every sample exactly, natively (DCMTK) and with the JavaScript fallback. */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { Rng } from "../../core/rng.js";
import { decodeFrame } from "./codec-pool.js";
import { decodeFrameInThread, decodeJpegLosslessJs } from "./codecs.js";
import { DicomDataset } from "./dataset.js";
import { loadNativeCodecs } from "./native-codecs.js";
import { parseDicom } from "./parse.js";
import { decodeStoredPixels, framesOfFragments } from "./pixels.js";
import { TS } from "./transfer-syntax.js";
import { writeDicom } from "./write.js";

/**
 * A CT-like signed 16-bit slice: a noisy disc in a field of -2000 (the padding value outside a CT's circular
 * reconstruction), so that the scan ends in a run of zero differences; `tail` random samples on the last row
 * move where the entropy-coded data ends relative to a byte boundary.
 */
function ctSlice(size: number, seed: number, tail: number): Int16Array {
  const rng = new Rng(seed);
  const px = new Int16Array(size * size).fill(-2000);
  const c = size / 2;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const r = Math.hypot(y - c, x - c);
      if (r < size * 0.49) px[y * size + x] = (r < size * 0.4 ? 0 : -1000) + rng.int(-60, 60);
    }
  }
  for (let x = 0; x < Math.min(tail, size - 1); x++) px[(size - 1) * size + x] = rng.int(-2000, 2000);
  return px;
}

function ctFile(px: Int16Array, size: number): Uint8Array {
  const meta = new DicomDataset(true);
  meta.setString("MediaStorageSOPClassUID", "1.2.840.10008.5.1.4.1.1.2", "UI");
  meta.setString("MediaStorageSOPInstanceUID", "2.25.1", "UI");
  const ds = new DicomDataset(true);
  ds.setString("SOPClassUID", "1.2.840.10008.5.1.4.1.1.2");
  ds.setString("SOPInstanceUID", "2.25.1");
  ds.setString("Modality", "CT");
  ds.setNumbers("SamplesPerPixel", [1]);
  ds.setString("PhotometricInterpretation", "MONOCHROME2");
  ds.setNumbers("Rows", [size]);
  ds.setNumbers("Columns", [size]);
  ds.setNumbers("BitsAllocated", [16]);
  ds.setNumbers("BitsStored", [16]);
  ds.setNumbers("HighBit", [15]);
  ds.setNumbers("PixelRepresentation", [1]);
  ds.set({ tag: 0x7fe00010, vr: "OW", value: new Uint8Array(px.buffer), undefinedLength: false });
  return writeDicom({ meta, dataset: ds, transferSyntaxUID: TS.ExplicitVRLittleEndian });
}

function fragmentOf(file: Uint8Array): Uint8Array {
  const el = parseDicom(file).dataset.get(0x7fe00010);
  return framesOfFragments(el?.fragments ?? [], el?.offsetTable ?? new Uint8Array(0), 1)[0] as Uint8Array;
}

let work = "";
interface Case {
  readonly name: string;
  readonly px: Int16Array;
  readonly size: number;
  readonly file: Uint8Array;
}
const cases: Case[] = [];

describe("JPEG Lossless decoding is exact", () => {
  before(() => {
    work = mkdtempSync(join(tmpdir(), "rl-jpll-"));
    // DCMTK's dcmcjpeg encodes: +e1 = Process 14 selection value 1 (.70); +el +sv N = Process 14, predictor N (.57; 6 by default).
    const encodings: [string, string[]][] = [
      ["sv1", ["+e1"]],
      ["p14-sv1", ["+el", "+sv", "1"]],
      ["p14-sv4", ["+el", "+sv", "4"]],
      ["p14-sv6", ["+el"]],
    ];
    for (const size of [512, 64]) {
      for (let t = 0; t < (size === 512 ? 6 : 12); t++) {
        const px = ctSlice(size, 1000 * size + t, t * 37);
        const src = join(work, `ct-${size}-${t}.dcm`);
        writeFileSync(src, ctFile(px, size));
        for (const [name, args] of encodings) {
          if (size === 512 && name !== "sv1") continue;
          const out = join(work, `ct-${size}-${t}-${name}.dcm`);
          execFileSync("dcmcjpeg", [...args, src, out], { stdio: "pipe" });
          cases.push({ name: `${size}x${size} #${t} ${name}`, px, size, file: readFileSync(out) });
        }
      }
    }
  });
  after(() => rmSync(work, { recursive: true, force: true }));

  it("generates files whose last sample is -2000 with both transfer syntaxes", () => {
    assert.ok(cases.length >= 40);
    const syntaxes = new Set(cases.map((c) => parseDicom(c.file).transferSyntaxUID));
    assert.deepEqual([...syntaxes].sort(), [TS.JPEGLossless, TS.JPEGLosslessSV1].sort());
    for (const c of cases) assert.equal(c.px[c.px.length - 1], -2000);
  });

  it("decodes every sample, the last one included, through `decodeStoredPixels`", async () => {
    for (const c of cases) {
      const got = await decodeStoredPixels(parseDicom(c.file));
      assert.equal(got.dtype, "int16", c.name);
      assert.deepEqual(got.data, c.px, c.name);
    }
  });

  it("decodes every sample with the JavaScript fallback (jpeg-lossless-decoder-js with trailing fill)", () => {
    for (const c of cases) {
      const frag = fragmentOf(c.file);
      const f = decodeJpegLosslessJs(frag, { rows: c.size, cols: c.size, samples: 1, bitsAllocated: 16 });
      const got = new Int16Array(f.bytes.buffer, f.bytes.byteOffset, c.px.length);
      assert.deepEqual(got, c.px, c.name);
    }
  });

  it("uses DCMTK's IJG decoder when the addon has it, and it refuses damaged or mis-sized frames", async () => {
    const native = loadNativeCodecs();
    if (!native) assert.fail("the native codec addon is not built: run scripts/setup.sh (libopenjp2-7-dev)");
    assert.ok(native.decodeJpeg, "the addon lacks DCMTK's JPEG decoder: run scripts/setup.sh (libdcmtk-dev)");
    const c = cases[0] as Case;
    const frag = fragmentOf(c.file);
    const spec = { rows: c.size, cols: c.size, samples: 1, bitsAllocated: 16 };
    const r = native.decodeJpeg(frag, c.size, c.size, 1);
    assert.equal(r.process, 14);
    assert.deepEqual(new Int16Array(r.bytes.buffer, r.bytes.byteOffset, c.px.length), c.px);
    const damaged = frag.slice();
    for (let i = 400; i < damaged.length - 2; i += 97) damaged[i] = 0xff;
    const bad: [string, Uint8Array, typeof spec][] = [
      ["truncated", frag.subarray(0, frag.length >> 1), spec],
      ["damaged", damaged, spec],
      ["taller than the dataset says", frag, { ...spec, rows: c.size * 2 }],
      ["no frame header", Uint8Array.of(0xff, 0xd8, 0xff, 0xd9), spec],
    ];
    for (const [name, data, s] of bad) {
      await assert.rejects(
        decodeFrameInThread("jpeg-lossless", data, s),
        (e: unknown) => (e as { code?: string }).code === "DICOM_DECODE",
        name,
      );
    }
    // A worker decodes the same bytes as this thread.
    const w = await decodeFrame("jpeg-lossless", frag, spec);
    assert.deepEqual(w.bytes, r.bytes);
  });
});
