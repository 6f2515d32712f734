/** The repository's queries written once for SQLite and PostgreSQL: the QIDO filter, listings and counts; dialect differences as data. */
/** Filters for `Repository.findInstances` (QIDO-RS matching keys, exact match). */
export interface InstanceQuery {
  readonly studyInstanceUid?: string;
  readonly seriesInstanceUid?: string;
  readonly sopInstanceUid?: string;
  readonly modality?: string;
  readonly patientId?: string;
  readonly studyDate?: string;
  readonly accessionNumber?: string;
  readonly origin?: "received" | "result";
  readonly limit?: number;
  readonly offset?: number;
}

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
  /** `col` matched against a bound DICOM wildcard pattern (built by {@link Dialect.pattern}), case-sensitively. */
  readonly wildcard: (col: string, param: string) => string;
  /** A DICOM wildcard value (`*` any run, `?` one character; PS3.4 C.2.2.2.4) as this dialect's pattern. */
  readonly pattern: (dicom: string) => string;
  /** The `n`th (1-based) `^`-separated component of a PN column (PS3.5 6.2.1.1), "" when absent. */
  readonly pnComponent: (col: string, n: number) => string;
  /** The distinct values of `col` in a group, joined by commas. */
  readonly distinctList: (col: string) => string;
}

/** SQLite (better-sqlite3): positional `?`, byte order by default. */
export const SQLITE: Dialect = {
  param: () => "?",
  byteOrder: "",
  serial: "INTEGER PRIMARY KEY AUTOINCREMENT",
  bigint: "INTEGER",
  // GLOB, unlike SQLite's LIKE, is case-sensitive as DICOM matching is; "[" is its only other special character.
  wildcard: (col, param) => `${col} GLOB ${param}`,
  pattern: (dicom) => dicom.replace(/\[/g, "[[]"),
  // A deterministic function the SQLite repository registers (SQLite has no split function).
  pnComponent: (col, n) => `rl_pn_component(${col}, ${n})`,
  distinctList: (col) => `group_concat(DISTINCT ${col})`,
};
/** PostgreSQL (pg): numbered `$n`, `COLLATE "C"` for byte order. */
export const POSTGRES: Dialect = {
  param: (n) => `$${n}`,
  byteOrder: ' COLLATE "C"',
  serial: "BIGSERIAL PRIMARY KEY",
  bigint: "BIGINT",
  wildcard: (col, param) => `${col} LIKE ${param} ESCAPE '\\'`,
  pattern: (dicom) =>
    dicom
      .replace(/[\\%_]/g, (c) => `\\${c}`)
      .replace(/\*/g, "%")
      .replace(/\?/g, "_"),
  pnComponent: (col, n) => `split_part(${col}, '^', ${n})`,
  distinctList: (col) => `string_agg(DISTINCT ${col}, ',')`,
};

/**
 * Instance columns added after the first schema (QIDO-RS matching and return keys, PS3.18 10.6.3.3). A database
 * created before them gets them by `ALTER TABLE … ADD COLUMN … DEFAULT ''` at start ({@link addedColumnsSql});
 * its old rows answer "" for them until the instance is received again.
 */
export const ADDED_INSTANCE_COLUMNS = [
  "study_time",
  "study_id",
  "study_description",
  "referring_physician_name",
  "patient_birth_date",
  "patient_sex",
  "series_description",
  "series_number",
  "instance_number",
  "rows",
  "columns",
  "bits_allocated",
  "number_of_frames",
] as const;

/** Every column of the instances table in table order (the SQLite statements bind by name, PostgreSQL by position). */
export const INSTANCE_COLUMNS = [
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
  ...ADDED_INSTANCE_COLUMNS,
] as const;

/**
 * `ALTER TABLE` statements adding the {@link ADDED_INSTANCE_COLUMNS} that `existing` (the table's current column
 * names) lacks.
 *
 * @example
 * ```ts
 * for (const s of addedColumnsSql(new Set(["sop_instance_uid"]))) db.exec(s);
 * ```
 */
export function addedColumnsSql(existing: ReadonlySet<string>): string[] {
  return ADDED_INSTANCE_COLUMNS.filter((c) => !existing.has(c)).map(
    (c) => `ALTER TABLE instances ADD COLUMN ${c} TEXT NOT NULL DEFAULT ''`,
  );
}

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
  received_at TEXT NOT NULL,
${ADDED_INSTANCE_COLUMNS.map((c) => `  ${c} TEXT NOT NULL DEFAULT ''`).join(",\n")}
);
CREATE INDEX IF NOT EXISTS instances_study ON instances(study_instance_uid, series_instance_uid);
CREATE INDEX IF NOT EXISTS instances_patient ON instances(patient_id);
CREATE INDEX IF NOT EXISTS instances_study_date ON instances(study_date);
CREATE INDEX IF NOT EXISTS instances_accession ON instances(accession_number);
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

/** A level of the QIDO-RS information model (PS3.18 10.6.1): what one result stands for. */
export type QidoLevel = "study" | "series" | "instance";

/** An instance column a QIDO-RS filter may name. */
export type QidoColumn =
  | "study_instance_uid"
  | "series_instance_uid"
  | "sop_instance_uid"
  | "sop_class_uid"
  | "modality"
  | "study_date"
  | "patient_id"
  | "patient_name"
  | "accession_number"
  | "origin"
  | (typeof ADDED_INSTANCE_COLUMNS)[number];

/**
 * One matching key, already validated (PS3.4 C.2.2.2): single value (exact), list (UID list matching), wildcard
 * (`*`, `?`), range (either end open) or fuzzy person name (case-insensitive, each `^` component a prefix).
 */
export type QidoMatch =
  | { readonly kind: "exact"; readonly value: string }
  | { readonly kind: "list"; readonly values: readonly string[] }
  | { readonly kind: "wildcard"; readonly pattern: string }
  | { readonly kind: "range"; readonly from?: string; readonly to?: string }
  | { readonly kind: "fuzzy-pn"; readonly components: readonly string[] };

/** A filter on one column; `level` is the information-model level the attribute belongs to. */
export interface QidoFilter {
  readonly column: QidoColumn;
  readonly level: QidoLevel;
  readonly match: QidoMatch;
}

/** A QIDO-RS search: the level answered, the filters (all must hold) and the page. */
export interface QidoSearch {
  readonly level: QidoLevel;
  readonly filters: readonly QidoFilter[];
  readonly limit: number;
  readonly offset: number;
}

const RANK: Readonly<Record<QidoLevel, number>> = { study: 0, series: 1, instance: 2 };

/** The SQL condition of one filter, its arguments appended to `args`. */
function condition(f: QidoFilter, d: Dialect, args: unknown[]): string {
  const bind = (v: unknown): string => {
    args.push(v);
    return d.param(args.length);
  };
  const m = f.match;
  const col = f.column;
  switch (m.kind) {
    case "exact":
      return `${col} = ${bind(m.value)}`;
    case "list":
      return `${col} IN (${m.values.map(bind).join(", ")})`;
    case "wildcard":
      return d.wildcard(col, bind(d.pattern(m.pattern)));
    case "range": {
      // An empty stored value never falls in a range (PS3.4 C.2.2.2.5).
      const parts = [`${col} <> ''`];
      if (m.from !== undefined) parts.push(`${col} >= ${bind(m.from)}`);
      if (m.to !== undefined) parts.push(`${col} <= ${bind(m.to)}`);
      return `(${parts.join(" AND ")})`;
    }
    case "fuzzy-pn":
      // Each query component a case-insensitive prefix of the same component of the stored name; a single
      // component may match the family or the given name (the ones people type first).
      if (m.components.length === 1) {
        const p = d.pattern(`${(m.components[0] as string).toLowerCase()}*`);
        return `(${d.wildcard(`LOWER(${d.pnComponent(col, 1)})`, bind(p))} OR ${d.wildcard(
          `LOWER(${d.pnComponent(col, 2)})`,
          bind(p),
        )})`;
      }
      return `(${m.components
        .map((c, i) =>
          c === ""
            ? "1 = 1"
            : d.wildcard(`LOWER(${d.pnComponent(col, i + 1)})`, bind(d.pattern(`${c.toLowerCase()}*`))),
        )
        .join(" AND ")})`;
  }
}

/** The key column of a level (what a lower-level filter is folded into by a subquery). */
const LEVEL_KEY: Readonly<Record<QidoLevel, string>> = {
  study: "study_instance_uid",
  series: "series_instance_uid",
  instance: "sop_instance_uid",
};

/**
 * One page of a QIDO-RS search at its level, in SQL for both dialects: filters on attributes of the level or above
 * apply to the rows, filters on lower levels select the level's keys by a subquery (a study matches `Modality=CT`
 * when one of its series does, and still counts all its series and instances). Studies and series are grouped in
 * SQL with their counts (PS3.18 10.6.3.3.1: NumberOfStudyRelatedSeries/Instances, ModalitiesInStudy), so paging
 * is over results, never over instances in JavaScript.
 *
 * @example
 * ```ts
 * const { sql, args } = qidoQuery({ level: "study", filters: [], limit: 10, offset: 0 }, SQLITE);
 * ```
 */
export function qidoQuery(s: QidoSearch, d: Dialect): Query {
  const args: unknown[] = [];
  const where: string[] = [];
  const below = s.filters.filter((f) => RANK[f.level] > RANK[s.level]);
  for (const f of s.filters) if (RANK[f.level] <= RANK[s.level]) where.push(condition(f, d, args));
  if (below.length > 0) {
    const key = LEVEL_KEY[s.level];
    where.push(
      `${key} IN (SELECT ${key} FROM instances WHERE ${below.map((f) => condition(f, d, args)).join(" AND ")})`,
    );
  }
  const filter = where.length ? `WHERE ${where.join(" AND ")}` : "";
  const o = d.byteOrder;
  args.push(s.limit, s.offset);
  const page = `LIMIT ${d.param(args.length - 1)} OFFSET ${d.param(args.length)}`;
  if (s.level === "instance")
    return {
      sql: `SELECT * FROM instances ${filter}
      ORDER BY study_instance_uid${o}, series_instance_uid${o}, received_at${o}, sop_instance_uid${o} ${page}`,
      args,
    };
  const study = [
    "patient_name",
    "patient_id",
    "patient_birth_date",
    "patient_sex",
    "study_date",
    "study_time",
    "accession_number",
    "referring_physician_name",
    "study_id",
    "study_description",
  ];
  // Study attributes are the same in every instance of a study; MIN picks one deterministically if not.
  const pick = (cols: readonly string[]): string => cols.map((c) => `MIN(${c}) AS ${c}`).join(", ");
  if (s.level === "series")
    return {
      sql: `SELECT study_instance_uid, series_instance_uid, ${pick([
        ...study,
        "modality",
        "series_description",
        "series_number",
      ])}, COUNT(*) AS instance_count
      FROM instances ${filter} GROUP BY study_instance_uid, series_instance_uid
      ORDER BY study_instance_uid${o}, series_instance_uid${o} ${page}`,
      args,
    };
  return {
    sql: `SELECT study_instance_uid, ${pick(study)}, COUNT(DISTINCT series_instance_uid) AS series_count,
      COUNT(*) AS instance_count, ${d.distinctList("modality")} AS modalities
      FROM instances ${filter} GROUP BY study_instance_uid ORDER BY study_instance_uid${o} ${page}`,
    args,
  };
}
