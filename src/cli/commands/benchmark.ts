/** `radiolens benchmark medmnist`: parses flags and calls benchmarkMedmnist(). */

import { benchmarkMedmnist } from "../../train/benchmark-medmnist.js";
import { progressBar } from "../../train/callbacks.js";
import { type Command, defineCommand } from "../command.js";
import { flag, int, string } from "../options.js";

/**
 * `radiolens benchmark medmnist`: trains and evaluates every MedMNIST file of a folder, writes Markdown + JSON tables.
 *
 * @example
 * ```ts
 * await runCli(["benchmark", "medmnist", "--data-dir", "../shared/data/medmnist"]);
 * ```
 */
export const benchmarkMedmnistCommand: Command = defineCommand({
  usage:
    "radiolens benchmark medmnist --data-dir DIR [--config-2d FILE] [--config-3d FILE] [--out DIR] [--reuse]",
  description: `Trains configs/medmnist-2d.yaml on every 2D .npz of DIR and configs/medmnist-3d.yaml on every 3D one (decided
from the arrays' shapes), evaluates each bundle on its test split with the MedMNIST evaluator's semantics and
writes OUT/benchmark.md and OUT/benchmark.json: dataset, task, ours (ACC, AUC with bootstrap 95% CIs), the paper's
ResNet-18 row and best row, minutes, cores.`,
  options: {
    "data-dir": string("DIR", "folder of MedMNIST .npz files", { required: true }),
    "config-2d": string("FILE", "recipe for 2D files", { default: "configs/medmnist-2d.yaml" }),
    "config-3d": string("FILE", "recipe for 3D files", { default: "configs/medmnist-3d.yaml" }),
    out: string("DIR", "folder for the bundles and the tables", { default: "runs/benchmark-medmnist" }),
    reuse: flag("evaluate bundles already in OUT/<dataset> instead of training them again"),
    bootstrap: int("N", "bootstrap resamples for the CIs", { min: 1, default: 1000 }),
  },
  async run({ values }, io) {
    const rows = await benchmarkMedmnist({
      dataDir: values["data-dir"],
      config2d: values["config-2d"],
      config3d: values["config-3d"],
      out: values.out,
      bootstrap: values.bootstrap,
      ...(values.reuse ? { reuse: true } : {}),
      callbacks: [progressBar({ write: io.stderr, tty: io.isTTY })],
    });
    for (const r of rows) {
      const p = r.paper
        ? `; paper ResNet-18 ${r.paper.resnet18.acc.toFixed(3)} / ${r.paper.resnet18.auc.toFixed(3)}`
        : "";
      io.stdout(
        `${r.dataset}: ACC ${r.acc.toFixed(3)} AUC ${r.auc.toFixed(3)} (${r.minutes.toFixed(1)} min)${p}\n`,
      );
    }
    io.stdout(`tables written to ${values.out}/benchmark.md and benchmark.json\n`);
    return 0;
  },
});
