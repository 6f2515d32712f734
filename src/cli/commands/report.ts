/** `radiolens report`: parses flags and calls buildReport() — one self-contained HTML evaluation report. */
import { RadioLensError } from "../../core/errors.js";
import type { BackendName } from "../../engine/backend.js";
import { buildReport } from "../../evaluation-report/report.js";
import { parseMethod } from "../../explain/explain.js";
import { type Command, str, strs } from "../command.js";

function int(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0)
    throw new RadioLensError("RL_ERR_USAGE", { detail: `--${name} must be an integer ≥ 0, got '${v}'` });
  return n;
}

/**
 * `radiolens report`.
 *
 * @example
 * ```ts
 * await reportCommand.run({ values: { model: "m", data: "d.npz", out: "report.html" }, positionals: [] }, io);
 * ```
 */
export const reportCommand: Command = {
  help: `Usage: radiolens report --model DIR --data <file.npz> --out report.html [--split test] [--bootstrap 1000]
       [--samples 8] [--method gradcam|gradcam++|occlusion|gradient|smoothgrad] [--seed 0] [--backend NAME]
       [--ood OTHER ...]

One HTML file with everything inline (figures as SVG, images as PNG data URIs, CSS); it makes no network
request and opens in any browser. --samples: how many test images to show with heatmaps (correct and
incorrect per class); --seed seeds the bootstrap and the choice of samples. --ood OTHER (repeatable) adds the
same OOD AUROC and FPR at 95% TPR as 'radiolens evaluate --ood' to the safety section.`,
  options: {
    model: { type: "string" },
    data: { type: "string" },
    split: { type: "string" },
    out: { type: "string", short: "o" },
    bootstrap: { type: "string" },
    samples: { type: "string" },
    method: { type: "string" },
    seed: { type: "string" },
    backend: { type: "string" },
    ood: { type: "string", multiple: true },
  },
  async run(args, io) {
    const model = str(args, "model");
    const data = str(args, "data");
    const out = str(args, "out");
    if (!model || !data || !out)
      throw new RadioLensError("RL_ERR_USAGE", { detail: "--model, --data and --out are required" });
    const method = str(args, "method");
    const backend = str(args, "backend") as BackendName | undefined;
    const bootstrap = int("bootstrap", str(args, "bootstrap"));
    const samples = int("samples", str(args, "samples"));
    const seed = int("seed", str(args, "seed"));
    const r = await buildReport({
      model,
      data,
      out,
      split: str(args, "split") ?? "test",
      ...(method ? { method: parseMethod(method) } : {}),
      ...(backend ? { backend } : {}),
      ...(bootstrap !== undefined ? { bootstrap } : {}),
      ...(samples !== undefined ? { samples } : {}),
      ...(seed !== undefined ? { seed } : {}),
      ood: strs(args, "ood"),
    });
    io.stdout(
      `${r.out}: ${r.evaluation.n_samples} samples, ${r.sampleIndices.length} explained, ${r.bytes} bytes\n`,
    );
    return 0;
  },
};
