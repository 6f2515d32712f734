/** Grad-CAM for the service: the heatmap of a prediction on the image's own grid, as numbers and as a colour PNG. */
import { RadioLensError } from "../core/errors.js";
import { createImage, type MedicalImage } from "../core/image.js";
import { tf } from "../engine/backend.js";
import { applyColormap } from "../explain/colormaps.js";
import { gradCam } from "../explain/gradcam.js";
import type { Heatmap } from "../explain/heatmap.js";
import { heatmapToImageGrid } from "../explain/overlay.js";
import { encodePng } from "../io/image/png.js";
import { preprocessForModel } from "../models/preprocess.js";
import type { ServedModel } from "./served-models.js";

/** The explanation returned with `?explain=gradcam`. */
export interface Explanation {
  readonly method: "gradcam";
  readonly classIndex: number;
  readonly label: string;
  readonly layer: string;
  /** The map on the model's input grid, values in [0, 1], row-major. */
  readonly rows: number;
  readonly cols: number;
  readonly values: number[];
  /** The map lifted to the image's grid and colour-mapped (jet), PNG as base64; the console blends it. */
  readonly heatmapPng: string;
}

/**
 * Runs Grad-CAM (Selvaraju et al., ICCV 2017) for the predicted class on a tfjs-served model.
 *
 * @example
 * ```ts
 * const { heat, explanation } = explainGradCam(model, image);
 * ```
 */
export function explainGradCam(
  model: ServedModel,
  image: MedicalImage,
): { heat: Heatmap; explanation: Explanation } {
  if (!model.layers)
    throw new RadioLensError("RL_ERR_NOT_IMPLEMENTED", {
      feature: `Grad-CAM for the runtime of model '${model.id}'`,
    });
  const x = tf.tensor4d(preprocessForModel(image, model.card), [1, ...model.card.input.shape] as [
    number,
    number,
    number,
    number,
  ]);
  let heat: Heatmap;
  try {
    heat = gradCam(model.layers, x);
  } finally {
    x.dispose();
  }
  const [rows, cols] = image.shape as [number, number];
  const rgb = applyColormap(heatmapToImageGrid(heat, rows, cols), "jet");
  const png = encodePng(createImage(rgb, [rows, cols, 3]));
  return {
    heat,
    explanation: {
      method: "gradcam",
      classIndex: heat.classIndex,
      label: model.card.labels[heat.classIndex] ?? String(heat.classIndex),
      layer: heat.layer,
      rows: heat.rows,
      cols: heat.cols,
      values: Array.from(heat.data, (v) => Math.round(v * 1e4) / 1e4),
      heatmapPng: Buffer.from(png).toString("base64"),
    },
  };
}
