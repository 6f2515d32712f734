import { RadioLensError } from "../core/errors.js";
import { readFileBytes } from "../core/fs.js";
import type { MedicalImage } from "../core/image.js";
import { dicomToImage, parseDicom } from "./dicom/index.js";
import { decodeJpeg, decodePng, isJpeg, isPng } from "./image/index.js";
import { isAnalyze, isNifti, readNifti } from "./nifti/index.js";
import { isNpz } from "./npz/index.js";

/** How readers convert what they decode. */
export interface ReadOptions {
  /**
   * DICOM grayscale: `"modality"` (default) gives float32 modality values (HU for CT) for models whose card windows
   * them; `"display"` applies the file's VOI (window or VOI LUT, else min-max) and MONOCHROME1 inversion to 8 bits,
   * the domain of models trained on PNG/JPEG-like images.
   */
  readonly dicom?: "modality" | "display";
}

/**
 * The Part 10 signature: 128-byte preamble then "DICM" (PS3.10 §7.1).
 *
 * @example
 * ```ts
 * isDicomPart10(readFileSync("CT_small.dcm")); // true ("DICM" at offset 128)
 * ```
 */
export function isDicomPart10(bytes: Uint8Array): boolean {
  return (
    bytes.length >= 132 &&
    bytes[128] === 0x44 &&
    bytes[129] === 0x49 &&
    bytes[130] === 0x43 &&
    bytes[131] === 0x4d
  );
}

/** One registered reader. */
export interface ImageReader {
  /** Short name shown in errors, e.g. "png". */
  readonly name: string;
  /** True when the bytes look like this format (magic bytes, never the file extension). */
  sniff(bytes: Uint8Array): boolean;
  /** Decodes the bytes; throws a typed error on malformed input. */
  read(bytes: Uint8Array, options: ReadOptions): MedicalImage | Promise<MedicalImage>;
}

/** The registry, tried in order. */
export const IMAGE_READERS: ImageReader[] = [
  { name: "png", sniff: isPng, read: decodePng },
  { name: "jpeg", sniff: isJpeg, read: (b) => decodeJpeg(b) },
  {
    name: "dicom",
    sniff: isDicomPart10,
    read: (b, o) => dicomToImage(parseDicom(b), { output: o.dicom ?? "modality" }),
  },
  { name: "nifti", sniff: isNifti, read: (b) => readNifti(b) },
];

/**
 * Adds a reader to the registry (used by format modules such as DICOM and NIfTI). Readers added later are
 * tried after the built-in ones.
 *
 * @example
 * ```ts
 * registerImageReader({ name: "dicom", sniff: isDicom, read: readDicomImage });
 * ```
 */
export function registerImageReader(reader: ImageReader): void {
  if (!IMAGE_READERS.some((r) => r.name === reader.name)) IMAGE_READERS.push(reader);
}

/** A format recognised by its bytes that is not a single image (an archive, a header of a file pair). */
export interface FormatSniffer {
  readonly name: string;
  sniff(bytes: Uint8Array): boolean;
}

/** Formats RadioLens reads besides the image readers, tried after them: MedMNIST-style archives, Analyze 7.5. */
export const OTHER_FORMATS: readonly FormatSniffer[] = [
  { name: "npz", sniff: isNpz },
  { name: "analyze", sniff: isAnalyze },
];

/**
 * Names every format RadioLens recognises by content, in the order they are tried (for "tried: ..." errors).
 *
 * @example
 * ```ts
 * knownFormats(); // ["png", "jpeg", "dicom", "nifti", "npz", "analyze"]
 * ```
 */
export function knownFormats(): string[] {
  return [...IMAGE_READERS, ...OTHER_FORMATS].map((f) => f.name);
}

/**
 * The format whose magic bytes match, through the one registry ({@link IMAGE_READERS} then
 * {@link OTHER_FORMATS}); undefined when none does. Never looks at a file name.
 *
 * @example
 * ```ts
 * sniffFormat(readFileSync("hippocampus_001.nii.gz")); // "nifti"
 * ```
 */
export function sniffFormat(bytes: Uint8Array): string | undefined {
  return [...IMAGE_READERS, ...OTHER_FORMATS].find((f) => f.sniff(bytes))?.name;
}

/**
 * Reads an image file (or bytes) with the reader whose magic bytes match.
 *
 * @example
 * ```ts
 * const img = await readImage("../shared/data/xray/COVID-00001.jpg");
 * console.log(img.shape); // [rows, cols, channels]
 * ```
 */
export async function readImage(
  source: string | Uint8Array,
  options: ReadOptions = {},
  name = typeof source === "string" ? source : "<bytes>",
): Promise<MedicalImage> {
  const bytes = typeof source === "string" ? readFileBytes(source) : source;
  const reader = IMAGE_READERS.find((r) => r.sniff(bytes));
  if (!reader) {
    throw new RadioLensError("RL_ERR_UNKNOWN_FORMAT", {
      path: name,
      tried: IMAGE_READERS.map((r) => r.name).join(", "),
    });
  }
  try {
    return await reader.read(bytes, options);
  } catch (e) {
    if (e instanceof RadioLensError || (e as { code?: unknown }).code !== undefined) throw e;
    throw new RadioLensError(
      "RL_ERR_IMAGE_DECODE",
      { path: name, detail: `${reader.name}: ${(e as Error).message}` },
      { cause: e },
    );
  }
}
