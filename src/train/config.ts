/** Training config files (JSON or YAML) validated by a schema; every key mirrors a `radiolens train` flag. */
import { existsSync, readFileSync } from "node:fs";
import { basename } from "node:path";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { RadioLensError } from "../core/errors.js";
import type { TrainConfig } from "./run.js";

/**
 * The schema of a training config. Paths are resolved from the current directory, like the flags.
 *
 * @example
 * ```yaml
 * data: ../shared/data/medmnist/pneumoniamnist.npz
 * model: resnet18-28
 * epochs: 20
 * batchSize: 128
 * seed: 1
 * out: runs/resnet18
 * learningRate: 0.001
 * schedule: { kind: cosine }
 * ```
 */
export const TrainConfigSchema = z
  .object({
    data: z.string().min(1),
    model: z.string().min(1),
    epochs: z.number().int().positive().optional(),
    steps: z.number().int().positive().optional(),
    maxMinutes: z.number().positive().optional(),
    evalEverySteps: z.number().int().positive().optional(),
    warmupSteps: z.number().int().nonnegative().optional(),
    width: z.number().int().positive().optional(),
    augment: z
      .object({
        flip: z.boolean().optional(),
        maxShift: z.number().int().nonnegative().optional(),
        intensity: z.number().nonnegative().lt(1).optional(),
      })
      .strict()
      .optional(),
    classWeighting: z.enum(["none", "balanced", "sqrt"]).optional(),
    labelSmoothing: z.number().nonnegative().lt(1).optional(),
    tta: z.boolean().optional(),
    batchSize: z.number().int().positive(),
    seed: z.number().int(),
    out: z.string().min(1),
    learningRate: z.number().positive().optional(),
    weightDecay: z.number().nonnegative().optional(),
    backend: z.enum(["onednn", "wasm", "cpu"]).optional(),
    threads: z.number().int().positive().optional(),
    resume: z.boolean().optional(),
    checkpointEverySteps: z.number().int().positive().optional(),
    clipNorm: z.number().positive().optional(),
    schedule: z
      .discriminatedUnion("kind", [
        z
          .object({
            kind: z.literal("step"),
            stepSize: z.number().int().positive(),
            gamma: z.number().positive().optional(),
          })
          .strict(),
        z.object({ kind: z.literal("cosine"), minLr: z.number().nonnegative().optional() }).strict(),
        z
          .object({
            kind: z.literal("multistep"),
            milestones: z.array(z.number().int().positive()).min(1),
            gamma: z.number().positive().optional(),
          })
          .strict(),
        z
          .object({
            kind: z.literal("plateau"),
            monitor: z.string().optional(),
            patience: z.number().int().positive(),
            factor: z.number().positive().lt(1).optional(),
            minLr: z.number().nonnegative().optional(),
          })
          .strict(),
      ])
      .optional(),
    earlyStopping: z
      .object({ monitor: z.string(), patience: z.number().int().positive() })
      .strict()
      .optional(),
    limit: z.number().int().positive().optional(),
    version: z.string().optional(),
    shuffleLabels: z.boolean().optional(),
    selectBest: z.enum(["val_loss", "val_acc", "val_auc"]).optional(),
    intendedUse: z
      .object({
        modalities: z.array(z.string()).optional(),
        bodyParts: z.array(z.string()).optional(),
        viewPositions: z.array(z.string()).optional(),
        sopClassUids: z.array(z.string()).optional(),
        photometricInterpretations: z.array(z.string()).optional(),
        minRows: z.number().nonnegative().optional(),
        minColumns: z.number().nonnegative().optional(),
        pixelSpacingMm: z.tuple([z.number(), z.number()]).optional(),
        acceptNonDicom: z.boolean().optional(),
      })
      .strict()
      .optional(),
    oodAction: z.enum(["refuse", "flag"]).optional(),
    inputSize: z.tuple([z.number().int().positive(), z.number().int().positive()]).optional(),
    channels: z.union([z.literal(1), z.literal(3)]).optional(),
  })
  .strict()
  .refine((c) => c.epochs !== undefined || c.steps !== undefined, {
    message: "give epochs or a step budget (steps)",
  });

/**
 * Reads and validates a config file; `overrides` (from flags) win over the file.
 *
 * @example
 * ```ts
 * const cfg = loadTrainConfig("configs/resnet18-pneumoniamnist.yaml", { seed: 2 });
 * ```
 */
export function loadTrainConfig(path: string, overrides: Partial<TrainConfig> = {}): TrainConfig {
  if (!existsSync(path)) throw new RadioLensError("RL_ERR_FILE_NOT_FOUND", { path });
  const text = readFileSync(path, "utf8");
  let raw: unknown;
  try {
    raw = /\.ya?ml$/i.test(path) ? parseYaml(text) : JSON.parse(text);
  } catch (e) {
    throw new RadioLensError("RL_ERR_USAGE", {
      detail: `config ${path} does not parse: ${(e as Error).message}`,
    });
  }
  const merged: Record<string, unknown> = {
    ...(typeof raw === "object" && raw !== null ? raw : {}),
    ...overrides,
  };
  // A recipe names its output after the data it is applied to: `out: runs/{dataset}-2d`.
  if (typeof merged["out"] === "string" && typeof merged["data"] === "string") {
    const dataset = basename(merged["data"]).replace(/\.(npz|csv)$/i, "");
    merged["out"] = merged["out"].replaceAll("{dataset}", dataset);
  }
  const r = TrainConfigSchema.safeParse(merged);
  if (!r.success) {
    const issues = r.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`).join("; ");
    throw new RadioLensError("RL_ERR_USAGE", { detail: `config ${path} is invalid: ${issues}` });
  }
  return r.data as TrainConfig;
}
