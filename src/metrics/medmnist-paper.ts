/** The MedMNIST v2 paper's test results (Yang et al., Scientific Data 10, 41 (2023), Tables 3 and 4) for the benchmark table. */

/** One row of the paper's tables: test AUC and ACC of a method on a dataset. */
export interface PaperRow {
  readonly method: string;
  readonly auc: number;
  readonly acc: number;
}

/** A dataset's paper rows: the ResNet-18 baseline at the dataset's size and the best AUC and ACC of any method. */
export interface PaperResult {
  /** "ResNet-18 (28)" for 2D sets, "ResNet-18 + 3D" for 3D sets: the rows our recipes must reach. */
  readonly resnet18: PaperRow;
  /** The best AUC and the best ACC over all methods of the table (they may come from different methods). */
  readonly bestAuc: PaperRow;
  readonly bestAcc: PaperRow;
}

/**
 * Rows transcribed from MedMNIST v2 (Yang et al. 2023), Table 3 (2D, 28×28) and Table 4 (3D), for the development
 * sets. Add a dataset by transcribing its rows from the same tables; a dataset without an entry is benchmarked
 * without the paper's columns.
 *
 * @example
 * ```ts
 * MEDMNIST_PAPER.pneumoniamnist?.resnet18; // { method: "ResNet-18 (28)", auc: 0.944, acc: 0.854 }
 * ```
 */
export const MEDMNIST_PAPER: Readonly<Record<string, PaperResult>> = {
  pneumoniamnist: {
    resnet18: { method: "ResNet-18 (28)", auc: 0.944, acc: 0.854 },
    bestAuc: { method: "Google AutoML Vision", auc: 0.991, acc: 0.946 },
    bestAcc: { method: "Google AutoML Vision", auc: 0.991, acc: 0.946 },
  },
  retinamnist: {
    resnet18: { method: "ResNet-18 (28)", auc: 0.717, acc: 0.524 },
    bestAuc: { method: "Google AutoML Vision", auc: 0.75, acc: 0.531 },
    bestAcc: { method: "Google AutoML Vision", auc: 0.75, acc: 0.531 },
  },
  adrenalmnist3d: {
    resnet18: { method: "ResNet-18 + 3D", auc: 0.827, acc: 0.721 },
    bestAuc: { method: "ResNet-18 + ACS", auc: 0.839, acc: 0.754 },
    bestAcc: { method: "auto-sklearn", auc: 0.828, acc: 0.802 },
  },
};
