/** Folds inference-mode batch normalization into the preceding convolution of a functional tfjs-layers model. */
import * as tfl from "@tensorflow/tfjs-layers";
import { tf } from "../engine/backend.js";

type Inbound = [string, number, number, Record<string, unknown>?];
interface LayerJson {
  name: string;
  class_name: string;
  config: Record<string, unknown>;
  inbound_nodes: Inbound[][];
}
interface ModelJson {
  class_name: string;
  config: { layers: LayerJson[]; output_layers: Inbound[]; [k: string]: unknown };
  [k: string]: unknown;
}

/** What {@link foldBatchNorm} did. */
export interface FoldResult {
  /** The model to predict with: `model` itself when nothing was folded. */
  readonly model: tfl.LayersModel;
  /** Batch-norm layers merged into their convolution. */
  readonly folded: number;
}

/**
 * For prediction only: merges each `BatchNormalization` (channels-last, inference statistics) whose sole input is
 * a linear `Conv2D` used by nothing else into that convolution — W' = W·s, b' = (b − mean)·s + beta per output
 * channel with s = gamma / √(variance + eps) (Ioffe & Szegedy 2015, §3.2: at inference the transform is linear) —
 * so a ResNet's prediction skips one full pass over every convolution's output. The model is rebuilt from its
 * topology; `model` itself is left unchanged. Sequential models and other layer patterns are returned as they are.
 * Layer outputs between the convolution and the batch norm no longer exist, so explanation methods (Grad-CAM) keep
 * the unfolded model.
 *
 * @example
 * ```ts
 * const { model: fast, folded } = await foldBatchNorm(model); // folded: 20 for resnet18-28
 * ```
 */
export async function foldBatchNorm(model: tfl.LayersModel): Promise<FoldResult> {
  const json = model.toJSON(null, false) as unknown as ModelJson;
  if (json.class_name === "Sequential" || !Array.isArray(json.config?.layers)) return { model, folded: 0 };
  const layers = json.config.layers;
  const byName = new Map(layers.map((l) => [l.name, l]));
  const consumers = new Map<string, number>();
  for (const l of layers) {
    for (const node of l.inbound_nodes)
      for (const [src] of node) consumers.set(src, (consumers.get(src) ?? 0) + 1);
  }
  for (const [src] of json.config.output_layers) consumers.set(src, (consumers.get(src) ?? 0) + 99);
  const pairs = new Map<string, string>(); // batch norm -> convolution
  for (const l of layers) {
    if (l.class_name !== "BatchNormalization" || l.inbound_nodes.length !== 1) continue;
    const node = l.inbound_nodes[0] as Inbound[];
    const axis = l.config["axis"];
    if (node.length !== 1 || !(axis === -1 || axis === 3 || (Array.isArray(axis) && axis[0] === 3))) continue;
    const src = byName.get((node[0] as Inbound)[0]);
    if (
      src?.class_name !== "Conv2D" ||
      src.inbound_nodes.length !== 1 ||
      consumers.get(src.name) !== 1 ||
      (src.config["activation"] ?? "linear") !== "linear" ||
      (src.config["data_format"] ?? "channels_last") !== "channels_last"
    ) {
      continue;
    }
    pairs.set(l.name, src.name);
  }
  if (pairs.size === 0) return { model, folded: 0 };
  const rename = (n: Inbound): Inbound => [pairs.get(n[0]) ?? n[0], n[1], n[2], n[3] ?? {}];
  const convs = new Set(pairs.values());
  const foldedJson: ModelJson = {
    ...json,
    config: {
      ...json.config,
      layers: layers
        .filter((l) => !pairs.has(l.name))
        .map((l) => ({
          ...l,
          config: convs.has(l.name) ? { ...l.config, use_bias: true } : l.config,
          inbound_nodes: l.inbound_nodes.map((node) => node.map(rename)),
        })),
      output_layers: json.config.output_layers.map(rename),
    },
  };
  const folded = (await tfl.models.modelFromJSON(
    foldedJson as unknown as Parameters<typeof tfl.models.modelFromJSON>[0],
  )) as tfl.LayersModel;
  const bnOf = new Map([...pairs].map(([bn, conv]) => [conv, bn]));
  for (const layer of folded.layers) {
    const bnName = bnOf.get(layer.name);
    const old = model.getLayer(layer.name);
    if (!bnName) {
      layer.setWeights(old.getWeights());
      continue;
    }
    const bn = model.getLayer(bnName);
    const eps = Number(bn.getConfig()["epsilon"] ?? 1e-3);
    const named = new Map(
      bn.weights.map((w, i) => [w.originalName.split("/").pop() as string, bn.getWeights()[i]]),
    );
    const [kernel, bias] = old.getWeights() as [tf.Tensor, tf.Tensor | undefined];
    const k = kernel.dataSync() as Float32Array;
    const c = kernel.shape[kernel.shape.length - 1] as number;
    const get = (n: string, fill: number) =>
      (named.get(n)?.dataSync() as Float32Array | undefined) ?? new Float32Array(c).fill(fill);
    const gamma = get("gamma", 1);
    const beta = get("beta", 0);
    const mean = get("moving_mean", 0);
    const variance = get("moving_variance", 1);
    const b0 = (bias?.dataSync() as Float32Array | undefined) ?? new Float32Array(c);
    // In double, rounded once: the folded weights are as close to the two-step computation as float32 allows.
    const scale = Float64Array.from(gamma, (g, i) => g / Math.sqrt((variance[i] as number) + eps));
    const w = Float32Array.from(k, (v, i) => v * (scale[i % c] as number));
    const b = Float32Array.from(
      b0,
      (v, i) => (v - (mean[i] as number)) * (scale[i] as number) + (beta[i] as number),
    );
    const ts = [tf.tensor(w, kernel.shape), tf.tensor1d(b)];
    layer.setWeights(ts);
    tf.dispose(ts);
  }
  return { model: folded, folded: pairs.size };
}
