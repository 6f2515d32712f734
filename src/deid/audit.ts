/** The de-identification audit: one JSON line per instance with actions counted by kind; never a removed value. */
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, truncateSync, writeSync } from "node:fs";

/**
 * Kinds of action the audit counts (PS3.15 E.1.1 action codes and what RadioLens does around them).
 *
 * @example
 * ```ts
 * for (const k of ACTION_KINDS) console.log(k, record.actions[k]);
 * ```
 */
export const ACTION_KINDS = [
  "removed",
  "emptied",
  "dummied",
  "kept",
  "cleaned",
  "uidReplaced",
  "dateShifted",
  "pseudonymized",
  "ageCapped",
  "privateRemoved",
  "privateKept",
] as const;

/** One counted kind. */
export type ActionKind = (typeof ACTION_KINDS)[number];

/** Counts per kind. */
export type ActionCounts = Record<ActionKind, number>;

/**
 * Zeroed counters.
 *
 * @example
 * ```ts
 * const c = emptyCounts(); c.removed++;
 * ```
 */
export function emptyCounts(): ActionCounts {
  return Object.fromEntries(ACTION_KINDS.map((k) => [k, 0])) as ActionCounts;
}

/** One audit line. `input` and `output` are paths relative to the run's input and output roots. */
export interface AuditRecord {
  readonly input: string;
  readonly status: "written" | "quarantined" | "failed";
  readonly output?: string;
  /** SOP Class UID (a standard UID, not identifying). */
  readonly sopClassUID?: string;
  readonly actions: ActionCounts;
  /** Why the instance was not written (burned-in rules), or which masking rule cleared it. */
  readonly quarantine?: readonly string[];
  readonly maskRule?: string;
  /** Deviations of the input read with a warning (ADR 028); they name tags and offsets, never values. */
  readonly warnings?: readonly string[];
  /** Error code and message for a failed instance (messages name tags and offsets, never values). */
  readonly error?: { readonly code: string; readonly message: string };
}

/**
 * Serializes a record as one line (keys in a fixed order so equal runs give equal audits).
 *
 * @example
 * ```ts
 * auditLine({ input: "a.dcm", status: "written", output: "a.dcm", actions: emptyCounts() });
 * ```
 */
export function auditLine(r: AuditRecord): string {
  const o: Record<string, unknown> = { input: r.input, status: r.status };
  if (r.output !== undefined) o["output"] = r.output;
  if (r.sopClassUID !== undefined) o["sopClassUID"] = r.sopClassUID;
  o["actions"] = Object.fromEntries(ACTION_KINDS.map((k) => [k, r.actions[k]]));
  if (r.quarantine !== undefined && r.quarantine.length > 0) o["quarantine"] = r.quarantine;
  if (r.maskRule !== undefined) o["maskRule"] = r.maskRule;
  if (r.warnings !== undefined && r.warnings.length > 0) o["warnings"] = r.warnings;
  if (r.error !== undefined) o["error"] = r.error;
  return `${JSON.stringify(o)}\n`;
}

/**
 * Reads an audit file for resuming: the records of complete lines; a torn last line (the run stopped while
 * writing it) is cut off the file so the next append starts on a line boundary.
 *
 * @example
 * ```ts
 * const done = readAuditForResume("/out/deid-audit.jsonl");
 * ```
 */
export function readAuditForResume(path: string): AuditRecord[] {
  if (!existsSync(path)) return [];
  const text = readFileSync(path, "utf8");
  const lastNewline = text.lastIndexOf("\n");
  const complete = text.slice(0, lastNewline + 1);
  if (complete.length !== text.length) truncateSync(path, Buffer.byteLength(complete, "utf8"));
  const out: AuditRecord[] = [];
  for (const line of complete.split("\n")) {
    if (line.trim() === "") continue;
    try {
      out.push(JSON.parse(line) as AuditRecord);
    } catch {
      // A line that does not parse was never completed; the instance is simply processed again.
    }
  }
  return out;
}

/**
 * Appends audit lines, each in one write. Lines are not fsynced one by one: an instance's output is already
 * durable (written, fsynced, renamed) before its line is appended, so a line lost in a crash only makes the
 * resumed run redo that instance, with the same bytes; the file is fsynced when the run closes it.
 *
 * @example
 * ```ts
 * const w = new AuditWriter("/out/deid-audit.jsonl"); w.append(record); w.close();
 * ```
 */
export class AuditWriter {
  private readonly fd: number;

  constructor(path: string) {
    this.fd = openSync(path, "a");
  }

  /** Appends one record. */
  append(r: AuditRecord): void {
    const buf = Buffer.from(auditLine(r), "utf8");
    let off = 0;
    while (off < buf.length) off += writeSync(this.fd, buf, off, buf.length - off);
  }

  close(): void {
    fsyncSync(this.fd);
    closeSync(this.fd);
  }
}
