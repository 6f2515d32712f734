/** De-identification of files, folders and zip archives: mirrored output tree, atomic writes, worker threads, resumable audit. */
import { createHash, createHmac, randomBytes } from "node:crypto";
import {
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { availableParallelism } from "node:os";
import { basename, dirname, isAbsolute, join, normalize, relative, resolve, sep } from "node:path";
import { Worker } from "node:worker_threads";
import { unzipSync } from "fflate";
import { RadioLensError } from "../core/errors.js";
import { writeFileAtomic } from "../core/fs.js";
import { type DeidConfig, deidentifyBytes } from "./apply-profile.js";
import { type AuditRecord, AuditWriter, auditLine, emptyCounts, readAuditForResume } from "./audit.js";
import { activeOptions, validateOptions } from "./options.js";
import { readPseudonymTable, writePseudonymTable } from "./pseudonym.js";

/**
 * Name of the audit file inside the output folder.
 *
 * @example
 * ```ts
 * readFileSync(join(out, AUDIT_FILE), "utf8");
 * ```
 */
export const AUDIT_FILE = "deid-audit.jsonl";
/**
 * Name of the run description inside the output folder (what a resumed run must match).
 *
 * @example
 * ```ts
 * JSON.parse(readFileSync(join(out, RUN_FILE), "utf8")).options;
 * ```
 */
export const RUN_FILE = "deid-run.json";

/** Options of {@link deidentifyTree}. */
export interface DeidTreeOptions extends DeidConfig {
  /** Worker threads; default: available parallelism, at most the number of pending instances. 0 = in this thread. */
  readonly workers?: number;
  /** Path of the encrypted pseudonym table to create or extend (PatientID → pseudonym). */
  readonly pseudonymTable?: string;
  /**
   * fsync each output before it is renamed into place (default true), so an output named in the audit survives
   * a power loss. `false` keeps the write-then-rename atomicity (a killed run never leaves a partial file) but
   * leaves flushing to the operating system.
   */
  readonly durable?: boolean;
  /**
   * How outputs are named: `mirror` (default) keeps the input's relative paths; `uid` writes
   * `<StudyInstanceUID>/<SeriesInstanceUID>/<SOPInstanceUID>.dcm` with the replaced UIDs, for exports whose file
   * or folder names carry patient names or IDs.
   */
  readonly layout?: "mirror" | "uid";
}

/** Totals of one run. */
export interface DeidTreeSummary {
  readonly total: number;
  readonly written: number;
  readonly quarantined: number;
  readonly failed: number;
  /** Instances a previous interrupted run had already finished. */
  readonly resumed: number;
  readonly auditPath: string;
  readonly seconds: number;
}

/** One input instance: its path relative to the input root, and where its bytes come from. */
interface Entry {
  readonly rel: string;
  readonly path?: string;
  readonly bytes?: Uint8Array;
}

/** A task's answer from a worker or the inline path. */
export interface TaskResult {
  readonly record: AuditRecord;
  readonly patient?: { readonly id: string; readonly pseudonym: string };
}

/**
 * Reads a secret file: its bytes without a trailing newline, at least 16 bytes.
 *
 * @example
 * ```ts
 * const secret = readSecretFile("/secure/deid.key");
 * ```
 */
export function readSecretFile(path: string): Uint8Array {
  if (!existsSync(path)) throw new RadioLensError("RL_ERR_FILE_NOT_FOUND", { path });
  let bytes = new Uint8Array(readFileSync(path));
  while (bytes.length > 0 && (bytes[bytes.length - 1] === 0x0a || bytes[bytes.length - 1] === 0x0d)) {
    bytes = bytes.subarray(0, bytes.length - 1);
  }
  checkSecret(bytes);
  return bytes;
}

function checkSecret(secret: Uint8Array): void {
  if (secret.length < 16)
    throw new RadioLensError("RL_ERR_DEID_SECRET", {
      detail: `has ${secret.length} bytes; 16 or more are needed`,
    });
}

/** A relative path that stays inside the output root (zip entry names may try `../`, PS3.10 path-traversal class). */
function safeRelative(rel: string): string | undefined {
  const n = normalize(rel.replace(/\\/g, "/")).replace(/^(\.\/)+/, "");
  if (n === "" || n === "." || isAbsolute(n) || n.split(/[/\\]/).some((p) => p === "..")) return undefined;
  return n;
}

function walk(root: string, dir: string, out: Entry[], skip: string): void {
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (resolve(p) === skip) continue;
    const st = lstatSync(p);
    if (st.isSymbolicLink()) continue;
    if (st.isDirectory()) walk(root, p, out, skip);
    else if (st.isFile() && !/^\..*\.tmp$/.test(name))
      out.push({ rel: relative(root, p).split(sep).join("/"), path: p });
  }
}

function isZip(path: string): boolean {
  if (path.toLowerCase().endsWith(".zip")) return true;
  const head = readFileSync(path).subarray(0, 4);
  return head[0] === 0x50 && head[1] === 0x4b && head[2] === 0x03 && head[3] === 0x04;
}

/** The instances of an input: a folder (walked, sorted), a zip archive (its file entries), or one file. */
function listInput(input: string, output: string): Entry[] {
  if (!existsSync(input)) throw new RadioLensError("RL_ERR_FILE_NOT_FOUND", { path: input });
  const st = statSync(input);
  if (st.isDirectory()) {
    const out: Entry[] = [];
    walk(input, input, out, resolve(output));
    return out;
  }
  if (isZip(input)) {
    let files: Record<string, Uint8Array>;
    try {
      files = unzipSync(new Uint8Array(readFileSync(input)));
    } catch (e) {
      throw new RadioLensError(
        "RL_ERR_IO",
        { path: input, detail: "not a readable zip archive" },
        { cause: e },
      );
    }
    return Object.keys(files)
      .filter((k) => !k.endsWith("/"))
      .sort()
      .map((k) => ({ rel: k, bytes: files[k] as Uint8Array }));
  }
  return [{ rel: basename(input), path: input }];
}

/** Writes a temporary sibling and renames it into place; with `durable`, fsyncs before the rename. */
function writeOutput(path: string, data: Uint8Array, durable: boolean): void {
  if (durable) {
    writeFileAtomic(path, data);
    return;
  }
  mkdirSync(dirname(path), { recursive: true });
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`);
  writeFileSync(tmp, data);
  renameSync(tmp, path);
}

/**
 * De-identifies one instance read from `entry`, writing the output atomically under `outRoot`; never throws for
 * a bad instance (the failure becomes the audit record).
 *
 * @example
 * ```ts
 * const { record } = runTask({ rel: "a.dcm", path: "/in/a.dcm" }, "/out", { secret });
 * ```
 */
export function runTask(
  entry: { rel: string; path?: string; bytes?: Uint8Array },
  outRoot: string,
  config: DeidConfig,
  durable = true,
  layout: "mirror" | "uid" = "mirror",
): TaskResult {
  const rel = safeRelative(entry.rel);
  if (rel === undefined) {
    return {
      record: {
        input: entry.rel,
        status: "failed",
        actions: emptyCounts(),
        error: { code: "RL_ERR_USAGE", message: "entry path leaves the output folder; not written" },
      },
    };
  }
  try {
    const bytes = entry.bytes ?? new Uint8Array(readFileSync(entry.path as string));
    const r = deidentifyBytes(bytes, config);
    const base = {
      input: entry.rel,
      actions: r.actions,
      ...(r.sopClassUID ? { sopClassUID: r.sopClassUID } : {}),
      ...(r.warnings?.length ? { warnings: r.warnings } : {}),
    };
    if (r.status === "quarantined" || !r.bytes) {
      return { record: { ...base, status: "quarantined", quarantine: r.quarantine } };
    }
    let outRel = rel;
    if (layout === "uid") {
      const u = r.uids;
      // UIDs are digits and dots only (PS3.5 9.1), so they cannot name a path outside the output folder.
      if (!u || ![u.study, u.series, u.instance].every((x) => /^[0-9.]+$/.test(x))) {
        return {
          record: {
            ...base,
            status: "failed",
            error: {
              code: "DICOM_BAD_VALUE",
              message: "no valid Study/Series/SOP Instance UID to name the output by",
            },
          },
        };
      }
      outRel = `${u.study}/${u.series}/${u.instance}.dcm`;
    }
    writeOutput(join(outRoot, outRel), r.bytes, durable);
    const record: AuditRecord = {
      ...base,
      status: "written",
      output: outRel,
      ...(r.quarantine.length ? { quarantine: r.quarantine } : {}),
      ...(r.maskRule !== undefined ? { maskRule: r.maskRule } : {}),
    };
    return r.patient ? { record, patient: r.patient } : { record };
  } catch (e) {
    const err = e as { code?: unknown; message?: unknown };
    const code = typeof err.code === "string" ? err.code : "RL_ERR_INTERNAL";
    const message = typeof err.message === "string" ? err.message : String(e);
    return {
      record: { input: entry.rel, status: "failed", actions: emptyCounts(), error: { code, message } },
    };
  }
}

/**
 * De-identifies one file to `outPath` (written atomically; nothing is written for a quarantined instance).
 *
 * @example
 * ```ts
 * const { record } = deidentifyFile("in/CT.dcm", "out/CT.dcm", { secret, options: { retainUIDs: false } });
 * ```
 */
export function deidentifyFile(inPath: string, outPath: string, config: DeidConfig): TaskResult {
  checkSecret(config.secret);
  validateOptions(config.options ?? {});
  const outRoot = resolve(outPath, "..");
  return runTask({ rel: basename(outPath), path: inPath }, outRoot, config);
}

function runDescription(config: DeidTreeOptions): Record<string, unknown> {
  return {
    format: "radiolens-deid-run",
    version: 1,
    // Identifies the secret without revealing it: an HMAC of a fixed label, not of any data.
    secretFingerprint: createHmac("sha256", config.secret)
      .update("radiolens deid fingerprint")
      .digest("hex")
      .slice(0, 16),
    options: activeOptions(config.options ?? {}),
    keepBurnedIn: config.keepBurnedIn === true,
    layout: config.layout ?? "mirror",
    maskRules: createHash("sha256")
      .update(JSON.stringify(config.maskRules ?? []))
      .digest("hex")
      .slice(0, 16),
  };
}

function cleanTempFiles(dir: string): void {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    const st = lstatSync(p);
    if (st.isDirectory()) cleanTempFiles(p);
    else if (/^\..+\.\d+\.[0-9a-f]{8}\.tmp$/.test(name)) rmSync(p, { force: true });
  }
}

function startWorker(workerData: unknown): Worker {
  if (!import.meta.url.endsWith(".ts"))
    return new Worker(new URL("./worker.js", import.meta.url), { workerData });
  // Running from TypeScript sources (tests, benches): the worker registers the same loader before importing.
  const api = import.meta.resolve("tsx/esm/api");
  const url = new URL("./worker.ts", import.meta.url).href;
  const code = `import(${JSON.stringify(api)}).then((m) => { m.register(); return import(${JSON.stringify(url)}); });`;
  return new Worker(code, { eval: true, workerData });
}

async function runPool(
  entries: readonly Entry[],
  outRoot: string,
  config: DeidConfig,
  workers: number,
  durable: boolean,
  layout: "mirror" | "uid",
  onResult: (r: TaskResult) => void,
): Promise<void> {
  if (workers <= 0 || entries.length <= 1) {
    for (const e of entries) onResult(runTask(e, outRoot, config, durable, layout));
    return;
  }
  const shared = {
    outRoot,
    durable,
    layout,
    config: {
      secret: config.secret,
      options: config.options ?? {},
      maskRules: config.maskRules ?? [],
      keepBurnedIn: config.keepBurnedIn === true,
    },
  };
  let next = 0;
  const pool: Worker[] = [];
  try {
    await new Promise<void>((resolvePool, rejectPool) => {
      let active = 0;
      let failed = false;
      const feed = (w: Worker): void => {
        if (failed) return;
        if (next >= entries.length) {
          if (active === 0) resolvePool();
          return;
        }
        const e = entries[next++] as Entry;
        active++;
        w.postMessage({ rel: e.rel, path: e.path, bytes: e.bytes });
      };
      for (let i = 0; i < workers; i++) {
        const w = startWorker(shared);
        pool.push(w);
        w.on("message", (r: TaskResult) => {
          active--;
          try {
            onResult(r);
          } catch (err) {
            failed = true;
            rejectPool(err);
            return;
          }
          feed(w);
        });
        w.on("error", (err) => {
          failed = true;
          rejectPool(
            new RadioLensError(
              "RL_ERR_INTERNAL",
              { detail: `de-identification worker failed: ${err.message}` },
              { cause: err },
            ),
          );
        });
      }
      for (const w of pool) feed(w);
    });
  } finally {
    await Promise.all(pool.map((w) => w.terminate()));
  }
}

/**
 * De-identifies a folder, a zip archive or one file into `output`, mirroring relative paths. Originals are only
 * read. Each output is written atomically; quarantined instances are listed in the audit and not written. The
 * audit (`deid-audit.jsonl`, one line per instance, counts only) is appended as instances finish, so a run
 * started again on the same output skips what is done and writes no duplicates; the output folder records the
 * secret's fingerprint and the options, and a resume with other settings is refused.
 *
 * @example
 * ```ts
 * const s = await deidentifyTree("/data/study", "/data/study-deid", { secret, options: { retainLongitudinalModifiedDates: true } });
 * console.log(s.written, s.quarantined, s.failed);
 * ```
 */
export async function deidentifyTree(
  input: string,
  output: string,
  options: DeidTreeOptions,
): Promise<DeidTreeSummary> {
  const t0 = performance.now();
  checkSecret(options.secret);
  validateOptions(options.options ?? {});
  const inAbs = resolve(input);
  const outAbs = resolve(output);
  if (outAbs === inAbs)
    throw new RadioLensError("RL_ERR_USAGE", { detail: "the output folder must differ from the input" });
  if (existsSync(outAbs) && !statSync(outAbs).isDirectory()) {
    throw new RadioLensError("RL_ERR_USAGE", { detail: `output ${output} exists and is not a folder` });
  }
  mkdirSync(outAbs, { recursive: true });
  const runPath = join(outAbs, RUN_FILE);
  const desc = runDescription(options);
  if (existsSync(runPath)) {
    const prev = JSON.parse(readFileSync(runPath, "utf8")) as Record<string, unknown>;
    for (const k of ["secretFingerprint", "options", "keepBurnedIn", "maskRules", "layout"]) {
      if (JSON.stringify(prev[k]) !== JSON.stringify(desc[k])) {
        throw new RadioLensError("RL_ERR_DEID_RESUME_MISMATCH", { path: output, detail: `${k} differs` });
      }
    }
  } else {
    writeFileAtomic(runPath, `${JSON.stringify(desc, null, 2)}\n`);
  }
  cleanTempFiles(outAbs);
  const auditPath = join(outAbs, AUDIT_FILE);
  const previous = readAuditForResume(auditPath);
  // A record whose output has since disappeared is dropped and its instance done again, so the audit keeps
  // exactly one line per instance.
  const valid = previous.filter(
    (r) => r.status !== "written" || (r.output !== undefined && existsSync(join(outAbs, r.output))),
  );
  if (valid.length !== previous.length) writeFileAtomic(auditPath, valid.map(auditLine).join(""));
  const done = new Set(valid.map((r) => r.input));
  const entries = listInput(inAbs, outAbs).filter((e) => e.rel !== RUN_FILE && e.rel !== AUDIT_FILE);
  const pending = entries.filter((e) => !done.has(e.rel));
  const table = options.pseudonymTable
    ? existsSync(options.pseudonymTable)
      ? readPseudonymTable(options.pseudonymTable, options.secret)
      : new Map<string, string>()
    : undefined;
  const audit = new AuditWriter(auditPath);
  let written = 0;
  let quarantined = 0;
  let failed = 0;
  try {
    const requested = options.workers ?? availableParallelism();
    const workers = Math.min(requested, pending.length);
    await runPool(
      pending,
      outAbs,
      options,
      workers,
      options.durable !== false,
      options.layout ?? "mirror",
      (r) => {
        // The pseudonym table is saved before the audit line, so every audited instance's patient is in it.
        if (table && r.patient && table.get(r.patient.id) !== r.patient.pseudonym) {
          table.set(r.patient.id, r.patient.pseudonym);
          writePseudonymTable(options.pseudonymTable as string, table, options.secret);
        }
        audit.append(r.record);
        if (r.record.status === "written") written++;
        else if (r.record.status === "quarantined") quarantined++;
        else failed++;
      },
    );
  } finally {
    audit.close();
  }
  if (table && options.pseudonymTable && !existsSync(options.pseudonymTable)) {
    writePseudonymTable(options.pseudonymTable, table, options.secret);
  }
  return {
    total: entries.length,
    written,
    quarantined,
    failed,
    resumed: entries.length - pending.length,
    auditPath,
    seconds: (performance.now() - t0) / 1000,
  };
}
