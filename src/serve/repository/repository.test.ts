/** Repository contract: one test body run against SQLite and a real PostgreSQL; then two processes' worth of workers on one PostgreSQL queue. */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { findPostgresBin, startPostgresCluster } from "../../../test/support/postgres.js";
import { testInstance as instance, repositoryHarness } from "../../../test/support/repository.js";
import { isRadioLensError } from "../../core/errors.js";
import { ClaimLoop } from "../analysis.js";
import { openRepository } from "./open.js";
import { isPostgresDsn, openPostgresRepository, redactDsn } from "./postgres.js";
import type { QidoColumn, QidoFilter, QidoLevel } from "./queries.js";
import type { Repository } from "./sqlite.js";

const harness = repositoryHarness("store");
const { work } = harness;
const hex = (n: number): string => n.toString(16).padStart(64, "0");

const prediction = (sop: string) => ({
  sopInstanceUid: sop,
  modelId: "m1",
  modelVersion: "1.0.0",
  label: "pneumonia",
  probabilities: { normal: 0.25, pneumonia: 0.75 },
  resultSopInstanceUid: null,
});

/** Opens with a short lease so that a closed or crashed claimant's work is recoverable at once in the tests. */
const open = (where: string): Promise<Repository> => openRepository(where, { leaseMs: 300 });

for (const [name, place] of harness.places) {
  describe(`repository contract: ${name}`, () => {
    test("instances: stored, duplicate, replaced; jobs per model and version; QIDO filters and paging", async () => {
      const repo = await open(await place());
      try {
        assert.equal(repo.kind, name === "SQLite" ? "sqlite" : "postgres");
        assert.equal(await repo.addInstance(instance(1), ["m1", "m2"]), "stored");
        assert.equal(await repo.addInstance(instance(1), ["m1", "m2"]), "duplicate");
        assert.equal(await repo.countJobs("pending"), 2, "a duplicate queues nothing");
        const v2 = instance(1, { sha256: hex(1001), size: 5 });
        assert.equal(await repo.addInstance(v2, ["m1", "m2"]), "replaced");
        assert.equal(
          (await repo.getInstance(v2.sopInstanceUid))?.sha256,
          v2.sha256,
          "the new version is current",
        );
        assert.equal((await repo.getInstance(v2.sopInstanceUid))?.size, 5);
        assert.equal(await repo.countJobs("pending"), 4, "each version analysed by each model");
        assert.equal(
          await repo.addInstance(instance(1), ["m1", "m2"]),
          "replaced",
          "back to the first bytes",
        );
        assert.equal(await repo.countJobs("pending"), 4, "that version was queued already");
        for (let n = 2; n <= 9; n++) await repo.addInstance(instance(n), ["m1"]);
        assert.equal(await repo.getInstance("9.9.9"), undefined);
        const all = await repo.findInstances({});
        assert.equal(all.length, 9);
        const order = all.map((r) => `${r.studyInstanceUid}|${r.seriesInstanceUid}|${r.receivedAt}`);
        assert.deepEqual(order, [...order].sort(), "ordered by study, series, time");
        assert.deepEqual(
          (await repo.findInstances({ modality: "CT", studyInstanceUid: "1.2.826.0.2.1" })).map(
            (r) => r.sopInstanceUid,
          ),
          ["1.2.826.0.1.1", "1.2.826.0.1.7"],
        );
        assert.equal((await repo.findInstances({ patientId: "P0" })).length, 3);
        const page = await repo.findInstances({ limit: 4, offset: 4 });
        assert.deepEqual(
          page.map((r) => r.sopInstanceUid),
          all.slice(4, 8).map((r) => r.sopInstanceUid),
        );
        assert.equal((await repo.findInstances({ origin: "result" })).length, 0);
        const back = await repo.getInstance("1.2.826.0.1.4");
        assert.deepEqual(back, instance(4), "every field round-trips");
      } finally {
        await repo.close();
      }
    });

    test("jobs: oldest first, claimed once, completed once with its results and outbox rows, failed with a limit", async () => {
      const repo = await open(await place());
      try {
        for (let n = 1; n <= 3; n++) await repo.addInstance(instance(n), ["m1"]);
        const a = await repo.claimJob();
        const b = await repo.claimJob();
        const c = await repo.claimJob();
        assert.ok(a && b && c);
        assert.deepEqual(
          [a.sopInstanceUid, b.sopInstanceUid, c.sopInstanceUid],
          ["1.2.826.0.1.1", "1.2.826.0.1.2", "1.2.826.0.1.3"],
        );
        assert.equal(a.status, "running");
        assert.equal(a.attempts, 1);
        assert.equal(await repo.claimJob(), undefined, "nothing left to claim");
        assert.equal(await repo.countJobs("running"), 3);

        const sr = instance(50, { origin: "result", sopClassUid: "1.2.840.10008.5.1.4.1.1.88.33" });
        const sc = instance(51, { origin: "result", sopClassUid: "1.2.840.10008.5.1.4.1.1.7" });
        const p = { ...prediction(a.sopInstanceUid), resultSopInstanceUid: sr.sopInstanceUid };
        assert.equal(await repo.completeJob(a.id, p, [sr, sc], true), true);
        assert.equal(
          await repo.completeJob(a.id, p, [sr, sc], true),
          false,
          "a second commit writes nothing",
        );
        assert.equal(await repo.countPredictions(), 1);
        const [stored] = await repo.predictionsFor(a.sopInstanceUid);
        assert.equal(stored?.jobId, a.id);
        assert.deepEqual(stored?.probabilities, { normal: 0.25, pneumonia: 0.75 });
        assert.equal(stored?.resultSopInstanceUid, sr.sopInstanceUid);
        assert.equal((await repo.findInstances({ origin: "result" })).length, 2, "results indexed");
        assert.equal(await repo.countSends("pending"), 2, "one outbox row per result");
        assert.equal(await repo.completeJob(b.id, prediction(b.sopInstanceUid), [], false), true);
        assert.equal(await repo.countSends("pending"), 2, "no destination, no outbox rows");

        await repo.failJob(c.id, "RL_ERR_X: transient", 2);
        let jobs = await repo.listJobs(10);
        assert.equal(jobs.find((j) => j.id === c.id)?.status, "pending", "retried below the limit");
        assert.equal(jobs.find((j) => j.id === c.id)?.error, "RL_ERR_X: transient");
        const again = await repo.claimJob();
        assert.equal(again?.id, c.id);
        assert.equal(again?.attempts, 2);
        await repo.failJob(c.id, "RL_ERR_X: still", 2);
        jobs = await repo.listJobs(10);
        assert.equal(jobs.find((j) => j.id === c.id)?.status, "failed", "failed for good at the limit");
        await repo.failJob(a.id, "late", 9);
        assert.equal((await repo.listJobs(10, "done")).length, 2, "a done job stays done");
        assert.deepEqual(
          (await repo.listJobs(10)).map((j) => j.id),
          [c.id, b.id, a.id],
          "newest first",
        );
      } finally {
        await repo.close();
      }
    });

    test("recovery: own claims are kept; a closed process's running jobs and sends return to the queue", async () => {
      const where = await place();
      const first = await open(where);
      await first.addInstance(instance(1), ["m1"]);
      await first.addInstance(instance(2), ["m1"]);
      const job = await first.claimJob();
      assert.ok(job);
      assert.equal(
        await first.completeJob(
          job.id,
          prediction(job.sopInstanceUid),
          [instance(60, { origin: "result" })],
          true,
        ),
        true,
      );
      const running = await first.claimJob();
      const sending = await first.claimSend();
      assert.ok(running && sending);
      assert.equal(sending.status, "sending");
      assert.equal(sending.attempts, 1);
      assert.equal(await first.recoverJobs(), 0, "its own running job is not taken from it");
      assert.equal(await first.recoverSends(), 0);
      // Like a process killed mid-work: the next one (after the lease) finds the claims and takes them back.
      await first.close();
      await new Promise((r) => setTimeout(r, 350));
      const second = await open(where);
      try {
        assert.equal(await second.recoverJobs(), 1);
        assert.equal(await second.recoverSends(), 1);
        const rerun = await second.claimJob();
        assert.equal(rerun?.id, running.id);
        assert.equal(rerun?.attempts, 2);
        const resend = await second.claimSend();
        assert.equal(resend?.id, sending.id);
        assert.equal(resend?.attempts, 2);
      } finally {
        await second.close();
      }
    });

    test("outbox: a failed send waits for its backoff, then is sent once; audit records newest first", async () => {
      const repo = await open(await place());
      try {
        await repo.addInstance(instance(1), ["m1"]);
        const job = await repo.claimJob();
        assert.ok(job);
        const results = [instance(70, { origin: "result" }), instance(71, { origin: "result" })];
        await repo.completeJob(job.id, prediction(job.sopInstanceUid), results, true);
        const s1 = await repo.claimSend();
        assert.equal(s1?.fileKey, results[0]?.fileKey, "oldest first");
        assert.ok(s1);
        await repo.retrySend(s1.id, "ECONNREFUSED: down", 60_000);
        const s2 = await repo.claimSend();
        assert.equal(s2?.fileKey, results[1]?.fileKey, "the failed one is not due yet");
        assert.ok(s2);
        await repo.completeSend(s2.id);
        assert.equal(await repo.claimSend(), undefined);
        assert.equal(await repo.countSends("pending"), 1);
        assert.equal(await repo.countSends("sent"), 1);
        const [waiting] = await repo.listSends(10, "pending");
        assert.equal(waiting?.error, "ECONNREFUSED: down");
        assert.ok(Date.parse(waiting?.nextAttemptAt ?? "") > Date.now() + 50_000);
        await repo.retrySend(s1.id, "not claimed", 0);
        assert.equal(await repo.claimSend(), undefined, "only a claimed send is put back");

        for (const [i, ev] of ["110104", "110106", "110104"].entries()) {
          await repo.audit({
            eventId: ev,
            eventName: "e",
            action: "C",
            outcome: i === 1 ? 8 : 0,
            user: "u",
            role: "admin",
            source: "test",
            object: `o${i}`,
            detail: "",
            time: new Date(Date.UTC(2024, 0, 1, 0, 0, i)).toISOString(),
          });
        }
        assert.deepEqual(
          (await repo.listAudit(10)).map((a) => a.object),
          ["o2", "o1", "o0"],
        );
        const exp = await repo.listAudit(10, "110106");
        assert.equal(exp.length, 1);
        assert.equal(exp[0]?.outcome, 8);
        assert.equal(exp[0]?.user, "u");
        // A group commit writes its records in order, with their own times.
        await repo.auditMany(
          [3, 4, 5].map((i) => ({
            eventId: "110103",
            eventName: "e",
            action: "E" as const,
            outcome: 0 as const,
            user: "g",
            role: "clinician",
            source: "test",
            object: `o${i}`,
            detail: "",
            time: new Date(Date.UTC(2024, 0, 1, 0, 0, i)).toISOString(),
          })),
        );
        await repo.auditMany([]);
        const group = await repo.listAudit(3);
        assert.deepEqual(
          group.map((a) => [a.object, a.time]),
          [5, 4, 3].map((i) => [`o${i}`, new Date(Date.UTC(2024, 0, 1, 0, 0, i)).toISOString()]),
        );
      } finally {
        await repo.close();
      }
    });

    test("QIDO-RS search: levels grouped in SQL, wildcard, fuzzy name, range, list and relational matching, paging", async () => {
      const repo = await open(await place());
      try {
        const names = ["DOE^JANE", "Doe^Jonathan", "ROE^JOHN", "O'Hara^Ann_x%"];
        for (let n = 0; n < 12; n++)
          await repo.addInstance(
            instance(n, {
              patientName: names[n % 3] as string,
              studyDate: `2020010${n % 3}`,
              studyTime: `${10 + (n % 3)}3000`,
              seriesDescription: `S${n % 2}`,
            }),
            [],
          );
        await repo.addInstance(
          instance(20, {
            studyInstanceUid: "1.2.826.0.2.9",
            seriesInstanceUid: "1.2.826.0.3.9",
            patientName: names[3] as string,
            studyDate: "",
            modality: "SR",
          }),
          [],
        );
        const f = (column: QidoColumn, level: QidoLevel, match: QidoFilter["match"]): QidoFilter => ({
          column,
          level,
          match,
        });
        const studies = async (...filters: QidoFilter[]) =>
          (await repo.search({ level: "study", filters, limit: 100, offset: 0 })).map(
            (r) => r.record.studyInstanceUid,
          );
        const all = await repo.search({ level: "study", filters: [], limit: 100, offset: 0 });
        assert.deepEqual(
          all.map((r) => [r.record.studyInstanceUid, r.seriesCount, r.instanceCount, r.modalities]),
          [
            ["1.2.826.0.2.0", 2, 4, ["CT", "MR"]],
            ["1.2.826.0.2.1", 2, 4, ["CT", "MR"]],
            ["1.2.826.0.2.2", 2, 4, ["CT", "MR"]],
            ["1.2.826.0.2.9", 1, 1, ["SR"]],
          ],
        );
        assert.equal(all[0]?.record.patientName, "DOE^JANE");
        assert.deepEqual(await studies(f("patient_name", "study", { kind: "wildcard", pattern: "?OE^J*" })), [
          "1.2.826.0.2.0",
          "1.2.826.0.2.2",
        ]);
        assert.deepEqual(
          await studies(f("patient_name", "study", { kind: "wildcard", pattern: "*_x%" })),
          ["1.2.826.0.2.9"],
          "LIKE characters are literal",
        );
        assert.deepEqual(
          await studies(f("patient_name", "study", { kind: "wildcard", pattern: "doe*" })),
          [],
          "case-sensitive",
        );
        assert.deepEqual(
          await studies(f("patient_name", "study", { kind: "fuzzy-pn", components: ["doe", "jon"] })),
          ["1.2.826.0.2.1"],
        );
        assert.deepEqual(
          await studies(f("patient_name", "study", { kind: "fuzzy-pn", components: ["ja"] })),
          ["1.2.826.0.2.0"],
        );
        assert.deepEqual(await studies(f("study_date", "study", { kind: "range", from: "20200101" })), [
          "1.2.826.0.2.1",
          "1.2.826.0.2.2",
        ]);
        assert.deepEqual(
          await studies(f("study_date", "study", { kind: "range", to: "20200101" })),
          ["1.2.826.0.2.0", "1.2.826.0.2.1"],
          "an empty date is not in a range",
        );
        assert.deepEqual(
          await studies(f("study_time", "study", { kind: "range", from: "11", to: "115959.999999" })),
          ["1.2.826.0.2.1"],
        );
        assert.deepEqual(
          await studies(
            f("study_instance_uid", "study", { kind: "list", values: ["1.2.826.0.2.0", "1.2.826.0.2.9"] }),
          ),
          ["1.2.826.0.2.0", "1.2.826.0.2.9"],
        );
        const sr = await repo.search({
          level: "study",
          filters: [f("modality", "series", { kind: "exact", value: "SR" })],
          limit: 10,
          offset: 0,
        });
        assert.deepEqual(
          sr.map((r) => r.instanceCount),
          [1],
        );
        const ct = await repo.search({
          level: "study",
          filters: [f("sop_instance_uid", "instance", { kind: "exact", value: "1.2.826.0.1.4" })],
          limit: 10,
          offset: 0,
        });
        assert.deepEqual(
          ct.map((r) => [r.record.studyInstanceUid, r.instanceCount]),
          [["1.2.826.0.2.1", 4]],
          "relational, full counts",
        );
        const series = await repo.search({
          level: "series",
          filters: [f("series_description", "series", { kind: "exact", value: "S1" })],
          limit: 100,
          offset: 0,
        });
        assert.deepEqual(
          series.map((r) => [r.record.seriesInstanceUid, r.instanceCount]),
          [
            ["1.2.826.0.3.0.1", 2],
            ["1.2.826.0.3.1.1", 2],
            ["1.2.826.0.3.2.1", 2],
          ],
        );
        const seen: string[] = [];
        for (let offset = 0; ; offset += 5) {
          const page = await repo.search({ level: "instance", filters: [], limit: 5, offset });
          if (page.length === 0) break;
          seen.push(...page.map((r) => r.record.sopInstanceUid));
        }
        assert.equal(new Set(seen).size, 13);
        assert.equal(seen.length, 13);
      } finally {
        await repo.close();
      }
    });
  });
}

describe("PostgreSQL across processes", () => {
  test("two repositories on one database, 8 claim loops each: every one of 300 jobs analysed exactly once", async () => {
    const dsn = await harness.cluster().createDatabase("shared_queue");
    // Both open at once: the schema is created under the advisory lock, not raced.
    const [a, b] = await Promise.all([openPostgresRepository(dsn), openPostgresRepository(dsn)]);
    try {
      const N = 300;
      for (let n = 1; n <= N; n++) await (n % 2 ? a : b).addInstance(instance(n), ["m1"]);
      const claimed = new Map<string, number[]>([
        ["a", []],
        ["b", []],
      ]);
      const loop = async (repo: Repository, who: string): Promise<void> => {
        for (;;) {
          const job = await repo.claimJob();
          if (!job) return;
          claimed.get(who)?.push(job.id);
          assert.equal(await repo.completeJob(job.id, prediction(job.sopInstanceUid)), true);
        }
      };
      await Promise.all(Array.from({ length: 16 }, (_, i) => (i % 2 ? loop(a, "a") : loop(b, "b"))));
      const ids = [...(claimed.get("a") ?? []), ...(claimed.get("b") ?? [])];
      assert.equal(ids.length, N, "as many claims as jobs");
      assert.equal(new Set(ids).size, N, "no job claimed twice");
      assert.ok((claimed.get("a")?.length ?? 0) > 0 && (claimed.get("b")?.length ?? 0) > 0, "both worked");
      assert.equal(await a.countPredictions(), N, "one prediction per job");
      assert.equal(await b.countJobs("done"), N);
      assert.equal(await a.recoverJobs(), 0, "nothing left running");
    } finally {
      await a.close();
      await b.close();
    }
  });

  test("a DSN selects PostgreSQL; an unreachable server is RL_ERR_STORE_UNAVAILABLE without the password", async () => {
    assert.equal(isPostgresDsn("postgresql://u@h/db"), true);
    assert.equal(isPostgresDsn("POSTGRES://u@h/db"), true);
    assert.equal(isPostgresDsn("radiolens-data/radiolens.db"), false);
    assert.equal(
      redactDsn("postgres://rl:s3cr%40t@db:5432/x?password=p2&sslmode=require"),
      "postgres://rl:***@db:5432/x?password=***&sslmode=require",
    );
    const secret = "correct-horse-battery";
    // Port 1 on loopback: nothing listens there.
    await assert.rejects(
      openRepository(`postgres://radiolens:${secret}@127.0.0.1:1/radiolens`),
      (e: unknown) => {
        assert.ok(isRadioLensError(e, "RL_ERR_STORE_UNAVAILABLE"), String(e));
        assert.ok(!e.message.includes(secret) && !e.fix.includes(secret), e.message);
        assert.match(e.message, /ECONNREFUSED/);
        assert.match(e.fix, /database server runs/);
        return true;
      },
    );
    const cluster = harness.cluster();
    await assert.rejects(openRepository(cluster.dsn("no_such_db")), (e: unknown) => {
      assert.ok(isRadioLensError(e, "RL_ERR_STORE_UNAVAILABLE"));
      assert.match(e.message, /database "no_such_db" does not exist/);
      return true;
    });
  });

  test("the server goes away mid-run: calls fail with RL_ERR_STORE_UNAVAILABLE, then work again when it is back", async () => {
    const cluster = harness.cluster();
    const dsn = await cluster.createDatabase("outage");
    const repo = await openPostgresRepository(dsn);
    try {
      await repo.addInstance(instance(1), ["m1"]);
      cluster.pause();
      try {
        await assert.rejects(repo.countJobs("pending"), (e: unknown) => {
          assert.ok(isRadioLensError(e, "RL_ERR_STORE_UNAVAILABLE"), String(e));
          assert.equal(e.httpStatus, 503);
          return true;
        });
        await assert.rejects(repo.claimJob(), (e: unknown) =>
          isRadioLensError(e, "RL_ERR_STORE_UNAVAILABLE"),
        );
      } finally {
        cluster.resume();
      }
      assert.equal(await repo.countJobs("pending"), 1, "the pool reconnects; nothing was lost");
      assert.equal((await repo.claimJob())?.sopInstanceUid, instance(1).sopInstanceUid);
    } finally {
      await repo.close();
    }
  });

  test("a job whose commit failed in an outage is released when the server is back, then analysed once", async () => {
    const c = harness.cluster();
    const repo = await openPostgresRepository(await c.createDatabase("release"));
    const errors: unknown[] = [];
    let runs = 0;
    const loop = new ClaimLoop(
      {
        claim: () => repo.claimJob(),
        run: async (job) => {
          // The server goes down between the analysis and its commit, the first time only.
          if (++runs === 1) c.pause();
          await repo.completeJob(job.id, prediction(job.sopInstanceUid));
        },
        recover: () => repo.recoverJobs(),
        release: (job) => repo.failJob(job.id, "RL_ERR_STORE_UNAVAILABLE: not committed", 3),
        onError: (e) => errors.push(e),
      },
      1,
      60_000,
      100,
    );
    try {
      await repo.addInstance(instance(1), ["m1"]);
      await loop.start();
      const deadline = Date.now() + 10_000;
      while (loop.stranded === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      assert.equal(loop.stranded, 1, "the claimed job could not be committed or failed");
      assert.ok(errors.some((e) => isRadioLensError(e, "RL_ERR_STORE_UNAVAILABLE")));
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(loop.stranded, 1, "kept while the server is down");
      c.resume();
      while (loop.stranded > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      assert.equal(
        loop.stranded,
        0,
        errors.map((e) => `${(e as { code?: string }).code} ${(e as Error).message}`).join("\n"),
      );
      // Released to pending (not stuck running under this live process's claim), claimed again, committed.
      while ((await repo.countJobs("done")) === 0 && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 20));
      await loop.stop();
      const [job] = await repo.listJobs(1);
      assert.equal(job?.status, "done");
      assert.equal(job?.attempts, 2);
      assert.equal(runs, 2);
      assert.equal(await repo.countPredictions(), 1);
    } finally {
      await loop.stop();
      if (!existsSync(join(c.dir, "data", "postmaster.pid"))) c.resume();
      await repo.close();
    }
  });
});

test("without the PostgreSQL server binaries the tests fail with the package to install", () => {
  const empty = mkdtempSync(join(tmpdir(), "rl-nopg-"));
  try {
    assert.equal(findPostgresBin(empty, ""), undefined);
    assert.throws(
      () => startPostgresCluster(() => findPostgresBin(empty, "")),
      /install the Debian package `postgresql`/,
    );
  } finally {
    rmSync(empty, { recursive: true, force: true });
  }
});

test("an instances table from before the QIDO columns gains them at open, its rows answering empty values", async () => {
  const path = join(work, "old-schema.db");
  const Database = createRequire(import.meta.url)("better-sqlite3") as new (
    p: string,
  ) => { exec(s: string): void; close(): void };
  const old = new Database(path);
  // The instances table as the first schema created it.
  old.exec(`CREATE TABLE instances (sop_instance_uid TEXT PRIMARY KEY, sop_class_uid TEXT NOT NULL,
    study_instance_uid TEXT NOT NULL, series_instance_uid TEXT NOT NULL, modality TEXT NOT NULL,
    study_date TEXT NOT NULL, patient_id TEXT NOT NULL, patient_name TEXT NOT NULL, accession_number TEXT NOT NULL,
    sha256 TEXT NOT NULL, file_key TEXT NOT NULL, size INTEGER NOT NULL, origin TEXT NOT NULL, received_at TEXT NOT NULL);
    INSERT INTO instances VALUES ('1.2.3', '1.2', '1.2.4', '1.2.5', 'CT', '20200101', 'P', 'A^B', '', '${hex(1)}',
    '00/${hex(1)}.dcm', 10, 'received', '2024-01-01T00:00:00.000Z');`);
  old.close();
  const repo = await open(path);
  try {
    assert.equal((await repo.getInstance("1.2.3"))?.studyTime, undefined);
    await repo.addInstance(instance(2, { studyTime: "101500", seriesNumber: "7" }), []);
    const found = await repo.search({
      level: "instance",
      filters: [
        { column: "study_time", level: "study", match: { kind: "range", from: "10", to: "105959.999999" } },
      ],
      limit: 10,
      offset: 0,
    });
    assert.deepEqual(
      found.map((r) => [r.record.sopInstanceUid, r.record.seriesNumber]),
      [["1.2.826.0.1.2", "7"]],
    );
    assert.equal((await repo.findInstances({})).length, 2);
  } finally {
    await repo.close();
  }
});
