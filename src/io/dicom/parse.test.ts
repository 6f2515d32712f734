/** Tests of the Part 10 dataset layer: parse → write → parse is lossless on real files, limits hold on hostile ones. */
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { sharedData } from "../../../test/support/shared-data.js";
import {
  DicomDataset,
  type DicomElement,
  DicomError,
  lookupKeyword,
  lookupTag,
  parseDicom,
  readDicomFile,
  TS,
  writeDicom,
} from "./index.js";

const DIR = sharedData("dicom", "pydicom");
const FILES = readdirSync(DIR)
  .filter((f) => f.endsWith(".dcm"))
  .sort();

/** A canonical text form of a dataset tree: tag, VR, value bytes (hex digest), items, fragments. */
function canon(ds: DicomDataset): unknown[] {
  return ds
    .sorted()
    .map((el: DicomElement) => [
      el.tag,
      el.vr,
      Buffer.from(el.value).toString("base64"),
      el.items?.map(canon),
      el.fragments?.map((f) => Buffer.from(f).toString("base64")),
    ]);
}

function errorCode(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof DicomError, `expected DicomError, got ${String(e)}`);
    return e.code;
  }
  return "no error";
}

describe("parseDicom / writeDicom on the pydicom corpus", () => {
  it("round-trips every strictly readable file losslessly with identical pixel bytes", () => {
    let n = 0;
    for (const f of FILES) {
      let parsed: ReturnType<typeof readDicomFile>;
      try {
        // Strictly readable: deviations tolerated by default (odd lengths) are corrected by the writer.
        parsed = readDicomFile(`${DIR}/${f}`, { tolerate: false });
      } catch {
        continue;
      }
      const again = parseDicom(writeDicom(parsed));
      assert.equal(again.transferSyntaxUID, parsed.transferSyntaxUID, f);
      // Group lengths are recomputed, so compare everything else.
      const strip = (ds: DicomDataset) =>
        canon(ds).filter((e) => ((e as number[])[0] as number) % 0x10000 !== 0);
      assert.deepEqual(strip(again.dataset), strip(parsed.dataset), f);
      const a = parsed.dataset.get("PixelData");
      const b = again.dataset.get("PixelData");
      if (a) {
        assert.ok(b, f);
        assert.ok(Buffer.from(a.value).equals(Buffer.from(b.value)), f);
        assert.equal(a.fragments?.length, b.fragments?.length, f);
        for (const [i, fr] of (a.fragments ?? []).entries()) {
          assert.ok(Buffer.from(fr).equals(Buffer.from(b.fragments?.[i] ?? [])), f);
        }
      }
      n++;
    }
    assert.ok(n >= 60, `only ${n} files round-tripped`);
  });

  it("reads typed values: strings, numbers, person names, UIDs", () => {
    const { dataset, meta, transferSyntaxUID } = readDicomFile(sharedData("dicom/pydicom/CT_small.dcm"));
    assert.equal(transferSyntaxUID, TS.ExplicitVRLittleEndian);
    assert.equal(meta.uid("TransferSyntaxUID"), TS.ExplicitVRLittleEndian);
    assert.equal(dataset.number("Rows"), 128);
    assert.equal(dataset.number("Columns"), 128);
    assert.equal(dataset.string("Modality"), "CT");
    assert.deepEqual(dataset.numbers("PixelSpacing"), [0.661468, 0.661468]);
    assert.deepEqual(dataset.numbers("ImagePositionPatient"), [-158.135803, -179.035797, -75.699997]);
    assert.equal(dataset.number("RescaleIntercept"), -1024);
    const pn = dataset.personName("PatientName");
    assert.equal(pn?.familyName, "CompressedSamples");
    assert.equal(pn?.givenName, "CT1");
    assert.equal(dataset.uid("SOPClassUID"), "1.2.840.10008.5.1.4.1.1.2");
    assert.deepEqual(dataset.strings("ImageType"), ["ORIGINAL", "PRIMARY", "AXIAL"]);
  });

  it("decodes big endian and implicit VR values to the same numbers as little endian", () => {
    const le = readDicomFile(sharedData("dicom/pydicom/MR_small.dcm")).dataset;
    for (const f of ["MR_small_bigendian.dcm", "MR_small_implicit.dcm", "MR_small_expb.dcm"]) {
      const ds = readDicomFile(`${DIR}/${f}`).dataset;
      for (const k of ["Rows", "Columns", "BitsAllocated", "PixelRepresentation"]) {
        assert.equal(ds.number(k), le.number(k), `${f} ${k}`);
      }
      assert.deepEqual(ds.numbers("PixelSpacing"), le.numbers("PixelSpacing"), f);
    }
  });

  it("changes byte order on write: big endian → explicit little endian gives the little-endian pixel bytes", () => {
    const be = readDicomFile(sharedData("dicom/pydicom/MR_small_bigendian.dcm"));
    const le = readDicomFile(sharedData("dicom/pydicom/MR_small.dcm"));
    const out = parseDicom(writeDicom(be, { transferSyntaxUID: TS.ExplicitVRLittleEndian }));
    assert.equal(out.transferSyntaxUID, TS.ExplicitVRLittleEndian);
    assert.ok(
      Buffer.from(out.dataset.get("PixelData")?.value ?? []).equals(
        Buffer.from(le.dataset.get("PixelData")?.value ?? [1]),
      ),
    );
    assert.equal(out.dataset.number("Rows"), 64);
  });

  it("keeps deflated files deflated and readable", () => {
    const p = readDicomFile(sharedData("dicom/pydicom/image_dfl.dcm"));
    assert.equal(p.transferSyntaxUID, TS.DeflatedExplicitVRLittleEndian);
    const bytes = writeDicom(p);
    const q = parseDicom(bytes);
    assert.ok(bytes.length < 50_000, "output is deflated");
    assert.ok(
      Buffer.from(q.dataset.get("PixelData")?.value ?? []).equals(
        Buffer.from(p.dataset.get("PixelData")?.value ?? [1]),
      ),
    );
  });

  it("regenerates File Meta group length after an edit and zeroes the preamble", () => {
    const p = readDicomFile(sharedData("dicom/pydicom/CT_small.dcm"));
    p.meta.setString("ImplementationVersionName", "A_MUCH_LONGER_NAME_");
    p.dataset.setString("PatientName", "Anonymous^Patient");
    const bytes = writeDicom(p);
    assert.ok(bytes.subarray(0, 128).every((b) => b === 0));
    const q = parseDicom(bytes);
    const gl = q.meta.number(0x00020000) as number;
    const metaEnd = 132 + 12 + gl;
    assert.equal(
      new DataView(bytes.buffer, bytes.byteOffset + metaEnd, 2).getUint16(0, true),
      0x0008,
      "dataset starts after the meta group",
    );
    assert.equal(q.dataset.personName("PatientName")?.alphabetic, "Anonymous^Patient");
  });

  it("ends every malformed file of the corpus in a typed DicomError in strict mode, and reads it leniently", () => {
    // --strict ({ tolerate: false }): also the deviations the default policy reads with a warning (ADR 029).
    const expected: Record<string, string> = {
      "MR_truncated.dcm": "DICOM_TRUNCATED",
      "rtplan_truncated.dcm": "DICOM_TRUNCATED",
      "no_meta.dcm": "DICOM_NO_META",
      "ExplVR_BigEndNoMeta.dcm": "DICOM_NO_META",
      "ExplVR_LitEndNoMeta.dcm": "DICOM_NO_META",
      "meta_missing_tsyntax.dcm": "DICOM_BAD_META",
    };
    for (const [f, code] of Object.entries(expected)) {
      const t = performance.now();
      assert.equal(
        errorCode(() => readDicomFile(`${DIR}/${f}`, { tolerate: false })),
        code,
        f,
      );
      if (f !== "meta_missing_tsyntax.dcm") {
        assert.equal(
          errorCode(() => readDicomFile(`${DIR}/${f}`)),
          code,
          f,
        );
      }
      assert.ok(performance.now() - t < 1000, f);
      const lenient = readDicomFile(`${DIR}/${f}`, { strict: false });
      assert.ok(
        lenient.warnings.some((w) => w.code === code),
        f,
      );
    }
    // DCMTK and pydicom read a File Meta without Transfer Syntax UID from the dataset's encoding; so does the
    // default policy, with a warning.
    const inferred = readDicomFile(`${DIR}/meta_missing_tsyntax.dcm`);
    assert.equal(inferred.transferSyntaxUID, TS.ImplicitVRLittleEndian);
    assert.ok(inferred.warnings.some((w) => w.code === "DICOM_BAD_META" && w.tolerated));
    const be = readDicomFile(`${DIR}/ExplVR_BigEndNoMeta.dcm`, { strict: false });
    assert.equal(be.transferSyntaxUID, TS.ExplicitVRBigEndian);
  });
});

/** Builds a small Explicit VR Little Endian Part 10 file. */
function smallFile(edit?: (ds: DicomDataset) => void): Uint8Array {
  const meta = new DicomDataset(true);
  meta.setString("MediaStorageSOPClassUID", "1.2.840.10008.5.1.4.1.1.7", "UI");
  meta.setString("MediaStorageSOPInstanceUID", "1.2.3.4", "UI");
  const ds = new DicomDataset(true);
  ds.setString("SOPClassUID", "1.2.840.10008.5.1.4.1.1.7");
  ds.setString("PatientName", "Doe^Jane");
  ds.setNumbers("Rows", [2]);
  ds.setNumbers("Columns", [2]);
  ds.set({
    tag: 0x7fe00010,
    vr: "OW",
    value: new Uint8Array([1, 0, 2, 0, 3, 0, 4, 0]),
    undefinedLength: false,
  });
  edit?.(ds);
  return writeDicom({ meta, dataset: ds, transferSyntaxUID: TS.ExplicitVRLittleEndian });
}

describe("limits on hostile input", () => {
  it("refuses sequences nested deeper than 64 with DICOM_DEPTH, quickly", () => {
    // Hand-built bytes: the writer refuses to nest that deep, so it cannot make them.
    const nest = (depth: number) => {
      const head = Buffer.from(smallFile()).subarray(0, 132 + 12);
      const metaLen = head.readUInt32LE(132 + 8);
      const open = Buffer.from([
        0x08, 0x00, 0x40, 0x11, 0x53, 0x51, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xfe, 0xff, 0x00, 0xe0, 0xff, 0xff,
        0xff, 0xff,
      ]);
      const close = Buffer.from([0xfe, 0xff, 0x0d, 0xe0, 0, 0, 0, 0, 0xfe, 0xff, 0xdd, 0xe0, 0, 0, 0, 0]);
      const meta = Buffer.from(smallFile()).subarray(0, 132 + 12 + metaLen);
      return new Uint8Array(Buffer.concat([meta, ...Array(depth).fill(open), ...Array(depth).fill(close)]));
    };
    assert.equal(parseDicom(nest(64)).dataset.items("ReferencedImageSequence").length, 1);
    assert.equal(
      errorCode(() => parseDicom(nest(65))),
      "DICOM_DEPTH",
    );
    const t = performance.now();
    assert.equal(
      errorCode(() => parseDicom(nest(20_000))),
      "DICOM_DEPTH",
    );
    assert.ok(performance.now() - t < 1000);
  });

  it("checks a huge declared length against the bytes left before allocating", () => {
    const bytes = smallFile();
    const b = Buffer.from(bytes);
    const at = b.indexOf(Buffer.from([0xe0, 0x7f, 0x10, 0x00, 0x4f, 0x57]));
    b.writeUInt32LE(0xfffffff0, at + 8);
    assert.equal(
      errorCode(() => parseDicom(new Uint8Array(b))),
      "DICOM_TRUNCATED",
    );
    assert.equal(
      errorCode(() => parseDicom(smallFile(), { maxPixelBytes: 4 })),
      "DICOM_TOO_LARGE",
    );
  });

  it("rejects an invalid VR with DICOM_BAD_VR (--strict), tolerates it when the dictionary knows the tag (default)", () => {
    const b = Buffer.from(smallFile());
    const at = b.indexOf(Buffer.from([0x10, 0x00, 0x10, 0x00, 0x50, 0x4e]));
    // Turn (0010,0010) PN into an implicitly encoded element: "PN" + 2-byte length → 4-byte length 8.
    b.writeUInt32LE(8, at + 4);
    assert.equal(
      errorCode(() => parseDicom(new Uint8Array(b), { tolerate: false })),
      "DICOM_BAD_VR",
    );
    const byDefault = parseDicom(new Uint8Array(b));
    assert.equal(byDefault.dataset.personName("PatientName")?.familyName, "Doe");
    assert.ok(byDefault.warnings.some((w) => w.code === "DICOM_BAD_VR" && w.tolerated));
    const lenient = parseDicom(new Uint8Array(b), { strict: false });
    assert.equal(lenient.dataset.personName("PatientName")?.familyName, "Doe");
    assert.ok(lenient.warnings.some((w) => w.code === "DICOM_BAD_VR"));
    // A private tag the dictionary cannot resolve: its VR would be a guess, so the default still refuses it.
    const p = Buffer.from(smallFile((ds) => ds.setString(0x00091010, "Doe", "LO")));
    const pat = p.indexOf(Buffer.from([0x09, 0x00, 0x10, 0x10, 0x4c, 0x4f]));
    p.writeUInt32LE(4, pat + 4);
    assert.equal(
      errorCode(() => parseDicom(new Uint8Array(p))),
      "DICOM_BAD_VR",
    );
  });

  it("reads zero padding after the last element and odd lengths with warnings; --strict refuses them", () => {
    const file = smallFile();
    for (const n of [1, 3, 8, 1000]) {
      const padded = new Uint8Array(file.length + n);
      padded.set(file);
      const r = parseDicom(padded);
      assert.deepEqual(
        r.warnings.map((w) => [w.code, w.tolerated]),
        [["DICOM_TRAILING_PADDING", true]],
        `${n} bytes`,
      );
      assert.deepEqual(r.dataset.get(0x7fe00010)?.value, parseDicom(file).dataset.get(0x7fe00010)?.value);
      assert.equal(
        errorCode(() => parseDicom(padded, { tolerate: false })),
        "DICOM_TRAILING_PADDING",
      );
    }
    // Padding that is not all zeros is not padding: still refused.
    const junk = new Uint8Array(file.length + 16);
    junk.set(file);
    junk[file.length + 9] = 7;
    assert.throws(() => parseDicom(junk));
    // A byte-identical repeated element (pydicom's palettes/winter.dcm repeats its SOP Instance UID) loses nothing;
    // differing copies could change an identifier (DCMTK keeps the first, pydicom the last), so they stay an error.
    const twice = (second: string) => {
      const b = Buffer.from(smallFile((ds) => ds.setString("StudyID", "S1")));
      const at = b.indexOf(Buffer.from([0x20, 0x00, 0x10, 0x00, 0x53, 0x48]));
      const el = Buffer.concat([b.subarray(at, at + 8), Buffer.from(second)]);
      return new Uint8Array(Buffer.concat([b.subarray(0, at + 10), el, b.subarray(at + 10)]));
    };
    const same = parseDicom(twice("S1"));
    assert.equal(same.dataset.string("StudyID"), "S1");
    assert.ok(same.warnings.some((w) => w.code === "DICOM_BAD_VALUE" && w.tolerated));
    assert.equal(
      errorCode(() => parseDicom(twice("S2"))),
      "DICOM_BAD_VALUE",
    );
    // An odd-length value (PS3.5 7.1.1 wants even lengths) is read as declared.
    // The writer pads to even lengths, so the odd element is made by hand: "ABCD" cut to "ABC", length 3.
    const even = Buffer.from(
      smallFile((ds) =>
        ds.set({ tag: 0x00081030, vr: "LO", value: Buffer.from("ABCD"), undefinedLength: false }),
      ),
    );
    const at = even.indexOf(Buffer.from([0x08, 0x00, 0x30, 0x10, 0x4c, 0x4f]));
    even.writeUInt16LE(3, at + 6);
    const odd = new Uint8Array(Buffer.concat([even.subarray(0, at + 11), even.subarray(at + 12)]));
    const r = parseDicom(odd);
    assert.equal(r.dataset.string("StudyDescription"), "ABC");
    assert.ok(r.warnings.some((w) => w.code === "DICOM_BAD_LENGTH" && w.tolerated));
    assert.equal(
      errorCode(() => parseDicom(odd, { tolerate: false })),
      "DICOM_BAD_LENGTH",
    );
    // Written back, the value is padded to even length with a space (PS3.5 7.1.1, 6.2).
    const rewritten = parseDicom(writeDicom(r), { tolerate: false });
    assert.equal(rewritten.dataset.get("StudyDescription")?.value.length, 4);
    assert.equal(rewritten.dataset.string("StudyDescription"), "ABC");
  });

  it("enforces the per-file time limit", () => {
    const big = smallFile((ds) => {
      for (let i = 0; i < 5000; i++) ds.setString(0x00110000 + 0x1000 + i, "x", "LO");
    });
    assert.equal(
      errorCode(() => parseDicom(big, { timeLimitMs: -1 })),
      "DICOM_TIMEOUT",
    );
    assert.equal(parseDicom(big).dataset.elements.size > 5000, true);
  });
});

describe("data dictionary", () => {
  it("maps keyword ↔ tag ↔ VR ↔ VM, including repeating groups", () => {
    assert.equal(lookupKeyword("PatientName")?.tag, 0x00100010);
    assert.deepEqual(lookupTag(0x00100010)?.vrs, ["PN"]);
    assert.equal(lookupTag(0x00280030)?.vm, "2");
    assert.deepEqual(lookupTag(0x00280106)?.vrs, ["US", "SS"]);
    assert.equal(lookupTag(0x60023000)?.keyword, "OverlayData");
    assert.equal(lookupTag(0x00191234), undefined);
    assert.ok(readFileSync(new URL("./dictionary-data.ts", import.meta.url), "utf8").length < 300_000);
  });
});

describe("transcoding between native transfer syntaxes", () => {
  it("keeps every value and the decoded pixels through implicit LE, explicit BE and deflated", async () => {
    const { decodeStoredPixels } = await import("./pixels.js");
    const targets = [
      TS.ImplicitVRLittleEndian,
      TS.ExplicitVRBigEndian,
      TS.DeflatedExplicitVRLittleEndian,
      TS.ExplicitVRLittleEndian,
    ];
    let n = 0;
    for (const f of [
      "CT_small.dcm",
      "MR_small_bigendian.dcm",
      "rtdose.dcm",
      "SC_rgb_small_odd.dcm",
      "rtplan.dcm",
      "liver_expb_1frame.dcm",
    ]) {
      const src = readDicomFile(`${DIR}/${f}`);
      const before = src.dataset.has("PixelData") ? await decodeStoredPixels(src) : undefined;
      let cur = src;
      for (const ts of targets) {
        cur = parseDicom(writeDicom(cur, { transferSyntaxUID: ts }));
        assert.equal(cur.transferSyntaxUID, ts);
        for (const k of [
          "Rows",
          "Columns",
          "BitsAllocated",
          "NumberOfFrames",
          "PixelSpacing",
          "ImagePositionPatient",
        ]) {
          assert.deepEqual(
            cur.dataset.strings(k).length ? cur.dataset.strings(k) : cur.dataset.numbers(k),
            src.dataset.strings(k).length ? src.dataset.strings(k) : src.dataset.numbers(k),
            `${f} → ${ts} ${k}`,
          );
        }
        assert.equal(cur.dataset.string("PatientName"), src.dataset.string("PatientName"), `${f} → ${ts}`);
        assert.equal(
          cur.dataset.items("BeamSequence").length,
          src.dataset.items("BeamSequence").length,
          `${f} → ${ts}`,
        );
        if (before) {
          const after = await decodeStoredPixels(cur);
          assert.deepEqual([...after.data], [...before.data], `${f} → ${ts} pixels`);
        }
        n++;
      }
    }
    assert.equal(n, 24);
  });
});
