/** pg-boss under the PostgreSQL repository: failures at the limit and sends out of tries land in the dead-letter queues, visible in /metrics and /v1/dead-letters. */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { PgBoss } from "pg-boss";
import { type PostgresCluster, startPostgresCluster } from "../../../test/support/postgres.js";
import { writeTestBundle } from "../../../test/support/serve.js";
import { initEngine } from "../../engine/backend.js";
import { buildApp } from "../app.js";
import { openPostgresRepository, QUEUES } from "./postgres.js";
import type { InstanceRecord } from "./sqlite.js";

const work = mkdtempSync(join(tmpdir(), "rl-dead-"));
const KEY = "dead-letter-admin-key-0123456789";
let cluster: PostgresCluster | undefined;

before(() => {
  cluster = startPostgresCluster();
});
after(() => {
  cluster?.stop();
  rmSync(work, { recursive: true, force: true });
});

const instance = (n: number): InstanceRecord => {
  const sha256 = n.toString(16).padStart(64, "0");
  return {
    sopInstanceUid: `1.2.826.0.9.${n}`,
    sopClassUid: "1.2.840.10008.5.1.4.1.1.2",
    studyInstanceUid: "1.2.826.0.9",
    seriesInstanceUid: "1.2.826.0.9.1",
    modality: "CT",
    studyDate: "20240101",
    patientId: "P",
    patientName: "",
    accessionNumber: "",
    sha256,
    fileKey: `${sha256.slice(0, 2)}/${sha256}.dcm`,
    size: 1,
    origin: "received",
    receivedAt: new Date().toISOString(),
  };
};

test("a job failed at its limit and a send out of tries are dead-lettered in pg-boss and shown by the admin API", {
  timeout: 120_000,
}, async () => {
  assert.ok(cluster);
  const dsn = await cluster.createDatabase("dead");
  const repo = await openPostgresRepository(dsn, { maxSendAttempts: 2 });
  const boss = new PgBoss({ connectionString: dsn, supervise: false, schedule: false, migrate: false });
  boss.on("error", () => {});
  await boss.start();
  await initEngine({ backend: "wasm" });
  await writeTestBundle(join(work, "model"));
  const app = await buildApp({
    models: [{ dir: join(work, "model"), id: "default" }],
    dataDir: join(work, "data"),
    repository: repo,
    auth: { apiKeys: [{ id: "ops", role: "admin", key: KEY }] },
    decodeWorkers: 0,
    worker: { enabled: false },
  });
  try {
    await repo.addInstance(instance(1), ["m1"]);
    await repo.addInstance(instance(2), ["m1"]);
    const a = await repo.claimJob();
    assert.ok(a);
    await repo.failJob(a.id, "RL_ERR_DICOM: not decodable", 0);
    const dead = (await boss.findJobs(QUEUES.analysisDead, { limit: 10 })) as unknown as {
      data: { jobId: number; error: string };
    }[];
    assert.deepEqual(
      dead.map((j) => j.data),
      [{ jobId: a.id, error: "RL_ERR_DICOM: not decodable" }],
      "the pg-boss dead-letter queue holds the failed job",
    );
    // A send that fails on each of its 2 tries is dead-lettered.
    const b = await repo.claimJob();
    assert.ok(b);
    await repo.completeJob(b.id, { ...pred(b.sopInstanceUid) }, [{ ...instance(3), origin: "result" }], true);
    for (let k = 0; k < 2; k++) {
      const s = await repo.claimSend();
      assert.ok(s, `try ${k + 1}`);
      await repo.retrySend(s.id, "ECONNREFUSED: down", 0);
    }
    assert.equal(await repo.claimSend(), undefined, "no third try");
    assert.equal(await repo.countSends("failed"), 1);
    const deadSends = (await boss.findJobs(QUEUES.resultsDead, { limit: 10 })) as unknown as {
      data: { error: string };
    }[];
    assert.equal(deadSends.length, 1);
    assert.equal(deadSends[0]?.data.error, "ECONNREFUSED: down");

    const metrics = await app.inject({ url: "/metrics", headers: { "x-api-key": KEY } });
    assert.match(metrics.body, /^radiolens_jobs_failed 1$/m);
    assert.match(metrics.body, /^radiolens_result_sends_failed 1$/m);
    const r = await app.inject({ url: "/v1/dead-letters", headers: { "x-api-key": KEY } });
    assert.equal(r.statusCode, 200);
    const body = JSON.parse(r.body) as {
      jobs: { count: number; items: { id: number; error: string }[] };
      sends: { count: number; items: { attempts: number }[] };
    };
    assert.equal(body.jobs.count, 1);
    assert.equal(body.jobs.items[0]?.id, a.id);
    assert.equal(body.sends.count, 1);
    assert.equal(body.sends.items[0]?.attempts, 2);
    const viewer = await app.inject({ url: "/v1/dead-letters" });
    assert.equal(viewer.statusCode, 401, "admin only");
  } finally {
    await app.close();
    await repo.close();
    await boss.stop({ graceful: false });
  }
});

const pred = (sop: string) => ({
  sopInstanceUid: sop,
  modelId: "m1",
  modelVersion: "1",
  label: "normal",
  probabilities: { normal: 1 },
  resultSopInstanceUid: null,
});
