/** The inference runtime interface: one call from float inputs to float outputs, whatever engine runs the graph. */

/** A dense float32 tensor, row-major. */
export interface RuntimeTensor {
  readonly data: Float32Array;
  readonly shape: readonly number[];
}

/** Which engine runs a model: tfjs (onednn/wasm/cpu backends) or ONNX Runtime (onnxruntime-node, CPU). */
export type RuntimeKind = "tfjs" | "onnx";

/**
 * A loaded model ready to run. Inputs are given in `inputNames` order, outputs come back in `outputNames` order;
 * the batch is the leading dimension of every input.
 *
 * @example
 * ```ts
 * const [y] = await runtime.run([{ data: x, shape: [32, 28, 28, 1] }]);
 * await runtime.close();
 * ```
 */
export interface InferenceRuntime {
  readonly kind: RuntimeKind;
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  /** Runs one batch. */
  run(inputs: readonly RuntimeTensor[]): Promise<RuntimeTensor[]>;
  /** Frees the engine's memory; the runtime cannot run afterwards. */
  close(): Promise<void>;
}
