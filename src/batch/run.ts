/** Batch runs as library calls: open a store, submit a run, report its progress, export its results as CSV. */
import { resolve } from "node:path";
import { stringify } from "csv-stringify/sync";
import { writeFileAtomic } from "../core/fs.js";
import { readCard } from "../models/bundle.js";
import { isPostgresDsn } from "../serve/repository/postgres.js";
import { type ListInputsOptions, listInputs } from "./inputs.js";
import { openPostgresBatchStore, type PostgresBatchOptions } from "./postgres.js";
import { type BatchStatus, type BatchStore, openSqliteBatchStore, type RunInfo } from "./store.js";

/**
 * Opens the batch store `store` names: a `postgres://` DSN (pg-boss queue, any number of workers) or the path of
 * the embedded SQLite file.
 *
 * @example
 * ```ts
 * const store = await openBatchStore("postgres://radiolens@db/radiolens");
 * ```
 */
export async function openBatchStore(store: string, pg: PostgresBatchOptions = {}): Promise<BatchStore> {
  return isPostgresDsn(store) ? openPostgresBatchStore(store, pg) : openSqliteBatchStore(store);
}

/** What {@link submitRun} did. */
export interface SubmitOutcome {
  readonly run: RunInfo;
  /** Inputs new to the run (0 when the same run is submitted again). */
  readonly added: number;
  readonly total: number;
}

/**
 * Creates run `name` for the bundle in `modelDir` (id and version from its card) and queues every input `input`
 * lists (folder, manifest.csv or QIDO-RS URL) that the run does not have yet.
 *
 * @example
 * ```ts
 * const { added, total } = await submitRun(store, { name: "archive", modelDir: "models/default", input: "pngs/" });
 * ```
 */
export async function submitRun(
  store: BatchStore,
  o: { readonly name: string; readonly modelDir: string; readonly input: string } & ListInputsOptions,
): Promise<SubmitOutcome> {
  const modelDir = resolve(o.modelDir);
  const card = readCard(modelDir);
  const run = await store.createRun({
    name: o.name,
    modelDir,
    modelId: card.name,
    modelVersion: card.version,
  });
  const inputs = await listInputs(o.input, o);
  const { added, total } = await store.submit(o.name, inputs);
  return { run, added, total };
}

/**
 * Writes run `name` as CSV to `out` (temporary file, then rename): one row per input in submission order with
 * `input_id, status, label, p_<label>…, ood_score, model_id, model_version, error`; `status` is done, failed or
 * pending. Returns the number of rows.
 *
 * @example
 * ```ts
 * await exportRun(store, "archive", "results.csv");
 * ```
 */
export async function exportRun(store: BatchStore, name: string, out: string): Promise<number> {
  const run = await store.getRun(name);
  const rows = await store.exportRows(name);
  const labels: string[] = [];
  for (const r of rows)
    for (const k of Object.keys(r.result?.probabilities ?? {})) if (!labels.includes(k)) labels.push(k);
  const table = rows.map((r) => {
    const res = r.result;
    const status = res ? (res.error === null ? "done" : "failed") : r.missing ? "failed" : "pending";
    return [
      r.inputId,
      status,
      res?.label ?? "",
      ...labels.map((l) => {
        const p = res?.probabilities?.[l];
        return p === undefined ? "" : String(p);
      }),
      res?.oodScore ?? "",
      res?.modelId ?? run?.modelId ?? "",
      res?.modelVersion ?? run?.modelVersion ?? "",
      res?.error ?? r.missing ?? "",
    ];
  });
  const header = [
    "input_id",
    "status",
    "label",
    ...labels.map((l) => `p_${l}`),
    "ood_score",
    "model_id",
    "model_version",
    "error",
  ];
  writeFileAtomic(out, stringify([header, ...table]));
  return rows.length;
}

/**
 * One line of progress: done, failed, pending, rate and ETA.
 *
 * @example
 * ```ts
 * statusLine(await store.status("archive")); // "archive: 120/200 done, 3 failed, 77 pending, 41.0/s, ETA 2s"
 * ```
 */
export function statusLine(s: BatchStatus): string {
  const eta =
    s.etaSeconds === undefined
      ? s.pending === 0
        ? "complete"
        : "ETA unknown"
      : `ETA ${s.etaSeconds < 120 ? `${Math.ceil(s.etaSeconds)}s` : `${Math.ceil(s.etaSeconds / 60)} min`}`;
  return `${s.run.name}: ${s.done}/${s.total} done, ${s.failed} failed, ${s.pending} pending, ${s.ratePerSecond.toFixed(1)}/s, ${eta}`;
}
