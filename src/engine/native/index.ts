/** Loads the native oneDNN addon (src/engine/native, compiled by scripts/build-native.mjs during `npm run build`) when it exists. */
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** What the addon reports about itself. */
export interface NativeInfo {
  readonly onednnVersion: string;
  readonly isa: string;
  readonly threads: number;
}

/** The addon's surface as seen from TypeScript (kernels are registered by ./backend.ts). */
export interface NativeAddon {
  info(): NativeInfo;
  setThreads(n: number): void;
  readonly [kernel: string]: unknown;
}

const here = dirname(fileURLToPath(import.meta.url));

/** Candidate locations of the compiled addon, from the source tree or from dist/. */
function candidates(): string[] {
  const roots = [here, join(here, "..", "..", "..", "src", "engine", "native")];
  return roots.flatMap((r) => [join(r, "build", "Release", "radiolens_onednn.node")]);
}

let cached: NativeAddon | null | undefined;
let loadError = "";

/**
 * Returns the addon, or `undefined` when it is not built (no oneDNN on the machine at install time).
 *
 * @example
 * ```ts
 * const addon = loadNativeAddon();
 * if (addon) console.log(addon.info().isa);
 * ```
 */
export function loadNativeAddon(): NativeAddon | undefined {
  if (cached !== undefined) return cached ?? undefined;
  const path = candidates().find((p) => existsSync(p));
  if (!path) {
    loadError = "the native addon is not built (run scripts/setup.sh on a machine with libdnnl-dev)";
    cached = null;
    return undefined;
  }
  try {
    cached = createRequire(import.meta.url)(path) as NativeAddon;
  } catch (e) {
    loadError = `the native addon failed to load: ${(e as Error).message}`;
    cached = null;
  }
  return cached ?? undefined;
}

/**
 * Why {@link loadNativeAddon} returned `undefined`.
 *
 * @example
 * ```ts
 * if (!loadNativeAddon()) console.log(nativeLoadError());
 * ```
 */
export function nativeLoadError(): string {
  return loadError;
}
