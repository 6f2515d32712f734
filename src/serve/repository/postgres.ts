/** The PostgreSQL implementation of the service's repository, for several service instances sharing one database. */
import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import pg from "pg";
import { RadioLensError } from "../../core/errors.js";
import {
  type AddInstanceResult,
  AUDIT_COLUMNS,
  auditValues,
  type InstanceRecord,
  instanceRow,
  type Repository,
  type Row,
  toAudit,
  toInstance,
  toJob,
  toPrediction,
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
   * A process whose heartbeat is older than this is taken for dead and the jobs and sends it claimed return to
   * the queue (default 30 s). Longer than any event-loop stall; shorter means faster recovery after a crash.
   */
  readonly leaseMs?: number;
  /** Connections in the pool (default 8). */
  readonly poolSize?: number;
}

// Schema creation runs under this advisory lock: two instances starting at once would otherwise race on
// CREATE TABLE IF NOT EXISTS (it is not atomic against a concurrent creation of the same name).
const SCHEMA_LOCK = 0x52_4c_53_43; // "RLSC"

const SCHEMA = `
CREATE TABLE IF NOT EXISTS instances (
  sop_instance_uid TEXT PRIMARY KEY,
  sop_class_uid TEXT NOT NULL,
  study_instance_uid TEXT NOT NULL,
  series_instance_uid TEXT NOT NULL,
  modality TEXT NOT NULL,
  study_date TEXT NOT NULL,
  patient_id TEXT NOT NULL,
  patient_name TEXT NOT NULL,
  accession_number TEXT NOT NULL,
  sha256 TEXT NOT NULL,
  file_key TEXT NOT NULL,
  size BIGINT NOT NULL,
  origin TEXT NOT NULL,
  received_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS instances_study ON instances(study_instance_uid, series_instance_uid);
CREATE TABLE IF NOT EXISTS jobs (
  id BIGSERIAL PRIMARY KEY,
  sop_instance_uid TEXT NOT NULL REFERENCES instances(sop_instance_uid),
  sha256 TEXT NOT NULL,
  model_id TEXT NOT NULL,
  status TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  error TEXT,
  claimed_by TEXT,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  UNIQUE (sha256, model_id)
);
CREATE INDEX IF NOT EXISTS jobs_status ON jobs(status, id);
CREATE TABLE IF NOT EXISTS predictions (
  job_id BIGINT PRIMARY KEY REFERENCES jobs(id),
  sop_instance_uid TEXT NOT NULL,
  model_id TEXT NOT NULL,
  model_version TEXT NOT NULL,
  label TEXT NOT NULL,
  probabilities TEXT NOT NULL,
  result_sop_instance_uid TEXT,
  created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS predictions_instance ON predictions(sop_instance_uid, job_id);
CREATE TABLE IF NOT EXISTS audit (
  id BIGSERIAL PRIMARY KEY,
  time TEXT NOT NULL,
  event_id TEXT NOT NULL,
  event_name TEXT NOT NULL,
  action TEXT NOT NULL,
  outcome INTEGER NOT NULL,
  "user" TEXT NOT NULL,
  role TEXT NOT NULL,
  source TEXT NOT NULL,
  object TEXT NOT NULL,
  detail TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_event ON audit(event_id, id);
CREATE TABLE IF NOT EXISTS outbox (
  id BIGSERIAL PRIMARY KEY,
  job_id BIGINT NOT NULL REFERENCES jobs(id),
  file_key TEXT NOT NULL,
  status TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at TEXT NOT NULL,
  error TEXT,
  claimed_by TEXT,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  UNIQUE (job_id, file_key)
);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox(status, next_attempt_at, id);
CREATE TABLE IF NOT EXISTS workers (
  owner TEXT PRIMARY KEY,
  started_at TIMESTAMPTZ NOT NULL,
  heartbeat_at TIMESTAMPTZ NOT NULL
);
`;

const INSTANCE_COLUMNS = [
  "sop_instance_uid",
  "sop_class_uid",
  "study_instance_uid",
  "series_instance_uid",
  "modality",
  "study_date",
  "patient_id",
  "patient_name",
  "accession_number",
  "sha256",
  "file_key",
  "size",
  "origin",
  "received_at",
] as const;
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
 * or ~/.pgpass) and creates the schema if absent, under an advisory lock so that instances starting together do
 * not race. Several service instances may share the database: jobs and result sends are claimed with
 * `UPDATE … WHERE id = (SELECT … FOR UPDATE SKIP LOCKED)`, so each is claimed by exactly one process; each
 * process heartbeats into `workers`, and what a process claimed returns to the queue once its heartbeat is older
 * than `leaseMs`. Commits use PostgreSQL's default `synchronous_commit = on` (durable when COMMIT returns).
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
  const owner = `${hostname()}:${process.pid}:${randomBytes(6).toString("hex")}`;
  const now = (): string => new Date().toISOString();

  const query = async (sql: string, args: unknown[] = []): Promise<Row[]> => {
    try {
      return (await pool.query(sql, args)).rows as Row[];
    } catch (e) {
      throw isConnectionError(e) ? unavailable(e) : e;
    }
  };
  const tx = async <T>(
    fn: (q: (sql: string, args?: unknown[]) => Promise<Row[]>) => Promise<T>,
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
      const result = await fn(async (sql, args = []) => (await client.query(sql, args)).rows as Row[]);
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
  } catch (e) {
    await pool.end().catch(() => {});
    // Refused connection, bad credentials, a missing database or no right to create the tables: all say how to fix.
    throw unavailable(e);
  }

  const beat = (): Promise<Row[]> =>
    query(
      `INSERT INTO workers (owner, started_at, heartbeat_at) VALUES ($1, now(), now())
       ON CONFLICT (owner) DO UPDATE SET heartbeat_at = now()`,
      [owner],
    );
  await beat();
  // A missed beat is retried at the next tick; only `leaseMs` without one lets others take this process's work.
  const heart = setInterval(() => void beat().catch(() => {}), Math.max(100, Math.floor(leaseMs / 3)));
  heart.unref();

  // Rows claimed by a process whose heartbeat is older than the lease (or that closed) go back to the queue.
  const recover = async (table: "jobs" | "outbox", from: string): Promise<number> => {
    const t = now();
    const rows = await query(
      `UPDATE ${table} SET status = 'pending', claimed_by = NULL, updated_at = $1
       ${table === "outbox" ? ", next_attempt_at = $1" : ""}
       WHERE status = '${from}' AND claimed_by IS DISTINCT FROM $2
         AND NOT EXISTS (SELECT 1 FROM workers w WHERE w.owner = ${table}.claimed_by
                         AND w.heartbeat_at > clock_timestamp() - $3 * interval '1 millisecond')
       RETURNING id`,
      [t, owner, leaseMs],
    );
    return rows.length;
  };

  const count = async (sql: string, args: unknown[]): Promise<number> =>
    ((await query(sql, args))[0]?.["n"] as number | undefined) ?? 0;

  return {
    kind: "postgres",
    // Checking twice per lease bounds the pick-up of a crashed instance's work at 1.5 leases.
    recoverIntervalMs: Math.min(10_000, Math.max(250, Math.floor(leaseMs / 2))),
    addInstance: (rec, modelIds) =>
      tx(async (q): Promise<AddInstanceResult> => {
        let outcome: AddInstanceResult = "stored";
        if ((await q(INSERT_INSTANCE, instanceValues(rec))).length === 0) {
          // Row lock: two processes storing two versions of one UID at once serialize here.
          const old = (
            await q("SELECT sha256 FROM instances WHERE sop_instance_uid = $1 FOR UPDATE", [
              rec.sopInstanceUid,
            ])
          )[0];
          if (old?.["sha256"] === rec.sha256) return "duplicate";
          await q(UPDATE_INSTANCE, instanceValues(rec));
          outcome = "replaced";
        }
        const t = now();
        for (const m of modelIds) {
          await q(
            `INSERT INTO jobs (sop_instance_uid, sha256, model_id, status, created_at, updated_at)
             VALUES ($1, $2, $3, 'pending', $4, $4) ON CONFLICT (sha256, model_id) DO NOTHING`,
            [rec.sopInstanceUid, rec.sha256, m, t],
          );
        }
        return outcome;
      }),
    getInstance: async (uid) => {
      const r = (await query("SELECT * FROM instances WHERE sop_instance_uid = $1", [uid]))[0];
      return r ? toInstance(r) : undefined;
    },
    findInstances: async (q) => {
      const where: string[] = [];
      const args: unknown[] = [];
      const eq = (col: string, v: string | undefined): void => {
        if (v === undefined) return;
        args.push(v);
        where.push(`${col} = $${args.length}`);
      };
      eq("study_instance_uid", q.studyInstanceUid);
      eq("series_instance_uid", q.seriesInstanceUid);
      eq("sop_instance_uid", q.sopInstanceUid);
      eq("modality", q.modality);
      eq("patient_id", q.patientId);
      eq("study_date", q.studyDate);
      eq("accession_number", q.accessionNumber);
      eq("origin", q.origin);
      args.push(q.limit ?? 1000, q.offset ?? 0);
      // COLLATE "C": byte order, as SQLite sorts, whatever the database's locale.
      const sql = `SELECT * FROM instances ${where.length ? `WHERE ${where.join(" AND ")}` : ""}
        ORDER BY study_instance_uid COLLATE "C", series_instance_uid COLLATE "C", received_at COLLATE "C",
          sop_instance_uid COLLATE "C"
        LIMIT $${args.length - 1} OFFSET $${args.length}`;
      return (await query(sql, args)).map(toInstance);
    },
    claimJob: async () => {
      const r = (
        await query(
          `UPDATE jobs SET status = 'running', attempts = attempts + 1, claimed_by = $2, updated_at = $1
           WHERE id = (SELECT id FROM jobs WHERE status = 'pending' ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED)
           RETURNING *`,
          [now(), owner],
        )
      )[0];
      return r ? toJob(r) : undefined;
    },
    completeJob: (jobId, p, results = [], sendResults = false) =>
      tx(async (q) => {
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
        if (inserted.length === 0) return false;
        for (const r of results) await q(INSERT_INSTANCE, instanceValues(r));
        if (sendResults) {
          for (const r of results) {
            await q(
              `INSERT INTO outbox (job_id, file_key, status, next_attempt_at, created_at, updated_at)
               VALUES ($1, $2, 'pending', $3, $3, $3) ON CONFLICT (job_id, file_key) DO NOTHING`,
              [jobId, r.fileKey, t],
            );
          }
        }
        await q(
          "UPDATE jobs SET status = 'done', error = NULL, claimed_by = NULL, updated_at = $1 WHERE id = $2",
          [t, jobId],
        );
        return true;
      }),
    failJob: async (jobId, error, maxAttempts) => {
      await query(
        `UPDATE jobs SET status = CASE WHEN attempts >= $1 THEN 'failed' ELSE 'pending' END, error = $2,
           claimed_by = NULL, updated_at = $3 WHERE id = $4 AND status = 'running'`,
        [maxAttempts, error, now(), jobId],
      );
    },
    recoverJobs: async () => {
      const n = await recover("jobs", "running");
      // Owners silent for ten leases have had their claims recovered; their rows are only history.
      await query(
        `DELETE FROM workers w WHERE w.heartbeat_at < clock_timestamp() - $1 * interval '1 millisecond'
           AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.claimed_by = w.owner AND j.status = 'running')
           AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.claimed_by = w.owner AND o.status = 'sending')`,
        [10 * leaseMs],
      );
      return n;
    },
    listJobs: async (limit, status) =>
      (status
        ? await query("SELECT * FROM jobs WHERE status = $1 ORDER BY id DESC LIMIT $2", [status, limit])
        : await query("SELECT * FROM jobs ORDER BY id DESC LIMIT $1", [limit])
      ).map(toJob),
    countJobs: (status) => count("SELECT COUNT(*) AS n FROM jobs WHERE status = $1", [status]),
    predictionsFor: async (uid) =>
      (await query("SELECT * FROM predictions WHERE sop_instance_uid = $1 ORDER BY job_id", [uid])).map(
        toPrediction,
      ),
    countPredictions: () => count("SELECT COUNT(*) AS n FROM predictions", []),
    claimSend: async () => {
      const t = now();
      const r = (
        await query(
          `UPDATE outbox SET status = 'sending', attempts = attempts + 1, claimed_by = $2, updated_at = $1
           WHERE id = (SELECT id FROM outbox WHERE status = 'pending' AND next_attempt_at <= $1
                       ORDER BY next_attempt_at, id LIMIT 1 FOR UPDATE SKIP LOCKED)
           RETURNING *`,
          [t, owner],
        )
      )[0];
      return r ? toSend(r) : undefined;
    },
    completeSend: async (id) => {
      await query(
        "UPDATE outbox SET status = 'sent', error = NULL, claimed_by = NULL, updated_at = $1 WHERE id = $2",
        [now(), id],
      );
    },
    retrySend: async (id, error, delayMs) => {
      await query(
        `UPDATE outbox SET status = 'pending', error = $1, next_attempt_at = $2, claimed_by = NULL, updated_at = $3
         WHERE id = $4 AND status = 'sending'`,
        [error, new Date(Date.now() + delayMs).toISOString(), now(), id],
      );
    },
    recoverSends: () => recover("outbox", "sending"),
    countSends: (status) => count("SELECT COUNT(*) AS n FROM outbox WHERE status = $1", [status]),
    listSends: async (limit, status) =>
      (status
        ? await query("SELECT * FROM outbox WHERE status = $1 ORDER BY id DESC LIMIT $2", [status, limit])
        : await query("SELECT * FROM outbox ORDER BY id DESC LIMIT $1", [limit])
      ).map(toSend),
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
      (eventId
        ? await query("SELECT * FROM audit WHERE event_id = $1 ORDER BY id DESC LIMIT $2", [eventId, limit])
        : await query("SELECT * FROM audit ORDER BY id DESC LIMIT $1", [limit])
      ).map(toAudit),
    close: async () => {
      clearInterval(heart);
      // Leaving the workers table tells the other instances at once that nothing claimed here is in progress.
      await query("DELETE FROM workers WHERE owner = $1", [owner]).catch(() => {});
      await pool.end();
    },
  };
}
