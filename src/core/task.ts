/** Kinds of prediction task shared by data, models, metrics and serving. */

/** binary and multiclass are single-label; multilabel has independent 0/1 labels; segmentation is per pixel. */
export type Task = "binary" | "multiclass" | "multilabel" | "segmentation";
