/** MIME multipart bodies (RFC 2046 5.1) for STOW-RS (multipart/related, PS3.18 8.6.1.2) and form uploads, both ways. */
import { randomBytes } from "node:crypto";
import { RadioLensError } from "../core/errors.js";

/** One body part: its headers (lower-case names) and its bytes (a view into the body). */
export interface MultipartPart {
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Uint8Array;
}

/**
 * Reads `boundary` (and `type` for multipart/related) from a Content-Type header.
 *
 * @example
 * ```ts
 * contentTypeParams('multipart/related; type="application/dicom"; boundary=abc'); // { boundary: "abc", type: "application/dicom" }
 * ```
 */
export function contentTypeParams(header: string): Record<string, string> {
  const out: Record<string, string> = {};
  const re = /;\s*([A-Za-z0-9_-]+)\s*=\s*("([^"]*)"|[^;\s]+)/g;
  for (let m = re.exec(header); m; m = re.exec(header)) {
    const k = (m[1] as string).toLowerCase();
    out[k] = m[3] ?? (m[2] as string);
  }
  return out;
}

function indexOf(hay: Uint8Array, needle: Uint8Array, from: number): number {
  const buf = Buffer.from(hay.buffer, hay.byteOffset, hay.byteLength);
  return buf.indexOf(needle, from);
}

/**
 * Splits a multipart body on its boundary. The preamble and epilogue are ignored; a body without the closing
 * delimiter is refused, so a truncated upload never yields a truncated last part.
 *
 * @example
 * ```ts
 * const parts = parseMultipart(body, "abc");
 * ```
 */
export function parseMultipart(body: Uint8Array, boundary: string): MultipartPart[] {
  if (!boundary || boundary.length > 70)
    throw new RadioLensError("RL_ERR_BAD_REQUEST", {
      detail: "multipart Content-Type needs a boundary of 1-70 characters",
    });
  const delim = Buffer.from(`--${boundary}`, "latin1");
  const parts: MultipartPart[] = [];
  let pos = indexOf(body, delim, 0);
  if (pos < 0)
    throw new RadioLensError("RL_ERR_BAD_REQUEST", { detail: "the multipart body has no boundary line" });
  for (;;) {
    let p = pos + delim.length;
    if (body[p] === 0x2d && body[p + 1] === 0x2d) return parts; // "--": the close delimiter
    // Transport padding then CRLF after the boundary.
    while (body[p] === 0x20 || body[p] === 0x09) p++;
    if (body[p] !== 0x0d || body[p + 1] !== 0x0a)
      throw new RadioLensError("RL_ERR_BAD_REQUEST", {
        detail: "a multipart boundary line does not end in CRLF",
      });
    p += 2;
    const headEnd = indexOf(body, Buffer.from("\r\n\r\n"), p);
    const next = indexOf(body, Buffer.concat([Buffer.from("\r\n"), delim]), p);
    if (next < 0)
      throw new RadioLensError("RL_ERR_BAD_REQUEST", {
        detail: "the multipart body ends without its closing boundary",
      });
    const headers: Record<string, string> = {};
    let start = p;
    if (headEnd >= 0 && headEnd < next) {
      for (const line of Buffer.from(body.buffer, body.byteOffset + p, headEnd - p)
        .toString("latin1")
        .split("\r\n")) {
        const i = line.indexOf(":");
        if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
      }
      start = headEnd + 4;
    } else if (body[p] === 0x0d && body[p + 1] === 0x0a) {
      start = p + 2;
    }
    parts.push({ headers, body: body.subarray(start, next) });
    pos = next + 2;
  }
}

/**
 * Builds a multipart/related body (for WADO-RS responses and for clients). `type` is the media type of the root
 * (the `type` parameter, RFC 2387 3.1); each part's Content-Type is `partContentType`, which may add parameters
 * such as `transfer-syntax` (PS3.18 8.7.3.5).
 *
 * @example
 * ```ts
 * const { body, contentType } = buildMultipart([bytes], "application/dicom");
 * ```
 */
export function buildMultipart(
  items: readonly Uint8Array[],
  type: string,
  boundary = `radiolens-${randomBytes(12).toString("hex")}`,
  partContentType = type,
): { body: Buffer; contentType: string } {
  const chunks: Buffer[] = [];
  for (const it of items) {
    chunks.push(Buffer.from(`--${boundary}\r\nContent-Type: ${partContentType}\r\n\r\n`, "latin1"));
    chunks.push(Buffer.from(it.buffer, it.byteOffset, it.byteLength));
    chunks.push(Buffer.from("\r\n", "latin1"));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`, "latin1"));
  return {
    body: Buffer.concat(chunks),
    contentType: `multipart/related; type="${type}"; boundary=${boundary}`,
  };
}
