/** `radiolens report`: parses flags and calls buildReport() — one self-contained HTML evaluation report. */
import { buildReport } from "../../evaluation-report/report.js";
import { EXPLAIN_METHODS } from "../../explain/heatmap.js";
import { type Command, defineCommand } from "../command.js";
import { backendOption, int, list, oneOf, string } from "../options.js";

/**
 * `radiolens report`.
 *
 * @example
 * ```ts
 * await reportCommand.run({ values: { model: "m", data: "d.npz", out: "report.html" }, positionals: [] }, io);
 * ```
 */
export const reportCommand: Command = defineCommand({
  usage: `radiolens report --model DIR --data <file.npz> --out report.html [--split test] [--bootstrap 1000]
       [--samples 8] [--method gradcam|gradcam++|occlusion|gradient|smoothgrad] [--seed 0] [--backend NAME]
       [--ood OTHER ...]`,
  description: `One HTML file with everything inline (figures as SVG, images as PNG data URIs, CSS); it makes no network
request and opens in any browser.`,
  options: {
    model: string("DIR", "model bundle", { required: true }),
    data: string("PATH", "dataset (.npz, class folders or CSV manifest)", { required: true }),
    split: string("NAME", "dataset split", { default: "test" }),
    out: string("FILE", "output HTML", { required: true, short: "o" }),
    bootstrap: int("N", "bootstrap resamples for the CIs (default 1000)", { min: 0 }),
    samples: int("N", "test images shown with heatmaps, correct and incorrect per class (default 8)", {
      min: 0,
    }),
    method: oneOf(EXPLAIN_METHODS, "heatmap method (default gradcam)"),
    seed: int("S", "seed of the bootstrap and of the choice of samples (default 0)", { min: 0 }),
    backend: backendOption,
    ood: list(
      "OTHER",
      "adds the OOD AUROC and FPR at 95% TPR of 'radiolens evaluate --ood' to the safety section",
    ),
  },
  async run({ values }, io) {
    const { method, backend, bootstrap, samples, seed } = values;
    const r = await buildReport({
      model: values.model,
      data: values.data,
      out: values.out,
      split: values.split,
      ...(method ? { method } : {}),
      ...(backend ? { backend } : {}),
      ...(bootstrap !== undefined ? { bootstrap } : {}),
      ...(samples !== undefined ? { samples } : {}),
      ...(seed !== undefined ? { seed } : {}),
      ood: values.ood,
    });
    io.stdout(
      `${r.out}: ${r.evaluation.n_samples} samples, ${r.sampleIndices.length} explained, ${r.bytes} bytes\n`,
    );
    return 0;
  },
});
