/** DICOMweb conformance, one test per behaviour: QIDO-RS levels, matching, includefield and errors; WADO-RS retrieve, metadata, frames and rendered, multipart parsed strictly. */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { FastifyInstance } from "fastify";
import jpeg from "jpeg-js";
import { archiveApp } from "../../test/support/archive-app.js";
import { sharedData } from "../../test/support/shared-data.js";
import { parseDicom, writeDicom } from "../io/dicom/index.js";
import { decodePng } from "../io/image/index.js";
import { newUid } from "../radiology-reports/sr.js";
import { buildMultipart } from "./multipart.js";

const work = mkdtempSync(join(tmpdir(), "rl-dicomweb-qw-"));
const KEY = "admin-key-0123456789";
const PY = (name: string): string => sharedData("dicom", "pydicom", name);
let app: FastifyInstance;

type Json = Record<string, { vr: string; Value?: unknown[]; BulkDataURI?: string; InlineBinary?: string }>;

/** A copy of a shared file with new UIDs and the given string attributes. */
function make(source: string, attrs: Record<string, string>): Uint8Array {
  const parsed = parseDicom(new Uint8Array(readFileSync(source)));
  for (const [k, v] of Object.entries(attrs)) parsed.dataset.setString(k, v);
  const sop = attrs["SOPInstanceUID"] ?? newUid();
  parsed.dataset.setString("SOPInstanceUID", sop);
  parsed.meta.setString("MediaStorageSOPInstanceUID", sop);
  return writeDicom(parsed);
}

/**
 * A multipart/related body parsed strictly (RFC 2046 5.1.1, PS3.18 8.7.3): the Content-Type names the boundary and
 * part type, the body opens with the first delimiter (no preamble), every line ends in CRLF, every part has a
 * Content-Type, and the close delimiter ends the body.
 */
function strictParts(
  contentType: string,
  body: Buffer,
  partType: string,
): { headers: Record<string, string>; body: Buffer }[] {
  const m = /^multipart\/related;\s*type="([^"]+)";\s*boundary=([0-9A-Za-z'()+_,./:=?-]{1,70})$/.exec(
    contentType,
  );
  assert.ok(m, `Content-Type: ${contentType}`);
  assert.equal(m[1], partType);
  const delim = Buffer.from(`--${m[2]}`);
  assert.equal(body.subarray(0, delim.length + 2).toString("latin1"), `${delim}\r\n`, "no preamble");
  const parts: { headers: Record<string, string>; body: Buffer }[] = [];
  let pos = delim.length + 2;
  for (;;) {
    const headEnd = body.indexOf("\r\n\r\n", pos);
    assert.ok(headEnd > 0, "part headers end in an empty CRLF line");
    const headers: Record<string, string> = {};
    for (const line of body.subarray(pos, headEnd).toString("latin1").split("\r\n")) {
      assert.ok(!line.includes("\n") && !line.includes("\r"), "header lines end in CRLF");
      const i = line.indexOf(":");
      assert.ok(i > 0, `header line: ${line}`);
      headers[line.slice(0, i).toLowerCase()] = line.slice(i + 1).trim();
    }
    assert.ok(headers["content-type"]?.startsWith(partType), `part type ${headers["content-type"]}`);
    const next = body.indexOf(Buffer.concat([Buffer.from("\r\n"), delim]), headEnd + 4);
    assert.ok(next > 0, "each part ends with CRLF and a delimiter");
    parts.push({ headers, body: body.subarray(headEnd + 4, next) });
    pos = next + 2 + delim.length;
    const tail = body.subarray(pos, pos + 2).toString("latin1");
    if (tail === "--") {
      assert.ok(["", "\r\n"].includes(body.subarray(pos + 2).toString("latin1")), "nothing after the close");
      return parts;
    }
    assert.equal(tail, "\r\n", "a delimiter line ends in CRLF");
    pos += 2;
  }
}

const get = (url: string, accept?: string) =>
  app.inject({ url, headers: { "x-api-key": KEY, ...(accept ? { accept } : {}) } });

async function json(url: string): Promise<Json[]> {
  const r = await get(url);
  assert.equal(r.statusCode, 200, `${url}: ${r.body}`);
  assert.match(String(r.headers["content-type"]), /^application\/dicom\+json/);
  return r.json() as Json[];
}

const uidsOf = (rows: Json[], tag: string): string[] => rows.map((r) => r[tag]?.Value?.[0] as string).sort();

// Three studies: A (CT and an SR series), B (MR), C (CT), with distinct patients, dates and times.
const A = newUid();
const B = newUid();
const C = newUid();
const A_CT = newUid();
const A_SR = newUid();
const B_MR = newUid();
const C_CT = newUid();
const files = new Map<string, Uint8Array>();

before(async () => {
  app = await archiveApp(work, KEY);
  await app.ready();
  const study = (uid: string, patient: string, id: string, date: string, time: string, acc: string) => ({
    StudyInstanceUID: uid,
    PatientName: patient,
    PatientID: id,
    StudyDate: date,
    StudyTime: time,
    AccessionNumber: acc,
    StudyDescription: `desc ${acc}`,
  });
  const sA = study(A, "DOE^JANE", "PA", "20200315", "093000", "ACC-A");
  const sB = study(B, "ROE^JOHN", "PB", "20191231", "235959", "ACC-B");
  const sC = study(C, "Doe^Jonathan=ド^ジョナサン", "PC", "20210101", "120000.5", "ACC-C");
  const add = (name: string, bytes: Uint8Array): void => {
    files.set(name, bytes);
  };
  for (let i = 1; i <= 3; i++)
    add(`A_CT_${i}`, make(PY("CT_small.dcm"), { ...sA, SeriesInstanceUID: A_CT, InstanceNumber: String(i) }));
  add("A_SR", make(PY("CT_small.dcm"), { ...sA, SeriesInstanceUID: A_SR, Modality: "SR" }));
  add("B_MR", make(PY("MR_small.dcm"), { ...sB, SeriesInstanceUID: B_MR }));
  add("B_MR_J2K", make(PY("MR_small_jp2klossless.dcm"), { ...sB, SeriesInstanceUID: B_MR }));
  add(
    "C_DOSE",
    make(PY("rtdose.dcm"), {
      SpecificCharacterSet: "ISO_IR 192",
      ...sC,
      SeriesInstanceUID: C_CT,
      Modality: "CT",
    }),
  );
  const { body, contentType } = buildMultipart([...files.values()], "application/dicom");
  const r = await app.inject({
    method: "POST",
    url: "/dicomweb/studies",
    headers: { "x-api-key": KEY, "content-type": contentType },
    payload: body,
  });
  assert.equal(r.statusCode, 200, r.body);
});

after(async () => {
  await app.close();
  rmSync(work, { recursive: true, force: true });
});

const sop = (name: string): string =>
  parseDicom(files.get(name) as Uint8Array).dataset.uid("SOPInstanceUID") as string;
const instanceUrl = (study: string, series: string, name: string): string =>
  `/dicomweb/studies/${study}/series/${series}/instances/${sop(name)}`;

describe("QIDO-RS (PS3.18 10.6)", () => {
  it("searches studies, series and instances at every level with their counts, in tag order", async () => {
    const studies = await json("/dicomweb/studies");
    assert.deepEqual(uidsOf(studies, "0020000D"), [A, B, C].sort());
    const a = studies.find((s) => s["0020000D"]?.Value?.[0] === A) as Json;
    assert.deepEqual(a["00080061"]?.Value, ["CT", "SR"], "ModalitiesInStudy");
    assert.deepEqual(a["00201206"]?.Value, [2], "NumberOfStudyRelatedSeries");
    assert.deepEqual(a["00201208"]?.Value, [4], "NumberOfStudyRelatedInstances");
    assert.deepEqual(a["00100010"]?.Value, [{ Alphabetic: "DOE^JANE" }]);
    assert.equal(a["00080060"], undefined, "no series attribute in a study result");
    assert.deepEqual(Object.keys(a), Object.keys(a).sort(), "attributes in tag order (PS3.18 F.2)");
    assert.match(String(a["00081190"]?.Value?.[0]), new RegExp(`/dicomweb/studies/${A}$`));
    assert.deepEqual(a["00080050"]?.Value, ["ACC-A"]);

    assert.deepEqual(uidsOf(await json("/dicomweb/series"), "0020000E"), [A_CT, A_SR, B_MR, C_CT].sort());
    const series = await json(`/dicomweb/studies/${A}/series`);
    assert.deepEqual(uidsOf(series, "0020000E"), [A_CT, A_SR].sort());
    const ct = series.find((s) => s["0020000E"]?.Value?.[0] === A_CT) as Json;
    assert.deepEqual(ct["00201209"]?.Value, [3], "NumberOfSeriesRelatedInstances");
    assert.deepEqual(ct["00080060"]?.Value, ["CT"]);
    assert.equal((await json(`/dicomweb/studies/${A}/instances`)).length, 4);
    const inst = await json(`/dicomweb/studies/${A}/series/${A_CT}/instances`);
    assert.deepEqual(
      inst.map((i) => i["00200013"]?.Value?.[0]).sort(),
      [1, 2, 3],
      "InstanceNumber as numbers",
    );
    assert.deepEqual(inst[0]?.["00280010"]?.Value, [128], "Rows");
    assert.equal((await json("/dicomweb/instances")).length, files.size);
  });

  it("matches by keyword or tag: wildcards case-sensitively, fuzzy names case-insensitively by component prefix", async () => {
    assert.deepEqual(uidsOf(await json("/dicomweb/studies?PatientName=DOE*"), "0020000D"), [A]);
    assert.deepEqual(uidsOf(await json("/dicomweb/studies?00100010=?OE^J*"), "0020000D"), [A, B].sort());
    assert.deepEqual(await json("/dicomweb/studies?PatientName=doe*"), [], "wildcards are case-sensitive");
    assert.deepEqual(
      uidsOf(await json("/dicomweb/studies?PatientName=doe^jo&fuzzymatching=true"), "0020000D"),
      [C],
      "family and given name prefixes",
    );
    assert.deepEqual(
      uidsOf(await json("/dicomweb/studies?PatientName=jo&fuzzymatching=true"), "0020000D"),
      [B, C].sort(),
      "one component: family or given name",
    );
    assert.deepEqual(uidsOf(await json("/dicomweb/studies?PatientID=PB"), "0020000D"), [B]);
    const c = (await json("/dicomweb/studies?PatientID=PC"))[0];
    assert.deepEqual(
      c?.["00100010"]?.Value,
      [{ Alphabetic: "Doe^Jonathan", Ideographic: "ド^ジョナサン" }],
      "PN groups",
    );
    assert.deepEqual(
      uidsOf(await json("/dicomweb/studies?AccessionNumber=ACC-%3F"), "0020000D"),
      [A, B, C].sort(),
    );
    assert.deepEqual(uidsOf(await json("/dicomweb/studies?ModalitiesInStudy=SR"), "0020000D"), [A]);
    assert.deepEqual(
      uidsOf(await json("/dicomweb/studies?ModalitiesInStudy=MR,SR"), "0020000D"),
      [A, B].sort(),
    );
    const byModality = await json("/dicomweb/studies?Modality=SR");
    assert.deepEqual(uidsOf(byModality, "0020000D"), [A], "a lower-level key matches studies relationally");
    assert.deepEqual(byModality[0]?.["00201208"]?.Value, [4], "and the study still counts all its instances");
    assert.deepEqual(uidsOf(await json("/dicomweb/series?Modality=CT&PatientID=PA"), "0020000E"), [A_CT]);
    assert.deepEqual(uidsOf(await json(`/dicomweb/instances?SOPInstanceUID=${sop("A_SR")}`), "00080018"), [
      sop("A_SR"),
    ]);
    assert.deepEqual(uidsOf(await json("/dicomweb/instances?InstanceNumber=2"), "00080018"), [sop("A_CT_2")]);
  });

  it("matches date and time ranges with open ends, and UID lists", async () => {
    const studies = async (q: string): Promise<string[]> =>
      uidsOf(await json(`/dicomweb/studies?${q}`), "0020000D");
    assert.deepEqual(await studies("StudyDate=20200101-20201231"), [A]);
    assert.deepEqual(await studies("StudyDate=-20200315"), [A, B].sort(), "open start, end inclusive");
    assert.deepEqual(await studies("StudyDate=20200316-"), [C], "open end");
    assert.deepEqual(await studies("00080020=20191231"), [B]);
    assert.deepEqual(
      await studies("StudyTime=0900-1200"),
      [A, C].sort(),
      "a truncated end covers its minute",
    );
    assert.deepEqual(await studies("StudyTime=23"), [B], "a truncated time is its whole hour");
    assert.deepEqual(await studies(`StudyInstanceUID=${A},${C}`), [A, C].sort());
    assert.deepEqual(await studies(`StudyInstanceUID=${A}%5C${B}`), [A, B].sort(), "backslash lists too");
    assert.deepEqual(
      uidsOf(await json(`/dicomweb/series?SeriesInstanceUID=${A_SR},${B_MR}`), "0020000E"),
      [A_SR, B_MR].sort(),
    );
  });

  it("returns included fields by keyword, tag or all, and only those the level has", async () => {
    const desc = (rows: Json[]) => rows.map((r) => r["00081030"]?.Value?.[0]).sort();
    assert.deepEqual(
      desc(await json(`/dicomweb/studies?StudyInstanceUID=${A}`)),
      [undefined],
      "not by default",
    );
    assert.deepEqual(
      desc(await json(`/dicomweb/studies?StudyInstanceUID=${A}&includefield=StudyDescription`)),
      ["desc ACC-A"],
    );
    assert.deepEqual(desc(await json(`/dicomweb/studies?StudyInstanceUID=${A}&includefield=00081030`)), [
      "desc ACC-A",
    ]);
    const all = (await json(`/dicomweb/studies?StudyInstanceUID=${A}&includefield=all`))[0] as Json;
    assert.deepEqual(all["00081030"]?.Value, ["desc ACC-A"]);
    assert.equal(all["00080060"], undefined, "all means all of the level");
    // Attributes outside the index: read from the file at instance level, left out at higher levels.
    const r = await json(
      `/dicomweb/instances?SOPInstanceUID=${sop("B_MR")}&includefield=SliceThickness,Rows&includefield=00280030`,
    );
    const mr = parseDicom(files.get("B_MR") as Uint8Array).dataset;
    assert.deepEqual(r[0]?.["00280010"]?.Value, [64]);
    assert.deepEqual(r[0]?.["00180050"]?.Value, [mr.number("SliceThickness")]);
    assert.deepEqual(r[0]?.["00280030"]?.Value, mr.numbers("PixelSpacing"));
    assert.deepEqual(Object.keys(r[0] ?? {}), Object.keys(r[0] ?? {}).sort(), "still in tag order");
    const study = await json(`/dicomweb/studies?StudyInstanceUID=${B}&includefield=SliceThickness`);
    assert.equal(study[0]?.["00180050"], undefined);
  });

  it("answers 400 with a PS3.18 Warning for unknown or invalid parameters, and 200 [] for no match", async () => {
    for (const q of [
      "Nonsense=1",
      "SliceThickness=5",
      "StudyDate=2020",
      "StudyDate=20201231-20200101",
      "StudyDate=-",
      "StudyTime=25x",
      "StudyInstanceUID=1.2.abc",
      "includefield=NotAKeyword",
      "limit=0",
      "offset=-1",
      "fuzzymatching=yes",
      "InstanceNumber=two",
      "NumberOfStudyRelatedInstances=4",
      "PatientID=a&PatientID=b",
    ]) {
      const r = await get(`/dicomweb/studies?${q}`);
      assert.equal(r.statusCode, 400, `${q}: ${r.body}`);
      assert.equal(
        (r.json() as { error: { code: string } }).error.code,
        "RL_ERR_BAD_REQUEST",
        `${q}: ${r.body}`,
      );
      assert.match(String(r.headers["warning"]), /^299 radiolens "RL_ERR_BAD_REQUEST: /, q);
    }
    const none = await get("/dicomweb/studies?PatientID=nobody");
    assert.equal(none.statusCode, 200);
    assert.deepEqual(none.json(), []);
    assert.equal(
      (await get("/dicomweb/studies", 'multipart/related; type="application/dicom+xml"')).statusCode,
      406,
    );
  });
});

describe("WADO-RS (PS3.18 10.4)", () => {
  it("retrieves an instance, a series and a study as strict multipart/related application/dicom", async () => {
    const one = await get(instanceUrl(A, A_CT, "A_CT_1"));
    assert.equal(one.statusCode, 200, one.body);
    const parts = strictParts(String(one.headers["content-type"]), one.rawPayload, "application/dicom");
    assert.deepEqual(
      parts.map((p) => Buffer.compare(p.body, Buffer.from(files.get("A_CT_1") as Uint8Array))),
      [0],
    );
    const series = await get(
      `/dicomweb/studies/${A}/series/${A_CT}`,
      'multipart/related; type="application/dicom"',
    );
    assert.equal(
      strictParts(String(series.headers["content-type"]), series.rawPayload, "application/dicom").length,
      3,
    );
    const study = await get(
      `/dicomweb/studies/${A}`,
      'multipart/related; type="application/dicom"; transfer-syntax=*',
    );
    assert.equal(
      strictParts(String(study.headers["content-type"]), study.rawPayload, "application/dicom").length,
      4,
    );
  });

  it("answers 404 for unknown UIDs, 400 for malformed ones and 406 for what it cannot give", async () => {
    assert.equal((await get(`/dicomweb/studies/${newUid()}`)).statusCode, 404);
    assert.equal((await get(`/dicomweb/studies/${A}/series/${newUid()}`)).statusCode, 404);
    assert.equal((await get(`/dicomweb/studies/${A}/series/${A_CT}/instances/${newUid()}`)).statusCode, 404);
    assert.equal(
      (await get(`/dicomweb/studies/${B}/series/${A_CT}/instances/${sop("A_CT_1")}`)).statusCode,
      404,
    );
    assert.equal((await get("/dicomweb/studies/not-a-uid")).statusCode, 400);
    assert.equal((await get(`/dicomweb/studies/${A}?foo=1`)).statusCode, 400);
    assert.equal((await get(`/dicomweb/studies/${A}`, "application/json")).statusCode, 406);
    const wrongTs = await get(
      `/dicomweb/studies/${A}`,
      'multipart/related; type="application/dicom"; transfer-syntax=1.2.840.10008.1.2.4.50',
    );
    assert.equal(wrongTs.statusCode, 406, "no transcoding");
    assert.match(String(wrongTs.headers["warning"]), /^299 radiolens "RL_ERR_NOT_ACCEPTABLE/);
    assert.equal((await get(`${instanceUrl(A, A_CT, "A_CT_1")}/metadata`, "text/html")).statusCode, 406);
  });

  it("gives metadata at study, series and instance level as DICOM JSON with Pixel Data by BulkDataURI", async () => {
    const study = await json(`/dicomweb/studies/${A}/metadata`);
    assert.equal(study.length, 4);
    assert.equal((await json(`/dicomweb/studies/${A}/series/${A_CT}/metadata`)).length, 3);
    const [m] = await json(`${instanceUrl(C, C_CT, "C_DOSE")}/metadata`);
    assert.ok(m);
    assert.deepEqual(m["00100010"], {
      vr: "PN",
      Value: [{ Alphabetic: "Doe^Jonathan", Ideographic: "ド^ジョナサン" }],
    });
    assert.deepEqual(m["00080018"]?.Value, [sop("C_DOSE")]);
    assert.deepEqual(m["00280008"]?.Value, [15], "NumberOfFrames as a number");
    const pixel = m["7FE00010"];
    assert.equal(pixel?.Value, undefined);
    assert.match(String(pixel?.BulkDataURI), new RegExp(`/instances/${sop("C_DOSE")}/frames/1,2,.*,15$`));
    assert.equal(m["00020010"], undefined, "no File Meta");
    assert.ok(!JSON.stringify(m).includes("_rawValue"));
    for (const [tag, a] of Object.entries(m)) {
      assert.match(tag, /^[0-9A-F]{8}$/);
      assert.ok(!a.Value || a.Value.length > 0, `${tag}: an empty value has no Value`);
    }
  });

  it("returns frames uncompressed as application/octet-stream parts in the asked order", async () => {
    const dose = parseDicom(files.get("C_DOSE") as Uint8Array).dataset;
    const raw = dose.get("PixelData")?.value as Uint8Array;
    const size = raw.length / 15;
    const r = await get(`${instanceUrl(C, C_CT, "C_DOSE")}/frames/3,1`);
    assert.equal(r.statusCode, 200, r.body);
    const parts = strictParts(String(r.headers["content-type"]), r.rawPayload, "application/octet-stream");
    assert.equal(
      parts[0]?.headers["content-type"],
      "application/octet-stream; transfer-syntax=1.2.840.10008.1.2.1",
    );
    assert.deepEqual([...(parts[0]?.body ?? [])], [...raw.subarray(2 * size, 3 * size)]);
    assert.deepEqual([...(parts[1]?.body ?? [])], [...raw.subarray(0, size)]);
    // A JPEG 2000 lossless instance gives the same bytes as the native one it was made from.
    const native = (await get(`${instanceUrl(B, B_MR, "B_MR")}/frames/1`)).rawPayload;
    const j2k = await get(
      `${instanceUrl(B, B_MR, "B_MR_J2K")}/frames/1`,
      'multipart/related; type="application/octet-stream"; transfer-syntax=1.2.840.10008.1.2.1',
    );
    assert.equal(j2k.statusCode, 200, j2k.body);
    const a = strictParts(String(j2k.headers["content-type"]), j2k.rawPayload, "application/octet-stream")[0];
    const mr = parseDicom(files.get("B_MR") as Uint8Array).dataset.get("PixelData")?.value as Uint8Array;
    assert.equal(Buffer.compare(a?.body ?? Buffer.alloc(0), Buffer.from(mr)), 0);
    assert.ok(native.length > mr.length);
    const url = `${instanceUrl(C, C_CT, "C_DOSE")}/frames`;
    assert.equal((await get(`${url}/16`)).statusCode, 404, "past the last frame");
    assert.equal((await get(`${url}/0`)).statusCode, 400);
    assert.equal((await get(`${url}/1,x`)).statusCode, 400);
    assert.equal((await get(`${url}/1`, 'multipart/related; type="image/jpeg"')).statusCode, 406);
    assert.equal(
      (
        await get(
          `${url}/1`,
          'multipart/related; type="application/octet-stream"; transfer-syntax=1.2.840.10008.1.2.4.90',
        )
      ).statusCode,
      406,
    );
  });

  it("renders instances and frames as PNG or JPEG by Accept, with the window asked for", async () => {
    const url = instanceUrl(B, B_MR, "B_MR");
    const center = 600;
    const width = 800;
    const png = await get(`${url}/rendered?window=${center},${width},linear`, "image/png");
    assert.equal(png.statusCode, 200, png.body);
    assert.equal(png.headers["content-type"], "image/png");
    const img = decodePng(new Uint8Array(png.rawPayload));
    const ds = parseDicom(files.get("B_MR") as Uint8Array).dataset;
    const raw = ds.get("PixelData")?.value as Uint8Array;
    const stored = new Int16Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
    const slope = ds.number("RescaleSlope") ?? 1;
    const intercept = ds.number("RescaleIntercept") ?? 0;
    let worst = 0;
    for (let i = 0; i < stored.length; i++) {
      const x = (stored[i] as number) * slope + intercept;
      // PS3.3 C.11.2.1.2.1, linear function.
      const y =
        x <= center - 0.5 - (width - 1) / 2
          ? 0
          : x > center - 0.5 + (width - 1) / 2
            ? 255
            : ((x - (center - 0.5)) / (width - 1) + 0.5) * 255;
      worst = Math.max(worst, Math.abs(Number(img.data[i * (img.shape[2] ?? 1)]) - Math.round(y)));
    }
    assert.equal(worst, 0);
    const frame = await get(`${url}/frames/1/rendered?window=${center},${width}`, "image/png");
    assert.equal(Buffer.compare(frame.rawPayload, png.rawPayload), 0, "frame 1 of a single-frame instance");
    const jpg = await get(`${url}/rendered?quality=95`, "image/jpeg");
    assert.equal(jpg.statusCode, 200, jpg.body);
    assert.equal(jpg.headers["content-type"], "image/jpeg");
    const decoded = jpeg.decode(jpg.rawPayload);
    assert.deepEqual([decoded.height, decoded.width], [64, 64]);
    assert.equal((await get(`${url}/rendered`, "text/html")).statusCode, 406);
    assert.equal((await get(`${url}/rendered?quality=0`)).statusCode, 400);
    assert.equal((await get(`${url}/rendered?window=40`)).statusCode, 400);
    assert.equal((await get(`${url}/rendered?viewport=10,10`)).statusCode, 400);
    const dose = await get(`${instanceUrl(C, C_CT, "C_DOSE")}/frames/15/rendered`, "image/*");
    assert.equal(dose.statusCode, 200, dose.body);
    assert.equal(dose.headers["content-type"], "image/png");
    assert.equal((await get(`${instanceUrl(C, C_CT, "C_DOSE")}/frames/1,2/rendered`)).statusCode, 400);
  });
});
