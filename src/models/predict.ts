/** Batch inference on a loaded bundle: images → preprocessed tensor → class probabilities. */
import type * as tfl from "@tensorflow/tfjs-layers";
import type { MedicalImage } from "../core/image.js";
import { tf } from "../engine/backend.js";
import type { ModelCard } from "./bundle.js";
import { applyTemperature } from "./calibration.js";
import type { OodResult } from "./ood.js";
import { preprocessForModel } from "./preprocess.js";

/** One image's prediction. */
export interface Prediction {
  /** Probability per label, in `card.labels` order. */
  readonly probabilities: Readonly<Record<string, number>>;
  /** The predicted label (argmax, or every label over the threshold for multi-label, joined by "|"). */
  readonly label: string;
  readonly threshold: number;
  /** The out-of-distribution verdict, when the model has a detector. */
  readonly ood?: OodResult;
}

/**
 * Runs the model on preprocessed inputs `[n, ...inputShape]` and returns raw output rows. Runs in tf.tidy; batches
 * of `batchSize` keep memory bounded.
 *
 * @example
 * ```ts
 * const rows = predictArrays(model, x, [28, 28, 1], 256);
 * ```
 */
export function predictArrays(
  model: tfl.LayersModel,
  x: Float32Array,
  inputShape: readonly number[],
  batchSize = 256,
): Float32Array[] {
  const per = inputShape.reduce((a, b) => a * b, 1);
  const n = x.length / per;
  const rows: Float32Array[] = [];
  for (let s = 0; s < n; s += batchSize) {
    const e = Math.min(n, s + batchSize);
    const out = tf.tidy(() => {
      const t = tf.tensor(x.subarray(s * per, e * per), [e - s, ...inputShape]);
      return (model.predict(t) as tf.Tensor).dataSync() as Float32Array;
    });
    const k = out.length / (e - s);
    for (let i = 0; i < e - s; i++) rows.push(out.slice(i * k, (i + 1) * k));
  }
  return rows;
}

/**
 * Predicts class probabilities for images of any size and channel count; each is converted to the model's input
 * spec by the card's preprocessing.
 *
 * @example
 * ```ts
 * const { model, card } = await loadBundle("/tmp/m");
 * const [p] = predictImages(model, card, [await readImage("cxr.jpg")]);
 * ```
 */
export function predictImages(
  model: tfl.LayersModel,
  card: ModelCard,
  images: readonly MedicalImage[],
): Prediction[] {
  return predictionsOf(
    card,
    calibrateRows(card, predictArrays(model, preprocessBatch(card, images), card.input.shape)),
  );
}

/**
 * Output rows scaled by the card's calibration temperature (unchanged without one).
 *
 * @example
 * ```ts
 * const calibrated = calibrateRows(card, rows);
 * ```
 */
export function calibrateRows(card: ModelCard, rows: Float32Array[]): Float32Array[] {
  const t = card.calibration?.temperature;
  if (t === undefined || t === 1) return rows;
  return rows.map((r) => applyTemperature(r, t, card.output.activation));
}

/**
 * The card's preprocessing applied to each image, concatenated into one model-input batch.
 *
 * @example
 * ```ts
 * const x = preprocessBatch(card, [img1, img2]); // length 2 × the product of card.input.shape
 * ```
 */
export function preprocessBatch(card: ModelCard, images: readonly MedicalImage[]): Float32Array {
  const per = card.input.shape.reduce((a, b) => a * b, 1);
  const x = new Float32Array(images.length * per);
  images.forEach((img, i) => {
    x.set(preprocessForModel(img, card), i * per);
  });
  return x;
}

/**
 * Turns output rows into labelled predictions by the card: the label over the threshold (binary with two labels),
 * every label over it joined by "|" (multi-label), else the argmax.
 *
 * @example
 * ```ts
 * predictionsOf(card, [Float32Array.of(0.2, 0.8)]); // [{ label: "pneumonia", probabilities: {...}, threshold: 0.5 }]
 * ```
 */
export function predictionsOf(
  card: ModelCard,
  rows: readonly Float32Array[],
  ood?: readonly OodResult[],
): Prediction[] {
  return rows.map((r, i) => {
    const probabilities = Object.fromEntries(card.labels.map((l, j) => [l, r[j] as number]));
    let label: string;
    if (card.task === "multilabel") {
      label = card.labels.filter((_, j) => (r[j] as number) >= card.threshold).join("|");
    } else if (card.task === "binary" && card.labels.length === 2) {
      label = card.labels[(r[1] as number) >= card.threshold ? 1 : 0] ?? "";
    } else {
      let best = 0;
      for (let j = 1; j < r.length; j++) if ((r[j] as number) > (r[best] as number)) best = j;
      label = card.labels[best] ?? String(best);
    }
    const o = ood?.[i];
    return { probabilities, label, threshold: card.threshold, ...(o ? { ood: o } : {}) };
  });
}
