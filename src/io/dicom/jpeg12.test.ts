/** 12-bit JPEG extended (1.2.840.10008.1.2.4.51) stored values against DCMTK's dcmdjpeg, run in a subprocess. */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { sharedData } from "../../../test/support/shared-data.js";
import { decodeFrame } from "./codec-pool.js";
import { decodeFrameInThread, jpegFrameHeader } from "./codecs.js";
import { DicomError } from "./errors.js";
import { readDicomFile } from "./parse.js";
import { decodeStoredPixels } from "./pixels.js";

const FILES = ["JPEG-lossy.dcm", "JPGExtended.dcm"];
/**
 * Largest |ours − dcmdjpeg| allowed. Both run the IJG 12-bit libjpeg with its default integer IDCT (dcmjs-codecs
 * is DCMTK's codec compiled to WASM), and the measured difference on both files is 0.
 */
const TOLERANCE = 0;

let work = "";

function firstFragment(file: string): Uint8Array {
  const el = readDicomFile(sharedData("dicom", "pydicom", file)).dataset.get(0x7fe00010);
  const frag = el?.fragments?.[0];
  assert.ok(frag, `${file} has no fragment`);
  return frag;
}

describe("12-bit JPEG extended vs dcmtk dcmdjpeg", () => {
  before(() => {
    work = mkdtempSync(join(tmpdir(), "rl-jpeg12-"));
  });
  after(() => rmSync(work, { recursive: true, force: true }));

  for (const f of FILES) {
    it(`${f}: every stored value equals dcmdjpeg's (tolerance ${TOLERANCE})`, async () => {
      const src = sharedData("dicom", "pydicom", f);
      const parsed = readDicomFile(src);
      assert.equal(parsed.transferSyntaxUID, "1.2.840.10008.1.2.4.51");
      const ours = await decodeStoredPixels(parsed);
      assert.equal(ours.dtype, "uint16");
      assert.deepEqual(ours.shape, [1, 1024, 256, 1]);

      // dcmtk is a system package (scripts/setup.sh); a missing dcmdjpeg fails the test rather than skipping it.
      const out = join(work, `${f}.native.dcm`);
      execFileSync("dcmdjpeg", [src, out], { stdio: "pipe" });
      const ref = readDicomFile(out);
      assert.equal(ref.transferSyntaxUID, "1.2.840.10008.1.2.1");
      const theirs = await decodeStoredPixels(ref);
      assert.equal(theirs.data.length, ours.data.length);

      let maxDiff = 0;
      let min = Number.POSITIVE_INFINITY;
      let max = Number.NEGATIVE_INFINITY;
      for (let i = 0; i < ours.data.length; i++) {
        const v = ours.data[i] as number;
        maxDiff = Math.max(maxDiff, Math.abs(v - (theirs.data[i] as number)));
        min = Math.min(min, v);
        max = Math.max(max, v);
      }
      assert.ok(maxDiff <= TOLERANCE, `${f}: max |diff| ${maxDiff}`);
      // 12-bit samples, and a real image (not a constant frame that would match anything decoded as constant).
      assert.ok(max <= 4095 && max > 255, `${f}: values span ${min}..${max}`);
    });
  }

  it("reads the frame header the codec is checked against", () => {
    assert.deepEqual(jpegFrameHeader(firstFragment("JPEG-lossy.dcm")), {
      precision: 12,
      rows: 1024,
      cols: 256,
      components: 1,
    });
    assert.equal(jpegFrameHeader(Uint8Array.of(0xff, 0xd8, 0xff, 0xda, 0, 2)), undefined);
  });

  it("refuses truncated, damaged or mis-sized 12-bit codestreams with DICOM_DECODE", async () => {
    const frag = firstFragment("JPEG-lossy.dcm");
    const spec = { rows: 1024, cols: 256, samples: 1, bitsAllocated: 16 };
    const damaged = frag.slice();
    for (let i = 600; i < damaged.length - 2; i += 7) damaged[i] = 0xff;
    const cases: [string, Uint8Array, typeof spec][] = [
      ["truncated", frag.subarray(0, frag.length >> 1), spec],
      ["damaged", damaged, spec],
      ["taller than the dataset says", frag, { ...spec, rows: 512 }],
    ];
    for (const [name, data, s] of cases) {
      await assert.rejects(
        decodeFrameInThread("jpeg-extended", data, s),
        (e: unknown) => e instanceof DicomError && e.code === "DICOM_DECODE",
        name,
      );
    }
    // After a failure the codec is reloaded and decodes a sound frame again, in a worker as well as here.
    const f = await decodeFrameInThread("jpeg-extended", frag, spec);
    assert.equal(f.bytes.length, 1024 * 256 * 2);
    const w = await decodeFrame("jpeg-extended", frag, spec);
    assert.deepEqual(w.bytes, f.bytes);
  });
});
