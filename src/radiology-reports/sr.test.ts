/** Tests for the DICOM Comprehensive SR writer: structure, references, and validation by dcmtk dsrdump/dsr2html. */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { sharedData } from "../../test/support/shared-data.js";
import { generateReport, type ModelPrediction } from "./generate.js";
import {
  buildComprehensiveSR,
  COMPREHENSIVE_SR_SOP_CLASS,
  readSourceImageRef,
  type SourceImageRef,
  writeComprehensiveSR,
} from "./sr.js";

const source: SourceImageRef = {
  SOPClassUID: "1.2.840.10008.5.1.4.1.1.1.1",
  SOPInstanceUID: "2.25.1001",
  StudyInstanceUID: "2.25.1002",
  SeriesInstanceUID: "2.25.1003",
  PatientID: "SYNTH-001",
  PatientName: "Synthetic^Patient",
  StudyDate: "20240101",
  StudyTime: "120000",
  StudyID: "1",
};
const prediction: ModelPrediction = {
  model: { name: "densenet121-cxr14", version: "2.1.0" },
  labels: ["Effusion", "Cardiomegaly", "Nodule"],
  probabilities: [0.93, 0.71, 0.1],
  regions: [{ label: "Effusion", box: { x: 10, y: 20, width: 30, height: 40 } }],
};
const opts = {
  now: new Date(Date.UTC(2024, 0, 2, 3, 4, 5)),
  SOPInstanceUID: "2.25.2001",
  SeriesInstanceUID: "2.25.2002",
  DeviceObserverUID: "2.25.2003",
};
const dir = mkdtempSync(join(tmpdir(), "rl-sr-"));
after(() => rmSync(dir, { recursive: true, force: true }));

function dcmtk(tool: string, args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(tool, args, { encoding: "utf8" });
  if (r.error) assert.fail(`${tool} is required for this test (apt-get install dcmtk): ${r.error.message}`);
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe("Comprehensive SR", () => {
  it("builds the document tree with coded concepts and the image reference", () => {
    const ds = buildComprehensiveSR(generateReport(prediction), source, opts);
    assert.equal(ds["SOPClassUID"], COMPREHENSIVE_SR_SOP_CLASS);
    assert.equal(ds["Modality"], "SR");
    assert.equal(ds["StudyInstanceUID"], source.StudyInstanceUID);
    assert.equal(ds["VerificationFlag"], "UNVERIFIED");
    const evidence = JSON.stringify(ds["CurrentRequestedProcedureEvidenceSequence"]);
    assert.match(evidence, /2\.25\.1003/);
    assert.match(evidence, /2\.25\.1001/);
    const content = JSON.stringify(ds["ContentSequence"]);
    assert.match(content, /"CodeValue":"60046008","CodingSchemeDesignator":"SCT"/);
    assert.match(content, /"CodeValue":"59776-5","CodingSchemeDesignator":"LN"/);
    assert.match(content, /"GraphicData":\[10,20,40,20,40,60,10,60,10,20\]/);
    assert.throws(
      () => buildComprehensiveSR(generateReport(prediction), { ...source, SOPInstanceUID: "x.1" }),
      {
        code: "RL_ERR_SR_SOURCE_INVALID",
      },
    );
  });

  for (const lang of ["en", "zh"] as const) {
    it(`passes dsrdump and renders with dsr2html (${lang})`, () => {
      const path = join(dir, `report-${lang}.dcm`);
      writeFileSync(path, writeComprehensiveSR(generateReport(prediction, lang), source, opts));
      const dump = dcmtk("dsrdump", ["-Ec", path]);
      assert.equal(dump.status, 0, dump.stderr);
      assert.doesNotMatch(dump.stderr, /^E:/m);
      assert.match(dump.stdout, /Comprehensive SR Document/);
      assert.match(dump.stdout, /\(60046008,SCT,"Pleural effusion"\)/);
      assert.match(dump.stdout, /<selected from IMAGE:/);
      const html = join(dir, `report-${lang}.html`);
      const render = dcmtk("dsr2html", [path, html]);
      assert.equal(render.status, 0, render.stderr);
      assert.doesNotMatch(render.stderr, /^E:/m);
      const page = readFileSync(html, "utf8");
      assert.match(page, lang === "en" ? /Pleural effusion/ : /胸腔积液/);
    });
  }

  it("has no IOD errors or warnings under dicom3tools dciodvfy", () => {
    // dciodvfy must be installed (scripts/setup.sh installs dicom3tools): a missing tool fails, never skips.
    const probe = spawnSync("dciodvfy", ["-help"], { encoding: "utf8" });
    assert.ok(!probe.error, "dciodvfy (Debian dicom3tools) is not installed: run scripts/setup.sh");
    const path = join(dir, "report-iod.dcm");
    writeFileSync(path, writeComprehensiveSR(generateReport(prediction, "zh"), source, opts));
    const r = spawnSync("dciodvfy", [path], { encoding: "utf8" });
    const text = `${r.stdout}${r.stderr}`;
    assert.match(text, /ComprehensiveSR/);
    assert.doesNotMatch(text, /^(Error|Warning)/m, text);
  });

  it("is read back by dcmjs with the same content", () => {
    const bytes = writeComprehensiveSR(generateReport(prediction), source, opts);
    const require = createRequire(import.meta.url);
    const { data } = require("dcmjs") as {
      data: {
        DicomMessage: { readFile(b: ArrayBuffer): { dict: Record<string, unknown> } };
        DicomMetaDictionary: { naturalizeDataset(d: Record<string, unknown>): Record<string, unknown> };
      };
    };
    const ab = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
    const ds = data.DicomMetaDictionary.naturalizeDataset(data.DicomMessage.readFile(ab).dict);
    assert.equal(ds["SOPInstanceUID"], opts.SOPInstanceUID);
    assert.equal(ds["ContentDate"], "20240102");
  });

  it("reads the source reference from a DICOM file", () => {
    const ref = readSourceImageRef(readFileSync(sharedData("dicom/pydicom/CT_small.dcm")));
    assert.equal(ref.SOPClassUID, "1.2.840.10008.5.1.4.1.1.2");
    assert.match(ref.StudyInstanceUID, /^[0-9.]+$/);
    assert.throws(
      () => readSourceImageRef(new Uint8Array([1, 2, 3])),
      (e: Error & { code?: string }) => ["RL_ERR_DICOM", "RL_ERR_SR_SOURCE_INVALID"].includes(e.code ?? ""),
    );
  });
});
