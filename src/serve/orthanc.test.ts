/** Orthanc as the PACS: it routes a chest radiograph to RadioLens by C-STORE and receives the TID 1500 SR and the Grad-CAM Parametric Map; a SEG reaches it by STOW-RS; its DICOMweb client queries RadioLens. */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { FastifyInstance } from "fastify";
import { dciodvfyErrors } from "../../test/support/dciodvfy.js";
import { type OrthancInstance, startOrthanc } from "../../test/support/orthanc.js";
import {
  type OrthancPacs,
  orthancStudyInstances,
  startOrthancPacs,
} from "../../test/support/orthanc-pacs.js";
import { pydicomSegCheck } from "../../test/support/seg-check.js";
import { chestRadiograph, writeTestBundle } from "../../test/support/serve.js";
import { sharedData } from "../../test/support/shared-data.js";
import { ctSeries, ellipsoidLabels } from "../../test/support/synthetic-ct.js";
import { initEngine } from "../engine/backend.js";
import { parseDicom } from "../io/dicom/index.js";
import { writeSegmentation } from "../results/seg.js";
import { sourceSeriesOf } from "../results/source.js";
import { buildApp } from "./app.js";
import { createStowSender } from "./stow-client.js";

const work = mkdtempSync(join(tmpdir(), "rl-orthanc-test-"));
const KEY = "viewer-key-0123456789";
let orthanc: OrthancInstance;
let app: FastifyInstance;
let pacs: OrthancPacs | undefined;

async function sopClassOf(id: string): Promise<string> {
  return (await orthanc.text(`/instances/${id}/content/0008-0016`)).replace(/[\0 ]+$/, "");
}

function checkFile(bytes: Uint8Array, name: string): { errors: string[]; output: string; path: string } {
  const path = join(work, name);
  writeFileSync(path, bytes);
  return { ...dciodvfyErrors(path), path };
}

before(async () => {
  await initEngine({ backend: "wasm" });
  await writeTestBundle(join(work, "model"));
  pacs = await startOrthancPacs((_, cstore) =>
    buildApp({
      models: [
        { dir: join(work, "model"), id: "default", results: ["measurement-report", "parametric-map"] },
      ],
      dataDir: join(work, "data"),
      auth: { apiKeys: [{ id: "v", role: "admin", key: KEY }] },
      sendResult: cstore,
    }),
  );
  ({ orthanc, app } = pacs);
});

after(async () => {
  await pacs?.close();
  rmSync(work, { recursive: true, force: true });
});

describe("Orthanc as the PACS", () => {
  it("routes a chest radiograph to RadioLens by C-STORE and receives a TID 1500 SR and a Parametric Map", async () => {
    const cr = chestRadiograph(sharedData("xray", "COVID-00003b.jpg"));
    const ds = parseDicom(cr).dataset;
    const studyUid = ds.uid("StudyInstanceUID") as string;
    const crUid = ds.uid("SOPInstanceUID") as string;
    const uploaded = await orthanc.rest<{ ID: string }>("/instances", cr);
    // Orthanc sends the image on as a modality's router would (C-STORE SCU to RADIOLENS).
    const job = await orthanc.rest<{ Failed?: number }>("/modalities/radiolens/store", {
      Resources: [uploaded.ID],
      Synchronous: true,
    });
    assert.equal(job.Failed ?? 0, 0);
    let got: { ID: string }[] = [];
    const deadline = Date.now() + 90_000;
    while (Date.now() < deadline) {
      got = await orthancStudyInstances(orthanc, studyUid);
      if (got.length >= 3) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    assert.equal(got.length, 3, "the radiograph, the SR and the Parametric Map are in Orthanc's study");
    const byClass = new Map<string, string>();
    for (const i of got) byClass.set(await sopClassOf(i.ID), i.ID);
    const srId = byClass.get("1.2.840.10008.5.1.4.1.1.88.33");
    const pmId = byClass.get("1.2.840.10008.5.1.4.1.1.30");
    assert.ok(srId && pmId, [...byClass.keys()].join(", "));

    // The SR as Orthanc stores it: conformant, TID 1500, with the algorithm as Contributing Equipment.
    const srBytes = await orthanc.bytes(`/instances/${srId}/file`);
    const sr = checkFile(srBytes, "sr.dcm");
    assert.deepEqual(sr.errors, [], sr.output);
    const dump = spawnSync("dsrdump", ["-Ei", sr.path], { encoding: "utf8" });
    assert.equal(dump.status, 0, dump.stderr);
    assert.match(dump.stdout, /Imaging Measurement Report/);
    assert.match(dump.stdout, /Probability/);
    const srDs = parseDicom(srBytes).dataset;
    assert.equal(srDs.items("ContentTemplateSequence")[0]?.string("TemplateIdentifier"), "1500");
    const eq = srDs.items("ContributingEquipmentSequence")[0];
    assert.equal(eq?.string("Manufacturer"), "RadioLens");
    assert.equal(eq?.string("ManufacturerModelName"), "seed-cnn-test");
    assert.equal(eq?.string("SoftwareVersions"), "0.0.1-test");
    const evidence = srDs
      .items("CurrentRequestedProcedureEvidenceSequence")[0]
      ?.items("ReferencedSeriesSequence")[0];
    assert.equal(evidence?.items("ReferencedSOPSequence")[0]?.uid("ReferencedSOPInstanceUID"), crUid);

    // The Parametric Map: conformant, on the radiograph's grid, float values in [0, 1] derived from it.
    const pmBytes = await orthanc.bytes(`/instances/${pmId}/file`);
    const pm = checkFile(pmBytes, "pm.dcm");
    assert.deepEqual(pm.errors, [], pm.output);
    const pmDs = parseDicom(pmBytes).dataset;
    assert.equal(pmDs.number("Rows"), ds.number("Rows"));
    assert.equal(pmDs.number("Columns"), ds.number("Columns"));
    assert.ok(pmDs.items("ContributingEquipmentSequence").length === 1);
    const floats = pmDs.get(0x7fe00008)?.value as Uint8Array;
    const values = new Float32Array(
      floats.buffer.slice(floats.byteOffset, floats.byteOffset + floats.byteLength),
    );
    assert.equal(values.length, (ds.number("Rows") ?? 0) * (ds.number("Columns") ?? 0));
    assert.ok(values.every((v) => v >= 0 && v <= 1));
    assert.ok(
      Math.max(...values.subarray(0, 100_000)) > Math.min(...values.subarray(0, 100_000)),
      "not a flat map",
    );
  });

  it("receives a SEG by STOW-RS whose frames, read back from Orthanc and decoded by pydicom, equal the mask", async () => {
    const { files } = ctSeries(7, 40, 5);
    for (const f of files) await orthanc.rest("/instances", f);
    const series = sourceSeriesOf(files.map((f) => parseDicom(f)));
    const labels = ellipsoidLabels(7, 40);
    const seg = writeSegmentation(labels, series, {
      algorithm: { name: "unet-test", version: "1.0.0" },
      segments: [
        { labelValue: 1, label: "Organ" },
        { labelValue: 2, label: "Lesion" },
      ],
    });
    const path = join(work, "seg-out.dcm");
    writeFileSync(path, seg);
    const status = await createStowSender({ url: `${orthanc.url}/dicom-web` })(path);
    assert.equal(status, 0);
    const segUid = parseDicom(seg).dataset.uid("SOPInstanceUID") as string;
    const found = await orthanc.rest<{ Type: string; ID: string }[]>("/tools/lookup", segUid);
    const id = found.find((f) => f.Type === "Instance")?.ID;
    assert.ok(id, "Orthanc has the SEG");
    const back = await orthanc.bytes(`/instances/${id}/file`);
    const check = pydicomSegCheck(back, series, [1, 2], labels);
    assert.ok(check.ok, check.problems.join("; "));
    assert.deepEqual(checkFile(back, "seg.dcm").errors, []);
  });

  it("Orthanc's DICOMweb client queries RadioLens's QIDO-RS and finds the received study", async () => {
    const addr = app.server.address();
    const port = typeof addr === "object" && addr ? addr.port : 0;
    const o2 = await startOrthanc({
      dicomWebServers: {
        radiolens: { Url: `http://127.0.0.1:${port}/dicomweb/`, HttpHeaders: { "x-api-key": KEY } },
      },
    });
    try {
      const studies = await o2.rest<Record<string, { Value?: unknown[] }>[]>(
        "/dicom-web/servers/radiolens/get",
        {
          Uri: "/studies",
        },
      );
      assert.ok(Array.isArray(studies) && studies.length >= 1, JSON.stringify(studies).slice(0, 300));
      assert.ok(studies.every((s) => s["0020000D"]?.Value?.length === 1));
    } finally {
      await o2.stop();
    }
  });
});
