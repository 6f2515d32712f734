/** Training-time safety fits: the OOD detector on the training split, its threshold and the calibration temperature on the validation split. */

import type * as tfl from "@tensorflow/tfjs-layers";
import type { BatchSource } from "../core/dataset.js";
import type { Task } from "../core/task.js";
import { stratifiedSample } from "../data/split.js";
import { tf } from "../engine/backend.js";
import { applyTemperature, type Calibration, eceOf, fitTemperature } from "../models/calibration.js";
import { withFeatureOutputs } from "../models/features.js";
import type { IntendedUseInputs } from "../models/intended-use.js";
import { fitMahalanobisLayer, mahalanobisScores, type OodDetector, quantile } from "../models/ood.js";

/** Fraction of the validation split the OOD threshold keeps in distribution. */
export const OOD_KEEP = 0.95;

/**
 * Most training images the Mahalanobis detector (Lee et al. 2018) is fitted on. Its class means and shared
 * covariance of a few hundred feature dimensions (512 at most in the zoo) are well estimated from a few thousand
 * samples, with the shrinkage fitMahalanobisLayer adds, while the feature pass costs in proportion to the images it
 * reads: docs/adr/144-safety-fit-sample.md has the measurements.
 */
export const OOD_FIT_SAMPLES = 2048;

/** Batch size of the safety fit's feature passes over 2D images (inference only: no gradients are kept). */
export const FEATURE_BATCH = 256;

/**
 * The stratum of each target row for {@link safetySample}: the class of a one-hot (or soft) row, one stratum for
 * multi-label rows (no single class to keep the share of).
 *
 * @example
 * ```ts
 * stratumOfTargets(Float32Array.of(1, 0, 0, 1), 2, false); // [0, 1]
 * ```
 */
export function stratumOfTargets(y: Float32Array, k: number, multilabel: boolean): number[] {
  const n = y.length / k;
  const out = new Array<number>(n).fill(0);
  if (multilabel) return out;
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let j = 1; j < k; j++) if ((y[i * k + j] as number) > (y[i * k + best] as number)) best = j;
    out[i] = best;
  }
  return out;
}

/**
 * Indices of the training samples the OOD detector is fitted on: a class-stratified sample of at most `cap`
 * (default {@link OOD_FIT_SAMPLES}), seeded from the run's seed so that the same seed gives the same detector.
 *
 * @example
 * ```ts
 * const idx = safetySample(stratumOfTargets(yTrain, 2, false), config.seed);
 * ```
 */
export function safetySample(strata: ArrayLike<number>, seed: number, cap = OOD_FIT_SAMPLES): number[] {
  // A stream of its own: the same seed also orders the training batches, which this must not mirror.
  return stratifiedSample(strata, cap, Math.imul(seed ^ 0x0d5a_f17e, 0x9e3779b1) | 0);
}

/** Options of {@link fitSafety}. */
export interface SafetyOptions {
  readonly task: Task;
  readonly numClasses: number;
  readonly activation: "softmax" | "sigmoid";
  readonly oodAction?: "refuse" | "flag";
  /** Size of the whole training split when `train` is a sample of it (recorded in the card). */
  readonly trainSplit?: number;
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
 * Fits the multi-layer Mahalanobis detector (Lee et al. 2018) on the features of `train` (the un-augmented
 * training split or a {@link safetySample} of it), sets its
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
      fittedOn: {
        train: tr.rows.length,
        ...(opts.trainSplit !== undefined && opts.trainSplit > tr.rows.length
          ? { trainSplit: opts.trainSplit, trainSample: "class-stratified, seeded" }
          : {}),
        val: va.rows.length,
        features: outputs,
      },
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
