/** Two service instances on one PostgreSQL database and one instance folder: STOW-RS to either, every instance analysed once, every result sent once. */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import type { FastifyInstance } from "fastify";
import { type PostgresCluster, startPostgresCluster } from "../../test/support/postgres.js";
import { withNewUids, writeTestBundle } from "../../test/support/serve.js";
import { freePort, sharedData } from "../../test/support/shared-data.js";
import { initEngine } from "../engine/backend.js";
import { buildApp } from "./app.js";
import { createResultSender } from "./dimse.js";
import { buildMultipart } from "./multipart.js";

const work = mkdtempSync(join(tmpdir(), "rl-multi-"));
const KEY = "multi-admin-key-0123456789";
let cluster: PostgresCluster | undefined;
let pacs: ChildProcess | undefined;

before(async () => {
  await initEngine({ backend: "wasm" });
  await writeTestBundle(join(work, "model"));
  cluster = startPostgresCluster();
});

after(() => {
  if (pacs?.exitCode === null) pacs.kill("SIGKILL");
  cluster?.stop();
  rmSync(work, { recursive: true, force: true });
});

async function listening(port: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const up = await new Promise<boolean>((res) => {
      const s = connect(port, "127.0.0.1", () => {
        s.destroy();
        res(true);
      });
      s.on("error", () => res(false));
    });
    if (up) return;
    if (Date.now() > deadline) throw new Error("storescp did not start");
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The `radiolens_jobs_total{outcome="done"}` counter of one instance: the analyses it ran itself. */
async function doneHere(app: FastifyInstance): Promise<number> {
  const r = await app.inject({ url: "/metrics", headers: { "x-api-key": KEY } });
  return Number(/^radiolens_jobs_total\{outcome="done"\} (\d+)$/m.exec(r.body)?.[1] ?? 0);
}

test("two instances share one PostgreSQL queue and one folder: 24 instances analysed exactly once, 48 results sent once", {
  timeout: 120_000,
}, async () => {
  assert.ok(cluster);
  const store = await cluster.createDatabase("shared");
  const outDir = join(work, "pacs");
  mkdirSync(outDir);
  const pacsPort = await freePort();
  pacs = spawn("storescp", ["-aet", "PACS", "-od", outDir, String(pacsPort)], { stdio: "ignore" });
  await listening(pacsPort);
  const make = (): Promise<FastifyInstance> =>
    buildApp({
      models: [{ dir: join(work, "model"), id: "default" }],
      dataDir: join(work, "data"),
      store,
      auth: { apiKeys: [{ id: "ops", role: "admin", key: KEY }] },
      decodeWorkers: 0,
      worker: { concurrency: 2 },
      sendResult: createResultSender("RADIOLENS", { aeTitle: "PACS", host: "127.0.0.1", port: pacsPort }),
    });
  // Started together: both create the schema under the advisory lock.
  const [a, b] = await Promise.all([make(), make()]);
  await Promise.all([a.ready(), b.ready()]);
  try {
    const N = 24;
    const ct = sharedData("dicom/pydicom/CT_small.dcm");
    await Promise.all(
      Array.from({ length: N }, async (_, i) => {
        const { body, contentType } = buildMultipart([withNewUids(ct)], "application/dicom");
        const r = await (i % 2 ? a : b).inject({
          method: "POST",
          url: "/dicomweb/studies",
          headers: { "x-api-key": KEY, "content-type": contentType },
          payload: body,
        });
        assert.equal(r.statusCode, 200, r.body);
      }),
    );
    const repo = a.radiolens.repo;
    const deadline = Date.now() + 90_000;
    while (
      Date.now() < deadline &&
      ((await repo.countJobs("done")) < N || (await repo.countSends("sent")) < 2 * N)
    )
      await new Promise((r) => setTimeout(r, 100));
    assert.equal(await repo.countJobs("done"), N, "every job done");
    assert.equal(await repo.countPredictions(), N, "one prediction per instance");
    const [doneA, doneB] = [await doneHere(a), await doneHere(b)];
    assert.equal(doneA + doneB, N, `analyses: ${doneA} by A + ${doneB} by B, none twice`);
    assert.ok(doneA > 0 && doneB > 0, `both instances analysed (${doneA}, ${doneB})`);
    const exports = (await b.radiolens.repo.listAudit(1000, "110106")).filter((x) => x.outcome === 0);
    assert.equal(exports.length, 2 * N, "each SR and SC sent once");
    assert.equal(readdirSync(outDir).filter((f) => f.startsWith("SR")).length, N);
    // Results written by one instance are served by the other: one shared folder.
    const q = await b.inject({ url: "/dicomweb/instances?limit=1000", headers: { "x-api-key": KEY } });
    const uids = (JSON.parse(q.body) as Record<string, { Value: string[] }>[]).map(
      (x) => x["00080018"]?.Value[0],
    );
    assert.equal(uids.length, 3 * N, "24 received + 24 SR + 24 SC indexed");
    for (const app of [a, b]) {
      const r = await app.inject({
        url: (JSON.parse(q.body)[0]["00081190"].Value[0] as string).replace(/^https?:\/\/[^/]+/, ""),
        headers: { "x-api-key": KEY },
      });
      assert.equal(r.statusCode, 200);
    }
  } finally {
    await Promise.all([a.close(), b.close()]);
  }
});
