/** Series → volume: group instances by Series Instance UID, order along the slice normal, derive geometry. */
import { createImage, type MedicalImage } from "../../core/image.js";
import { DicomError } from "./errors.js";
import type { ParsedDicom } from "./parse.js";
import { mapConcurrent } from "./pixels.js";
import { dicomToImage, geometryOf } from "./to-image.js";

/** Something wrong but usable about a series, reported beside the volume. */
export interface SeriesWarning {
  readonly code: "SLICE_GAP" | "UNEVEN_SPACING" | "DUPLICATE_POSITION" | "NO_POSITION";
  readonly message: string;
}

/** A volume built from one series. */
export interface SeriesVolume {
  /** `[slices, rows, cols, 1]`, float32 modality values, LPS geometry. */
  readonly image: MedicalImage;
  readonly seriesInstanceUID: string;
  /** Slice spacing used (median of neighbour distances along the normal), mm. */
  readonly sliceSpacing: number;
  /** Estimated number of slices missing from gaps of two or more spacings. */
  readonly missingSlices: number;
  readonly warnings: readonly SeriesWarning[];
}

/**
 * Groups parsed instances by Series Instance UID (0020,000E); instances without one share the key "".
 *
 * @example
 * ```ts
 * const groups = groupBySeries(files.map((f) => readDicomFile(f)));
 * ```
 */
export function groupBySeries(instances: readonly ParsedDicom[]): Map<string, ParsedDicom[]> {
  const out = new Map<string, ParsedDicom[]>();
  for (const p of instances) {
    const uid = p.dataset.uid("SeriesInstanceUID") ?? "";
    const list = out.get(uid) ?? [];
    list.push(p);
    out.set(uid, list);
  }
  return out;
}

function cross(a: readonly number[], b: readonly number[]): [number, number, number] {
  return [
    (a[1] as number) * (b[2] as number) - (a[2] as number) * (b[1] as number),
    (a[2] as number) * (b[0] as number) - (a[0] as number) * (b[2] as number),
    (a[0] as number) * (b[1] as number) - (a[1] as number) * (b[0] as number),
  ];
}

/** Instances of one series in slice order with the geometry derived from them. */
export interface OrderedSeries {
  readonly slices: readonly ParsedDicom[];
  readonly rows: number;
  readonly columns: number;
  /** Image Orientation (Patient): row cosine then column cosine. */
  readonly orientation: readonly number[];
  /** Row cosine × column cosine. */
  readonly normal: readonly [number, number, number];
  /** Pixel Spacing as (column spacing, row spacing), mm. */
  readonly pixelSpacing: readonly [number, number];
  /** Image Position (Patient) of the first slice, when present. */
  readonly origin: readonly number[] | undefined;
  /** Median distance between neighbouring slices along the normal, mm. */
  readonly sliceSpacing: number;
  readonly missingSlices: number;
  readonly warnings: readonly SeriesWarning[];
}

/**
 * Orders the instances of one series along the slice normal without decoding pixels: slices sorted by Image
 * Position (Patient) projected on the normal (row × column direction cosines, PS3.3 C.7.6.2.1.1), spacing from
 * the median neighbour distance, gaps and uneven spacing reported as warnings.
 *
 * @throws DicomError DICOM_SERIES for several series, mixed sizes or orientations.
 * @example
 * ```ts
 * const { slices, sliceSpacing, warnings } = orderSeries(files.map((f) => readDicomFile(f)));
 * ```
 */
export function orderSeries(instances: readonly ParsedDicom[]): OrderedSeries {
  if (instances.length === 0) throw new DicomError("DICOM_SERIES", "No instances given");
  const groups = groupBySeries(instances);
  if (groups.size > 1) {
    throw new DicomError(
      "DICOM_SERIES",
      `The instances belong to ${groups.size} series; pass one series at a time`,
    );
  }
  const warnings: SeriesWarning[] = [];
  const first = instances[0] as ParsedDicom;
  const rows = first.dataset.number("Rows");
  const cols = first.dataset.number("Columns");
  if (rows === undefined || cols === undefined) {
    throw new DicomError("DICOM_SERIES", "The instances have no Rows/Columns: not an image series");
  }
  const geo0 = geometryOf(first.dataset);
  const iop = geo0.orientation ?? [1, 0, 0, 0, 1, 0];
  const rowCos = iop.slice(0, 3);
  const colCos = iop.slice(3, 6);
  const normal = cross(rowCos, colCos);
  const slices = instances.map((p, i) => {
    const ds = p.dataset;
    if (ds.number("Rows") !== rows || ds.number("Columns") !== cols) {
      throw new DicomError(
        "DICOM_SERIES",
        `Instance ${i} is ${ds.number("Columns")}x${ds.number("Rows")} but the series is ${cols}x${rows}: mixed sizes cannot form a volume`,
      );
    }
    const g = geometryOf(ds);
    if (g.orientation?.some((v, k) => Math.abs(v - (iop[k] as number)) > 1e-3)) {
      throw new DicomError(
        "DICOM_SERIES",
        `Instance ${i} has a different Image Orientation (Patient); the series is not one volume`,
      );
    }
    if (Math.abs(g.spacing[0] - geo0.spacing[0]) > 1e-3 || Math.abs(g.spacing[1] - geo0.spacing[1]) > 1e-3) {
      throw new DicomError("DICOM_SERIES", `Instance ${i} has a different Pixel Spacing`);
    }
    const pos = g.position;
    const d = pos
      ? pos[0] * normal[0] + pos[1] * normal[1] + pos[2] * normal[2]
      : (ds.number("InstanceNumber") ?? i);
    return { p, pos, d };
  });
  if (slices.some((s) => !s.pos)) {
    warnings.push({
      code: "NO_POSITION",
      message: "Some instances lack Image Position (Patient); ordered by Instance Number",
    });
  }
  slices.sort((a, b) => a.d - b.d);
  const gaps: number[] = [];
  for (let i = 1; i < slices.length; i++)
    gaps.push((slices[i] as { d: number }).d - (slices[i - 1] as { d: number }).d);
  const sorted = [...gaps].sort((a, b) => a - b);
  const positive = sorted.filter((g) => g > 1e-4);
  const spacing = positive.length
    ? (positive[Math.floor(positive.length / 2)] as number)
    : (first.dataset.number("SliceThickness") ?? 1);
  let missing = 0;
  gaps.forEach((g, i) => {
    if (g <= 1e-4) {
      warnings.push({ code: "DUPLICATE_POSITION", message: `Slices ${i} and ${i + 1} share a position` });
    } else if (g > spacing * 1.5) {
      const m = Math.round(g / spacing) - 1;
      missing += m;
      warnings.push({
        code: "SLICE_GAP",
        message: `About ${m} slice(s) missing between slices ${i} and ${i + 1} (gap ${g.toFixed(3)} mm)`,
      });
    } else if (Math.abs(g - spacing) > Math.max(0.01, spacing * 0.01)) {
      warnings.push({
        code: "UNEVEN_SPACING",
        message: `Gap ${g.toFixed(3)} mm between slices ${i} and ${i + 1} differs from ${spacing.toFixed(3)} mm`,
      });
    }
  });
  const firstPos = slices[0]?.pos;
  return {
    slices: slices.map((s) => s.p),
    rows,
    columns: cols,
    orientation: [...iop],
    normal,
    pixelSpacing: [geo0.spacing[0], geo0.spacing[1]],
    origin: firstPos ? [...firstPos] : undefined,
    sliceSpacing: spacing,
    missingSlices: missing,
    warnings,
  };
}

/**
 * Builds a volume from the instances of one series ordered by {@link orderSeries}: origin at the first slice,
 * direction columns = (row cosine, column cosine, normal).
 *
 * @throws DicomError DICOM_SERIES for several series, mixed sizes or orientations, or missing geometry.
 * @example
 * ```ts
 * const { image, warnings } = await seriesToVolume(files.map((f) => readDicomFile(f)));
 * ```
 */
export async function seriesToVolume(instances: readonly ParsedDicom[]): Promise<SeriesVolume> {
  const o = orderSeries(instances);
  const first = instances[0] as ParsedDicom;
  const rowCos = o.orientation.slice(0, 3);
  const colCos = o.orientation.slice(3, 6);
  const normal = o.normal;
  const rows = o.rows;
  const cols = o.columns;
  // Several slices in flight keep both codec workers busy on compressed series (each slice is one frame).
  const images: MedicalImage[] = await mapConcurrent(o.slices, 4, (p) => dicomToImage(p));
  const per = rows * cols;
  const data = new Float32Array(per * images.length);
  images.forEach((img, k) => {
    if (img.data.length !== per)
      throw new DicomError("DICOM_SERIES", "Only single-frame monochrome instances form a volume");
    data.set(img.data, k * per);
  });
  const origin = o.origin ?? [0, 0, 0];
  const direction = [
    rowCos[0],
    colCos[0],
    normal[0],
    rowCos[1],
    colCos[1],
    normal[1],
    rowCos[2],
    colCos[2],
    normal[2],
  ] as number[];
  const image = createImage(data, [images.length, rows, cols, 1], {
    spacing: [o.pixelSpacing[0], o.pixelSpacing[1], o.sliceSpacing],
    origin: [...origin],
    direction,
    meta: {
      format: "dicom-series",
      modality: first.dataset.string("Modality"),
      units: first.dataset.string("Modality") === "CT" ? "HU" : undefined,
    },
  });
  return {
    image,
    seriesInstanceUID: first.dataset.uid("SeriesInstanceUID") ?? "",
    sliceSpacing: o.sliceSpacing,
    missingSlices: o.missingSlices,
    warnings: o.warnings,
  };
}
