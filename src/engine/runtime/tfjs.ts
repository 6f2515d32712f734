/** The tfjs implementation of InferenceRuntime: a LayersModel on the active backend (onednn, wasm or cpu). */
import type * as tfl from "@tensorflow/tfjs-layers";
import { tf } from "../backend.js";
import type { InferenceRuntime, RuntimeTensor } from "./types.js";

/**
 * Wraps a loaded LayersModel. Each run executes in tf.tidy, so no tensor outlives the call; `close` disposes the
 * model's weights.
 *
 * @example
 * ```ts
 * const rt = createTfjsRuntime(model);
 * const [probs] = await rt.run([{ data: x, shape: [1, 28, 28, 1] }]);
 * ```
 */
export function createTfjsRuntime(model: tfl.LayersModel): InferenceRuntime {
  return {
    kind: "tfjs",
    // A Sequential model leaves inputNames/outputNames empty; its symbolic tensors carry the names.
    inputNames: model.inputNames.length > 0 ? [...model.inputNames] : model.inputs.map((t) => t.name),
    outputNames: model.outputNames.length > 0 ? [...model.outputNames] : model.outputs.map((t) => t.name),
    async run(inputs: readonly RuntimeTensor[]): Promise<RuntimeTensor[]> {
      return tf.tidy(() => {
        const xs = inputs.map((t) => tf.tensor(t.data, [...t.shape], "float32"));
        const y = model.predict(xs.length === 1 ? (xs[0] as tf.Tensor) : xs);
        const ys = Array.isArray(y) ? y : [y];
        return ys.map((t) => ({ data: t.dataSync() as Float32Array, shape: [...t.shape] }));
      });
    },
    async close(): Promise<void> {
      model.dispose();
    },
  };
}
