/** What a file or folder holds, for every format RadioLens reads, chosen by content; never patient identifiers. */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { RadioLensError } from "../core/errors.js";
import { readFileBytes } from "../core/fs.js";
import type { PixelArray } from "../core/image.js";
import { DicomError } from "./dicom/errors.js";
import { type DicomInfo, describeDicom } from "./dicom/export.js";
import { type ParsedDicom, parseDicom } from "./dicom/parse.js";
import { groupBySeries, orderSeries } from "./dicom/series.js";
import { isPng } from "./image/png.js";
import { knownFormats, readImage, sniffFormat } from "./index.js";
import { bestAffine, NIFTI_DATATYPES, type NiftiHeader, readNifti, readNiftiHeader } from "./nifti/index.js";
import { readNpz } from "./npz/index.js";

/** Options of {@link describePath}. */
export interface DescribeOptions {
  /** Fail on any deviation from the format's standard (default); `false` reads damaged DICOM as far as it can. */
  readonly strict?: boolean;
  /**
   * Read DICOM deviations that lose nothing (trailing zero padding, odd lengths, ...) with a warning (default);
   * `false` refuses them too (docs/adr/029-dicom-leniency-policy.md).
   */
  readonly tolerate?: boolean;
}

/** Minimum, maximum, mean and standard deviation of the finite values, and how many were not finite. */
export interface IntensityStats {
  readonly min: number | null;
  readonly max: number | null;
  readonly mean: number | null;
  readonly std: number | null;
  readonly nonFinite: number;
}

/** A DICOM file: the summary of {@link describeDicom}. */
export interface DicomFileDescription extends DicomInfo {
  readonly format: "dicom";
}

/** One series of a folder: the series → volume report, without decoding pixels. */
export interface SeriesReport {
  readonly seriesNumber: number | null;
  readonly modality: string | null;
  readonly sopClassUID: string | null;
  readonly instances: number;
  /** Frames over all instances (multi-frame objects count each frame). */
  readonly frames: number;
  /** False for objects without an image (structured reports, RT plans, DICOMDIR). */
  readonly image: boolean;
  readonly rows: number | null;
  readonly columns: number | null;
  /** Pixel Spacing (0028,0030) as stored: row spacing, column spacing, mm. */
  readonly pixelSpacing: readonly number[] | null;
  /** Median distance between neighbouring slices along the normal, mm. */
  readonly sliceSpacing: number | null;
  /** True when every neighbour distance equals the slice spacing (within 1 %) and no slice is missing. */
  readonly sliceSpacingUniform: boolean | null;
  readonly missingSlices: number | null;
  /** Image Orientation (Patient) (0020,0037): row cosine, column cosine. */
  readonly orientationCosines: readonly number[] | null;
  /** Where the column, row and slice axes point (LPS letters: L/R, P/A, S/I), e.g. "LPS" for axial. */
  readonly orientation: string | null;
  readonly warnings: readonly string[];
  /** Why no volume can be formed from the series (mixed sizes, orientations...), or null. */
  readonly error: string | null;
}

/** A folder of DICOM files, grouped into series. */
export interface DicomFolderDescription {
  readonly format: "dicom-series";
  readonly files: number;
  readonly dicomFiles: number;
  /** Files that look like DICOM but did not parse, with the error code. */
  readonly unreadable: readonly { readonly file: string; readonly error: string }[];
  readonly series: readonly SeriesReport[];
}

/** A NIfTI-1, NIfTI-2 or Analyze 7.5 image. */
export interface NiftiDescription {
  readonly format: "nifti1" | "nifti2" | "analyze";
  /** True for a .hdr/.img pair. */
  readonly pair: boolean;
  readonly byteOrder: "little" | "big";
  /** dim[1..dim[0]]: i, j, k, then t, u, v, w. */
  readonly dims: readonly number[];
  /** pixdim[1..dim[0]]. */
  readonly voxelSize: readonly number[];
  readonly units: { readonly space: string; readonly time: string };
  readonly datatype: string;
  readonly bitpix: number;
  readonly scaling: { readonly slope: number; readonly inter: number; readonly applied: boolean };
  readonly qformCode: number;
  readonly qformName: string;
  readonly sformCode: number;
  readonly sformName: string;
  /** Which affine gives the geometry (sform, qform, pixdim or SPM's Analyze convention). */
  readonly affineSource: string;
  /** The voxel-to-world affine (RAS+, rows of a 4×4). */
  readonly affine: readonly (readonly number[])[];
  /** Where the i, j, k axes point (RAS letters as nibabel's `aff2axcodes`), e.g. "RAS" or "LPS". */
  readonly orientation: string;
  readonly intentCode: number;
  /** Statistics of the (scaled) voxel values, or null when they cannot be read. */
  readonly intensity: IntensityStats | null;
  readonly intensityError: string | null;
}

/** A PNG or JPEG image. */
export interface RasterDescription {
  readonly format: "png" | "jpeg";
  readonly width: number;
  readonly height: number;
  /** Bits per sample as stored (PNG bit depth, JPEG sample precision). */
  readonly bitDepth: number;
  /** Channels after decoding (alpha dropped): 1 grey, 3 colour. */
  readonly channels: number;
  /** Stored colour type: "grayscale", "rgb", "palette", "grayscale+alpha", "rgba" (PNG); "grayscale", "ycbcr", "cmyk" (JPEG). */
  readonly colourType: string;
  /** PNG: "adam7" or "none"; JPEG: "baseline", "extended", "progressive" or "lossless". */
  readonly coding: string;
  readonly intensity: IntensityStats;
}

/** One split of a MedMNIST-style archive (`<split>_images`, `<split>_labels`). */
export interface NpzSplit {
  readonly split: string;
  readonly images: number;
  readonly labelShape: readonly number[] | null;
  /** Samples per label value (one label per sample), or positives per column (multi-label). */
  readonly labelCounts: Readonly<Record<string, number>> | null;
}

/** A NumPy .npz archive. */
export interface NpzDescription {
  readonly format: "npz";
  readonly arrays: readonly {
    readonly name: string;
    readonly dtype: string;
    readonly shape: readonly number[];
  }[];
  /** For `<split>_images` archives: 2D or 3D, the size of one image and its channels. */
  readonly dimensionality: "2D" | "3D" | null;
  readonly imageSize: readonly number[] | null;
  readonly channels: number | null;
  readonly splits: readonly NpzSplit[];
}

/** A Medical Segmentation Decathlon task folder (`imagesTr/`, `labelsTr/`, optional `imagesTs/`, `dataset.json`). */
export interface MsdDescription {
  readonly format: "msd";
  readonly name: string | null;
  readonly imagesTr: number;
  readonly labelsTr: number;
  readonly imagesTs: number;
  /** Training cases with both an image and a label. */
  readonly pairs: number;
  readonly imagesWithoutLabel: readonly string[];
  readonly labelsWithoutImage: readonly string[];
  /** Every value found in the labels, ascending. */
  readonly labelValues: readonly number[];
  /** Label names from dataset.json, by value. */
  readonly labelNames: Readonly<Record<string, string>> | null;
  /** Pairs whose label grid (dims) differs from its image's. */
  readonly gridMismatches: readonly string[];
  /** Smallest and largest image size per axis (i, j, k) and voxel size. */
  readonly size: { readonly min: readonly number[]; readonly max: readonly number[] };
  readonly voxelSize: { readonly min: readonly number[]; readonly max: readonly number[] };
  /** Distinct orientations of the images (RAS letters). */
  readonly orientations: readonly string[];
}

/** What {@link describePath} reports, by format. */
export type PathDescription =
  | DicomFileDescription
  | DicomFolderDescription
  | NiftiDescription
  | RasterDescription
  | NpzDescription
  | MsdDescription;

/**
 * Intensity statistics over the finite values (NaN and ±Inf counted apart), Welford's one-pass mean/variance.
 *
 * @example
 * ```ts
 * intensityStats(Float32Array.of(1, NaN, 3)); // { min: 1, max: 3, mean: 2, std: 1, nonFinite: 1 }
 * ```
 */
export function intensityStats(data: ArrayLike<number>, channel = 0, channels = 1): IntensityStats {
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  let mean = 0;
  let m2 = 0;
  let n = 0;
  let bad = 0;
  for (let i = channel; i < data.length; i += channels) {
    const v = data[i] as number;
    if (!Number.isFinite(v)) {
      bad++;
      continue;
    }
    n++;
    if (v < min) min = v;
    if (v > max) max = v;
    const d = v - mean;
    mean += d / n;
    m2 += d * (v - mean);
  }
  if (n === 0) return { min: null, max: null, mean: null, std: null, nonFinite: bad };
  return { min, max, mean, std: Math.sqrt(m2 / n), nonFinite: bad };
}

/**
 * Letters of the world directions the voxel axes point to, from axis vectors given in RAS+ (NIfTI) world
 * coordinates: the largest component of each axis decides (nibabel's `aff2axcodes` for non-oblique affines).
 *
 * @example
 * ```ts
 * axisCodesRas([[1, 0, 0], [0, 1, 0], [0, 0, 1]]); // "RAS"
 * ```
 */
export function axisCodesRas(axes: readonly (readonly number[])[]): string {
  const letters = [
    ["R", "L"],
    ["A", "P"],
    ["S", "I"],
  ] as const;
  return axes
    .map((v) => {
      let best = 0;
      for (let w = 1; w < v.length; w++) if (Math.abs(v[w] as number) > Math.abs(v[best] as number)) best = w;
      const pair = letters[best] as readonly [string, string];
      return (v[best] as number) >= 0 ? pair[0] : pair[1];
    })
    .join("");
}

/** The same letters from axis vectors in DICOM's LPS+ world (PS3.3 C.7.6.2.1.1): x and y change sign. */
function axisCodesLps(axes: readonly (readonly number[])[]): string {
  return axisCodesRas(axes.map((v) => v.map((x, w) => (w < 2 ? -x : x))));
}

const XFORM_NAMES = ["unknown", "scanner", "aligned", "talairach", "mni_152", "template"];
const SPACE_UNITS: Readonly<Record<number, string>> = { 0: "unknown", 1: "m", 2: "mm", 3: "um" };
const TIME_UNITS: Readonly<Record<number, string>> = {
  0: "unknown",
  8: "s",
  16: "ms",
  24: "us",
  32: "hz",
  40: "ppm",
  48: "rad/s",
};

function describeNifti(path: string): NiftiDescription {
  const h: NiftiHeader = readNiftiHeader(path);
  const n = Math.max(1, Math.min(7, h.dim[0] as number));
  let intensity: IntensityStats | null = null;
  let intensityError: string | null = null;
  let affine: readonly number[] = [];
  let affineSource = "";
  let dtName = NIFTI_DATATYPES.get(h.datatype)?.name ?? String(h.datatype);
  let scaled = false;
  try {
    const img = readNifti(path);
    const meta = img.meta["nifti"] as {
      affine: readonly number[];
      affineSource: string;
      datatypeName: string;
      scaled: boolean;
    };
    affine = meta.affine;
    affineSource = meta.affineSource;
    dtName = meta.datatypeName;
    scaled = meta.scaled;
    intensity = intensityStats(img.data);
  } catch (e) {
    // The header of a pair whose .img is missing still describes the image; any other failure is the file's.
    if (!(e instanceof RadioLensError) || e.code !== "RL_ERR_NIFTI_MISSING_IMAGE") throw e;
    intensityError = e.toLine();
  }
  if (affine.length === 0) {
    // Header-only: the same choice of affine readNifti makes (sform, qform, pixdim).
    const best = bestAffine(h);
    affine = best.affine;
    affineSource = best.source;
  }
  const col = (c: number): number[] => [0, 1, 2].map((r) => affine[r * 4 + c] as number);
  const nd = (h.dim[0] as number) <= 2 ? 2 : 3;
  return {
    format: h.format,
    pair: !h.singleFile,
    byteOrder: h.littleEndian ? "little" : "big",
    dims: h.dim.slice(1, n + 1),
    voxelSize: h.pixdim.slice(1, n + 1),
    units: {
      space: SPACE_UNITS[h.xyztUnits & 0x07] ?? String(h.xyztUnits & 0x07),
      time: TIME_UNITS[h.xyztUnits & 0x38] ?? String(h.xyztUnits & 0x38),
    },
    datatype: dtName,
    bitpix: h.bitpix,
    scaling: { slope: h.sclSlope, inter: h.sclInter, applied: scaled },
    qformCode: h.qformCode,
    qformName: XFORM_NAMES[h.qformCode] ?? "invalid",
    sformCode: h.sformCode,
    sformName: XFORM_NAMES[h.sformCode] ?? "invalid",
    affineSource,
    affine: [0, 1, 2, 3].map((r) => affine.slice(r * 4, r * 4 + 4)),
    orientation: axisCodesRas([0, 1, 2].slice(0, nd).map(col)),
    intentCode: h.intentCode,
    intensity,
    intensityError,
  };
}

const PNG_COLOUR: Readonly<Record<number, string>> = {
  0: "grayscale",
  2: "rgb",
  3: "palette",
  4: "grayscale+alpha",
  6: "rgba",
};

/** Sample precision, size, components and coding process of the first SOF segment (ITU T.81 §B.2.2). */
function jpegFrame(b: Uint8Array): {
  precision: number;
  height: number;
  width: number;
  comps: number;
  process: string;
} {
  let i = 2;
  while (i + 9 < b.length) {
    if (b[i] !== 0xff) break;
    const marker = b[i + 1] as number;
    if (marker === 0xff) {
      i++;
      continue;
    }
    const len = ((b[i + 2] as number) << 8) | (b[i + 3] as number);
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      const kind = marker & 0x03;
      return {
        precision: b[i + 4] as number,
        height: ((b[i + 5] as number) << 8) | (b[i + 6] as number),
        width: ((b[i + 7] as number) << 8) | (b[i + 8] as number),
        comps: b[i + 9] as number,
        process: kind === 0 ? "baseline" : kind === 1 ? "extended" : kind === 2 ? "progressive" : "lossless",
      };
    }
    i += 2 + len;
  }
  throw new RadioLensError("RL_ERR_IMAGE_DECODE", {
    path: "<jpeg>",
    detail: "no SOF segment (ITU T.81 B.2.2)",
  });
}

async function describeRaster(path: string, bytes: Uint8Array): Promise<RasterDescription> {
  // Decoding checks the whole file, not only its header, and gives the statistics.
  const img = await readImage(bytes, {}, path);
  const ch = img.shape[2] as number;
  const stats = intensityStats(img.data);
  if (isPng(bytes)) {
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const colourType = bytes[25] as number;
    return {
      format: "png",
      width: dv.getUint32(16),
      height: dv.getUint32(20),
      bitDepth: bytes[24] as number,
      channels: ch,
      colourType: PNG_COLOUR[colourType] ?? String(colourType),
      coding: bytes[28] === 1 ? "adam7" : "none",
      intensity: stats,
    };
  }
  const f = jpegFrame(bytes);
  return {
    format: "jpeg",
    width: f.width,
    height: f.height,
    bitDepth: f.precision,
    channels: ch,
    colourType: f.comps === 1 ? "grayscale" : f.comps === 4 ? "cmyk" : "ycbcr",
    coding: f.process,
    intensity: stats,
  };
}

function countLabels(data: PixelArray, shape: readonly number[]): Record<string, number> {
  const n = shape[0] ?? 0;
  const per = n === 0 ? 0 : data.length / n;
  const counts: Record<string, number> = {};
  if (per === 1) {
    for (let i = 0; i < data.length; i++) {
      const k = String(data[i]);
      counts[k] = (counts[k] ?? 0) + 1;
    }
    return counts;
  }
  // Multi-label (one 0/1 column per finding): positives per column.
  for (let c = 0; c < per; c++) {
    let pos = 0;
    for (let i = c; i < data.length; i += per) if ((data[i] as number) > 0) pos++;
    counts[String(c)] = pos;
  }
  return counts;
}

function describeNpz(path: string): NpzDescription {
  const npz = readNpz(path);
  const arrays = [...npz.entries()].map(([name, a]) => ({ name, dtype: a.dtype, shape: [...a.shape] }));
  const splits: NpzSplit[] = [];
  let dimensionality: NpzDescription["dimensionality"] = null;
  let imageSize: number[] | null = null;
  let channels: number | null = null;
  for (const [name, a] of npz) {
    const m = /^(.*)_images$/.exec(name);
    if (!m) continue;
    const split = m[1] as string;
    const labels = npz.get(`${split}_labels`);
    splits.push({
      split,
      images: a.shape[0] ?? 0,
      labelShape: labels ? [...labels.shape] : null,
      labelCounts: labels ? countLabels(labels.data, labels.shape) : null,
    });
    if (dimensionality === null) {
      const s = a.shape.slice(1);
      // MedMNIST: 2D sets are [n, H, W] or [n, H, W, 3]; 3D sets are [n, D, H, W] (a trailing 1..4 is channels).
      const trailingChannels = s.length >= 3 && (s[s.length - 1] as number) <= 4;
      const spatial = trailingChannels ? s.slice(0, -1) : s;
      dimensionality = spatial.length >= 3 ? "3D" : "2D";
      imageSize = spatial;
      channels = trailingChannels ? (s[s.length - 1] as number) : 1;
    }
  }
  return { format: "npz", arrays, dimensionality, imageSize, channels, splits };
}

function listNifti(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  // MSD archives carry macOS "._" resource forks beside the volumes: hidden files are not cases.
  return names.filter((f) => !f.startsWith(".") && /\.nii(\.gz)?$/i.test(f)).sort();
}

function describeMsd(dir: string): MsdDescription {
  const images = listNifti(join(dir, "imagesTr"));
  const labels = listNifti(join(dir, "labelsTr"));
  const tests = listNifti(join(dir, "imagesTs"));
  let name: string | null = null;
  let labelNames: Record<string, string> | null = null;
  try {
    const ds = JSON.parse(readFileSync(join(dir, "dataset.json"), "utf8")) as {
      name?: unknown;
      labels?: unknown;
    };
    if (typeof ds.name === "string") name = ds.name;
    if (ds.labels && typeof ds.labels === "object") {
      labelNames = {};
      for (const [k, v] of Object.entries(ds.labels as Record<string, unknown>)) labelNames[k] = String(v);
    }
  } catch {
    // dataset.json is optional (cropped copies of the tasks ship without it).
  }
  const labelSet = new Set(labels);
  const imageSet = new Set(images);
  const values = new Set<number>();
  const mismatches: string[] = [];
  const sizeMin: number[] = [];
  const sizeMax: number[] = [];
  const voxMin: number[] = [];
  const voxMax: number[] = [];
  const orientations = new Set<string>();
  for (const f of images) {
    const h = readNiftiHeader(join(dir, "imagesTr", f));
    const dims = h.dim.slice(1, 4);
    const vox = h.pixdim.slice(1, 4);
    dims.forEach((d, k) => {
      sizeMin[k] = Math.min(sizeMin[k] ?? d, d);
      sizeMax[k] = Math.max(sizeMax[k] ?? d, d);
    });
    vox.forEach((d, k) => {
      voxMin[k] = Math.min(voxMin[k] ?? d, d);
      voxMax[k] = Math.max(voxMax[k] ?? d, d);
    });
    const aff = bestAffine(h).affine;
    orientations.add(axisCodesRas([0, 1, 2].map((c) => [0, 1, 2].map((r) => aff[r * 4 + c] as number))));
    if (!labelSet.has(f)) continue;
    const lab = readNifti(join(dir, "labelsTr", f));
    const ldims = (lab.meta["nifti"] as { dim: readonly number[] }).dim.slice(1, 4);
    if (ldims.some((d, k) => d !== dims[k])) mismatches.push(f);
    const data = lab.data;
    for (let i = 0; i < data.length; i++) {
      const v = data[i] as number;
      if (!values.has(v)) {
        values.add(v);
        if (values.size > 1024) {
          throw new RadioLensError("RL_ERR_LABEL_OUT_OF_RANGE", {
            detail: `labelsTr/${f} holds more than 1024 distinct values: not a label map`,
          });
        }
      }
    }
  }
  return {
    format: "msd",
    name,
    imagesTr: images.length,
    labelsTr: labels.length,
    imagesTs: tests.length,
    pairs: images.filter((f) => labelSet.has(f)).length,
    imagesWithoutLabel: images.filter((f) => !labelSet.has(f)),
    labelsWithoutImage: labels.filter((f) => !imageSet.has(f)),
    labelValues: [...values].sort((a, b) => a - b),
    labelNames,
    gridMismatches: mismatches,
    size: { min: sizeMin, max: sizeMax },
    voxelSize: { min: voxMin, max: voxMax },
    orientations: [...orientations].sort(),
  };
}

/**
 * True when the bytes look like a DICOM data set without the Part 10 preamble: the first element is in group
 * 0000, 0002 or 0008 (PS3.5 §7.1, elements in ascending tag order) in either byte order. Such files are read only
 * leniently (the parser names what is missing), never taken for another format.
 *
 * @example
 * ```ts
 * looksLikeRawDicom(readFileSync("no_meta.dcm")); // true
 * ```
 */
export function looksLikeRawDicom(b: Uint8Array): boolean {
  if (b.length < 8) return false;
  const le = (b[0] as number) | ((b[1] as number) << 8);
  const be = ((b[0] as number) << 8) | (b[1] as number);
  const groupOk = (g: number) => g === 0x0000 || g === 0x0002 || g === 0x0008;
  if (!groupOk(le) && !groupOk(be)) return false;
  // An all-zero start is a group length only when an element follows; 8 zero bytes are not a data set.
  return !(le === 0 && b.subarray(0, 8).every((x) => x === 0) && b.subarray(8, 16).every((x) => x === 0));
}

/** DICOM format of a file: "dicom" (Part 10), "dicom-raw" (no preamble) or undefined. */
function dicomKind(bytes: Uint8Array): "dicom" | "dicom-raw" | undefined {
  if (sniffFormat(bytes) === "dicom") return "dicom";
  return looksLikeRawDicom(bytes) ? "dicom-raw" : undefined;
}

function walkFiles(dir: string, out: string[], depth: number): void {
  if (depth > 16 || out.length > 100_000) return;
  for (const name of readdirSync(dir).sort()) {
    if (name.startsWith(".")) continue;
    const p = join(dir, name);
    const st = statSync(p, { throwIfNoEntry: false });
    if (st?.isDirectory()) walkFiles(p, out, depth + 1);
    else if (st?.isFile()) out.push(p);
  }
}

/** The code and what went wrong, without the fix-it advice (one entry of a folder's list). */
function errorLine(e: unknown): string {
  if (e instanceof DicomError) return `${e.code}: ${e.detail}`;
  if (e instanceof RadioLensError) return `${e.code}: ${e.message}`;
  throw e;
}

/** An attribute value, or undefined when it is absent or malformed (a folder report never fails on one file). */
function safe<T>(read: () => T | undefined): T | undefined {
  try {
    return read();
  } catch (e) {
    if (e instanceof DicomError) return undefined;
    throw e;
  }
}

function seriesReport(instances: readonly ParsedDicom[]): SeriesReport {
  const ds = (instances[0] as ParsedDicom).dataset;
  let frames = 0;
  for (const p of instances) frames += safe(() => p.dataset.number("NumberOfFrames")) ?? 1;
  const image = ds.has("Rows") && ds.has("Columns");
  const base = {
    seriesNumber: safe(() => ds.number("SeriesNumber")) ?? null,
    modality: safe(() => ds.string("Modality")) ?? null,
    sopClassUID: safe(() => ds.uid("SOPClassUID")) ?? null,
    instances: instances.length,
    frames: image ? frames : 0,
    image,
    rows: safe(() => ds.number("Rows")) ?? null,
    columns: safe(() => ds.number("Columns")) ?? null,
    pixelSpacing: safe(() => (ds.has("PixelSpacing") ? ds.numbers("PixelSpacing") : undefined)) ?? null,
  };
  const none = {
    sliceSpacing: null,
    sliceSpacingUniform: null,
    missingSlices: null,
    orientationCosines: null,
    orientation: null,
    warnings: [],
  };
  if (!image) return { ...base, ...none, error: null };
  try {
    const o = orderSeries(instances);
    const iop = o.orientation;
    const axes = [iop.slice(0, 3), iop.slice(3, 6), [...o.normal]];
    const uneven = o.warnings.some((w) => w.code !== "NO_POSITION");
    const single = instances.length === 1;
    return {
      ...base,
      pixelSpacing: base.pixelSpacing,
      sliceSpacing: single ? null : o.sliceSpacing,
      sliceSpacingUniform: single ? null : !uneven,
      missingSlices: single ? null : o.missingSlices,
      orientationCosines: ds.has("ImageOrientationPatient") ? [...iop] : null,
      orientation: ds.has("ImageOrientationPatient") ? axisCodesLps(axes) : null,
      warnings: o.warnings.map((w) => `${w.code}: ${w.message}`),
      error: null,
    };
  } catch (e) {
    // Mixed sizes or orientations, or an unreadable geometry attribute: reported, the other series still are.
    if (!(e instanceof DicomError)) throw e;
    return { ...base, ...none, error: `${e.code}: ${e.detail}` };
  }
}

function describeDicomFolder(
  dir: string,
  strict: boolean,
  tolerate: boolean,
): DicomFolderDescription | undefined {
  const files: string[] = [];
  walkFiles(dir, files, 0);
  const parsed: ParsedDicom[] = [];
  const unreadable: { file: string; error: string }[] = [];
  let dicomFiles = 0;
  for (const f of files) {
    let bytes: Uint8Array;
    try {
      bytes = readFileSync(f);
    } catch (e) {
      unreadable.push({ file: relative(dir, f), error: `RL_ERR_IO: ${(e as Error).message}` });
      continue;
    }
    const kind = dicomKind(bytes);
    if (kind === undefined) continue;
    dicomFiles++;
    try {
      // Pixel Data is not needed for the series report: stop before it.
      parsed.push(parseDicom(bytes, { strict: strict && kind === "dicom", tolerate, untilTag: 0x7fe00010 }));
    } catch (e) {
      unreadable.push({ file: relative(dir, f), error: errorLine(e) });
    }
  }
  if (dicomFiles === 0) return undefined;
  const series = [...groupBySeries(parsed).values()].map((g) => seriesReport(g));
  series.sort(
    (a, b) =>
      (a.seriesNumber ?? Number.MAX_SAFE_INTEGER) - (b.seriesNumber ?? Number.MAX_SAFE_INTEGER) ||
      (a.modality ?? "").localeCompare(b.modality ?? "") ||
      b.instances - a.instances,
  );
  return { format: "dicom-series", files: files.length, dicomFiles, unreadable, series };
}

/**
 * Describes a file or folder, its format chosen by content through the reader registry ({@link sniffFormat}),
 * never by its name: a DICOM file (attributes, transfer syntax, pixel statistics), a folder of DICOM files (the
 * series → volume report of each series), NIfTI-1/NIfTI-2/Analyze (dimensions, voxel size and units, datatype,
 * scaling, qform/sform codes, orientation letters, intensity statistics), PNG/JPEG (size, bit depth, channels,
 * colour type), a MedMNIST-style .npz (arrays, splits, label counts, 2D or 3D) or an MSD task folder (cases,
 * pairs, label values). Patient identifiers (names, IDs, birth dates, UIDs of patient, study or series) are never
 * part of the result.
 *
 * @throws RadioLensError RL_ERR_UNKNOWN_FORMAT (with the formats tried) when no reader recognises the input;
 *   the format's own typed error when a recognised file is damaged.
 * @example
 * ```ts
 * const d = await describePath("../shared/data/segmentation/msd-hippocampus/imagesTr/hippocampus_001.nii.gz");
 * d.format; // "nifti1"
 * ```
 */
export async function describePath(path: string, options: DescribeOptions = {}): Promise<PathDescription> {
  const strict = options.strict ?? true;
  const tolerate = options.tolerate ?? true;
  const st = statSync(path, { throwIfNoEntry: false });
  if (!st) throw new RadioLensError("RL_ERR_FILE_NOT_FOUND", { path });
  if (st.isDirectory()) {
    const isMsd = statSync(join(path, "imagesTr"), { throwIfNoEntry: false })?.isDirectory() ?? false;
    if (isMsd) return describeMsd(path);
    const folder = describeDicomFolder(path, strict, tolerate);
    if (folder) return folder;
    throw new RadioLensError("RL_ERR_UNKNOWN_FORMAT", {
      path,
      tried: "DICOM series folder (no DICOM file found), MSD task folder (no imagesTr/)",
    });
  }
  if (!st.isFile()) throw new RadioLensError("RL_ERR_IO", { path, detail: "not a regular file or folder" });
  const bytes = readFileBytes(path);
  const format = sniffFormat(bytes);
  switch (format) {
    case "dicom":
      return { format: "dicom", ...(await describeDicom(path, { strict, tolerate })) };
    case "png":
    case "jpeg":
      return describeRaster(path, bytes);
    case "nifti":
    case "analyze":
      return describeNifti(path);
    case "npz":
      return describeNpz(path);
    default:
      // A data set without its Part 10 preamble is DICOM; the parser says what is missing (or reads it leniently).
      if (looksLikeRawDicom(bytes))
        return { format: "dicom", ...(await describeDicom(path, { strict, tolerate })) };
      throw new RadioLensError("RL_ERR_UNKNOWN_FORMAT", {
        path,
        tried: knownFormats().join(", "),
      });
  }
}

/** Formats whose bytes {@link describePath} recognises, for help texts. */
export const DESCRIBED_FORMATS =
  "DICOM (file or series folder), NIfTI-1/NIfTI-2/Analyze, PNG, JPEG, NumPy .npz, MSD task folder";
