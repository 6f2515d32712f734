/** The worklist, whoami and heatmap routes: status folding, headline finding, results, roles, no data without a credential. */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import type { FastifyInstance } from "fastify";
import { withNewUids, writeTestBundle } from "../../../test/support/serve.js";
import { sharedData } from "../../../test/support/shared-data.js";
import { initEngine, tf } from "../../engine/backend.js";
import { buildApp } from "../app.js";
import { buildMultipart } from "../multipart.js";
import { studyStatus, type WorklistStudy } from "./worklist.js";

const KEYS = { viewer: "worklist-viewer-key-0123", clinician: "worklist-clinician-key-0123" } as const;
const work = mkdtempSync(join(tmpdir(), "rl-worklist-"));
let app: FastifyInstance;

before(async () => {
  await initEngine({ backend: "wasm" });
  await writeTestBundle(join(work, "model"));
  app = await buildApp({
    models: [{ dir: join(work, "model"), id: "default" }],
    dataDir: join(work, "data"),
    auth: {
      apiKeys: [
        { id: "v1", role: "viewer", key: KEYS.viewer },
        { id: "c1", role: "clinician", key: KEYS.clinician },
      ],
    },
  });
  await app.ready();
});

after(async () => {
  await app.close();
  rmSync(work, { recursive: true, force: true });
});

test("studyStatus: running work first, then a finding, then a failure, then the gate's reason", () => {
  const done = { status: "done" as const, error: null };
  assert.deepEqual(studyStatus([done, { status: "running", error: null }], []), { status: "analysing" });
  assert.deepEqual(studyStatus([done, { status: "pending", error: null }], []), { status: "queued" });
  assert.deepEqual(studyStatus([done], [{ label: "pneumonia" }]), { status: "done" });
  assert.deepEqual(studyStatus([{ status: "failed", error: "RL_ERR_X: broken" }], []), {
    status: "failed",
    reason: "RL_ERR_X: broken",
  });
  assert.deepEqual(studyStatus([done], [{ label: "Not analysed: modality SEG is not CR, DX" }]), {
    status: "not analysed",
    reason: "modality SEG is not CR, DX",
  });
  assert.equal(studyStatus([], []).status, "not analysed");
});

test("GET /v1/worklist: a stored study appears with its model, status, finding and SR; heatmap of it as PNG", {
  timeout: 60_000,
}, async () => {
  const study = "1.2.826.0.1.3680043.8.498.7001";
  const { body, contentType } = buildMultipart(
    [withNewUids(sharedData("dicom/pydicom/MR_small.dcm"), { StudyInstanceUID: study })],
    "application/dicom",
  );
  const stow = await app.inject({
    method: "POST",
    url: "/dicomweb/studies",
    headers: { "x-api-key": KEYS.clinician, "content-type": contentType },
    payload: Buffer.from(body),
  });
  assert.equal(stow.statusCode, 200);
  assert.equal((await app.inject({ url: "/v1/worklist" })).statusCode, 401, "no data without a credential");
  let row: WorklistStudy | undefined;
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    const r = await app.inject({ url: "/v1/worklist", headers: { "x-api-key": KEYS.viewer } });
    assert.equal(r.statusCode, 200);
    row = (r.json() as { studies: WorklistStudy[] }).studies.find((s) => s.studyInstanceUid === study);
    assert.ok(row, "the study is listed as soon as it is stored");
    assert.ok(["queued", "analysing", "done"].includes(row.status), row.status);
    if (row.status === "done") break;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.ok(row && row.status === "done", `analysed: ${JSON.stringify(row)}`);
  assert.deepEqual(row.models, ["default"]);
  assert.deepEqual(row.modalities.includes("MR"), true);
  assert.ok(row.finding && /^(normal|pneumonia)$/.test(row.finding.label), JSON.stringify(row.finding));
  assert.ok(row.finding.probability > 0 && row.finding.probability <= 1);
  assert.ok(
    row.results.some((r) => r.modality === "SR"),
    "the SR result is listed with the study",
  );
  assert.ok(row.series.some((s) => s.origin === "received" && s.modality === "MR" && s.instances === 1));

  const who = await app.inject({ url: "/v1/whoami", headers: { "x-api-key": KEYS.viewer } });
  assert.deepEqual(who.json(), { id: "v1", role: "viewer" });

  const tensors = tf.memory().numTensors;
  const heat = await app.inject({
    url: `/v1/heatmaps/${row.finding.sopInstanceUid}`,
    headers: { "x-api-key": KEYS.viewer },
  });
  assert.equal(heat.statusCode, 200, heat.body);
  assert.equal(heat.headers["content-type"], "image/png");
  assert.deepEqual([...heat.rawPayload.subarray(1, 4)], [0x50, 0x4e, 0x47]);
  assert.equal(tf.memory().numTensors, tensors, "Grad-CAM frees its tensors");
  const unknown = await app.inject({ url: "/v1/heatmaps/1.2.3.4", headers: { "x-api-key": KEYS.viewer } });
  assert.equal(unknown.statusCode, 404);
  assert.equal((await app.inject({ url: `/v1/heatmaps/${row.finding.sopInstanceUid}` })).statusCode, 401);
});
