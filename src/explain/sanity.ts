/** Saliency sanity checks (Adebayo et al., NeurIPS 2018): cascading weight randomization and rank correlation of maps. */
import type * as tfl from "@tensorflow/tfjs-layers";
import { RadioLensError } from "../core/errors.js";
import { Rng } from "../core/rng.js";
import { tf } from "../engine/backend.js";

/**
 * Cascading randomization (Adebayo et al. 2018 §3.1): re-initializes the weights of the top `count` layers that
 * have weights, from the output down, in place. Kernels (rank ≥ 2) get Glorot-uniform values from the seeded
 * Rng (limit √(6 / (fan_in + fan_out))); rank-1 weights (biases, batch-norm statistics) are kept so the
 * network stays numerically sane. Returns the names of the randomized layers, top first.
 *
 * @example
 * ```ts
 * const changed = randomizeTopLayers(model, 2, 7); // e.g. ["fc2", "fc1"]
 * ```
 */
export function randomizeTopLayers(model: tfl.LayersModel, count: number, seed: number): string[] {
  if (!(Number.isInteger(count) && count >= 0))
    throw new RadioLensError("RL_ERR_USAGE", { detail: `layer count must be an integer ≥ 0, got ${count}` });
  const rng = new Rng(seed);
  const layers = model.layers.filter((l) => l.getWeights().some((w) => w.rank >= 2)).reverse();
  const done: string[] = [];
  for (const layer of layers.slice(0, count)) {
    const fresh = layer.getWeights().map((w) => {
      if (w.rank < 2) return w.clone();
      const shape = w.shape;
      const receptive = shape.slice(0, -2).reduce((a, b) => a * b, 1);
      const fanIn = (shape[shape.length - 2] as number) * receptive;
      const fanOut = (shape[shape.length - 1] as number) * receptive;
      const limit = Math.sqrt(6 / (fanIn + fanOut));
      const v = new Float32Array(w.size);
      for (let i = 0; i < v.length; i++) v[i] = rng.uniform(-limit, limit);
      return tf.tensor(v, shape, "float32");
    });
    try {
      layer.setWeights(fresh);
    } finally {
      for (const t of fresh) t.dispose();
    }
    done.push(layer.name);
  }
  return done;
}

function ranks(x: ArrayLike<number>): Float64Array {
  const idx = Array.from({ length: x.length }, (_, i) => i).sort(
    (a, b) => (x[a] as number) - (x[b] as number),
  );
  const r = new Float64Array(x.length);
  for (let i = 0; i < idx.length; ) {
    let j = i;
    while (j + 1 < idx.length && x[idx[j + 1] as number] === x[idx[i] as number]) j++;
    const avg = (i + j) / 2 + 1; // tied values share their mean rank
    for (let k = i; k <= j; k++) r[idx[k] as number] = avg;
    i = j + 1;
  }
  return r;
}

/**
 * Spearman's rank correlation ρ: the Pearson correlation of the two inputs' ranks, ties given their mean rank
 * (scipy.stats.spearmanr). NaN when either input is constant (ρ is undefined there).
 *
 * @example
 * ```ts
 * spearman([1, 2, 3], [10, 20, 30]); // 1
 * ```
 */
export function spearman(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length || a.length < 2)
    throw new RadioLensError("RL_ERR_USAGE", {
      detail: `Spearman correlation needs two series of the same length ≥ 2 (got ${a.length} and ${b.length})`,
    });
  const ra = ranks(a);
  const rb = ranks(b);
  const n = ra.length;
  const mean = (n + 1) / 2;
  let sab = 0;
  let saa = 0;
  let sbb = 0;
  for (let i = 0; i < n; i++) {
    const da = (ra[i] as number) - mean;
    const db = (rb[i] as number) - mean;
    sab += da * db;
    saa += da * da;
    sbb += db * db;
  }
  return saa === 0 || sbb === 0 ? Number.NaN : sab / Math.sqrt(saa * sbb);
}
