/** The PostgreSQL implementation of the service's repository, for several service instances sharing one database. */
import { randomUUID } from "node:crypto";
import pg from "pg";
import { PgBoss } from "pg-boss";
import { RadioLensError } from "../../core/errors.js";
import {
  ADDED_COLUMNS,
  ADDED_INSTANCE_COLUMNS,
  countQuery,
  dueGroupsQuery,
  findInstancesQuery,
  groupStatusQuery,
  INSTANCE_COLUMNS,
  listQuery,
  POSTGRES,
  qidoQuery,
  queueGroupQuery,
  registerGroupQuery,
  schemaSql,
} from "./queries.js";
import {
  type AddInstanceResult,
  AUDIT_COLUMNS,
  auditValues,
  type GroupRegistration,
  groupJobKey,
  type InstanceRecord,
  type InstanceWork,
  instanceRow,
  type Repository,
  type RoutedAddResult,
  type Row,
  toAudit,
  toGroup,
  toInstance,
  toJob,
  toPrediction,
  toSearchResult,
  toSend,
} from "./sqlite.js";

/**
 * True when `store` names a PostgreSQL database (a `postgres://` or `postgresql://` DSN) rather than a SQLite file.
 *
 * @example
 * ```ts
 * isPostgresDsn("postgres://radiolens@db:5432/radiolens"); // true
 * isPostgresDsn("/var/lib/radiolens/radiolens.db"); // false
 * ```
 */
export function isPostgresDsn(store: string): boolean {
  return /^postgres(ql)?:\/\//i.test(store);
}

/**
 * The DSN without its password (user info and `password=` parameters), for messages and logs.
 *
 * @example
 * ```ts
 * redactDsn("postgres://rl:s3cret@db:5432/rl"); // "postgres://rl:***@db:5432/rl"
 * ```
 */
export function redactDsn(dsn: string): string {
  return dsn
    .replace(/^(postgres(?:ql)?:\/\/[^:@/?#]*):[^@/?#]*@/i, "$1:***@")
    .replace(/([?&]password=)[^&#]*/gi, "$1***");
}

/** Options of {@link openPostgresRepository}. */
export interface PostgresOptions {
  /**
   * A claim whose process stopped answering is taken back after this long (default 30 s; pg-boss's heartbeat,
   * at least 10 s): the process touches the jobs and sends it holds every half lease, and pg-boss's monitor
   * returns the silent ones to the queue. Longer than any event-loop stall; shorter means faster recovery.
   */
  readonly leaseMs?: number;
  /** Connections in the pool (default 8; pg-boss keeps a pool of 4 of its own). */
  readonly poolSize?: number;
  /**
   * Tries per result send before it is dead-lettered (default 1000: with the 60 s backoff cap about 16 hours of
   * a destination down). Jobs are dead-lettered at the worker's attempt limit (`maxAttempts`).
   */
  readonly maxSendAttempts?: number;
}

/** The pg-boss queues of the service: analysis jobs, result sends, and where each goes after its last try. */
export const QUEUES = {
  analysis: "radiolens-analysis",
  analysisDead: "radiolens-analysis-dead",
  results: "radiolens-results",
  resultsDead: "radiolens-results-dead",
} as const;

// Schema creation runs under this advisory lock: two instances starting at once would otherwise race on
// CREATE TABLE IF NOT EXISTS (it is not atomic against a concurrent creation of the same name).
const SCHEMA_LOCK = 0x52_4c_53_43; // "RLSC"

// The jobs and outbox tables are the records the API shows; the queue itself (claims, expiry of a dead
// process's claims, retries, dead letters) lives in pg-boss, each row naming its pg-boss job in boss_id.
// The shared tables (src/serve/repository/queries.ts) plus the pg-boss job of each job and outbox row.
const SCHEMA = `${schemaSql(POSTGRES)}
ALTER TABLE jobs ADD COLUMN IF NOT EXISTS boss_id UUID;
ALTER TABLE outbox ADD COLUMN IF NOT EXISTS boss_id UUID;
${ADDED_INSTANCE_COLUMNS.map((c) => `ALTER TABLE instances ADD COLUMN IF NOT EXISTS ${c} TEXT NOT NULL DEFAULT '';`).join("\n")}
${ADDED_COLUMNS.map(([t, c, type]) => `ALTER TABLE ${t} ADD COLUMN IF NOT EXISTS ${c} ${type};`).join("\n")}
`;

const INSERT_INSTANCE = `INSERT INTO instances (${INSTANCE_COLUMNS.join(", ")})
  VALUES (${INSTANCE_COLUMNS.map((_, i) => `$${i + 1}`).join(", ")}) ON CONFLICT (sop_instance_uid) DO NOTHING
  RETURNING sop_instance_uid`;
const UPDATE_INSTANCE = `UPDATE instances SET ${INSTANCE_COLUMNS.slice(1)
  .map((c, i) => `${c} = $${i + 2}`)
  .join(", ")} WHERE sop_instance_uid = $1`;
const instanceValues = (rec: InstanceRecord): unknown[] => {
  const row = instanceRow(rec);
  return INSTANCE_COLUMNS.map((c) => row[c]);
};

// BIGSERIAL ids and COUNT(*) arrive as int8, which pg returns as strings; every id and count here fits a double.
const TYPES = {
  getTypeParser: ((oid: number, format?: "text" | "binary") =>
    oid === 20
      ? (v: string) => Number(v)
      : pg.types.getTypeParser(oid, format ?? "text")) as typeof pg.types.getTypeParser,
};

/** SQLSTATE classes and socket errors that mean "the database cannot be reached", not "the statement is wrong". */
function isConnectionError(e: unknown): boolean {
  const code = (e as { code?: unknown })?.code;
  if (typeof code !== "string") return /Connection terminated|timeout/i.test(String((e as Error)?.message));
  return (
    /^(08|57P|53)/.test(code) ||
    /^(ECONNREFUSED|ECONNRESET|ENOTFOUND|EHOSTUNREACH|ETIMEDOUT|ENOENT|EPIPE)$/.test(code)
  );
}

/**
 * Opens the PostgreSQL repository at `dsn` (`postgres://user@host:5432/db`; the password from the DSN, PGPASSWORD
 * or ~/.pgpass), creates its tables if absent (under an advisory lock, so that instances starting together do not
 * race) and starts pg-boss on the same database (schema `pgboss`, created and migrated by pg-boss). Several
 * service instances may share it. The job queue and the result outbox are pg-boss queues: a job or send is
 * enqueued in the transaction that creates its row (pg-boss `insert`/`send` with the transaction as `db`),
 * claimed with pg-boss `fetch` (`SKIP LOCKED`, so by exactly one process), and completed in the transaction that
 * commits its outcome. Each process touches the claims it holds every half lease; pg-boss's monitor returns the
 * claims of a process that stopped (killed, machine lost) to the queue once their heartbeat is older than the
 * lease, and dead-letters a job or send after its last try. Commits use PostgreSQL's default
 * `synchronous_commit = on` (durable when COMMIT returns).
 *
 * @example
 * ```ts
 * const repo = await openPostgresRepository("postgres://radiolens@db.example:5432/radiolens");
 * await repo.audit({ eventId: "110100", eventName: "Application Activity", action: "E", outcome: 0, user: "system", role: "system", source: "local", object: "start", detail: "" });
 * await repo.close();
 * ```
 */
export async function openPostgresRepository(dsn: string, opts: PostgresOptions = {}): Promise<Repository> {
  const where = redactDsn(dsn);
  const unavailable = (e: unknown): RadioLensError =>
    new RadioLensError(
      "RL_ERR_STORE_UNAVAILABLE",
      {
        kind: "PostgreSQL",
        where,
        // pg's messages name host, port, user and database, never the password; redact anyway in case a
        // message quotes the DSN.
        detail: redactDsn(
          (e as Error)?.message ||
            String((e as { code?: unknown })?.code ?? "") ||
            (e as AggregateError)?.errors?.map((x: Error) => x.message).join("; ") ||
            "connection failed",
        ),
      },
      { cause: e },
    );
  const pool = new pg.Pool({
    connectionString: dsn,
    max: opts.poolSize ?? 8,
    connectionTimeoutMillis: 5000,
    types: TYPES,
  });
  // An idle connection dropped by the server emits here; unhandled it would end the process. The next query
  // opens a new connection and reports RL_ERR_STORE_UNAVAILABLE if the server is really gone.
  pool.on("error", () => {});
  const leaseMs = opts.leaseMs ?? 30_000;
  // pg-boss's heartbeat is in whole seconds, at least 10.
  const heartbeatSeconds = Math.max(10, Math.ceil(leaseMs / 1000));
  const maxSendAttempts = opts.maxSendAttempts ?? 1000;
  const boss = new PgBoss({
    connectionString: dsn,
    max: 4,
    schedule: false,
    connectionTimeoutMillis: 5000,
    monitorIntervalSeconds: Math.max(1, Math.min(10, Math.floor(heartbeatSeconds / 5))),
    superviseIntervalSeconds: Math.max(1, Math.min(10, Math.floor(heartbeatSeconds / 5))),
  });
  // pg-boss reports failed maintenance passes here (e.g. while the server restarts); they are retried.
  boss.on("error", () => {});
  const now = (): string => new Date().toISOString();

  /** Runs `fn`, turning connection failures (also pg-boss's) into RL_ERR_STORE_UNAVAILABLE. */
  const guard = async <T>(fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (e) {
      throw isConnectionError(e) ? unavailable(e) : e;
    }
  };
  const query = (sql: string, args: unknown[] = []): Promise<Row[]> =>
    guard(async () => (await pool.query(sql, args)).rows as Row[]);
  /** A transaction: `q` runs statements in it, `db` hands it to pg-boss so a queue change commits with them. */
  const tx = async <T>(
    fn: (
      q: (sql: string, args?: unknown[]) => Promise<Row[]>,
      db: { executeSql(text: string, values?: unknown[]): Promise<{ rows: Row[] }> },
    ) => Promise<T>,
  ): Promise<T> => {
    let client: pg.PoolClient;
    try {
      client = await pool.connect();
    } catch (e) {
      throw unavailable(e);
    }
    // A checked-out client reports a dropped socket as an 'error' event, outside the pool's handler; the query in
    // progress rejects as well, which is where it is handled.
    const onSocketError = (): void => {};
    client.on("error", onSocketError);
    let broken: Error | undefined;
    try {
      await client.query("BEGIN");
      const q = async (sql: string, args: unknown[] = []) => (await client.query(sql, args)).rows as Row[];
      const result = await fn(q, { executeSql: async (text, values) => ({ rows: await q(text, values) }) });
      await client.query("COMMIT");
      return result;
    } catch (e) {
      if (isConnectionError(e)) {
        broken = e as Error;
        throw unavailable(e);
      }
      await client.query("ROLLBACK").catch(() => {});
      throw e;
    } finally {
      client.off("error", onSocketError);
      // A broken connection is closed rather than returned to the pool.
      client.release(broken);
    }
  };

  try {
    const client = await pool.connect();
    client.on("error", () => {});
    try {
      await client.query("SELECT pg_advisory_lock($1)", [SCHEMA_LOCK]);
      try {
        await client.query(SCHEMA);
      } finally {
        await client.query("SELECT pg_advisory_unlock($1)", [SCHEMA_LOCK]);
      }
    } finally {
      client.release();
    }
    await boss.start();
    const queues: [string, Record<string, unknown>][] = [
      [QUEUES.analysisDead, {}],
      [QUEUES.resultsDead, {}],
      // Retries of a failed analysis are due at once (the worker decides the limit, see failJob); pg-boss's own
      // limit counts the claims a dead process lost, so an input that kills every worker ends dead-lettered.
      [QUEUES.analysis, { retryLimit: 4, retryDelay: 0, heartbeatSeconds, deadLetter: QUEUES.analysisDead }],
      // A send's backoff is the outbox's (src/serve/outbox.ts): each try is a pg-boss job due at its time.
      [QUEUES.results, { retryLimit: 4, retryDelay: 0, heartbeatSeconds, deadLetter: QUEUES.resultsDead }],
    ];
    for (const [name, options] of queues) {
      if (await boss.getQueue(name)) continue;
      // Two instances starting together may both find it missing; the second creation fails harmlessly.
      await boss.createQueue(name, options).catch(async (e: unknown) => {
        if (!(await boss.getQueue(name))) throw e;
      });
    }
  } catch (e) {
    await boss.stop({ graceful: false }).catch(() => {});
    await pool.end().catch(() => {});
    // Refused connection, bad credentials, a missing database or no right to create the tables: all say how to fix.
    throw unavailable(e);
  }

  type Token = { id: string; retryCount: number };
  // The pg-boss claims this process holds, by job and by outbox row: touched every half lease, settled with the
  // row's outcome, given back at close.
  const heldJobs = new Map<number, Token>();
  const heldSends = new Map<number, Token>();
  const touch = async (): Promise<void> => {
    if (heldJobs.size > 0) await boss.touch(QUEUES.analysis, [...heldJobs.values()]);
    if (heldSends.size > 0) await boss.touch(QUEUES.results, [...heldSends.values()]);
  };
  // A missed touch is retried at the next tick; only a lease without one lets pg-boss give the work to others.
  const heart = setInterval(
    () => void touch().catch(() => {}),
    Math.max(1000, (heartbeatSeconds * 1000) / 2),
  );
  heart.unref();

  /** The send's row back to pending with a fresh pg-boss job due after `delayMs`, or dead-lettered at the limit. */
  const resend = async (
    id: number,
    error: string,
    delayMs: number,
    q: (sql: string, args?: unknown[]) => Promise<Row[]>,
    db: { executeSql(text: string, values?: unknown[]): Promise<{ rows: Row[] }> },
  ): Promise<void> => {
    const row = (
      await q("SELECT attempts FROM outbox WHERE id = $1 AND status = 'sending' FOR UPDATE", [id])
    )[0];
    if (!row) return;
    const token = heldSends.get(id);
    if (token) await boss.complete(QUEUES.results, [token], { retried: true }, { db });
    if ((row["attempts"] as number) >= maxSendAttempts) {
      await boss.send(QUEUES.resultsDead, { sendId: id, error }, { db });
      await q(
        "UPDATE outbox SET status = 'failed', error = $1, boss_id = NULL, updated_at = $2 WHERE id = $3",
        [error, now(), id],
      );
      return;
    }
    const next = new Date(Date.now() + delayMs);
    const bossId = randomUUID();
    await boss.send(QUEUES.results, { sendId: id }, { id: bossId, startAfter: next, db });
    await q(
      `UPDATE outbox SET status = 'pending', error = $1, next_attempt_at = $2, boss_id = $3, updated_at = $4
       WHERE id = $5`,
      [error, next.toISOString(), bossId, now(), id],
    );
  };

  /**
   * Rows left `running`/`sending` whose pg-boss job is queued again (pg-boss took it back from a silent process)
   * become pending; those whose job pg-boss dead-lettered become failed. Rows this process holds are left alone.
   */
  const reconcile = async (
    table: "jobs" | "outbox",
    from: string,
    queue: string,
    held: Map<number, Token>,
  ) => {
    let n = 0;
    for (const r of await query(
      `SELECT id, boss_id FROM ${table} WHERE status = $1 AND boss_id IS NOT NULL`,
      [from],
    )) {
      const id = r["id"] as number;
      if (held.has(id)) continue;
      const [job] = await guard(() => boss.findJobs(queue, { id: r["boss_id"] as string }));
      const state = (job as { state?: string } | undefined)?.state;
      if (state === "created" || state === "retry") {
        n += (
          await query(
            `UPDATE ${table} SET status = 'pending', updated_at = $1 ${table === "outbox" ? ", next_attempt_at = $1" : ""}
             WHERE id = $2 AND status = $3 RETURNING id`,
            [now(), id, from],
          )
        ).length;
      } else if (state === "failed" || state === undefined) {
        await query(
          `UPDATE ${table} SET status = 'failed', error = COALESCE(error, $1), updated_at = $2 WHERE id = $3 AND status = $4`,
          ["dead-lettered: its claims were lost to stopped processes", now(), id, from],
        );
      }
    }
    return n;
  };

  /**
   * Takes the next pg-boss job of `queue` and claims its row in `table` (to `status`, one more attempt), the
   * claim held in `held`; undefined when the queue has nothing due.
   */
  const claim = async (
    queue: string,
    table: "jobs" | "outbox",
    status: "running" | "sending",
    key: "jobId" | "sendId",
    held: Map<number, Token>,
  ): Promise<Row | undefined> => {
    for (;;) {
      const [job] = (await guard(() => boss.fetch(queue, { batchSize: 1 }))) as unknown as {
        id: string;
        retryCount: number;
        data: Record<typeof key, number>;
      }[];
      if (!job) return undefined;
      const token = { id: job.id, retryCount: job.retryCount };
      const r = (
        await query(
          `UPDATE ${table} SET status = '${status}', attempts = attempts + 1, updated_at = $1
           WHERE id = $2 AND boss_id = $3 AND status IN ('pending', '${status}') RETURNING *`,
          [now(), job.data[key], job.id],
        )
      )[0];
      if (r) {
        held.set(r["id"] as number, token);
        return r;
      }
      // The row was settled already (done, or failed for good): the queue entry has nothing left to do.
      await guard(() => boss.complete(queue, [token], { stale: true }));
    }
  };

  const run = (q: { sql: string; args: unknown[] }): Promise<Row[]> => query(q.sql, q.args);
  type Tx = (sql: string, args?: unknown[]) => Promise<Row[]>;
  type BossDb = { executeSql(text: string, values?: unknown[]): Promise<{ rows: Row[] }> };
  /** Inserts a pending job (nothing when its hash and model exist) with its pg-boss job, in the transaction. */
  const insertJob = async (
    q: Tx,
    db: BossDb,
    sop: string,
    sha256: string,
    modelId: string,
    t: string,
    rule: string | null,
    scope: string | null,
  ): Promise<void> => {
    const bossId = randomUUID();
    const created = await q(
      `INSERT INTO jobs (sop_instance_uid, sha256, model_id, status, boss_id, created_at, updated_at, rule, scope)
       VALUES ($1, $2, $3, 'pending', $4, $5, $5, $6, $7) ON CONFLICT (sha256, model_id) DO NOTHING RETURNING id`,
      [sop, sha256, modelId, bossId, t, rule, scope],
    );
    const id = created[0]?.["id"] as number | undefined;
    if (id !== undefined) await boss.send(QUEUES.analysis, { jobId: id }, { id: bossId, db });
  };
  const addRouted = (rec: InstanceRecord, work: InstanceWork): Promise<RoutedAddResult> =>
    tx(async (q, db): Promise<RoutedAddResult> => {
      let outcome: AddInstanceResult = "stored";
      if ((await q(INSERT_INSTANCE, instanceValues(rec))).length === 0) {
        // Row lock: two processes storing two versions of one UID at once serialize here.
        const old = (
          await q("SELECT sha256 FROM instances WHERE sop_instance_uid = $1 FOR UPDATE", [rec.sopInstanceUid])
        )[0];
        if (old?.["sha256"] === rec.sha256) return { outcome: "duplicate", late: [] };
        await q(UPDATE_INSTANCE, instanceValues(rec));
        outcome = "replaced";
      }
      const t = now();
      for (const m of work.modelIds)
        await insertJob(q, db, rec.sopInstanceUid, rec.sha256, m, t, work.rule ?? null, null);
      const late: GroupRegistration[] = [];
      for (const g of work.groups ?? []) {
        const due = new Date(Date.now() + g.timeoutMs).toISOString();
        const reg = registerGroupQuery(
          { ...g, firstSopInstanceUid: rec.sopInstanceUid, due, now: t },
          POSTGRES,
        );
        await q(reg.sql, reg.args);
        const st = groupStatusQuery(g.rule, g.level, g.groupUid, POSTGRES);
        if ((await q(st.sql, st.args))[0]?.["status"] !== "open") late.push(g);
      }
      return { outcome, late };
    });
  const count = async (q: { sql: string; args: unknown[] }): Promise<number> =>
    ((await run(q))[0]?.["n"] as number | undefined) ?? 0;

  return {
    kind: "postgres",
    // Checking twice per lease bounds the pick-up of a crashed instance's work at 1.5 leases.
    recoverIntervalMs: Math.min(10_000, Math.max(250, Math.floor(leaseMs / 2))),
    addInstance: async (rec, modelIds) => (await addRouted(rec, { modelIds })).outcome,
    addRoutedInstance: (rec, work) => addRouted(rec, work),
    queueDueGroups: () =>
      tx(async (q, db) => {
        const t = now();
        let n = 0;
        const due = dueGroupsQuery(t, POSTGRES);
        for (const r of await q(due.sql, due.args)) {
          const queue = queueGroupQuery(r["id"] as number, t, POSTGRES);
          if ((await q(`${queue.sql} RETURNING id`, queue.args)).length === 0) continue;
          const g = toGroup(r);
          for (const m of g.modelIds) {
            await insertJob(
              q,
              db,
              r["first_sop_instance_uid"] as string,
              groupJobKey(g.id),
              m,
              t,
              g.rule,
              `${g.level}:${g.groupUid}`,
            );
          }
          n++;
        }
        return n;
      }),
    listGroups: async (limit, status) =>
      (await run(listQuery("instance_groups", limit, POSTGRES, "status", status))).map(toGroup),
    getInstance: async (uid) => {
      const r = (await query("SELECT * FROM instances WHERE sop_instance_uid = $1", [uid]))[0];
      return r ? toInstance(r) : undefined;
    },
    search: async (q) => {
      const { sql, args } = qidoQuery(q, POSTGRES);
      return (await query(sql, args)).map(toSearchResult);
    },
    findInstances: async (q) => {
      const { sql, args } = findInstancesQuery(q, POSTGRES);
      return (await query(sql, args)).map(toInstance);
    },
    claimJob: async () => {
      const r = await claim(QUEUES.analysis, "jobs", "running", "jobId", heldJobs);
      return r ? toJob(r) : undefined;
    },
    completeJob: async (jobId, p, results = [], sendResults = false) => {
      const token = heldJobs.get(jobId);
      const done = await tx(async (q, db) => {
        const t = now();
        const inserted = await q(
          `INSERT INTO predictions (job_id, sop_instance_uid, model_id, model_version, label, probabilities,
             result_sop_instance_uid, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
           ON CONFLICT (job_id) DO NOTHING RETURNING job_id`,
          [
            jobId,
            p.sopInstanceUid,
            p.modelId,
            p.modelVersion,
            p.label,
            JSON.stringify(p.probabilities),
            p.resultSopInstanceUid,
            t,
          ],
        );
        if (token) await boss.complete(QUEUES.analysis, [token], null, { db });
        if (inserted.length === 0) return false;
        for (const r of results) await q(INSERT_INSTANCE, instanceValues(r));
        if (sendResults) {
          for (const r of results) {
            const bossId = randomUUID();
            const row = await q(
              `INSERT INTO outbox (job_id, file_key, status, next_attempt_at, boss_id, created_at, updated_at, rule)
               VALUES ($1, $2, 'pending', $3, $4, $3, $3, (SELECT rule FROM jobs WHERE id = $1))
               ON CONFLICT (job_id, file_key) DO NOTHING RETURNING id`,
              [jobId, r.fileKey, t, bossId],
            );
            const id = row[0]?.["id"] as number | undefined;
            if (id !== undefined) await boss.send(QUEUES.results, { sendId: id }, { id: bossId, db });
          }
        }
        await q("UPDATE jobs SET status = 'done', error = NULL, updated_at = $1 WHERE id = $2", [t, jobId]);
        return true;
      });
      heldJobs.delete(jobId);
      return done;
    },
    failJob: async (jobId, error, maxAttempts) => {
      const token = heldJobs.get(jobId);
      await tx(async (q, db) => {
        const row = (
          await q("SELECT attempts FROM jobs WHERE id = $1 AND status = 'running' FOR UPDATE", [jobId])
        )[0];
        if (!row) {
          // Not running (done, or released already): only the queue entry, if this process holds one, is settled.
          if (token) await boss.complete(QUEUES.analysis, [token], { stale: true }, { db });
          return;
        }
        const final = (row["attempts"] as number) >= maxAttempts;
        if (final) {
          // At the worker's limit (or a permanent error): dead-lettered now, whatever pg-boss's own limit.
          if (token) await boss.complete(QUEUES.analysis, [token], { error, deadLettered: true }, { db });
          await boss.send(QUEUES.analysisDead, { jobId, error }, { db });
        } else if (token) {
          await boss.fail(QUEUES.analysis, [token], { error }, { db });
        }
        await q(
          `UPDATE jobs SET status = $1, error = $2, updated_at = $3 ${final ? ", boss_id = NULL" : ""} WHERE id = $4`,
          [final ? "failed" : "pending", error, now(), jobId],
        );
      });
      heldJobs.delete(jobId);
    },
    recoverJobs: () => reconcile("jobs", "running", QUEUES.analysis, heldJobs),
    listJobs: async (limit, status) =>
      (await run(listQuery("jobs", limit, POSTGRES, "status", status))).map(toJob),
    countJobs: (status) => count(countQuery("jobs", POSTGRES, status)),
    predictionsFor: async (uid) =>
      (await query("SELECT * FROM predictions WHERE sop_instance_uid = $1 ORDER BY job_id", [uid])).map(
        toPrediction,
      ),
    countPredictions: () => count(countQuery("predictions", POSTGRES)),
    claimSend: async () => {
      const r = await claim(QUEUES.results, "outbox", "sending", "sendId", heldSends);
      return r ? toSend(r) : undefined;
    },
    completeSend: async (id) => {
      const token = heldSends.get(id);
      await tx(async (q, db) => {
        await q("UPDATE outbox SET status = 'sent', error = NULL, updated_at = $1 WHERE id = $2", [
          now(),
          id,
        ]);
        if (token) await boss.complete(QUEUES.results, [token], null, { db });
      });
      heldSends.delete(id);
    },
    retrySend: async (id, error, delayMs) => {
      await tx((q, db) => resend(id, error, delayMs, q, db));
      heldSends.delete(id);
    },
    recoverSends: () => reconcile("outbox", "sending", QUEUES.results, heldSends),
    countSends: (status) => count(countQuery("outbox", POSTGRES, status)),
    listSends: async (limit, status) =>
      (await run(listQuery("outbox", limit, POSTGRES, "status", status))).map(toSend),
    audit: async (rec) => {
      await query(
        `INSERT INTO audit (${AUDIT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
        auditValues(rec),
      );
    },
    auditMany: async (recs) => {
      if (recs.length === 0) return;
      // One multi-row INSERT: one round trip and one commit for the group, rows in the given order.
      const n = AUDIT_COLUMNS.split(",").length;
      const rows = recs.map(
        (_, i) => `(${Array.from({ length: n }, (_, j) => `$${i * n + j + 1}`).join(", ")})`,
      );
      await query(
        `INSERT INTO audit (${AUDIT_COLUMNS}) VALUES ${rows.join(", ")}`,
        recs.flatMap(auditValues),
      );
    },
    listAudit: async (limit, eventId) =>
      (await run(listQuery("audit", limit, POSTGRES, "event_id", eventId))).map(toAudit),
    close: async () => {
      clearInterval(heart);
      // What this process still holds goes back to the queue at once rather than after the lease, as a try
      // that failed (due again now); the next recovery anywhere marks the rows pending.
      for (const token of heldJobs.values())
        await guard(() => boss.fail(QUEUES.analysis, [token], { error: "released at close" })).catch(
          () => {},
        );
      for (const token of heldSends.values())
        await guard(() => boss.fail(QUEUES.results, [token], { error: "released at close" })).catch(() => {});
      heldJobs.clear();
      heldSends.clear();
      await boss.stop({ graceful: false }).catch(() => {});
      await pool.end();
    },
  };
}
