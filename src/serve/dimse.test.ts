/** DIMSE with dcmtk on loopback: storescu → our C-STORE SCP → analysis → SR by C-STORE to a dcmtk storescp, checked by dsrdump. */
import assert from "node:assert/strict";
import { type ChildProcess, execFile, execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import type { FastifyInstance } from "fastify";
import { writeTestBundle } from "../../test/support/serve.js";
import { freePort, sharedData } from "../../test/support/shared-data.js";
import { initEngine } from "../engine/backend.js";
import { parseDicom } from "../io/dicom/index.js";
import { buildApp } from "./app.js";
import { createResultSender, type DimseServer, startDimseServer } from "./dimse.js";

const work = mkdtempSync(join(tmpdir(), "rl-dimse-"));
const outDir = join(work, "pacs");
const DIR = sharedData("dicom/pydicom");
/** The CT and MR files of the pydicom set that are whole files (MR_truncated.dcm is damaged on purpose). */
const FILES = readdirSync(DIR)
  .filter((f) => /^(CT|MR)_.*\.dcm$/.test(f) && f !== "MR_truncated.dcm")
  .sort();

let app: FastifyInstance;
let scp: DimseServer;
let pacs: ChildProcess;
let scpPort = 0;

/** storescu's option that proposes a file's own compressed transfer syntax (it cannot decompress these itself). */
const PROPOSE: Readonly<Record<string, string>> = {
  "1.2.840.10008.1.2.5": "-xr",
  "1.2.840.10008.1.2.4.80": "-xt",
  "1.2.840.10008.1.2.4.90": "-xv",
};

function storescu(
  callingAe: string,
  files: string[],
  propose: string[] = [],
): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(
      "storescu",
      [
        "-v",
        ...propose,
        "-aet",
        callingAe,
        "-aec",
        "RADIOLENS",
        "-to",
        "10",
        "127.0.0.1",
        String(scpPort),
        ...files,
      ],
      { encoding: "utf8", timeout: 60_000 },
      (err, stdout, stderr) =>
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out: stdout + stderr }),
    );
  });
}

before(async () => {
  await initEngine({ backend: "wasm" });
  await writeTestBundle(join(work, "model"));
  mkdirSync(outDir);
  const pacsPort = await freePort();
  pacs = spawn("storescp", ["-aet", "PACS", "-od", outDir, "+uf", String(pacsPort)], { stdio: "ignore" });
  scpPort = await freePort();
  app = await buildApp({
    models: [{ dir: join(work, "model"), id: "default" }],
    dataDir: join(work, "data"),
    auth: { apiKeys: [{ id: "a", role: "admin", key: "admin-key-0123456789" }] },
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

test(`storescu sends ${FILES.length} CT/MR files: all acknowledged, one SR per stored version reaches storescp within 5 s and passes dsrdump`, async () => {
  assert.ok(FILES.length >= 8, FILES.join(", "));
  // One association per transfer syntax family, as a modality configured for each would send them.
  const groups = new Map<string, string[]>();
  for (const f of FILES) {
    const ts = parseDicom(new Uint8Array(readFileSync(join(DIR, f))), {
      untilTag: 0x00080000,
    }).transferSyntaxUID;
    const opt = PROPOSE[ts] ?? "";
    groups.set(opt, [...(groups.get(opt) ?? []), join(DIR, f)]);
  }
  assert.ok(groups.size >= 3, "compressed and uncompressed files are both sent");
  const t0 = Date.now();
  let ok = 0;
  for (const [opt, files] of groups) {
    const r = await storescu("MODALITY", files, opt ? [opt] : []);
    assert.equal(r.code, 0, r.out);
    ok += (r.out.match(/Received Store Response \(Success\)/g) ?? []).length;
  }
  assert.equal(ok, FILES.length, "every file acknowledged with Success");
  // Bounded wait: one SR per stored version. storescu converts the big-endian files to little endian on the
  // wire, so some files arrive as byte-identical retransmissions: acknowledged, stored once, analysed once.
  const versions = (await app.radiolens.repo.listJobs(100)).length;
  assert.ok(versions >= 6 && versions <= FILES.length, `${versions} distinct versions`);
  const srs = (): string[] =>
    existsSync(outDir) ? readdirSync(outDir).filter((f) => f.startsWith("SR")) : [];
  const exported = async (): Promise<number> => (await app.radiolens.repo.listAudit(1000, "110106")).length;
  const scs = (): string[] =>
    existsSync(outDir) ? readdirSync(outDir).filter((f) => !f.startsWith("SR")) : [];
  while ((srs().length < versions || (await exported()) < 2 * versions) && Date.now() - t0 < 30_000)
    await new Promise((res) => setTimeout(res, 25));
  const jobs = await app.radiolens.repo.listJobs(100);
  const state = jobs.map((j) => `${j.status}${j.error ? ` ${j.error}` : ""}`).join("; ");
  assert.equal(srs().length, versions, `SRs: ${srs().length}; jobs: ${state}`);
  assert.equal(scs().length, versions, "one heatmap Secondary Capture per stored version");
  for (const f of scs()) {
    const dump = execFileSync("dcmdump", ["+L", join(outDir, f)], { encoding: "utf8" });
    assert.match(dump, /\(0008,0008\) CS \[DERIVED\\SECONDARY\]/);
    assert.match(dump, /\(0028,0301\) CS \[YES\]/, "Burned In Annotation");
    assert.match(dump, /\(0008,0016\) UI =SecondaryCaptureImageStorage/);
  }
  // Per instance: from the audited store (acknowledgement) to the audited export (storescp's C-STORE success).
  const audit = await app.radiolens.repo.listAudit(10_000);
  for (const j of jobs) {
    const stored = audit.find(
      (a) => a.eventId === "110104" && a.object === `instance:${j.sha256.slice(0, 16)}`,
    );
    // listAudit is newest first: the first match is the job's last object (the SC after the SR).
    const sent = audit.find((a) => a.eventId === "110106" && a.object === `job:${j.id}` && a.outcome === 0);
    assert.ok(stored && sent, `job ${j.id} stored and sent`);
    const ms = Date.parse(sent.time) - Date.parse(stored.time);
    assert.ok(
      ms <= 5000,
      `SR and SC of job ${j.id} reached storescp ${ms} ms after the instance was acknowledged`,
    );
  }
  for (const f of srs()) {
    const dump = execFileSync("dsrdump", ["-Ee", "+Pl", join(outDir, f)], { encoding: "utf8" });
    assert.match(dump, /Comprehensive SR Document/);
    assert.match(dump, /Model output 'pneumonia': probability/);
  }
  const sent = await app.radiolens.repo.listAudit(1000, "110106");
  assert.equal(
    sent.filter((a) => a.outcome === 0).length,
    2 * versions,
    "one export audit record per object sent",
  );
  assert.equal(await app.radiolens.repo.countPredictions(), versions, "each stored version analysed once");
});

test("an unknown calling AE title is rejected and audited; a damaged file is refused with 0xC000, nothing stored", async () => {
  const before = (await app.radiolens.repo.findInstances({ origin: "received" })).length;
  const r = await storescu("INTRUDER", [join(DIR, "CT_small.dcm")]);
  assert.notEqual(r.code, 0);
  assert.match(r.out, /Association Rejected|rejected/i);
  assert.ok(
    (await app.radiolens.repo.listAudit(100, "110114")).some(
      (a) => a.user === "ae:INTRUDER" && a.outcome === 4,
    ),
    "failed association audited",
  );
  assert.equal((await app.radiolens.repo.findInstances({ origin: "received" })).length, before);
});
