/** `radiolens evaluate`: parses flags and calls evaluateBundle(); prints the headline metrics or the full JSON. */

import { existsSync } from "node:fs";
import { join } from "node:path";
import { RadioLensError } from "../../core/errors.js";
import { HEADLINE_KEYS } from "../../metrics/index.js";
import { evaluateBundle } from "../../train/evaluate-bundle.js";
import { evaluateSegmentationBundle } from "../../train/seg3d.js";
import { type Command, defineCommand } from "../command.js";
import { backendOption, flag, int, list, num, oneOf, runtimeOption, string } from "../options.js";

/**
 * `radiolens evaluate`: clinical metrics of a model bundle on a dataset split.
 *
 * @example
 * ```ts
 * await runCli(["evaluate", "--model", "runs/demo", "--data", "pneumoniamnist.npz", "--split", "test"]);
 * ```
 */
export const evaluateCommand: Command = defineCommand({
  usage: `radiolens evaluate --model DIR --data <file.npz> [--split test] [--json] [--bootstrap N] [--threshold T] [--backend NAME] [--runtime tfjs|onnx]
                          [--ood OTHER ...]`,
  description: `Prints accuracy, balanced accuracy, precision, recall, specificity, NPV, F1, MCC, kappa, AUC, average precision,
log loss, Brier score and ECE; --json prints them as top-level keys with per-class details and CIs nested.`,
  options: {
    model: string("DIR", "model bundle", { required: true }),
    data: string("PATH", "dataset (.npz, class folders or CSV manifest)", { required: true }),
    split: string("NAME", "dataset split", { default: "test" }),
    json: flag("print the evaluation as JSON"),
    bootstrap: int("N", "bootstrap resamples for the CIs", { min: 0 }),
    threshold: num("T", "decision threshold on the positive class's probability", { min: 0, max: 1 }),
    backend: backendOption,
    runtime: runtimeOption,
    ood: list("OTHER", "an out-of-distribution set: an .npz (its test split) or a folder of images"),
    cases: oneOf(
      ["validation", "all"],
      "3D segmentation: the bundle's validation fold (default) or every case",
    ),
    tolerance: num("MM", "3D segmentation: surface Dice tolerance in mm (default 1)", { above: 0 }),
  },
  notes: `--runtime: ONNX Runtime by default when the bundle has model.onnx (threads: RADIOLENS_THREADS), else tfjs.
With an OOD detector in the card, "gated" gives accuracy and AUC on the images it keeps. --ood OTHER (repeatable:
an .npz, whose test split is used, or a folder of images, DICOM or NIfTI files) adds ood_auroc and
ood_fpr_at_95_tpr (out of distribution = positive; the split of --data is in distribution) and per-set numbers.

3D segmentation (--data is an MSD task folder): segments the bundle's validation fold (or --cases all) and prints,
per class, the mean over cases of Dice, HD95 and surface Dice with 95% bootstrap CIs; --json adds IoU, ASSD and
the per-case scores.`,
  async run({ values }, io) {
    const { bootstrap, threshold, backend, runtime } = values;
    if (existsSync(join(values.data, "imagesTr"))) {
      if (values.split !== "test")
        throw new RadioLensError("RL_ERR_USAGE", {
          detail: "--split does not apply to an MSD task folder; use --cases",
        });
      const ev = await evaluateSegmentationBundle({
        model: values.model,
        data: values.data,
        cases: values.cases ?? "validation",
        ...(values.tolerance !== undefined ? { tolerance: values.tolerance } : {}),
        ...(backend ? { backend } : {}),
      });
      if (values.json) {
        io.stdout(
          `${JSON.stringify(ev, (_k, v) => (typeof v === "number" && !Number.isFinite(v) ? null : v), 2)}\n`,
        );
        return 0;
      }
      io.stdout(
        `${ev.cases.length} cases, surface Dice tolerance ${ev.tolerance} mm; mean over cases [95% CI]\n`,
      );
      for (const [name, m] of Object.entries(ev.summary)) {
        const f = (k: string, d: number) => {
          const x = m[k];
          return x ? `${k} ${x.mean.toFixed(d)} [${x.lo.toFixed(d)}, ${x.hi.toFixed(d)}]` : "";
        };
        io.stdout(`  ${name.padEnd(12)} ${f("dice", 4)}  ${f("hd95", 2)}  ${f("surfaceDice", 4)}\n`);
      }
      return 0;
    }
    const r = await evaluateBundle({
      model: values.model,
      data: values.data,
      split: values.split,
      ...(bootstrap !== undefined ? { bootstrap } : {}),
      ...(threshold !== undefined ? { threshold } : {}),
      ...(backend ? { backend } : {}),
      ...(runtime ? { runtime } : {}),
      ood: values.ood,
    });
    if (values.json) {
      io.stdout(
        `${JSON.stringify(r, (_k, v) => (typeof v === "number" && !Number.isFinite(v) ? null : v), 2)}\n`,
      );
      return 0;
    }
    io.stdout(`${r.model.name} ${r.model.version} on ${r.dataset.split} (${r.n_samples} samples)\n`);
    for (const k of HEADLINE_KEYS) {
      const v = r[k];
      const ci = r.ci.bootstrap?.intervals[k];
      const ciText = ci && Number.isFinite(ci.lo) ? `  [${ci.lo.toFixed(3)}, ${ci.hi.toFixed(3)}]` : "";
      io.stdout(`  ${k.padEnd(18)} ${Number.isFinite(v) ? v.toFixed(4) : "undefined"}${ciText}\n`);
    }
    if (r.gated)
      io.stdout(
        `  gated by OOD       ${r.gated.n_samples} kept (${(100 * r.gated.flagged_fraction).toFixed(1)}% flagged): accuracy ${r.gated.accuracy.toFixed(4)}  auc ${r.gated.auc.toFixed(4)}\n`,
      );
    if (r.ood_auroc !== undefined && r.ood_fpr_at_95_tpr !== undefined) {
      io.stdout(
        `  ood_auroc          ${r.ood_auroc.toFixed(4)}\n  ood_fpr_at_95_tpr  ${r.ood_fpr_at_95_tpr.toFixed(4)}\n`,
      );
      for (const o of r.ood_sets ?? [])
        io.stdout(
          `    ${o.name.padEnd(24)} n ${String(o.n).padStart(4)}  auroc ${o.auroc.toFixed(4)}  fpr@95tpr ${o.fpr_at_95_tpr.toFixed(4)}\n`,
        );
    }
    return 0;
  },
});
