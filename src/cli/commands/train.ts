/** `radiolens train`: parses flags and calls trainModel(). */

import { existsSync } from "node:fs";
import { join } from "node:path";
import { RadioLensError } from "../../core/errors.js";
import type { BackendName } from "../../engine/backend.js";
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
import { type Command, type CommandArgs, type CommandIO, flag, str } from "../command.js";

function parseSize(v: string): [number, number] {
  const m = /^(\d+)(?:x(\d+))?$/.exec(v);
  if (!m) throw new RadioLensError("RL_ERR_USAGE", { detail: `--input-size must be N or HxW, got '${v}'` });
  return [Number(m[1]), Number(m[2] ?? m[1])];
}

function int(args: CommandArgs, name: string, fallback?: number): number {
  const v = str(args, name);
  if (v === undefined) {
    if (fallback === undefined) throw new RadioLensError("RL_ERR_USAGE", { detail: `--${name} is required` });
    return fallback;
  }
  const n = Number(v);
  if (!Number.isInteger(n))
    throw new RadioLensError("RL_ERR_USAGE", { detail: `--${name} must be an integer, got '${v}'` });
  return n;
}

/**
 * `radiolens train`: trains a zoo model on a dataset and writes a bundle.
 *
 * @example
 * ```ts
 * await runCli(["train", "--data", "pneumoniamnist.npz", "--model", "seed-cnn", "--epochs", "3", "--batch-size", "32", "--seed", "1", "--out", "runs/demo"]);
 * ```
 */
export const trainCommand: Command = {
  help: `Usage: radiolens train --data <file.npz> --model <name> --epochs N --batch-size B --seed S --out DIR [options]
       radiolens train --config train.yaml [flags that override the file]

Options:
  --data PATH          MedMNIST-style .npz (train_/val_ images and labels), a folder with one sub-folder per class,
                       or a CSV manifest path,label[,patient_id][,split] (splits grouped by patient)
  --input-size HxW     model input size for folder/manifest data (default 224x224)
  --channels 1|3       model input channels for folder/manifest data (default 1)
  --select-best M      ship the epoch with the best val_loss or val_acc
  --model NAME         architecture (see 'radiolens models'); e.g. seed-cnn
  --epochs N           epochs (default 10)
  --batch-size B       mini-batch size (default 32)
  --seed S             seed for weights, data order and dropout (default 0)
  --out DIR            output bundle folder (model.json, weights.bin, radiolens.json, metrics.json)
  --lr X               Adam learning rate (default 0.001)
  --limit N            train on a seeded random subset of N samples
  --checkpoint-every N save a resumable checkpoint every N steps (default: each epoch)
  --resume             continue from DIR/checkpoints/last
  --backend NAME       onednn | wasm | cpu (default: fastest available)
  --threads N          compute threads (default RADIOLENS_THREADS or the core count)
  --shuffle-labels     random-label canary: permute training labels; test AUC must stay near 0.5

Intended use (model card intendedUse.inputs; default: what a MedMNIST dataset implies, e.g. chest CR/DX):
  --modality CR,DX     allowed Modality values      --body-part CHEST     allowed BodyPartExamined values
  --view-position PA,AP allowed ViewPosition values --sop-class UID,...   allowed SOP Class UIDs
  --photometric MONOCHROME1,MONOCHROME2             --min-rows N / --min-columns N
  --pixel-spacing MIN,MAX  allowed pixel spacing, mm --dicom-only          refuse PNG/JPEG and other non-DICOM
  --ood-action refuse|flag  out-of-distribution inputs are not analysed (default) or analysed and flagged
  --config FILE        JSON or YAML with the same keys in camelCase (data, model, epochs, batchSize, seed, out,
                       learningRate, weightDecay, schedule, earlyStopping, clipNorm, ...), validated by a schema

3D segmentation (--data is an MSD task folder with imagesTr/ and labelsTr/, or a config with task: segmentation3d,
e.g. configs/msd-hippocampus.yaml): a planner sizes a 3D U-Net for the time budget; fold k of a seeded k-fold split
is held out and scored (Dice, HD95, surface Dice per class with bootstrap CIs) into DIR/metrics.json.
  --folds K            k of the k-fold split (default 5)
  --fold F             fold held out for validation (default 0)
  --cross-validate     train every fold into DIR/fold_<f> and report per-fold and mean Dice (DIR/cv.json)
  --all-cases          train on every case (no validation fold)
  --labels A,B,...     class names, background first, when the folder has no dataset.json
  --budget-minutes M   time budget the planner sizes the run for (default 60)
  --max-minutes M      wall-clock cap: training stops early, logged, past M minutes
  --steps N            optimizer steps (overrides the planner)`,
  options: {
    data: { type: "string" },
    model: { type: "string" },
    epochs: { type: "string" },
    "batch-size": { type: "string" },
    seed: { type: "string" },
    out: { type: "string" },
    lr: { type: "string" },
    limit: { type: "string" },
    "checkpoint-every": { type: "string" },
    resume: { type: "boolean" },
    backend: { type: "string" },
    threads: { type: "string" },
    config: { type: "string" },
    "shuffle-labels": { type: "boolean" },
    "input-size": { type: "string" },
    channels: { type: "string" },
    "select-best": { type: "string" },
    modality: { type: "string" },
    "body-part": { type: "string" },
    "view-position": { type: "string" },
    "sop-class": { type: "string" },
    photometric: { type: "string" },
    "min-rows": { type: "string" },
    "min-columns": { type: "string" },
    "pixel-spacing": { type: "string" },
    "dicom-only": { type: "boolean" },
    "ood-action": { type: "string" },
    folds: { type: "string" },
    fold: { type: "string" },
    "cross-validate": { type: "boolean" },
    "all-cases": { type: "boolean" },
    labels: { type: "string" },
    "budget-minutes": { type: "string" },
    "max-minutes": { type: "string" },
    steps: { type: "string" },
  },
  async run(args, io) {
    const cfg = str(args, "config");
    const data = str(args, "data");
    if ((cfg && isSeg3DConfig(cfg)) || (!cfg && data && existsSync(join(data, "imagesTr")))) {
      return runSeg3D(args, io);
    }
    const lr = str(args, "lr");
    const limit = str(args, "limit");
    const every = str(args, "checkpoint-every");
    const backend = str(args, "backend") as BackendName | undefined;
    const threads = str(args, "threads");
    const useFlags = Object.fromEntries(
      [
        "modality",
        "body-part",
        "view-position",
        "sop-class",
        "photometric",
        "min-rows",
        "min-columns",
        "pixel-spacing",
      ]
        .map((k) => [k, str(args, k)])
        .filter(([, v]) => v !== undefined),
    ) as Record<string, string>;
    if (flag(args, "dicom-only")) useFlags["dicom-only"] = "true";
    const oodAction = str(args, "ood-action");
    if (oodAction !== undefined && oodAction !== "refuse" && oodAction !== "flag")
      throw new RadioLensError("RL_ERR_USAGE", {
        detail: `--ood-action must be refuse or flag, got '${oodAction}'`,
      });
    const flags: Partial<TrainConfig> = {
      ...(Object.keys(useFlags).length > 0 ? { intendedUse: intendedUseFromFlags(useFlags) } : {}),
      ...(oodAction ? { oodAction } : {}),
      ...(str(args, "data") !== undefined ? { data: str(args, "data") as string } : {}),
      ...(str(args, "model") !== undefined ? { model: str(args, "model") as string } : {}),
      ...(str(args, "out") !== undefined ? { out: str(args, "out") as string } : {}),
      ...(str(args, "epochs") !== undefined ? { epochs: int(args, "epochs") } : {}),
      ...(str(args, "batch-size") !== undefined ? { batchSize: int(args, "batch-size") } : {}),
      ...(str(args, "seed") !== undefined ? { seed: int(args, "seed") } : {}),
      ...(lr !== undefined ? { learningRate: Number(lr) } : {}),
      ...(limit !== undefined ? { limit: int(args, "limit") } : {}),
      ...(every !== undefined ? { checkpointEverySteps: int(args, "checkpoint-every") } : {}),
      ...(backend ? { backend } : {}),
      ...(threads !== undefined ? { threads: int(args, "threads") } : {}),
      ...(flag(args, "resume") ? { resume: true } : {}),
      ...(flag(args, "shuffle-labels") ? { shuffleLabels: true } : {}),
      ...(str(args, "input-size") !== undefined
        ? { inputSize: parseSize(str(args, "input-size") as string) }
        : {}),
      ...(str(args, "channels") !== undefined ? { channels: int(args, "channels") as 1 | 3 } : {}),
      ...(str(args, "select-best") !== undefined
        ? { selectBest: str(args, "select-best") as "val_loss" | "val_acc" }
        : {}),
    };
    const configPath = str(args, "config");
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
};

/** `radiolens train` on an MSD task folder or a `task: segmentation3d` config. */
async function runSeg3D(args: CommandArgs, io: CommandIO): Promise<number> {
  const num = (name: string) => {
    const v = str(args, name);
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isFinite(n))
      throw new RadioLensError("RL_ERR_USAGE", { detail: `--${name} must be a number, got '${v}'` });
    return n;
  };
  const flags: Partial<Segmentation3DOptions> = {
    ...(str(args, "data") !== undefined ? { data: str(args, "data") as string } : {}),
    ...(str(args, "out") !== undefined ? { out: str(args, "out") as string } : {}),
    ...(str(args, "seed") !== undefined ? { seed: int(args, "seed") } : {}),
    ...(str(args, "folds") !== undefined ? { folds: int(args, "folds") } : {}),
    ...(str(args, "fold") !== undefined ? { fold: int(args, "fold") } : {}),
    ...(flag(args, "all-cases") ? { allCases: true } : {}),
    ...(str(args, "labels") !== undefined ? { labels: (str(args, "labels") as string).split(",") } : {}),
    ...(str(args, "threads") !== undefined ? { threads: int(args, "threads") } : {}),
    ...(str(args, "backend") !== undefined ? { backend: str(args, "backend") as BackendName } : {}),
    ...(num("max-minutes") !== undefined ? { maxMinutes: num("max-minutes") as number } : {}),
    ...(num("budget-minutes") !== undefined ? { budget: { minutes: num("budget-minutes") as number } } : {}),
    ...(str(args, "steps") !== undefined ? { plan: { steps: int(args, "steps") } } : {}),
  };
  const cfg = str(args, "config");
  let opts: Segmentation3DOptions;
  if (cfg) {
    const base = loadSeg3DConfig(cfg);
    opts = loadSeg3DConfig(cfg, {
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
  if (flag(args, "cross-validate")) {
    const cv = await crossValidateSegmentation3D({ ...opts, log });
    for (const f of cv.folds) {
      io.stdout(
        `fold ${f.fold}: ${Object.entries(f.dice)
          .map(([k, v]) => `${k} Dice ${v.toFixed(4)}`)
          .join(", ")}\n`,
      );
    }
    io.stdout(
      `mean: ${Object.entries(cv.meanDice)
        .map(([k, v]) => `${k} Dice ${v.toFixed(4)}`)
        .join(", ")}\n`,
    );
    return 0;
  }
  const r = await trainSegmentation3D({ ...opts, log });
  const dice = Object.entries(r.validation?.summary ?? {})
    .map(([k, m]) => `${k} Dice ${m["dice"]?.mean.toFixed(4)}`)
    .join(", ");
  io.stdout(
    `model bundle written to ${opts.out} (${r.stepsRun} steps, ${(r.trainSeconds / 60).toFixed(1)} min training)${dice ? `; validation fold: ${dice}` : ""}\n`,
  );
  return 0;
}
