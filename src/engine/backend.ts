/** The one place that chooses and initializes the tfjs compute backend (onednn native, wasm, or the pure-JS cpu). */
import { createRequire } from "node:module";
import { availableParallelism } from "node:os";
import { dirname, join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
// The union package registers every gradient (tfjs-core's own ESM gradient files cannot load in Node).
import "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-cpu";
import { setWasmPaths } from "@tensorflow/tfjs-backend-wasm";
import { RadioLensError } from "../core/errors.js";
import { log } from "../core/log.js";
import { loadNativeAddon, nativeLoadError } from "./native/index.js";
import { registerWasmTrainingKernels } from "./wasm-kernels.js";

/** Backends RadioLens can compute on. */
export type BackendName = "onednn" | "wasm" | "cpu";

/** All backend names, fastest first. */
export const BACKENDS: readonly BackendName[] = ["onednn", "wasm", "cpu"];

/** Options for {@link initEngine}. */
export interface EngineOptions {
  /** Backend to use; by default the fastest available (onednn, then wasm). */
  readonly backend?: BackendName;
  /** Compute threads; default `RADIOLENS_THREADS` or the number of cores. */
  readonly threads?: number;
}

/** What {@link initEngine} set up. */
export interface EngineInfo {
  readonly backend: BackendName;
  readonly threads: number;
  /** A one-line notice when the preferred backend was unavailable. */
  readonly notice?: string;
  /** The ISA oneDNN dispatches to, when onednn is active. */
  readonly isa?: string;
  readonly versions: Readonly<Record<string, string>>;
}

/**
 * Thread count from options, `RADIOLENS_THREADS`, or the core count.
 *
 * @example
 * ```ts
 * resolveThreads(); // RADIOLENS_THREADS, else the number of cores
 * ```
 */
export function resolveThreads(threads?: number): number {
  if (threads !== undefined && threads > 0) return Math.floor(threads);
  const env = Number(process.env["RADIOLENS_THREADS"]);
  if (Number.isFinite(env) && env > 0) return Math.floor(env);
  return availableParallelism();
}

function wasmDir(): string {
  const require = createRequire(import.meta.url);
  return `${join(dirname(require.resolve("@tensorflow/tfjs-backend-wasm")), "..", "wasm-out")}/`;
}

let current: EngineInfo | undefined;

/** A native backend registrar, installed by the oneDNN engine module when it is loaded. */
export type NativeRegistrar = (threads: number) => Promise<{ isa: string; version: string }>;
let nativeRegistrar: NativeRegistrar | undefined;

/**
 * Lets the native engine module plug itself in without this module importing it (keeps the fallback
 * path free of native code).
 *
 * @example
 * ```ts
 * setNativeRegistrar(registerOnednnBackend); // what src/engine/native/backend.ts does on import
 * ```
 */
export function setNativeRegistrar(r: NativeRegistrar): void {
  nativeRegistrar = r;
}

/** Constants of one step of RadioLens's Adam/AdamW (`src/train/optim.ts`), as that optimizer computes them. */
export interface AdamStepConstants {
  readonly beta1: number;
  readonly beta2: number;
  /** Learning rate with the bias correction folded in: lr·√(1−β2ᵗ)/(1−β1ᵗ). */
  readonly lrT: number;
  readonly epsilon: number;
  /** lr · weight decay, when the optimizer adds a decoupled decay term. */
  readonly lrWeightDecay?: number;
}

/** Fused kernels a backend offers beyond tfjs's ops; each returns `false` when it cannot run on its inputs. */
export interface FusedKernels {
  /** Updates `w`, `m` and `v` in one pass, bit-identical to the optimizer's tfjs op sequence. */
  adamStep(w: tf.Variable, m: tf.Variable, v: tf.Variable, g: tf.Tensor, c: AdamStepConstants): boolean;
}
const fusedByBackend = new Map<string, FusedKernels>();

/**
 * Lets a backend module offer fused kernels (the oneDNN module does, when it registers).
 *
 * @example
 * ```ts
 * setFusedKernels("onednn", { adamStep: fusedAdamStep });
 * ```
 */
export function setFusedKernels(backend: string, k: FusedKernels): void {
  fusedByBackend.set(backend, k);
}

/**
 * The fused kernels of the active backend, if it has any.
 *
 * @example
 * ```ts
 * if (!fusedKernels()?.adamStep(w, m, v, g, constants)) {
 *   // run the same update with tfjs ops
 * }
 * ```
 */
export function fusedKernels(): FusedKernels | undefined {
  return fusedByBackend.get(tf.getBackend());
}

async function tryOnednn(threads: number): Promise<{ isa: string; version: string } | string> {
  const addon = loadNativeAddon();
  if (!addon) return nativeLoadError();
  if (!nativeRegistrar) {
    try {
      await import("./native/backend.js" as string);
    } catch (e) {
      return `the oneDNN backend module failed to load: ${(e as Error).message}`;
    }
  }
  if (!nativeRegistrar) return "the oneDNN backend module is missing";
  return nativeRegistrar(threads);
}

/**
 * Selects and initializes the backend. Called once per process by every command that computes; calling it
 * again with the same options is a no-op.
 *
 * @example
 * ```ts
 * const engine = await initEngine({ backend: "wasm" });
 * console.log(engine.backend, engine.threads);
 * ```
 */
export async function initEngine(opts: EngineOptions = {}): Promise<EngineInfo> {
  const threads = resolveThreads(opts.threads);
  // Production mode silences tfjs's console banners (e.g. the tfjs-node advert), which would corrupt CLI output.
  tf.env().set("PROD", true);
  if (
    current &&
    (opts.backend === undefined || opts.backend === current.backend) &&
    current.threads === threads
  ) {
    return current;
  }
  const versions: Record<string, string> = { "tfjs-core": tf.version_core, node: process.versions.node };
  let notice: string | undefined;
  const want = opts.backend ?? (process.env["RADIOLENS_BACKEND"] as BackendName | undefined);
  if (want !== undefined && !BACKENDS.includes(want)) {
    throw new RadioLensError("RL_ERR_USAGE", {
      detail: `unknown backend '${want}' (use ${BACKENDS.join(", ")})`,
    });
  }
  if (want === undefined || want === "onednn") {
    const r = await tryOnednn(threads);
    if (typeof r !== "string") {
      await tf.setBackend("onednn");
      await tf.ready();
      versions["onednn"] = r.version;
      current = { backend: "onednn", threads, isa: r.isa, versions };
      return current;
    }
    if (want === "onednn") throw new RadioLensError("RL_ERR_BACKEND", { backend: "onednn", detail: r });
    notice = `oneDNN engine unavailable (${r}); using the WASM backend`;
  }
  if (want === undefined || want === "wasm") {
    setWasmPaths(wasmDir());
    registerWasmTrainingKernels();
    const ok = await tf.setBackend("wasm");
    if (ok) {
      await tf.ready();
      versions["tfjs-backend-wasm"] = tf.version_core;
      current = { backend: "wasm", threads: 1, versions, ...(notice ? { notice } : {}) };
      if (notice) log.info(notice);
      return current;
    }
    if (want === "wasm")
      throw new RadioLensError("RL_ERR_BACKEND", { backend: "wasm", detail: "initialization failed" });
  }
  await tf.setBackend("cpu");
  await tf.ready();
  current = { backend: "cpu", threads: 1, versions, ...(notice ? { notice } : {}) };
  return current;
}

/**
 * The engine chosen by the last {@link initEngine}, if any.
 *
 * @example
 * ```ts
 * currentEngine()?.backend; // "onednn"
 * ```
 */
export function currentEngine(): EngineInfo | undefined {
  return current;
}

export { tf };
