/** Heatmap overlays on the original image's pixel grid: display conversion, colormap, opacity blend, PNG. */
import { RadioLensError } from "../core/errors.js";
import { createImage, type MedicalImage } from "../core/image.js";
import type { PreprocessStep } from "../models/bundle.js";
import { applyColormap, type ColormapName } from "./colormaps.js";
import { type Heatmap, resizeBilinear } from "./heatmap.js";

/** Options of {@link overlayHeatmap}. */
export interface OverlayOptions {
  readonly colormap?: ColormapName;
  /** Weight of the heatmap colour in the blend, 0 (image only) to 1 (heatmap only); default 0.4. */
  readonly opacity?: number;
  /** The model card's preprocessing: a `window` step there is reused to display the image. */
  readonly preprocessing?: readonly PreprocessStep[];
}

/**
 * The original image as 8-bit RGB for display, on its own grid: 8-bit data as stored, other data through the
 * card's VOI window when it has one (PS3.3 C.11.2.1.2.1, linear) else stretched min→0, max→255; one channel is
 * repeated to grey RGB, an alpha channel dropped.
 *
 * @example
 * ```ts
 * const rgb = displayRgb(await readImage("cxr.dcm")); // Uint8Array rows*cols*3
 * ```
 */
export function displayRgb(img: MedicalImage, preprocessing: readonly PreprocessStep[] = []): Uint8Array {
  if (img.shape.length !== 3)
    throw new RadioLensError("RL_ERR_SHAPE_MISMATCH", {
      detail: `overlays need a 2D image; this image has shape [${img.shape.join(", ")}]`,
    });
  const [rows, cols, ch] = img.shape as [number, number, number];
  const n = rows * cols;
  const win = preprocessing.find((s) => s.op === "window");
  let lo = 0;
  let hi = 255;
  if (win?.op === "window") {
    lo = win.center - win.width / 2;
    hi = win.center + win.width / 2;
  } else if (!(img.data instanceof Uint8Array || img.data instanceof Uint8ClampedArray)) {
    lo = Number.POSITIVE_INFINITY;
    hi = Number.NEGATIVE_INFINITY;
    for (const v of img.data) {
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
  }
  const span = hi > lo ? hi - lo : 1;
  const out = new Uint8Array(n * 3);
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < 3; c++) {
      const v = img.data[i * ch + (ch >= 3 ? c : 0)] as number;
      out[i * 3 + c] = Math.round(Math.min(1, Math.max(0, (v - lo) / span)) * 255);
    }
  }
  return out;
}

/**
 * Lifts a heatmap from the model's input grid to the original image's `rows × cols` grid. Model preprocessing
 * only resizes the whole image (no crop or pad), so the inverse mapping is a resize: bilinear with half-pixel
 * centres, which puts every model pixel's value over the original pixels it was averaged from.
 *
 * @example
 * ```ts
 * const full = heatmapToImageGrid(heat, 1024, 1024);
 * ```
 */
export function heatmapToImageGrid(heat: Heatmap, rows: number, cols: number): Float32Array {
  return resizeBilinear(heat.data, heat.rows, heat.cols, rows, cols);
}

/**
 * Blends a colour-mapped heatmap over the original image on the original pixel grid:
 * `out = (1 − opacity) · image + opacity · colormap(heat)`, returned as an 8-bit RGB MedicalImage carrying the
 * source's spacing (ready for encodePng).
 *
 * @example
 * ```ts
 * const img = await readImage("cxr.png");
 * writeFileAtomic("heat.png", encodePng(overlayHeatmap(img, gradCam(model, x), { colormap: "inferno" })));
 * ```
 */
export function overlayHeatmap(img: MedicalImage, heat: Heatmap, opts: OverlayOptions = {}): MedicalImage {
  const opacity = opts.opacity ?? 0.4;
  if (!(opacity >= 0 && opacity <= 1))
    throw new RadioLensError("RL_ERR_USAGE", { detail: `opacity must be between 0 and 1, got ${opacity}` });
  const base = displayRgb(img, opts.preprocessing);
  const [rows, cols] = img.shape as [number, number, number];
  const color = applyColormap(heatmapToImageGrid(heat, rows, cols), opts.colormap ?? "jet");
  const out = new Uint8Array(base.length);
  for (let i = 0; i < base.length; i++)
    out[i] = Math.round((1 - opacity) * (base[i] as number) + opacity * (color[i] as number));
  return createImage(out, [rows, cols, 3], {
    spacing: img.spacing,
    origin: img.origin,
    direction: img.direction,
  });
}
