/** The README's lists checked against the code: commands, models, explanation methods, window presets, backends, metrics. */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { COMMAND_ENTRIES, commandGroups } from "./cli/commands/index.js";
import { BACKEND_NAMES } from "./cli/options.js";
import { BACKENDS } from "./engine/backend.js";
import { EXPLAIN_METHODS } from "./explain/heatmap.js";
import { WINDOW_PRESETS } from "./io/dicom/pipeline.js";
import { HEADLINE_KEYS } from "./metrics/index.js";
import { MODELS } from "./models/registry.js";

const README = readFileSync(join(import.meta.dirname, "..", "README.md"), "utf8");

/** `a|b|c` and `x[-28]` expanded: `resnet18|34|50[-28]` is resnet18, resnet34, resnet50 and their -28 forms. */
function expandModels(spec: string): string[] {
  // `resnet18|34|50[-28]` and `resnet18|50-3d|acs|2.5d`: a stem, number alternatives, suffix alternatives, an option.
  const m = /^([a-z]+)([\d|]*)(?:-([\w.|]+))?(?:\[(-\w+)\])?$/.exec(spec);
  if (!m) return [spec];
  const [, stem = "", nums = "", suffixes, option] = m;
  const bases = (nums ? nums.split("|") : [""]).map((n) => `${stem}${n}`);
  const named = suffixes ? bases.flatMap((b) => suffixes.split("|").map((x) => `${b}-${x}`)) : bases;
  return option ? named.flatMap((b) => [b, `${b}${option}`]) : named;
}

test("the README's command synopsis names every command, and only commands that exist", () => {
  const block = README.slice(
    README.indexOf("radiolens train "),
    README.indexOf("radiolens <command> --help"),
  );
  const lines = block.split("\n").filter((l) => l.startsWith("radiolens "));
  // Words after `radiolens`, with `a|b` and `a | b | c` alternatives split: `gan train|sample` names two commands.
  const named = new Set<string>();
  for (const line of lines) {
    const words =
      line
        .slice("radiolens ".length)
        .split(/\s+--|\s+</)[0]
        ?.trim() ?? "";
    for (const alt of words.split(/\s+\|\s+/)) {
      const [first = "", second] = alt
        .trim()
        .split(/\s+/)
        .filter((w) => w !== "...");
      if (second === undefined) named.add(first);
      else for (const s of second.split("|")) named.add(`${first} ${s}`);
    }
  }
  const names = COMMAND_ENTRIES.map((e) => e.name);
  for (const n of names) assert.ok(named.has(n), `README synopsis lacks 'radiolens ${n}'`);
  for (const n of named)
    assert.ok(names.includes(n), `README synopsis names 'radiolens ${n}', no such command`);
  assert.deepEqual(commandGroups(), ["dicom", "benchmark", "gan", "reports", "batch"]);
});

test("the README's model list is the registry", () => {
  const bullet = /Models \(`radiolens models`\): ([\s\S]+?)\n(?:- |\n)/.exec(README)?.[1] ?? "";
  const listed = [...bullet.matchAll(/`([a-z][\w.|[\]-]*)`/g)].flatMap((m) => expandModels(m[1] as string));
  assert.deepEqual(listed.sort(), [...MODELS.keys()].sort());
});

test("the README's explanation methods, window presets and backends are the code's", () => {
  const methods = /--method ([\w+|]+)\]/.exec(README)?.[1]?.split("|");
  assert.deepEqual(methods, [...EXPLAIN_METHODS]);
  const presets = /presets ([a-z/\s]+?),/
    .exec(README)?.[1]
    ?.split("/")
    .map((p) => p.trim());
  assert.deepEqual(presets, Object.keys(WINDOW_PRESETS));
  const backends = /--backend ([a-z|]+)/.exec(README)?.[1]?.split("|");
  assert.deepEqual(backends, [...BACKENDS]);
  assert.deepEqual([...BACKEND_NAMES], [...BACKENDS]);
});

test("the metrics the README says evaluate prints are the headline keys", () => {
  const names: Record<string, string> = {
    accuracy: "accuracy",
    "balanced accuracy": "balanced_accuracy",
    precision: "precision",
    recall: "recall",
    specificity: "specificity",
    NPV: "npv",
    F1: "f1",
    MCC: "mcc",
    "Cohen's kappa": "kappa",
    "ROC AUC": "auc",
    "average precision": "average_precision",
    "log loss": "log_loss",
    "Brier score": "brier",
    ECE: "ece",
  };
  const text = /`evaluate` and `metrics` print ([\s\S]*?) with seeded/.exec(README)?.[1] ?? "";
  const listed = text
    .replace(/\s+/g, " ")
    .split(/, (?:and )?| and /)
    .map((s) => s.trim());
  assert.deepEqual(
    listed.map((n) => names[n] ?? `unknown '${n}'`),
    [...HEADLINE_KEYS],
  );
});
