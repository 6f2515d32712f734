/** TID 1500 Measurement Report, Parametric Map and segment measurements: conformant to dciodvfy, dsrdump and PixelMed's TID 1500 validator; measurements on known shapes. */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { dciodvfyErrors } from "../../test/support/dciodvfy.js";
import { pixelmedSrErrors } from "../../test/support/pixelmed.js";
import { sharedData } from "../../test/support/shared-data.js";
import { ctSeries, ellipsoidLabels } from "../../test/support/synthetic-ct.js";
import { isRadioLensError } from "../core/errors.js";
import { parseDicom } from "../io/dicom/index.js";
import { CODES } from "./codes.js";
import { writeMeasurementReport } from "./measurement-report.js";
import { segmentMeasurements } from "./measurements.js";
import { PARAMETRIC_MAP_SOP_CLASS, writeParametricMap } from "./parametric-map.js";
import { writeSegmentation } from "./seg.js";
import { type SourceSeries, sourceSeriesOf } from "./source.js";

const dir = mkdtempSync(join(tmpdir(), "rl-tid1500-"));
after(() => rmSync(dir, { recursive: true, force: true }));
const algorithm = { name: "unet-test", version: "3.0.0" };

function save(bytes: Uint8Array, name: string): string {
  const path = join(dir, name);
  writeFileSync(path, bytes);
  return path;
}

describe("segment measurements", () => {
  it("measure a 10 × 10 square on three slices exactly", () => {
    const series: SourceSeries = {
      StudyInstanceUID: "2.25.1",
      SeriesInstanceUID: "2.25.2",
      Rows: 20,
      Columns: 20,
      PixelSpacing: [0.5, 0.5],
      SliceSpacing: 2,
      images: [1, 2, 3].map((i) => ({
        SOPClassUID: "1.2.840.10008.5.1.4.1.1.2",
        SOPInstanceUID: `2.25.2.${i}`,
      })),
    };
    const labels = new Uint8Array(3 * 400);
    for (let z = 0; z < 3; z++)
      for (let y = 5; y < 15; y++) for (let x = 3; x < 13; x++) labels[z * 400 + y * 20 + x] = 1;
    const [m] = segmentMeasurements(labels, series, [1]);
    assert.equal(m?.voxels, 300);
    assert.equal(m?.volumeMm3, 300 * 0.25 * 2);
    assert.equal(m?.areaMm2, 25);
    assert.ok(Math.abs((m?.longAxisMm ?? 0) - 9 * 0.5 * Math.SQRT2) < 1e-9);
  });
});

describe("TID 1500 Measurement Report", () => {
  const { files } = ctSeries(7, 40, 9);
  const series = sourceSeriesOf(files.map((f) => parseDicom(f)));
  const labels = ellipsoidLabels(7, 40);
  const seg = parseDicom(
    writeSegmentation(labels, series, { algorithm, segments: [{ labelValue: 1, label: "Organ" }] }),
  ).dataset;
  const images = series.images.map((i) => ({ ...i, SeriesInstanceUID: series.SeriesInstanceUID }));
  const classification = [
    {
      label: "pneumonia",
      probability: 0.73,
      calibrated: true,
      finding: { CodeValue: "233604007", CodingSchemeDesignator: "SCT", CodeMeaning: "Pneumonia" },
    },
    {
      label: "other",
      probability: 0.27,
      finding: { CodeValue: "other", CodingSchemeDesignator: "99RADIOLENS", CodeMeaning: "other" },
    },
  ];
  const segmentation = {
    seg: {
      SOPInstanceUID: seg.uid("SOPInstanceUID") as string,
      SeriesInstanceUID: seg.uid("SeriesInstanceUID") as string,
    },
    sourceSeriesInstanceUID: series.SeriesInstanceUID,
    segments: segmentMeasurements(labels, series, [1]).map((measurement) => ({
      segmentNumber: 1,
      label: "Organ",
      type: CODES.anatomicalStructure,
      measurement,
    })),
  };
  const sr = writeMeasurementReport({ algorithm, study: series, images, classification, segmentation });
  const path = save(sr, "sr.dcm");

  it("passes dciodvfy without Error and dsrdump reads the template's tree", () => {
    const r = dciodvfyErrors(path);
    assert.deepEqual(r.errors, [], r.output);
    const dump = spawnSync("dsrdump", ["-Ei", path], { encoding: "utf8" });
    assert.equal(dump.status, 0, dump.stderr);
    for (const want of [
      "Imaging Measurement Report",
      "Image Library",
      "Measurement Group",
      "Referenced Segment",
      "Volume",
      "Long Axis",
      "Probability",
      "Measurement Method",
    ]) {
      assert.ok(dump.stdout.includes(want), want);
    }
  });

  it("names the algorithm in Contributing Equipment and references the images and the SEG as evidence", () => {
    const ds = parseDicom(sr).dataset;
    const eq = ds.items("ContributingEquipmentSequence")[0];
    assert.equal(eq?.string("ManufacturerModelName"), "unet-test");
    assert.equal(eq?.string("SoftwareVersions"), "3.0.0");
    assert.equal(eq?.items("PurposeOfReferenceCodeSequence")[0]?.string("CodeValue"), "109102");
    const refs = ds
      .items("CurrentRequestedProcedureEvidenceSequence")[0]
      ?.items("ReferencedSeriesSequence")
      .flatMap((s) => s.items("ReferencedSOPSequence").map((r) => r.uid("ReferencedSOPInstanceUID")));
    assert.equal(refs?.length, 7 + 1);
    assert.ok(refs?.includes(seg.uid("SOPInstanceUID")));
    assert.equal(
      ds.items("CodingSchemeIdentificationSequence")[0]?.string("CodingSchemeDesignator"),
      "99RADIOLENS",
    );
  });

  it("passes PixelMed's DicomSRValidator (IOD and root template TID 1500) without Error, classifier and segmenter reports", async () => {
    // PixelMed reads every group of a report that also holds TID 1411 groups as TID 1411, so each kind of
    // report is validated alone, as the service writes them (one model, one kind of result).
    const classifierOnly = save(
      writeMeasurementReport({
        algorithm,
        study: series,
        images,
        classification: classification.slice(0, 1),
      }),
      "sr-classifier.dcm",
    );
    const segmenterOnly = save(
      writeMeasurementReport({ algorithm, study: series, images, segmentation }),
      "sr-segmenter.dcm",
    );
    const results = await Promise.all([pixelmedSrErrors(classifierOnly), pixelmedSrErrors(segmenterOnly)]);
    for (const r of results) {
      assert.match(r.output, /Found Root Template TID_1500/);
      assert.deepEqual(r.errors, [], r.output);
    }
  });

  it("refuses a report without results", () => {
    assert.throws(
      () => writeMeasurementReport({ algorithm, study: series, images }),
      (e: unknown) => isRadioLensError(e, "RL_ERR_RESULT_INVALID"),
    );
  });
});

describe("Parametric Map", () => {
  it("keeps the float values exactly and passes dciodvfy, for a CT slice and a projection image without geometry", () => {
    for (const file of ["CT_small.dcm", "SC_rgb_dcmtk_+eb+cr.dcm"]) {
      const src = sourceSeriesOf([
        parseDicom(new Uint8Array(readFileSync(sharedData("dicom", "pydicom", file)))),
      ]);
      const values = Float32Array.from({ length: src.Rows * src.Columns }, (_, i) => Math.sin(i / 97) ** 2);
      const bytes = writeParametricMap(values, src, { algorithm, description: "Grad-CAM, class pneumonia" });
      const r = dciodvfyErrors(save(bytes, `pm-${file}`));
      assert.deepEqual(r.errors, [], r.output);
      const ds = parseDicom(bytes).dataset;
      assert.equal(ds.uid("SOPClassUID"), PARAMETRIC_MAP_SOP_CLASS);
      const raw = ds.get(0x7fe00008)?.value as Uint8Array;
      const back = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
      assert.deepEqual(back, values);
    }
  });
});
