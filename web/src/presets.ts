/** CT window presets of the console: the same width/centre pairs as the library's `WINDOW_PRESETS` (checked by the console test). */

/** Window presets (width, centre) in Hounsfield units; a preset maps to the VOI range centre ± width/2. */
export const PRESETS: Readonly<Record<string, { readonly width: number; readonly center: number }>> = {
  lung: { width: 1500, center: -600 },
  mediastinum: { width: 350, center: 50 },
  bone: { width: 1800, center: 400 },
  brain: { width: 80, center: 40 },
  abdomen: { width: 400, center: 40 },
};
