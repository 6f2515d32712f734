/** `radiolens batch`, `batch submit|work|status|export`: archive-scale scoring on the embedded store or on PostgreSQL with pg-boss. */
import { exportRun, openBatchStore, statusLine, submitRun } from "../../batch/run.js";
import type { BatchStore } from "../../batch/store.js";
import { workBatch } from "../../batch/worker.js";
import { RadioLensError } from "../../core/errors.js";
import { type Command, type CommandIO, defineCommand } from "../command.js";
import { flag, int, list, runtimeOption, string } from "../options.js";

const DEFAULT_DB = "radiolens-batch.db";

const STORE_NOTES = `--store postgres://user@host:5432/db uses PostgreSQL with the pg-boss queue (workers on any number of
machines; the model folder and input files must be at the same paths on each); without it the embedded store
is the SQLite file --db (default ${DEFAULT_DB}).`;

const STORE_OPTIONS = {
  store: string("DSN", "PostgreSQL DSN (postgres://…): the shared pg-boss queue"),
  db: string("FILE", `the embedded SQLite store (default ${DEFAULT_DB})`),
} as const;

const WORK_OPTIONS = {
  threads: int("N", "ONNX Runtime intra-op threads (default 1: scale with processes)", { min: 1 }),
  "batch-size": int("N", "inputs per model call (default 128)", { min: 1 }),
  "claim-size": int("N", "inputs per claim and per commit (default 4 × --batch-size)", { min: 1 }),
  runtime: runtimeOption,
  header: list(
    "'Name: value'",
    "HTTP header for DICOMweb requests, e.g. an API key (repeatable; never printed)",
  ),
} as const;

/** `--header "Name: value"` (repeatable) as a header record; the values are never printed. */
function headersOf(headers: readonly string[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const h of headers ?? []) {
    const i = h.indexOf(":");
    if (i <= 0) throw new RadioLensError("RL_ERR_USAGE", { detail: "--header must look like 'Name: value'" });
    out[h.slice(0, i).trim().toLowerCase()] = h.slice(i + 1).trim();
  }
  return out;
}

function storeOf(
  v: { readonly store?: string | undefined; readonly db?: string | undefined },
  claimTimeout?: number,
): Promise<BatchStore> {
  return openBatchStore(
    v.store ?? v.db ?? DEFAULT_DB,
    claimTimeout === undefined ? {} : { expireInSeconds: claimTimeout },
  );
}

function runName(positionals: readonly string[]): string {
  const v = positionals[0];
  if (!v) throw new RadioLensError("RL_ERR_USAGE", { detail: "give the run name" });
  return v;
}

function workOptions(v: {
  readonly threads?: number | undefined;
  readonly "batch-size"?: number | undefined;
  readonly "claim-size"?: number | undefined;
  readonly runtime?: "tfjs" | "onnx" | undefined;
  readonly header?: readonly string[] | undefined;
}) {
  return {
    threads: v.threads ?? 1,
    batchSize: v["batch-size"] ?? 128,
    ...(v["claim-size"] ? { claimSize: v["claim-size"] } : {}),
    headers: headersOf(v.header),
    ...(v.runtime ? { runtime: v.runtime } : {}),
  };
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

/** Runs `fn` with an AbortSignal that SIGINT and SIGTERM trigger. */
async function stoppable<T>(fn: (signal: AbortSignal) => Promise<T>): Promise<{ out: T; stopped: boolean }> {
  const stop = new AbortController();
  const onSignal = (): void => stop.abort();
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  try {
    return { out: await fn(stop.signal), stopped: stop.signal.aborted };
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}

/**
 * `radiolens batch run`: submits a run, scores it in this process with a progress bar and exports it; run again after
 * an interruption it resumes with the inputs that have no result.
 *
 * @example
 * ```ts
 * await runCli(["batch", "run", "--model", "models/default", "--input", "pngs/", "--name", "archive", "--out", "results.csv"]);
 * ```
 */
export const batchCommand: Command = defineCommand({
  usage: `radiolens batch run --model DIR --input <folder|manifest.csv|QIDO-RS URL> --name RUN [--out results.csv]
                    [--db FILE | --store DSN] [--threads N] [--batch-size N] [--claim-size N] [--runtime tfjs|onnx]
                    [--header 'Name: value' ...]`,
  description: `Scores every input of a run in this process (a progress bar on stderr) and writes results.csv with --out. Run
again after an interruption (Ctrl-C, kill -9): inputs already scored are kept and the rest are scored.
Inputs: a folder (every file, recursively), a manifest.csv (columns path or file, optional id), or a DICOMweb
QIDO-RS URL (paged; each instance fetched by WADO-RS, retried on transient failures; --header adds e.g. an
API key). An input that cannot be read or is outside the model's intended use is recorded with its error
(exit code 3 when any input failed).`,
  options: {
    model: string("DIR", "model bundle", { required: true }),
    input: string("SOURCE", "folder, manifest.csv or QIDO-RS URL", { required: true }),
    name: string("RUN", "run name (the same name resumes the run)", { required: true }),
    out: string("FILE", "write the results as CSV"),
    ...STORE_OPTIONS,
    ...WORK_OPTIONS,
  },
  notes: `${STORE_NOTES}

For several machines: batch submit, batch work, batch status, batch export.`,
  async run({ values }, io) {
    const opts = workOptions(values);
    const store = await storeOf(values);
    try {
      const name = values.name;
      const sub = await submitRun(store, {
        name,
        modelDir: values.model,
        input: values.input,
        headers: opts.headers,
      });
      const before = await store.status(name);
      io.stderr(`run ${name}: ${sub.total} inputs (${sub.added} new), ${before.pending} to score\n`);
      const bar = progress(io, before.total, before.done + before.failed);
      const { out: r, stopped } = await stoppable((signal) =>
        workBatch(store, {
          ...opts,
          exitWhenIdle: true,
          signal,
          onProgress: (p) => bar(p.scored + p.failed),
        }),
      );
      bar(r.scored + r.failed, true);
      const s = await store.status(name);
      io.stderr(`${statusLine(s)}\n`);
      if (values.out) io.stderr(`wrote ${await exportRun(store, name, values.out)} rows to ${values.out}\n`);
      if (stopped) return 130;
      return s.failed > 0 ? 3 : 0;
    } finally {
      await store.close();
    }
  },
});

/**
 * `radiolens batch submit`: queues one job per input of a run; submitting the same run again adds nothing.
 *
 * @example
 * ```ts
 * await runCli(["batch", "submit", "--model", "models/default", "--input", "pngs/", "--store", dsn, "--name", "archive"]);
 * ```
 */
export const batchSubmitCommand: Command = defineCommand({
  usage: `radiolens batch submit --model DIR --input <folder|manifest.csv|QIDO-RS URL> --name RUN [--store DSN | --db FILE]
                       [--header 'Name: value' ...] [--claim-timeout SECONDS]`,
  description: `Queues every input (image file or DICOM instance; on PostgreSQL one pg-boss job per 32 inputs, one result row per
input). Idempotent: inputs the run already has are not queued again, so the same command may be repeated (or
re-run with a grown folder to add only the new files).`,
  options: {
    model: string("DIR", "model bundle", { required: true }),
    input: string("SOURCE", "folder, manifest.csv or QIDO-RS URL", { required: true }),
    name: string("RUN", "run name", { required: true }),
    ...STORE_OPTIONS,
    header: WORK_OPTIONS.header,
    "claim-timeout": int(
      "SECONDS",
      "PostgreSQL: how long an input stays with a worker that stopped answering before another gets it\n(default 300; 3 tries, then dead-lettered)",
      { min: 1 },
    ),
  },
  notes: STORE_NOTES,
  async run({ values }, io) {
    const store = await storeOf(values, values["claim-timeout"]);
    try {
      const r = await submitRun(store, {
        name: values.name,
        modelDir: values.model,
        input: values.input,
        headers: headersOf(values.header),
      });
      io.stdout(
        `run ${r.run.name}: ${r.added} inputs queued, ${r.total} in the run (model ${r.run.modelId} ${r.run.modelVersion})\n`,
      );
      return 0;
    } finally {
      await store.close();
    }
  },
});

/**
 * `radiolens batch work`: processes queued inputs of every run until stopped (or idle with --exit-when-idle).
 *
 * @example
 * ```ts
 * await runCli(["batch", "work", "--store", dsn, "--threads", "1", "--exit-when-idle"]);
 * ```
 */
export const batchWorkCommand: Command = defineCommand({
  usage: `radiolens batch work [--store DSN | --db FILE] [--threads N] [--batch-size N] [--claim-size N]
                     [--runtime tfjs|onnx] [--header 'Name: value' ...] [--exit-when-idle] [--json]`,
  description: `Claims micro-batches of queued inputs, scores them on the run's model and commits one result per input. Start
one per core and per machine; a worker killed mid-batch loses nothing (its inputs return to the queue when
their claim expires). Runs until SIGINT/SIGTERM, or with --exit-when-idle until no input of any run is
outstanding. At the end it prints the counts and its rate from the first claimed input to the last commit.`,
  options: {
    ...STORE_OPTIONS,
    ...WORK_OPTIONS,
    "exit-when-idle": flag("stop once no input of any run is outstanding"),
    json: flag("print the summary as JSON (with the window's epoch milliseconds firstClaimAt, lastCommitAt)"),
  },
  notes: STORE_NOTES,
  async run({ values }, io) {
    const opts = workOptions(values);
    const store = await storeOf(values);
    try {
      let last = 0;
      const { out: r } = await stoppable((signal) =>
        workBatch(store, {
          ...opts,
          exitWhenIdle: values["exit-when-idle"],
          signal,
          onProgress: (p) => {
            if (Date.now() - last < 5000) return;
            last = Date.now();
            io.stderr(`${p.scored} scored, ${p.failed} failed\n`);
          },
        }),
      );
      const secs =
        r.firstClaimAt !== undefined && r.lastCommitAt !== undefined
          ? (r.lastCommitAt - r.firstClaimAt) / 1000
          : 0;
      const rate = secs > 0 ? ((r.scored + r.failed) / secs).toFixed(1) : "0";
      io.stdout(
        values.json
          ? `${JSON.stringify(r)}\n`
          : `${r.scored} scored, ${r.failed} failed in ${secs.toFixed(1)} s (${rate}/s)\n`,
      );
      return 0;
    } finally {
      await store.close();
    }
  },
});

/**
 * `radiolens batch status RUN`: done, failed, pending, rate and ETA.
 *
 * @example
 * ```ts
 * await runCli(["batch", "status", "archive", "--store", dsn, "--json"]);
 * ```
 */
export const batchStatusCommand: Command = defineCommand({
  usage: "radiolens batch status RUN [--store DSN | --db FILE] [--json]",
  description: `Progress of a run: inputs done, failed (recorded errors and dead-lettered inputs), pending, the rate over the
last minute and the time left at that rate.`,
  options: { ...STORE_OPTIONS, json: flag("print the status as JSON") },
  notes: STORE_NOTES,
  positionals: true,
  async run({ values, positionals }, io) {
    const store = await storeOf(values);
    try {
      const s = await store.status(runName(positionals));
      io.stdout(values.json ? `${JSON.stringify(s, null, 2)}\n` : `${statusLine(s)}\n`);
      return 0;
    } finally {
      await store.close();
    }
  },
});

/**
 * `radiolens batch export RUN --out results.csv`: one row per input.
 *
 * @example
 * ```ts
 * await runCli(["batch", "export", "archive", "--store", dsn, "--out", "results.csv"]);
 * ```
 */
export const batchExportCommand: Command = defineCommand({
  usage: "radiolens batch export RUN --out results.csv [--store DSN | --db FILE]",
  description: `Writes one row per input of the run: input_id, status (done, failed, pending), label, p_<label> per class,
ood_score (when the model has a detector), model_id, model_version and error (why an input was not scored).`,
  options: { ...STORE_OPTIONS, out: string("FILE", "the CSV to write", { required: true }) },
  notes: STORE_NOTES,
  positionals: true,
  async run({ values, positionals }, io) {
    const store = await storeOf(values);
    try {
      const name = runName(positionals);
      io.stdout(`wrote ${await exportRun(store, name, values.out)} rows to ${values.out}\n`);
      return 0;
    } finally {
      await store.close();
    }
  },
});
