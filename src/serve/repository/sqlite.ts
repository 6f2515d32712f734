/** The service's repository interface (instances, the durable job queue, predictions, the result outbox, the audit log) and its SQLite implementation. */
import { createHash } from "node:crypto";
import { createRequire } from "node:module";
import { Worker } from "node:worker_threads";
import {
  ADDED_COLUMNS,
  addedColumnsSql,
  countQuery,
  dueGroupsQuery,
  findInstancesQuery,
  groupStatusQuery,
  INSTANCE_COLUMNS,
  type InstanceQuery,
  listQuery,
  type QidoSearch,
  qidoQuery,
  queueGroupQuery,
  registerGroupQuery,
  SQLITE,
  schemaSql,
} from "./queries.js";
import { openSqliteDb } from "./sqlite-db.js";

/** A received DICOM instance as indexed for QIDO-RS; the file lives under the instance folder by `fileKey`. */
export interface InstanceRecord {
  readonly sopInstanceUid: string;
  readonly sopClassUid: string;
  readonly studyInstanceUid: string;
  readonly seriesInstanceUid: string;
  readonly modality: string;
  readonly studyDate: string;
  readonly patientId: string;
  readonly patientName: string;
  readonly accessionNumber: string;
  /** SHA-256 of the file bytes (hex); the file name is derived from it, never from a UID. */
  readonly sha256: string;
  readonly fileKey: string;
  readonly size: number;
  /** "received" for inbound instances, "result" for objects the service created (SR). */
  readonly origin: "received" | "result";
  readonly receivedAt: string;
  /** QIDO-RS return keys (PS3.18 10.6.3.3), as stored ("" when absent). */
  readonly studyTime?: string;
  readonly studyId?: string;
  readonly studyDescription?: string;
  readonly referringPhysicianName?: string;
  readonly patientBirthDate?: string;
  readonly patientSex?: string;
  readonly seriesDescription?: string;
  readonly seriesNumber?: string;
  readonly instanceNumber?: string;
  readonly rows?: string;
  readonly columns?: string;
  readonly bitsAllocated?: string;
  readonly numberOfFrames?: string;
}

/**
 * One QIDO-RS result ({@link Repository.search}): an instance, or a series or study with the attributes of its
 * level (lower-level fields are "") and its counts.
 */
export interface SearchResult {
  readonly record: InstanceRecord;
  /** Studies: NumberOfStudyRelatedSeries (0020,1206). */
  readonly seriesCount?: number;
  /** Studies and series: NumberOfStudyRelatedInstances (0020,1208) / NumberOfSeriesRelatedInstances (0020,1209). */
  readonly instanceCount?: number;
  /** Studies: ModalitiesInStudy (0008,0061). */
  readonly modalities?: readonly string[];
}

/** One job of the analysis queue: one model on one received version (content hash) of an instance. */
export interface JobRecord {
  readonly id: number;
  readonly sopInstanceUid: string;
  readonly sha256: string;
  readonly modelId: string;
  readonly status: "pending" | "running" | "done" | "failed";
  readonly attempts: number;
  readonly error: string | null;
  readonly createdAt: string;
  readonly updatedAt: string;
  /** The routing rule whose destinations get the results (null: the service's own destinations). */
  readonly rule: string | null;
  /** `series:<uid>` or `study:<uid>` for an analysis of a whole series or study; null for one instance. */
  readonly scope: string | null;
}

/** A series or study that a series/study-level rule waits for, registered with each of its instances. */
export interface GroupRegistration {
  readonly rule: string;
  readonly level: "series" | "study";
  /** SeriesInstanceUID or StudyInstanceUID. */
  readonly groupUid: string;
  readonly modelIds: readonly string[];
  /** Complete once no new instance arrived for this long. */
  readonly timeoutMs: number;
}

/** What a received instance queues: one job per model now (instance level), and the groups it belongs to. */
export interface InstanceWork {
  /** The rule the jobs belong to (absent: no rules are configured). */
  readonly rule?: string;
  readonly modelIds: readonly string[];
  readonly groups?: readonly GroupRegistration[];
}

/** Outcome of {@link Repository.addRoutedInstance}: the store outcome and the groups already queued (late). */
export interface RoutedAddResult {
  readonly outcome: AddInstanceResult;
  readonly late: readonly GroupRegistration[];
}

/** A series or study waiting for completion ("open") or handed to the analysis queue ("queued"). */
export interface GroupRecord {
  readonly id: number;
  readonly rule: string;
  readonly level: "series" | "study";
  readonly groupUid: string;
  readonly modelIds: readonly string[];
  readonly instances: number;
  /** Instances that arrived after the group was queued (audited, not analysed; ADR 126). */
  readonly lateInstances: number;
  readonly status: "open" | "queued";
  readonly dueAt: string;
  readonly createdAt: string;
  readonly updatedAt: string;
}

/**
 * The content hash a group's job is keyed by (jobs are unique per hash and model): a group is analysed once.
 *
 * @example
 * ```ts
 * groupJobKey(7); // 64 hex digits
 * ```
 */
export function groupJobKey(groupId: number): string {
  return createHash("sha256").update(`radiolens-group:${groupId}`).digest("hex");
}

/** A committed prediction; at most one per job (UNIQUE), which makes analysis exactly-once. */
export interface PredictionRecord {
  readonly jobId: number;
  readonly sopInstanceUid: string;
  readonly modelId: string;
  readonly modelVersion: string;
  readonly label: string;
  readonly probabilities: Readonly<Record<string, number>>;
  readonly resultSopInstanceUid: string | null;
  readonly createdAt: string;
}

/** One audit record (PS3.15 A.5: who, what, when, outcome). */
export interface AuditRecord {
  readonly id?: number;
  readonly time: string;
  /** Event ID code value (DCM), e.g. "110104" DICOM Instances Transferred. */
  readonly eventId: string;
  readonly eventName: string;
  /** Event Action Code: C create, R read, U update, D delete, E execute. */
  readonly action: "C" | "R" | "U" | "D" | "E";
  /** Event Outcome Indicator: 0 success, 4 minor failure, 8 serious failure, 12 major failure. */
  readonly outcome: 0 | 4 | 8 | 12;
  /** The active participant: principal id (never a patient identifier). */
  readonly user: string;
  readonly role: string;
  readonly source: string;
  /** The participant object: a route, model id or a hash of the instance, never a raw UID or a name. */
  readonly object: string;
  readonly detail: string;
}

export type { InstanceQuery };

/**
 * Outcome of {@link Repository.addInstance}: new; the same bytes again (nothing to do); or the same SOP Instance
 * UID with other bytes (e.g. resent in another transfer syntax), which becomes the current version and is analysed.
 */
export type AddInstanceResult = "stored" | "duplicate" | "replaced";

/**
 * One result object waiting to be sent on to the configured C-STORE destination (the outbox). A row is written
 * with the job's commit and leaves "pending" only when the destination acknowledged it (status 0x0000).
 */
export interface SendRecord {
  readonly id: number;
  readonly jobId: number;
  /** The stored result file (`ab/abcdef….dcm`). */
  readonly fileKey: string;
  /** "sending" while one process holds it; back to "pending" after a failure or when that process is gone. */
  readonly status: "pending" | "sending" | "sent" | "failed";
  /** Tries so far, the one in progress included. */
  readonly attempts: number;
  /** Not tried again before this time (ISO 8601). */
  readonly nextAttemptAt: string;
  readonly error: string | null;
  readonly createdAt: string;
  readonly updatedAt: string;
  /** The rule of the job whose result this is (null: the service's own destinations). */
  readonly rule: string | null;
}

/**
 * The one storage interface of the service, asynchronous so that a database server can sit behind it: SQLite
 * ({@link openSqliteRepository}) for one instance, PostgreSQL (`openPostgresRepository`) for several instances
 * sharing one database. Both give the same answers; the contract tests run one test body against each.
 */
export interface Repository {
  /** "sqlite" or "postgres". */
  readonly kind: "sqlite" | "postgres";
  /** How often workers should call the recover methods to pick up work of processes that are gone. */
  readonly recoverIntervalMs: number;
  /** Indexes a stored instance and enqueues one job per model, in one transaction. */
  addInstance(rec: InstanceRecord, modelIds: readonly string[]): Promise<AddInstanceResult>;
  /**
   * Like {@link Repository.addInstance}, for an instance a routing rule took: its jobs carry the rule, and the
   * series/studies it belongs to are registered (created open, or their completion time moved on) in the same
   * transaction, so an acknowledged instance is never missing from its group's analysis.
   */
  addRoutedInstance(rec: InstanceRecord, work: InstanceWork): Promise<RoutedAddResult>;
  /**
   * Queues every open group whose completion time has passed: one job per model, created in the transaction
   * that marks the group queued, so a group is analysed exactly once even when several processes or a restart
   * race for it. Returns how many groups were queued.
   */
  queueDueGroups(): Promise<number>;
  listGroups(limit: number, status?: GroupRecord["status"]): Promise<GroupRecord[]>;
  getInstance(sopInstanceUid: string): Promise<InstanceRecord | undefined>;
  findInstances(q: InstanceQuery): Promise<InstanceRecord[]>;
  /** One page of a QIDO-RS search at its level (filters and grouping in SQL, {@link qidoQuery}). */
  search(s: QidoSearch): Promise<SearchResult[]>;
  /** Atomically moves the oldest pending job to running, claimed by this repository, and returns it. */
  claimJob(): Promise<JobRecord | undefined>;
  /**
   * Commits the prediction, the result instances' index rows, one outbox row per result when `sendResults`, and
   * the job's "done" mark in one transaction; false (nothing written) if the job already has a prediction.
   */
  completeJob(
    jobId: number,
    p: Omit<PredictionRecord, "jobId" | "createdAt">,
    results?: readonly InstanceRecord[],
    sendResults?: boolean,
  ): Promise<boolean>;
  /** Back to pending, or "failed" for good once `attempts >= maxAttempts`. */
  failJob(jobId: number, error: string, maxAttempts: number): Promise<void>;
  /**
   * Puts jobs left `running` by a process that is gone back to pending (their results were never committed);
   * jobs this repository claimed itself are left alone, so it may run at any time. Returns how many.
   */
  recoverJobs(): Promise<number>;
  listJobs(limit: number, status?: JobRecord["status"]): Promise<JobRecord[]>;
  countJobs(status: JobRecord["status"]): Promise<number>;
  predictionsFor(sopInstanceUid: string): Promise<PredictionRecord[]>;
  countPredictions(): Promise<number>;
  /** Atomically moves the oldest due pending send to "sending", claimed by this repository, and returns it. */
  claimSend(): Promise<SendRecord | undefined>;
  /** The destination acknowledged the object. */
  completeSend(id: number): Promise<void>;
  /** The send failed: back to pending, not tried again for `delayMs`. */
  retrySend(id: number, error: string, delayMs: number): Promise<void>;
  /** Like {@link Repository.recoverJobs} for sends cut by a crash: they become due now. */
  recoverSends(): Promise<number>;
  countSends(status: SendRecord["status"]): Promise<number>;
  listSends(limit: number, status?: SendRecord["status"]): Promise<SendRecord[]>;
  audit(rec: Omit<AuditRecord, "id" | "time"> & { time?: string }): Promise<void>;
  /** Writes several audit records in one transaction, in order (the group commit of src/serve/audit.ts). */
  auditMany(recs: readonly (Omit<AuditRecord, "id" | "time"> & { time?: string })[]): Promise<void>;
  listAudit(limit: number, eventId?: string): Promise<AuditRecord[]>;
  close(): Promise<void>;
}

/** The QIDO-only record fields and their columns. */
const ADDED_FIELDS: readonly (readonly [keyof InstanceRecord, string])[] = [
  ["studyTime", "study_time"],
  ["studyId", "study_id"],
  ["studyDescription", "study_description"],
  ["referringPhysicianName", "referring_physician_name"],
  ["patientBirthDate", "patient_birth_date"],
  ["patientSex", "patient_sex"],
  ["seriesDescription", "series_description"],
  ["seriesNumber", "series_number"],
  ["instanceNumber", "instance_number"],
  ["rows", "rows"],
  ["columns", "columns"],
  ["bitsAllocated", "bits_allocated"],
  ["numberOfFrames", "number_of_frames"],
];

const ADDED_COLUMNS_SET = INSTANCE_COLUMNS.slice(14)
  .map((c) => `${c} = @${c}`)
  .join(", ");

/** A database row by column name (shared with the PostgreSQL implementation). */
export type Row = Record<string, unknown>;

/**
 * An instance row as a record.
 *
 * @example
 * ```ts
 * toInstance(row).sopInstanceUid;
 * ```
 */
export const toInstance = (r: Row): InstanceRecord => ({
  sopInstanceUid: r["sop_instance_uid"] as string,
  sopClassUid: r["sop_class_uid"] as string,
  studyInstanceUid: r["study_instance_uid"] as string,
  seriesInstanceUid: r["series_instance_uid"] as string,
  modality: r["modality"] as string,
  studyDate: r["study_date"] as string,
  patientId: r["patient_id"] as string,
  patientName: r["patient_name"] as string,
  accessionNumber: r["accession_number"] as string,
  sha256: r["sha256"] as string,
  fileKey: r["file_key"] as string,
  size: r["size"] as number,
  origin: r["origin"] as InstanceRecord["origin"],
  receivedAt: r["received_at"] as string,
  // The QIDO-only attributes are present when they have a value, so a record reads back as it was written.
  ...Object.fromEntries(
    ADDED_FIELDS.filter(([, col]) => typeof r[col] === "string" && r[col] !== "").map(([f, col]) => [
      f,
      r[col],
    ]),
  ),
});

/**
 * A QIDO-RS result row (instance, or grouped series or study with counts) as a {@link SearchResult}.
 *
 * @example
 * ```ts
 * toSearchResult({ study_instance_uid: "1.2", series_count: 2, instance_count: 9, modalities: "CT,SR" });
 * ```
 */
export const toSearchResult = (r: Row): SearchResult => {
  const text = (k: string): string => (r[k] as string | null | undefined) ?? "";
  const record = toInstance(
    Object.fromEntries(
      INSTANCE_COLUMNS.map((c) => [c, c === "size" ? Number(r[c] ?? 0) : c === "origin" ? r[c] : text(c)]),
    ),
  );
  return {
    record,
    ...(r["series_count"] !== undefined ? { seriesCount: Number(r["series_count"]) } : {}),
    ...(r["instance_count"] !== undefined ? { instanceCount: Number(r["instance_count"]) } : {}),
    ...(r["modalities"] !== undefined
      ? {
          modalities: text("modalities")
            .split(",")
            .filter((m) => m !== "")
            .sort(),
        }
      : {}),
  };
};

/**
 * A job row as a record.
 *
 * @example
 * ```ts
 * toJob(row).status; // "pending"
 * ```
 */
export const toJob = (r: Row): JobRecord => ({
  id: r["id"] as number,
  sopInstanceUid: r["sop_instance_uid"] as string,
  sha256: r["sha256"] as string,
  modelId: r["model_id"] as string,
  status: r["status"] as JobRecord["status"],
  attempts: r["attempts"] as number,
  error: (r["error"] as string | null) ?? null,
  createdAt: r["created_at"] as string,
  updatedAt: r["updated_at"] as string,
  rule: (r["rule"] as string | null | undefined) ?? null,
  scope: (r["scope"] as string | null | undefined) ?? null,
});

/**
 * A group row as a record.
 *
 * @example
 * ```ts
 * toGroup(row).status; // "open"
 * ```
 */
export const toGroup = (r: Row): GroupRecord => ({
  id: r["id"] as number,
  rule: r["rule"] as string,
  level: r["level"] as GroupRecord["level"],
  groupUid: r["group_uid"] as string,
  modelIds: JSON.parse(r["model_ids"] as string) as string[],
  instances: r["instances"] as number,
  lateInstances: r["late_instances"] as number,
  status: r["status"] as GroupRecord["status"],
  dueAt: r["due_at"] as string,
  createdAt: r["created_at"] as string,
  updatedAt: r["updated_at"] as string,
});

/**
 * A prediction row as a record (probabilities are stored as JSON text).
 *
 * @example
 * ```ts
 * toPrediction(row).probabilities["pneumonia"];
 * ```
 */
export const toPrediction = (r: Row): PredictionRecord => ({
  jobId: r["job_id"] as number,
  sopInstanceUid: r["sop_instance_uid"] as string,
  modelId: r["model_id"] as string,
  modelVersion: r["model_version"] as string,
  label: r["label"] as string,
  probabilities: JSON.parse(r["probabilities"] as string) as Record<string, number>,
  resultSopInstanceUid: (r["result_sop_instance_uid"] as string | null) ?? null,
  createdAt: r["created_at"] as string,
});

/**
 * An audit row as a record.
 *
 * @example
 * ```ts
 * toAudit(row).eventId; // "110104"
 * ```
 */
export const toAudit = (r: Row): AuditRecord => ({
  id: r["id"] as number,
  time: r["time"] as string,
  eventId: r["event_id"] as string,
  eventName: r["event_name"] as string,
  action: r["action"] as AuditRecord["action"],
  outcome: r["outcome"] as AuditRecord["outcome"],
  user: r["user"] as string,
  role: r["role"] as string,
  source: r["source"] as string,
  object: r["object"] as string,
  detail: r["detail"] as string,
});

/**
 * An outbox row as a record.
 *
 * @example
 * ```ts
 * toSend(row).fileKey;
 * ```
 */
export const toSend = (r: Row): SendRecord => ({
  id: r["id"] as number,
  jobId: r["job_id"] as number,
  fileKey: r["file_key"] as string,
  status: r["status"] as SendRecord["status"],
  attempts: r["attempts"] as number,
  nextAttemptAt: r["next_attempt_at"] as string,
  error: (r["error"] as string | null) ?? null,
  createdAt: r["created_at"] as string,
  updatedAt: r["updated_at"] as string,
  rule: (r["rule"] as string | null | undefined) ?? null,
});

/**
 * Column values of an instance row (shared with the PostgreSQL implementation).
 *
 * @example
 * ```ts
 * instanceRow(rec)["sop_instance_uid"];
 * ```
 */
export const instanceRow = (rec: InstanceRecord): Row => ({
  sop_instance_uid: rec.sopInstanceUid,
  sop_class_uid: rec.sopClassUid,
  study_instance_uid: rec.studyInstanceUid,
  series_instance_uid: rec.seriesInstanceUid,
  modality: rec.modality,
  study_date: rec.studyDate,
  patient_id: rec.patientId,
  patient_name: rec.patientName,
  accession_number: rec.accessionNumber,
  sha256: rec.sha256,
  file_key: rec.fileKey,
  size: rec.size,
  origin: rec.origin,
  received_at: rec.receivedAt,
  study_time: rec.studyTime ?? "",
  study_id: rec.studyId ?? "",
  study_description: rec.studyDescription ?? "",
  referring_physician_name: rec.referringPhysicianName ?? "",
  patient_birth_date: rec.patientBirthDate ?? "",
  patient_sex: rec.patientSex ?? "",
  series_description: rec.seriesDescription ?? "",
  series_number: rec.seriesNumber ?? "",
  instance_number: rec.instanceNumber ?? "",
  rows: rec.rows ?? "",
  columns: rec.columns ?? "",
  bits_allocated: rec.bitsAllocated ?? "",
  number_of_frames: rec.numberOfFrames ?? "",
});

/** The audit table's columns, in order, shared by both implementations' INSERT statements. */
export const AUDIT_COLUMNS = `time, event_id, event_name, action, outcome, "user", role, source, object, detail`;

/**
 * An audit record's values in {@link AUDIT_COLUMNS} order (the time defaults to now).
 *
 * @example
 * ```ts
 * db.prepare(`INSERT INTO audit (${AUDIT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`).run(...auditValues(rec));
 * ```
 */
export function auditValues(rec: Omit<AuditRecord, "id" | "time"> & { time?: string }): unknown[] {
  return [
    rec.time ?? new Date().toISOString(),
    rec.eventId,
    rec.eventName,
    rec.action,
    rec.outcome,
    rec.user,
    rec.role,
    rec.source,
    rec.object,
    rec.detail,
  ];
}

/** How often the checkpoint thread copies committed WAL pages into the database file. */
const CHECKPOINT_MS = 1000;

/**
 * A worker thread with its own connection that runs `PRAGMA wal_checkpoint(PASSIVE)` every second, so that copying
 * the WAL into the database file and its fsync happen beside the event loop. PASSIVE never blocks the writer; a
 * commit's durability does not depend on checkpoints (a committed transaction is in the WAL, which survives
 * `kill -9`), and the last connection to close checkpoints what is left.
 */
function startCheckpointer(module: string, path: string): { stop(): Promise<void> } {
  const code = `
    const { workerData, parentPort } = require("node:worker_threads");
    const Database = require(workerData.module);
    const db = new Database(workerData.path);
    db.pragma("busy_timeout = 5000");
    const timer = setInterval(() => { try { db.pragma("wal_checkpoint(PASSIVE)"); } catch {} }, workerData.ms);
    parentPort.once("message", () => { clearInterval(timer); db.close(); parentPort.close(); });
  `;
  const w = new Worker(code, { eval: true, workerData: { module, path, ms: CHECKPOINT_MS } });
  w.on("error", () => {});
  w.unref();
  const exited = new Promise<void>((res) => w.once("exit", () => res()));
  return {
    // The thread closes its connection between checkpoints, so the last connection's close is the main one's.
    async stop() {
      w.postMessage("close");
      const timer = setTimeout(() => void w.terminate(), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/**
 * Opens (creating if needed) the SQLite repository at `path` (":memory:" for tests). WAL journal: every commit
 * survives `kill -9`; the transactions that index a received instance (before its acknowledgement) and commit a
 * result also fsync (`synchronous=FULL`), so they survive power loss as well.
 *
 * @example
 * ```ts
 * const repo = openSqliteRepository("/var/lib/radiolens/radiolens.db");
 * await repo.audit({ eventId: "110100", eventName: "Application Activity", action: "E", outcome: 0, user: "system", role: "system", source: "local", object: "start", detail: "" });
 * ```
 */
export function openSqliteRepository(path: string): Repository {
  // NORMAL in WAL mode: a commit survives a process crash (kill -9); FULL (fsync per commit) is switched on
  // around the transactions an acknowledgement or an exactly-once result depends on, see `durable`.
  const db = openSqliteDb(path, "the SQLite store");
  db.exec(schemaSql(SQLITE));
  const columns = new Set(
    (db.prepare("PRAGMA table_info(instances)").all() as { name: string }[]).map((c) => c.name),
  );
  for (const sql of addedColumnsSql(columns)) db.exec(sql);
  // PS3.5 6.2.1.1: a PN value's components are separated by "^"; SQLite has no split function.
  db.function("rl_pn_component", { deterministic: true }, (v: unknown, n: unknown) =>
    typeof v === "string" ? (v.split("=")[0]?.split("^")[Number(n) - 1] ?? "") : "",
  );
  for (const [table, column, type] of ADDED_COLUMNS) {
    const has = (db.prepare(`PRAGMA table_info(${table})`).all() as Row[]).some((c) => c["name"] === column);
    if (!has) db.exec(`ALTER TABLE ${table} ADD COLUMN ${column} ${type}`);
  }
  const checkpointer =
    path === ":memory:"
      ? undefined
      : startCheckpointer(createRequire(import.meta.url).resolve("better-sqlite3"), path);
  // The commit that crosses the WAL's 1000-page mark would otherwise copy the WAL into the database and fsync it
  // on the event loop: 15–56 ms every ~480 audit records, every request in flight waiting on it.
  if (checkpointer) db.pragma("wal_autocheckpoint = 0");
  const now = (): string => new Date().toISOString();

  const insInstance = db.prepare(
    `INSERT INTO instances (${INSTANCE_COLUMNS.join(", ")}) VALUES (${INSTANCE_COLUMNS.map((c) => `@${c}`).join(", ")})`,
  );
  const getInst = db.prepare("SELECT * FROM instances WHERE sop_instance_uid = ?");
  const replaceInstance = db.prepare(
    `UPDATE instances SET sop_class_uid = @sop_class_uid, study_instance_uid = @study_instance_uid,
     series_instance_uid = @series_instance_uid, modality = @modality, study_date = @study_date,
     patient_id = @patient_id, patient_name = @patient_name, accession_number = @accession_number,
     sha256 = @sha256, file_key = @file_key, size = @size, origin = @origin, received_at = @received_at,
     ${ADDED_COLUMNS_SET} WHERE sop_instance_uid = @sop_instance_uid`,
  );
  const insJob = db.prepare(
    "INSERT OR IGNORE INTO jobs (sop_instance_uid, sha256, model_id, status, created_at, updated_at, rule, scope) VALUES (?, ?, ?, 'pending', ?, ?, ?, ?)",
  );
  const pickJob = db.prepare("SELECT * FROM jobs WHERE status = 'pending' ORDER BY id LIMIT 1");
  const markRunning = db.prepare(
    "UPDATE jobs SET status = 'running', attempts = attempts + 1, updated_at = ? WHERE id = ? AND status = 'pending'",
  );
  const insPred = db.prepare(
    `INSERT OR IGNORE INTO predictions VALUES (@job_id, @sop_instance_uid, @model_id, @model_version, @label,
     @probabilities, @result_sop_instance_uid, @created_at)`,
  );
  const markDone = db.prepare("UPDATE jobs SET status = 'done', error = NULL, updated_at = ? WHERE id = ?");
  const insAudit = db.prepare(`INSERT INTO audit (${AUDIT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);

  const insAuditMany = db.transaction(
    (recs: readonly (Omit<AuditRecord, "id" | "time"> & { time?: string })[]) => {
      for (const r of recs) insAudit.run(...auditValues(r));
    },
  );

  /** Runs `fn` with fsync on commit (power-loss durable), then returns to NORMAL for audit and bookkeeping. */
  const durable = <T>(fn: () => T): T => {
    db.pragma("synchronous = FULL");
    try {
      return fn();
    } finally {
      db.pragma("synchronous = NORMAL");
    }
  };

  const run = (q: { sql: string; args: unknown[] }): { changes: number } => db.prepare(q.sql).run(...q.args);
  const addInstance = db.transaction((rec: InstanceRecord, work: InstanceWork): RoutedAddResult => {
    const old = getInst.get(rec.sopInstanceUid) as Row | undefined;
    if (old && old["sha256"] === rec.sha256) return { outcome: "duplicate", late: [] };
    if (old) replaceInstance.run(instanceRow(rec));
    else insInstance.run(instanceRow(rec));
    const t = now();
    for (const m of work.modelIds)
      insJob.run(rec.sopInstanceUid, rec.sha256, m, t, t, work.rule ?? null, null);
    const late: GroupRegistration[] = [];
    for (const g of work.groups ?? []) {
      const due = new Date(Date.now() + g.timeoutMs).toISOString();
      run(registerGroupQuery({ ...g, firstSopInstanceUid: rec.sopInstanceUid, due, now: t }, SQLITE));
      const q = groupStatusQuery(g.rule, g.level, g.groupUid, SQLITE);
      if ((db.prepare(q.sql).get(...q.args) as Row | undefined)?.["status"] !== "open") late.push(g);
    }
    return { outcome: old ? "replaced" : "stored", late };
  });
  const queueDue = db.transaction((): number => {
    const t = now();
    let n = 0;
    for (const r of all(dueGroupsQuery(t, SQLITE))) {
      if (run(queueGroupQuery(r["id"] as number, t, SQLITE)).changes === 0) continue;
      const g = toGroup(r);
      for (const m of g.modelIds) {
        insJob.run(
          r["first_sop_instance_uid"],
          groupJobKey(g.id),
          m,
          t,
          t,
          g.rule,
          `${g.level}:${g.groupUid}`,
        );
      }
      n++;
    }
    return n;
  });

  // One process owns a SQLite file, so a running job or send it did not claim itself was left by a crash.
  const mineJobs = new Set<number>();
  const mineSends = new Set<number>();

  const claim = db.transaction((): JobRecord | undefined => {
    const r = pickJob.get() as Row | undefined;
    if (!r) return undefined;
    markRunning.run(now(), r["id"]);
    return toJob({ ...r, status: "running", attempts: (r["attempts"] as number) + 1 });
  });

  const complete = db.transaction(
    (
      jobId: number,
      p: Omit<PredictionRecord, "jobId" | "createdAt">,
      results: readonly InstanceRecord[],
      sendResults: boolean,
    ): boolean => {
      const t = now();
      const r = insPred.run({
        job_id: jobId,
        sop_instance_uid: p.sopInstanceUid,
        model_id: p.modelId,
        model_version: p.modelVersion,
        label: p.label,
        probabilities: JSON.stringify(p.probabilities),
        result_sop_instance_uid: p.resultSopInstanceUid,
        created_at: t,
      });
      if (r.changes === 0) return false;
      for (const r of results) if (!getInst.get(r.sopInstanceUid)) insInstance.run(instanceRow(r));
      if (sendResults) for (const r of results) insSend.run(jobId, r.fileKey, t, t, t, jobId);
      markDone.run(t, jobId);
      return true;
    },
  );
  const insSend = db.prepare(
    "INSERT OR IGNORE INTO outbox (job_id, file_key, status, next_attempt_at, created_at, updated_at, rule) VALUES (?, ?, 'pending', ?, ?, ?, (SELECT rule FROM jobs WHERE id = ?))",
  );
  const claimSendTx = db.transaction((): SendRecord | undefined => {
    const r = db
      .prepare(
        "SELECT * FROM outbox WHERE status = 'pending' AND next_attempt_at <= ? ORDER BY next_attempt_at, id LIMIT 1",
      )
      .get(now()) as Row | undefined;
    if (!r) return undefined;
    const t = now();
    db.prepare(
      "UPDATE outbox SET status = 'sending', attempts = attempts + 1, updated_at = ? WHERE id = ?",
    ).run(t, r["id"]);
    return toSend({ ...r, status: "sending", attempts: (r["attempts"] as number) + 1, updated_at: t });
  });
  const recoverTx = db.transaction((table: "jobs" | "outbox", from: string, mine: Set<number>): number => {
    let n = 0;
    for (const r of db.prepare(`SELECT id FROM ${table} WHERE status = ?`).all(from) as Row[]) {
      if (mine.has(r["id"] as number)) continue;
      const t = now();
      n += (
        table === "jobs"
          ? db.prepare("UPDATE jobs SET status = 'pending', updated_at = ? WHERE id = ?").run(t, r["id"])
          : db
              .prepare(
                "UPDATE outbox SET status = 'pending', next_attempt_at = ?, updated_at = ? WHERE id = ?",
              )
              .run(t, t, r["id"])
      ).changes;
    }
    return n;
  });

  const all = (q: { sql: string; args: unknown[] }): Row[] => db.prepare(q.sql).all(...q.args) as Row[];
  const count = (q: { sql: string; args: unknown[] }): number =>
    (db.prepare(q.sql).get(...q.args) as { n: number }).n;

  return {
    kind: "sqlite",
    // Only a crash leaves claims behind, and a restart recovers them at start; the timer is a safety net.
    recoverIntervalMs: 10_000,
    addInstance: async (rec, modelIds) => durable(() => addInstance(rec, { modelIds })).outcome,
    addRoutedInstance: async (rec, work) => durable(() => addInstance(rec, work)),
    queueDueGroups: async () => durable(() => queueDue()),
    listGroups: async (limit, status) =>
      all(listQuery("instance_groups", limit, SQLITE, "status", status)).map(toGroup),
    getInstance: async (uid) => {
      const r = getInst.get(uid) as Row | undefined;
      return r ? toInstance(r) : undefined;
    },
    search: async (q) => {
      const { sql, args } = qidoQuery(q, SQLITE);
      return (db.prepare(sql).all(...args) as Row[]).map(toSearchResult);
    },
    findInstances: async (q) => {
      const { sql, args } = findInstancesQuery(q, SQLITE);
      return (db.prepare(sql).all(...args) as Row[]).map(toInstance);
    },
    claimJob: async () => {
      const job = claim();
      if (job) mineJobs.add(job.id);
      return job;
    },
    completeJob: async (id, p, results, sendResults) => {
      try {
        return durable(() => complete(id, p, results ?? [], sendResults ?? false));
      } finally {
        mineJobs.delete(id);
      }
    },
    failJob: async (id, error, maxAttempts) => {
      db.prepare(
        "UPDATE jobs SET status = CASE WHEN attempts >= ? THEN 'failed' ELSE 'pending' END, error = ?, updated_at = ? WHERE id = ? AND status = 'running'",
      ).run(maxAttempts, error, now(), id);
      mineJobs.delete(id);
    },
    recoverJobs: async () => recoverTx("jobs", "running", mineJobs),
    listJobs: async (limit, status) => all(listQuery("jobs", limit, SQLITE, "status", status)).map(toJob),
    countJobs: async (status) => count(countQuery("jobs", SQLITE, status)),
    predictionsFor: async (uid) =>
      (
        db.prepare("SELECT * FROM predictions WHERE sop_instance_uid = ? ORDER BY job_id").all(uid) as Row[]
      ).map(toPrediction),
    countPredictions: async () => count(countQuery("predictions", SQLITE)),
    claimSend: async () => {
      const s = claimSendTx();
      if (s) mineSends.add(s.id);
      return s;
    },
    completeSend: async (id) => {
      // An acknowledged send is a promise kept to the destination: fsync it like a result.
      durable(() =>
        db
          .prepare("UPDATE outbox SET status = 'sent', error = NULL, updated_at = ? WHERE id = ?")
          .run(now(), id),
      );
      mineSends.delete(id);
    },
    retrySend: async (id, error, delayMs) => {
      db.prepare(
        "UPDATE outbox SET status = 'pending', error = ?, next_attempt_at = ?, updated_at = ? WHERE id = ? AND status = 'sending'",
      ).run(error, new Date(Date.now() + delayMs).toISOString(), now(), id);
      mineSends.delete(id);
    },
    recoverSends: async () => recoverTx("outbox", "sending", mineSends),
    countSends: async (status) => count(countQuery("outbox", SQLITE, status)),
    listSends: async (limit, status) => all(listQuery("outbox", limit, SQLITE, "status", status)).map(toSend),
    audit: async (rec) => {
      insAudit.run(...auditValues(rec));
    },
    auditMany: async (recs) => {
      insAuditMany(recs);
    },
    listAudit: async (limit, eventId) =>
      all(listQuery("audit", limit, SQLITE, "event_id", eventId)).map(toAudit),
    close: async () => {
      await checkpointer?.stop();
      db.close();
    },
  };
}
