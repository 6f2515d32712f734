/** Orthanc's DICOMweb client against RadioLens: it searches our QIDO-RS and retrieves a study by WADO-RS into its own store, byte for byte. */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { FastifyInstance } from "fastify";
import { archiveApp } from "../../test/support/archive-app.js";
import { type OrthancInstance, startOrthanc } from "../../test/support/orthanc.js";
import { sharedData } from "../../test/support/shared-data.js";
import { parseDicom, writeDicom } from "../io/dicom/index.js";
import { newUid } from "../radiology-reports/sr.js";
import { buildMultipart } from "./multipart.js";

const work = mkdtempSync(join(tmpdir(), "rl-orthanc-dicomweb-"));
const KEY = "viewer-key-0123456789";
let app: FastifyInstance;
let orthanc: OrthancInstance;

type Json = Record<string, { vr: string; Value?: unknown[] }>;

const STUDY = newUid();
const SERIES = [newUid(), newUid()];
const sent = new Map<string, Uint8Array>();

before(async () => {
  app = await archiveApp(work, KEY);
  await app.listen({ host: "127.0.0.1", port: 0 });
  const sources = ["CT_small.dcm", "CT_small.dcm", "MR_small.dcm"];
  for (const [i, name] of sources.entries()) {
    const parsed = parseDicom(new Uint8Array(readFileSync(sharedData("dicom", "pydicom", name))));
    const sop = newUid();
    parsed.dataset.setString("StudyInstanceUID", STUDY);
    parsed.dataset.setString("SeriesInstanceUID", SERIES[i < 2 ? 0 : 1] as string);
    parsed.dataset.setString("SOPInstanceUID", sop);
    parsed.dataset.setString("PatientID", "ORTHANC-DW-1");
    parsed.dataset.setString("PatientName", "Webclient^Test");
    parsed.meta.setString("MediaStorageSOPInstanceUID", sop);
    sent.set(sop, writeDicom(parsed));
  }
  const { body, contentType } = buildMultipart([...sent.values()], "application/dicom");
  const r = await app.inject({
    method: "POST",
    url: "/dicomweb/studies",
    headers: { "x-api-key": KEY, "content-type": contentType },
    payload: body,
  });
  assert.equal(r.statusCode, 200, r.body);
  const addr = app.server.address();
  const port = typeof addr === "object" && addr ? addr.port : 0;
  orthanc = await startOrthanc({
    dicomWebServers: {
      radiolens: { Url: `http://127.0.0.1:${port}/dicomweb/`, HttpHeaders: { "x-api-key": KEY } },
    },
  });
});

after(async () => {
  await orthanc?.stop();
  await app?.close();
  rmSync(work, { recursive: true, force: true });
});

describe("Orthanc's DICOMweb client", () => {
  it("searches RadioLens's QIDO-RS at study, series and instance level with matching keys", async () => {
    // /qido: Orthanc's client parses the answer into its own tag map (one value per tag, as text).
    type Parsed = Record<string, { Name: string; Value?: string }>;
    const qido = (Uri: string, Arguments: Record<string, string> = {}) =>
      orthanc.rest<Parsed[]>("/dicom-web/servers/radiolens/qido", { Uri, Arguments });
    const studies = await qido("/studies", {
      PatientID: "ORTHANC-DW-1",
      PatientName: "webclient",
      fuzzymatching: "true",
    });
    assert.deepEqual(
      studies.map((s) => s["0020000D"]?.Value),
      [STUDY],
    );
    assert.equal(studies[0]?.["00100010"]?.Value, "Webclient^Test");
    const series = await qido(`/studies/${STUDY}/series`, { Modality: "CT" });
    assert.deepEqual(
      series.map((s) => s["0020000E"]?.Value),
      [SERIES[0]],
    );
    const instances = await qido(`/studies/${STUDY}/series/${SERIES[0]}/instances`);
    assert.deepEqual(instances.map((i) => i["00080018"]?.Value).sort(), [...sent.keys()].slice(0, 2).sort());
    assert.deepEqual(await qido("/studies", { PatientID: "nobody" }), []);
    // /get: the same search's DICOM JSON as RadioLens answered it.
    const raw = await orthanc.rest<Json[]>("/dicom-web/servers/radiolens/get", {
      Uri: "/studies",
      Arguments: { PatientID: "ORTHANC-DW-1" },
    });
    assert.deepEqual(raw[0]?.["00201208"]?.Value, [3]);
    assert.deepEqual(raw[0]?.["00080061"]?.Value, ["CT", "MR"]);
  });

  it("retrieves the study by WADO-RS into Orthanc, every instance byte for byte", async () => {
    await orthanc.rest("/dicom-web/servers/radiolens/retrieve", { Resources: [{ Study: STUDY }] });
    const found = await orthanc.rest<{ Type: string; ID: string }[]>("/tools/lookup", STUDY);
    const study = found.find((f) => f.Type === "Study");
    assert.ok(study, "Orthanc has the study");
    const got = await orthanc.rest<{ ID: string; MainDicomTags: Record<string, string> }[]>(
      `/studies/${study.ID}/instances`,
    );
    assert.deepEqual(got.map((i) => i.MainDicomTags["SOPInstanceUID"]).sort(), [...sent.keys()].sort());
    for (const i of got) {
      const bytes = await orthanc.bytes(`/instances/${i.ID}/file`);
      const mine = sent.get(i.MainDicomTags["SOPInstanceUID"] as string) as Uint8Array;
      assert.equal(Buffer.compare(Buffer.from(bytes), Buffer.from(mine)), 0, "the stored file, unchanged");
    }
  });

  it("reads RadioLens's WADO-RS metadata and a rendered instance through its client", async () => {
    const sop = [...sent.keys()][2] as string;
    const path = `/studies/${STUDY}/series/${SERIES[1]}/instances/${sop}`;
    const meta = await orthanc.rest<Json[]>("/dicom-web/servers/radiolens/get", { Uri: `${path}/metadata` });
    assert.deepEqual(meta[0]?.["00080018"]?.Value, [sop]);
    assert.match(String((meta[0]?.["7FE00010"] as { BulkDataURI?: string })?.BulkDataURI), /\/frames\/1$/);
    // Orthanc's client proxies the GET and answers the bytes as RadioLens sent them.
    const viaPost = await postBytes("/dicom-web/servers/radiolens/get", { Uri: `${path}/rendered` });
    assert.deepEqual([...viaPost.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], "a PNG");
  });
});

async function postBytes(path: string, body: unknown): Promise<Uint8Array> {
  const r = await fetch(`${orthanc.url}${path}`, { method: "POST", body: JSON.stringify(body) });
  assert.equal(r.status, 200);
  return new Uint8Array(await r.arrayBuffer());
}
