/** Cross-checks the SR code table against the DICOM code tables shipped by dcmtk (dcm.h) and pydicom (PS3.16 CIDs). */
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { describe, it } from "node:test";
import codes from "./data/sr-codes.json" with { type: "json" };

interface Code {
  value: string;
  scheme: string;
  meaning: string;
  source: string;
}

const all: Code[] = [
  ...Object.entries(codes)
    .filter(([k]) => k !== "findings" && k !== "description")
    .map(([, v]) => v as Code),
  ...Object.values(codes.findings as Record<string, Code>),
];
const DCMTK_DCM = "/usr/include/dcmtk/dcmsr/codes/dcm.h";
const PYDICOM_CONCEPTS = "/usr/lib/python3/dist-packages/pydicom/sr/_concepts_dict.py";

describe("SR code table", () => {
  it("has well-formed entries for every finding", () => {
    assert.equal(Object.keys(codes.findings).length, 14);
    for (const c of all) {
      assert.ok(c.value && c.meaning && c.source, JSON.stringify(c));
      assert.ok(["DCM", "SCT", "LN", "UCUM"].includes(c.scheme), c.scheme);
      if (c.scheme === "SCT") assert.match(c.value, /^[1-9][0-9]{5,17}$/);
      if (c.scheme === "LN") assert.match(c.value, /^[0-9]+-[0-9]$/);
    }
  });

  it("matches dcmtk's DCM lexicon (code value and meaning)", (t) => {
    if (!existsSync(DCMTK_DCM)) {
      t.skip(`${DCMTK_DCM} not present (Debian libdcmtk-dev)`);
      return;
    }
    const header = readFileSync(DCMTK_DCM, "utf8");
    for (const c of all.filter((x) => x.scheme === "DCM")) {
      const m = new RegExp(
        `#define (CODE_DCM_\\w+)\\s+DSRBasicCodedEntry\\("${c.value}", "DCM", "([^"]+)"\\)`,
      ).exec(header);
      assert.ok(m, `DCM ${c.value} not in dcmtk's table`);
      assert.equal(m[2], c.meaning, `DCM ${c.value}`);
      assert.doesNotMatch(m[1] ?? "", /RETIRED/, `DCM ${c.value} is retired`);
    }
  });

  it("matches pydicom's PS3.16 concept table for codes taken from a CID", (t) => {
    if (!existsSync(PYDICOM_CONCEPTS)) {
      t.skip(`${PYDICOM_CONCEPTS} not present (Debian python3-pydicom)`);
      return;
    }
    const table = readFileSync(PYDICOM_CONCEPTS, "utf8");
    const fromCid = all.filter((c) => c.source.startsWith("PS3.16 CID") && c.scheme !== "DCM");
    assert.ok(fromCid.length >= 9);
    for (const c of fromCid) {
      assert.ok(table.includes(`'${c.value}': ('${c.meaning}'`), `${c.scheme} ${c.value} ${c.meaning}`);
    }
  });
});
