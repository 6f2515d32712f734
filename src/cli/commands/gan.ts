/** `radiolens gan train|sample`: conditional DCGAN training within a time budget, and PNG sample grids. */
import { sampleGan, trainGan } from "../../train/gan.js";
import { type Command, defineCommand } from "../command.js";
import { backendOption, int, num, string } from "../options.js";

/**
 * `radiolens gan train`: trains the conditional DCGAN for a time or epoch budget.
 *
 * @example
 * ```ts
 * await runCli(["gan", "train", "--data", "pneumoniamnist.npz", "--out", "runs/gan", "--seconds", "300"]);
 * ```
 */
export const ganTrainCommand: Command = defineCommand({
  usage:
    "radiolens gan train --data <file.npz> --out DIR (--seconds S | --epochs N) [--label K] [--batch-size B] [--seed S]",
  description:
    "Writes DIR/generator/ (tfjs model), DIR/gan.json, DIR/log.jsonl and DIR/samples.png (64 samples of --label).",
  options: {
    data: string("PATH", "MedMNIST-style .npz", { required: true }),
    out: string("DIR", "output folder", { required: true }),
    seconds: num("S", "time budget in seconds", { above: 0 }),
    epochs: int("N", "epoch budget", { min: 1 }),
    label: int("K", "class of the sample grid", { min: 0 }),
    "batch-size": int("B", "mini-batch size", { min: 1, default: 64 }),
    seed: int("S", "seed", { min: 0, default: 0 }),
    backend: backendOption,
  },
  async run({ values }, io) {
    const { seconds, epochs, label, backend } = values;
    const r = await trainGan({
      data: values.data,
      out: values.out,
      batchSize: values["batch-size"],
      seed: values.seed,
      ...(seconds !== undefined ? { seconds } : {}),
      ...(epochs !== undefined ? { epochs } : {}),
      ...(label !== undefined ? { label } : {}),
      ...(backend ? { backend } : {}),
    });
    io.stdout(
      `GAN trained: ${r.steps} steps in ${r.seconds.toFixed(0)} s (d_loss ${r.dLoss.toFixed(3)}, g_loss ${r.gLoss.toFixed(3)}); samples in ${values.out}/samples.png\n`,
    );
    return 0;
  },
});

/**
 * `radiolens gan sample`: a grid of generated images from a trained DCGAN.
 *
 * @example
 * ```ts
 * await runCli(["gan", "sample", "--model", "runs/gan", "--out", "grid.png"]);
 * ```
 */
export const ganSampleCommand: Command = defineCommand({
  usage: "radiolens gan sample --model DIR --out grid.png [--n 16] [--label K] [--seed S]",
  options: {
    model: string("DIR", "folder written by 'radiolens gan train'", { required: true }),
    out: string("FILE", "output PNG grid", { required: true }),
    n: int("N", "images in the grid", { min: 1, default: 16 }),
    label: int("K", "class generated", { min: 0, default: 0 }),
    seed: int("S", "seed", { min: 0, default: 0 }),
    backend: backendOption,
  },
  async run({ values }, io) {
    const backend = values.backend;
    await sampleGan({
      model: values.model,
      out: values.out,
      n: values.n,
      label: values.label,
      seed: values.seed,
      ...(backend ? { backend } : {}),
    });
    io.stdout(`wrote ${values.out}\n`);
    return 0;
  },
});
