/** The console's access to the service: the credential of this tab, authenticated fetches, error text, multipart bodies. */

/** The signed-in credential lives only in this tab (sessionStorage), never in a URL. */
const KEY = "radiolens.credential";
let credential = sessionStorage.getItem(KEY) ?? "";
let onRefused: (message: string) => void = () => {};

/** The credential of this tab ("" when signed out). */
export function getCredential(): string {
  return credential;
}

/** Keeps (or with "" forgets) the credential for this tab. */
export function setCredential(value: string): void {
  credential = value;
  if (value) sessionStorage.setItem(KEY, value);
  else sessionStorage.removeItem(KEY);
}

/** What to do when the server refuses the credential (401): sign out with a message. */
export function onCredentialRefused(fn: (message: string) => void): void {
  onRefused = fn;
}

/** The header that carries the credential: a JWT as a bearer token, anything else as an API key. */
export function authHeaders(): Record<string, string> {
  return credential.split(".").length === 3
    ? { authorization: `Bearer ${credential}` }
    : { "x-api-key": credential };
}

/** fetch() with the credential; a 401 signs the tab out. */
export async function api(path: string, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  for (const [k, v] of Object.entries(authHeaders())) headers.set(k, v);
  const r = await fetch(path, { ...init, headers });
  if (r.status === 401) onRefused("Your credential was refused; sign in again.");
  return r;
}

/** The service's error as "CODE: message", or the HTTP status. */
export async function errorText(r: Response): Promise<string> {
  try {
    const j = (await r.json()) as { error?: { code: string; message: string } };
    return j.error ? `${j.error.code}: ${j.error.message}` : `HTTP ${r.status}`;
  } catch {
    return `HTTP ${r.status}`;
  }
}

function indexOf(hay: Uint8Array, needle: Uint8Array, from: number): number {
  const first = needle[0];
  outer: for (let i = from; i <= hay.length - needle.length; i++) {
    if (hay[i] !== first) continue;
    for (let j = 1; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

/**
 * The bodies of a multipart/related response (RFC 2387), as WADO-RS returns instances (PS3.18 8.6.1.2).
 *
 * @example
 * ```ts
 * const [part10] = multipartParts(new Uint8Array(await r.arrayBuffer()), r.headers.get("content-type") ?? "");
 * ```
 */
export function multipartParts(body: Uint8Array, contentType: string): Uint8Array[] {
  const boundary = /boundary="?([^";]+)"?/i.exec(contentType)?.[1];
  if (!boundary) return [body];
  const enc = new TextEncoder();
  const delim = enc.encode(`--${boundary}`);
  const crlf2 = enc.encode("\r\n\r\n");
  const parts: Uint8Array[] = [];
  let at = indexOf(body, delim, 0);
  while (at >= 0) {
    const headEnd = indexOf(body, crlf2, at + delim.length);
    if (headEnd < 0) break;
    const next = indexOf(body, enc.encode(`\r\n--${boundary}`), headEnd + 4);
    if (next < 0) break;
    parts.push(body.subarray(headEnd + 4, next));
    at = next + 2;
  }
  return parts;
}

/** True for a DICOM Part 10 file (the "DICM" prefix at byte 128, PS3.10 7.1). */
export function isPart10(b: Uint8Array): boolean {
  return b.length >= 132 && b[128] === 0x44 && b[129] === 0x49 && b[130] === 0x43 && b[131] === 0x4d;
}
