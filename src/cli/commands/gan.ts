/** `radiolens gan train|sample`: conditional DCGAN training within a time budget, and PNG sample grids. */
import { RadioLensError } from "../../core/errors.js";
import type { BackendName } from "../../engine/backend.js";
import { sampleGan, trainGan } from "../../train/gan.js";
import { type Command, str } from "../command.js";

function num(v: string | undefined, name: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n))
    throw new RadioLensError("RL_ERR_USAGE", { detail: `--${name} must be a number, got '${v}'` });
  return n;
}

/**
 * `radiolens gan train`: trains the conditional DCGAN for a time or epoch budget.
 *
 * @example
 * ```ts
 * await runCli(["gan", "train", "--data", "pneumoniamnist.npz", "--out", "runs/gan", "--seconds", "300"]);
 * ```
 */
export const ganTrainCommand: Command = {
  help: `Usage: radiolens gan train --data <file.npz> --out DIR (--seconds S | --epochs N) [--label K] [--batch-size B] [--seed S]

Writes DIR/generator/ (tfjs model), DIR/gan.json, DIR/log.jsonl and DIR/samples.png (64 samples of --label).`,
  options: {
    data: { type: "string" },
    out: { type: "string" },
    seconds: { type: "string" },
    epochs: { type: "string" },
    label: { type: "string" },
    "batch-size": { type: "string" },
    seed: { type: "string" },
    backend: { type: "string" },
  },
  async run(args, io) {
    const data = str(args, "data");
    const out = str(args, "out");
    if (!data || !out) throw new RadioLensError("RL_ERR_USAGE", { detail: "--data and --out are required" });
    const seconds = num(str(args, "seconds"), "seconds");
    const epochs = num(str(args, "epochs"), "epochs");
    const label = num(str(args, "label"), "label");
    const backend = str(args, "backend") as BackendName | undefined;
    const r = await trainGan({
      data,
      out,
      batchSize: num(str(args, "batch-size"), "batch-size") ?? 64,
      seed: num(str(args, "seed"), "seed") ?? 0,
      ...(seconds !== undefined ? { seconds } : {}),
      ...(epochs !== undefined ? { epochs } : {}),
      ...(label !== undefined ? { label } : {}),
      ...(backend ? { backend } : {}),
    });
    io.stdout(
      `GAN trained: ${r.steps} steps in ${r.seconds.toFixed(0)} s (d_loss ${r.dLoss.toFixed(3)}, g_loss ${r.gLoss.toFixed(3)}); samples in ${out}/samples.png\n`,
    );
    return 0;
  },
};

/**
 * `radiolens gan sample`: a grid of generated images from a trained DCGAN.
 *
 * @example
 * ```ts
 * await runCli(["gan", "sample", "--model", "runs/gan", "--out", "grid.png"]);
 * ```
 */
export const ganSampleCommand: Command = {
  help: "Usage: radiolens gan sample --model DIR --out grid.png [--n 16] [--label K] [--seed S]",
  options: {
    model: { type: "string" },
    out: { type: "string" },
    n: { type: "string" },
    label: { type: "string" },
    seed: { type: "string" },
    backend: { type: "string" },
  },
  async run(args, io) {
    const model = str(args, "model");
    const out = str(args, "out");
    if (!model || !out)
      throw new RadioLensError("RL_ERR_USAGE", { detail: "--model and --out are required" });
    const backend = str(args, "backend") as BackendName | undefined;
    await sampleGan({
      model,
      out,
      n: num(str(args, "n"), "n") ?? 16,
      label: num(str(args, "label"), "label") ?? 0,
      seed: num(str(args, "seed"), "seed") ?? 0,
      ...(backend ? { backend } : {}),
    });
    io.stdout(`wrote ${out}\n`);
    return 0;
  },
};
