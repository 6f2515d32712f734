/** `radiolens metrics <predictions.csv>`: clinical metrics with confidence intervals for any model's saved predictions. */
import { RadioLensError } from "../../core/errors.js";
import {
  compareAucs,
  evaluatePredictionsCsv,
  formatAucComparisons,
  formatEvaluationTable,
  readPredictionsCsv,
} from "../../metrics/predictions-csv.js";
import type { ThresholdRule } from "../../metrics/ranking.js";
import { type Command, defineCommand } from "../command.js";
import { custom, flag, int, string } from "../options.js";

function unitInterval(text: string): number | undefined {
  const v = text.trim() === "" ? Number.NaN : Number(text);
  return Number.isFinite(v) && v >= 0 && v <= 1 ? v : undefined;
}

/** `--threshold`: a number, `youden`, `sensitivity:T` or `specificity:T`. */
function parseThreshold(value: string): number | ThresholdRule | undefined {
  if (value === "youden") return { rule: "youden" };
  const m = /^(sensitivity|specificity):(.+)$/.exec(value);
  if (m) {
    const target = unitInterval(m[2] as string);
    return target === undefined ? undefined : { rule: m[1] as "sensitivity" | "specificity", target };
  }
  return unitInterval(value);
}

/**
 * The `radiolens metrics` command.
 *
 * @example
 * ```ts
 * await runCli(["metrics", "preds.csv", "--json", "--threshold", "sensitivity:0.9"]);
 * ```
 */
export const metricsCommand: Command = defineCommand({
  usage:
    "radiolens metrics <predictions.csv> [--json] [--threshold T|youden|sensitivity:T|specificity:T] [--bootstrap N] [--seed S] [--plots DIR] [--compare B.csv]",
  description: [
    "CSV header (one row per image):",
    "  binary       label,score                       score = P(class 1); label 0/1",
    "  multi-class  label,score_0,...,score_K         class probabilities (rows sum to 1)",
    "  multi-label  label_<name>...,score_<name>...   one 0/1 label and one probability per finding",
    "  optional     patient_id                        rows are averaged per patient first",
  ].join("\n"),
  options: {
    json: flag("print JSON: headline metrics as top-level snake_case keys; null = undefined"),
    threshold: custom(
      "T",
      "binary/multi-label: positive when score >= T (default 0.5); binary also\nyouden | sensitivity:0.9 | specificity:0.95 (chosen on these data: optimistic)",
      "a number in [0, 1], youden, sensitivity:T or specificity:T",
      parseThreshold,
    ),
    bootstrap: int("N", "stratified bootstrap resamples for the CIs (0 = off)", { min: 0, default: 1000 }),
    seed: int("S", "bootstrap seed", { default: 0 }),
    plots: string("DIR", "also write roc.svg, pr.svg, confusion.svg, reliability.svg into DIR"),
    compare: string("B.csv", "DeLong test of this file's AUC against model B's on the same cases"),
  },
  positionals: true,
  async run({ values, positionals }, io) {
    if (positionals.length !== 1) {
      throw new RadioLensError("RL_ERR_USAGE", { detail: "give exactly one predictions CSV file" });
    }
    const { threshold, bootstrap: resamples, seed } = values;
    const { input, result } = evaluatePredictionsCsv(positionals[0] as string, {
      ...(threshold === undefined ? {} : { threshold }),
      bootstrap: resamples === 0 ? false : { nResamples: resamples, seed },
    });
    const plotsDir = values.plots;
    if (plotsDir !== undefined) {
      // Loaded on demand: the charting library is only needed when figures are asked for.
      const { writeEvaluationPlots } = await import("../../metrics/plots.js");
      const written = await writeEvaluationPlots(plotsDir, input, result);
      io.stderr(`wrote ${written.length} figures to ${plotsDir}\n`);
    }
    const other = values.compare;
    const comparison = other === undefined ? undefined : compareAucs(input, readPredictionsCsv(other));
    if (values.json) {
      const doc =
        comparison === undefined ? result : { ...result, comparison: { model_b: other, delong: comparison } };
      io.stdout(`${JSON.stringify(doc, null, 2)}\n`);
    } else {
      io.stdout(formatEvaluationTable(result));
      if (comparison !== undefined) io.stdout(`\n${formatAucComparisons(comparison)}`);
    }
    return 0;
  },
});
