/** Loose image sets for out-of-distribution checks: an .npz's test split, or every readable image, DICOM or NIfTI file under a folder. */
import { readdirSync, statSync } from "node:fs";
import { basename, join } from "node:path";
import { RadioLensError } from "../core/errors.js";
import { createImage, type MedicalImage } from "../core/image.js";
import { readImage } from "../io/index.js";
import { readNpz } from "../io/npz/index.js";

/** An image set and what was left out of it. */
export interface ImageSet {
  readonly name: string;
  readonly images: MedicalImage[];
  /** Files that no reader could decode, or that held no 2D image (counted, not named: they may be anything). */
  readonly skipped: number;
}

/** Options of {@link loadImageSet}. */
export interface ImageSetOptions {
  /** Slices taken from each volume, evenly spaced over its central 60% (default 8). */
  readonly slicesPerVolume?: number;
  /** Split of an .npz (default "test"). */
  readonly split?: string;
  /** At most this many images (evenly spaced over the set; default all). */
  readonly limit?: number;
}

/** Min-max to 8 bits, as a PNG export of a slice with no VOI of its own renders it. */
function toDisplay8(values: ArrayLike<number>, rows: number, cols: number): MedicalImage {
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < values.length; i++) {
    const v = values[i] as number;
    if (Number.isFinite(v)) {
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
  }
  const out = new Uint8Array(rows * cols);
  const span = hi > lo ? hi - lo : 1;
  for (let i = 0; i < out.length; i++) {
    const v = values[i] as number;
    out[i] = Number.isFinite(v) ? Math.round((255 * (v - lo)) / span) : 0;
  }
  return createImage(out, [rows, cols, 1], { meta: { format: "slice" } });
}

/** Evenly spaced slice indices over the central 60% of `depth`. */
function sliceIndices(depth: number, k: number): number[] {
  if (depth <= k) return Array.from({ length: depth }, (_, i) => i);
  const lo = Math.floor(depth * 0.2);
  const hi = Math.max(lo, Math.ceil(depth * 0.8) - 1);
  const out = new Set<number>();
  for (let i = 0; i < k; i++) out.add(Math.round(lo + ((hi - lo) * i) / Math.max(1, k - 1)));
  return [...out];
}

/** A volume `[slices, rows, cols, ch]` as display slices (the first channel); a 2D image as is. */
function imagesOf(img: MedicalImage, k: number): MedicalImage[] {
  if (img.shape.length === 3) return [img];
  const [depth, rows, cols, ch] = img.shape as [number, number, number, number];
  const per = rows * cols * ch;
  return sliceIndices(depth, k).map((z) => {
    const plane = new Float32Array(rows * cols);
    for (let i = 0; i < rows * cols; i++) plane[i] = img.data[z * per + i * ch] as number;
    return toDisplay8(plane, rows, cols);
  });
}

function walk(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    if (e.name.startsWith(".")) continue;
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...walk(p));
    else if (e.isFile()) out.push(p);
  }
  return out;
}

function evenly<T>(items: T[], limit: number | undefined): T[] {
  if (!limit || items.length <= limit) return items;
  return Array.from({ length: limit }, (_, i) => items[Math.floor((i * items.length) / limit)] as T);
}

function npzImages(path: string, split: string, k: number): MedicalImage[] {
  const key = `${split}_images`;
  const arrays = readNpz(path, [key]);
  const a = arrays.get(key);
  if (!a)
    throw new RadioLensError("RL_ERR_NPZ_MISSING_KEY", { path, key, keys: [...arrays.keys()].join(", ") });
  const [n, ...rest] = a.shape as [number, ...number[]];
  const per = rest.reduce((x, y) => x * y, 1);
  const out: MedicalImage[] = [];
  for (let i = 0; i < n; i++) {
    const v = a.data.subarray(i * per, (i + 1) * per);
    if (rest.length === 2 || (rest.length === 3 && (rest[2] === 1 || rest[2] === 3))) {
      // [rows, cols] or [rows, cols, channels]: 8-bit images as MedMNIST ships them.
      const [rows, cols] = rest as [number, number];
      out.push(createImage(Uint8Array.from(v), [rows, cols, rest[2] ?? 1], { meta: { format: "npz" } }));
    } else if (rest.length === 3 || rest.length === 4) {
      // [depth, rows, cols(, 1)]: a volume per sample (MedMNIST 3D), sliced like a NIfTI volume.
      const [depth, rows, cols] = rest as [number, number, number];
      out.push(...imagesOf(createImage(Float32Array.from(v), [depth, rows, cols, 1]), k));
    }
  }
  return out;
}

/**
 * Loads an image set: an `.npz` gives its `split` (default test) images, volumes sliced; a folder gives every
 * file a reader recognizes (PNG, JPEG, DICOM rendered through its VOI as `predict` renders it, NIfTI volumes as
 * min-max 8-bit slices), in path order; other files are skipped and counted.
 *
 * @example
 * ```ts
 * const { images, skipped } = await loadImageSet("../shared/data/dicom/pydicom");
 * ```
 */
export async function loadImageSet(path: string, opts: ImageSetOptions = {}): Promise<ImageSet> {
  const k = opts.slicesPerVolume ?? 8;
  let st: ReturnType<typeof statSync>;
  try {
    st = statSync(path);
  } catch {
    throw new RadioLensError("RL_ERR_FILE_NOT_FOUND", { path });
  }
  const name = basename(path).replace(/\.npz$/i, "");
  if (st.isFile() && /\.npz$/i.test(path))
    return { name, images: evenly(npzImages(path, opts.split ?? "test", k), opts.limit), skipped: 0 };
  const files = st.isDirectory() ? walk(path) : [path];
  const images: MedicalImage[] = [];
  let skipped = 0;
  for (const f of files) {
    try {
      const img = await readImage(f, { dicom: "display" });
      const got = imagesOf(img, k).filter((i) => i.shape.length === 3 && (i.shape[0] as number) > 1);
      if (got.length === 0) skipped++;
      images.push(...got);
    } catch {
      skipped++;
    }
  }
  return { name, images: evenly(images, opts.limit), skipped };
}
