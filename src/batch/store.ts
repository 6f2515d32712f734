/** The store of batch runs (runs, inputs, one result row per input) and its embedded SQLite implementation for one machine. */
import { RadioLensError } from "../core/errors.js";
import { openSqliteDb } from "../serve/repository/sqlite-db.js";
import type { BatchInput } from "./inputs.js";

/** A named run: one model over a list of inputs. */
export interface RunInfo {
  readonly name: string;
  /** The model bundle folder; every worker must see it at this path. */
  readonly modelDir: string;
  readonly modelId: string;
  readonly modelVersion: string;
  readonly createdAt: string;
}

/** One input handed to a worker; `token` is what the store needs to settle it. */
export interface ClaimedInput extends BatchInput {
  readonly run: string;
  /** 1 for the first try. */
  readonly attempt: number;
  /** True when a transient failure now is final: the worker records the error instead of giving the input back. */
  readonly last: boolean;
  readonly token: unknown;
}

/** The outcome for one input: a prediction, or the error that stopped it (unreadable, outside intended use, ...). */
export interface BatchResult {
  readonly run: string;
  readonly inputId: string;
  readonly label: string | null;
  readonly probabilities: Readonly<Record<string, number>> | null;
  readonly oodScore: number | null;
  readonly modelId: string;
  readonly modelVersion: string;
  /** `CODE: message` when the input was not scored. */
  readonly error: string | null;
  readonly worker: string;
}

/** One row of the export: every input of the run, with its result if it has one. */
export interface ExportRow {
  readonly inputId: string;
  readonly source: string;
  readonly result: (BatchResult & { readonly scoredAt: string }) | undefined;
  /** Why an input without a result row has none (e.g. dead-lettered after its retries); undefined while queued. */
  readonly missing?: string;
}

/** Progress of a run. */
export interface BatchStatus {
  readonly run: RunInfo;
  readonly total: number;
  /** Inputs with a prediction. */
  readonly done: number;
  /** Inputs with an error (recorded) or dead-lettered by the queue. */
  readonly failed: number;
  /** Inputs still queued or in progress. */
  readonly pending: number;
  /** Results per second over the last minute with any. */
  readonly ratePerSecond: number;
  /** Seconds left at that rate; undefined when nothing is pending or nothing was scored lately. */
  readonly etaSeconds: number | undefined;
}

/**
 * Where runs live: the embedded SQLite file (one machine, `radiolens batch` without `--store`) or PostgreSQL with
 * the pg-boss queue (any number of `radiolens batch work` processes on any number of machines). Results have the
 * primary key (run, input id) and are inserted with "do nothing on conflict", so an input scored twice (a worker
 * killed after its commit and before the queue heard of it) still has exactly one result row.
 */
export interface BatchStore {
  readonly kind: "sqlite" | "postgres";
  /** Creates the run, or returns the existing one; a name reused with another model is a usage error. */
  createRun(run: Omit<RunInfo, "createdAt">): Promise<RunInfo>;
  getRun(name: string): Promise<RunInfo | undefined>;
  /** Adds the inputs the run does not have yet and queues them; returns how many were new. Idempotent. */
  submit(run: string, inputs: readonly BatchInput[]): Promise<{ added: number; total: number }>;
  /** Up to `max` inputs to score, claimed by this process. */
  claim(max: number): Promise<ClaimedInput[]>;
  /**
   * Writes the results and settles their claims in one transaction; `retry` names claimed inputs that failed
   * transiently (a network error), queued again in that transaction (later, with backoff, on PostgreSQL). The
   * claims and `retry` together must hold every input claimed with them (on PostgreSQL a job of several inputs
   * is settled as a whole).
   */
  commit(
    claims: readonly ClaimedInput[],
    results: readonly BatchResult[],
    retry?: { readonly claims: readonly ClaimedInput[]; readonly error: string },
  ): Promise<void>;
  /** Gives claims back unscored (the worker stops); they are tried again. */
  release(claims: readonly ClaimedInput[], error: string): Promise<void>;
  /** Inputs of any run with no result and not dead-lettered: queued, claimed, or waiting for a retry. */
  outstanding(): Promise<number>;
  status(run: string): Promise<BatchStatus>;
  exportRows(run: string): Promise<ExportRow[]>;
  close(): Promise<void>;
}

/** The tables both stores share (the SQL is plain enough for both dialects). */
export const BATCH_SCHEMA = `
CREATE TABLE IF NOT EXISTS batch_runs (
  name TEXT PRIMARY KEY,
  model_dir TEXT NOT NULL,
  model_id TEXT NOT NULL,
  model_version TEXT NOT NULL,
  created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS batch_items (
  run TEXT NOT NULL REFERENCES batch_runs(name),
  input_id TEXT NOT NULL,
  source TEXT NOT NULL,
  seq INTEGER NOT NULL,
  PRIMARY KEY (run, input_id)
);
CREATE TABLE IF NOT EXISTS batch_results (
  run TEXT NOT NULL,
  input_id TEXT NOT NULL,
  label TEXT,
  probabilities TEXT,
  ood_score DOUBLE PRECISION,
  model_id TEXT NOT NULL,
  model_version TEXT NOT NULL,
  error TEXT,
  worker TEXT NOT NULL,
  scored_at TEXT NOT NULL,
  PRIMARY KEY (run, input_id)
);
DROP INDEX IF EXISTS batch_results_time;
`;

/** A database row by column name. */
type Row = Record<string, unknown>;

/**
 * A run row as a record.
 *
 * @example
 * ```ts
 * toRun(row).modelDir;
 * ```
 */
export const toRun = (r: Row): RunInfo => ({
  name: r["name"] as string,
  modelDir: r["model_dir"] as string,
  modelId: r["model_id"] as string,
  modelVersion: r["model_version"] as string,
  createdAt: r["created_at"] as string,
});

/**
 * A result row as a record (probabilities are stored as JSON text).
 *
 * @example
 * ```ts
 * toResult(row).label;
 * ```
 */
export const toResult = (r: Row): BatchResult & { scoredAt: string } => ({
  run: r["run"] as string,
  inputId: r["input_id"] as string,
  label: (r["label"] as string | null) ?? null,
  probabilities: r["probabilities"]
    ? (JSON.parse(r["probabilities"] as string) as Record<string, number>)
    : null,
  oodScore: r["ood_score"] === null || r["ood_score"] === undefined ? null : Number(r["ood_score"]),
  modelId: r["model_id"] as string,
  modelVersion: r["model_version"] as string,
  error: (r["error"] as string | null) ?? null,
  worker: r["worker"] as string,
  scoredAt: r["scored_at"] as string,
});

/**
 * A result's column values in `batch_results` order.
 *
 * @example
 * ```ts
 * resultValues(r, new Date().toISOString()).length; // 10
 * ```
 */
export const resultValues = (r: BatchResult, scoredAt: string): unknown[] => [
  r.run,
  r.inputId,
  r.label,
  r.probabilities ? JSON.stringify(r.probabilities) : null,
  r.oodScore,
  r.modelId,
  r.modelVersion,
  r.error,
  r.worker,
  scoredAt,
];

/**
 * Run progress from counts and the results of the last minute.
 *
 * @example
 * ```ts
 * progressOf(run, { total: 100, done: 40, failed: 2, recent: 30, windowS: 60 }).etaSeconds; // 116
 * ```
 */
export function progressOf(
  run: RunInfo,
  c: { total: number; done: number; failed: number; recent: number; windowS: number },
): BatchStatus {
  const pending = Math.max(0, c.total - c.done - c.failed);
  const ratePerSecond = c.windowS > 0 ? c.recent / c.windowS : 0;
  return {
    run,
    total: c.total,
    done: c.done,
    failed: c.failed,
    pending,
    ratePerSecond,
    etaSeconds: pending > 0 && ratePerSecond > 0 ? pending / ratePerSecond : undefined,
  };
}

/** Throws RL_ERR_USAGE when a run name is reused with another model. */
export function checkSameModel(old: RunInfo, run: Omit<RunInfo, "createdAt">): RunInfo {
  if (old.modelId !== run.modelId || old.modelVersion !== run.modelVersion)
    throw new RadioLensError("RL_ERR_USAGE", {
      detail: `run '${run.name}' exists with model ${old.modelId} ${old.modelVersion}; give another --name for ${run.modelId} ${run.modelVersion}`,
    });
  return old;
}

/** Throws RL_ERR_NOT_FOUND for an unknown run. */
export function mustRun(run: RunInfo | undefined, name: string): RunInfo {
  if (!run) throw new RadioLensError("RL_ERR_NOT_FOUND", { what: `batch run '${name}'` });
  return run;
}

/**
 * Opens (creating if needed) the embedded batch store at `path`: one process claims inputs in order and keeps
 * its claims in memory, so an interrupted run resumes with the inputs that have no result row yet. WAL with
 * `synchronous=NORMAL`: each committed micro-batch survives `kill -9`.
 *
 * @example
 * ```ts
 * const store = openSqliteBatchStore("radiolens-batch.db");
 * await store.createRun({ name: "archive", modelDir: "models/default", modelId: "seed-cnn", modelVersion: "1" });
 * ```
 */
export function openSqliteBatchStore(path: string): BatchStore {
  const db = openSqliteDb(path, "the batch store");
  db.exec(BATCH_SCHEMA.replace("DOUBLE PRECISION", "REAL"));
  const now = (): string => new Date().toISOString();
  const getRun = db.prepare("SELECT * FROM batch_runs WHERE name = ?");
  const insItem = db.prepare(
    "INSERT OR IGNORE INTO batch_items (run, input_id, source, seq) VALUES (?, ?, ?, ?)",
  );
  const insResult = db.prepare("INSERT OR IGNORE INTO batch_results VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
  const claimed = new Set<string>();
  const key = (run: string, id: string): string => `${run}\u0000${id}`;
  const submit = db.transaction((run: string, inputs: readonly BatchInput[]): number => {
    const base =
      (db.prepare("SELECT MAX(seq) AS m FROM batch_items WHERE run = ?").get(run) as { m: number | null })
        .m ?? 0;
    let added = 0;
    for (const i of inputs) added += insItem.run(run, i.id, i.source, base + added + 1).changes;
    return added;
  });
  const commit = db.transaction((results: readonly BatchResult[]) => {
    const t = now();
    for (const r of results) insResult.run(...resultValues(r, t));
  });
  const counts = (run: string): { total: number; done: number; failed: number; recent: number } => {
    const q = (sql: string, ...a: unknown[]): number => (db.prepare(sql).get(...a) as { n: number }).n;
    const since = new Date(Date.now() - 60_000).toISOString();
    return {
      total: q("SELECT COUNT(*) AS n FROM batch_items WHERE run = ?", run),
      done: q("SELECT COUNT(*) AS n FROM batch_results WHERE run = ? AND error IS NULL", run),
      failed: q("SELECT COUNT(*) AS n FROM batch_results WHERE run = ? AND error IS NOT NULL", run),
      recent: q("SELECT COUNT(*) AS n FROM batch_results WHERE run = ? AND scored_at >= ?", run, since),
    };
  };
  return {
    kind: "sqlite",
    createRun: async (run) => {
      const old = getRun.get(run.name) as Row | undefined;
      if (old) return checkSameModel(toRun(old), run);
      const t = now();
      db.prepare("INSERT INTO batch_runs VALUES (?, ?, ?, ?, ?)").run(
        run.name,
        run.modelDir,
        run.modelId,
        run.modelVersion,
        t,
      );
      return { ...run, createdAt: t };
    },
    getRun: async (name) => {
      const r = getRun.get(name) as Row | undefined;
      return r ? toRun(r) : undefined;
    },
    submit: async (run, inputs) => {
      const added = submit(run, inputs);
      return { added, total: counts(run).total };
    },
    claim: async (max) => {
      // Inputs without a result, oldest first, that this process has not handed out yet.
      const rows = db
        .prepare(
          `SELECT i.run, i.input_id, i.source FROM batch_items i
           WHERE NOT EXISTS (SELECT 1 FROM batch_results r WHERE r.run = i.run AND r.input_id = i.input_id)
           ORDER BY i.run, i.seq LIMIT ?`,
        )
        .all(max + claimed.size) as Row[];
      const out: ClaimedInput[] = [];
      for (const r of rows) {
        const k = key(r["run"] as string, r["input_id"] as string);
        if (claimed.has(k)) continue;
        claimed.add(k);
        out.push({
          run: r["run"] as string,
          id: r["input_id"] as string,
          source: r["source"] as string,
          attempt: 1,
          last: true,
          token: k,
        });
        if (out.length === max) break;
      }
      return out;
    },
    commit: async (claims, results, retry) => {
      commit(results);
      for (const c of [...claims, ...(retry?.claims ?? [])]) claimed.delete(c.token as string);
    },
    release: async (claims) => {
      for (const c of claims) claimed.delete(c.token as string);
    },
    outstanding: async () =>
      (
        db
          .prepare(
            `SELECT COUNT(*) AS n FROM batch_items i WHERE NOT EXISTS
             (SELECT 1 FROM batch_results r WHERE r.run = i.run AND r.input_id = i.input_id)`,
          )
          .get() as { n: number }
      ).n,
    status: async (name) => {
      const run = mustRun(toRunOrUndefined(getRun.get(name) as Row | undefined), name);
      return progressOf(run, { ...counts(name), windowS: 60 });
    },
    exportRows: async (name) => {
      mustRun(toRunOrUndefined(getRun.get(name) as Row | undefined), name);
      const rows = db
        .prepare(
          `SELECT i.input_id AS item_id, i.source AS item_source, r.* FROM batch_items i
           LEFT JOIN batch_results r ON r.run = i.run AND r.input_id = i.input_id
           WHERE i.run = ? ORDER BY i.seq`,
        )
        .all(name) as Row[];
      return rows.map((r) => ({
        inputId: r["item_id"] as string,
        source: r["item_source"] as string,
        result: r["scored_at"] ? toResult(r) : undefined,
      }));
    },
    close: async () => {
      db.close();
    },
  };
}

const toRunOrUndefined = (r: Row | undefined): RunInfo | undefined => (r ? toRun(r) : undefined);
