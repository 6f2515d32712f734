/** Model bundles: a folder with tfjs `model.json` + weights and `radiolens.json` (the model card), saved and loaded without tfjs-node. */
import { createHash } from "node:crypto";
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import * as tfl from "@tensorflow/tfjs-layers";
import { RadioLensError } from "../core/errors.js";
import { writeFileAtomic } from "../core/fs.js";
import { tf } from "../engine/backend.js";
import "./layers.js";

import type { Task } from "../core/task.js";
import type { Calibration } from "./calibration.js";
import type { IntendedUse } from "./intended-use.js";
import type { OodDetector } from "./ood.js";

export type { Task } from "../core/task.js";

/** One declarative preprocessing step applied before inference (see preprocess.ts). */
export type PreprocessStep =
  | { readonly op: "grayscale" }
  | { readonly op: "rgb" }
  | { readonly op: "resize"; readonly size: readonly [number, number] }
  | { readonly op: "scale"; readonly divisor: number }
  | { readonly op: "normalize"; readonly mean: readonly number[]; readonly std: readonly number[] }
  | { readonly op: "window"; readonly center: number; readonly width: number };

/** The model card stored as `radiolens.json`. */
export interface ModelCard {
  readonly format: "radiolens-bundle";
  readonly formatVersion: 1;
  readonly name: string;
  readonly architecture: string;
  readonly version: string;
  readonly task: Task;
  readonly labels: readonly string[];
  readonly input: {
    readonly shape: readonly number[];
    readonly layout: "NHWC" | "NCHW";
    readonly dtype: "float32";
    /**
     * Intensity domain of the training images: "display8" (8-bit display images such as PNG/JPEG; DICOM inputs
     * are first rendered through their VOI window) or "modality" (modality values, e.g. HU, that the card's own
     * window step maps). Absent means "display8".
     */
    readonly intensity?: "display8" | "modality";
  };
  readonly preprocessing: readonly PreprocessStep[];
  readonly output: { readonly activation: "softmax" | "sigmoid" | "none" };
  readonly threshold: number;
  readonly dataset?: Readonly<Record<string, unknown>>;
  readonly training?: Readonly<Record<string, unknown>>;
  readonly metrics?: Readonly<Record<string, unknown>>;
  readonly versions: Readonly<Record<string, string>>;
  readonly files: { readonly tfjs: string; readonly weights: readonly string[]; readonly onnx?: string };
  /** Purpose and the inputs the model is meant for (`inputs` gates inference); older cards hold only a statement. */
  readonly intendedUse?: string | IntendedUse;
  /** The out-of-distribution detector fitted at training time (src/models/ood.ts). */
  readonly ood?: OodDetector;
  /** Temperature scaling fitted on the validation split; reported probabilities are scaled by it. */
  readonly calibration?: Calibration;
}

/** File names inside a bundle. */
export const BUNDLE_FILES = {
  card: "radiolens.json",
  topology: "model.json",
  weights: "weights.bin",
} as const;

/** Topology + weights exactly as tfjs hands them to a save handler. */
export interface ModelArtifacts {
  readonly modelJson: string;
  readonly weightData: Uint8Array;
}

/**
 * Serializes a model to the tfjs layers format in memory (model.json text + one weights.bin).
 *
 * @example
 * ```ts
 * const { modelJson, weightData } = await serializeModel(model);
 * ```
 */
export async function serializeModel(model: tfl.LayersModel): Promise<ModelArtifacts> {
  let out: ModelArtifacts | undefined;
  await model.save(
    tf.io.withSaveHandler(async (a) => {
      const weightData =
        a.weightData instanceof ArrayBuffer
          ? new Uint8Array(a.weightData)
          : new Uint8Array(tf.io.concatenateArrayBuffers(a.weightData ?? []));
      const json = {
        format: "layers-model",
        generatedBy: a.generatedBy,
        convertedBy: null,
        modelTopology: a.modelTopology,
        weightsManifest: [{ paths: [BUNDLE_FILES.weights], weights: a.weightSpecs ?? [] }],
      };
      out = { modelJson: JSON.stringify(json), weightData };
      return { modelArtifactsInfo: { dateSaved: new Date(0), modelTopologyType: "JSON" } };
    }),
  );
  if (!out)
    throw new RadioLensError("RL_ERR_INTERNAL", { detail: "tfjs did not hand over the model artifacts" });
  return out;
}

/**
 * Rebuilds a model from {@link serializeModel}'s output.
 *
 * @example
 * ```ts
 * const copy = await deserializeModel(await serializeModel(model));
 * ```
 */
export async function deserializeModel(a: ModelArtifacts, path = "<memory>"): Promise<tfl.LayersModel> {
  let json: { modelTopology: object; weightsManifest: { weights: tf.io.WeightsManifestEntry[] }[] };
  try {
    json = JSON.parse(a.modelJson);
  } catch (e) {
    throw new RadioLensError("RL_ERR_MODEL_INVALID", {
      path,
      detail: `model.json is not JSON (${(e as Error).message})`,
    });
  }
  const weightSpecs = json.weightsManifest.flatMap((g) => g.weights);
  const need = weightSpecs.reduce((s, w) => s + w.shape.reduce((p, d) => p * d, 1) * 4, 0);
  if (a.weightData.byteLength !== need) {
    throw new RadioLensError("RL_ERR_MODEL_INVALID", {
      path,
      detail: `weights.bin holds ${a.weightData.byteLength} bytes, model.json declares ${need}`,
    });
  }
  const buf = a.weightData.buffer.slice(
    a.weightData.byteOffset,
    a.weightData.byteOffset + a.weightData.byteLength,
  ) as ArrayBuffer;
  return tfl.loadLayersModel(
    tf.io.fromMemory({ modelTopology: json.modelTopology, weightSpecs, weightData: buf }),
  );
}

/**
 * Writes `model.json`, `weights.bin` and `radiolens.json` into `dir`, each atomically, the card last so a
 * folder with a card is always complete.
 *
 * @example
 * ```ts
 * await saveBundle("/tmp/m", model, card);
 * ```
 */
export async function saveBundle(
  dir: string,
  model: tfl.LayersModel,
  card: Omit<ModelCard, "files" | "format" | "formatVersion">,
): Promise<ModelCard> {
  const { modelJson, weightData } = await serializeModel(model);
  writeFileAtomic(join(dir, BUNDLE_FILES.topology), modelJson);
  writeFileAtomic(join(dir, BUNDLE_FILES.weights), weightData);
  const full: ModelCard = {
    format: "radiolens-bundle",
    formatVersion: 1,
    ...card,
    files: { tfjs: BUNDLE_FILES.topology, weights: [BUNDLE_FILES.weights] },
  };
  writeFileAtomic(join(dir, BUNDLE_FILES.card), `${JSON.stringify(full, null, 2)}\n`);
  return full;
}

/**
 * SHA-256 of a file, hex (dataset fingerprints).
 *
 * @example
 * ```ts
 * sha256File("runs/demo/weights.bin"); // "9f86d0…"
 * ```
 */
export function sha256File(path: string): string {
  return createHash("sha256").update(readFileSync(path)).digest("hex");
}

/**
 * Reads and validates a bundle's model card without loading weights.
 *
 * @example
 * ```ts
 * const card = readCard("/tmp/m");
 * console.log(card.labels);
 * ```
 */
export function readCard(dir: string): ModelCard {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new RadioLensError("RL_ERR_MODEL_NOT_FOUND", { path: dir, detail: "no such folder" });
  }
  const cardPath = join(dir, BUNDLE_FILES.card);
  if (!existsSync(cardPath))
    throw new RadioLensError("RL_ERR_MODEL_NOT_FOUND", {
      path: dir,
      detail: `${BUNDLE_FILES.card} is missing`,
    });
  let card: ModelCard;
  try {
    card = JSON.parse(readFileSync(cardPath, "utf8")) as ModelCard;
  } catch (e) {
    throw new RadioLensError("RL_ERR_MODEL_INVALID", {
      path: dir,
      detail: `${BUNDLE_FILES.card}: ${(e as Error).message}`,
    });
  }
  if (card.format !== "radiolens-bundle" || !Array.isArray(card.labels) || !card.input || !card.files) {
    throw new RadioLensError("RL_ERR_MODEL_INVALID", {
      path: dir,
      detail: `${BUNDLE_FILES.card} is not a RadioLens model card`,
    });
  }
  return card;
}

/**
 * Loads a bundle: the card and the tfjs model.
 *
 * @example
 * ```ts
 * const { model, card } = await loadBundle("/tmp/m");
 * ```
 */
export async function loadBundle(dir: string): Promise<{ model: tfl.LayersModel; card: ModelCard }> {
  const card = readCard(dir);
  const files = [card.files.tfjs, ...card.files.weights];
  for (const f of files) {
    if (!existsSync(join(dir, f)))
      throw new RadioLensError("RL_ERR_MODEL_INVALID", { path: dir, detail: `${f} is missing` });
  }
  const weights = card.files.weights.map((w) => readFileSync(join(dir, w)));
  const weightData =
    weights.length === 1 ? (weights[0] as Uint8Array) : new Uint8Array(Buffer.concat(weights));
  const model = await deserializeModel(
    { modelJson: readFileSync(join(dir, card.files.tfjs), "utf8"), weightData },
    dir,
  );
  return { model, card };
}
