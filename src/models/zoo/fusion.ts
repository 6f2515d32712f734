/** Image + tabular fusion classifier: CNN image features concatenated with embedded clinical variables (late fusion). */
import * as tfl from "@tensorflow/tfjs-layers";
import { type ClassifierOptions, checkClassifierOptions, checkPositiveInt, SeededInit } from "./init.js";
import { batchNorm } from "./resnet.js";

type SymbolicTensor = tfl.SymbolicTensor;

/** Options for {@link createFusionNet}. */
export interface FusionOptions extends ClassifierOptions {
  /** Number of tabular features (e.g. 3 for age/100 and one-hot sex M/F). */
  readonly tabularFeatures: number;
  /** Filters of the three image conv stages (default [32, 64, 128]). */
  readonly filters?: readonly number[];
  /** Width of the image feature vector (default 64). */
  readonly imageUnits?: number;
  /** Width of the tabular embedding (default 16). */
  readonly tabularUnits?: number;
}

/**
 * Builds a two-input classifier: `image` goes through conv-BN-ReLU-maxpool stages and global average pooling into
 * a feature vector; `tabular` (already scaled numbers, e.g. age in decades and one-hot sex) through a dense layer;
 * the two are concatenated and classified by a small MLP — the late-fusion design surveyed by Huang et al. 2020
 * ("Fusion of medical imaging and electronic health records using deep learning", npj Digit. Med.).
 *
 * @example
 * ```ts
 * const m = createFusionNet({ inputShape: [28, 28, 1], tabularFeatures: 3, numClasses: 2, seed: 1 });
 * m.predict([tf.zeros([1, 28, 28, 1]), tf.tensor2d([[0.63, 1, 0]])]);
 * ```
 */
export function createFusionNet(opts: FusionOptions): tfl.LayersModel {
  checkClassifierOptions(opts);
  checkPositiveInt("tabularFeatures", opts.tabularFeatures);
  const filters = opts.filters ?? [32, 64, 128];
  filters.forEach((v, i) => {
    checkPositiveInt(`filters[${i}]`, v);
  });
  const init = new SeededInit(opts.seed);
  const image = tfl.input({ shape: [...opts.inputShape], name: "image" });
  const tabular = tfl.input({ shape: [opts.tabularFeatures], name: "tabular" });
  let x: SymbolicTensor = image;
  filters.forEach((n, i) => {
    x = tfl.layers
      .conv2d({
        filters: n,
        kernelSize: 3,
        padding: "same",
        useBias: false,
        kernelInitializer: init.heFanIn(),
        name: `img_conv${i}`,
      })
      .apply(x) as SymbolicTensor;
    x = batchNorm(`img_bn${i}`).apply(x) as SymbolicTensor;
    x = tfl.layers.activation({ activation: "relu", name: `img_relu${i}` }).apply(x) as SymbolicTensor;
    if (i < filters.length - 1) {
      x = tfl.layers
        .maxPooling2d({ poolSize: 2, strides: 2, name: `img_pool${i}` })
        .apply(x) as SymbolicTensor;
    }
  });
  x = tfl.layers.globalAveragePooling2d({ name: "img_gap" }).apply(x) as SymbolicTensor;
  x = tfl.layers
    .dense({
      units: opts.imageUnits ?? 64,
      activation: "relu",
      kernelInitializer: init.heFanIn(),
      name: "img_fc",
    })
    .apply(x) as SymbolicTensor;
  const t = tfl.layers
    .dense({
      units: opts.tabularUnits ?? 16,
      activation: "relu",
      kernelInitializer: init.heFanIn(),
      name: "tab_fc",
    })
    .apply(tabular) as SymbolicTensor;
  let y = tfl.layers.concatenate({ name: "fusion_concat" }).apply([x, t]) as SymbolicTensor;
  y = tfl.layers
    .dense({ units: 64, activation: "relu", kernelInitializer: init.heFanIn(), name: "fusion_fc" })
    .apply(y) as SymbolicTensor;
  const out = tfl.layers
    .dense({
      units: opts.numClasses,
      activation: opts.activation ?? "softmax",
      kernelInitializer: init.glorot(),
      name: "head",
    })
    .apply(y) as SymbolicTensor;
  return tfl.model({ inputs: [image, tabular], outputs: out, name: opts.name ?? "fusionnet" });
}
