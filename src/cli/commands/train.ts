/** `radiolens train`: parses flags and calls trainModel(). */

import { RadioLensError } from "../../core/errors.js";
import type { BackendName } from "../../engine/backend.js";
import { progressBar } from "../../train/callbacks.js";
import { trainModel } from "../../train/run.js";
import { type Command, type CommandArgs, flag, str } from "../command.js";

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

function required(args: CommandArgs, name: string): string {
  const v = str(args, name);
  if (v === undefined) throw new RadioLensError("RL_ERR_USAGE", { detail: `--${name} is required` });
  return v;
}

export const trainCommand: Command = {
  name: "train",
  summary: "Train a model on a dataset and write a model bundle",
  help: `Usage: radiolens train --data <file.npz> --model <name> --epochs N --batch-size B --seed S --out DIR [options]

Options:
  --data FILE          MedMNIST-style .npz (train_images/train_labels, val_images/val_labels)
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
  --threads N          compute threads (default RADIOLENS_THREADS or the core count)`,
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
  },
  async run(args, io) {
    const lr = str(args, "lr");
    const limit = str(args, "limit");
    const every = str(args, "checkpoint-every");
    const backend = str(args, "backend") as BackendName | undefined;
    const threads = str(args, "threads");
    const out = required(args, "out");
    const result = await trainModel(
      {
        data: required(args, "data"),
        model: required(args, "model"),
        epochs: int(args, "epochs", 10),
        batchSize: int(args, "batch-size", 32),
        seed: int(args, "seed", 0),
        out,
        ...(lr !== undefined ? { learningRate: Number(lr) } : {}),
        ...(limit !== undefined ? { limit: int(args, "limit") } : {}),
        ...(every !== undefined ? { checkpointEverySteps: int(args, "checkpoint-every") } : {}),
        ...(backend ? { backend } : {}),
        ...(threads !== undefined ? { threads: int(args, "threads") } : {}),
        resume: flag(args, "resume"),
      },
      [progressBar({ write: io.stderr, tty: io.isTTY })],
    );
    io.stdout(
      `model bundle written to ${out} (${result.state.step} steps, ${result.seconds.toFixed(1)} s)\n`,
    );
    return 0;
  },
};
