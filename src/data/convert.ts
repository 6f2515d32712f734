/** File conversion behind `radiolens convert`: any readable input, chosen by content, to PNG or NIfTI. */
import { readFileSync, statSync } from "node:fs";
import { RadioLensError } from "../core/errors.js";
import { writeFileAtomic } from "../core/fs.js";
import { createImage, type MedicalImage } from "../core/image.js";
import { looksLikeRawDicom } from "../io/describe.js";
import { type ConvertOptions, type ConvertResult, convertDicom } from "../io/dicom/convert.js";
import { applyVoiLut, minMaxWindow, type VoiLut, WINDOW_PRESETS } from "../io/dicom/pipeline.js";
import { encodePng } from "../io/image/png.js";
import { knownFormats, readImage, sniffFormat } from "../io/index.js";
import { readNifti, writeNifti } from "../io/nifti/index.js";
import { orient } from "../transforms/spatial.js";

/** A voxel axis of a NIfTI volume: i (fastest, x), j (y) or k (slowest, z). */
export type VoxelAxis = "i" | "j" | "k";

/** Options of {@link convertPath}: those of DICOM conversion, plus slicing and re-orientation of volumes. */
export interface ConvertPathOptions extends ConvertOptions {
  /** Volume → PNG: the slice index along `axis`; without it every slice goes into one montage. */
  readonly slice?: number;
  /** Volume → PNG: the voxel axis sliced (default "k"). */
  readonly axis?: VoxelAxis;
  /**
   * NIfTI input: reorder and flip the voxel axes (no resampling) so that i, j, k point as these letters say,
   * e.g. "RAS" (nibabel's canonical) or "LPS" (DICOM's); geometry is updated so world positions stay the same.
   */
  readonly orient?: string;
}

function kindOf(output: string): "png" | "nifti" {
  const lower = output.toLowerCase();
  if (lower.endsWith(".png")) return "png";
  if (lower.endsWith(".nii") || lower.endsWith(".nii.gz")) return "nifti";
  throw new RadioLensError("RL_ERR_CONVERT_UNSUPPORTED", {
    input: output,
    detail: "the output must end in .png, .nii or .nii.gz",
  });
}

function voiOf(voi: ConvertOptions["voi"], values: ArrayLike<number>): VoiLut {
  if (voi === undefined) return minMaxWindow(finite(values));
  if (typeof voi === "string") return { kind: "window", ...WINDOW_PRESETS[voi], fn: "LINEAR" };
  return voi;
}

function finite(values: ArrayLike<number>): Float64Array {
  const out: number[] = [];
  for (let i = 0; i < values.length; i++) {
    const v = values[i] as number;
    if (Number.isFinite(v)) out.push(v);
  }
  return Float64Array.from(out);
}

/** One channel of a volume as a flat array `[slices, rows, cols]` with its sizes. */
interface Volume {
  readonly data: Float64Array;
  readonly nk: number;
  readonly nj: number;
  readonly ni: number;
}

function channelOf(img: MedicalImage, channel: number): Volume {
  const s = img.shape;
  const [nk, nj, ni, ch] = (s.length === 3 ? [1, s[0], s[1], s[2]] : s) as [number, number, number, number];
  if (!Number.isInteger(channel) || channel < 0 || channel >= ch) {
    throw new RadioLensError("RL_ERR_CONVERT_UNSUPPORTED", {
      input: String(img.meta["source"] ?? "the volume"),
      detail: `frame ${channel} is outside 0..${ch - 1} (the volume has ${ch} frame(s) or channel(s))`,
    });
  }
  const n = nk * nj * ni;
  const data = new Float64Array(n);
  for (let v = 0; v < n; v++) data[v] = img.data[v * ch + channel] as number;
  return { data, nk, nj, ni };
}

/**
 * One plane of a volume, rows along the slower remaining voxel axis and columns along the faster one, in stored
 * order (no flips): along k, rows are j and columns i (nibabel's `arr[:, :, n].T`); along j, rows k and columns i;
 * along i, rows k and columns j.
 */
function planeOf(
  v: Volume,
  axis: VoxelAxis,
  index: number,
): { data: Float64Array; rows: number; cols: number } {
  const size = axis === "k" ? v.nk : axis === "j" ? v.nj : v.ni;
  if (!Number.isInteger(index) || index < 0 || index >= size) {
    throw new RadioLensError("RL_ERR_CONVERT_UNSUPPORTED", {
      input: "the volume",
      detail: `slice ${index} is outside 0..${size - 1} along ${axis}`,
    });
  }
  const { nj, ni } = v;
  if (axis === "k") return { data: v.data.slice(index * nj * ni, (index + 1) * nj * ni), rows: nj, cols: ni };
  const rows = v.nk;
  const cols = axis === "j" ? ni : nj;
  const out = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      out[r * cols + c] = v.data[
        axis === "j" ? (r * nj + index) * ni + c : (r * nj + c) * ni + index
      ] as number;
    }
  }
  return { data: out, rows, cols };
}

function to8Bit(values: Float64Array, voi: VoiLut): Uint8Array {
  const y = applyVoiLut(values, voi);
  const out = new Uint8Array(y.length);
  // Same rounding as DICOM display output; NaN voxels (outside any window) are black.
  for (let i = 0; i < y.length; i++) out[i] = Math.round((y[i] as number) * 255);
  return out;
}

function volumeToPng(img: MedicalImage, output: string, options: ConvertPathOptions): ConvertResult {
  const vol = channelOf(img, options.frame ?? 0);
  const voi = voiOf(options.voi, vol.data);
  const axis = options.axis ?? "k";
  let plane: { data: Float64Array; rows: number; cols: number };
  if (img.shape.length === 3) {
    if ((options.slice ?? 0) !== 0) {
      throw new RadioLensError("RL_ERR_CONVERT_UNSUPPORTED", {
        input: "a 2D image",
        detail: "it has one slice (0)",
      });
    }
    plane = planeOf(vol, "k", 0);
  } else if (options.slice !== undefined) {
    plane = planeOf(vol, axis, options.slice);
  } else {
    // A montage: every slice in stored order, left to right then top to bottom, on a near-square grid.
    const n = axis === "k" ? vol.nk : axis === "j" ? vol.nj : vol.ni;
    const first = planeOf(vol, axis, 0);
    const gridCols = Math.ceil(Math.sqrt(n));
    const gridRows = Math.ceil(n / gridCols);
    const rows = gridRows * first.rows;
    const cols = gridCols * first.cols;
    const data = new Float64Array(rows * cols).fill(Number.NaN);
    for (let t = 0; t < n; t++) {
      const p = planeOf(vol, axis, t);
      const r0 = Math.floor(t / gridCols) * p.rows;
      const c0 = (t % gridCols) * p.cols;
      for (let r = 0; r < p.rows; r++)
        data.set(p.data.subarray(r * p.cols, (r + 1) * p.cols), (r0 + r) * cols + c0);
    }
    plane = { data, rows, cols };
  }
  const pixels = to8Bit(plane.data, voi);
  writeFileAtomic(output, encodePng(createImage(pixels, [plane.rows, plane.cols, 1])));
  return { output, shape: [plane.rows, plane.cols, 1], dtype: "uint8", warnings: [] };
}

function dtypeName(img: MedicalImage): string {
  return img.data.constructor.name.replace("Array", "").toLowerCase();
}

function unsupported(input: string, detail: string): RadioLensError {
  return new RadioLensError("RL_ERR_CONVERT_UNSUPPORTED", { input, detail });
}

/**
 * Converts a file or folder, its format chosen by content (never by name): DICOM files and series folders as
 * {@link convertDicom}; a NIfTI/Analyze volume to PNG (one slice, or a montage of every slice, windowed with
 * the DICOM LINEAR function of PS3.3 C.11.2.1.2: an explicit window, a preset, else the volume's min–max) or to
 * NIfTI (`.nii` ↔ `.nii.gz`, optionally re-oriented, geometry kept); PNG/JPEG to PNG or NIfTI. Output is written
 * atomically; nothing is written when the input is refused.
 *
 * @throws RadioLensError RL_ERR_UNKNOWN_FORMAT (with the formats tried) for an input no reader recognises,
 *   RL_ERR_CONVERT_UNSUPPORTED for a conversion that does not exist (e.g. an .npz archive).
 * @example
 * ```ts
 * await convertPath("hippocampus_001.nii.gz", "slice.png", { slice: 17, voi: { kind: "window", center: 70, width: 100 } });
 * await convertPath("t1.nii", "t1_ras.nii.gz", { orient: "RAS" });
 * ```
 */
export async function convertPath(
  input: string,
  output: string,
  options: ConvertPathOptions = {},
): Promise<ConvertResult> {
  const to = kindOf(output);
  const st = statSync(input, { throwIfNoEntry: false });
  if (!st) throw new RadioLensError("RL_ERR_FILE_NOT_FOUND", { path: input });
  const volumeOnly =
    options.slice !== undefined || options.axis !== undefined || options.orient !== undefined;
  if (st.isDirectory()) {
    if (volumeOnly) throw unsupported(input, "--slice, --axis and --orient apply to NIfTI input");
    return convertDicom(input, output, options);
  }
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(input);
  } catch (e) {
    throw new RadioLensError("RL_ERR_IO", { path: input, detail: (e as Error).message });
  }
  const format = sniffFormat(bytes) ?? (looksLikeRawDicom(bytes) ? "dicom" : undefined);
  switch (format) {
    case "dicom":
      if (volumeOnly) throw unsupported(input, "--slice, --axis and --orient apply to NIfTI input");
      return convertDicom(input, output, options);
    case "nifti":
    case "analyze": {
      let img = readNifti(input);
      if (options.orient !== undefined) img = orient({ axcodes: options.orient })(img);
      if (to === "png") return volumeToPng(img, output, options);
      writeNifti(output, img);
      return { output, shape: img.shape, dtype: dtypeName(img), warnings: [] };
    }
    case "png":
    case "jpeg": {
      if (volumeOnly) throw unsupported(input, "--slice, --axis and --orient apply to NIfTI input");
      const img = await readImage(bytes, {}, input);
      if (to === "nifti") {
        writeNifti(output, img);
        return { output, shape: img.shape, dtype: dtypeName(img), warnings: [] };
      }
      if (options.voi !== undefined)
        throw unsupported(input, "--window and --preset apply to DICOM and NIfTI input");
      writeFileAtomic(output, encodePng(img));
      return { output, shape: img.shape, dtype: dtypeName(img), warnings: [] };
    }
    case "npz":
      throw unsupported(
        input,
        "an .npz archive holds many images; train on it directly or read it with readNpz",
      );
    default:
      throw new RadioLensError("RL_ERR_UNKNOWN_FORMAT", { path: input, tried: knownFormats().join(", ") });
  }
}
