/** Verified downloads: stream to a temporary sibling while hashing, rename into place only when the MD5 matches. */
import { createHash, randomBytes } from "node:crypto";
import { createReadStream, existsSync, mkdirSync, rmSync } from "node:fs";
import { open, rename } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { RadioLensError } from "../core/errors.js";
import { MEDMNIST, MEDMNIST_RECORD_URL, medmnistUrl } from "./medmnist-catalogue.js";

/** Options for {@link downloadFile}. */
export interface DownloadOptions {
  /** Expected MD5 (hex); the file is kept only when it matches. */
  readonly md5: string;
  /** Abort after this many milliseconds without completing (default 30 minutes). */
  readonly timeoutMs?: number;
  /** Called with bytes received so far and the total when the server sent Content-Length. */
  readonly onProgress?: (received: number, total: number | undefined) => void;
}

/**
 * MD5 of a file, streamed.
 *
 * @example
 * ```ts
 * await md5File("pneumoniamnist.npz"); // "28209eda62fecd6e6a2d98b1501bb15f"
 * ```
 */
export async function md5File(path: string): Promise<string> {
  const h = createHash("md5");
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest("hex");
}

/**
 * Downloads `url` to `dest`. Bytes go to a temporary file beside `dest` and are hashed on the way; the file is
 * fsynced and renamed into place only when its MD5 equals `md5`, so `dest` is either absent, the previous file, or
 * the complete verified download — never a part. An existing `dest` with the right MD5 is kept without a request.
 *
 * @example
 * ```ts
 * await downloadFile(medmnistUrl("pneumoniamnist"), "data/pneumoniamnist.npz", { md5: MEDMNIST.pneumoniamnist.md5 });
 * ```
 */
export async function downloadFile(url: string, dest: string, opts: DownloadOptions): Promise<string> {
  const expected = opts.md5.toLowerCase();
  if (existsSync(dest) && (await md5File(dest)) === expected) return dest;
  mkdirSync(dirname(dest), { recursive: true });
  const tmp = join(dirname(dest), `.${basename(dest)}.${process.pid}.${randomBytes(4).toString("hex")}.part`);
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), opts.timeoutMs ?? 30 * 60_000);
  const fh = await open(tmp, "w");
  let ok = false;
  try {
    let res: Response;
    try {
      res = await fetch(url, { signal: controller.signal, redirect: "follow" });
    } catch (e) {
      throw new RadioLensError("RL_ERR_DOWNLOAD", { url, detail: (e as Error).message }, { cause: e });
    }
    if (!res.ok || !res.body) {
      throw new RadioLensError("RL_ERR_DOWNLOAD", { url, detail: `HTTP ${res.status} ${res.statusText}` });
    }
    const lenHeader = res.headers.get("content-length");
    const total = lenHeader === null ? undefined : Number(lenHeader);
    const h = createHash("md5");
    let received = 0;
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        h.update(chunk);
        await fh.write(chunk);
        received += chunk.length;
        opts.onProgress?.(received, total);
      }
    } catch (e) {
      throw new RadioLensError(
        "RL_ERR_DOWNLOAD",
        { url, detail: `transfer broke off after ${received} bytes: ${(e as Error).message}` },
        { cause: e },
      );
    }
    if (total !== undefined && received !== total) {
      throw new RadioLensError("RL_ERR_DOWNLOAD", { url, detail: `got ${received} of ${total} bytes` });
    }
    const actual = h.digest("hex");
    if (actual !== expected) {
      throw new RadioLensError("RL_ERR_DOWNLOAD_CHECKSUM", { url, actual, expected, path: dest });
    }
    await fh.sync();
    ok = true;
  } finally {
    clearTimeout(timer);
    await fh.close();
    if (!ok) rmSync(tmp, { force: true });
  }
  await rename(tmp, dest);
  return dest;
}

/**
 * Downloads an official MedMNIST v2 file into `dir` (as `<name>.npz`), verified against the release MD5.
 * `baseUrl` points at a mirror with the same file names.
 *
 * @example
 * ```ts
 * const path = await downloadMedmnist("pneumoniamnist", "~/.radiolens/medmnist");
 * ```
 */
export async function downloadMedmnist(
  name: string,
  dir: string,
  opts: { readonly baseUrl?: string; readonly onProgress?: DownloadOptions["onProgress"] } = {},
): Promise<string> {
  const info = Object.hasOwn(MEDMNIST, name) ? MEDMNIST[name] : undefined;
  if (!info) {
    throw new RadioLensError("RL_ERR_USAGE", {
      detail: `unknown MedMNIST dataset '${name}' (available: ${Object.keys(MEDMNIST).join(", ")})`,
    });
  }
  return downloadFile(medmnistUrl(name, opts.baseUrl ?? MEDMNIST_RECORD_URL), join(dir, `${name}.npz`), {
    md5: info.md5,
    ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
  });
}
