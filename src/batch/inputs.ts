/** The inputs of a batch run: every file of a folder, the rows of a manifest.csv, or the instances a DICOMweb QIDO-RS query finds. */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { extname, isAbsolute, join, relative, resolve } from "node:path";
import { parse } from "csv-parse/sync";
import { RadioLensError } from "../core/errors.js";

/** One input of a run: a stable id (unique in the run) and where its bytes are read from. */
export interface BatchInput {
  /** Unique within the run: the path relative to the folder, the manifest's `id`, or the SOP Instance UID. */
  readonly id: string;
  /** An absolute file path, or an `http(s)://` WADO-RS URL of one instance. */
  readonly source: string;
}

/** Options of {@link listInputs}. */
export interface ListInputsOptions {
  /** Extra HTTP headers for DICOMweb (e.g. `x-api-key` or `authorization`). */
  readonly headers?: Readonly<Record<string, string>>;
  /** QIDO-RS page size (default 500). */
  readonly pageSize?: number;
  /** The fetch to use (tests and retries share it); default the global fetch. */
  readonly fetch?: typeof fetch;
}

const SKIP = new Set([".csv", ".json", ".txt", ".md", ".db", ".tmp"]);

/**
 * Lists a run's inputs from `input`: an `http(s)://` URL is a QIDO-RS instances query (paged with `limit` and
 * `offset`, PS3.18 10.6), a `.csv` file a manifest (column `path` or `file`, optional `id`; relative paths are
 * resolved from the manifest's folder), anything else a folder walked recursively (sorted; dot files and
 * `.csv/.json/.txt/.md` skipped). Ids are unique: a duplicate id is a usage error, so a run never has two rows
 * for one id.
 *
 * @example
 * ```ts
 * const inputs = await listInputs("archive/pngs"); // [{ id: "a/1.png", source: "/abs/archive/pngs/a/1.png" }, ...]
 * ```
 */
export async function listInputs(input: string, opts: ListInputsOptions = {}): Promise<BatchInput[]> {
  const out = /^https?:\/\//i.test(input)
    ? await qidoInputs(input, opts)
    : extname(input).toLowerCase() === ".csv"
      ? manifestInputs(input)
      : folderInputs(input);
  const seen = new Set<string>();
  for (const i of out) {
    if (seen.has(i.id))
      throw new RadioLensError("RL_ERR_USAGE", { detail: `input id '${i.id}' appears twice` });
    seen.add(i.id);
  }
  return out;
}

function folderInputs(dir: string): BatchInput[] {
  let st: ReturnType<typeof statSync>;
  try {
    st = statSync(dir);
  } catch {
    throw new RadioLensError("RL_ERR_FILE_NOT_FOUND", { path: dir });
  }
  if (!st.isDirectory())
    throw new RadioLensError("RL_ERR_USAGE", {
      detail: `--input ${dir} is neither a folder, a .csv manifest nor an http(s) QIDO-RS URL`,
    });
  const root = resolve(dir);
  const files: string[] = [];
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.name.startsWith(".")) continue;
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile() && !SKIP.has(extname(e.name).toLowerCase())) files.push(p);
    }
  };
  walk(root);
  // Code-unit order, not locale order: the same folder lists the same way on every machine.
  files.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return files.map((p) => ({ id: relative(root, p).split("\\").join("/"), source: p }));
}

function manifestInputs(path: string): BatchInput[] {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch {
    throw new RadioLensError("RL_ERR_FILE_NOT_FOUND", { path });
  }
  const rows = parse(text, { columns: true, skip_empty_lines: true, trim: true, bom: true }) as Record<
    string,
    string
  >[];
  const base = resolve(path, "..");
  return rows.map((r, i) => {
    const file = r["path"] ?? r["file"];
    if (!file)
      throw new RadioLensError("RL_ERR_USAGE", {
        detail: `${path} row ${i + 2}: the manifest needs a 'path' (or 'file') column`,
      });
    const source = /^https?:\/\//i.test(file) ? file : isAbsolute(file) ? file : resolve(base, file);
    return { id: r["id"] || file, source };
  });
}

/** DICOM JSON (PS3.18 F.2) value of one tag, first value. */
function tagValue(ds: Record<string, { Value?: unknown[] }>, tag: string): string | undefined {
  const v = ds[tag]?.Value?.[0];
  return typeof v === "string" ? v : undefined;
}

/**
 * Fetches with retries on transient failures (network errors, 429 and 5xx), 0.5 s doubled up to 4 tries; other
 * statuses are returned to the caller.
 *
 * @example
 * ```ts
 * const r = await fetchRetrying("http://pacs/dicomweb/instances?limit=10", { headers: { accept: "application/dicom+json" } });
 * ```
 */
export async function fetchRetrying(
  url: string,
  init: RequestInit = {},
  opts: { readonly tries?: number; readonly baseMs?: number; readonly fetch?: typeof fetch } = {},
): Promise<Response> {
  const tries = opts.tries ?? 4;
  const f = opts.fetch ?? fetch;
  let last: unknown;
  for (let k = 0; k < tries; k++) {
    if (k > 0) await new Promise((r) => setTimeout(r, (opts.baseMs ?? 500) * 2 ** (k - 1)));
    try {
      const r = await f(url, { ...init, signal: AbortSignal.timeout(60_000) });
      if (r.status !== 429 && r.status < 500) return r;
      last = new Error(`HTTP ${r.status}`);
      await r.body?.cancel();
    } catch (e) {
      last = e;
    }
  }
  throw new RadioLensError("RL_ERR_DOWNLOAD", {
    url: url.replace(/\?.*$/, ""),
    detail: `${tries} tries: ${(last as Error)?.message ?? String(last)}`,
  });
}

async function qidoInputs(url: string, opts: ListInputsOptions): Promise<BatchInput[]> {
  const page = opts.pageSize ?? 500;
  const out: BatchInput[] = [];
  const u = new URL(url);
  // A study or series URL lists its instances; a bare DICOMweb base lists every instance.
  if (!/\/instances\/?$/.test(u.pathname)) u.pathname = `${u.pathname.replace(/\/$/, "")}/instances`;
  const base = url.replace(/\/(studies|instances)(\/.*)?(\?.*)?$/, "").replace(/\?.*$/, "");
  for (let offset = 0; ; offset += page) {
    u.searchParams.set("limit", String(page));
    u.searchParams.set("offset", String(offset));
    const r = await fetchRetrying(
      u.toString(),
      { headers: { accept: "application/dicom+json", ...(opts.headers ?? {}) } },
      opts.fetch ? { fetch: opts.fetch } : {},
    );
    if (r.status === 204) break;
    if (!r.ok)
      throw new RadioLensError("RL_ERR_DOWNLOAD", {
        url: u.origin + u.pathname,
        detail: `QIDO-RS answered HTTP ${r.status}`,
      });
    const rows = (await r.json()) as Record<string, { Value?: unknown[] }>[];
    for (const ds of rows) {
      // (0020,000D) StudyInstanceUID, (0020,000E) SeriesInstanceUID, (0008,0018) SOPInstanceUID,
      // (0008,1190) RetrieveURL.
      const sop = tagValue(ds, "00080018");
      const study = tagValue(ds, "0020000D");
      const series = tagValue(ds, "0020000E");
      if (!sop) continue;
      const retrieve =
        tagValue(ds, "00081190") ??
        (study && series ? `${base}/studies/${study}/series/${series}/instances/${sop}` : undefined);
      if (retrieve) out.push({ id: sop, source: retrieve });
    }
    if (rows.length < page) break;
  }
  return out;
}
