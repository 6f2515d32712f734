/** A STOW-RS client (PS3.18 10.5) that delivers result files to a DICOMweb destination, as the outbox's sender. */
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import type { ResultSender } from "./outbox.js";

/** A STOW-RS destination: the studies URL and how to authenticate. */
export interface StowDestination {
  /** The base of the DICOMweb service, e.g. `https://pacs.example.org/dicom-web` (`/studies` is appended). */
  readonly url: string;
  /** HTTP Basic credentials. */
  readonly username?: string;
  readonly password?: string;
  /** A bearer token (OAuth 2.0, PS3.18 10.1.2). */
  readonly bearerToken?: string;
  readonly timeoutMs?: number;
}

/**
 * A result sender that POSTs one Part 10 file as `multipart/related; type="application/dicom"` to
 * `{url}/studies` and resolves with 0 when the origin server stored it (200, PS3.18 10.5.3), or with 0xA700
 * (the DIMSE "refused: out of resources" the outbox treats as a failure to retry) for any other answer; a
 * network failure rejects. The outbox retries either with backoff.
 *
 * @example
 * ```ts
 * const send = createStowSender({ url: "http://127.0.0.1:8042/dicom-web", username: "rl", password: "secret" });
 * await send("/data/instances/ab/ab12....dcm"); // 0
 * ```
 */
export function createStowSender(dest: StowDestination): ResultSender {
  const base = dest.url.replace(/\/+$/, "");
  const headers: Record<string, string> = {};
  if (dest.username !== undefined) {
    headers["authorization"] =
      `Basic ${Buffer.from(`${dest.username}:${dest.password ?? ""}`).toString("base64")}`;
  } else if (dest.bearerToken) headers["authorization"] = `Bearer ${dest.bearerToken}`;
  return async (path) => {
    const boundary = `radiolens-${randomUUID()}`;
    const body = Buffer.concat([
      Buffer.from(`--${boundary}\r\nContent-Type: application/dicom\r\n\r\n`, "latin1"),
      readFileSync(path),
      Buffer.from(`\r\n--${boundary}--\r\n`, "latin1"),
    ]);
    const r = await fetch(`${base}/studies`, {
      method: "POST",
      body,
      headers: {
        ...headers,
        "content-type": `multipart/related; type="application/dicom"; boundary=${boundary}`,
        accept: "application/dicom+json",
      },
      signal: AbortSignal.timeout(dest.timeoutMs ?? 30_000),
    });
    await r.arrayBuffer();
    return r.status === 200 ? 0 : 0xa700;
  };
}
