/** The service's repository: received instances, the durable analysis job queue, predictions and the audit log, in SQLite. */
import { createRequire } from "node:module";
import { RadioLensError } from "../core/errors.js";

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

/** Filters for {@link Repository.findInstances} (QIDO-RS matching keys, exact match). */
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

/**
 * Outcome of {@link Repository.addInstance}: new; the same bytes again (nothing to do); or the same SOP Instance
 * UID with other bytes (e.g. resent in another transfer syntax), which becomes the current version and is analysed.
 */
export type AddInstanceResult = "stored" | "duplicate" | "replaced";

/**
 * The one storage interface of the service; SQLite implements it, a PostgreSQL implementation can sit behind
 * the same methods for several instances.
 */
export interface Repository {
  /** Indexes a stored instance and enqueues one job per model, in one transaction. */
  addInstance(rec: InstanceRecord, modelIds: readonly string[]): AddInstanceResult;
  getInstance(sopInstanceUid: string): InstanceRecord | undefined;
  findInstances(q: InstanceQuery): InstanceRecord[];
  /** Atomically moves the oldest pending job to running and returns it. */
  claimJob(): JobRecord | undefined;
  /** Commits the prediction and marks the job done in one transaction; false if the job already has one. */
  completeJob(
    jobId: number,
    p: Omit<PredictionRecord, "jobId" | "createdAt">,
    results?: readonly InstanceRecord[],
  ): boolean;
  failJob(jobId: number, error: string, maxAttempts: number): void;
  /** Puts jobs left `running` by a crashed process back to pending (their results were never committed). */
  recoverJobs(): number;
  listJobs(limit: number, status?: JobRecord["status"]): JobRecord[];
  countJobs(status: JobRecord["status"]): number;
  predictionsFor(sopInstanceUid: string): PredictionRecord[];
  countPredictions(): number;
  audit(rec: Omit<AuditRecord, "id" | "time"> & { time?: string }): void;
  listAudit(limit: number, eventId?: string): AuditRecord[];
  close(): void;
}

interface Db {
  pragma(s: string): unknown;
  exec(s: string): void;
  prepare(s: string): {
    run(...a: unknown[]): { changes: number; lastInsertRowid: number | bigint };
    get(...a: unknown[]): unknown;
    all(...a: unknown[]): unknown[];
  };
  transaction<T extends (...a: never[]) => unknown>(fn: T): T;
  close(): void;
}

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
  size INTEGER NOT NULL,
  origin TEXT NOT NULL,
  received_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS instances_study ON instances(study_instance_uid, series_instance_uid);
CREATE TABLE IF NOT EXISTS jobs (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
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
  job_id INTEGER PRIMARY KEY REFERENCES jobs(id),
  sop_instance_uid TEXT NOT NULL,
  model_id TEXT NOT NULL,
  model_version TEXT NOT NULL,
  label TEXT NOT NULL,
  probabilities TEXT NOT NULL,
  result_sop_instance_uid TEXT,
  created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS audit (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  time TEXT NOT NULL,
  event_id TEXT NOT NULL,
  event_name TEXT NOT NULL,
  action TEXT NOT NULL,
  outcome INTEGER NOT NULL,
  user TEXT NOT NULL,
  role TEXT NOT NULL,
  source TEXT NOT NULL,
  object TEXT NOT NULL,
  detail TEXT NOT NULL
);
`;

type Row = Record<string, unknown>;

const toInstance = (r: Row): InstanceRecord => ({
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
});

const toJob = (r: Row): JobRecord => ({
  id: r["id"] as number,
  sopInstanceUid: r["sop_instance_uid"] as string,
  sha256: r["sha256"] as string,
  modelId: r["model_id"] as string,
  status: r["status"] as JobRecord["status"],
  attempts: r["attempts"] as number,
  error: (r["error"] as string | null) ?? null,
  createdAt: r["created_at"] as string,
  updatedAt: r["updated_at"] as string,
});

const toPrediction = (r: Row): PredictionRecord => ({
  jobId: r["job_id"] as number,
  sopInstanceUid: r["sop_instance_uid"] as string,
  modelId: r["model_id"] as string,
  modelVersion: r["model_version"] as string,
  label: r["label"] as string,
  probabilities: JSON.parse(r["probabilities"] as string) as Record<string, number>,
  resultSopInstanceUid: (r["result_sop_instance_uid"] as string | null) ?? null,
  createdAt: r["created_at"] as string,
});

const toAudit = (r: Row): AuditRecord => ({
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
 * Opens (creating if needed) the SQLite repository at `path` (":memory:" for tests). WAL journal: every commit
 * survives `kill -9`; the transactions that index a received instance (before its acknowledgement) and commit a
 * result also fsync (`synchronous=FULL`), so they survive power loss as well.
 *
 * @example
 * ```ts
 * const repo = openSqliteRepository("/var/lib/radiolens/radiolens.db");
 * repo.audit({ eventId: "110100", eventName: "Application Activity", action: "E", outcome: 0, user: "system", role: "system", source: "local", object: "start", detail: "" });
 * ```
 */
export function openSqliteRepository(path: string): Repository {
  const require = createRequire(import.meta.url);
  let db: Db;
  try {
    const Database = require("better-sqlite3") as new (p: string) => Db;
    db = new Database(path);
  } catch (e) {
    throw new RadioLensError("RL_ERR_IO", {
      path,
      detail: `cannot open the SQLite store: ${(e as Error).message}`,
    });
  }
  db.pragma("journal_mode = WAL");
  // NORMAL in WAL mode: a commit survives a process crash (kill -9); FULL (fsync per commit) is switched on
  // around the transactions an acknowledgement or an exactly-once result depends on, see `durable`.
  db.pragma("synchronous = NORMAL");
  db.pragma("foreign_keys = ON");
  db.pragma("busy_timeout = 5000");
  db.exec(SCHEMA);
  const now = (): string => new Date().toISOString();

  const insInstance = db.prepare(
    `INSERT INTO instances VALUES (@sop_instance_uid, @sop_class_uid, @study_instance_uid, @series_instance_uid,
     @modality, @study_date, @patient_id, @patient_name, @accession_number, @sha256, @file_key, @size, @origin, @received_at)`,
  );
  const getInst = db.prepare("SELECT * FROM instances WHERE sop_instance_uid = ?");
  const replaceInstance = db.prepare(
    `UPDATE instances SET sop_class_uid = @sop_class_uid, study_instance_uid = @study_instance_uid,
     series_instance_uid = @series_instance_uid, modality = @modality, study_date = @study_date,
     patient_id = @patient_id, patient_name = @patient_name, accession_number = @accession_number,
     sha256 = @sha256, file_key = @file_key, size = @size, origin = @origin, received_at = @received_at
     WHERE sop_instance_uid = @sop_instance_uid`,
  );
  const insJob = db.prepare(
    "INSERT OR IGNORE INTO jobs (sop_instance_uid, sha256, model_id, status, created_at, updated_at) VALUES (?, ?, ?, 'pending', ?, ?)",
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
  const insAudit = db.prepare(
    `INSERT INTO audit (time, event_id, event_name, action, outcome, user, role, source, object, detail)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
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

  const instanceRow = (rec: InstanceRecord): Row => ({
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
  });

  const addInstance = db.transaction(
    (rec: InstanceRecord, modelIds: readonly string[]): AddInstanceResult => {
      const old = getInst.get(rec.sopInstanceUid) as Row | undefined;
      if (old && old["sha256"] === rec.sha256) return "duplicate";
      if (old) replaceInstance.run(instanceRow(rec));
      else insInstance.run(instanceRow(rec));
      const t = now();
      for (const m of modelIds) insJob.run(rec.sopInstanceUid, rec.sha256, m, t, t);
      return old ? "replaced" : "stored";
    },
  );

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
      results: readonly InstanceRecord[] = [],
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
      markDone.run(t, jobId);
      return true;
    },
  );

  return {
    addInstance: (rec, modelIds) => durable(() => addInstance(rec, modelIds)),
    getInstance: (uid) => {
      const r = getInst.get(uid) as Row | undefined;
      return r ? toInstance(r) : undefined;
    },
    findInstances: (q) => {
      const where: string[] = [];
      const args: unknown[] = [];
      const eq = (col: string, v: string | undefined): void => {
        if (v === undefined) return;
        where.push(`${col} = ?`);
        args.push(v);
      };
      eq("study_instance_uid", q.studyInstanceUid);
      eq("series_instance_uid", q.seriesInstanceUid);
      eq("sop_instance_uid", q.sopInstanceUid);
      eq("modality", q.modality);
      eq("patient_id", q.patientId);
      eq("study_date", q.studyDate);
      eq("accession_number", q.accessionNumber);
      eq("origin", q.origin);
      const sql = `SELECT * FROM instances ${where.length ? `WHERE ${where.join(" AND ")}` : ""}
        ORDER BY study_instance_uid, series_instance_uid, received_at LIMIT ? OFFSET ?`;
      return (db.prepare(sql).all(...args, q.limit ?? 1000, q.offset ?? 0) as Row[]).map(toInstance);
    },
    claimJob: () => claim(),
    completeJob: (id, p, results) => durable(() => complete(id, p, results ?? [])),
    failJob: (id, error, maxAttempts) => {
      db.prepare(
        "UPDATE jobs SET status = CASE WHEN attempts >= ? THEN 'failed' ELSE 'pending' END, error = ?, updated_at = ? WHERE id = ?",
      ).run(maxAttempts, error, now(), id);
    },
    recoverJobs: () =>
      db.prepare("UPDATE jobs SET status = 'pending', updated_at = ? WHERE status = 'running'").run(now())
        .changes,
    listJobs: (limit, status) =>
      (status
        ? db.prepare("SELECT * FROM jobs WHERE status = ? ORDER BY id DESC LIMIT ?").all(status, limit)
        : db.prepare("SELECT * FROM jobs ORDER BY id DESC LIMIT ?").all(limit)
      ).map((r) => toJob(r as Row)),
    countJobs: (status) =>
      (db.prepare("SELECT COUNT(*) AS n FROM jobs WHERE status = ?").get(status) as { n: number }).n,
    predictionsFor: (uid) =>
      (
        db.prepare("SELECT * FROM predictions WHERE sop_instance_uid = ? ORDER BY job_id").all(uid) as Row[]
      ).map(toPrediction),
    countPredictions: () => (db.prepare("SELECT COUNT(*) AS n FROM predictions").get() as { n: number }).n,
    audit: (rec) => {
      insAudit.run(
        rec.time ?? now(),
        rec.eventId,
        rec.eventName,
        rec.action,
        rec.outcome,
        rec.user,
        rec.role,
        rec.source,
        rec.object,
        rec.detail,
      );
    },
    listAudit: (limit, eventId) =>
      (eventId
        ? db.prepare("SELECT * FROM audit WHERE event_id = ? ORDER BY id DESC LIMIT ?").all(eventId, limit)
        : db.prepare("SELECT * FROM audit ORDER BY id DESC LIMIT ?").all(limit)
      ).map((r) => toAudit(r as Row)),
    close: () => db.close(),
  };
}
