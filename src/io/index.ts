/** Image readers registered in one list and chosen by magic bytes; an unknown format's error lists what was tried. */
import { readFileSync } from "node:fs";
import { RadioLensError } from "../core/errors.js";
import type { MedicalImage } from "../core/image.js";
import { decodeJpeg, decodePng, isJpeg, isPng } from "./image/index.js";

/** One registered reader. */
export interface ImageReader {
  /** Short name shown in errors, e.g. "png". */
  readonly name: string;
  /** True when the bytes look like this format (magic bytes, never the file extension). */
  sniff(bytes: Uint8Array): boolean;
  /** Decodes the bytes; throws a typed error on malformed input. */
  read(bytes: Uint8Array): MedicalImage | Promise<MedicalImage>;
}

/** The registry, tried in order. */
export const IMAGE_READERS: ImageReader[] = [
  { name: "png", sniff: isPng, read: decodePng },
  { name: "jpeg", sniff: isJpeg, read: (b) => decodeJpeg(b) },
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

function load(path: string): Uint8Array {
  try {
    return readFileSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT")
      throw new RadioLensError("RL_ERR_FILE_NOT_FOUND", { path });
    throw new RadioLensError("RL_ERR_IO", { path, detail: (e as Error).message });
  }
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
  name = typeof source === "string" ? source : "<bytes>",
): Promise<MedicalImage> {
  const bytes = typeof source === "string" ? load(source) : source;
  const reader = IMAGE_READERS.find((r) => r.sniff(bytes));
  if (!reader) {
    throw new RadioLensError("RL_ERR_UNKNOWN_FORMAT", {
      path: name,
      tried: IMAGE_READERS.map((r) => r.name).join(", "),
    });
  }
  try {
    return await reader.read(bytes);
  } catch (e) {
    if (e instanceof RadioLensError || (e as { code?: unknown }).code !== undefined) throw e;
    throw new RadioLensError(
      "RL_ERR_IMAGE_DECODE",
      { path: name, detail: `${reader.name}: ${(e as Error).message}` },
      { cause: e },
    );
  }
}
