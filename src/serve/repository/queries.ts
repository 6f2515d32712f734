/** The repository's queries written once for SQLite and PostgreSQL: the QIDO filter, listings and counts; dialect differences as data. */
import type { InstanceQuery } from "./sqlite.js";

/** What differs between the two SQL dialects the repository speaks. */
export interface Dialect {
  /** The `n`th (1-based) bind placeholder: `?` for SQLite, `$n` for PostgreSQL. */
  readonly param: (n: number) => string;
  /** Appended to text columns in ORDER BY so that both sort by bytes (SQLite's order) whatever the locale. */
  readonly byteOrder: string;
  /** An auto-numbered primary key column's type. */
  readonly serial: string;
  /** A 64-bit integer column's type. */
  readonly bigint: string;
}

/** SQLite (better-sqlite3): positional `?`, byte order by default. */
export const SQLITE: Dialect = {
  param: () => "?",
  byteOrder: "",
  serial: "INTEGER PRIMARY KEY AUTOINCREMENT",
  bigint: "INTEGER",
};
/** PostgreSQL (pg): numbered `$n`, `COLLATE "C"` for byte order. */
export const POSTGRES: Dialect = {
  param: (n) => `$${n}`,
  byteOrder: ' COLLATE "C"',
  serial: "BIGSERIAL PRIMARY KEY",
  bigint: "BIGINT",
};

/**
 * The tables and indexes of the repository in dialect `d` (`CREATE … IF NOT EXISTS`, so safe at every start).
 * Column order matters: the SQLite statements insert by position.
 *
 * @example
 * ```ts
 * db.exec(schemaSql(SQLITE));
 * ```
 */
export function schemaSql(d: Dialect): string {
  return `
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
  size ${d.bigint} NOT NULL,
  origin TEXT NOT NULL,
  received_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS instances_study ON instances(study_instance_uid, series_instance_uid);
CREATE TABLE IF NOT EXISTS jobs (
  id ${d.serial},
  sop_instance_uid TEXT NOT NULL REFERENCES instances(sop_instance_uid),
  sha256 TEXT NOT NULL,
  model_id TEXT NOT NULL,
  status TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  error TEXT,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  UNIQUE (sha256, model_id)
);
CREATE INDEX IF NOT EXISTS jobs_status ON jobs(status, id);
CREATE TABLE IF NOT EXISTS predictions (
  job_id ${d.bigint} PRIMARY KEY REFERENCES jobs(id),
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
  id ${d.serial},
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
  id ${d.serial},
  job_id ${d.bigint} NOT NULL REFERENCES jobs(id),
  file_key TEXT NOT NULL,
  status TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at TEXT NOT NULL,
  error TEXT,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  UNIQUE (job_id, file_key)
);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox(status, next_attempt_at, id);
`;
}

/** A statement and its arguments. */
export interface Query {
  readonly sql: string;
  readonly args: unknown[];
}

/** The QIDO-RS matching keys (PS3.18 10.6.1) and their columns, in the order the filter is built. */
const INSTANCE_KEYS: readonly (readonly [keyof InstanceQuery, string])[] = [
  ["studyInstanceUid", "study_instance_uid"],
  ["seriesInstanceUid", "series_instance_uid"],
  ["sopInstanceUid", "sop_instance_uid"],
  ["modality", "modality"],
  ["patientId", "patient_id"],
  ["studyDate", "study_date"],
  ["accessionNumber", "accession_number"],
  ["origin", "origin"],
];

/**
 * The instances matching `q` (exact match on each key given), ordered by study, series and arrival, one page.
 *
 * @example
 * ```ts
 * const { sql, args } = findInstancesQuery({ modality: "CT", limit: 10 }, POSTGRES);
 * ```
 */
export function findInstancesQuery(q: InstanceQuery, d: Dialect): Query {
  const where: string[] = [];
  const args: unknown[] = [];
  for (const [key, col] of INSTANCE_KEYS) {
    const v = q[key];
    if (v === undefined) continue;
    args.push(v);
    where.push(`${col} = ${d.param(args.length)}`);
  }
  args.push(q.limit ?? 1000, q.offset ?? 0);
  const o = d.byteOrder;
  return {
    sql: `SELECT * FROM instances ${where.length ? `WHERE ${where.join(" AND ")}` : ""}
      ORDER BY study_instance_uid${o}, series_instance_uid${o}, received_at${o}, sop_instance_uid${o}
      LIMIT ${d.param(args.length - 1)} OFFSET ${d.param(args.length)}`,
    args,
  };
}

/**
 * The newest `limit` rows of `table`, optionally only those whose `column` equals `value`.
 *
 * @example
 * ```ts
 * listQuery("jobs", 100, SQLITE, "status", "failed"); // SELECT * FROM jobs WHERE status = ? ORDER BY id DESC LIMIT ?
 * ```
 */
export function listQuery(
  table: "jobs" | "outbox" | "audit",
  limit: number,
  d: Dialect,
  column?: "status" | "event_id",
  value?: string,
): Query {
  return value !== undefined && column
    ? {
        sql: `SELECT * FROM ${table} WHERE ${column} = ${d.param(1)} ORDER BY id DESC LIMIT ${d.param(2)}`,
        args: [value, limit],
      }
    : { sql: `SELECT * FROM ${table} ORDER BY id DESC LIMIT ${d.param(1)}`, args: [limit] };
}

/**
 * The number of rows of `table` whose status is `status` (all rows without one), as column `n`.
 *
 * @example
 * ```ts
 * countQuery("outbox", POSTGRES, "pending"); // SELECT COUNT(*) AS n FROM outbox WHERE status = $1
 * ```
 */
export function countQuery(table: "jobs" | "outbox" | "predictions", d: Dialect, status?: string): Query {
  return status === undefined
    ? { sql: `SELECT COUNT(*) AS n FROM ${table}`, args: [] }
    : { sql: `SELECT COUNT(*) AS n FROM ${table} WHERE status = ${d.param(1)}`, args: [status] };
}
