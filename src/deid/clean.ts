/** The C (clean) action for free text (PS3.15 E.3.5 Clean Descriptors): strip identifiers known from the instance. */

/**
 * Identifying strings of one instance that cleaning must strip from descriptors.
 *
 * @example
 * ```ts
 * const ids = new IdentifierSet(); ids.add("Doe^John"); cleanText("CT John Doe", ids); // "CT"
 * ```
 */
export class IdentifierSet {
  private readonly terms = new Set<string>();

  /**
   * Adds a removed value; a person name contributes each of its components (PS3.5 6.2.1: `^` and `=` separated),
   * each word of two or more characters, and the whole value.
   *
   * @example
   * ```ts
   * const ids = new IdentifierSet(); ids.add("Doe^John"); ids.has("john"); // true
   * ```
   */
  add(value: string): void {
    const v = value.trim();
    if (v.length < 2) return;
    this.terms.add(v.toLowerCase());
    for (const part of v.split(/[\^=\\\s,]+/)) if (part.length >= 2) this.terms.add(part.toLowerCase());
  }

  /** Whether a term was added (case-insensitive). */
  has(term: string): boolean {
    return this.terms.has(term.toLowerCase());
  }

  /** The terms, longest first, so a full name is stripped before its parts. */
  list(): string[] {
    return [...this.terms].sort((a, b) => b.length - a.length || (a < b ? -1 : 1));
  }

  get size(): number {
    return this.terms.size;
  }
}

const DATE_LIKE = /\b\d{1,4}[./-]\d{1,2}[./-]\d{1,4}\b|\b(?:19|20)\d{6}\b/g;
const LONG_NUMBER = /\d{5,}/g;
const TITLED_NAME = /\b(?:Dr|Mr|Mrs|Ms|Miss|Prof)\.?\s+[A-Z][\p{L}'-]*/gu;

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/**
 * Cleans one free-text value: removes every identifier of the instance (names, IDs, dates the profile removed),
 * anything shaped like a date, digit runs of five or more (record, accession and phone numbers) and titled names
 * ("Dr. Smith"), then collapses whitespace. What remains is the descriptive part (PS3.15 E.3.5 Note 2), e.g.
 * "CT chest abdomen pelvis - 55F Dr. Smith" keeps "CT chest abdomen pelvis - 55F".
 *
 * @example
 * ```ts
 * const ids = new IdentifierSet(); ids.add("Smith^Jane");
 * cleanText("Chest CT for Jane Smith 20240102", ids); // "Chest CT for"
 * ```
 */
export function cleanText(value: string, ids: IdentifierSet): string {
  let out = value.replace(TITLED_NAME, " ");
  for (const term of ids.list()) {
    out = out.replace(
      new RegExp(`(^|[^\\p{L}\\p{N}])${escapeRegExp(term)}(?=$|[^\\p{L}\\p{N}])`, "giu"),
      "$1 ",
    );
  }
  out = out.replace(DATE_LIKE, " ").replace(LONG_NUMBER, " ");
  return out
    .replace(/\s+/g, " ")
    .replace(/\s+([,.;:])/g, "$1")
    .trim()
    .replace(/^[-,.;:\s]+|[-,;:\s]+$/g, "");
}
