/** The batch contract between data sources and the trainer: plain typed arrays, order fixed by (seed, epoch). */

/** One mini-batch, NHWC images and targets. */
export interface Batch {
  readonly x: Float32Array;
  /** `[batch, ...sampleShape]`. */
  readonly xShape: readonly number[];
  readonly y: Float32Array;
  /** `[batch, ...targetShape]`. */
  readonly yShape: readonly number[];
  /** Optional per-sample loss weights (class weighting). */
  readonly sampleWeight?: Float32Array;
  /** Optional tabular features `[batch, features]` for fusion models. */
  readonly tabular?: Float32Array;
}

/**
 * A source of batches. The sample order of an epoch must depend only on the source's seed and the epoch number,
 * so that training can resume in the middle of an epoch by skipping `from` batches.
 */
export interface BatchSource {
  /** Samples per epoch. */
  readonly size: number;
  readonly batchSize: number;
  /** Batches per epoch (the last may be smaller). */
  batchesPerEpoch(): number;
  /** Batches of `epoch` starting at batch index `from` (default 0). */
  epoch(epoch: number, from?: number): AsyncIterable<Batch>;
}
