/** A classifier with extra feature outputs for the OOD detector: one pooled output per spatial resolution plus the penultimate layer. */
import * as tfl from "@tensorflow/tfjs-layers";
import { RadioLensError } from "../core/errors.js";

/** Prefix of the feature outputs' names (and of the pooling layers added for them). */
export const FEATURE_PREFIX = "ood_";

/**
 * Builds a functional model sharing `model`'s layers and weights whose first output is the model's own output and
 * whose further outputs are feature vectors: the global average of the last feature map at each spatial
 * resolution (the multi-layer features of Lee et al. 2018, pooled as they pool them) and the input of the final
 * layer (the penultimate features). The new model owns no weights of its own; dispose the original only.
 *
 * @example
 * ```ts
 * const { model: fm, outputs } = withFeatureOutputs(model); // outputs: ["ood_conv1", ..., "ood_penultimate"]
 * ```
 */
export function withFeatureOutputs(model: tfl.LayersModel): { model: tfl.LayersModel; outputs: string[] } {
  if (model.outputs.length !== 1)
    throw new RadioLensError("RL_ERR_MODEL_INVALID", {
      path: model.name,
      detail: "OOD features need a single-output classifier",
    });
  const layers = model.layers.filter((l) => l.getClassName() !== "InputLayer");
  const last = layers[layers.length - 1];
  if (!last) throw new RadioLensError("RL_ERR_MODEL_INVALID", { path: model.name, detail: "no layers" });
  // The last layer at each spatial resolution, in order: a block's output before the next downsampling.
  const byRes = new Map<string, tfl.layers.Layer>();
  for (const l of layers) {
    const shape = l.outputShape as (number | null)[];
    if (Array.isArray(shape) && !Array.isArray(shape[0]) && shape.length === 4)
      byRes.set(`${shape[1]}x${shape[2]}`, l);
  }
  const outputs: tfl.SymbolicTensor[] = [model.outputs[0] as tfl.SymbolicTensor];
  const names: string[] = [];
  for (const l of byRes.values()) {
    const name = `${FEATURE_PREFIX}${l.name}`;
    outputs.push(
      tfl.layers.globalAveragePooling2d({ name }).apply(l.output as tfl.SymbolicTensor) as tfl.SymbolicTensor,
    );
    names.push(name);
  }
  const pen = last.input as tfl.SymbolicTensor;
  if (!Array.isArray(pen) && pen.shape.length === 2) {
    const name = `${FEATURE_PREFIX}penultimate`;
    // An identity-like activation layer gives the output a stable name in both runtimes.
    outputs.push(tfl.layers.activation({ activation: "linear", name }).apply(pen) as tfl.SymbolicTensor);
    names.push(name);
  }
  return {
    model: tfl.model({ inputs: model.inputs, outputs, name: `${model.name}_features` }),
    outputs: names,
  };
}
