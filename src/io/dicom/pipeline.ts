/** The pixel pipeline of PS3.3 C.11 and C.7.6.3 as pure functions: masking, modality LUT, VOI LUT, photometric. */
import type { PixelArray } from "../../core/image.js";
import { DicomError } from "./errors.js";

/**
 * Keeps the Bits Stored bits ending at High Bit and sign-extends them when Pixel Representation is 1
 * (PS3.3 C.7.6.3.1.1): bits outside that range may hold overlays or garbage and are no part of the value.
 *
 * @example
 * ```ts
 * maskStoredValues(Uint16Array.of(0xf800), 12, 11, 1); // Int32Array [-2048]
 * ```
 */
export function maskStoredValues(
  data: PixelArray,
  bitsStored: number,
  highBit: number,
  pixelRepresentation: number,
): Int32Array | Float64Array {
  if (data instanceof Float32Array || data instanceof Float64Array) return Float64Array.from(data);
  const shift = highBit + 1 - bitsStored;
  if (shift < 0 || bitsStored < 1 || bitsStored > 32) {
    throw new DicomError(
      "DICOM_BAD_VALUE",
      `High Bit ${highBit} is inconsistent with Bits Stored ${bitsStored}`,
    );
  }
  if (bitsStored < 32) {
    // Integer fast path: shift out the bits below, keep Bits Stored bits, sign-extend through bit 31.
    const out = new Int32Array(data.length);
    const mask = bitsStored === 31 ? 0x7fffffff : (1 << bitsStored) - 1;
    const up = 32 - bitsStored;
    const signed = pixelRepresentation === 1;
    for (let i = 0; i < data.length; i++) {
      const v = ((data[i] as number) >>> shift) & mask;
      out[i] = signed ? (v << up) >> up : v;
    }
    return out;
  }
  // 32 stored bits: unsigned values exceed Int32, so they are kept as doubles.
  const out = pixelRepresentation === 1 ? new Int32Array(data.length) : new Float64Array(data.length);
  for (let i = 0; i < data.length; i++)
    out[i] = pixelRepresentation === 1 ? (data[i] as number) | 0 : (data[i] as number) >>> 0;
  return out;
}

/** A LUT as PS3.3 C.11.1.1 / C.11.2.1.1 describe it: LUT Descriptor (entries, first mapped value, bits) + data. */
export interface LookupTable {
  readonly firstMapped: number;
  readonly bits: number;
  readonly data: ArrayLike<number>;
}

/** Modality LUT parameters: Rescale Slope/Intercept or a Modality LUT Sequence item (PS3.3 C.11.1). */
export type ModalityLut =
  | { readonly kind: "rescale"; readonly slope: number; readonly intercept: number }
  | { readonly kind: "lut"; readonly lut: LookupTable };

function lutLookup(lut: LookupTable, x: number): number {
  // Values below the first mapped value take the first entry, above the last take the last (PS3.3 C.11.1.1).
  const n = lut.data.length;
  const i = Math.round(x) - lut.firstMapped;
  return lut.data[i < 0 ? 0 : i >= n ? n - 1 : i] as number;
}

/**
 * Applies the Modality LUT (PS3.3 C.11.1): `slope * x + intercept` or a lookup table; output in modality
 * units (HU for CT).
 *
 * @example
 * ```ts
 * applyModalityLut(Int32Array.of(0, 1024), { kind: "rescale", slope: 1, intercept: -1024 }); // [-1024, 0]
 * ```
 */
export function applyModalityLut(values: ArrayLike<number>, m: ModalityLut): Float32Array {
  const out = new Float32Array(values.length);
  if (m.kind === "rescale") {
    for (let i = 0; i < values.length; i++) out[i] = (values[i] as number) * m.slope + m.intercept;
  } else {
    if (m.lut.data.length === 0) throw new DicomError("DICOM_BAD_VALUE", "Modality LUT has no entries");
    for (let i = 0; i < values.length; i++) out[i] = lutLookup(m.lut, values[i] as number);
  }
  return out;
}

/** VOI LUT Function (0028,1056) (PS3.3 C.11.2.1.3). */
export type VoiFunction = "LINEAR" | "LINEAR_EXACT" | "SIGMOID";

/** A VOI transform: a window (Window Center/Width + function) or a VOI LUT Sequence item (PS3.3 C.11.2). */
export type VoiLut =
  | { readonly kind: "window"; readonly center: number; readonly width: number; readonly fn?: VoiFunction }
  | { readonly kind: "lut"; readonly lut: LookupTable };

/**
 * Common CT windows in HU (center, width) used by radiologists.
 *
 * @example
 * ```ts
 * applyVoiLut(hu, { kind: "window", ...WINDOW_PRESETS.lung });
 * ```
 */
export const WINDOW_PRESETS = {
  lung: { center: -600, width: 1500 },
  mediastinum: { center: 50, width: 350 },
  bone: { center: 400, width: 1800 },
  brain: { center: 40, width: 80 },
  abdomen: { center: 40, width: 400 },
} as const;

/** A preset name of {@link WINDOW_PRESETS}. */
export type WindowPreset = keyof typeof WINDOW_PRESETS;

/**
 * Applies a VOI transform (PS3.3 C.11.2.1.2 LINEAR, C.11.2.1.3.2 LINEAR_EXACT, C.11.2.1.3.1 SIGMOID, or a
 * VOI LUT), giving display values in [0, 1].
 *
 * @example
 * ```ts
 * applyVoiLut(Float32Array.of(-1000, 40, 1000), { kind: "window", center: 40, width: 400 }); // [0, ~0.5, 1]
 * ```
 */
export function applyVoiLut(values: ArrayLike<number>, voi: VoiLut): Float32Array {
  const out = new Float32Array(values.length);
  if (voi.kind === "lut") {
    const n = voi.lut.data.length;
    if (n === 0) throw new DicomError("DICOM_BAD_VALUE", "VOI LUT has no entries");
    const max = 2 ** voi.lut.bits - 1;
    for (let i = 0; i < values.length; i++)
      out[i] = Math.min(1, Math.max(0, lutLookup(voi.lut, values[i] as number) / max));
    return out;
  }
  const { center: c, width: w } = voi;
  const fn = voi.fn ?? "LINEAR";
  if (fn === "LINEAR") {
    if (!(w >= 1))
      throw new DicomError("DICOM_BAD_VALUE", `Window Width ${w} must be ≥ 1 for LINEAR (PS3.3 C.11.2.1.2)`);
    const lo = c - 0.5 - (w - 1) / 2;
    const hi = c - 0.5 + (w - 1) / 2;
    for (let i = 0; i < values.length; i++) {
      const x = values[i] as number;
      out[i] = x <= lo ? 0 : x > hi ? 1 : w === 1 ? 1 : (x - (c - 0.5)) / (w - 1) + 0.5;
    }
  } else if (fn === "LINEAR_EXACT") {
    if (!(w > 0)) throw new DicomError("DICOM_BAD_VALUE", `Window Width ${w} must be > 0 for LINEAR_EXACT`);
    for (let i = 0; i < values.length; i++) {
      const x = values[i] as number;
      out[i] = x <= c - w / 2 ? 0 : x > c + w / 2 ? 1 : (x - c) / w + 0.5;
    }
  } else {
    if (!(w > 0)) throw new DicomError("DICOM_BAD_VALUE", `Window Width ${w} must be > 0 for SIGMOID`);
    for (let i = 0; i < values.length; i++)
      out[i] = 1 / (1 + Math.exp((-4 * ((values[i] as number) - c)) / w));
  }
  return out;
}

/**
 * A VOI over the full value range, for images without a window: min → 0, max → 1.
 *
 * @example
 * ```ts
 * minMaxWindow(Float32Array.of(0, 100)); // { kind: "window", center: 50.5, width: 101 }
 * ```
 */
export function minMaxWindow(values: ArrayLike<number>): VoiLut {
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < values.length; i++) {
    const v = values[i] as number;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  if (!Number.isFinite(lo)) return { kind: "window", center: 0.5, width: 1 };
  // LINEAR maps [c - 0.5 - (w-1)/2, c - 0.5 + (w-1)/2] onto [0, 1]; choose c, w so that ends are lo and hi.
  const width = Math.max(1, hi - lo + 1);
  return { kind: "window", center: lo + 0.5 + (width - 1) / 2, width, fn: "LINEAR" };
}

/**
 * MONOCHROME1 shows the minimum as white (PS3.3 C.7.6.3.1.2): display values are inverted.
 *
 * @example
 * ```ts
 * invertDisplay(Float32Array.of(0, 1)); // [1, 0]
 * ```
 */
export function invertDisplay(values01: Float32Array): Float32Array {
  const out = new Float32Array(values01.length);
  for (let i = 0; i < values01.length; i++) out[i] = 1 - (values01[i] as number);
  return out;
}

/**
 * YBR_FULL (and YBR_FULL_422 once upsampled) → RGB with the equations of PS3.3 C.7.6.3.1.2, samples interleaved.
 * `maxValue` is 255 for 8-bit data.
 *
 * @example
 * ```ts
 * ybrFullToRgb(Uint8Array.of(128, 128, 128), 255); // Uint8Array [128, 128, 128]
 * ```
 */
export function ybrFullToRgb(ybr: ArrayLike<number>, maxValue = 255): Uint8Array | Uint16Array {
  const out = maxValue > 255 ? new Uint16Array(ybr.length) : new Uint8Array(ybr.length);
  const mid = (maxValue + 1) / 2;
  const clamp = (v: number) => Math.min(maxValue, Math.max(0, Math.round(v)));
  for (let i = 0; i + 2 < ybr.length; i += 3) {
    const y = ybr[i] as number;
    const cb = (ybr[i + 1] as number) - mid;
    const cr = (ybr[i + 2] as number) - mid;
    out[i] = clamp(y + 1.402 * cr);
    out[i + 1] = clamp(y - 0.344136 * cb - 0.714136 * cr);
    out[i + 2] = clamp(y + 1.772 * cb);
  }
  return out;
}

/**
 * Planar configuration 1 (RRR…GGG…BBB, PS3.3 C.7.6.3.1.3) → interleaved (RGBRGB…).
 *
 * @example
 * ```ts
 * interleavePlanes(Uint8Array.of(1, 2, 3, 4, 5, 6), 3); // [1, 3, 5, 2, 4, 6]
 * ```
 */
export function interleavePlanes<T extends PixelArray>(planar: T, samples: number): T {
  const out = planar.slice() as T;
  const px = planar.length / samples;
  for (let s = 0; s < samples; s++)
    for (let p = 0; p < px; p++) out[p * samples + s] = planar[s * px + p] as number;
  return out;
}

/** Red, Green and Blue Palette Color LUTs (PS3.3 C.7.6.3.1.5-6). */
export interface PaletteLuts {
  readonly red: LookupTable;
  readonly green: LookupTable;
  readonly blue: LookupTable;
}

/**
 * PALETTE COLOR → RGB (PS3.3 C.7.6.3.1.5): each index looked up in the three LUTs; indices outside a LUT take
 * its first or last entry, never memory beyond it. Output has the LUT's bit depth (8 or 16), interleaved.
 *
 * @example
 * ```ts
 * const lut = { firstMapped: 0, bits: 8, data: [0, 255] };
 * applyPalette(Uint8Array.of(1), { red: lut, green: lut, blue: lut }); // [255, 255, 255]
 * ```
 */
export function applyPalette(indices: ArrayLike<number>, luts: PaletteLuts): Uint8Array | Uint16Array {
  const bits = Math.max(luts.red.bits, luts.green.bits, luts.blue.bits);
  const out = bits > 8 ? new Uint16Array(indices.length * 3) : new Uint8Array(indices.length * 3);
  const tables = [luts.red, luts.green, luts.blue].map((lut) => {
    if (lut.data.length === 0) throw new DicomError("DICOM_BAD_VALUE", "Palette Color LUT has no entries");
    return { first: lut.firstMapped, last: lut.data.length - 1, data: Uint16Array.from(lut.data) };
  });
  const [r, g, b] = tables as [(typeof tables)[0], (typeof tables)[0], (typeof tables)[0]];
  for (let i = 0; i < indices.length; i++) {
    const x = indices[i] as number;
    let k = x - r.first;
    out[3 * i] = r.data[k < 0 ? 0 : Math.min(k, r.last)] as number;
    k = x - g.first;
    out[3 * i + 1] = g.data[k < 0 ? 0 : Math.min(k, g.last)] as number;
    k = x - b.first;
    out[3 * i + 2] = b.data[k < 0 ? 0 : Math.min(k, b.last)] as number;
  }
  return out;
}
