/** DICOM → PNG (windowed display) or NIfTI (modality values; a folder becomes a series volume). */
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { writeFileAtomic } from "../../core/fs.js";
import { createImage, type MedicalImage } from "../../core/image.js";
import { encodePng } from "../image/png.js";
import { writeNifti } from "../nifti/write.js";
import { DicomError } from "./errors.js";
import { type ParsedDicom, type ParseOptions, readDicomFile } from "./parse.js";
import type { VoiLut, WindowPreset } from "./pipeline.js";
import { type SeriesWarning, seriesToVolume } from "./series.js";
import { dicomToImage } from "./to-image.js";

/** Options of {@link convertDicom}. */
export interface ConvertOptions extends ParseOptions {
  /** VOI for PNG output: an explicit window or a preset; default the file's own window, else min-max. */
  readonly voi?: VoiLut | WindowPreset;
  /** Frame written to PNG for a multi-frame image (0-based, default 0). */
  readonly frame?: number;
}

/** What {@link convertDicom} wrote. */
export interface ConvertResult {
  readonly output: string;
  readonly shape: readonly number[];
  readonly dtype: string;
  readonly warnings: readonly string[];
}

function frameOf(img: MedicalImage, frame: number): MedicalImage {
  if (img.shape.length === 3) return img;
  const [frames, rows, cols, ch] = img.shape as [number, number, number, number];
  if (!Number.isInteger(frame) || frame < 0 || frame >= frames) {
    throw new DicomError("DICOM_BAD_VALUE", `Frame ${frame} is outside 0..${frames - 1}`);
  }
  const n = rows * cols * ch;
  return createImage(img.data.slice(frame * n, (frame + 1) * n), [rows, cols, ch], {
    spacing: img.spacing.slice(0, 2),
    meta: img.meta,
  });
}

/**
 * Converts a DICOM file to PNG (8-bit display: Modality LUT, VOI window or preset, MONOCHROME1 inverted) or
 * to NIfTI (`.nii`/`.nii.gz`: float32 modality values with LPS geometry). A folder of DICOM files becomes one
 * NIfTI volume through {@link seriesToVolume}.
 *
 * @throws DicomError for unreadable input; RangeError never escapes (shapes are validated first).
 * @example
 * ```ts
 * await convertDicom("CT_small.dcm", "ct.png", { voi: "lung" });
 * await convertDicom("series/", "ct.nii.gz");
 * ```
 */
export async function convertDicom(
  input: string,
  output: string,
  options: ConvertOptions = {},
): Promise<ConvertResult> {
  const lower = output.toLowerCase();
  const png = lower.endsWith(".png");
  const nifti = lower.endsWith(".nii") || lower.endsWith(".nii.gz");
  if (!png && !nifti) {
    throw new DicomError("DICOM_WRITE", `Output ${output} must end in .png, .nii or .nii.gz`);
  }
  const isDir = statSync(input, { throwIfNoEntry: false })?.isDirectory() ?? false;
  if (isDir) {
    if (!nifti) throw new DicomError("DICOM_WRITE", "A folder (a series) converts to .nii or .nii.gz only");
    const parsed: ParsedDicom[] = [];
    for (const f of readdirSync(input).sort()) {
      const p = join(input, f);
      if (statSync(p).isFile()) parsed.push(readDicomFile(p, options));
    }
    const vol = await seriesToVolume(parsed);
    writeNifti(output, vol.image);
    return {
      output,
      shape: vol.image.shape,
      dtype: "float32",
      warnings: vol.warnings.map((w: SeriesWarning) => `${w.code}: ${w.message}`),
    };
  }
  const parsed = readDicomFile(input, options);
  const warnings = parsed.warnings.map((w) => `${w.code}: ${w.message}`);
  if (png) {
    const img = await dicomToImage(parsed, {
      output: "display",
      ...(options.voi === undefined ? {} : { voi: options.voi }),
      ...(options.maxPixelBytes === undefined ? {} : { maxPixelBytes: options.maxPixelBytes }),
      strict: options.strict ?? true,
    });
    warnings.push(...((img.meta["warnings"] as string[] | undefined) ?? []));
    const one = frameOf(img, options.frame ?? 0);
    writeFileAtomic(output, encodePng(one));
    return { output, shape: one.shape, dtype: "uint8", warnings };
  }
  const img = await dicomToImage(parsed, {
    strict: options.strict ?? true,
    ...(options.maxPixelBytes === undefined ? {} : { maxPixelBytes: options.maxPixelBytes }),
  });
  warnings.push(...((img.meta["warnings"] as string[] | undefined) ?? []));
  writeNifti(output, img);
  return {
    output,
    shape: img.shape,
    dtype: img.data.constructor.name.replace("Array", "").toLowerCase(),
    warnings,
  };
}
