/** Custom tfjs layers RadioLens needs for reproducible training: a dropout whose masks come from our seeded RNG. */

import * as tfl from "@tensorflow/tfjs-layers";
import { Rng } from "../core/rng.js";
import { tf } from "../engine/backend.js";

/** Config of {@link SeededDropout}. */
export interface SeededDropoutArgs {
  readonly rate: number;
  readonly seed?: number;
  readonly name?: string;
}

/**
 * Dropout (Srivastava et al., JMLR 2014) whose mask seed is drawn from a RadioLens {@link Rng} on every
 * training call. tfjs's own Dropout either repeats one mask forever (fixed seed) or uses Math.random, and
 * neither allows byte-identical, resumable training.
 *
 * @example
 * ```ts
 * const drop = new SeededDropout({ rate: 0.5, seed: 1 });
 * drop.rng = trainerRng; // the trainer shares its checkpointed RNG
 * ```
 */
export class SeededDropout extends tfl.layers.Layer {
  static readonly className = "SeededDropout";
  readonly rate: number;
  readonly seed: number;
  /** Source of mask seeds; the trainer replaces it with its own RNG so checkpoints capture it. */
  rng: Rng;

  constructor(args: SeededDropoutArgs) {
    super(args.name === undefined ? {} : { name: args.name });
    if (!(args.rate >= 0 && args.rate < 1))
      throw new RangeError(`dropout rate must be in [0, 1), got ${args.rate}`);
    this.rate = args.rate;
    this.seed = args.seed ?? 0;
    this.rng = new Rng(this.seed);
    this.supportsMasking = true;
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: { training?: boolean }): tf.Tensor {
    return tf.tidy(() => {
      const x = Array.isArray(inputs) ? (inputs[0] as tf.Tensor) : inputs;
      if (!kwargs["training"] || this.rate === 0) return x.clone();
      return tf.dropout(x, this.rate, undefined, this.rng.seed());
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), rate: this.rate, seed: this.seed };
  }
}
tf.serialization.registerClass(
  SeededDropout as unknown as tf.serialization.SerializableConstructor<tf.serialization.Serializable>,
);

/**
 * Points every {@link SeededDropout} of a model at one RNG.
 *
 * @example
 * ```ts
 * shareDropoutRng(model, rng);
 * ```
 */
export function shareDropoutRng(model: tfl.LayersModel, rng: Rng): void {
  for (const layer of model.layers) if (layer instanceof SeededDropout) layer.rng = rng;
}
