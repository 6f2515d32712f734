/** MedMNIST .npz datasets as DataSources: `<split>_images` (N, H, W[, C]) or (N, D, H, W) with `<split>_labels` (N, L). */
import { basename } from "node:path";
import { RadioLensError } from "../core/errors.js";
import { createImage, type PixelArray } from "../core/image.js";
import { type NpzArrays, readNpz } from "../io/npz/index.js";
import { MEDMNIST } from "./medmnist-catalogue.js";
import type { DataSource, Label, TaskSpec } from "./types.js";

/** The splits a MedMNIST file holds. */
export type MedmnistSplit = "train" | "val" | "test";

/** Options for {@link medmnistSource}. */
export interface MedmnistSourceOptions {
  /** Task and class names; by default taken from the catalogue entry matching the file name, else inferred. */
  readonly task?: TaskSpec;
  /** Name shown in errors (default: the file name). */
  readonly name?: string;
}

/**
 * A DataSource over arrays already read from a MedMNIST-style .npz. Images keep their dtype (uint8 for MedMNIST);
 * 2D files give `[H, W, C]` images, 3D files (`...mnist3d`) `[D, H, W, 1]` volumes.
 *
 * @example
 * ```ts
 * const train = medmnistSource(readNpz("pneumoniamnist.npz"), "train", { name: "pneumoniamnist" });
 * ```
 */
export function medmnistSource(
  arrays: NpzArrays,
  split: MedmnistSplit,
  opts: MedmnistSourceOptions = {},
): DataSource {
  const name = opts.name ?? "<npz>";
  const get = (key: string) => {
    const a = arrays.get(key);
    if (!a) {
      throw new RadioLensError("RL_ERR_NPZ_MISSING_KEY", {
        path: name,
        key,
        keys: [...arrays.keys()].join(", "),
      });
    }
    return a;
  };
  const images = get(`${split}_images`);
  const labels = get(`${split}_labels`);
  const n = images.shape[0] ?? 0;
  if (labels.shape[0] !== n) {
    throw new RadioLensError("RL_ERR_SHAPE_MISMATCH", {
      detail: `${name}: ${split}_images has ${n} items but ${split}_labels has ${labels.shape[0]}`,
    });
  }
  const info = MEDMNIST[basename(name).replace(/\.npz$/, "")];
  // (N, 28, 28, 28) is a volume; (N, 28, 28, 3) an RGB image.
  const is3d = info?.dims === 3 || (images.shape.length === 4 && (images.shape[3] ?? 0) > 4);
  const itemShape = images.shape.slice(1);
  const shape = is3d || itemShape.length === 2 ? [...itemShape, 1] : itemShape;
  const per = shape.reduce((a, b) => a * b, 1);
  const width = labels.shape.length > 1 ? (labels.shape[1] ?? 1) : 1;
  const labelData = labels.data as ArrayLike<number | bigint>;
  const labelAt = (i: number, j: number): number => Number(labelData[i * width + j]);
  let task = opts.task ?? (info ? { type: info.task, classNames: info.classNames } : undefined);
  if (!task) {
    if (width > 1)
      task = { type: "multilabel", classNames: Array.from({ length: width }, (_, j) => `label${j}`) };
    else {
      let max = 0;
      for (let i = 0; i < n; i++) max = Math.max(max, labelAt(i, 0));
      task = {
        type: max <= 1 ? "binary" : "multiclass",
        classNames: Array.from({ length: max + 1 }, (_, c) => String(c)),
      };
    }
  }
  const resolved = task;
  const data = images.data as PixelArray;
  const ctor = data.constructor as new (buf: ArrayBufferLike, off: number, len: number) => PixelArray;
  return {
    task: resolved,
    size: n,
    label(i: number): Label {
      if (resolved.type === "multilabel") return Array.from({ length: width }, (_, j) => labelAt(i, j));
      return labelAt(i, 0);
    },
    group: () => undefined,
    async load(i: number) {
      if (!(i >= 0 && i < n)) throw new RangeError(`index ${i} outside 0..${n - 1}`);
      // A copy, so a sample never pins the whole archive's buffer once the source is dropped.
      const view = new ctor(data.buffer, data.byteOffset + i * per * data.BYTES_PER_ELEMENT, per);
      const image = createImage(view.slice(), shape, { meta: { source: "medmnist", split } });
      return { image, label: this.label(i), index: i };
    },
  };
}

/**
 * Opens one split of a MedMNIST .npz file (reads only that split's arrays).
 *
 * @example
 * ```ts
 * const test = openMedmnist("../shared/data/medmnist/pneumoniamnist.npz", "test");
 * test.size; // 624
 * ```
 */
export function openMedmnist(
  path: string,
  split: MedmnistSplit,
  opts: MedmnistSourceOptions = {},
): DataSource {
  const arrays = readNpz(path, [`${split}_images`, `${split}_labels`]);
  return medmnistSource(arrays, split, {
    name: opts.name ?? path,
    ...(opts.task ? { task: opts.task } : {}),
  });
}
