/** PHI-canary test: known strings injected into 50+ attributes of real files (plain, nested, private, names, dates, text, UIDs); none survives. */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { sharedData } from "../../test/support/shared-data.js";
import { DicomDataset, parseDicom, writeDicom } from "../io/dicom/index.js";
import { deidentifyBytes } from "./apply-profile.js";

const SECRET = new Uint8Array(Buffer.from("canary-test-secret-abcdefghijklmnop"));

/** One injected value: where it went (for messages) and the text that must not come back. */
interface Canary {
  readonly where: string;
  readonly value: string;
}

function canaryText(n: number): string {
  return `Cnry${String(n).padStart(2, "0")}Qx`;
}

/** Injects canaries into one parsed dataset and returns them. */
function inject(ds: DicomDataset): Canary[] {
  const out: Canary[] = [];
  let n = 0;
  const put = (
    target: DicomDataset,
    where: string,
    tag: number,
    vr: Parameters<DicomDataset["setString"]>[2],
    value?: string,
  ) => {
    const v = value ?? canaryText(n++);
    target.setString(tag, v, vr);
    out.push({ where, value: v });
  };
  // Plain top-level attributes of Table E.1-1: names, IDs, addresses, descriptors, free text.
  const plain: [number, Parameters<DicomDataset["setString"]>[2], string][] = [
    [0x00100010, "PN", "PatientName"],
    [0x00100020, "LO", "PatientID"],
    [0x00101000, "LO", "OtherPatientIDs"],
    [0x00101001, "PN", "OtherPatientNames"],
    [0x00101005, "PN", "PatientBirthName"],
    [0x00101060, "PN", "PatientMotherBirthName"],
    [0x00101040, "LO", "PatientAddress"],
    [0x00102154, "SH", "PatientTelephoneNumbers"],
    [0x00101090, "LO", "MedicalRecordLocator"],
    [0x00080050, "SH", "AccessionNumber"],
    [0x00080080, "LO", "InstitutionName"],
    [0x00080081, "ST", "InstitutionAddress"],
    [0x00080090, "PN", "ReferringPhysicianName"],
    [0x00080092, "ST", "ReferringPhysicianAddress"],
    [0x00081010, "SH", "StationName"],
    [0x00081030, "LO", "StudyDescription"],
    [0x0008103e, "LO", "SeriesDescription"],
    [0x00081040, "LO", "InstitutionalDepartmentName"],
    [0x00081048, "PN", "PhysiciansOfRecord"],
    [0x00081050, "PN", "PerformingPhysicianName"],
    [0x00081060, "PN", "NameOfPhysiciansReadingStudy"],
    [0x00081070, "PN", "OperatorsName"],
    [0x00081080, "LO", "AdmittingDiagnosesDescription"],
    [0x00181000, "LO", "DeviceSerialNumber"],
    [0x00181030, "LO", "ProtocolName"],
    [0x00200010, "SH", "StudyID"],
    [0x00204000, "LT", "ImageComments"],
    [0x001021b0, "LT", "AdditionalPatientHistory"],
    [0x00104000, "LT", "PatientComments"],
    [0x00321032, "PN", "RequestingPhysician"],
    [0x00321060, "LO", "RequestedProcedureDescription"],
    [0x00400254, "LO", "PerformedProcedureStepDescription"],
    [0x00102180, "SH", "Occupation"],
    [0x00101080, "LO", "MilitaryRank"],
    [0x00102160, "SH", "EthnicGroup"],
    [0x00380010, "LO", "AdmissionID"],
  ];
  for (const [tag, vr, name] of plain) put(ds, name, tag, vr);
  // Dates and times, listed and unlisted (Instance Creation Date is handled by VR, PS3.15 E.1.1 Note 4).
  put(ds, "StudyDate", 0x00080020, "DA", "19770301");
  put(ds, "SeriesDate", 0x00080021, "DA", "19770302");
  put(ds, "AcquisitionDateTime", 0x0008002a, "DT", "19770303101010");
  put(ds, "PatientBirthDate", 0x00100030, "DA", "19770304");
  put(ds, "InstanceCreationDate", 0x00080012, "DA", "19770305");
  put(ds, "ContentTime", 0x00080033, "TM", "131313.1313");
  // Instance UIDs.
  put(ds, "StudyInstanceUID", 0x0020000d, "UI", "1.2.826.0.1.3680043.99.1");
  put(ds, "SeriesInstanceUID", 0x0020000e, "UI", "1.2.826.0.1.3680043.99.2");
  put(ds, "FrameOfReferenceUID", 0x00200052, "UI", "1.2.826.0.1.3680043.99.3");
  // Nested two sequences deep inside sequences the profile keeps (U) and so recurses into.
  const inner = new DicomDataset(ds.littleEndian, ds.charset());
  put(inner, "SourceImageSequence>PurposeOfReferenceCodeSequence>PatientName", 0x00100010, "PN");
  put(inner, "…>InstitutionName", 0x00080080, "LO");
  put(inner, "…>StudyDate", 0x00080020, "DA", "19770306");
  put(inner, "…>PersonName", 0x0040a123, "PN");
  put(inner, "…>ReferencedSOPInstanceUID", 0x00081155, "UI", "1.2.826.0.1.3680043.99.4");
  put(inner, "…>ImageComments", 0x00204000, "LT");
  inner.setString(0x00290010, "CANARY VENDOR", "LO");
  put(inner, "…>private (0029,xx10)", 0x00291010, "LO");
  const outer = new DicomDataset(ds.littleEndian, ds.charset());
  outer.setString(0x00081150, "1.2.840.10008.5.1.4.1.1.2", "UI");
  put(outer, "SourceImageSequence>ReferencedSOPInstanceUID", 0x00081155, "UI", "1.2.826.0.1.3680043.99.5");
  outer.setItems(0x0040a170, [inner]);
  ds.setItems(0x00082112, [outer]);
  // Structured content (Content Sequence, action D): text, names, dates inside it.
  const content = new DicomDataset(ds.littleEndian, ds.charset());
  content.setString(0x0040a010, "CONTAINS", "CS");
  content.setString(0x0040a040, "TEXT", "CS");
  put(content, "ContentSequence>TextValue", 0x0040a160, "UT");
  put(content, "ContentSequence>PersonName", 0x0040a123, "PN");
  put(content, "ContentSequence>DateTime", 0x0040a120, "DT", "19770307080808");
  ds.setItems(0x0040a730, [content]);
  // Private attributes at top level: text, bytes and a private sequence holding a name.
  ds.setString(0x00310010, "CANARY VENDOR", "LO");
  put(ds, "private (0031,xx10) LO", 0x00311010, "LO");
  const blob = canaryText(n++);
  ds.set({
    tag: 0x00311011,
    vr: "OB",
    value: new Uint8Array(Buffer.from(`${blob} `, "latin1")),
    undefinedLength: false,
  });
  out.push({ where: "private (0031,xx11) OB", value: blob });
  // A sequence stored as opaque UN bytes (an implicit-VR writer's unknown tag): an item holding Patient's Name.
  const unName = canaryText(n++);
  const itemBody = Buffer.concat([
    Buffer.from([0x10, 0x00, 0x10, 0x00, unName.length, 0, 0, 0]),
    Buffer.from(unName, "latin1"),
  ]);
  const unSeq = Buffer.concat([Buffer.from([0xfe, 0xff, 0x00, 0xe0, itemBody.length, 0, 0, 0]), itemBody]);
  ds.set({ tag: 0x00081140, vr: "UN", value: new Uint8Array(unSeq), undefinedLength: false });
  out.push({ where: "ReferencedImageSequence as UN bytes>PatientName", value: unName });
  const privItem = new DicomDataset(ds.littleEndian, ds.charset());
  put(privItem, "private SQ (0031,xx12)>PatientName", 0x00100010, "PN");
  ds.setItems(0x00311012, [privItem]);
  return out;
}

for (const file of ["CT_small.dcm", "rtplan.dcm", "JPEG2000.dcm"]) {
  describe(`PHI canaries in ${file}`, () => {
    it("injects at least 50 canaries and none survives the Basic Profile", () => {
      const parsed = parseDicom(new Uint8Array(readFileSync(sharedData("dicom/pydicom", file))));
      const canaries = inject(parsed.dataset);
      assert.ok(canaries.length >= 50, `${canaries.length} canaries`);
      assert.equal(new Set(canaries.map((c) => c.where)).size, canaries.length, "one canary per attribute");
      const input = writeDicom(parsed);
      const inputText = Buffer.from(input).toString("latin1");
      for (const c of canaries) assert.ok(inputText.includes(c.value), `canary ${c.where} was injected`);
      const r = deidentifyBytes(input, { secret: SECRET, keepBurnedIn: true });
      assert.equal(r.status, "written");
      const text = Buffer.from(r.bytes as Uint8Array).toString("latin1");
      const survivors = canaries.filter((c) => text.includes(c.value)).map((c) => c.where);
      assert.deepEqual(survivors, []);
      // The de-identified file still parses and keeps its nested structure where the profile keeps it.
      const back = parseDicom(r.bytes as Uint8Array);
      assert.equal(back.dataset.items(0x00082112).length, 1);
      assert.equal(back.dataset.items(0x00082112)[0]?.items(0x0040a170).length, 1);
    });
  });
}
