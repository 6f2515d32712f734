/** Test helpers: where the shared real data lives (../shared/data beside the repository). */
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root. */
export const REPO_ROOT = resolve(fileURLToPath(new URL("../..", import.meta.url)));

/**
 * Path to a file under `../shared/data` (or `RADIOLENS_SHARED_DATA`).
 *
 * @example
 * ```ts
 * const npz = sharedData("medmnist/pneumoniamnist.npz");
 * ```
 */
export function sharedData(...parts: string[]): string {
  const base = process.env["RADIOLENS_SHARED_DATA"] ?? join(REPO_ROOT, "..", "shared", "data");
  return join(base, ...parts);
}

/**
 * True when the shared data folder is present.
 *
 * @example
 * ```ts
 * if (!hasSharedData()) throw new Error("../shared/data is missing");
 * ```
 */
export function hasSharedData(): boolean {
  return existsSync(sharedData());
}

/**
 * A TCP port on 127.0.0.1 that was free a moment ago (for test and benchmark servers).
 *
 * @example
 * ```ts
 * const port = await freePort();
 * ```
 */
export async function freePort(): Promise<number> {
  const { createServer } = await import("node:net");
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}
