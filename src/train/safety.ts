/** Training-time safety fits: the OOD detector on the training split, its threshold and the calibration temperature on the validation split. */

import type * as tfl from "@tensorflow/tfjs-layers";
import type { BatchSource } from "../core/dataset.js";
import type { Task } from "../core/task.js";
import { tf } from "../engine/backend.js";
import { applyTemperature, type Calibration, eceOf, fitTemperature } from "../models/calibration.js";
import { withFeatureOutputs } from "../models/features.js";
import type { IntendedUseInputs } from "../models/intended-use.js";
import { fitMahalanobisLayer, mahalanobisScores, type OodDetector, quantile } from "../models/ood.js";

/** Fraction of the validation split the OOD threshold keeps in distribution. */
export const OOD_KEEP = 0.95;

/** Options of {@link fitSafety}. */
export interface SafetyOptions {
  readonly task: Task;
  readonly numClasses: number;
  readonly activation: "softmax" | "sigmoid";
  readonly oodAction?: "refuse" | "flag";
}

/** What {@link fitSafety} adds to the card and to metrics.json. */
export interface SafetyFit {
  readonly ood: OodDetector;
  readonly calibration: Calibration;
}

interface Collected {
  rows: Float32Array[];
  feats: Float32Array[][];
  /** Class per sample (single-label) or the label vectors concatenated (multi-label). */
  labels: number[];
}

async function collect(
  fm: tfl.LayersModel,
  src: BatchSource,
  layers: number,
  multilabel: boolean,
): Promise<Collected> {
  const out: Collected = { rows: [], feats: Array.from({ length: layers }, () => []), labels: [] };
  for await (const b of src.epoch(0)) {
    const n = b.xShape[0] as number;
    const ys = tf.tidy(() =>
      (fm.predict(tf.tensor(b.x, [...b.xShape])) as tf.Tensor[]).map((t) => t.dataSync() as Float32Array),
    );
    ys.forEach((y, l) => {
      const k = y.length / n;
      for (let i = 0; i < n; i++) {
        const r = y.slice(i * k, (i + 1) * k);
        if (l === 0) out.rows.push(r);
        else (out.feats[l - 1] as Float32Array[]).push(r);
      }
    });
    const k = b.y.length / n;
    for (let i = 0; i < n; i++) {
      const t = b.y.subarray(i * k, (i + 1) * k);
      if (multilabel) out.labels.push(...Array.from(t, (v) => (v >= 0.5 ? 1 : 0)));
      else {
        let best = 0;
        for (let j = 1; j < k; j++) if ((t[j] as number) > (t[best] as number)) best = j;
        out.labels.push(best);
      }
    }
  }
  return out;
}

/**
 * Fits the multi-layer Mahalanobis detector (Lee et al. 2018) on the training split's features, sets its
 * threshold at the {@link OOD_KEEP} quantile of the validation split's scores, and fits temperature scaling
 * (Guo et al. 2017) on the validation outputs. Multi-label models use one Gaussian per layer (no single class).
 *
 * @example
 * ```ts
 * const { ood, calibration } = await fitSafety(model, data.train, data.val, { task: "binary", numClasses: 2, activation: "softmax" });
 * ```
 */
export async function fitSafety(
  model: tfl.LayersModel,
  train: BatchSource,
  val: BatchSource,
  opts: SafetyOptions,
): Promise<SafetyFit> {
  const { model: fm, outputs } = withFeatureOutputs(model);
  const multilabel = opts.task === "multilabel";
  const tr = await collect(fm, train, outputs.length, multilabel);
  const classes = multilabel ? new Array<number>(tr.rows.length).fill(0) : tr.labels;
  const layers = outputs.map((o, l) =>
    fitMahalanobisLayer(o, tr.feats[l] as Float32Array[], classes, multilabel ? 1 : opts.numClasses),
  );
  const va = await collect(fm, val, outputs.length, multilabel);
  const scores = mahalanobisScores(layers, va.feats);
  const temperature = fitTemperature(va.rows, va.labels, opts.task, opts.activation);
  const scaled = va.rows.map((r) => applyTemperature(r, temperature, opts.activation));
  return {
    ood: {
      method: "mahalanobis",
      layers,
      threshold: quantile(scores, OOD_KEEP),
      keep: OOD_KEEP,
      action: opts.oodAction ?? "refuse",
      fittedOn: { train: tr.rows.length, val: va.rows.length, features: outputs },
    },
    calibration: {
      method: "temperature",
      temperature,
      eceBefore: eceOf(va.rows, va.labels, opts.task),
      eceAfter: eceOf(scaled, va.labels, opts.task),
      fittedOn: "val",
    },
  };
}

/** Intended use of the MedMNIST 2D sets by name (Yang et al. 2023, Table 1), for `radiolens train` without flags. */
const MEDMNIST_INTENDED: Readonly<Record<string, IntendedUseInputs>> = {
  pneumoniamnist: {
    modalities: ["CR", "DX"],
    bodyParts: ["CHEST"],
    photometricInterpretations: ["MONOCHROME1", "MONOCHROME2"],
  },
  chestmnist: {
    modalities: ["CR", "DX"],
    bodyParts: ["CHEST"],
    photometricInterpretations: ["MONOCHROME1", "MONOCHROME2"],
  },
  breastmnist: { modalities: ["US"], bodyParts: ["BREAST"] },
  organamnist: { modalities: ["CT"], bodyParts: ["ABDOMEN"] },
  organcmnist: { modalities: ["CT"], bodyParts: ["ABDOMEN"] },
  organsmnist: { modalities: ["CT"], bodyParts: ["ABDOMEN"] },
  retinamnist: { modalities: ["OP"], bodyParts: ["EYE"] },
  dermamnist: { modalities: ["XC"], bodyParts: ["SKIN"] },
  octmnist: { modalities: ["OPT"], bodyParts: ["EYE"] },
  bloodmnist: { modalities: ["SM"] },
  pathmnist: { modalities: ["SM"] },
  tissuemnist: { modalities: ["SM"] },
};

/**
 * The intended inputs a MedMNIST dataset implies, from its file name (`pneumoniamnist_128.npz` → chest CR/DX).
 *
 * @example
 * ```ts
 * intendedInputsOfDataset("pneumoniamnist.npz"); // { modalities: ["CR", "DX"], bodyParts: ["CHEST"], ... }
 * ```
 */
export function intendedInputsOfDataset(file: string): IntendedUseInputs | undefined {
  const m = /([a-z0-9]+?mnist)(?:_\d+)?\.npz$/i.exec(file.split(/[\\/]/).pop() ?? "");
  return m ? MEDMNIST_INTENDED[(m[1] as string).toLowerCase()] : undefined;
}
