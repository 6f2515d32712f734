/** Class activation maps: Grad-CAM and Grad-CAM++ on any 4D (convolutional) layer of a tfjs model. */
import type * as tfl from "@tensorflow/tfjs-layers";
import { RadioLensError } from "../core/errors.js";
import { tf } from "../engine/backend.js";
import { checkSingle, classLogits, resolveClass } from "./forward.js";
import { camGeometry, placeOnInput } from "./geometry.js";
import { type Heatmap, normalizeMax } from "./heatmap.js";

export type { Heatmap } from "./heatmap.js";

/** Options of the CAM methods. */
export interface CamOptions {
  /** Layer name; default the last layer with a spatial (4D) output (see {@link camLayer}). */
  readonly layer?: string;
  /** Class to explain; default the predicted class. */
  readonly classIndex?: number;
}

function is4d(l: tfl.layers.Layer): boolean {
  let shape: unknown;
  try {
    shape = l.outputShape;
  } catch {
    return false; // a layer used at several places has no single output shape
  }
  return Array.isArray(shape) && !Array.isArray(shape[0]) && shape.length === 4;
}

/**
 * The layer a CAM is computed on: the named layer (it must have a 4D `[batch, rows, cols, channels]` output),
 * or by default the last such layer — the feature map the classifier head reads: `pool2` for the seed CNN (as
 * pytorch-grad-cam's `features[-1]` for VGG), the last block's output for ResNet (`layer4_1_out`), `last_relu6`
 * for MobileNetV2. A layer that feeds a max-pooling (e.g. the seed CNN's `conv2`) is fine on the cpu and onednn
 * backends; tfjs-backend-wasm 4.22's MaxPoolGrad drops the gradient of tied windows (all-zero after a ReLU) in
 * every channel but the first, which changes the CAM weights there — the default layer never has a max-pooling
 * after it.
 *
 * @example
 * ```ts
 * const layer = camLayer(model); // e.g. "pool2"
 * const conv1 = camLayer(model, "conv1");
 * ```
 */
export function camLayer(model: tfl.LayersModel, name?: string): tfl.layers.Layer {
  const spatial = model.layers.filter((l) => is4d(l) && l.getClassName() !== "InputLayer");
  if (name !== undefined) {
    const l = model.layers.find((x) => x.name === name);
    if (!l || !spatial.includes(l))
      throw new RadioLensError("RL_ERR_USAGE", {
        detail: `${l ? `layer '${name}' has no spatial (4D) output` : `the model has no layer '${name}'`}; layers with a spatial output: ${spatial.map((x) => x.name).join(", ")}`,
      });
    return l;
  }
  const last = spatial[spatial.length - 1];
  if (!last)
    throw new RadioLensError("RL_ERR_USAGE", {
      detail:
        "the model has no layer with a spatial (4D) output to explain; use --method occlusion or gradient",
    });
  return last;
}

function camCore(model: tfl.LayersModel, input: tf.Tensor4D, opts: CamOptions, plusPlus: boolean): Heatmap {
  checkSingle(input);
  const layer = camLayer(model, opts.layer);
  const [, rows, cols] = input.shape;
  let kept: tf.Tensor | undefined;
  let result: Heatmap | undefined;
  try {
    tf.tidy(() => {
      result = camTidy(model, input, layer, opts, plusPlus, rows, cols, (a) => {
        kept = a;
      });
    });
  } finally {
    kept?.dispose();
  }
  if (!result) throw new RadioLensError("RL_ERR_INTERNAL", { detail: "Grad-CAM produced no map" });
  return result;
}

function camTidy(
  model: tfl.LayersModel,
  input: tf.Tensor4D,
  layer: tfl.layers.Layer,
  opts: CamOptions,
  plusPlus: boolean,
  rows: number,
  cols: number,
  keepActs: (a: tf.Tensor) => void,
): Heatmap {
  const probs = (model.predict(input) as tf.Tensor).dataSync();
  const k = resolveClass(probs, opts.classIndex);
  const outShape = [1, ...(layer.outputShape as number[]).slice(1)];
  let acts: tf.Tensor | undefined;
  const grad = tf.grad((delta: tf.Tensor) => {
    const logits = classLogits(model, input, {
      layer,
      delta,
      capture: (a) => {
        // tf.grad disposes the forward pass's intermediates; the activations are needed after it.
        acts = tf.keep(a);
        keepActs(acts);
      },
    });
    return tf.sum(tf.slice(logits, [0, k], [1, 1]));
  })(tf.zeros(outShape));
  if (!acts)
    throw new RadioLensError("RL_ERR_INTERNAL", { detail: `layer ${layer.name} was not run by the model` });
  const A = acts as tf.Tensor4D;
  const g = grad as tf.Tensor4D;
  let weights: tf.Tensor;
  if (!plusPlus) {
    // α_k^c = global-average-pooled gradients of the class score (Selvaraju et al. 2017, eq. 1).
    weights = tf.mean(g, [1, 2]);
  } else {
    // Grad-CAM++ (Chattopadhay et al. 2018, eqs. 10 and 19) with the exponential-score closed form:
    // α = g² / (2g² + Σ_ab A · g³), w_k = Σ_ij α · ReLU(g); α = 0 where the gradient is 0.
    const g2 = tf.square(g);
    const g3 = tf.mul(g2, g);
    const sumA = tf.sum(A, [1, 2], true);
    const denom = tf.add(tf.mul(g2, 2), tf.mul(sumA, g3));
    const safe = tf.where(tf.equal(denom, 0), tf.onesLike(denom), denom);
    const alpha = tf.where(tf.equal(g, 0), tf.zerosLike(g), tf.div(g2, safe));
    weights = tf.sum(tf.mul(alpha, tf.relu(g)), [1, 2]);
  }
  // L^c = ReLU(Σ_k α_k A^k) at the layer's resolution, then lifted to the input grid.
  const cam = tf.relu(tf.sum(tf.mul(A, tf.reshape(weights, [1, 1, 1, -1])), -1));
  const [, lr, lc] = A.shape;
  // Each cell is placed at the centre of its receptive field (geometry.ts), not spread evenly by a resize.
  const up = placeOnInput(cam.dataSync(), lr, lc, camGeometry(model, layer, rows, cols), rows, cols);
  return {
    data: normalizeMax(up),
    rows,
    cols,
    classIndex: k,
    layer: layer.name,
    method: plusPlus ? "gradcam++" : "gradcam",
    score: probs[k] as number,
  } satisfies Heatmap;
}

/**
 * Grad-CAM (Selvaraju et al., ICCV 2017): ReLU of the gradient-weighted sum of a layer's feature maps, lifted
 * to the input grid (bilinear) and scaled to [0, 1].
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
 * Grad-CAM++ (Chattopadhay et al., WACV 2018): pixel-wise weighting of positive gradients, which covers several
 * instances of a class better than Grad-CAM's plain average.
 *
 * @example
 * ```ts
 * const heat = gradCamPlusPlus(model, x, { classIndex: 1 });
 * ```
 */
export function gradCamPlusPlus(model: tfl.LayersModel, input: tf.Tensor4D, opts: CamOptions = {}): Heatmap {
  return camCore(model, input, opts, true);
}
