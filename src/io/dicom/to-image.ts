/** DICOM → MedicalImage: stored values through the PS3.3 pipeline (modality LUT, VOI LUT, photometric) with geometry. */
import { createImage, type MedicalImage, type PixelArray } from "../../core/image.js";
import { type DicomDataset, decodeBinary } from "./dataset.js";
import { DicomError } from "./errors.js";
import type { ParsedDicom } from "./parse.js";
import {
  applyModalityLut,
  applyPalette,
  applyVoiLut,
  invertDisplay,
  type LookupTable,
  type ModalityLut,
  maskStoredValues,
  minMaxWindow,
  type VoiFunction,
  type VoiLut,
  WINDOW_PRESETS,
  type WindowPreset,
  ybrFullToRgb,
} from "./pipeline.js";
import { type DecodeOptions, decodeStoredPixels, type StoredPixels } from "./pixels.js";

/** How {@link dicomToImage} renders. */
export interface ToImageOptions extends DecodeOptions {
  /**
   * `"modality"` (default): monochrome as float32 modality values (HU for CT), colour as RGB.
   * `"display"`: uint8 after the VOI transform and MONOCHROME1 inversion, ready for a PNG.
   */
  readonly output?: "modality" | "display";
  /** VOI for display: a window, a preset name, or `"dataset"` (default: the file's first window or VOI LUT, else min-max). */
  readonly voi?: VoiLut | WindowPreset | "dataset";
}

function lutFrom(ds: DicomDataset, descriptorTag: number, dataTag: number): LookupTable | undefined {
  const desc = ds.get(descriptorTag);
  const data = ds.get(dataTag);
  if (!desc || !data) return undefined;
  // LUT Descriptor (PS3.3 C.11.1.1): entries (0 means 65536), first mapped value, bits per entry.
  const d = decodeBinary(desc.value, "US", ds.littleEndian);
  if (d.length < 3)
    throw new DicomError("DICOM_BAD_VALUE", "LUT Descriptor needs three values (PS3.3 C.11.1.1)");
  const entries = (d[0] as number) === 0 ? 65536 : (d[0] as number);
  let first = d[1] as number;
  if (desc.vr === "SS" && first >= 32768) first -= 65536;
  const bits = d[2] as number;
  if (bits < 1 || bits > 16)
    throw new DicomError("DICOM_BAD_VALUE", `LUT Descriptor gives ${bits} bits per entry`);
  const bytes = data.value;
  const values = bytes.length >= entries * 2 ? decodeBinary(bytes, "US", ds.littleEndian) : Array.from(bytes);
  return { firstMapped: first, bits, data: values.slice(0, entries) };
}

/**
 * The Modality LUT of a dataset (PS3.3 C.11.1): the Modality LUT Sequence when present, else Rescale
 * Slope/Intercept (identity when absent).
 *
 * @example
 * ```ts
 * modalityLutOf(dataset); // { kind: "rescale", slope: 1, intercept: -1024 }
 * ```
 */
export function modalityLutOf(ds: DicomDataset, frame = 0): ModalityLut {
  const item = ds.items(0x00283000)[0];
  if (item) {
    const lut = lutFrom(item, 0x00283002, 0x00283006);
    if (lut) return { kind: "lut", lut };
  }
  // Enhanced objects keep Rescale in the Pixel Value Transformation functional group (PS3.3 C.7.6.16.2.9).
  const src =
    ds.has("RescaleSlope") || ds.has("RescaleIntercept")
      ? ds
      : (functionalGroup(ds, frame, 0x00289145) ?? ds);
  return {
    kind: "rescale",
    slope: src.number("RescaleSlope") ?? 1,
    intercept: src.number("RescaleIntercept") ?? 0,
  };
}

/**
 * The item of a functional group macro for one frame of an enhanced multi-frame object (PS3.3 C.7.6.16):
 * the Per-Frame Functional Groups Sequence (5200,9230) item of that frame first, then the Shared one (5200,9229).
 *
 * @example
 * ```ts
 * functionalGroup(dataset, 3, 0x00209113)?.numbers("ImagePositionPatient"); // Plane Position of frame 3
 * ```
 */
export function functionalGroup(
  ds: DicomDataset,
  frame: number,
  sequenceTag: number,
): DicomDataset | undefined {
  const perFrame = ds.items(0x52009230)[frame]?.items(sequenceTag)[0];
  if (perFrame) return perFrame;
  return ds.items(0x52009229)[0]?.items(sequenceTag)[0];
}

/**
 * The dataset's own VOI (PS3.3 C.11.2): the first Window Center/Width with its VOI LUT Function, else the
 * first VOI LUT Sequence item; undefined when neither is present.
 *
 * @example
 * ```ts
 * voiOf(dataset); // { kind: "window", center: 40, width: 400, fn: "LINEAR" }
 * ```
 */
export function voiOf(ds: DicomDataset, frame = 0): VoiLut | undefined {
  // Enhanced objects keep the window in the Frame VOI LUT functional group (PS3.3 C.7.6.16.2.10).
  const src = ds.has("WindowCenter") ? ds : (functionalGroup(ds, frame, 0x00289132) ?? ds);
  const c = src.numbers("WindowCenter")[0];
  const w = src.numbers("WindowWidth")[0];
  if (c !== undefined && w !== undefined && w > 0) {
    const f = src.string("VOILUTFunction");
    const fn: VoiFunction = f === "LINEAR_EXACT" || f === "SIGMOID" ? f : "LINEAR";
    return { kind: "window", center: c, width: Math.max(w, fn === "LINEAR" ? 1 : w), fn };
  }
  const item = ds.items(0x00283010)[0];
  if (item) {
    const lut = lutFrom(item, 0x00283002, 0x00283006);
    if (lut) return { kind: "lut", lut };
  }
  return undefined;
}

/**
 * Geometry from Pixel Spacing, Image Position/Orientation (Patient) (PS3.3 C.7.6.2).
 *
 * @example
 * ```ts
 * geometryOf(dataset).spacing; // [column spacing, row spacing] in mm
 * ```
 */
export function geometryOf(
  ds: DicomDataset,
  frame = 0,
): {
  spacing: [number, number];
  position: [number, number, number] | undefined;
  orientation: [number, number, number, number, number, number] | undefined;
} {
  // Enhanced objects: Pixel Measures (0028,9110), Plane Position (0020,9113), Plane Orientation (0020,9116).
  const pick = (keyword: string, seq: number) =>
    ds.has(keyword) ? ds.numbers(keyword) : (functionalGroup(ds, frame, seq)?.numbers(keyword) ?? []);
  const ps = pick("PixelSpacing", 0x00289110);
  const ipp = pick("ImagePositionPatient", 0x00209113);
  const iop = pick("ImageOrientationPatient", 0x00209116);
  // Pixel Spacing is (row spacing, column spacing) = (y, x) (PS3.3 10.7.1.3).
  const spacing: [number, number] = ps.length >= 2 ? [ps[1] as number, ps[0] as number] : [1, 1];
  return {
    spacing,
    position: ipp.length >= 3 ? [ipp[0] as number, ipp[1] as number, ipp[2] as number] : undefined,
    orientation:
      iop.length >= 6 ? (iop.slice(0, 6) as [number, number, number, number, number, number]) : undefined,
  };
}

function scaleTo8Bit(values: ArrayLike<number>, max: number): Uint8Array {
  const out = new Uint8Array(values.length);
  const k = 255 / max;
  for (let i = 0; i < values.length; i++) out[i] = Math.min(255, Math.round((values[i] as number) * k));
  return out;
}

function toUint8(values01: Float32Array): Uint8Array {
  const out = new Uint8Array(values01.length);
  for (let i = 0; i < values01.length; i++) out[i] = Math.round((values01[i] as number) * 255);
  return out;
}

function colorImage(px: StoredPixels): PixelArray {
  const pi = px.photometricInterpretation;
  const maxValue = 2 ** px.bitsStored - 1;
  if (pi === "YBR_FULL" || pi === "YBR_FULL_422") return ybrFullToRgb(px.data, maxValue);
  if (pi === "RGB") return px.data;
  if (pi === "YBR_ICT" || pi === "YBR_RCT") {
    // JPEG 2000 codecs return RGB for component-transformed codestreams (PS3.5 8.2.4).
    return px.data;
  }
  throw new DicomError("DICOM_BAD_VALUE", `Photometric Interpretation ${pi} with 3 samples is not supported`);
}

/**
 * Decodes a parsed DICOM instance to a MedicalImage through the pixel pipeline: Bits Stored/High Bit masking
 * (PS3.3 C.7.6.3.1.1), Modality LUT (C.11.1), then for display the VOI LUT (C.11.2) and MONOCHROME1
 * inversion (C.7.6.3.1.2); colour via YBR_FULL(_422) → RGB or PALETTE COLOR lookup (C.7.6.3.1.5).
 * Single-frame images are `[rows, cols, ch]`, multi-frame `[frames, rows, cols, ch]`.
 *
 * @example
 * ```ts
 * const ct = await dicomToImage(readDicomFile("CT_small.dcm"));              // float32 HU
 * const png = await dicomToImage(parsed, { output: "display", voi: "lung" }); // uint8
 * ```
 */
export async function dicomToImage(parsed: ParsedDicom, options: ToImageOptions = {}): Promise<MedicalImage> {
  const ds = parsed.dataset;
  const px = await decodeStoredPixels(parsed, options);
  const [frames, rows, cols, samples] = px.shape;
  const pi = px.photometricInterpretation;
  const geo = geometryOf(ds);
  let data: PixelArray;
  let channels = samples;
  const meta: Record<string, unknown> = {
    format: "dicom",
    modality: ds.string("Modality"),
    // Intended-use checks (src/models/intended-use.ts) read these; none identifies a patient.
    bodyPartExamined: ds.string("BodyPartExamined"),
    viewPosition: ds.string("ViewPosition"),
    sopClassUID: ds.string("SOPClassUID"),
    photometricInterpretation: pi,
    transferSyntaxUID: parsed.transferSyntaxUID,
    imagePositionPatient: geo.position,
    imageOrientationPatient: geo.orientation,
  };
  if (px.warnings.length) meta["warnings"] = [...px.warnings];
  if (pi === "PALETTE COLOR") {
    const red = lutFrom(ds, 0x00281101, 0x00281201);
    const green = lutFrom(ds, 0x00281102, 0x00281202);
    const blue = lutFrom(ds, 0x00281103, 0x00281203);
    if (!red || !green || !blue) {
      throw new DicomError(
        "DICOM_MISSING_ATTRIBUTE",
        "PALETTE COLOR needs Red/Green/Blue Palette Color LUTs (PS3.3 C.7.6.3.1.5)",
      );
    }
    const idx = maskStoredValues(px.data, px.bitsStored, px.highBit, 0);
    const rgb = applyPalette(idx, { red, green, blue });
    data = options.output === "display" && rgb instanceof Uint16Array ? scaleTo8Bit(rgb, 65535) : rgb;
    channels = 3;
  } else if (samples >= 3) {
    const rgb = colorImage(px);
    data = options.output === "display" && px.bitsStored > 8 ? scaleTo8Bit(rgb, 2 ** px.bitsStored - 1) : rgb;
  } else {
    const stored = maskStoredValues(px.data, px.bitsStored, px.highBit, px.pixelRepresentation);
    const perFrame = rows * cols * samples;
    const modality = new Float32Array(stored.length);
    const frameIndex = options.frames ?? Array.from({ length: frames }, (_, k) => k);
    for (let k = 0; k < frames; k++) {
      const part = stored.subarray(k * perFrame, (k + 1) * perFrame);
      modality.set(applyModalityLut(part, modalityLutOf(ds, frameIndex[k] ?? k)), k * perFrame);
    }
    meta["units"] = ds.string("Modality") === "CT" ? "HU" : undefined;
    if (options.output === "display") {
      const v = options.voi ?? "dataset";
      const voi: VoiLut =
        typeof v === "string"
          ? v === "dataset"
            ? (voiOf(ds, options.frames?.[0] ?? 0) ?? minMaxWindow(modality))
            : { kind: "window", ...WINDOW_PRESETS[v], fn: "LINEAR" }
          : v;
      let display = applyVoiLut(modality, voi);
      if (pi === "MONOCHROME1") display = invertDisplay(display);
      data = toUint8(display);
      meta["voi"] =
        voi.kind === "window" ? { center: voi.center, width: voi.width, fn: voi.fn ?? "LINEAR" } : "lut";
    } else {
      data = modality;
    }
  }
  if (frames === 1) {
    return createImage(data, [rows, cols, channels], { spacing: geo.spacing, meta });
  }
  // Frames as slices: with Plane Positions the slice axis is the normal, signed by the first two positions.
  const g0 = geometryOf(ds, options.frames?.[0] ?? 0);
  const g1 = geometryOf(ds, options.frames?.[1] ?? 1);
  const measures = functionalGroup(ds, 0, 0x00289110);
  let z =
    ds.number("SpacingBetweenSlices") ??
    measures?.number("SpacingBetweenSlices") ??
    ds.number("SliceThickness") ??
    measures?.number("SliceThickness") ??
    1;
  let origin = [0, 0, 0];
  let direction = [1, 0, 0, 0, 1, 0, 0, 0, 1];
  if (g0.position && g1.position && g0.orientation) {
    const [r0, r1, r2, c0, c1, c2] = g0.orientation;
    let n = [r1 * c2 - r2 * c1, r2 * c0 - r0 * c2, r0 * c1 - r1 * c0] as [number, number, number];
    const d =
      (g1.position[0] - g0.position[0]) * n[0] +
      (g1.position[1] - g0.position[1]) * n[1] +
      (g1.position[2] - g0.position[2]) * n[2];
    if (d < 0) n = [0 - n[0], 0 - n[1], 0 - n[2]];
    if (Math.abs(d) > 1e-6) z = Math.abs(d);
    origin = [...g0.position];
    direction = [r0, c0, n[0], r1, c1, n[1], r2, c2, n[2]];
  }
  return createImage(data, [frames, rows, cols, channels], {
    spacing: [...geo.spacing, z],
    origin,
    direction,
    meta,
  });
}
