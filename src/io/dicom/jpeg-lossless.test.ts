/** JPEG Lossless (Process 14, .57/.70) decodes every sample exactly, natively (DCMTK) and with the JavaScript fallback. */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { ctFile, ctSlice } from "../../../test/support/synthetic-ct.js";
import { decodeFrame } from "./codec-pool.js";
import { decodeFrameInThread, decodeJpegLosslessJs } from "./codecs.js";
import { loadNativeCodecs } from "./native-codecs.js";
import { parseDicom } from "./parse.js";
import { decodeStoredPixels, framesOfFragments } from "./pixels.js";
import { TS } from "./transfer-syntax.js";

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
