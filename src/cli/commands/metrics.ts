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
import { type Command, flag, str } from "../command.js";

function numberOption(value: string | undefined, name: string, check: (v: number) => boolean, want: string) {
  if (value === undefined) return undefined;
  const v = Number(value);
  if (value.trim() === "" || !Number.isFinite(v) || !check(v)) {
    throw new RadioLensError("RL_ERR_USAGE", { detail: `--${name} ${value}: expected ${want}` });
  }
  return v;
}

/** `--threshold`: a number, `youden`, `sensitivity:T` or `specificity:T`. */
function parseThreshold(value: string | undefined): number | ThresholdRule | undefined {
  if (value === undefined) return undefined;
  if (value === "youden") return { rule: "youden" };
  const m = /^(sensitivity|specificity):(.+)$/.exec(value);
  if (m) {
    const target = numberOption(m[2], "threshold", (v) => v >= 0 && v <= 1, "a target in [0, 1]")!;
    return { rule: m[1] as "sensitivity" | "specificity", target };
  }
  return numberOption(
    value,
    "threshold",
    (v) => v >= 0 && v <= 1,
    "a number in [0, 1], youden, sensitivity:T or specificity:T",
  );
}

/**
 * The `radiolens metrics` command.
 *
 * @example
 * ```ts
 * await runCli(["metrics", "preds.csv", "--json", "--threshold", "sensitivity:0.9"]);
 * ```
 */
export const metricsCommand: Command = {
  help: [
    "Usage: radiolens metrics <predictions.csv> [--json] [--threshold T|youden|sensitivity:T|specificity:T] [--bootstrap N] [--seed S] [--plots DIR] [--compare B.csv]",
    "",
    "CSV header (one row per image):",
    "  binary       label,score                       score = P(class 1); label 0/1",
    "  multi-class  label,score_0,...,score_K         class probabilities (rows sum to 1)",
    "  multi-label  label_<name>...,score_<name>...   one 0/1 label and one probability per finding",
    "  optional     patient_id                        rows are averaged per patient first",
    "",
    "  --json          print JSON: headline metrics as top-level snake_case keys; null = undefined",
    "  --threshold T   binary/multi-label: positive when score >= T (default 0.5); binary also",
    "                  youden | sensitivity:0.9 | specificity:0.95 (chosen on these data: optimistic)",
    "  --bootstrap N   stratified bootstrap resamples for the CIs (default 1000; 0 = off)",
    "  --seed S        bootstrap seed (default 0)",
    "  --plots DIR     also write roc.svg, pr.svg, confusion.svg, reliability.svg into DIR",
    "  --compare B.csv DeLong test of this file's AUC against model B's on the same cases",
  ].join("\n"),
  options: {
    json: { type: "boolean" },
    threshold: { type: "string" },
    bootstrap: { type: "string" },
    seed: { type: "string" },
    plots: { type: "string" },
    compare: { type: "string" },
  },
  allowPositionals: true,
  async run(args, io) {
    if (args.positionals.length !== 1) {
      throw new RadioLensError("RL_ERR_USAGE", { detail: "give exactly one predictions CSV file" });
    }
    const threshold = parseThreshold(str(args, "threshold"));
    const resamples = numberOption(
      str(args, "bootstrap"),
      "bootstrap",
      (v) => Number.isInteger(v) && v >= 0,
      "an integer ≥ 0",
    );
    const seed = numberOption(str(args, "seed"), "seed", Number.isInteger, "an integer");
    const { input, result } = evaluatePredictionsCsv(args.positionals[0]!, {
      ...(threshold === undefined ? {} : { threshold }),
      bootstrap: resamples === 0 ? false : { nResamples: resamples ?? 1000, seed: seed ?? 0 },
    });
    const plotsDir = str(args, "plots");
    if (plotsDir !== undefined) {
      // Loaded on demand: the charting library is only needed when figures are asked for.
      const { writeEvaluationPlots } = await import("../../metrics/plots.js");
      const written = await writeEvaluationPlots(plotsDir, input, result);
      io.stderr(`wrote ${written.length} figures to ${plotsDir}\n`);
    }
    const other = str(args, "compare");
    const comparison = other === undefined ? undefined : compareAucs(input, readPredictionsCsv(other));
    if (flag(args, "json")) {
      const doc =
        comparison === undefined ? result : { ...result, comparison: { model_b: other, delong: comparison } };
      io.stdout(`${JSON.stringify(doc, null, 2)}\n`);
    } else {
      io.stdout(formatEvaluationTable(result));
      if (comparison !== undefined) io.stdout(`\n${formatAucComparisons(comparison)}`);
    }
    return 0;
  },
};
