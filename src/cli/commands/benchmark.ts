/** `radiolens benchmark medmnist`: parses flags and calls benchmarkMedmnist(). */

import { RadioLensError } from "../../core/errors.js";
import { benchmarkMedmnist } from "../../train/benchmark-medmnist.js";
import { progressBar } from "../../train/callbacks.js";
import { type Command, flag, str } from "../command.js";

/**
 * `radiolens benchmark medmnist`: trains and evaluates every MedMNIST file of a folder, writes Markdown + JSON tables.
 *
 * @example
 * ```ts
 * await runCli(["benchmark", "medmnist", "--data-dir", "../shared/data/medmnist"]);
 * ```
 */
export const benchmarkMedmnistCommand: Command = {
  help: `Usage: radiolens benchmark medmnist --data-dir DIR [--config-2d FILE] [--config-3d FILE] [--out DIR] [--reuse]
                                  [--bootstrap N]

Trains configs/medmnist-2d.yaml on every 2D .npz of DIR and configs/medmnist-3d.yaml on every 3D one (decided
from the arrays' shapes), evaluates each bundle on its test split with the MedMNIST evaluator's semantics and
writes OUT/benchmark.md and OUT/benchmark.json: dataset, task, ours (ACC, AUC with bootstrap 95% CIs), the paper's
ResNet-18 row and best row, minutes, cores. --out defaults to runs/benchmark-medmnist; --reuse evaluates bundles
already in OUT/<dataset> instead of training them again.`,
  options: {
    "data-dir": { type: "string" },
    "config-2d": { type: "string" },
    "config-3d": { type: "string" },
    out: { type: "string" },
    reuse: { type: "boolean" },
    bootstrap: { type: "string" },
  },
  async run(args, io) {
    const dataDir = str(args, "data-dir");
    if (!dataDir) throw new RadioLensError("RL_ERR_USAGE", { detail: "--data-dir is required" });
    const c2 = str(args, "config-2d");
    const c3 = str(args, "config-3d");
    const out = str(args, "out");
    const boot = str(args, "bootstrap");
    const rows = await benchmarkMedmnist({
      dataDir,
      ...(c2 ? { config2d: c2 } : {}),
      ...(c3 ? { config3d: c3 } : {}),
      ...(out ? { out } : {}),
      ...(boot ? { bootstrap: Number(boot) } : {}),
      ...(flag(args, "reuse") ? { reuse: true } : {}),
      callbacks: [progressBar({ write: io.stderr, tty: io.isTTY })],
    });
    for (const r of rows) {
      io.stdout(
        `${r.dataset}: ACC ${r.acc.toFixed(3)} AUC ${r.auc.toFixed(3)} (${r.minutes.toFixed(1)} min)${r.paper ? `; paper ResNet-18 ${r.paper.resnet18.acc.toFixed(3)} / ${r.paper.resnet18.auc.toFixed(3)}` : ""}\n`,
      );
    }
    io.stdout(`tables written to ${out ?? "runs/benchmark-medmnist"}/benchmark.md and benchmark.json\n`);
    return 0;
  },
};
