/** Segmentation losses: soft Dice (Milletari et al. 2016, V-Net §3) plus cross-entropy, as MONAI's DiceCELoss. */
import { tf } from "../../engine/backend.js";

/** Options for {@link diceCeLoss}. */
export interface DiceCeOptions {
  /** Weight of the Dice term (default 1). */
  readonly diceWeight?: number;
  /** Weight of the cross-entropy term (default 1). */
  readonly ceWeight?: number;
  /** Added to numerator and denominator so empty classes give Dice 1, not NaN (default 1e-5). */
  readonly smooth?: number;
  /** Include channel 0 (background) in the Dice mean (default true). */
  readonly includeBackground?: boolean;
}

/**
 * Soft Dice loss, 1 − mean over classes of 2·Σ(p·g) / (Σp + Σg), sums over the batch and all voxels.
 * `yTrue` is one-hot (or a binary mask when there is one channel); `yPred` holds probabilities, channels last.
 *
 * @example
 * ```ts
 * const l = softDiceLoss(oneHotMask, model.apply(x) as tf.Tensor);
 * ```
 */
export function softDiceLoss(
  yTrue: tf.Tensor,
  yPred: tf.Tensor,
  opts: Pick<DiceCeOptions, "smooth" | "includeBackground"> = {},
): tf.Scalar {
  return tf.tidy(() => {
    const smooth = opts.smooth ?? 1e-5;
    const c = yPred.shape[yPred.shape.length - 1] as number;
    const t = tf.reshape(yTrue, [-1, c]);
    const p = tf.reshape(yPred, [-1, c]);
    // Per-class sums first, then the background column dropped from the [c] vectors: the same values as slicing
    // the [voxels, c] maps, without a strided copy (and its padded gradient) of every voxel.
    let inter = tf.sum(tf.mul(t, p), 0);
    let denom = tf.add(tf.sum(t, 0), tf.sum(p, 0));
    if (opts.includeBackground === false && c > 1) {
      inter = tf.slice(inter, [1], [c - 1]);
      denom = tf.slice(denom, [1], [c - 1]);
    }
    const dice = tf.div(tf.add(tf.mul(inter, 2), smooth), tf.add(denom, smooth));
    return tf.sub(1, tf.mean(dice)) as tf.Scalar;
  });
}

/**
 * Dice + cross-entropy: `diceWeight·softDice + ceWeight·CE`, CE categorical for several channels and binary for
 * one. The Dice term copes with the class imbalance of small lesions, the CE term keeps gradients well behaved
 * early in training.
 *
 * @example
 * ```ts
 * const loss = diceCeLoss(yTrue, yPred, { includeBackground: false });
 * ```
 */
export function diceCeLoss(yTrue: tf.Tensor, yPred: tf.Tensor, opts: DiceCeOptions = {}): tf.Scalar {
  return tf.tidy(() => {
    const c = yPred.shape[yPred.shape.length - 1] as number;
    const eps = 1e-7;
    const p = tf.clipByValue(yPred, eps, 1 - eps);
    const ce =
      c === 1
        ? tf.neg(tf.mean(tf.add(tf.mul(yTrue, tf.log(p)), tf.mul(tf.sub(1, yTrue), tf.log(tf.sub(1, p))))))
        : tf.neg(tf.mean(tf.sum(tf.mul(yTrue, tf.log(p)), -1)));
    const dice = softDiceLoss(yTrue, yPred, opts);
    return tf.add(tf.mul(dice, opts.diceWeight ?? 1), tf.mul(ce, opts.ceWeight ?? 1)) as tf.Scalar;
  });
}
