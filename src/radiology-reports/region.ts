/** Turns a Grad-CAM heatmap into the pixel bounding box a report and an SR SCOORD cite. */
import { RadioLensError } from "../core/errors.js";

/** A Grad-CAM region as a box in source-image pixel coordinates (column x, row y of the top-left corner). */
export interface RegionBox {
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
}

/** Options of {@link regionFromHeatmap}. */
export interface HeatmapRegionOptions {
  /** Cells at or above `fraction` × max belong to the region (default 0.5, the half-maximum contour). */
  readonly fraction?: number;
}

/**
 * The bounding box, in source-image pixels, of the connected high-activation region around a Grad-CAM heatmap's
 * maximum (Selvaraju et al., ICCV 2017, §3 localization: threshold the map at a fraction of its maximum and box the
 * largest connected segment; here the segment containing the peak, 4-connected). The heatmap is `heatRows` ×
 * `heatCols`, row-major, and stretched over the whole `imageRows` × `imageCols` image, so a cell spans
 * imageCols/heatCols pixels across. Returns undefined for a map without a positive maximum.
 *
 * @example
 * ```ts
 * const box = regionFromHeatmap(cam, 7, 7, 1024, 1024); // { x: 438.86, y: 585.14, width: 292.57, height: 146.29 }
 * ```
 */
export function regionFromHeatmap(
  heat: ArrayLike<number>,
  heatRows: number,
  heatCols: number,
  imageRows: number,
  imageCols: number,
  opts: HeatmapRegionOptions = {},
): RegionBox | undefined {
  const fraction = opts.fraction ?? 0.5;
  const dims = [heatRows, heatCols, imageRows, imageCols];
  if (!dims.every((d) => Number.isInteger(d) && d > 0) || heat.length !== heatRows * heatCols) {
    throw new RadioLensError("RL_ERR_SHAPE_MISMATCH", {
      detail: `heatmap of ${heat.length} values does not match ${heatRows}×${heatCols}, or image size ${imageRows}×${imageCols} is not positive`,
    });
  }
  if (!(fraction > 0 && fraction <= 1)) {
    throw new RadioLensError("RL_ERR_CONFIG_INVALID", { detail: `fraction ${fraction} is not in (0, 1]` });
  }
  let peak = 0;
  for (let i = 1; i < heat.length; i++) if ((heat[i] ?? 0) > (heat[peak] ?? 0)) peak = i;
  const max = heat[peak] ?? 0;
  if (!(max > 0)) return undefined;
  const cut = fraction * max;
  const seen = new Uint8Array(heat.length);
  const stack = [peak];
  seen[peak] = 1;
  let r0 = heatRows;
  let r1 = -1;
  let c0 = heatCols;
  let c1 = -1;
  while (stack.length > 0) {
    const i = stack.pop()!;
    const r = Math.floor(i / heatCols);
    const c = i % heatCols;
    r0 = Math.min(r0, r);
    r1 = Math.max(r1, r);
    c0 = Math.min(c0, c);
    c1 = Math.max(c1, c);
    const next = [
      r > 0 ? i - heatCols : -1,
      r < heatRows - 1 ? i + heatCols : -1,
      c > 0 ? i - 1 : -1,
      c < heatCols - 1 ? i + 1 : -1,
    ];
    for (const j of next) {
      if (j >= 0 && !seen[j] && (heat[j] ?? 0) >= cut) {
        seen[j] = 1;
        stack.push(j);
      }
    }
  }
  const sy = imageRows / heatRows;
  const sx = imageCols / heatCols;
  return { x: c0 * sx, y: r0 * sy, width: (c1 - c0 + 1) * sx, height: (r1 - r0 + 1) * sy };
}
