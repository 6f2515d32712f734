/** The intended-use gate in the service: storescu of MR/CT to a chest CR/DX model stores them and sends nothing; a chest CR gets its SR; REST answers 422. */
import assert from "node:assert/strict";
import { type ChildProcess, execFile, execFileSync, spawn } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import type { FastifyInstance } from "fastify";
import { writeTestBundle } from "../../test/support/serve.js";
import { freePort, sharedData } from "../../test/support/shared-data.js";
import { initEngine } from "../engine/backend.js";
import { buildApp } from "./app.js";
import { createResultSender, type DimseServer, startDimseServer } from "./dimse.js";

const work = mkdtempSync(join(tmpdir(), "rl-safety-"));
const outDir = join(work, "pacs");
const DIR = sharedData("dicom/pydicom");
const KEYS = { admin: "admin-key-0123456789", clinician: "clin-key-0123456789" };
/** A chest CR made from CT_small by rewriting Modality, BodyPartExamined and the SOP Instance UID (dcmodify), so the gate lets it in. */
const CR = join(work, "chest_cr.dcm");

let app: FastifyInstance;
let scp: DimseServer;
let pacs: ChildProcess;
let scpPort = 0;

function storescu(files: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(
      "storescu",
      ["-v", "-aet", "MODALITY", "-aec", "RADIOLENS", "-to", "10", "127.0.0.1", String(scpPort), ...files],
      { encoding: "utf8", timeout: 60_000 },
      (err, stdout, stderr) =>
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out: stdout + stderr }),
    );
  });
}

before(async () => {
  await initEngine({ backend: "wasm" });
  await writeTestBundle(join(work, "model"), 1, {
    intendedUse: {
      statement: "Chest radiographs (test bundle).",
      inputs: { modalities: ["CR", "DX"], bodyParts: ["CHEST"] },
    },
  });
  copyFileSync(join(DIR, "CT_small.dcm"), CR);
  execFileSync("dcmodify", ["-nb", "-gin", "-m", "(0008,0060)=CR", "-i", "(0018,0015)=CHEST", CR]);
  mkdirSync(outDir);
  const pacsPort = await freePort();
  pacs = spawn("storescp", ["-aet", "PACS", "-od", outDir, "+uf", String(pacsPort)], { stdio: "ignore" });
  scpPort = await freePort();
  app = await buildApp({
    models: [{ dir: join(work, "model"), id: "chest" }],
    dataDir: join(work, "data"),
    auth: {
      apiKeys: [
        { id: "a", role: "admin", key: KEYS.admin },
        { id: "c", role: "clinician", key: KEYS.clinician },
      ],
    },
    sendResult: createResultSender("RADIOLENS", { aeTitle: "PACS", host: "127.0.0.1", port: pacsPort }),
  });
  await app.ready();
  scp = startDimseServer(app.radiolens, {
    aeTitle: "RADIOLENS",
    port: scpPort,
    allowedCallingAeTitles: ["MODALITY"],
  });
});

after(async () => {
  scp.close();
  await app.close();
  pacs.kill();
  rmSync(work, { recursive: true, force: true });
});

test("storescu of MR_small and CT_small: stored and acknowledged, not analysed, audited with the reason, nothing sent; a chest CR gets its SR and heatmap", async () => {
  const r = await storescu([join(DIR, "MR_small.dcm"), join(DIR, "CT_small.dcm"), CR]);
  assert.equal(r.code, 0, r.out);
  assert.equal((r.out.match(/Received Store Response \(Success\)/g) ?? []).length, 3, r.out);
  const files = (): string[] => (existsSync(outDir) ? readdirSync(outDir) : []);
  const t0 = Date.now();
  while (Date.now() - t0 < 30_000) {
    const done = (await app.radiolens.repo.listJobs(10)).filter((j) => j.status === "done").length;
    if (done === 3 && files().length >= 2 && (await app.radiolens.repo.countSends("pending")) === 0) break;
    await new Promise((res) => setTimeout(res, 50));
  }
  await new Promise((res) => setTimeout(res, 300));
  assert.equal(
    (await app.radiolens.repo.findInstances({ origin: "received" })).length,
    3,
    "all three stored",
  );
  const jobs = await app.radiolens.repo.listJobs(10);
  assert.deepEqual(
    jobs.map((j) => j.status),
    ["done", "done", "done"],
  );
  // One SR and one Secondary Capture, both for the CR; none for the MR or the CT.
  const sent = files();
  assert.equal(sent.filter((f) => f.startsWith("SR")).length, 1, sent.join(", "));
  assert.equal(sent.length, 2, sent.join(", "));
  const sr = sent.find((f) => f.startsWith("SR")) as string;
  const dump = execFileSync("dsrdump", ["-Ee", join(outDir, sr)], { encoding: "utf8" });
  assert.match(dump, /Model output 'pneumonia'/);
  const audit = await app.radiolens.repo.listAudit(100, "110103");
  const refused = audit.filter((a) => a.detail.startsWith("not analysed"));
  assert.equal(refused.length, 2, audit.map((a) => a.detail).join(" | "));
  assert.ok(
    refused.some((a) => /Modality MR is outside this model's intended use \(CR, DX\)/.test(a.detail)),
  );
  assert.ok(
    refused.some((a) => /Modality CT is outside this model's intended use \(CR, DX\)/.test(a.detail)),
  );
  const preds = (
    await Promise.all(
      (
        await app.radiolens.repo.findInstances({ origin: "received" })
      ).map((i) => app.radiolens.repo.predictionsFor(i.sopInstanceUid)),
    )
  ).flat();
  assert.equal(preds.filter((p) => p.label.startsWith("Not analysed: Modality")).length, 2);
  assert.equal(preds.filter((p) => p.resultSopInstanceUid !== null).length, 1);
});

test("REST predict of MR_small: 422 RL_ERR_OUTSIDE_INTENDED_USE naming attribute, value and allowed values; force is for administrators and is marked", async () => {
  const body = readFileSync(join(DIR, "MR_small.dcm"));
  const post = (key: string, q = "") =>
    app.inject({
      method: "POST",
      url: `/v1/models/chest/predict${q}`,
      headers: { "x-api-key": key, "content-type": "application/dicom" },
      payload: body,
    });
  const r = await post(KEYS.clinician);
  assert.equal(r.statusCode, 422, r.body);
  const err = r.json().error as { code: string; message: string };
  assert.equal(err.code, "RL_ERR_OUTSIDE_INTENDED_USE");
  assert.match(err.message, /Modality MR is outside this model's intended use \(CR, DX\)/);
  assert.equal((await post(KEYS.clinician, "?force=true")).statusCode, 403);
  const f = await post(KEYS.admin, "?force=true");
  assert.equal(f.statusCode, 200, f.body);
  assert.equal(f.json().forced, true);
  assert.match(f.json().notes[0], /Modality MR/);
  const cr = await app.inject({
    method: "POST",
    url: "/v1/models/chest/predict",
    headers: { "x-api-key": KEYS.clinician, "content-type": "application/dicom" },
    payload: readFileSync(CR),
  });
  assert.equal(cr.statusCode, 200, cr.body);
  assert.equal(cr.json().forced, undefined);
});
