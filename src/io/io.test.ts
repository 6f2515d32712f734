/** Tests the reader registry: DICOM (from a Node Buffer), NIfTI, PNG and JPEG are chosen by content, not by name. */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { sharedData } from "../../test/support/shared-data.js";
import { IMAGE_READERS, readImage } from "./index.js";

test("readImage picks the reader by magic bytes for DICOM, NIfTI, PNG and JPEG", async () => {
  assert.deepEqual(
    IMAGE_READERS.map((r) => r.name),
    ["png", "jpeg", "dicom", "nifti"],
  );
  // A Buffer from readFileSync, as servers and CLIs hand it over.
  const ct = readFileSync(sharedData("dicom/pydicom/CT_small.dcm"));
  const hu = await readImage(ct);
  assert.deepEqual(hu.shape, [128, 128, 1]);
  assert.equal(hu.meta["format"], "dicom");
  assert.equal(hu.meta["units"], "HU");
  assert.ok(hu.data instanceof Float32Array);
  const display = await readImage(ct, { dicom: "display" });
  assert.ok(display.data instanceof Uint8Array);
  assert.ok(display.meta["voi"]);
  const nii = await readImage(sharedData("nifti/niivue/lesion.nii.gz"));
  assert.deepEqual(nii.shape, [140, 160, 124, 1]);
  const jpg = await readImage(sharedData("xray/COVID-00003a.jpg"));
  assert.equal(jpg.meta["format"], "jpeg");
});
