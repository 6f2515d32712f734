/** A small RFC 4180 CSV reader (quoted fields, doubled quotes, CRLF) for dataset manifests and label tables. */
import { RadioLensError } from "../core/errors.js";

/** A parsed CSV: header names and rows of cells keyed by header. */
export interface CsvTable {
  readonly columns: readonly string[];
  readonly rows: readonly Readonly<Record<string, string>>[];
}

/**
 * Parses CSV text per RFC 4180 §2: fields may be quoted, a quote inside a quoted field is doubled, records end with
 * CRLF or LF. The first record is the header. A BOM is ignored. Rows with a different number of fields are refused
 * with their line number.
 *
 * @example
 * ```ts
 * const t = parseCsv('path,label\n"a,1.png",1\n', "manifest.csv");
 * t.rows[0]?.["path"]; // "a,1.png"
 * ```
 */
export function parseCsv(text: string, name = "<csv>"): CsvTable {
  const records: string[][] = [];
  const lines: number[] = [];
  let field = "";
  let record: string[] = [];
  let quoted = false;
  let line = 1;
  let recordLine = 1;
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  const endRecord = (): void => {
    record.push(field);
    field = "";
    if (!(record.length === 1 && record[0] === "")) {
      records.push(record);
      lines.push(recordLine);
    }
    record = [];
  };
  for (; i < text.length; i++) {
    const c = text[i] as string;
    if (quoted) {
      if (c === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i++;
        } else quoted = false;
      } else {
        if (c === "\n") line++;
        field += c;
      }
    } else if (c === '"' && field === "") quoted = true;
    else if (c === ",") {
      record.push(field);
      field = "";
    } else if (c === "\n" || c === "\r") {
      if (c === "\r" && text[i + 1] === "\n") i++;
      endRecord();
      line++;
      recordLine = line;
    } else field += c;
  }
  if (quoted) {
    throw new RadioLensError("RL_ERR_TABLE_INVALID", {
      detail: `${name}: a quoted field opened on line ${recordLine} never closes`,
    });
  }
  if (field !== "" || record.length > 0) endRecord();
  const header = records[0];
  if (!header)
    throw new RadioLensError("RL_ERR_TABLE_INVALID", { detail: `${name} is empty (no header line)` });
  const columns = header.map((h) => h.trim());
  const rows = records.slice(1).map((r, k) => {
    if (r.length !== columns.length) {
      throw new RadioLensError("RL_ERR_TABLE_INVALID", {
        detail: `${name} line ${lines[k + 1]} has ${r.length} fields, the header has ${columns.length}`,
      });
    }
    const row: Record<string, string> = {};
    columns.forEach((c, j) => {
      row[c] = r[j] as string;
    });
    return row;
  });
  return { columns, rows };
}
