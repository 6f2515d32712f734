/** Small, escaping HTML helpers for the self-contained report (no template engine: every value is escaped here). */

/**
 * Escapes text for HTML element content and double-quoted attributes.
 *
 * @example
 * ```ts
 * esc('<b>"x"</b>'); // "&lt;b&gt;&quot;x&quot;&lt;/b&gt;"
 * ```
 */
export function esc(text: unknown): string {
  return String(text)
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&#39;");
}

/**
 * A data URI for inline bytes (PNG) or text (SVG), so the report needs no other file and makes no request.
 *
 * @example
 * ```ts
 * `<img src="${dataUri("image/svg+xml", svg)}">`
 * ```
 */
export function dataUri(mime: string, content: string | Uint8Array): string {
  const b64 =
    typeof content === "string"
      ? Buffer.from(content, "utf8").toString("base64")
      : Buffer.from(content).toString("base64");
  return `data:${mime};base64,${b64}`;
}

/**
 * A number for a reader: 4 significant decimals, "undefined" for NaN (a metric that does not exist on these
 * data), "—" for null.
 *
 * @example
 * ```ts
 * fmt(0.91234); // "0.9123"
 * ```
 */
export function fmt(v: number | null | undefined, digits = 4): string {
  if (v === null || v === undefined) return "—";
  if (Number.isNaN(v)) return "undefined";
  if (!Number.isFinite(v)) return v > 0 ? "+∞" : "−∞";
  return Number.isInteger(v) ? String(v) : v.toFixed(digits);
}

/**
 * An HTML table from a header row and body rows; cells are escaped unless wrapped with {@link raw}.
 *
 * @example
 * ```ts
 * table(["metric", "value"], [["accuracy", "0.91"]]);
 * ```
 */
export function table(
  head: readonly string[],
  rows: readonly (readonly (string | Raw)[])[],
  cls = "",
): string {
  const cell = (c: string | Raw, tag: string) => `<${tag}>${c instanceof Raw ? c.html : esc(c)}</${tag}>`;
  return `<table${cls ? ` class="${esc(cls)}"` : ""}><thead><tr>${head.map((h) => cell(h, "th")).join("")}</tr></thead><tbody>${rows
    .map((r) => `<tr>${r.map((c) => cell(c, "td")).join("")}</tr>`)
    .join("")}</tbody></table>`;
}

/**
 * Markup that is already safe (built from escaped parts); make one with {@link raw}.
 *
 * @example
 * ```ts
 * const cell = new Raw("<b>bold</b>");
 * ```
 */
export class Raw {
  constructor(readonly html: string) {}
}

/**
 * Marks built markup as safe for {@link table}.
 *
 * @example
 * ```ts
 * table(["image"], [[raw(`<img src="${uri}">`)]]);
 * ```
 */
export function raw(html: string): Raw {
  return new Raw(html);
}
