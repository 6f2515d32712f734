/** The heatmap Secondary Capture passes dicom3tools' dciodvfy with no Error, and keeps its derived labelling. */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { dciodvfyErrors } from "../../test/support/dciodvfy.js";
import { sharedData } from "../../test/support/shared-data.js";
import { createImage } from "../core/image.js";
import type { Heatmap } from "../explain/heatmap.js";
import { parseDicom } from "../io/dicom/parse.js";
import { readSourceImageRef } from "../radiology-reports/sr.js";
import { buildHeatmapSC } from "./secondary-capture.js";

const dir = mkdtempSync(join(tmpdir(), "rl-sc-"));
after(() => rmSync(dir, { recursive: true, force: true }));

function heatmapSC(file: string, model = { name: "seed-cnn-with-a-long-model-name", version: "10.20.30" }) {
  const rows = 64;
  const cols = 64;
  const display = createImage(
    Float32Array.from({ length: rows * cols }, (_, i) => (i % cols) / cols),
    [rows, cols, 1],
  );
  const heat: Heatmap = {
    data: Float32Array.from({ length: rows * cols }, (_, i) => Math.floor(i / cols) / rows),
    rows,
    cols,
    classIndex: 1,
    layer: "conv3",
    method: "gradcam",
    score: 0.9,
  };
  const src = readSourceImageRef(new Uint8Array(readFileSync(sharedData("dicom", "pydicom", file))));
  return buildHeatmapSC(display, heat, src, model, new Date(Date.UTC(2026, 0, 2, 3, 4, 5)));
}

describe("heatmap Secondary Capture", () => {
  for (const source of ["CT_small.dcm", "MR_small.dcm"]) {
    it(`has no dciodvfy Error (source ${source})`, () => {
      const path = join(dir, `sc-${source}`);
      const bytes = heatmapSC(source);
      writeFileSync(path, bytes);
      const { errors, output } = dciodvfyErrors(path);
      assert.match(output, /SCImage/);
      assert.deepEqual(errors, [], output);
      const ds = parseDicom(bytes, { tolerate: false }).dataset;
      // LO holds at most 64 characters (PS3.5 6.2); the description still says what the image is.
      const description = ds.string("SeriesDescription") ?? "";
      assert.ok(description.length <= 64, description);
      assert.match(description, /^DERIVED/);
      assert.deepEqual(ds.strings("ImageType")?.slice(0, 2), ["DERIVED", "SECONDARY"]);
      assert.equal(ds.string("BurnedInAnnotation"), "YES");
      // Type 2C attributes present (empty): Laterality (0020,0060), Patient Orientation (0020,0020).
      assert.ok(ds.has("Laterality") && ds.has("PatientOrientation"));
    });
  }
});
