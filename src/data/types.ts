/** Dataset vocabulary shared by every source, splitter and loader: tasks, labels, samples and the DataSource contract. */
import type { MedicalImage } from "../core/image.js";

/** Kinds of classification target. */
export type TaskType = "binary" | "multiclass" | "multilabel" | "segmentation";

/** What a dataset's labels mean. */
export interface TaskSpec {
  readonly type: TaskType;
  /** Class names in index order (binary: two names; multi-label: one per label; segmentation: one per mask value, background first). */
  readonly classNames: readonly string[];
}

/**
 * A class index (binary, multi-class) or a 0/1 vector with one entry per label (multi-label). Segmentation samples
 * carry 1 when their mask has any foreground, 0 otherwise, so splits can stratify by lesion presence.
 */
export type Label = number | readonly number[];

/** One decoded example. */
export interface Sample {
  readonly image: MedicalImage;
  readonly label: Label;
  /** Position of the sample in its source. */
  readonly index: number;
  /** Label map for segmentation: same spatial shape as the image, one channel, values 0..classes-1. */
  readonly mask?: MedicalImage;
  /** Clinical covariates for fusion models (e.g. scaled age, one-hot sex). */
  readonly tabular?: Float32Array;
}

/**
 * A random-access dataset whose labels and patient groups are cheap and whose pixels are read on demand, so that
 * splitting and sampling never touch image bytes and a loader holds only what it is about to use.
 *
 * @example
 * ```ts
 * const src: DataSource = await openMedmnist("pneumoniamnist.npz", "train");
 * const first = await src.load(0);
 * ```
 */
export interface DataSource {
  readonly task: TaskSpec;
  readonly size: number;
  /** Label of item i without reading its pixels. */
  label(i: number): Label;
  /** Patient (group) id of item i, when the source knows one; used for splits only, never logged. */
  group(i: number): string | undefined;
  /** Reads and decodes item i. */
  load(i: number): Promise<Sample>;
}

/**
 * A view of a source restricted to some of its items (a split or a fold), re-indexed from 0.
 *
 * @example
 * ```ts
 * const train = subset(all, splits.train);
 * ```
 */
export function subset(source: DataSource, indices: readonly number[]): DataSource {
  const idx = Int32Array.from(indices);
  const at = (i: number): number => {
    const j = idx[i];
    if (j === undefined || i < 0) throw new RangeError(`index ${i} outside a subset of ${idx.length}`);
    return j;
  };
  return {
    task: source.task,
    size: idx.length,
    label: (i) => source.label(at(i)),
    group: (i) => source.group(at(i)),
    load: async (i) => ({ ...(await source.load(at(i))), index: i }),
  };
}

/**
 * Number of outputs a model needs for the task (2 for binary with softmax heads).
 *
 * @example
 * ```ts
 * numClasses({ type: "binary", classNames: ["normal", "pneumonia"] }); // 2
 * ```
 */
export function numClasses(task: TaskSpec): number {
  return task.classNames.length;
}
