/** The architectures `radiolens train --model NAME` can build, by name. */
import type * as tfl from "@tensorflow/tfjs-layers";
import { RadioLensError } from "../core/errors.js";
import { createSeedCnn } from "./seed-cnn.js";
import { ZOO } from "./zoo/index.js";

/** What every classifier factory receives. */
export interface ClassifierOptions {
  /** `[rows, cols, ch]`, or `[slices, rows, cols, ch]` for 3D models. */
  readonly inputShape: readonly number[];
  /** Channels of the first stage, for architectures with a width (zoo ResNets). */
  readonly width?: number;
  readonly numClasses: number;
  readonly seed: number;
  /** Output activation: softmax for single-label, sigmoid for multi-label. */
  readonly activation?: "softmax" | "sigmoid";
}

/** One registered architecture. */
export interface ModelSpec {
  readonly name: string;
  readonly description: string;
  create(opts: ClassifierOptions): tfl.LayersModel;
}

/** The registry, by name. */
export const MODELS = new Map<string, ModelSpec>([
  [
    "seed-cnn",
    {
      name: "seed-cnn",
      description: "The tutorial CNN: 2×(Conv 3×3 + MaxPool), Dense 128, Dropout 0.5, softmax",
      create: (o) =>
        createSeedCnn({
          inputShape: o.inputShape as readonly [number, number, number],
          numClasses: o.numClasses,
          seed: o.seed,
        }),
    },
  ],
]);

// Every single-model classifier of the zoo trains through the same command.
for (const [name, entry] of Object.entries(ZOO)) {
  if (entry.kind !== "model" || entry.task !== "classification") continue;
  MODELS.set(name, {
    name,
    description: entry.description,
    create: (o) =>
      entry.build({
        inputShape: o.inputShape,
        numClasses: o.numClasses,
        seed: o.seed,
        ...(o.width ? { width: o.width } : {}),
        ...(o.activation ? { activation: o.activation } : {}),
      }),
  });
}

/**
 * Adds an architecture to the registry.
 *
 * @example
 * ```ts
 * registerModel({ name: "resnet18-28", description: "...", create: (o) => createResNet({ ...o, depth: 18 }) });
 * ```
 */
export function registerModel(spec: ModelSpec): void {
  MODELS.set(spec.name, spec);
}

/**
 * Builds a registered architecture.
 *
 * @example
 * ```ts
 * const model = createModel("seed-cnn", { inputShape: [28, 28, 1], numClasses: 2, seed: 1 });
 * ```
 */
export function createModel(name: string, opts: ClassifierOptions): tfl.LayersModel {
  const spec = MODELS.get(name);
  if (!spec)
    throw new RadioLensError("RL_ERR_UNKNOWN_MODEL", { name, available: [...MODELS.keys()].join(", ") });
  return spec.create(opts);
}
