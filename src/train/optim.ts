/** Adam with its whole state exposed for exact checkpoint/resume (tfjs's Adam recomputes its bias terms on restore). */
import { fusedKernels, tf } from "../engine/backend.js";

/** Options of {@link Adam}. */
export interface AdamOptions {
  readonly learningRate?: number;
  readonly beta1?: number;
  readonly beta2?: number;
  readonly epsilon?: number;
  /** Decoupled weight decay (AdamW, Loshchilov & Hutter 2019); 0 = plain Adam. */
  readonly weightDecay?: number;
}

/**
 * Serializable optimizer state: step count plus first/second moments per variable, in the order of the variables
 * passed to `apply` (names are not stable across model instances in one process).
 */
export interface AdamState {
  readonly step: number;
  readonly learningRate: number;
  readonly moments: readonly { readonly m: Float32Array; readonly v: Float32Array }[];
}

/**
 * Adam (Kingma & Ba, ICLR 2015) with bias correction computed from the integer step, so a restored optimizer
 * continues bit-for-bit.
 *
 * @example
 * ```ts
 * const opt = new Adam({ learningRate: 1e-3 });
 * opt.apply(model.trainableWeights.map((w) => w.read() as tf.Variable), grads);
 * ```
 */
export class Adam {
  learningRate: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly epsilon: number;
  readonly weightDecay: number;
  private step = 0;
  private m: tf.Variable[] = [];
  private v: tf.Variable[] = [];

  constructor(opts: AdamOptions = {}) {
    this.learningRate = opts.learningRate ?? 1e-3;
    this.beta1 = opts.beta1 ?? 0.9;
    this.beta2 = opts.beta2 ?? 0.999;
    this.epsilon = opts.epsilon ?? 1e-7;
    this.weightDecay = opts.weightDecay ?? 0;
  }

  /** Number of updates applied so far. */
  get iterations(): number {
    return this.step;
  }

  /** Applies one update to `vars` from `grads` (same order). */
  apply(vars: readonly tf.Variable[], grads: readonly tf.Tensor[]): void {
    this.step++;
    const t = this.step;
    const lrT = (this.learningRate * Math.sqrt(1 - this.beta2 ** t)) / (1 - this.beta1 ** t);
    // The onednn backend runs the same update, with the same bits, as one native pass per variable.
    const fused = fusedKernels();
    const constants = {
      beta1: this.beta1,
      beta2: this.beta2,
      lrT,
      epsilon: this.epsilon,
      ...(this.weightDecay > 0 ? { lrWeightDecay: this.learningRate * this.weightDecay } : {}),
    };
    tf.tidy(() => {
      vars.forEach((w, i) => {
        const g = grads[i] as tf.Tensor;
        let m = this.m[i];
        let v = this.v[i];
        if (!m || !v) {
          m = tf.variable(tf.zerosLike(w), false);
          v = tf.variable(tf.zerosLike(w), false);
          this.m[i] = m;
          this.v[i] = v;
        }
        if (fused?.adamStep(w, m, v, g, constants)) return;
        const mNew = tf.add(tf.mul(m, this.beta1), tf.mul(g, 1 - this.beta1));
        const vNew = tf.add(tf.mul(v, this.beta2), tf.mul(tf.square(g), 1 - this.beta2));
        m.assign(mNew);
        v.assign(vNew);
        let update = tf.div(tf.mul(mNew, lrT), tf.add(tf.sqrt(vNew), this.epsilon));
        if (this.weightDecay > 0) update = tf.add(update, tf.mul(w, this.learningRate * this.weightDecay));
        w.assign(tf.sub(w, update));
      });
    });
  }

  /** Copies the state out of tensors. */
  getState(): AdamState {
    const moments = this.m.map((m, i) => ({
      m: m.dataSync() as Float32Array,
      v: (this.v[i] as tf.Variable).dataSync() as Float32Array,
    }));
    return { step: this.step, learningRate: this.learningRate, moments };
  }

  /** Restores a state produced by {@link getState}; `shapes` are the variables' shapes in `apply` order. */
  setState(state: AdamState, shapes: readonly (readonly number[])[]): void {
    this.dispose();
    if (state.moments.length !== 0 && state.moments.length !== shapes.length) {
      throw new Error(`optimizer state has ${state.moments.length} variables, the model ${shapes.length}`);
    }
    this.step = state.step;
    this.learningRate = state.learningRate;
    state.moments.forEach(({ m, v }, i) => {
      const shape = [...(shapes[i] as readonly number[])];
      this.m.push(tf.variable(tf.tensor(m, shape), false));
      this.v.push(tf.variable(tf.tensor(v, shape), false));
    });
  }

  /** Frees the moment tensors. */
  dispose(): void {
    for (const t of [...this.m, ...this.v]) t.dispose();
    this.m = [];
    this.v = [];
  }
}
