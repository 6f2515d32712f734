/** DICOM Segmentation writer: frames decoded by pydicom reproduce the mask exactly, and every variant passes dciodvfy. */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { dciodvfyErrors } from "../../test/support/dciodvfy.js";
import { pydicomSegCheck } from "../../test/support/seg-check.js";
import { sharedData } from "../../test/support/shared-data.js";
import { ctSeries, ellipsoidLabels } from "../../test/support/synthetic-ct.js";
import { isRadioLensError } from "../core/errors.js";
import { parseDicom } from "../io/dicom/index.js";
import { CODES } from "./codes.js";
import { SEGMENTATION_SOP_CLASS, writeSegmentation } from "./seg.js";
import { sourceSeriesOf } from "./source.js";

const dir = mkdtempSync(join(tmpdir(), "rl-seg-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const SLICES = 9;
const SIZE = 48;
const { files } = ctSeries(SLICES, SIZE, 3);
const series = sourceSeriesOf(files.map((f) => parseDicom(f)));
const labels = ellipsoidLabels(SLICES, SIZE);
const algorithm = { name: "unet-test", version: "2.1.0" };
const segments = [
  { labelValue: 1, label: "Organ" },
  { labelValue: 2, label: "Lesion", category: CODES.morphologicallyAlteredStructure, type: CODES.lesion },
];

function dciodvfyClean(bytes: Uint8Array, name: string): void {
  const path = join(dir, name);
  writeFileSync(path, bytes);
  const r = dciodvfyErrors(path);
  assert.deepEqual(r.errors, [], r.output);
}

describe("DICOM Segmentation", () => {
  it("orders the source slices along the normal whatever the arrival order", () => {
    const z = series.images.map((i) => i.ImagePositionPatient?.[2] ?? Number.NaN);
    assert.deepEqual(
      z,
      [...z].sort((a, b) => a - b),
    );
    assert.equal(series.images.length, SLICES);
    assert.deepEqual(series.PixelSpacing, [0.7, 0.7]);
    assert.equal(series.SliceSpacing, 2.5);
  });

  it("binary: pydicom rebuilds the label volume exactly; dciodvfy has no Error", () => {
    const seg = writeSegmentation(labels, series, { algorithm, segments });
    const check = pydicomSegCheck(seg, series, [1, 2], labels);
    assert.ok(check.ok, check.problems.join("; "));
    assert.equal(check.type, "BINARY");
    // One frame per (segment, slice) where the segment is present.
    let expectedFrames = 0;
    for (const v of [1, 2]) {
      for (let z = 0; z < SLICES; z++) {
        if (labels.subarray(z * SIZE * SIZE, (z + 1) * SIZE * SIZE).includes(v)) expectedFrames++;
      }
    }
    assert.equal(check.frames, expectedFrames);
    dciodvfyClean(seg, "binary.dcm");
    const ds = parseDicom(seg).dataset;
    assert.equal(ds.uid("SOPClassUID"), SEGMENTATION_SOP_CLASS);
    assert.equal(ds.uid("FrameOfReferenceUID"), series.FrameOfReferenceUID);
    assert.equal(ds.uid("StudyInstanceUID"), series.StudyInstanceUID);
    const equipment = ds.items("ContributingEquipmentSequence")[0];
    assert.equal(equipment?.string("Manufacturer"), "RadioLens");
    assert.equal(equipment?.string("ManufacturerModelName"), "unet-test");
    assert.equal(equipment?.string("SoftwareVersions"), "2.1.0");
    assert.equal(equipment?.items("PurposeOfReferenceCodeSequence")[0]?.string("CodeValue"), "109102");
  });

  it("a wrong mask is detected (the check can fail)", () => {
    const seg = writeSegmentation(labels, series, { algorithm, segments });
    const other = labels.slice();
    other[(4 * SIZE + 24) * SIZE + 24] = 0;
    const check = pydicomSegCheck(seg, series, [1, 2], other);
    assert.equal(check.ok, false);
    assert.equal(check.mismatches, 1);
  });

  it("fractional: pydicom reads the quantized probabilities exactly; dciodvfy has no Error", () => {
    const probs = [
      Float32Array.from(labels, (v, i) => (v === 1 ? 0.6 + (i % 7) / 20 : (i % 11) / 40)),
      Float32Array.from(labels, (v) => (v === 2 ? 0.93 : 0)),
    ];
    const seg = writeSegmentation(labels, series, {
      algorithm,
      segments,
      type: "FRACTIONAL",
      probabilities: probs,
    });
    const expected = new Uint8Array(2 * labels.length);
    probs.forEach((p, s) => {
      p.forEach((v, i) => {
        expected[s * labels.length + i] = Math.round(Math.min(1, Math.max(0, v)) * 255);
      });
    });
    const check = pydicomSegCheck(seg, series, [1, 2], expected);
    assert.ok(check.ok, check.problems.join("; "));
    assert.equal(check.type, "FRACTIONAL");
    dciodvfyClean(seg, "fractional.dcm");
  });

  it("a single slice gives a conformant one-frame SEG", () => {
    const bytes = new Uint8Array(readFileSync(sharedData("dicom", "pydicom", "CT_small.dcm")));
    const one = sourceSeriesOf([parseDicom(bytes)]);
    const mask = new Uint8Array(one.Rows * one.Columns).map((_, i) =>
      i % one.Columns > 40 && i % 3 ? 1 : 0,
    );
    const seg = writeSegmentation(mask, one, { algorithm, segments: [segments[0] as (typeof segments)[0]] });
    assert.ok(pydicomSegCheck(seg, one, [1], mask).ok);
    dciodvfyClean(seg, "single.dcm");
  });

  it("refuses a label volume that does not match the series", () => {
    assert.throws(
      () => writeSegmentation(labels.subarray(1), series, { algorithm, segments }),
      (e: unknown) => isRadioLensError(e, "RL_ERR_SHAPE_MISMATCH"),
    );
    assert.throws(
      () => writeSegmentation(labels, series, { algorithm, segments, type: "FRACTIONAL" }),
      (e: unknown) => isRadioLensError(e, "RL_ERR_RESULT_INVALID"),
    );
  });
});
