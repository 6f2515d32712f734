/** Tests that the generated profile table is the PS3.15 2025a Table E.1-1 with its option columns, and that no row of the older snapshot was lost. */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { REPO_ROOT, sharedData } from "../../test/support/shared-data.js";
import { parseDicom, writeDicom } from "../io/dicom/index.js";
import { deidentifyBytes } from "./apply-profile.js";
import type { DeidOptions } from "./options.js";
import { chooseAction, findRule } from "./profile.js";
import { PROFILE_EDITION_CHANGES, PROFILE_ROWS, PROFILE_SOURCE } from "./profile-table.js";
import type { ProfileRowData } from "./profile-types.js";

const row = (tag: string): ProfileRowData | undefined => PROFILE_ROWS.find((r) => r[0] === tag);

/** Tags of a snapshot file (`GGGG,EEEE|name|...` lines) as GGGGEEEE. */
function snapshotTags(file: string): string[] {
  return readFileSync(join(REPO_ROOT, "scripts", file), "utf8")
    .split("\n")
    .filter((l) => l !== "" && !l.startsWith("#"))
    .map((l) => (l.split("|")[0] ?? "").replace(",", ""));
}

describe("PS3.15 2025a Table E.1-1", () => {
  it("has all 631 rows of the 2025a edition and cites it", () => {
    assert.equal(PROFILE_ROWS.length, 631);
    assert.equal(new Set(PROFILE_ROWS.map((r) => r[0])).size, 631);
    assert.match(PROFILE_SOURCE, /^DICOM PS3\.15 2025a Table E\.1-1 \(631 rows\)/);
    assert.match(PROFILE_SOURCE, /studiome\/DICOMKit .* f9036082a3e2d0d3700a2790ab6c2772e9cf782d/);
    const byBasic = new Map<string, number>();
    for (const r of PROFILE_ROWS) byBasic.set(r[3], (byBasic.get(r[3]) ?? 0) + 1);
    assert.deepEqual(Object.fromEntries([...byBasic].sort()), {
      D: 92,
      U: 55,
      X: 393,
      "X/D": 22,
      "X/Z": 11,
      "X/Z/D": 8,
      "X/Z/U*": 2,
      Z: 42,
      "Z/D": 6,
    });
  });

  it("keeps every row of the 2021-2022 snapshot (nothing lost in the merge)", () => {
    const tags = new Set(PROFILE_ROWS.map((r) => r[0]));
    const previous = snapshotTags("gen-deid-profile.source.tsv");
    assert.equal(previous.length, 460);
    assert.deepEqual(
      previous.filter((t) => !tags.has(t)),
      [],
    );
  });

  it("has the 2025a rows the older snapshot lacked, with their option columns", () => {
    assert.deepEqual(row("00080054"), ["00080054", "Retrieve AE Title", false, "X", { V: "C" }]);
    assert.deepEqual(row("00080017"), ["00080017", "Acquisition UID", false, "U", { U: "K" }]);
    assert.deepEqual(row("00081304"), [
      "00081304",
      "Histological Diagnoses Code Sequence",
      false,
      "X",
      { D: "C" },
    ]);
    assert.deepEqual(row("0014407C"), [
      "0014407C",
      "Calibration Time",
      false,
      "X",
      { F: "K", M: "C", V: "K" },
    ]);
    assert.deepEqual(row("0072005F"), ["0072005F", "Selector AS Value", false, "D", { P: "K" }]);
    assert.deepEqual(row("04000564"), ["04000564", "Source of Previous Values", false, "Z", { I: "K" }]);
    assert.deepEqual(row("00102161"), ["00102161", "Ethnic Group Code Sequence", false, "X", { P: "K" }]);
    assert.deepEqual(row("3006004D"), ["3006004D", "ROI Creator Sequence", false, "X", {}]);
  });

  it("keeps the rows both editions share, with the 2025a actions where they changed", () => {
    assert.deepEqual(row("00100020"), ["00100020", "Patient ID", true, "Z/D", {}]);
    assert.deepEqual(row("00081140"), ["00081140", "Referenced Image Sequence", true, "X/Z/U*", { U: "K" }]);
    assert.deepEqual(row("00181002"), ["00181002", "Device UID", true, "U", { U: "K", V: "K" }]);
    assert.deepEqual(row("00102110"), ["00102110", "Allergies", false, "X", { P: "C", D: "C" }]);
    assert.deepEqual(row("0040A730"), ["0040A730", "Content Sequence", true, "D", { T: "C" }]);
    assert.deepEqual(row("300A00B2"), ["300A00B2", "Treatment Machine Name", true, "X/Z", { V: "K" }]);
    assert.deepEqual(row("60XX3000"), ["60XX3000", "Overlay Data", true, "X", { G: "C" }]);
    assert.deepEqual(row("GGGGEEEE"), ["GGGGEEEE", "Private attributes (GGGG odd)", false, "X", { S: "C" }]);
    assert.equal(PROFILE_EDITION_CHANGES.length, 9);
    assert.deepEqual(
      PROFILE_EDITION_CHANGES.find((c) => c[0] === "00100020"),
      ["00100020", "Patient ID", "Z", "Z/D"],
    );
    assert.deepEqual(
      PROFILE_EDITION_CHANGES.find((c) => c[0] === "00400001"),
      ["00400001", "Scheduled Station AE Title", "X V=K", "X V=C"],
    );
  });

  it("applies the 2025a rows: Station AE Title is the standard's row now, cleaned under Retain Device Identity", () => {
    const station = findRule(0x00080055);
    assert.ok(station);
    assert.equal(station.source, "E.1-1");
    assert.equal(chooseAction(station, {}), "X");
    assert.equal(chooseAction(station, { retainDeviceIdentity: true }), "C");
    const calibration = findRule(0x0014407c);
    assert.ok(calibration);
    assert.equal(chooseAction(calibration, {}), "X");
    assert.equal(chooseAction(calibration, { retainLongitudinalModifiedDates: true }), "C");
    assert.equal(chooseAction(calibration, { retainDeviceIdentity: true }), "K");
    assert.equal(findRule(0x00100033)?.source, "RadioLens");
  });

  it("de-identifies attributes that only the 2025a rows name, as those rows say", () => {
    const secret = new Uint8Array(Buffer.from("profile-2025a-test-secret-0123456789"));
    const run = (options: DeidOptions) => {
      const parsed = parseDicom(new Uint8Array(readFileSync(sharedData("dicom/pydicom/CT_small.dcm"))));
      parsed.dataset.setString(0x00181012, "20240102", "DA"); // Date of Secondary Capture: X, Full Dates K
      parsed.dataset.setString(0x00181204, "20190304", "DA"); // Date of Manufacture: X, Device Id. K
      parsed.dataset.setString(0x00080054, "RETRIEVEAE7", "AE"); // Retrieve AE Title: X, Device Id. C
      parsed.dataset.setString(0x00120022, "ISSUER-4471", "LO"); // Issuer of Clinical Trial Protocol ID: X
      const r = deidentifyBytes(writeDicom(parsed), { secret, options });
      assert.equal(r.status, "written");
      return parseDicom(r.bytes as Uint8Array).dataset;
    };
    const basic = run({});
    for (const tag of [0x00181012, 0x00181204, 0x00080054, 0x00120022]) assert.equal(basic.has(tag), false);
    const full = run({ retainLongitudinalFullDates: true, retainDeviceIdentity: true });
    assert.equal(full.string(0x00181012), "20240102");
    assert.equal(full.string(0x00181204), "20190304");
    assert.equal(full.has(0x00120022), false);
  });
});
