/** One entry point for every explanation method, and the image → heatmap → overlay PNG pipeline behind `radiolens explain`. */
import type * as tfl from "@tensorflow/tfjs-layers";
import { RadioLensError } from "../core/errors.js";
import { writeFileAtomic } from "../core/fs.js";
import type { MedicalImage } from "../core/image.js";
import { type BackendName, initEngine, tf } from "../engine/backend.js";
import { dicomToImage, readDicomFile } from "../io/dicom/index.js";
import { encodePng } from "../io/image/png.js";
import { readImage } from "../io/index.js";
import { loadBundle, type ModelCard } from "../models/bundle.js";
import { preprocessForModel } from "../models/preprocess.js";
import type { ColormapName } from "./colormaps.js";
import { gradCam, gradCamPlusPlus } from "./gradcam.js";
import { smoothGrad, vanillaGradient } from "./gradients.js";
import { EXPLAIN_METHODS, type ExplainMethod, type Heatmap } from "./heatmap.js";
import { occlusionSensitivity } from "./occlusion.js";
import { overlayHeatmap } from "./overlay.js";

/** Options of {@link explainInput}: the method and its settings. */
export interface ExplainOptions {
  /** Default `gradcam`. */
  readonly method?: ExplainMethod;
  /** CAM methods: the layer (default the last layer with a spatial output). */
  readonly layer?: string;
  /** Class to explain; default the predicted class. */
  readonly classIndex?: number;
  /** SmoothGrad: noisy copies and noise level, and the seed of the noise. */
  readonly samples?: number;
  readonly noiseLevel?: number;
  readonly seed?: number;
  /** Occlusion: patch side and stride in model-input pixels. */
  readonly patch?: number;
  readonly stride?: number;
  /** Occlusion: value of hidden pixels (default the image mean). */
  readonly baseline?: number;
}

/**
 * Checks a method name from user input.
 *
 * @example
 * ```ts
 * const m = parseMethod("gradcam++");
 * ```
 */
export function parseMethod(name: string): ExplainMethod {
  if (!(EXPLAIN_METHODS as readonly string[]).includes(name))
    throw new RadioLensError("RL_ERR_USAGE", {
      detail: `unknown explanation method '${name}'; choose one of ${EXPLAIN_METHODS.join(", ")}`,
    });
  return name as ExplainMethod;
}

/**
 * Explains one preprocessed model input `[1, rows, cols, channels]` with the chosen method; the map is on the
 * model's input grid. Tensor memory is unchanged afterwards.
 *
 * @example
 * ```ts
 * const heat = explainInput(model, tf.tensor4d(x, [1, 28, 28, 1]), { method: "occlusion" });
 * ```
 */
export function explainInput(model: tfl.LayersModel, input: tf.Tensor4D, opts: ExplainOptions = {}): Heatmap {
  const cls = opts.classIndex === undefined ? {} : { classIndex: opts.classIndex };
  switch (opts.method ?? "gradcam") {
    case "gradcam":
      return gradCam(model, input, { ...cls, ...(opts.layer ? { layer: opts.layer } : {}) });
    case "gradcam++":
      return gradCamPlusPlus(model, input, { ...cls, ...(opts.layer ? { layer: opts.layer } : {}) });
    case "occlusion":
      return occlusionSensitivity(model, input, {
        ...cls,
        ...(opts.patch ? { patch: opts.patch } : {}),
        ...(opts.stride ? { stride: opts.stride } : {}),
        ...(opts.baseline !== undefined ? { baseline: opts.baseline } : {}),
      });
    case "gradient":
      return vanillaGradient(model, input, cls);
    case "smoothgrad":
      return smoothGrad(model, input, {
        ...cls,
        ...(opts.samples ? { samples: opts.samples } : {}),
        ...(opts.noiseLevel !== undefined ? { noiseLevel: opts.noiseLevel } : {}),
        ...(opts.seed !== undefined ? { seed: opts.seed } : {}),
      });
  }
}

/** A heatmap and its overlay on the original image. */
export interface ImageExplanation {
  /** On the model's input grid. */
  readonly heatmap: Heatmap;
  /** 8-bit RGB on the original image's grid. */
  readonly overlay: MedicalImage;
  /** The explained class's label from the card. */
  readonly label: string;
}

/**
 * Preprocesses an image exactly as the model card says, explains it, and blends the map over the ORIGINAL
 * image's pixel grid.
 *
 * @example
 * ```ts
 * const { model, card } = await loadBundle("/tmp/m");
 * const { overlay } = explainImage(model, card, await readImage("cxr.png"), { method: "gradcam", opacity: 0.4 });
 * ```
 */
export function explainImage(
  model: tfl.LayersModel,
  card: ModelCard,
  img: MedicalImage,
  opts: ExplainOptions & { readonly opacity?: number; readonly colormap?: ColormapName } = {},
): ImageExplanation {
  const x = preprocessForModel(img, card);
  const [rows, cols, ch] = card.input.shape as [number, number, number];
  const t = tf.tensor4d(x, [1, rows, cols, ch]);
  let heatmap: Heatmap;
  try {
    heatmap = explainInput(model, t, opts);
  } finally {
    t.dispose();
  }
  const overlay = overlayHeatmap(img, heatmap, {
    preprocessing: card.preprocessing,
    ...(opts.opacity !== undefined ? { opacity: opts.opacity } : {}),
    ...(opts.colormap ? { colormap: opts.colormap } : {}),
  });
  return { heatmap, overlay, label: card.labels[heatmap.classIndex] ?? String(heatmap.classIndex) };
}

/** Options of {@link explainFile}. */
export interface ExplainFileOptions extends Omit<ExplainOptions, "classIndex"> {
  /** Model bundle folder. */
  readonly model: string;
  /** Image file (PNG, JPEG, DICOM, NIfTI 2D). */
  readonly image: string;
  /** Output PNG. */
  readonly out: string;
  /** Class to explain: an index or a label of the card. */
  readonly classIndex?: number | string;
  readonly opacity?: number;
  readonly colormap?: ColormapName;
  readonly backend?: BackendName;
}

/** What {@link explainFile} wrote. */
export interface ExplainFileResult {
  readonly out: string;
  readonly method: ExplainMethod;
  readonly layer: string;
  readonly classIndex: number;
  readonly label: string;
  readonly score: number;
  /** Size of the written overlay (the original image's grid). */
  readonly rows: number;
  readonly cols: number;
}

/**
 * Loads a bundle and an image, explains the image and writes the overlay PNG atomically.
 *
 * @example
 * ```ts
 * await explainFile({ model: "/tmp/m", image: "cxr.png", out: "heat.png", method: "gradcam++" });
 * ```
 */
export async function explainFile(opts: ExplainFileOptions): Promise<ExplainFileResult> {
  await initEngine(opts.backend ? { backend: opts.backend } : {});
  const { model, card } = await loadBundle(opts.model);
  try {
    let classIndex: number | undefined;
    if (typeof opts.classIndex === "string") {
      const byName = card.labels.indexOf(opts.classIndex);
      classIndex = byName >= 0 ? byName : Number(opts.classIndex);
      if (!Number.isInteger(classIndex))
        throw new RadioLensError("RL_ERR_USAGE", {
          detail: `--class '${opts.classIndex}' is neither a class index nor a label (${card.labels.join(", ")})`,
        });
    } else classIndex = opts.classIndex;
    const img = await readImage(opts.image);
    const { classIndex: _given, ...settings } = opts;
    const r = explainImage(model, card, img, {
      ...settings,
      ...(classIndex === undefined ? {} : { classIndex }),
    });
    let overlay = r.overlay;
    if (img.meta["format"] === "dicom" && img.shape.length === 3) {
      // The model reads modality values; a reader expects the file's own VOI window and MONOCHROME1 inversion
      // (PS3.3 C.11.2, C.7.6.3.1.2), so the overlay is drawn over the DICOM display rendering, same grid.
      const shown = await dicomToImage(readDicomFile(opts.image), { output: "display" });
      if (shown.shape[0] === img.shape[0] && shown.shape[1] === img.shape[1])
        overlay = overlayHeatmap(shown, r.heatmap, {
          ...(opts.opacity !== undefined ? { opacity: opts.opacity } : {}),
          ...(opts.colormap ? { colormap: opts.colormap } : {}),
        });
    }
    writeFileAtomic(opts.out, encodePng(overlay));
    return {
      out: opts.out,
      method: r.heatmap.method,
      layer: r.heatmap.layer,
      classIndex: r.heatmap.classIndex,
      label: r.label,
      score: r.heatmap.score,
      rows: overlay.shape[0] as number,
      cols: overlay.shape[1] as number,
    };
  } finally {
    model.dispose();
  }
}
