/** `radiolens batch`, `batch submit|work|status|export`: archive-scale scoring on the embedded store or on PostgreSQL with pg-boss. */

import { exportRun, openBatchStore, statusLine, submitRun } from "../../batch/run.js";
import type { BatchStore } from "../../batch/store.js";
import { workBatch } from "../../batch/worker.js";
import { RadioLensError } from "../../core/errors.js";
import { parseRuntime } from "../../models/onnx/bundle-runtime.js";
import { type Command, type CommandArgs, type CommandIO, flag, str, strs } from "../command.js";

const DEFAULT_DB = "radiolens-batch.db";

const STORE_HELP = `--store postgres://user@host:5432/db uses PostgreSQL with the pg-boss queue (workers on any number of
machines; the model folder and input files must be at the same paths on each); without it the embedded store
is the SQLite file --db (default ${DEFAULT_DB}).`;

function positiveInt(args: CommandArgs, name: string, dflt: number): number {
  const v = str(args, name);
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1)
    throw new RadioLensError("RL_ERR_USAGE", { detail: `--${name} must be a positive integer, got '${v}'` });
  return n;
}

/** `--header "Name: value"` (repeatable) as a header record; the values are never printed. */
function headersOf(args: CommandArgs): Record<string, string> {
  const out: Record<string, string> = {};
  for (const h of strs(args, "header")) {
    const i = h.indexOf(":");
    if (i <= 0) throw new RadioLensError("RL_ERR_USAGE", { detail: "--header must look like 'Name: value'" });
    out[h.slice(0, i).trim().toLowerCase()] = h.slice(i + 1).trim();
  }
  return out;
}

async function storeOf(args: CommandArgs): Promise<BatchStore> {
  const claim = str(args, "claim-timeout");
  return openBatchStore(
    str(args, "store") ?? str(args, "db") ?? DEFAULT_DB,
    claim === undefined ? {} : { expireInSeconds: positiveInt(args, "claim-timeout", 300) },
  );
}

function need(args: CommandArgs, name: string): string {
  const v = str(args, name);
  if (!v) throw new RadioLensError("RL_ERR_USAGE", { detail: `--${name} is required` });
  return v;
}

function runName(args: CommandArgs): string {
  const v = args.positionals[0] ?? str(args, "name");
  if (!v) throw new RadioLensError("RL_ERR_USAGE", { detail: "give the run name" });
  return v;
}

/** A progress bar on a terminal (redrawn in place), a line every 5 s otherwise. */
function progress(io: CommandIO, total: number, already: number): (done: number, end?: boolean) => void {
  const start = Date.now();
  let lastLine = 0;
  return (done, end = false) => {
    const now = Date.now();
    const all = already + done;
    const rate = done / Math.max(0.001, (now - start) / 1000);
    const left = total - all;
    const eta = rate > 0 && left > 0 ? ` ETA ${Math.ceil(left / rate)}s` : "";
    const text = `${all}/${total} ${rate.toFixed(1)}/s${eta}`;
    if (io.isTTY) {
      const width = 30;
      const fill = total > 0 ? Math.round((width * all) / total) : width;
      io.stderr(`\r[${"#".repeat(fill)}${"-".repeat(width - fill)}] ${text}   ${end ? "\n" : ""}`);
    } else if (end || now - lastLine >= 5000) {
      lastLine = now;
      io.stderr(`${text}\n`);
    }
  };
}

const WORK_OPTIONS = {
  threads: { type: "string" },
  "batch-size": { type: "string" },
  runtime: { type: "string" },
  header: { type: "string", multiple: true },
} as const;

function workOptions(args: CommandArgs) {
  const runtime = parseRuntime(str(args, "runtime"));
  return {
    threads: positiveInt(args, "threads", 1),
    batchSize: positiveInt(args, "batch-size", 128),
    headers: headersOf(args),
    ...(runtime ? { runtime } : {}),
  };
}

/**
 * `radiolens batch`: submits a run, scores it in this process with a progress bar and exports it; run again after
 * an interruption it resumes with the inputs that have no result.
 *
 * @example
 * ```ts
 * await runCli(["batch", "--model", "models/default", "--input", "pngs/", "--name", "archive", "--out", "results.csv"]);
 * ```
 */
export const batchCommand: Command = {
  help: `Usage: radiolens batch --model DIR --input <folder|manifest.csv|QIDO-RS URL> --name RUN [--out results.csv]
                       [--db FILE | --store DSN] [--threads N] [--batch-size N] [--runtime tfjs|onnx] [--header 'Name: value' ...]

Scores every input of a run in this process (a progress bar on stderr) and writes results.csv with --out. Run
again after an interruption (Ctrl-C, kill -9): inputs already scored are kept and the rest are scored.
Inputs: a folder (every file, recursively), a manifest.csv (columns path or file, optional id), or a DICOMweb
QIDO-RS URL (paged; each instance fetched by WADO-RS, retried on transient failures; --header adds e.g. an
API key). An input that cannot be read or is outside the model's intended use is recorded with its error.
${STORE_HELP}

Subcommands for several machines: batch submit, batch work, batch status, batch export.`,
  options: {
    model: { type: "string" },
    input: { type: "string" },
    name: { type: "string" },
    out: { type: "string" },
    db: { type: "string" },
    store: { type: "string" },
    ...WORK_OPTIONS,
  },
  async run(args, io) {
    const opts = workOptions(args);
    const store = await storeOf(args);
    try {
      const name = need(args, "name");
      const sub = await submitRun(store, {
        name,
        modelDir: need(args, "model"),
        input: need(args, "input"),
        headers: opts.headers,
      });
      const before = await store.status(name);
      io.stderr(`run ${name}: ${sub.total} inputs (${sub.added} new), ${before.pending} to score\n`);
      const bar = progress(io, before.total, before.done + before.failed);
      const stop = new AbortController();
      const onSignal = (): void => stop.abort();
      process.once("SIGINT", onSignal);
      process.once("SIGTERM", onSignal);
      try {
        const r = await workBatch(store, {
          ...opts,
          exitWhenIdle: true,
          signal: stop.signal,
          onProgress: (p) => bar(p.scored + p.failed),
        });
        bar(r.scored + r.failed, true);
      } finally {
        process.off("SIGINT", onSignal);
        process.off("SIGTERM", onSignal);
      }
      const s = await store.status(name);
      io.stderr(`${statusLine(s)}\n`);
      const out = str(args, "out");
      if (out) io.stderr(`wrote ${await exportRun(store, name, out)} rows to ${out}\n`);
      if (stop.signal.aborted) return 130;
      return s.failed > 0 ? 3 : 0;
    } finally {
      await store.close();
    }
  },
};

/**
 * `radiolens batch submit`: queues one job per input of a run; submitting the same run again adds nothing.
 *
 * @example
 * ```ts
 * await runCli(["batch", "submit", "--model", "models/default", "--input", "pngs/", "--store", dsn, "--name", "archive"]);
 * ```
 */
export const batchSubmitCommand: Command = {
  help: `Usage: radiolens batch submit --model DIR --input <folder|manifest.csv|QIDO-RS URL> --name RUN [--store DSN | --db FILE]
                              [--header 'Name: value' ...] [--claim-timeout SECONDS]

Queues one job per input (image file or DICOM instance). Idempotent: inputs the run already has are not queued
again, so the same command may be repeated (or re-run with a grown folder to add only the new files).
--claim-timeout (PostgreSQL, default 300 s): how long an input stays with a worker that stopped answering (killed,
machine lost) before the queue gives it to another; each input has 3 tries, then it is dead-lettered (failed).
${STORE_HELP}`,
  options: {
    model: { type: "string" },
    input: { type: "string" },
    name: { type: "string" },
    db: { type: "string" },
    store: { type: "string" },
    header: { type: "string", multiple: true },
    "claim-timeout": { type: "string" },
  },
  async run(args, io) {
    const store = await storeOf(args);
    try {
      const r = await submitRun(store, {
        name: need(args, "name"),
        modelDir: need(args, "model"),
        input: need(args, "input"),
        headers: headersOf(args),
      });
      io.stdout(
        `run ${r.run.name}: ${r.added} inputs queued, ${r.total} in the run (model ${r.run.modelId} ${r.run.modelVersion})\n`,
      );
      return 0;
    } finally {
      await store.close();
    }
  },
};

/**
 * `radiolens batch work`: processes queued inputs of every run until stopped (or idle with --exit-when-idle).
 *
 * @example
 * ```ts
 * await runCli(["batch", "work", "--store", dsn, "--threads", "1", "--exit-when-idle"]);
 * ```
 */
export const batchWorkCommand: Command = {
  help: `Usage: radiolens batch work [--store DSN | --db FILE] [--threads N] [--batch-size N] [--runtime tfjs|onnx]
                            [--header 'Name: value' ...] [--exit-when-idle] [--json]

Claims micro-batches (--batch-size, default 128) of queued inputs, scores them on the run's model (ONNX Runtime
with --threads intra-op threads, default 1, or tfjs) and commits one result per input. Start one per core and
per machine; a worker killed mid-batch loses nothing (its inputs return to the queue when their claim expires).
Runs until SIGINT/SIGTERM, or with --exit-when-idle until no input of any run is outstanding. At the end it
prints the counts and its rate from the first claimed input to the last commit (--json: as JSON, with the
window's epoch milliseconds firstClaimAt and lastCommitAt).
${STORE_HELP}`,
  options: {
    db: { type: "string" },
    store: { type: "string" },
    "exit-when-idle": { type: "boolean" },
    json: { type: "boolean" },
    ...WORK_OPTIONS,
  },
  async run(args, io) {
    const opts = workOptions(args);
    const store = await storeOf(args);
    const stop = new AbortController();
    const onSignal = (): void => stop.abort();
    process.once("SIGINT", onSignal);
    process.once("SIGTERM", onSignal);
    try {
      let last = 0;
      const r = await workBatch(store, {
        ...opts,
        exitWhenIdle: flag(args, "exit-when-idle"),
        signal: stop.signal,
        onProgress: (p) => {
          if (Date.now() - last < 5000) return;
          last = Date.now();
          io.stderr(`${p.scored} scored, ${p.failed} failed\n`);
        },
      });
      const secs =
        r.firstClaimAt !== undefined && r.lastCommitAt !== undefined
          ? (r.lastCommitAt - r.firstClaimAt) / 1000
          : 0;
      io.stdout(
        flag(args, "json")
          ? `${JSON.stringify(r)}\n`
          : `${r.scored} scored, ${r.failed} failed in ${secs.toFixed(1)} s (${secs > 0 ? ((r.scored + r.failed) / secs).toFixed(1) : "0"}/s)\n`,
      );
      return 0;
    } finally {
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
      await store.close();
    }
  },
};

/**
 * `radiolens batch status RUN`: done, failed, pending, rate and ETA.
 *
 * @example
 * ```ts
 * await runCli(["batch", "status", "archive", "--store", dsn, "--json"]);
 * ```
 */
export const batchStatusCommand: Command = {
  help: `Usage: radiolens batch status RUN [--store DSN | --db FILE] [--json]

Progress of a run: inputs done, failed (recorded errors and dead-lettered inputs), pending, the rate over the
last minute and the time left at that rate.
${STORE_HELP}`,
  options: { db: { type: "string" }, store: { type: "string" }, json: { type: "boolean" } },
  allowPositionals: true,
  async run(args, io) {
    const store = await storeOf(args);
    try {
      const s = await store.status(runName(args));
      io.stdout(flag(args, "json") ? `${JSON.stringify(s, null, 2)}\n` : `${statusLine(s)}\n`);
      return 0;
    } finally {
      await store.close();
    }
  },
};

/**
 * `radiolens batch export RUN --out results.csv`: one row per input.
 *
 * @example
 * ```ts
 * await runCli(["batch", "export", "archive", "--store", dsn, "--out", "results.csv"]);
 * ```
 */
export const batchExportCommand: Command = {
  help: `Usage: radiolens batch export RUN --out results.csv [--store DSN | --db FILE]

Writes one row per input of the run: input_id, status (done, failed, pending), label, p_<label> per class,
ood_score (when the model has a detector), model_id, model_version and error (why an input was not scored).
${STORE_HELP}`,
  options: { db: { type: "string" }, store: { type: "string" }, out: { type: "string" } },
  allowPositionals: true,
  async run(args, io) {
    const store = await storeOf(args);
    try {
      const name = runName(args);
      const out = need(args, "out");
      io.stdout(`wrote ${await exportRun(store, name, out)} rows to ${out}\n`);
      return 0;
    } finally {
      await store.close();
    }
  },
};
