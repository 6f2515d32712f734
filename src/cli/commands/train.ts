/** `radiolens train`: parses flags and calls trainModel(). */

import { existsSync } from "node:fs";
import { join } from "node:path";
import { RadioLensError } from "../../core/errors.js";
import { intendedUseFromFlags } from "../../models/intended-use.js";
import { progressBar } from "../../train/callbacks.js";
import { loadTrainConfig } from "../../train/config.js";
import { type TrainConfig, trainModel } from "../../train/run.js";
import {
  crossValidateSegmentation3D,
  type Segmentation3DOptions,
  trainSegmentation3D,
} from "../../train/seg3d.js";
import { isSeg3DConfig, loadSeg3DConfig } from "../../train/seg3d-config.js";
import { type Command, type CommandIO, defineCommand } from "../command.js";
import { backendOption, custom, flag, int, num, oneOf, string } from "../options.js";

function parseSize(text: string): [number, number] | undefined {
  const m = /^(\d+)(?:x(\d+))?$/.exec(text);
  if (!m) return undefined;
  const size: [number, number] = [Number(m[1]), Number(m[2] ?? m[1])];
  return size[0] > 0 && size[1] > 0 ? size : undefined;
}

/**
 * `radiolens train`: trains a zoo model on a dataset and writes a bundle.
 *
 * @example
 * ```ts
 * await runCli(["train", "--data", "pneumoniamnist.npz", "--model", "seed-cnn", "--epochs", "3", "--batch-size", "32", "--seed", "1", "--out", "runs/demo"]);
 * ```
 */
export const trainCommand: Command = defineCommand({
  usage: `radiolens train --data <file.npz> --model <name> --epochs N --batch-size B --seed S --out DIR [options]
       radiolens train --config train.yaml [flags that override the file]`,
  options: {
    data: string(
      "PATH",
      "MedMNIST-style .npz (train_/val_ images and labels), a folder with one sub-folder per class,\nor a CSV manifest path,label[,patient_id][,split] (splits grouped by patient)",
    ),
    "input-size": custom(
      "HxW",
      "model input size for folder/manifest data (default 224x224)",
      "N or HxW with positive integers",
      parseSize,
    ),
    channels: custom("1|3", "model input channels for folder/manifest data (default 1)", "1 or 3", (t) =>
      t === "1" ? 1 : t === "3" ? 3 : undefined,
    ),
    "select-best": oneOf(
      ["val_loss", "val_acc", "val_auc"],
      "ship the epoch with the best val_loss, val_acc or val_auc",
    ),
    model: string("NAME", "architecture (see 'radiolens models'); e.g. seed-cnn"),
    epochs: int("N", "epochs (default 10)", { min: 1 }),
    "batch-size": int("B", "mini-batch size (default 32)", { min: 1 }),
    seed: int("S", "seed for weights, data order and dropout (default 0)", { min: 0 }),
    out: string("DIR", "output bundle folder (model.json, weights.bin, radiolens.json, metrics.json)"),
    lr: num("X", "Adam learning rate (default 0.001)", { above: 0 }),
    limit: int("N", "train on a seeded random subset of N samples", { min: 1 }),
    "checkpoint-every": int("N", "save a resumable checkpoint every N steps (default: each epoch)", {
      min: 1,
    }),
    resume: flag("continue from DIR/checkpoints/last"),
    backend: backendOption,
    threads: int("N", "compute threads (default RADIOLENS_THREADS or the core count)", { min: 1 }),
    "shuffle-labels": flag("random-label canary: permute training labels; test AUC must stay near 0.5"),
    config: string(
      "FILE",
      "JSON or YAML with the same keys in camelCase (data, model, epochs, batchSize, seed, out,\nlearningRate, weightDecay, schedule, earlyStopping, clipNorm, ...), validated by a schema",
    ),
    modality: string("CR,DX", "intended use: allowed Modality values"),
    "body-part": string("CHEST", "intended use: allowed BodyPartExamined values"),
    "view-position": string("PA,AP", "intended use: allowed ViewPosition values"),
    "sop-class": string("UID,...", "intended use: allowed SOP Class UIDs"),
    photometric: string("MONOCHROME1,MONOCHROME2", "intended use: allowed Photometric Interpretation values"),
    "min-rows": int("N", "intended use: fewest Rows", { min: 1 }),
    "min-columns": int("N", "intended use: fewest Columns", { min: 1 }),
    "pixel-spacing": string("MIN,MAX", "intended use: allowed pixel spacing, mm"),
    "dicom-only": flag("intended use: refuse PNG/JPEG and other non-DICOM"),
    "ood-action": oneOf(
      ["refuse", "flag"],
      "out-of-distribution inputs are not analysed (refuse, default) or analysed and flagged",
    ),
    folds: int("K", "3D segmentation: k of the seeded k-fold split (default 5)", { min: 2 }),
    fold: int("F", "3D segmentation: fold held out for validation (default 0)", { min: 0 }),
    "cross-validate": flag(
      "3D segmentation: train every fold into DIR/fold_<f>, report per-fold and mean Dice",
    ),
    "all-cases": flag("3D segmentation: train on every case (no validation fold)"),
    labels: string(
      "A,B,...",
      "3D segmentation: class names, background first, when there is no dataset.json",
    ),
    "budget-minutes": num("M", "3D segmentation: time budget the planner sizes the run for (default 60)", {
      above: 0,
    }),
    "max-minutes": num("M", "3D segmentation: wall-clock cap; training stops early, logged", { above: 0 }),
    steps: int("N", "3D segmentation: optimizer steps (overrides the planner)", { min: 1 }),
  },
  notes: `Intended use (model card intendedUse.inputs): without these options, what a MedMNIST dataset implies, e.g. chest CR/DX.

3D segmentation (--data is an MSD task folder with imagesTr/ and labelsTr/, or a config with task: segmentation3d,
e.g. configs/msd-hippocampus.yaml): a planner sizes a 3D U-Net for the time budget; fold k of a seeded k-fold split
is held out and scored (Dice, HD95, surface Dice per class with bootstrap CIs) into DIR/metrics.json.`,
  async run({ values }, io) {
    if (
      (values.config && isSeg3DConfig(values.config)) ||
      (!values.config && values.data && existsSync(join(values.data, "imagesTr")))
    ) {
      return runSeg3D(values, io);
    }
    const useFlags = Object.fromEntries(
      (
        [
          "modality",
          "body-part",
          "view-position",
          "sop-class",
          "photometric",
          "min-rows",
          "min-columns",
          "pixel-spacing",
        ] as const
      )
        .map((k) => [k, values[k] === undefined ? undefined : String(values[k])])
        .filter(([, v]) => v !== undefined),
    ) as Record<string, string>;
    if (values["dicom-only"]) useFlags["dicom-only"] = "true";
    const v = values;
    const flags: Partial<TrainConfig> = {
      ...(Object.keys(useFlags).length > 0 ? { intendedUse: intendedUseFromFlags(useFlags) } : {}),
      ...(v["ood-action"] ? { oodAction: v["ood-action"] } : {}),
      ...(v.data !== undefined ? { data: v.data } : {}),
      ...(v.model !== undefined ? { model: v.model } : {}),
      ...(v.out !== undefined ? { out: v.out } : {}),
      ...(v.epochs !== undefined ? { epochs: v.epochs } : {}),
      ...(v["batch-size"] !== undefined ? { batchSize: v["batch-size"] } : {}),
      ...(v.seed !== undefined ? { seed: v.seed } : {}),
      ...(v.lr !== undefined ? { learningRate: v.lr } : {}),
      ...(v.limit !== undefined ? { limit: v.limit } : {}),
      ...(v["checkpoint-every"] !== undefined ? { checkpointEverySteps: v["checkpoint-every"] } : {}),
      ...(v.backend ? { backend: v.backend } : {}),
      ...(v.threads !== undefined ? { threads: v.threads } : {}),
      ...(v.resume ? { resume: true } : {}),
      ...(v["shuffle-labels"] ? { shuffleLabels: true } : {}),
      ...(v["input-size"] !== undefined ? { inputSize: v["input-size"] } : {}),
      ...(v.channels !== undefined ? { channels: v.channels as 1 | 3 } : {}),
      ...(v["select-best"] !== undefined ? { selectBest: v["select-best"] } : {}),
    };
    const configPath = v.config;
    let config: TrainConfig;
    if (configPath) {
      config = loadTrainConfig(configPath, flags);
    } else {
      config = { epochs: 10, batchSize: 32, seed: 0, ...flags } as TrainConfig;
      for (const k of ["data", "model", "out"] as const) {
        if (!config[k])
          throw new RadioLensError("RL_ERR_USAGE", { detail: `--${k} is required (or give --config)` });
      }
    }
    const result = await trainModel(config, [progressBar({ write: io.stderr, tty: io.isTTY })]);
    io.stdout(
      `model bundle written to ${config.out} (${result.state.step} steps, ${result.seconds.toFixed(1)} s)\n`,
    );
    return 0;
  },
});

/** `radiolens train` on an MSD task folder or a `task: segmentation3d` config. */
async function runSeg3D(
  v: {
    readonly data?: string | undefined;
    readonly out?: string | undefined;
    readonly seed?: number | undefined;
    readonly folds?: number | undefined;
    readonly fold?: number | undefined;
    readonly "all-cases"?: boolean | undefined;
    readonly "cross-validate"?: boolean | undefined;
    readonly labels?: string | undefined;
    readonly threads?: number | undefined;
    readonly backend?: Segmentation3DOptions["backend"] | undefined;
    readonly "max-minutes"?: number | undefined;
    readonly "budget-minutes"?: number | undefined;
    readonly steps?: number | undefined;
    readonly config?: string | undefined;
  },
  io: CommandIO,
): Promise<number> {
  const flags: Partial<Segmentation3DOptions> = {
    ...(v.data !== undefined ? { data: v.data } : {}),
    ...(v.out !== undefined ? { out: v.out } : {}),
    ...(v.seed !== undefined ? { seed: v.seed } : {}),
    ...(v.folds !== undefined ? { folds: v.folds } : {}),
    ...(v.fold !== undefined ? { fold: v.fold } : {}),
    ...(v["all-cases"] ? { allCases: true } : {}),
    ...(v.labels !== undefined ? { labels: v.labels.split(",") } : {}),
    ...(v.threads !== undefined ? { threads: v.threads } : {}),
    ...(v.backend ? { backend: v.backend } : {}),
    ...(v["max-minutes"] !== undefined ? { maxMinutes: v["max-minutes"] } : {}),
    ...(v["budget-minutes"] !== undefined ? { budget: { minutes: v["budget-minutes"] } } : {}),
    ...(v.steps !== undefined ? { plan: { steps: v.steps } } : {}),
  };
  let opts: Segmentation3DOptions;
  if (v.config) {
    const base = loadSeg3DConfig(v.config);
    opts = loadSeg3DConfig(v.config, {
      ...flags,
      ...(flags.budget ? { budget: { ...base.budget, ...flags.budget } } : {}),
      ...(flags.plan ? { plan: { ...base.plan, ...flags.plan } } : {}),
    });
  } else {
    for (const k of ["data", "out"] as const) {
      if (!flags[k])
        throw new RadioLensError("RL_ERR_USAGE", { detail: `--${k} is required (or give --config)` });
    }
    opts = { seed: 0, ...flags } as Segmentation3DOptions;
  }
  const log = (line: string) => io.stderr(`${line}\n`);
  const diceText = (d: Record<string, number>) =>
    Object.entries(d)
      .map(([k, x]) => `${k} Dice ${x.toFixed(4)}`)
      .join(", ");
  if (v["cross-validate"]) {
    const cv = await crossValidateSegmentation3D({ ...opts, log });
    for (const f of cv.folds) io.stdout(`fold ${f.fold}: ${diceText(f.dice)}\n`);
    io.stdout(`mean: ${diceText(cv.meanDice)}\n`);
    return 0;
  }
  const r = await trainSegmentation3D({ ...opts, log });
  const dice = diceText(
    Object.fromEntries(
      Object.entries(r.validation?.summary ?? {}).map(([k, m]) => [k, m["dice"]?.mean ?? Number.NaN]),
    ),
  );
  io.stdout(
    `model bundle written to ${opts.out} (${r.stepsRun} steps, ${(r.trainSeconds / 60).toFixed(1)} min training)${dice ? `; validation fold: ${dice}` : ""}\n`,
  );
  return 0;
}
