/** Colormaps as lookup tables (matplotlib's jet, inferno, viridis) applied to [0, 1] maps. */
import { RadioLensError } from "../core/errors.js";
import { INFERNO_LUT, JET_LUT, VIRIDIS_LUT } from "./colormaps-data.js";

/** Colormap names. */
export type ColormapName = "jet" | "inferno" | "viridis";

/**
 * Every colormap's lookup table, the default first.
 *
 * @example
 * ```ts
 * Object.keys(COLORMAPS); // ["jet", "inferno", "viridis"]
 * ```
 */
export const COLORMAPS: Readonly<Record<ColormapName, readonly number[]>> = {
  jet: JET_LUT,
  inferno: INFERNO_LUT,
  viridis: VIRIDIS_LUT,
};

/**
 * Checks a colormap name from user input.
 *
 * @example
 * ```ts
 * const cm = parseColormap("inferno");
 * ```
 */
export function parseColormap(name: string): ColormapName {
  if (!(name in COLORMAPS))
    throw new RadioLensError("RL_ERR_USAGE", {
      detail: `unknown colormap '${name}'; choose one of ${Object.keys(COLORMAPS).join(", ")}`,
    });
  return name as ColormapName;
}

/**
 * Maps values in [0, 1] (clamped; NaN as 0) to 8-bit RGB through a 256-entry table, nearest entry — the
 * lookup matplotlib's `Colormap.__call__` does for floats.
 *
 * @example
 * ```ts
 * const rgb = applyColormap(heat.data, "jet"); // Uint8Array of heat.data.length * 3
 * ```
 */
export function applyColormap(values: ArrayLike<number>, name: ColormapName = "jet"): Uint8Array {
  const lut = COLORMAPS[name];
  const out = new Uint8Array(values.length * 3);
  for (let i = 0; i < values.length; i++) {
    const v = values[i] as number;
    const idx = Number.isNaN(v) ? 0 : Math.min(255, Math.max(0, Math.floor(v * 256)));
    for (let c = 0; c < 3; c++) out[i * 3 + c] = Math.round((lut[idx * 3 + c] as number) * 255);
  }
  return out;
}
