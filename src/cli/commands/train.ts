/** `radiolens train`: parses flags and calls trainModel(). */

import { RadioLensError } from "../../core/errors.js";
import type { BackendName } from "../../engine/backend.js";
import { intendedUseFromFlags } from "../../models/intended-use.js";
import { progressBar } from "../../train/callbacks.js";
import { loadTrainConfig } from "../../train/config.js";
import { type TrainConfig, trainModel } from "../../train/run.js";
import { type Command, type CommandArgs, flag, str } from "../command.js";

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
                       learningRate, weightDecay, schedule, earlyStopping, clipNorm, ...), validated by a schema`,
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
  },
  async run(args, io) {
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
