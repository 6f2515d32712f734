/** Class activation maps: Grad-CAM and Grad-CAM++ on any 4D (conv-like) layer of a tfjs model. */
import type * as tfl from "@tensorflow/tfjs-layers";
import { RadioLensError } from "../core/errors.js";
import { tf } from "../engine/backend.js";

/** Options shared by the explanation methods. */
export interface CamOptions {
  /** Layer name; default the last layer with a 4D output (the last conv block). */
  readonly layer?: string;
  /** Class to explain; default the predicted class. */
  readonly classIndex?: number;
}

/** A heatmap at the model's input resolution, values in [0, 1]. */
export interface Heatmap {
  /** Row-major `rows × cols`. */
  readonly data: Float32Array;
  readonly rows: number;
  readonly cols: number;
  readonly classIndex: number;
  /** The layer (CAM methods) or "input" (gradient methods) the map was computed on. */
  readonly layer: string;
  /** The class probability the model gave. */
  readonly score: number;
}

type CallFn = (inputs: tf.Tensor | tf.Tensor[], kwargs: Record<string, unknown>) => tf.Tensor | tf.Tensor[];
interface Patchable {
  call: CallFn;
  activation?: { getClassName(): string; apply(x: tf.Tensor): tf.Tensor } | null;
}

/**
 * The last layer with a 4D output `[batch, rows, cols, channels]`, or the named layer.
 *
 * @example
 * ```ts
 * const layer = camLayer(model); // e.g. "conv2"
 * ```
 */
export function camLayer(model: tfl.LayersModel, name?: string): tfl.layers.Layer {
  if (name !== undefined) {
    const l = model.layers.find((x) => x.name === name);
    if (!l)
      throw new RadioLensError("RL_ERR_USAGE", {
        detail: `the model has no layer '${name}' (layers: ${model.layers.map((x) => x.name).join(", ")})`,
      });
    return l;
  }
  for (let i = model.layers.length - 1; i >= 0; i--) {
    const l = model.layers[i] as tfl.layers.Layer;
    const shape = l.outputShape as number[] | number[][];
    if (!Array.isArray(shape[0]) && shape.length === 4 && l.getClassName() !== "InputLayer") return l;
  }
  throw new RadioLensError("RL_ERR_USAGE", {
    detail: "the model has no layer with a spatial (4D) output to explain",
  });
}

/**
 * Runs `model` on `x` with the final softmax/sigmoid removed (Grad-CAM differentiates the class score before the
 * softmax, Selvaraju et al. 2017 §3) and with `delta` added to `layer`'s output, capturing that output. The gradient
 * with respect to `delta` at zero is the gradient with respect to the activations, for any model topology.
 */
function patchedForward(
  model: tfl.LayersModel,
  layer: tfl.layers.Layer,
  x: tf.Tensor,
  delta: tf.Tensor,
  capture: (a: tf.Tensor) => void,
): tf.Tensor {
  const target = layer as unknown as Patchable;
  const last = model.layers[model.layers.length - 1] as unknown as Patchable;
  const origCall = target.call;
  const origAct = last.activation;
  const squash = origAct?.getClassName();
  target.call = (inputs, kwargs) => {
    const out = origCall.call(layer, inputs, kwargs) as tf.Tensor;
    capture(out);
    return tf.add(out, delta);
  };
  if (squash === "softmax" || squash === "sigmoid")
    last.activation = { getClassName: () => "linear", apply: (t) => t };
  try {
    return model.apply(x, { training: false }) as tf.Tensor;
  } finally {
    target.call = origCall;
    if (origAct !== undefined) last.activation = origAct;
  }
}

function normalize01(m: tf.Tensor2D): tf.Tensor2D {
  const max = tf.max(m);
  return tf.div(m, tf.maximum(max, 1e-12)) as tf.Tensor2D;
}

function camCore(model: tfl.LayersModel, input: tf.Tensor4D, opts: CamOptions, plusPlus: boolean): Heatmap {
  if (input.shape[0] !== 1)
    throw new RadioLensError("RL_ERR_USAGE", { detail: "explain one image at a time (batch 1)" });
  const layer = camLayer(model, opts.layer);
  const [, rows, cols] = input.shape;
  return tf.tidy(() => {
    const probs = model.predict(input) as tf.Tensor2D;
    const pv = probs.dataSync();
    const k = opts.classIndex ?? pv.indexOf(Math.max(...pv));
    if (!(k >= 0 && k < pv.length))
      throw new RadioLensError("RL_ERR_USAGE", { detail: `class index ${k} is outside 0..${pv.length - 1}` });
    const outShape = [1, ...((layer.outputShape as number[]).slice(1) as number[])];
    let acts: tf.Tensor | undefined;
    const grad = tf.grad((delta: tf.Tensor) => {
      const logits = patchedForward(model, layer, input, delta, (a) => {
        acts = tf.keep(a);
      });
      return tf.sum(tf.slice(logits, [0, k], [1, 1]));
    })(tf.zeros(outShape));
    if (!acts)
      throw new RadioLensError("RL_ERR_INTERNAL", { detail: `layer ${layer.name} was not run by the model` });
    const A = acts as tf.Tensor4D;
    const g = grad as tf.Tensor4D;
    let weights: tf.Tensor;
    if (!plusPlus) {
      // α_k = global-average-pooled gradients (Selvaraju et al. 2017, eq. 1).
      weights = tf.mean(g, [1, 2]);
    } else {
      // Grad-CAM++ (Chattopadhay et al. 2018, eq. 19) with the exponential-score closed form.
      const g2 = tf.square(g);
      const g3 = tf.mul(g2, g);
      const sumA = tf.sum(A, [1, 2], true);
      const denom = tf.add(tf.mul(g2, 2), tf.mul(sumA, g3));
      const alpha = tf.div(g2, tf.where(tf.equal(denom, 0), tf.onesLike(denom), denom));
      weights = tf.sum(tf.mul(alpha, tf.relu(g)), [1, 2]);
    }
    const cam = tf.relu(tf.sum(tf.mul(A, tf.reshape(weights, [1, 1, 1, -1])), -1)) as tf.Tensor3D;
    const up = tf.image
      .resizeBilinear(tf.expandDims(cam, -1) as tf.Tensor4D, [rows, cols], false)
      .reshape([rows, cols]) as tf.Tensor2D;
    const data = normalize01(up).dataSync() as Float32Array;
    A.dispose();
    return {
      data: Float32Array.from(data),
      rows,
      cols,
      classIndex: k,
      layer: layer.name,
      score: pv[k] as number,
    };
  });
}

/**
 * Grad-CAM (Selvaraju et al., ICCV 2017): ReLU of the gradient-weighted sum of a conv layer's feature maps,
 * upsampled to the input size and scaled to [0, 1].
 *
 * @example
 * ```ts
 * const heat = gradCam(model, tf.tensor4d(x, [1, 28, 28, 1]));
 * ```
 */
export function gradCam(model: tfl.LayersModel, input: tf.Tensor4D, opts: CamOptions = {}): Heatmap {
  return camCore(model, input, opts, false);
}

/**
 * Grad-CAM++ (Chattopadhay et al., WACV 2018): pixel-wise weighting of positive gradients, better for several
 * instances of a class.
 *
 * @example
 * ```ts
 * const heat = gradCamPlusPlus(model, x, { classIndex: 1 });
 * ```
 */
export function gradCamPlusPlus(model: tfl.LayersModel, input: tf.Tensor4D, opts: CamOptions = {}): Heatmap {
  return camCore(model, input, opts, true);
}
