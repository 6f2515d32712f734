/** Decoding several files together: same values as one at a time, bounded concurrency, failures surfaced. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { sharedData } from "../../../test/support/shared-data.js";
import { DicomError } from "./errors.js";
import { readDicomFile } from "./parse.js";
import { decodeStoredPixels, decodeStoredPixelsMany, mapConcurrent } from "./pixels.js";

// Different codecs and frame sizes interleaved, so that reused decoder instances see size changes.
const FILES = [
  "693_J2KI.dcm",
  "MR_small_jp2klossless.dcm",
  "JPEG2000.dcm",
  "MR_small_jpeg_ls_lossless.dcm",
  "SC_rgb_gdcm_KY.dcm",
  "JPGExtended.dcm",
  "SC_rgb_jpeg_dcmtk.dcm",
  "MR_small_RLE.dcm",
  "CT_small.dcm",
];

describe("decodeStoredPixelsMany", () => {
  it("gives each file the values decodeStoredPixels gives it alone, in input order", async () => {
    const parsed = FILES.map((f) => readDicomFile(sharedData("dicom", "pydicom", f)));
    const together = await decodeStoredPixelsMany(parsed);
    assert.equal(together.length, FILES.length);
    for (const [i, p] of parsed.entries()) {
      const alone = await decodeStoredPixels(p);
      const got = together[i];
      assert.ok(got, FILES[i]);
      assert.deepEqual(got.shape, alone.shape, FILES[i]);
      assert.equal(got.dtype, alone.dtype, FILES[i]);
      assert.deepEqual(got.data, alone.data, FILES[i]);
    }
  });

  it("rejects with the DicomError of a bad file", async () => {
    const good = readDicomFile(sharedData("dicom", "pydicom", "693_J2KI.dcm"));
    const bad = readDicomFile(sharedData("dicom", "pydicom", "JPEG2000-embedded-sequence-delimiter.dcm"));
    await assert.rejects(
      decodeStoredPixelsMany([good, bad, good]),
      (e: unknown) => e instanceof DicomError && e.code === "DICOM_DECODE",
    );
  });
});

describe("damaged frames after good ones", () => {
  it("a corrupt JPEG 2000 frame never returns the previous frame's pixels", async () => {
    const good = readDicomFile(sharedData("dicom", "pydicom", "693_J2KI.dcm"));
    const bad = readDicomFile(sharedData("dicom", "pydicom", "JPEG2000-embedded-sequence-delimiter.dcm"));
    // Several rounds so that both codec workers decode a good frame right before the bad one.
    const others = ["JPEG2000.dcm", "MR_small_jp2klossless.dcm"].map((f) =>
      readDicomFile(sharedData("dicom", "pydicom", f)),
    );
    for (let round = 0; round < 4; round++) {
      await decodeStoredPixels(good);
      for (const o of others) await decodeStoredPixels(o);
      await assert.rejects(
        decodeStoredPixels(bad),
        (e: unknown) => e instanceof DicomError && e.code === "DICOM_DECODE",
      );
    }
  });
});

describe("mapConcurrent", () => {
  it("keeps at most `limit` calls pending and returns results in input order", async () => {
    let pending = 0;
    let peak = 0;
    const out = await mapConcurrent([5, 1, 4, 2, 3, 0, 6], 3, async (ms, i) => {
      pending++;
      peak = Math.max(peak, pending);
      await new Promise((r) => setTimeout(r, ms));
      pending--;
      return i * 10;
    });
    assert.deepEqual(out, [0, 10, 20, 30, 40, 50, 60]);
    assert.equal(peak, 3);
  });

  it("starts nothing new after a failure and rejects once the calls in flight settle", async () => {
    const started: number[] = [];
    let settled = 0;
    await assert.rejects(
      mapConcurrent([0, 1, 2, 3, 4, 5], 2, async (i) => {
        started.push(i);
        await new Promise((r) => setTimeout(r, i === 1 ? 1 : 20));
        settled++;
        if (i === 1) throw new DicomError("DICOM_DECODE", "frame 1 is damaged");
        return i;
      }),
      /frame 1 is damaged/,
    );
    assert.deepEqual(started, [0, 1]);
    assert.equal(settled, 2);
  });
});
