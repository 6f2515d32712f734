/** The MedMNIST evaluator's ACC and AUC (medmnist/evaluator.py getACC/getAUC, Yang et al. 2023), reproduced for comparable numbers. */
import { computeRocAuc, type ScoreRows } from "./ranking.js";
import { checkSameLength, metricInputError } from "./stats.js";

/** MedMNIST task names as they appear in the dataset's INFO. */
export type MedmnistTask =
  | "binary-class"
  | "multi-class"
  | "ordinal-regression"
  | "multi-label, binary-class";

/** MedMNIST's two reported numbers. */
export interface MedmnistScores {
  readonly auc: number;
  readonly acc: number;
}

function col(rows: ScoreRows, c: number): Float64Array {
  return Float64Array.from(rows, (r) => r[c] as number);
}

/**
 * ACC and AUC exactly as the MedMNIST evaluator defines them:
 * - binary: the last score column (or the only one) is P(class 1); ACC at `score > 0.5` (strictly greater);
 *   AUC = binary ROC AUC.
 * - multi-class / ordinal: ACC of the arg-max; AUC = unweighted mean of the K one-vs-rest AUCs.
 * - multi-label: ACC = mean over labels of per-label accuracy at `score > 0.5`; AUC = mean per-label AUC.
 * An AUC whose label set has one class is NaN (MedMNIST's scikit-learn call raises there).
 *
 * @example
 * ```ts
 * medmnistEvaluate("binary-class", [0, 1, 1], [[0.7, 0.3], [0.2, 0.8], [0.6, 0.4]]); // { auc: 1, acc: 2/3 }
 * ```
 */
export function medmnistEvaluate(
  task: MedmnistTask,
  yTrue: ArrayLike<number> | ScoreRows,
  yScore: ScoreRows | ArrayLike<number>,
  threshold = 0.5,
): MedmnistScores {
  checkSameLength("medmnist", yTrue, yScore);
  const n = yTrue.length;
  const rows = (x: ScoreRows | ArrayLike<number>): ScoreRows =>
    typeof x[0] === "number" ? Array.from(x as ArrayLike<number>, (v) => [v]) : (x as ScoreRows);
  const scores = rows(yScore);
  if (task === "multi-label, binary-class") {
    const truth = rows(yTrue as ScoreRows);
    const l = scores[0]?.length ?? 0;
    let acc = 0;
    let auc = 0;
    for (let c = 0; c < l; c++) {
      const y = col(truth, c);
      const s = col(scores, c);
      let hit = 0;
      for (let i = 0; i < n; i++) if ((s[i]! > threshold ? 1 : 0) === y[i]) hit++;
      acc += hit / n;
      auc += computeRocAuc(y, s);
    }
    return { auc: auc / l, acc: acc / l };
  }
  const y = Float64Array.from(yTrue as ArrayLike<number>, (v) => {
    if (typeof v !== "number")
      throw metricInputError("medmnist", "labels must be class indices for this task");
    return v;
  });
  if (task === "binary-class") {
    const s = col(scores, (scores[0]?.length ?? 1) - 1);
    let hit = 0;
    for (let i = 0; i < n; i++) if ((s[i]! > threshold ? 1 : 0) === y[i]) hit++;
    return { auc: computeRocAuc(y, s), acc: hit / n };
  }
  const k = scores[0]?.length ?? 0;
  let hit = 0;
  for (let i = 0; i < n; i++) {
    const row = scores[i]!;
    let best = 0;
    for (let c = 1; c < k; c++) if ((row[c] as number) > (row[best] as number)) best = c;
    if (best === y[i]) hit++;
  }
  let auc = 0;
  for (let c = 0; c < k; c++) {
    auc += computeRocAuc(
      Float64Array.from(y, (v) => (v === c ? 1 : 0)),
      col(scores, c),
    );
  }
  return { auc: auc / k, acc: hit / n };
}
