/** Burned-in text (PS3.15 E.1.1 step 2 Note 5, E.3.1): which instances to quarantine, and pixel-masking rules that clear them. */
import { existsSync, readFileSync } from "node:fs";
import { RadioLensError } from "../core/errors.js";

/** A rectangle of pixels to blank, in pixel coordinates of the image (x = column, y = row). */
export interface MaskRegion {
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
}

/**
 * Where a device burns text into its images: instances whose Manufacturer (0008,0070), Manufacturer's Model Name
 * (0008,1090), Rows (0028,0010) and Columns (0028,0011) match get these regions set to zero instead of being
 * quarantined (the region list is the site's knowledge of that device's screen layout).
 */
export interface PixelMaskRule {
  readonly name: string;
  readonly manufacturer: string;
  readonly model: string;
  readonly rows: number;
  readonly columns: number;
  readonly regions: readonly MaskRegion[];
}

/** What the burned-in check looks at, read from the original instance. */
export interface BurnedInFacts {
  readonly burnedInAnnotation?: string | undefined;
  readonly imageType: readonly string[];
  readonly modality?: string | undefined;
  readonly manufacturer?: string | undefined;
  readonly model?: string | undefined;
  readonly rows?: number | undefined;
  readonly columns?: number | undefined;
  readonly hasPixelData: boolean;
}

/** Why an instance may carry burned-in identification. */
export type BurnedInReason =
  | "burned-in-annotation-yes"
  | "image-type-secondary"
  | "image-type-save"
  | "modality-us"
  | "modality-sc"
  | "modality-ot";

/** The verdict: reasons found, and the masking rule that clears them when one applies. */
export interface BurnedInVerdict {
  readonly reasons: readonly BurnedInReason[];
  readonly mask?: PixelMaskRule;
}

const norm = (s: string | undefined): string => (s ?? "").trim().toUpperCase();

/**
 * Decides whether an instance may hold burned-in text: Burned In Annotation (0028,0301) YES; Image Type
 * (0008,0008) containing SECONDARY or SAVE (screen saves and derived captures); or Modality US, SC or OT, whose
 * images routinely carry on-screen patient text. A matching masking rule (manufacturer, model and image size)
 * clears the verdict by blanking its regions. Instances without Pixel Data have nothing burned in.
 *
 * @example
 * ```ts
 * assessBurnedIn({ imageType: ["ORIGINAL", "PRIMARY"], modality: "US", hasPixelData: true }, []).reasons; // ["modality-us"]
 * ```
 */
export function assessBurnedIn(facts: BurnedInFacts, rules: readonly PixelMaskRule[]): BurnedInVerdict {
  if (!facts.hasPixelData) return { reasons: [] };
  const reasons: BurnedInReason[] = [];
  if (norm(facts.burnedInAnnotation) === "YES") reasons.push("burned-in-annotation-yes");
  const types = facts.imageType.map(norm);
  if (types.includes("SECONDARY")) reasons.push("image-type-secondary");
  if (types.includes("SAVE")) reasons.push("image-type-save");
  const modality = norm(facts.modality);
  if (modality === "US") reasons.push("modality-us");
  if (modality === "SC") reasons.push("modality-sc");
  if (modality === "OT") reasons.push("modality-ot");
  if (reasons.length === 0) return { reasons };
  const mask = rules.find(
    (r) =>
      norm(r.manufacturer) === norm(facts.manufacturer) &&
      norm(r.model) === norm(facts.model) &&
      r.rows === facts.rows &&
      r.columns === facts.columns,
  );
  return mask ? { reasons, mask } : { reasons };
}

/** Geometry of native (uncompressed) pixel data (PS3.3 C.7.6.3). */
export interface NativePixelLayout {
  readonly rows: number;
  readonly columns: number;
  readonly samplesPerPixel: number;
  readonly bitsAllocated: number;
  /** Planar Configuration (0028,0006): 0 interleaved, 1 planar. */
  readonly planarConfiguration: number;
  readonly frames: number;
}

/**
 * Returns a copy of native pixel data with the regions set to zero in every frame and sample. Only whole-byte
 * samples (Bits Allocated 8, 16, 32, 64) are masked; 1-bit data is refused (the caller quarantines instead).
 *
 * @example
 * ```ts
 * const masked = maskNativePixels(pixels, layout, [{ x: 0, y: 0, width: 200, height: 40 }]);
 * ```
 */
export function maskNativePixels(
  pixels: Uint8Array,
  layout: NativePixelLayout,
  regions: readonly MaskRegion[],
): Uint8Array | undefined {
  const { rows, columns, samplesPerPixel: spp, bitsAllocated, planarConfiguration, frames } = layout;
  if (bitsAllocated % 8 !== 0 || bitsAllocated === 0) return undefined;
  const bps = bitsAllocated / 8;
  const frameBytes = rows * columns * spp * bps;
  if (frameBytes * frames > pixels.length) return undefined;
  const out = new Uint8Array(pixels);
  for (let f = 0; f < frames; f++) {
    const base = f * frameBytes;
    for (const r of regions) {
      const x0 = Math.max(0, Math.floor(r.x));
      const y0 = Math.max(0, Math.floor(r.y));
      const x1 = Math.min(columns, Math.floor(r.x + r.width));
      const y1 = Math.min(rows, Math.floor(r.y + r.height));
      if (x1 <= x0 || y1 <= y0) continue;
      for (let y = y0; y < y1; y++) {
        if (planarConfiguration === 1 && spp > 1) {
          for (let s = 0; s < spp; s++) {
            const start = base + (s * rows * columns + y * columns + x0) * bps;
            out.fill(0, start, start + (x1 - x0) * bps);
          }
        } else {
          const start = base + (y * columns + x0) * spp * bps;
          out.fill(0, start, start + (x1 - x0) * spp * bps);
        }
      }
    }
  }
  return out;
}

/**
 * Reads masking rules from a JSON file: an array of {@link PixelMaskRule}.
 *
 * @example
 * ```ts
 * const rules = loadMaskRules("site-masks.json");
 * ```
 */
export function loadMaskRules(path: string): PixelMaskRule[] {
  if (!existsSync(path)) throw new RadioLensError("RL_ERR_FILE_NOT_FOUND", { path });
  let data: unknown;
  try {
    data = JSON.parse(readFileSync(path, "utf8"));
  } catch (e) {
    throw new RadioLensError("RL_ERR_USAGE", { detail: `${path} is not JSON` }, { cause: e });
  }
  const ok = (r: unknown): r is PixelMaskRule => {
    const o = r as Record<string, unknown>;
    return (
      typeof o === "object" &&
      o !== null &&
      typeof o["name"] === "string" &&
      typeof o["manufacturer"] === "string" &&
      typeof o["model"] === "string" &&
      Number.isInteger(o["rows"]) &&
      Number.isInteger(o["columns"]) &&
      Array.isArray(o["regions"]) &&
      (o["regions"] as unknown[]).every((g) => {
        const q = g as Record<string, unknown>;
        return ["x", "y", "width", "height"].every((k) => typeof q[k] === "number");
      })
    );
  };
  if (!Array.isArray(data) || !data.every(ok)) {
    throw new RadioLensError("RL_ERR_USAGE", {
      detail: `${path} must hold an array of {name, manufacturer, model, rows, columns, regions: [{x, y, width, height}]}`,
    });
  }
  return data;
}
