/** The ONNX Runtime implementation of InferenceRuntime (onnxruntime-node, CPU execution provider). */
import { availableParallelism } from "node:os";
import * as ort from "onnxruntime-node";
import { RadioLensError } from "../../core/errors.js";
import type { InferenceRuntime, RuntimeTensor } from "./types.js";

/** Options of {@link createOrtRuntime}. */
export interface OrtRuntimeOptions {
  /** Intra-op threads; default `RADIOLENS_THREADS` or the core count. */
  readonly threads?: number;
  /** Shown in errors instead of "<bytes>". */
  readonly path?: string;
}

/**
 * Thread count: the option, else `RADIOLENS_THREADS`, else the core count.
 *
 * @example
 * ```ts
 * runtimeThreads(); // 2 with RADIOLENS_THREADS=2
 * ```
 */
export function runtimeThreads(threads?: number): number {
  if (threads !== undefined && Number.isInteger(threads) && threads > 0) return threads;
  const env = Number(process.env["RADIOLENS_THREADS"]);
  return Number.isInteger(env) && env > 0 ? env : availableParallelism();
}

/**
 * Session options shared by RadioLens and the benchmark's plain-ORT peer, so both run the same configuration:
 * all graph optimizations, sequential execution, one inter-op thread, `threads` intra-op threads without
 * spinning (spin-waiting threads steal the core a 2-core host needs for the JS side).
 *
 * @example
 * ```ts
 * const s = await ort.InferenceSession.create("model.onnx", ortSessionOptions(2));
 * ```
 */
export function ortSessionOptions(threads: number): ort.InferenceSession.SessionOptions {
  return {
    executionProviders: ["cpu"],
    graphOptimizationLevel: "all",
    executionMode: "sequential",
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    extra: { session: { intra_op: { allow_spinning: "0" } } },
  };
}

/**
 * Opens an ONNX model (path or bytes) on ONNX Runtime's CPU provider.
 *
 * @example
 * ```ts
 * const rt = await createOrtRuntime("bundle/model.onnx", { threads: 1 });
 * const [probs] = await rt.run([{ data: x, shape: [1, 28, 28, 1] }]);
 * ```
 */
export async function createOrtRuntime(
  model: string | Uint8Array,
  opts: OrtRuntimeOptions = {},
): Promise<InferenceRuntime> {
  const path = opts.path ?? (typeof model === "string" ? model : "<bytes>");
  let session: ort.InferenceSession;
  try {
    session =
      typeof model === "string"
        ? await ort.InferenceSession.create(model, ortSessionOptions(runtimeThreads(opts.threads)))
        : await ort.InferenceSession.create(model, ortSessionOptions(runtimeThreads(opts.threads)));
  } catch (e) {
    throw new RadioLensError("RL_ERR_ONNX_INVALID", { path, detail: (e as Error).message }, { cause: e });
  }
  const inputNames = [...session.inputNames];
  const outputNames = [...session.outputNames];
  return {
    kind: "onnx",
    inputNames,
    outputNames,
    async run(inputs: readonly RuntimeTensor[]): Promise<RuntimeTensor[]> {
      if (inputs.length !== inputNames.length) {
        throw new RadioLensError("RL_ERR_MODEL_DATA_MISMATCH", {
          detail: `the model takes ${inputNames.length} input(s) (${inputNames.join(", ")}), got ${inputs.length}`,
        });
      }
      const feeds: Record<string, ort.Tensor> = {};
      inputs.forEach((t, i) => {
        feeds[inputNames[i] as string] = new ort.Tensor("float32", t.data, t.shape as number[]);
      });
      let result: ort.InferenceSession.OnnxValueMapType;
      try {
        result = await session.run(feeds);
      } catch (e) {
        throw new RadioLensError(
          "RL_ERR_MODEL_DATA_MISMATCH",
          { detail: (e as Error).message },
          { cause: e },
        );
      }
      return outputNames.map((n) => {
        const t = result[n] as ort.Tensor;
        return { data: t.data as Float32Array, shape: t.dims.map(Number) };
      });
    },
    async close(): Promise<void> {
      await session.release();
    },
  };
}
