/** Longitudinal dates (PS3.15 E.3.6 Modified Dates: one shift per patient) and the age cap of the Patient Characteristics option. */
import { createHmac } from "node:crypto";

/**
 * Shifts reach at most this many days back (ten years), never forward, so shifted dates never lie in the future.
 *
 * @example
 * ```ts
 * dateShiftDays(secret, "PAT1") >= -MAX_SHIFT_DAYS; // true
 * ```
 */
export const MAX_SHIFT_DAYS = 3652;

/**
 * The date shift of one patient, in days (negative: into the past, never zero): derived from the secret and the
 * original Patient ID, so every instance of a patient moves by the same amount in any run with the same secret
 * and intervals between a patient's studies are preserved.
 *
 * @example
 * ```ts
 * dateShiftDays(secret, "PAT001"); // e.g. -1734
 * ```
 */
export function dateShiftDays(secret: Uint8Array, patientId: string): number {
  const d = createHmac("sha256", secret).update("date-shift\0").update(patientId, "utf8").digest();
  return -(1 + (d.readUInt32BE(0) % MAX_SHIFT_DAYS));
}

function shiftYmd(ymd: string, days: number): string | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})$/.exec(ymd);
  if (!m) return undefined;
  const t = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  if (Number.isNaN(t)) return undefined;
  const d = new Date(t + days * 86_400_000);
  const y = d.getUTCFullYear();
  if (y < 1 || y > 9999) return undefined;
  return `${String(y).padStart(4, "0")}${String(d.getUTCMonth() + 1).padStart(2, "0")}${String(d.getUTCDate()).padStart(2, "0")}`;
}

/**
 * Shifts a DA value (PS3.5 6.2: YYYYMMDD, possibly multi-valued or a range `A-B`) by whole days; a component
 * that is not a full date is returned as undefined so the caller can replace it instead of leaking it.
 *
 * @example
 * ```ts
 * shiftDA("20040119", -10); // "20040109"
 * ```
 */
export function shiftDA(value: string, days: number): string | undefined {
  const parts = value.trim().split("\\");
  const out: string[] = [];
  for (const p of parts) {
    if (p === "") {
      out.push("");
      continue;
    }
    const range = p.split("-");
    const shifted = range.map((r) => (r === "" ? "" : shiftYmd(r.trim(), days)));
    if (shifted.some((s) => s === undefined)) return undefined;
    out.push(shifted.join("-"));
  }
  return out.join("\\");
}

/**
 * Shifts the date part of a DT value (YYYYMMDDHHMMSS.FFFFFF&ZZXX) by whole days, keeping time and offset;
 * values shorter than a full date are not shiftable (undefined).
 *
 * @example
 * ```ts
 * shiftDT("20040119123000.5+0100", 1); // "20040120123000.5+0100"
 * ```
 */
export function shiftDT(value: string, days: number): string | undefined {
  const parts = value.trim().split("\\");
  const out: string[] = [];
  for (const p of parts) {
    if (p === "") {
      out.push("");
      continue;
    }
    if (p.length < 8) return undefined;
    const head = shiftYmd(p.slice(0, 8), days);
    if (head === undefined) return undefined;
    out.push(head + p.slice(8));
  }
  return out.join("\\");
}

/**
 * Caps an Age String (AS, PS3.5 6.2: nnnD/W/M/Y) at 090Y as the Retain Patient Characteristics option is
 * commonly applied (ages above 89 identify small populations; HIPAA Safe Harbor 164.514(b)(2)(i)(C)).
 *
 * @example
 * ```ts
 * capAge("093Y"); // "090Y"
 * capAge("045Y"); // "045Y"
 * ```
 */
export function capAge(value: string): string {
  const v = value.trim();
  const m = /^(\d{3})([DWMY])$/.exec(v);
  if (!m) return v === "" ? "" : "090Y";
  const n = Number(m[1]);
  const years = m[2] === "Y" ? n : m[2] === "M" ? n / 12 : m[2] === "W" ? n / 52 : n / 365;
  return years > 89 ? "090Y" : v;
}
