/** Checkpoints: weights, optimizer moments, trainer state (epoch, step, data cursor, RNG), written atomically. */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type * as tfl from "@tensorflow/tfjs-layers";
import { RadioLensError } from "../core/errors.js";
import { writeDirAtomic } from "../core/fs.js";
import { tf } from "../engine/backend.js";
import { serializeModel } from "../models/bundle.js";
import type { Adam, AdamState } from "./optim.js";
import type { TrainState } from "./trainer.js";

const FILES = {
  model: "model.json",
  weights: "weights.bin",
  optimizer: "optimizer.bin",
  state: "state.json",
} as const;

/**
 * Writes a checkpoint folder atomically (a crash leaves the previous checkpoint intact).
 *
 * @example
 * ```ts
 * await saveCheckpoint("/tmp/m/checkpoints/last", model, optimizer, state, { config });
 * ```
 */
export async function saveCheckpoint(
  dir: string,
  model: tfl.LayersModel,
  optimizer: Adam,
  state: TrainState,
  extra: Readonly<Record<string, unknown>> = {},
): Promise<void> {
  const { modelJson, weightData } = await serializeModel(model);
  const opt = optimizer.getState();
  const parts = opt.moments.flatMap((m) => [m.m, m.v]);
  const total = parts.reduce((s, a) => s + a.length, 0);
  const optBytes = new Float32Array(total);
  let off = 0;
  for (const a of parts) {
    optBytes.set(a, off);
    off += a.length;
  }
  await writeDirAtomic(dir, async (tmp) => {
    writeFileSync(join(tmp, FILES.model), modelJson);
    writeFileSync(join(tmp, FILES.weights), weightData);
    writeFileSync(join(tmp, FILES.optimizer), new Uint8Array(optBytes.buffer));
    writeFileSync(
      join(tmp, FILES.state),
      JSON.stringify({
        state,
        optimizer: {
          step: opt.step,
          learningRate: opt.learningRate,
          sizes: opt.moments.map((m) => m.m.length),
        },
        ...extra,
      }),
    );
  });
}

/** What {@link loadCheckpoint} restores. */
export interface LoadedCheckpoint {
  readonly state: TrainState;
  readonly extra: Readonly<Record<string, unknown>>;
}

/**
 * Restores weights and optimizer moments into an already built `model`/`optimizer` and returns the trainer state.
 *
 * @example
 * ```ts
 * const { state } = loadCheckpoint("/tmp/m/checkpoints/last", model, optimizer);
 * await fit({ ..., resume: state });
 * ```
 */
export function loadCheckpoint(dir: string, model: tfl.LayersModel, optimizer: Adam): LoadedCheckpoint {
  for (const f of Object.values(FILES)) {
    if (!existsSync(join(dir, f)))
      throw new RadioLensError("RL_ERR_MODEL_INVALID", {
        path: dir,
        detail: `checkpoint file ${f} is missing`,
      });
  }
  const meta = JSON.parse(readFileSync(join(dir, FILES.state), "utf8")) as {
    state: TrainState;
    optimizer: { step: number; learningRate: number; sizes: number[] };
  } & Record<string, unknown>;
  const wbytes = readFileSync(join(dir, FILES.weights));
  const weights = new Float32Array(
    wbytes.buffer.slice(wbytes.byteOffset, wbytes.byteOffset + wbytes.byteLength),
  );
  const manifest = (
    JSON.parse(readFileSync(join(dir, FILES.model), "utf8")) as {
      weightsManifest: { weights: { name: string; shape: number[] }[] }[];
    }
  ).weightsManifest.flatMap((g) => g.weights);
  const all = model.weights;
  if (manifest.length !== all.length) {
    throw new RadioLensError("RL_ERR_MODEL_INVALID", {
      path: dir,
      detail: `checkpoint has ${manifest.length} weights, the model ${all.length}`,
    });
  }
  let off = 0;
  const tensors = manifest.map((m) => {
    const n = m.shape.reduce((a, b) => a * b, 1);
    const t = tf.tensor(weights.subarray(off, off + n), m.shape);
    off += n;
    return t;
  });
  model.setWeights(tensors);
  for (const t of tensors) t.dispose();
  const obytes = readFileSync(join(dir, FILES.optimizer));
  const ofloats = new Float32Array(
    obytes.buffer.slice(obytes.byteOffset, obytes.byteOffset + obytes.byteLength),
  );
  let o = 0;
  const moments: { m: Float32Array; v: Float32Array }[] = meta.optimizer.sizes.map((n) => {
    const m = ofloats.slice(o, o + n);
    const v = ofloats.slice(o + n, o + 2 * n);
    o += 2 * n;
    return { m, v };
  });
  const st: AdamState = { step: meta.optimizer.step, learningRate: meta.optimizer.learningRate, moments };
  optimizer.setState(
    st,
    model.trainableWeights.map((w) => w.shape as number[]),
  );
  const { state, optimizer: _o, ...extra } = meta;
  return { state, extra };
}
