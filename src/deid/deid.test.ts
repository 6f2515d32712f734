/** Unit tests of the profile table, option resolution, UID remapping, dates, cleaning, pseudonyms, quarantine and options on real files. */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { REPO_ROOT, sharedData } from "../../test/support/shared-data.js";
import { isRadioLensError } from "../core/errors.js";
import { DicomDataset, parseDicom, writeDicom } from "../io/dicom/index.js";
import { deidentifyBytes } from "./apply-profile.js";
import { cleanText, IdentifierSet } from "./clean.js";
import { capAge, dateShiftDays, shiftDA, shiftDT } from "./dates.js";
import { parseOptionNames } from "./options.js";
import { allRules, chooseAction, findRule, isSafePrivate, resolveCombination } from "./profile.js";
import { PROFILE_ROWS, SAFE_PRIVATE_ROWS } from "./profile-table.js";
import { pseudonymFor, readPseudonymTable, writePseudonymTable } from "./pseudonym.js";
import { assessBurnedIn, maskNativePixels } from "./quarantine.js";
import { remapUid } from "./uid.js";

const SECRET = new Uint8Array(Buffer.from("unit-test-secret-0123456789abcdef"));
const OTHER = new Uint8Array(Buffer.from("another-secret-0123456789abcdefgh"));
const ct = () => new Uint8Array(readFileSync(sharedData("dicom/pydicom/CT_small.dcm")));

describe("PS3.15 Table E.1-1 data", () => {
  it("has every row of the snapshot, unique tags, and the generated file is current", () => {
    assert.equal(PROFILE_ROWS.length, 631);
    assert.equal(new Set(PROFILE_ROWS.map((r) => r[0])).size, 631);
    assert.equal(allRules().filter((r) => r.source === "E.1-1").length, 631);
    assert.equal(allRules().filter((r) => r.source === "RadioLens").length, 10);
    assert.equal(SAFE_PRIVATE_ROWS.length, 130);
    const res = spawnSync(process.execPath, [join(REPO_ROOT, "scripts/gen-deid-profile.mjs"), "--check"], {
      encoding: "utf8",
    });
    assert.equal(res.status, 0, res.stderr);
  });

  it("finds exact, repeating-group and private rows", () => {
    assert.equal(findRule(0x00100010)?.basic, "Z");
    assert.equal(findRule(0x00080018)?.basic, "U");
    assert.equal(findRule(0x60023000)?.name, "Overlay Data");
    assert.equal(findRule(0x50101234)?.name, "Curve Data");
    assert.equal(findRule(0x00091001)?.tag, "GGGGEEEE");
    assert.equal(findRule(0x00280010), undefined);
    assert.equal(findRule(0x00100033)?.source, "RadioLens");
    assert.equal(findRule(0x00100010)?.source, "E.1-1");
  });

  it("resolves options over the Basic Profile and combinations conservatively", () => {
    const studyDate = findRule(0x00080020);
    assert.ok(studyDate);
    assert.equal(chooseAction(studyDate, {}), "Z");
    assert.equal(chooseAction(studyDate, { retainLongitudinalFullDates: true }), "K");
    assert.equal(chooseAction(studyDate, { retainLongitudinalModifiedDates: true }), "C");
    const allergies = findRule(0x00102110);
    assert.ok(allergies);
    assert.equal(
      chooseAction(allergies, { retainPatientCharacteristics: true, cleanDescriptors: true }),
      "C",
    );
    const refPatient = findRule(0x00081120);
    assert.ok(refPatient);
    assert.equal(chooseAction(refPatient, { retainUIDs: true }), "K");
    assert.equal(resolveCombination("X/Z/D"), "D");
    assert.equal(resolveCombination("X/Z"), "Z");
    assert.equal(resolveCombination("X/D"), "D");
    assert.equal(resolveCombination("Z/D"), "D");
    assert.equal(resolveCombination("X/Z/U*"), "U");
    assert.equal(resolveCombination("X"), "X");
  });

  it("knows Table E.3.10-1 safe private attributes by creator and element byte", () => {
    assert.ok(isSafePrivate(0x0019, "GEMS_ACQU_01", 0x23));
    assert.ok(isSafePrivate(0x7053, " Philips PET Private Group ", 0x00));
    assert.ok(!isSafePrivate(0x0019, "GEMS_ACQU_01", 0x22));
    assert.ok(!isSafePrivate(0x0019, "SOMEONE ELSE", 0x23));
  });

  it("parses CLI option names and refuses both longitudinal options", () => {
    assert.deepEqual(parseOptionNames(["retain-uids,clean-descriptors"]), {
      retainUIDs: true,
      cleanDescriptors: true,
    });
    assert.throws(
      () => parseOptionNames(["retain-full-dates", "retain-modified-dates"]),
      (e) => isRadioLensError(e, "RL_ERR_USAGE"),
    );
    assert.throws(
      () => parseOptionNames(["retain-everything"]),
      (e) => isRadioLensError(e, "RL_ERR_USAGE"),
    );
  });
});

describe("UID remapping, dates, ages, cleaning, pseudonyms", () => {
  it("maps a UID to a stable 2.25 UID that depends on the secret", () => {
    const a = remapUid(SECRET, "1.2.3.4.5");
    assert.match(a, /^2\.25\.[1-9]\d*$/);
    assert.ok(a.length <= 64);
    assert.equal(remapUid(SECRET, "1.2.3.4.5\0"), a);
    assert.notEqual(remapUid(OTHER, "1.2.3.4.5"), a);
    assert.notEqual(remapUid(SECRET, "1.2.3.4.6"), a);
  });

  it("shifts dates by one per-patient offset into the past", () => {
    const d = dateShiftDays(SECRET, "PAT1");
    assert.equal(dateShiftDays(SECRET, "PAT1"), d);
    assert.ok(d < 0 && d >= -3652);
    assert.notEqual(dateShiftDays(SECRET, "PAT2"), d);
    assert.equal(shiftDA("20040119", -10), "20040109");
    assert.equal(shiftDA("20040101-20040131", -1), "20031231-20040130");
    assert.equal(shiftDA("2004", -1), undefined);
    assert.equal(shiftDT("20040119123000.5+0100", 1), "20040120123000.5+0100");
    assert.equal(shiftDT("2004", 1), undefined);
  });

  it("caps ages above 89 years at 090Y", () => {
    assert.equal(capAge("093Y"), "090Y");
    assert.equal(capAge("089Y"), "089Y");
    assert.equal(capAge("045Y "), "045Y");
    assert.equal(capAge("006M"), "006M");
    assert.equal(capAge("1100M"), "090Y");
  });

  it("cleans descriptors of the instance's identifiers, dates and titled names", () => {
    const ids = new IdentifierSet();
    ids.add("Smith^Jane");
    ids.add("MRN123");
    assert.equal(cleanText("Chest CT for Jane Smith 2024-01-02 MRN123", ids), "Chest CT for");
    assert.equal(cleanText("CT chest abdomen pelvis - 55F Dr. Jones", ids), "CT chest abdomen pelvis - 55F");
    assert.equal(cleanText("T1 MPRAGE", ids), "T1 MPRAGE");
  });

  it("derives pseudonyms and stores the table encrypted", () => {
    const p = pseudonymFor(SECRET, "PAT1");
    assert.match(p, /^RL-[A-Z2-7]{16}$/);
    assert.notEqual(pseudonymFor(OTHER, "PAT1"), p);
    const dir = mkdtempSync(join(tmpdir(), "rl-pt-"));
    try {
      const path = join(dir, "t.json");
      writePseudonymTable(path, new Map([["PAT1", p]]), SECRET);
      const raw = readFileSync(path, "utf8");
      assert.ok(!raw.includes("PAT1") && !raw.includes(p), "table is encrypted");
      assert.equal(readPseudonymTable(path, SECRET).get("PAT1"), p);
      assert.throws(
        () => readPseudonymTable(path, OTHER),
        (e) => isRadioLensError(e, "RL_ERR_DEID_PSEUDONYM_TABLE"),
      );
      const tampered = JSON.parse(raw) as { ciphertext: string };
      tampered.ciphertext = Buffer.from("x".repeat(20)).toString("base64");
      writeFileSync(path, JSON.stringify(tampered));
      assert.throws(
        () => readPseudonymTable(path, SECRET),
        (e) => isRadioLensError(e, "RL_ERR_DEID_PSEUDONYM_TABLE"),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("burned-in text", () => {
  const facts = { imageType: ["ORIGINAL", "PRIMARY"], hasPixelData: true };
  it("flags BurnedInAnnotation YES, SECONDARY/SAVE image types and US/SC/OT", () => {
    assert.deepEqual(assessBurnedIn({ ...facts, modality: "CT" }, []).reasons, []);
    assert.deepEqual(assessBurnedIn({ ...facts, burnedInAnnotation: "YES" }, []).reasons, [
      "burned-in-annotation-yes",
    ]);
    assert.deepEqual(assessBurnedIn({ ...facts, imageType: ["DERIVED", "SECONDARY"] }, []).reasons, [
      "image-type-secondary",
    ]);
    assert.deepEqual(assessBurnedIn({ ...facts, imageType: ["ORIGINAL", "SAVE"] }, []).reasons, [
      "image-type-save",
    ]);
    assert.deepEqual(assessBurnedIn({ ...facts, modality: "US" }, []).reasons, ["modality-us"]);
    assert.deepEqual(assessBurnedIn({ ...facts, modality: "OT", hasPixelData: false }, []).reasons, []);
  });

  it("masks regions of native pixels in every frame and sample", () => {
    const px = new Uint8Array(2 * 4 * 4 * 2).fill(7);
    const layout = {
      rows: 4,
      columns: 4,
      samplesPerPixel: 1,
      bitsAllocated: 16,
      planarConfiguration: 0,
      frames: 2,
    };
    const m = maskNativePixels(px, layout, [{ x: 1, y: 0, width: 2, height: 1 }]);
    assert.ok(m);
    for (const f of [0, 32]) {
      assert.deepEqual([...m.subarray(f, f + 8)], [7, 7, 0, 0, 0, 0, 7, 7]);
      assert.ok(m.subarray(f + 8, f + 32).every((b) => b === 7));
    }
    assert.ok(
      px.every((b) => b === 7),
      "input untouched",
    );
  });

  it("quarantines a flagged instance unless a masking rule for its device and size applies", () => {
    const parsed = parseDicom(ct());
    parsed.dataset.setString(0x00280301, "YES", "CS");
    const input = writeDicom(parsed);
    const q = deidentifyBytes(input, { secret: SECRET });
    assert.equal(q.status, "quarantined");
    assert.equal(q.bytes, undefined);
    assert.deepEqual(q.quarantine, ["burned-in-annotation-yes"]);
    const rule = {
      name: "ge-ct",
      manufacturer: "GE MEDICAL SYSTEMS",
      model: "RHAPSODE",
      rows: 128,
      columns: 128,
      regions: [{ x: 0, y: 0, width: 128, height: 10 }],
    };
    const w = deidentifyBytes(input, { secret: SECRET, maskRules: [rule] });
    assert.equal(w.status, "written");
    assert.equal(w.maskRule, "ge-ct");
    const before = parsed.dataset.get(0x7fe00010)?.value as Uint8Array;
    const after = parseDicom(w.bytes as Uint8Array).dataset.get(0x7fe00010)?.value as Uint8Array;
    assert.ok(after.subarray(0, 128 * 10 * 2).every((b) => b === 0));
    assert.ok(Buffer.from(after.subarray(128 * 10 * 2)).equals(Buffer.from(before.subarray(128 * 10 * 2))));
    const other = deidentifyBytes(input, { secret: SECRET, maskRules: [{ ...rule, rows: 512 }] });
    assert.equal(other.status, "quarantined");
  });
});

describe("options on a real CT", () => {
  const run = (
    options: Parameters<typeof deidentifyBytes>[1]["options"],
    edit?: (ds: DicomDataset) => void,
  ) => {
    const parsed = parseDicom(ct());
    edit?.(parsed.dataset);
    const r = deidentifyBytes(writeDicom(parsed), { secret: SECRET, ...(options ? { options } : {}) });
    return { before: parsed.dataset, after: parseDicom(r.bytes as Uint8Array).dataset };
  };

  it("Basic Profile: identity removed, pseudonym consistent, marks and codes set, privates gone", () => {
    const { before, after } = run({});
    assert.equal(after.string("PatientID"), pseudonymFor(SECRET, before.string("PatientID") as string));
    assert.equal(after.string("PatientName"), after.string("PatientID"));
    assert.equal(after.string("StudyDate"), undefined);
    assert.equal(after.string("PatientIdentityRemoved"), "YES");
    assert.equal(after.string("LongitudinalTemporalInformationModified"), "REMOVED");
    assert.deepEqual(
      after.items("DeidentificationMethodCodeSequence").map((i) => i.string("CodeValue")),
      ["113100"],
    );
    assert.ok(![...after.elements.keys()].some((t) => (t >>> 16) & 1), "no private element left");
    assert.notEqual(after.uid("StudyInstanceUID"), before.uid("StudyInstanceUID"));
  });

  it("Retain Full Dates keeps dates; Modified Dates shifts them by the patient's offset", () => {
    const full = run({ retainLongitudinalFullDates: true });
    assert.equal(full.after.string("StudyDate"), full.before.string("StudyDate"));
    assert.equal(full.after.string("LongitudinalTemporalInformationModified"), "UNMODIFIED");
    const mod = run({ retainLongitudinalModifiedDates: true });
    const shift = dateShiftDays(SECRET, mod.before.string("PatientID") as string);
    assert.equal(mod.after.string("StudyDate"), shiftDA(mod.before.string("StudyDate") as string, shift));
    assert.equal(mod.after.string("LongitudinalTemporalInformationModified"), "MODIFIED");
    assert.deepEqual(
      mod.after.items("DeidentificationMethodCodeSequence").map((i) => i.string("CodeValue")),
      ["113100", "113107"],
    );
  });

  it("Retain UIDs, Device Identity, Institution Identity and Patient Characteristics keep what they name", () => {
    const { before, after } = run(
      {
        retainUIDs: true,
        retainDeviceIdentity: true,
        retainInstitutionIdentity: true,
        retainPatientCharacteristics: true,
      },
      (ds) => ds.setString("PatientAge", "095Y", "AS"),
    );
    assert.equal(after.uid("SOPInstanceUID"), before.uid("SOPInstanceUID"));
    assert.equal(after.string("StationName"), before.string("StationName"));
    assert.equal(after.string("InstitutionName"), before.string("InstitutionName"));
    assert.equal(after.string("PatientSex"), before.string("PatientSex"));
    assert.equal(after.string("PatientAge"), "090Y");
    assert.equal(after.string("PatientName"), pseudonymFor(SECRET, before.string("PatientID") as string));
  });

  it("Retain Safe Private keeps listed private elements with their creator and removes the rest", () => {
    const edit = (ds: DicomDataset) => {
      ds.setString(0x00190010, "GEMS_ACQU_01", "LO");
      ds.setString(0x00191023, "1.375", "DS");
      ds.setString(0x00191022, "identifying", "LO");
    };
    const kept = run({ retainSafePrivate: true }, edit).after;
    assert.equal(kept.string(0x00191023), "1.375");
    assert.equal(kept.string(0x00190010), "GEMS_ACQU_01");
    assert.equal(kept.has(0x00191022), false);
    const removed = run({}, edit).after;
    assert.equal(removed.has(0x00191023), false);
    assert.equal(removed.has(0x00190010), false);
  });

  it("Retain Safe Private honours blocks the instance declares SAFE or MIXED (0008,0300)", () => {
    const edit = (ds: DicomDataset) => {
      ds.setString(0x00410010, "ACME SAFE", "LO");
      ds.setString(0x00411001, "2.5", "DS");
      ds.setString(0x00430010, "ACME MIXED", "LO");
      ds.setString(0x00431001, "3.5", "DS");
      ds.setString(0x00431002, "identifying", "LO");
      const safe = new DicomDataset(ds.littleEndian, ds.charset());
      safe.setNumbers(0x00080301, [0x0041], "US");
      safe.setString(0x00080302, "ACME SAFE", "LO");
      safe.setString(0x00080303, "SAFE", "CS");
      const mixed = new DicomDataset(ds.littleEndian, ds.charset());
      mixed.setNumbers(0x00080301, [0x0043], "US");
      mixed.setString(0x00080302, "ACME MIXED", "LO");
      mixed.setString(0x00080303, "MIXED", "CS");
      mixed.setNumbers(0x00080304, [0x01], "US");
      ds.setItems(0x00080300, [safe, mixed]);
    };
    const kept = run({ retainSafePrivate: true }, edit).after;
    assert.equal(kept.string(0x00411001), "2.5");
    assert.equal(kept.string(0x00431001), "3.5");
    assert.equal(kept.has(0x00431002), false);
    const basic = run({}, edit).after;
    assert.equal(basic.has(0x00411001), false);
    assert.equal(basic.has(0x00431001), false);
  });

  it("Clean Structured Content keeps an SR's codes and cleans its text instead of replacing it", () => {
    const sr = () => new Uint8Array(readFileSync(sharedData("dicom/pydicom/test-SR.dcm")));
    const edit = (ds: DicomDataset) => {
      ds.setString("PatientName", "Doe^Johnathan", "PN");
      const item = new DicomDataset(ds.littleEndian, ds.charset());
      item.setString(0x0040a010, "CONTAINS", "CS");
      item.setString(0x0040a040, "TEXT", "CS");
      const concept = new DicomDataset(ds.littleEndian, ds.charset());
      concept.setString(0x00080100, "121071", "SH");
      concept.setString(0x00080102, "DCM", "SH");
      concept.setString(0x00080104, "Finding", "LO");
      item.setItems(0x0040a043, [concept]);
      item.setString(0x0040a160, "Nodule in right lung, Johnathan Doe seen 2004-01-19", "UT");
      ds.setItems(0x0040a730, [...ds.items(0x0040a730), item]);
    };
    const parse = (options: Parameters<typeof deidentifyBytes>[1]["options"]) => {
      const parsed = parseDicom(sr());
      edit(parsed.dataset);
      const r = deidentifyBytes(writeDicom(parsed), { secret: SECRET, ...(options ? { options } : {}) });
      return parseDicom(r.bytes as Uint8Array)
        .dataset.items(0x0040a730)
        .at(-1);
    };
    const cleaned = parse({ cleanStructuredContent: true });
    assert.equal(cleaned?.string(0x0040a160), "Nodule in right lung, seen");
    assert.equal(cleaned?.items(0x0040a043)[0]?.string(0x00080100), "121071");
    assert.equal(cleaned?.items(0x0040a043)[0]?.string(0x00080104), "Finding");
    const basic = parse({});
    assert.equal(basic?.string(0x0040a160), "ANONYMIZED");
  });

  it("Clean Descriptors keeps descriptors without the patient's identifiers", () => {
    const { after } = run({ cleanDescriptors: true }, (ds) => {
      ds.setString("PatientName", "Doe^Johnathan", "PN");
      ds.setString("StudyDescription", "CT chest Johnathan Doe 20040119", "LO");
    });
    assert.equal(after.string("StudyDescription"), "CT chest");
    const basic = run({}, (ds) => ds.setString("StudyDescription", "CT chest", "LO")).after;
    assert.equal(basic.has("StudyDescription"), false);
  });

  it("removes overlay planes whole with their Overlay Data (60xx,3000)", () => {
    const bytes = new Uint8Array(readFileSync(sharedData("dicom/pydicom/examples_overlay.dcm")));
    const before = parseDicom(bytes).dataset;
    const overlays = (ds: DicomDataset) =>
      [...ds.elements.keys()].filter((t) => t >>> 16 >= 0x6000 && t >>> 16 <= 0x601e);
    assert.ok(overlays(before).length > 0);
    const r = deidentifyBytes(bytes, { secret: SECRET, keepBurnedIn: true });
    assert.deepEqual(overlays(parseDicom(r.bytes as Uint8Array).dataset), []);
  });

  it("gives byte-identical output for the same secret and different UIDs for another", () => {
    const a = deidentifyBytes(ct(), { secret: SECRET }).bytes as Uint8Array;
    const b = deidentifyBytes(ct(), { secret: SECRET }).bytes as Uint8Array;
    const c = deidentifyBytes(ct(), { secret: OTHER }).bytes as Uint8Array;
    assert.ok(Buffer.from(a).equals(Buffer.from(b)));
    const ua = parseDicom(a).dataset.uid("SOPInstanceUID");
    const uc = parseDicom(c).dataset.uid("SOPInstanceUID");
    assert.notEqual(ua, uc);
    assert.notEqual(
      parseDicom(a).dataset.uid("StudyInstanceUID"),
      parseDicom(c).dataset.uid("StudyInstanceUID"),
    );
  });
});
