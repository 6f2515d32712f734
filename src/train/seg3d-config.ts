/** Config files (YAML/JSON) of 3D segmentation runs on MSD task folders (`task: segmentation3d`), validated by a schema. */
import { existsSync, readFileSync } from "node:fs";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { RadioLensError } from "../core/errors.js";
import type { Segmentation3DOptions } from "./seg3d.js";

/**
 * Schema of a 3D segmentation config. `plan` overrides single choices of the planner (e.g. `steps`).
 *
 * @example
 * ```yaml
 * task: segmentation3d
 * data: ../shared/data/segmentation/msd-hippocampus
 * out: runs/msd-hippocampus
 * seed: 0
 * budget: { minutes: 60, cores: 2 }
 * ```
 */
export const Seg3DConfigSchema = z
  .object({
    task: z.literal("segmentation3d"),
    data: z.string().min(1),
    out: z.string().min(1),
    seed: z.number().int(),
    labels: z.array(z.string()).min(2).optional(),
    folds: z.number().int().min(2).optional(),
    fold: z.number().int().nonnegative().optional(),
    allCases: z.boolean().optional(),
    threads: z.number().int().positive().optional(),
    backend: z.enum(["onednn", "wasm", "cpu"]).optional(),
    maxMinutes: z.number().positive().optional(),
    mirror: z.boolean().optional(),
    budget: z
      .object({
        minutes: z.number().positive().optional(),
        cores: z.number().positive().optional(),
        reserve: z.number().min(0).lt(1).optional(),
        macsPerCoreSecond: z.number().positive().optional(),
        coreSecondsPerActivation: z.number().positive().optional(),
      })
      .strict()
      .optional(),
    plan: z
      .object({
        steps: z.number().int().positive().optional(),
        baseFilters: z.number().int().positive().optional(),
        batchSize: z.number().int().positive().optional(),
        learningRate: z.number().positive().optional(),
        foregroundProb: z.number().min(0).max(1).optional(),
      })
      .strict()
      .optional(),
  })
  .strict();

/** Whether a parsed config file is a 3D segmentation config (its `task` key). */
export function isSeg3DConfig(path: string): boolean {
  const raw = readConfigFile(path);
  return typeof raw === "object" && raw !== null && (raw as { task?: unknown }).task === "segmentation3d";
}

function readConfigFile(path: string): unknown {
  if (!existsSync(path)) throw new RadioLensError("RL_ERR_FILE_NOT_FOUND", { path });
  const text = readFileSync(path, "utf8");
  try {
    return /\.ya?ml$/i.test(path) ? parseYaml(text) : JSON.parse(text);
  } catch (e) {
    throw new RadioLensError("RL_ERR_USAGE", {
      detail: `config ${path} does not parse: ${(e as Error).message}`,
    });
  }
}

/**
 * Reads and validates a 3D segmentation config; `overrides` (from flags) win over the file.
 *
 * @example
 * ```ts
 * const opts = loadSeg3DConfig("configs/msd-hippocampus.yaml", { fold: 2 });
 * ```
 */
export function loadSeg3DConfig(
  path: string,
  overrides: Partial<Segmentation3DOptions> = {},
): Segmentation3DOptions {
  const raw = readConfigFile(path);
  const merged = { ...(typeof raw === "object" && raw !== null ? raw : {}), ...overrides };
  const r = Seg3DConfigSchema.safeParse(merged);
  if (!r.success) {
    const issues = r.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`).join("; ");
    throw new RadioLensError("RL_ERR_USAGE", { detail: `config ${path} is invalid: ${issues}` });
  }
  const { task: _task, ...opts } = r.data;
  return opts as Segmentation3DOptions;
}
