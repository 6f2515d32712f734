/** MedMNIST-style .npz splits (`<split>_images`, `<split>_labels`) as float tensors data with task and class count. */
import { basename } from "node:path";
import { RadioLensError } from "../core/errors.js";
import type { Task } from "../core/task.js";
import { readNpz } from "../io/npz/index.js";
import { MEDMNIST } from "./medmnist-catalogue.js";

/** One split of an .npz dataset, ready for training or evaluation. */
export interface NpzSplit {
  /** Images scaled to [0, 1] (uint8 / 255; other dtypes by their range), `[n, rows, cols, channels]`. */
  readonly x: Float32Array;
  readonly sampleShape: readonly [number, number, number];
  /**
   * The model's input shape of one sample: `[rows, cols, channels]` for images, `[slices, rows, cols, 1]` for
   * volumes (3D MedMNIST files hold `[n, slices, rows, cols]`, which `sampleShape` reads as 2D with `slices` rows).
   */
  readonly shape: readonly number[];
  /** 2 for images, 3 for volumes. */
  readonly dims: 2 | 3;
  /** Integer class per sample (single-label) or 0/1 per label (multi-label), `[n, labelColumns]`. */
  readonly labels: Int32Array;
  readonly labelColumns: number;
  readonly count: number;
}

/** A loaded dataset with the facts the model needs. */
export interface NpzDataset {
  readonly path: string;
  readonly task: Task;
  readonly numClasses: number;
  readonly labelNames: readonly string[];
  readonly splits: Readonly<Record<string, NpzSplit>>;
}

/** Label names of MedMNIST v2 datasets (Yang et al., Scientific Data 2023, the `INFO` of the medmnist package). */
const MEDMNIST_LABELS: Readonly<Record<string, readonly string[]>> = {
  pneumoniamnist: ["normal", "pneumonia"],
  breastmnist: ["malignant", "normal, benign"],
  bloodmnist: [
    "basophil",
    "eosinophil",
    "erythroblast",
    "immature granulocytes",
    "lymphocyte",
    "monocyte",
    "neutrophil",
    "platelet",
  ],
  dermamnist: [
    "actinic keratoses and intraepithelial carcinoma",
    "basal cell carcinoma",
    "benign keratosis-like lesions",
    "dermatofibroma",
    "melanoma",
    "melanocytic nevi",
    "vascular lesions",
  ],
};

/**
 * Whether `[n, a, b, c]` images are volumes: a 3D MedMNIST file name (`...mnist3d[_64].npz`), or a last axis too long
 * to be colour channels (MedMNIST 2D files have 1 or 3).
 */
function isVolume(path: string, s: readonly number[]): boolean {
  if (s.length !== 4) return false;
  if (/3d(_\d+)?\.npz$/i.test(basename(path))) return true;
  return (s[3] as number) > 4;
}

function toSplit(
  path: string,
  images: { dtype: string; shape: readonly number[]; data: ArrayLike<number> },
  labels: { shape: readonly number[]; data: ArrayLike<number> },
): NpzSplit {
  const s = images.shape;
  if (s.length !== 3 && s.length !== 4) {
    throw new RadioLensError("RL_ERR_SHAPE_MISMATCH", {
      detail: `${basename(path)}: images must be [n, rows, cols] or [n, rows, cols, channels], got [${s.join(", ")}]`,
    });
  }
  const count = s[0] as number;
  const sampleShape: [number, number, number] = [
    s[1] as number,
    s[2] as number,
    (s[3] as number | undefined) ?? 1,
  ];
  if ((labels.shape[0] as number) !== count) {
    throw new RadioLensError("RL_ERR_SHAPE_MISMATCH", {
      detail: `${basename(path)}: ${count} images but ${labels.shape[0]} labels`,
    });
  }
  const scale = images.dtype === "uint8" ? 255 : images.dtype === "uint16" ? 65535 : 1;
  const x = new Float32Array(images.data.length);
  for (let i = 0; i < x.length; i++) x[i] = (images.data[i] as number) / scale;
  const labelColumns = labels.shape.length > 1 ? (labels.shape[1] as number) : 1;
  const lab = Int32Array.from(labels.data as ArrayLike<number>);
  const dims = isVolume(path, s) ? 3 : 2;
  const shape = dims === 3 ? [s[1] as number, s[2] as number, s[3] as number, 1] : [...sampleShape];
  return { x, sampleShape, shape, dims, labels: lab, labelColumns, count };
}

/**
 * Loads the named splits of a MedMNIST-style .npz and infers the task: several label columns → multi-label,
 * two classes → binary, more → multi-class.
 *
 * @example
 * ```ts
 * const ds = loadNpzDataset("pneumoniamnist.npz", ["train", "val"]);
 * ds.splits.train.count; // 4708
 * ```
 */
export function loadNpzDataset(path: string, splits: readonly string[]): NpzDataset {
  const keys = splits.flatMap((s) => [`${s}_images`, `${s}_labels`]);
  const npz = readNpz(path, keys);
  const out: Record<string, NpzSplit> = {};
  for (const s of splits) out[s] = toSplit(path, npz.get(`${s}_images`)!, npz.get(`${s}_labels`)!);
  const first = out[splits[0] as string] as NpzSplit;
  let task: Task;
  let numClasses: number;
  if (first.labelColumns > 1) {
    task = "multilabel";
    numClasses = first.labelColumns;
  } else {
    let max = 0;
    for (const sp of Object.values(out)) for (const v of sp.labels) max = Math.max(max, v);
    numClasses = Math.max(2, max + 1);
    task = numClasses === 2 ? "binary" : "multiclass";
  }
  const key = basename(path)
    .replace(/(_\d+)?\.npz$/i, "")
    .toLowerCase();
  const known = MEDMNIST_LABELS[key] ?? MEDMNIST[key]?.classNames;
  const labelNames =
    known && known.length === numClasses ? known : Array.from({ length: numClasses }, (_, i) => `class_${i}`);
  return { path, task, numClasses, labelNames, splits: out };
}

/**
 * One-hot (single-label) or 0/1 (multi-label) float targets for a split.
 *
 * @example
 * ```ts
 * const y = targetsOf(ds.splits.train, ds); // [n, numClasses]
 * ```
 */
export function targetsOf(split: NpzSplit, ds: Pick<NpzDataset, "task" | "numClasses">): Float32Array {
  if (ds.task === "multilabel") return Float32Array.from(split.labels);
  const y = new Float32Array(split.count * ds.numClasses);
  for (let i = 0; i < split.count; i++) y[i * ds.numClasses + (split.labels[i] as number)] = 1;
  return y;
}
