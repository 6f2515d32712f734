/** File helpers that never leave a half-written file: write to a temporary sibling, fsync, then rename. */
import { randomBytes } from "node:crypto";
import {
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  writeSync,
} from "node:fs";
import { basename, dirname, join } from "node:path";
import { RadioLensError } from "./errors.js";

/**
 * Writes `data` to `path` atomically: readers see the old file or the whole new one, never a part.
 *
 * @example
 * ```ts
 * writeFileAtomic("/tmp/m/radiolens.json", JSON.stringify(card));
 * ```
 */
export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true });
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`);
  const fd = openSync(tmp, "w");
  try {
    const buf = typeof data === "string" ? Buffer.from(data, "utf8") : data;
    let off = 0;
    while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw e;
  }
  closeSync(fd);
  renameSync(tmp, path);
}

/**
 * Builds a folder's content in a temporary sibling and renames it into place when `fill` succeeds, so a
 * failed run leaves nothing at `dir`. An existing `dir` is replaced only after success.
 *
 * @example
 * ```ts
 * await writeDirAtomic("/tmp/m", async (tmp) => { writeFileSync(join(tmp, "a"), "x"); });
 * ```
 */
export async function writeDirAtomic(dir: string, fill: (tmpDir: string) => Promise<void>): Promise<void> {
  const parent = dirname(dir);
  mkdirSync(parent, { recursive: true });
  const tmp = join(parent, `.${basename(dir)}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`);
  mkdirSync(tmp);
  try {
    await fill(tmp);
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
  const old = `${tmp}.old`;
  let moved = false;
  try {
    renameSync(dir, old);
    moved = true;
  } catch {
    // no previous folder
  }
  renameSync(tmp, dir);
  if (moved) rmSync(old, { recursive: true, force: true });
}

/**
 * Reads a whole file; a missing file is `RL_ERR_FILE_NOT_FOUND` and any other failure `RL_ERR_IO`, both naming it.
 *
 * @example
 * ```ts
 * const bytes = readFileBytes("scan.dcm");
 * ```
 */
export function readFileBytes(path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT")
      throw new RadioLensError("RL_ERR_FILE_NOT_FOUND", { path });
    throw new RadioLensError("RL_ERR_IO", { path, detail: (e as Error).message });
  }
}
