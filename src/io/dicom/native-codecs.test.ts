/** The native JPEG 2000 decoder: same samples as the WASM OpenJPEG build, header checked first, safe to abandon. */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { REPO_ROOT, sharedData } from "../../../test/support/shared-data.js";
import { Rng } from "../../core/rng.js";
import { decodeFrame } from "./codec-pool.js";
import { DicomError } from "./errors.js";
import { loadNativeCodecs } from "./native-codecs.js";
import { readDicomFile } from "./parse.js";
import { framesOfFragments, readPixelModule } from "./pixels.js";

const DIR = sharedData("dicom", "pydicom");
const J2K_TS = new Set(["1.2.840.10008.1.2.4.90", "1.2.840.10008.1.2.4.91"]);

/** Every JPEG 2000 frame of the corpus that the dataset describes, with its declared size. */
function j2kFrames() {
  const out: { file: string; data: Uint8Array; rows: number; cols: number; samples: number }[] = [];
  for (const file of readdirSync(DIR).sort()) {
    let parsed: ReturnType<typeof readDicomFile>;
    try {
      parsed = readDicomFile(join(DIR, file));
    } catch {
      continue;
    }
    if (!J2K_TS.has(parsed.transferSyntaxUID)) continue;
    const el = parsed.dataset.get(0x7fe00010);
    if (!el?.fragments) continue;
    const m = readPixelModule(parsed.dataset);
    for (const data of framesOfFragments(el.fragments, el.offsetTable ?? new Uint8Array(0), m.frames)) {
      out.push({ file, data, rows: m.rows, cols: m.cols, samples: m.samples });
    }
  }
  return out;
}

/** Decodes each file of RL_FILES and prints a digest of its stored values (or its error code), as JSON. */
const DIGEST_SCRIPT = `
const { createHash } = await import("node:crypto");
const { readDicomFile, decodeStoredPixels } = await import("./src/io/dicom/index.ts");
const out = [];
for (const f of JSON.parse(process.env.RL_FILES)) {
  try {
    const px = await decodeStoredPixels(readDicomFile(f));
    const b = new Uint8Array(px.data.buffer, px.data.byteOffset, px.data.byteLength);
    out.push(px.shape.join("x") + ":" + px.dtype + ":" + createHash("sha256").update(b).digest("hex"));
  } catch (e) {
    out.push("error " + e.code);
  }
}
process.stdout.write(JSON.stringify(out));
`;

const hasOpenJpeg = existsSync("/usr/include/openjpeg-2.5/openjpeg.h");
const native = loadNativeCodecs();

describe("native JPEG 2000 decoder", () => {
  it("is built wherever libopenjp2-7-dev is installed", () => {
    // scripts/setup.sh installs libopenjp2-7-dev; without it the WASM build decodes and this test says why.
    assert.ok(
      !hasOpenJpeg || native,
      "OpenJPEG headers are installed but src/io/dicom/native is not built: run `node scripts/build-native.mjs`",
    );
    if (native) assert.match(native.openjpegVersion(), /^2\.\d+\.\d+/);
  });

  it("gives the WASM OpenJPEG build's samples for every corpus file (RADIOLENS_NATIVE_CODECS=0)", () => {
    assert.ok(native, "the native decoder is not built");
    const files = [...new Set(j2kFrames().map((f) => f.file))];
    assert.ok(files.length >= 7, `only ${files.length} JPEG 2000 files found`);
    // One process per decoder: the choice is made once per process, when the first frame is decoded.
    const digests = (flag: string) =>
      JSON.parse(
        execFileSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", DIGEST_SCRIPT], {
          cwd: REPO_ROOT,
          env: {
            ...process.env,
            RADIOLENS_NATIVE_CODECS: flag,
            RL_FILES: JSON.stringify(files.map((f) => join(DIR, f))),
          },
          encoding: "utf8",
        }),
      ) as string[];
    const nativeOut = digests("1");
    const wasmOut = digests("0");
    assert.deepEqual(nativeOut, wasmOut);
    const decoded = nativeOut.filter((d) => !d.startsWith("error"));
    assert.ok(decoded.length >= 7, `only ${decoded.length} files decoded`);
  });

  it("refuses a codestream whose header disagrees with the dataset before decoding it", () => {
    assert.ok(native, "the native decoder is not built");
    const f = j2kFrames()[0];
    assert.ok(f);
    assert.throws(
      () => native.decodeJpeg2000(f.data, f.rows * 4, f.cols, f.samples),
      /header says \d+x\d+x\d+ but the dataset says/,
    );
    assert.throws(() => native.decodeJpeg2000(f.data, f.rows, f.cols, f.samples + 2), /header says/);
  });

  it("turns truncated and corrupted codestreams into errors, never a crash", () => {
    assert.ok(native, "the native decoder is not built");
    const frames = j2kFrames();
    let refused = 0;
    for (const f of frames) {
      for (const cut of [2, 40, f.data.length >> 1, f.data.length - 8]) {
        try {
          native.decodeJpeg2000(f.data.subarray(0, cut), f.rows, f.cols, f.samples);
        } catch (e) {
          assert.ok(e instanceof Error && e.message.length > 0);
          refused++;
        }
      }
    }
    // Every cut before the first tile's data loses the header or tile; later cuts may decode a lower quality layer.
    assert.ok(refused >= frames.length * 2, `only ${refused} truncations refused`);
  });

  it("survives 2,000 seeded byte mutations of JPEG 2000 codestreams (decodes or throws, never crashes)", () => {
    assert.ok(native, "the native decoder is not built");
    const rng = new Rng(27);
    // Small codestreams keep 2,000 decodes within a few seconds.
    const frames = j2kFrames().filter((f) => f.data.length <= 16384 && f.rows * f.cols <= 512 * 512);
    assert.ok(frames.length >= 2);
    let thrown = 0;
    for (let n = 0; n < 2000; n++) {
      const f = frames[n % frames.length] as (typeof frames)[number];
      const data = f.data.slice();
      // Most damage lands in the main header (the first ~200 bytes), where lengths and sizes live.
      const flips = 1 + rng.int(0, 4);
      for (let k = 0; k < flips; k++) {
        const at =
          rng.float() < 0.7 ? rng.int(0, Math.min(200, data.length - 1)) : rng.int(0, data.length - 1);
        data[at] = rng.int(0, 255);
      }
      try {
        const r = native.decodeJpeg2000(data, f.rows, f.cols, f.samples);
        if ("bytes" in r) assert.ok(r.bytes.length >= f.rows * f.cols * f.samples);
      } catch (e) {
        assert.ok(e instanceof Error, "only Error objects are thrown");
        thrown++;
      }
    }
    assert.ok(thrown > 100, `only ${thrown} of 2000 mutations were refused`);
  });

  it("abandons a decode past its time limit without taking the process down", async () => {
    const big = j2kFrames().reduce((a, b) => (b.data.length > a.data.length ? b : a));
    const spec = { rows: big.rows, cols: big.cols, samples: big.samples, bitsAllocated: 16 };
    // A 1 ms limit ends the worker while OpenJPEG is still decoding in it.
    await assert.rejects(decodeFrame("jpeg-2000", big.data, spec, 1), (e: unknown) => {
      assert.ok(e instanceof DicomError);
      assert.equal(e.code, "DICOM_TIMEOUT");
      return true;
    });
    // The pool replaced the worker and decodes again.
    const ok = await decodeFrame("jpeg-2000", big.data, spec);
    assert.equal(ok.width, big.cols);
  });
});
