/** File-level DICOM operations behind the CLI: stored-pixel export and a patient-identifier-free summary. */
import { writeFileAtomic } from "../../core/fs.js";
import { pixelStats } from "../../core/image.js";
import { DicomError } from "./errors.js";
import { type ParseOptions, readDicomFile } from "./parse.js";
import { applyModalityLut, maskStoredValues } from "./pipeline.js";
import { decodeStoredPixels } from "./pixels.js";
import { modalityLutOf } from "./to-image.js";
import { transferSyntax } from "./transfer-syntax.js";

/** What `<prefix>.json` holds. */
export interface PixelExportHeader {
  readonly shape: readonly [number, number, number, number];
  readonly dtype: string;
}

/** What {@link exportStoredPixels} wrote, with the warnings of a lenient read. */
export interface PixelExportResult extends PixelExportHeader {
  readonly warnings: readonly string[];
}

/**
 * Decodes a file's Pixel Data to stored values (before any LUT: pydicom's `pixel_array`) and writes
 * `<prefix>.bin` (little endian) and `<prefix>.json` (`{"shape":[frames,rows,cols,samples],"dtype":...}`),
 * each atomically.
 *
 * @example
 * ```ts
 * await exportStoredPixels("CT_small.dcm", "/tmp/ct"); // { shape: [1, 128, 128, 1], dtype: "int16" }
 * ```
 */
export async function exportStoredPixels(
  path: string,
  prefix: string,
  options: ParseOptions = {},
): Promise<PixelExportResult> {
  const parsed = readDicomFile(path, options);
  const px = await decodeStoredPixels(parsed, {
    strict: options.strict ?? true,
    ...(options.maxPixelBytes === undefined ? {} : { maxPixelBytes: options.maxPixelBytes }),
  });
  const bytes = new Uint8Array(px.data.buffer, px.data.byteOffset, px.data.byteLength);
  // Typed arrays are in platform order; every platform Node supports is little endian, as the format requires.
  const header: PixelExportHeader = { shape: px.shape, dtype: px.dtype };
  writeFileAtomic(`${prefix}.bin`, bytes);
  writeFileAtomic(`${prefix}.json`, `${JSON.stringify(header)}\n`);
  return { ...header, warnings: [...parsed.warnings.map((w) => `${w.code}: ${w.message}`), ...px.warnings] };
}

/** A summary of a DICOM file without patient identifiers (no names, IDs, dates or UIDs of the patient/study). */
export interface DicomInfo {
  readonly transferSyntax: { readonly uid: string; readonly name: string };
  readonly sopClassUID: string | undefined;
  readonly modality: string | undefined;
  readonly rows: number | undefined;
  readonly columns: number | undefined;
  readonly frames: number;
  readonly samplesPerPixel: number | undefined;
  readonly photometricInterpretation: string | undefined;
  readonly bitsAllocated: number | undefined;
  readonly bitsStored: number | undefined;
  readonly pixelRepresentation: number | undefined;
  readonly pixelSpacing: readonly number[];
  readonly sliceThickness: number | undefined;
  readonly rescale: { readonly slope: number; readonly intercept: number } | undefined;
  readonly window: { readonly center: readonly number[]; readonly width: readonly number[] };
  readonly elements: number;
  /** Statistics of the modality values (after Rescale/Modality LUT), or undefined without Pixel Data. */
  readonly pixelStats: { min: number; max: number; mean: number; std: number } | undefined;
  readonly pixelError: string | undefined;
  readonly warnings: readonly string[];
}

/**
 * Reads a file and summarizes it: transfer syntax, image attributes, frames and pixel statistics.
 * Patient identifiers are never included.
 *
 * @example
 * ```ts
 * const info = await describeDicom("CT_small.dcm"); // info.pixelStats.min === -1024 ...
 * ```
 */
export async function describeDicom(path: string, options: ParseOptions = {}): Promise<DicomInfo> {
  const parsed = readDicomFile(path, options);
  const ds = parsed.dataset;
  const ts = transferSyntax(parsed.transferSyntaxUID);
  let stats: DicomInfo["pixelStats"];
  let pixelError: string | undefined;
  if (ds.has(0x7fe00010) || ds.has(0x7fe00008) || ds.has(0x7fe00009)) {
    try {
      const px = await decodeStoredPixels(parsed);
      if (px.shape[3] === 1) {
        const v = maskStoredValues(px.data, px.bitsStored, px.highBit, px.pixelRepresentation);
        stats = pixelStats(applyModalityLut(v, modalityLutOf(ds)));
      } else {
        stats = pixelStats(px.data);
      }
    } catch (e) {
      if (!(e instanceof DicomError)) throw e;
      pixelError = `${e.code}: ${e.message}`;
    }
  }
  const framesText = ds.string("NumberOfFrames");
  const hasRescale = ds.has("RescaleSlope") || ds.has("RescaleIntercept");
  return {
    transferSyntax: { uid: ts.uid, name: ts.name },
    sopClassUID: ds.uid("SOPClassUID"),
    modality: ds.string("Modality"),
    rows: ds.number("Rows"),
    columns: ds.number("Columns"),
    frames: framesText === undefined ? 1 : Number(framesText),
    samplesPerPixel: ds.number("SamplesPerPixel"),
    photometricInterpretation: ds.string("PhotometricInterpretation"),
    bitsAllocated: ds.number("BitsAllocated"),
    bitsStored: ds.number("BitsStored"),
    pixelRepresentation: ds.number("PixelRepresentation"),
    pixelSpacing: ds.numbers("PixelSpacing"),
    sliceThickness: ds.number("SliceThickness"),
    rescale: hasRescale
      ? { slope: ds.number("RescaleSlope") ?? 1, intercept: ds.number("RescaleIntercept") ?? 0 }
      : undefined,
    window: { center: ds.numbers("WindowCenter"), width: ds.numbers("WindowWidth") },
    elements: ds.elements.size,
    pixelStats: stats,
    pixelError,
    warnings: parsed.warnings.map((w) => `${w.code}: ${w.message}`),
  };
}
