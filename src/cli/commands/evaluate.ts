/** `radiolens evaluate`: parses flags and calls evaluateBundle(); prints the headline metrics or the full JSON. */

import { existsSync } from "node:fs";
import { join } from "node:path";
import { RadioLensError } from "../../core/errors.js";
import type { BackendName } from "../../engine/backend.js";
import { HEADLINE_KEYS } from "../../metrics/index.js";
import { parseRuntime } from "../../models/onnx/bundle-runtime.js";
import { evaluateBundle } from "../../train/evaluate-bundle.js";
import { evaluateSegmentationBundle } from "../../train/seg3d.js";
import { type Command, flag, str, strs } from "../command.js";

/**
 * `radiolens evaluate`: clinical metrics of a model bundle on a dataset split.
 *
 * @example
 * ```ts
 * await runCli(["evaluate", "--model", "runs/demo", "--data", "pneumoniamnist.npz", "--split", "test"]);
 * ```
 */
export const evaluateCommand: Command = {
  help: `Usage: radiolens evaluate --model DIR --data <file.npz> [--split test] [--json] [--bootstrap N] [--threshold T] [--backend NAME] [--runtime tfjs|onnx]
                          [--ood OTHER ...]

Prints accuracy, balanced accuracy, precision, recall, specificity, NPV, F1, MCC, kappa, AUC, average precision,
log loss, Brier score and ECE; --json prints them as top-level keys with per-class details and CIs nested.
--runtime: ONNX Runtime by default when the bundle has model.onnx (threads: RADIOLENS_THREADS), else tfjs.
With an OOD detector in the card, "gated" gives accuracy and AUC on the images it keeps. --ood OTHER (repeatable:
an .npz, whose test split is used, or a folder of images, DICOM or NIfTI files) adds ood_auroc and
ood_fpr_at_95_tpr (out of distribution = positive; the split of --data is in distribution) and per-set numbers.

3D segmentation: radiolens evaluate --model DIR --data <MSD task folder> [--cases validation|all] [--tolerance MM]
segments the bundle's validation fold (or every case) and prints, per class, the mean over cases of Dice, IoU,
HD95, ASSD and surface Dice (tolerance in mm, default 1) with 95% bootstrap CIs; --json adds the per-case scores.`,
  options: {
    model: { type: "string" },
    data: { type: "string" },
    split: { type: "string" },
    json: { type: "boolean" },
    bootstrap: { type: "string" },
    threshold: { type: "string" },
    backend: { type: "string" },
    runtime: { type: "string" },
    ood: { type: "string", multiple: true },
    cases: { type: "string" },
    tolerance: { type: "string" },
  },
  async run(args, io) {
    const model = str(args, "model");
    const data = str(args, "data");
    if (!model || !data)
      throw new RadioLensError("RL_ERR_USAGE", { detail: "--model and --data are required" });
    if (existsSync(join(data, "imagesTr"))) {
      const cases = str(args, "cases") ?? "validation";
      if (cases !== "validation" && cases !== "all")
        throw new RadioLensError("RL_ERR_USAGE", {
          detail: `--cases must be validation or all, got '${cases}'`,
        });
      const tol = str(args, "tolerance");
      const ev = await evaluateSegmentationBundle({
        model,
        data,
        cases,
        ...(tol !== undefined ? { tolerance: Number(tol) } : {}),
        ...(str(args, "backend") ? { backend: str(args, "backend") as BackendName } : {}),
      });
      if (flag(args, "json")) {
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
          const v = m[k];
          return v ? `${k} ${v.mean.toFixed(d)} [${v.lo.toFixed(d)}, ${v.hi.toFixed(d)}]` : "";
        };
        io.stdout(`  ${name.padEnd(12)} ${f("dice", 4)}  ${f("hd95", 2)}  ${f("surfaceDice", 4)}\n`);
      }
      return 0;
    }
    const bootstrap = str(args, "bootstrap");
    const threshold = str(args, "threshold");
    const backend = str(args, "backend") as BackendName | undefined;
    const runtime = parseRuntime(str(args, "runtime"));
    const r = await evaluateBundle({
      model,
      data,
      split: str(args, "split") ?? "test",
      ...(bootstrap !== undefined ? { bootstrap: Number(bootstrap) } : {}),
      ...(threshold !== undefined ? { threshold: Number(threshold) } : {}),
      ...(backend ? { backend } : {}),
      ...(runtime ? { runtime } : {}),
      ood: strs(args, "ood"),
    });
    if (flag(args, "json")) {
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
};
