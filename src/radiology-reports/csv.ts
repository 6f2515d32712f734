/** CSV reading and writing for report tables (RFC 4180: quoted fields may hold commas, quotes and newlines). */
import { existsSync, readFileSync } from "node:fs";
import { parse } from "csv-parse/sync";
import { stringify } from "csv-stringify/sync";
import { RadioLensError } from "../core/errors.js";
import { writeFileAtomic } from "../core/fs.js";

/** A parsed CSV table: the header and the rows as string records, in file order. */
export interface CsvTable {
  readonly columns: readonly string[];
  readonly rows: readonly Readonly<Record<string, string>>[];
}

/** Options for reading CSV. */
export interface CsvReadOptions {
  /** Column names for a file without a header row (every row is data). */
  readonly columns?: readonly string[];
}

/**
 * Parses CSV text with a header row (or without one when `opts.columns` names the columns). A UTF-8 BOM is dropped; rows with a different number of fields are an error
 * (a silently shifted column would mislabel a report).
 *
 * @example
 * ```ts
 * parseCsv('id,text\n1,"a, b\nc"\n').rows[0]?.text; // "a, b\nc"
 * ```
 */
export function parseCsv(text: string, source = "<csv>", opts: CsvReadOptions = {}): CsvTable {
  let records: string[][];
  try {
    records = parse(text, { bom: true, skip_empty_lines: true, relax_column_count: false }) as string[][];
  } catch (e) {
    throw new RadioLensError(
      "RL_ERR_TABLE_INVALID",
      { detail: `${source} is not valid CSV: ${(e as Error).message}` },
      { cause: e },
    );
  }
  if (opts.columns) {
    // Header-less files (the CheXpert labeler's input is one quoted report per line).
    const n = opts.columns.length;
    if (records.some((r) => r.length !== n)) {
      throw new RadioLensError("RL_ERR_TABLE_INVALID", {
        detail: `${source} rows do not have ${n} field(s): ${opts.columns.join(", ")}`,
      });
    }
    records.unshift([...opts.columns]);
  }
  const header = records[0];
  if (!header)
    throw new RadioLensError("RL_ERR_TABLE_INVALID", { detail: `${source} is empty (no header row)` });
  const seen = new Set<string>();
  for (const c of header) {
    if (seen.has(c))
      throw new RadioLensError("RL_ERR_TABLE_INVALID", { detail: `${source} repeats column '${c}'` });
    seen.add(c);
  }
  const rows = records.slice(1).map((r) => {
    const o: Record<string, string> = {};
    header.forEach((c, i) => {
      o[c] = r[i] ?? "";
    });
    return o;
  });
  return { columns: header, rows };
}

/**
 * Reads a CSV file with a header row.
 *
 * @example
 * ```ts
 * const t = readCsv("reports.csv");
 * ```
 */
export function readCsv(path: string, opts: CsvReadOptions = {}): CsvTable {
  if (!existsSync(path)) throw new RadioLensError("RL_ERR_FILE_NOT_FOUND", { path });
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new RadioLensError("RL_ERR_IO", { path, detail: (e as Error).message }, { cause: e });
  }
  return parseCsv(text, path, opts);
}

/**
 * Formats rows as CSV (fields quoted only where needed; `\n` line ends).
 *
 * @example
 * ```ts
 * formatCsv(["id", "x"], [["1", "a,b"]]); // 'id,x\n1,"a,b"\n'
 * ```
 */
export function formatCsv(columns: readonly string[], rows: readonly (readonly string[])[]): string {
  return stringify([columns as string[], ...(rows as string[][])], { record_delimiter: "\n" });
}

/**
 * Writes rows as a CSV file atomically.
 *
 * @example
 * ```ts
 * writeCsv("labels.csv", ["uid", "Edema"], [["1", "0"]]);
 * ```
 */
export function writeCsv(
  path: string,
  columns: readonly string[],
  rows: readonly (readonly string[])[],
): void {
  writeFileAtomic(path, formatCsv(columns, rows));
}
