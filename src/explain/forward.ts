/** Differentiable forward passes for explanations: class scores before the final squashing, with an optional probe on any layer. */
import type * as tfl from "@tensorflow/tfjs-layers";
import { RadioLensError } from "../core/errors.js";
import { tf } from "../engine/backend.js";

type CallFn = (inputs: tf.Tensor | tf.Tensor[], kwargs: Record<string, unknown>) => tf.Tensor | tf.Tensor[];
interface Patchable {
  call: CallFn;
  activation?: { getClassName(): string; apply(x: tf.Tensor): tf.Tensor } | null;
}

/** A probe on one layer: `delta` is added to its output and the output is handed to `capture`. */
export interface LayerProbe {
  readonly layer: tfl.layers.Layer;
  readonly delta: tf.Tensor;
  readonly capture: (activation: tf.Tensor) => void;
}

/**
 * Runs `model` on `x` with the final softmax/sigmoid removed, so gradients are taken of the class score (logit)
 * rather than of a saturating probability (Simonyan et al. 2014 §2; Selvaraju et al. 2017 §3). With a probe,
 * `probe.delta` (zeros) is added to that layer's output: the gradient with respect to `delta` is the gradient
 * with respect to the layer's activations, for any topology (sequential or functional), without rebuilding the
 * model. The model is restored before this returns, also on error.
 *
 * @example
 * ```ts
 * const g = tf.grad((x: tf.Tensor) => tf.sum(tf.slice(classLogits(model, x), [0, 1], [1, 1])))(input);
 * ```
 */
export function classLogits(model: tfl.LayersModel, x: tf.Tensor, probe?: LayerProbe): tf.Tensor {
  const last = model.layers[model.layers.length - 1] as unknown as Patchable;
  const origAct = last.activation;
  const squash = origAct?.getClassName();
  const target = probe ? (probe.layer as unknown as Patchable) : undefined;
  const origCall = target?.call;
  if (target && origCall && probe) {
    target.call = (inputs, kwargs) => {
      const out = origCall.call(probe.layer, inputs, kwargs) as tf.Tensor;
      probe.capture(out);
      return tf.add(out, probe.delta);
    };
  }
  if (squash === "softmax" || squash === "sigmoid")
    last.activation = { getClassName: () => "linear", apply: (t) => t };
  try {
    const out = model.apply(x, { training: false });
    if (Array.isArray(out))
      throw new RadioLensError("RL_ERR_USAGE", {
        detail: "explanations need a model with one output; this model has several",
      });
    return out as tf.Tensor;
  } finally {
    if (target && origCall) target.call = origCall;
    if (origAct !== undefined) last.activation = origAct;
  }
}

/**
 * The class to explain: `classIndex` when given (checked against the model's outputs), else the predicted
 * class (argmax of the output row; for a one-output sigmoid model, class 0).
 *
 * @example
 * ```ts
 * const k = resolveClass(probs, undefined); // predicted class
 * ```
 */
export function resolveClass(probs: ArrayLike<number>, classIndex: number | undefined): number {
  let k = classIndex;
  if (k === undefined) {
    k = 0;
    for (let j = 1; j < probs.length; j++) if ((probs[j] as number) > (probs[k] as number)) k = j;
  }
  if (!(Number.isInteger(k) && k >= 0 && k < probs.length))
    throw new RadioLensError("RL_ERR_USAGE", {
      detail: `class index ${k} is outside 0..${probs.length - 1} (the model has ${probs.length} outputs)`,
    });
  return k;
}

/**
 * Checks an explanation input is one NHWC image.
 *
 * @example
 * ```ts
 * checkSingle(tf.zeros([1, 28, 28, 1])); // ok; a batch of 2 throws RL_ERR_USAGE
 * ```
 */
export function checkSingle(input: tf.Tensor): void {
  if (input.rank !== 4 || input.shape[0] !== 1)
    throw new RadioLensError("RL_ERR_USAGE", {
      detail: `explain one image at a time: input must be [1, rows, cols, channels], got [${input.shape.join(", ")}]`,
    });
}
