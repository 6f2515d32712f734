/** `radiolens metrics` end to end through the CLI entry: JSON keys, table, plots, usage errors. */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { Rng } from "../../core/rng.js";
import { runCli } from "../main.js";

const dir = mkdtempSync(join(tmpdir(), "radiolens-metrics-cli-"));
after(() => rmSync(dir, { recursive: true, force: true }));

async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const code = await runCli(args, { stdout: (t) => (out += t), stderr: (t) => (err += t), isTTY: false });
  return { code, out, err };
}

function binaryCsv(name = "binary.csv", signal = 1.5): string {
  const rng = new Rng(9);
  const lines = ["patient_id,label,score"];
  for (let p = 0; p < 60; p++) {
    const y = rng.bernoulli(0.4) ? 1 : 0;
    for (let k = 0; k < 2; k++)
      lines.push(`P${p},${y},${(1 / (1 + Math.exp(-rng.normal(y * signal - 0.5, 1)))).toFixed(6)}`);
  }
  const path = join(dir, name);
  writeFileSync(path, `${lines.join("\n")}\n`);
  return path;
}

describe("radiolens metrics", () => {
  const csv = binaryCsv();

  it("--json prints the headline keys at the top level, details nested, NaN as null", async () => {
    const r = await cli(["metrics", csv, "--json", "--bootstrap", "50", "--threshold", "0.4"]);
    assert.equal(r.code, 0, r.err);
    const j = JSON.parse(r.out) as Record<string, unknown>;
    for (const k of [
      "accuracy",
      "balanced_accuracy",
      "precision",
      "recall",
      "specificity",
      "npv",
      "f1",
      "mcc",
      "kappa",
      "auc",
      "average_precision",
      "log_loss",
      "brier",
      "ece",
    ]) {
      assert.equal(typeof j[k], "number", k);
    }
    assert.equal(j["n_samples"], 120);
    assert.equal(j["n_patients"], 60);
    assert.equal((j["threshold"] as { value: number }).value, 0.4);
    const ci = j["ci"] as {
      bootstrap: { n_resamples: number; intervals: Record<string, { lo: number; hi: number }> };
      auc_delong: unknown[];
    };
    assert.equal(ci.bootstrap.n_resamples, 50);
    assert.ok(ci.bootstrap.intervals["auc"]!.lo <= (j["auc"] as number));
    assert.equal(ci.auc_delong.length, 1);
    assert.ok(!r.out.includes("P1,"), "no patient ids in the output");
  });

  it("--threshold sensitivity:0.9 chooses the operating point", async () => {
    const r = await cli(["metrics", csv, "--json", "--bootstrap", "0", "--threshold", "sensitivity:0.9"]);
    assert.equal(r.code, 0, r.err);
    const j = JSON.parse(r.out) as { recall: number; threshold: { rule: string } };
    assert.ok(j.recall >= 0.9, `recall ${j.recall}`);
    assert.match(j.threshold.rule, /sensitivity >= 0\.9/);
    assert.equal((await cli(["metrics", csv, "--threshold", "sensitivity:x"])).code, 2);
  });

  it("--compare runs the DeLong test against a second model on the same patients", async () => {
    const weaker = binaryCsv("weaker.csv", 0.3);
    const r = await cli(["metrics", csv, "--json", "--bootstrap", "0", "--compare", weaker]);
    assert.equal(r.code, 0, r.err);
    const j = JSON.parse(r.out) as {
      auc: number;
      comparison: { delong: { auc_a: number; auc_b: number; p_value: number; lo: number }[] };
    };
    const c = j.comparison.delong[0]!;
    assert.equal(c.auc_a, j.auc);
    assert.ok(c.auc_a > c.auc_b, `${c.auc_a} > ${c.auc_b}`);
    assert.ok(c.p_value < 0.05 && c.lo > 0, `p ${c.p_value}`);
    const table = await cli(["metrics", csv, "--bootstrap", "0", "--compare", weaker]);
    assert.match(table.out, /DeLong test of AUC/);
    const other = join(dir, "other.csv");
    writeFileSync(other, "patient_id,label,score\nQ1,1,0.5\nQ2,0,0.2\n");
    assert.equal((await cli(["metrics", csv, "--compare", other])).code, 3);
  });

  it("prints a table and writes SVG figures with --plots", async () => {
    const plots = join(dir, "plots");
    const r = await cli(["metrics", csv, "--bootstrap", "20", "--plots", plots]);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /^auc\s+0\.\d{4}\s+0\.\d{4} – 0\.\d{4}\s+DeLong/m);
    for (const f of ["roc.svg", "pr.svg", "confusion.svg", "reliability.svg"]) {
      assert.ok(existsSync(join(plots, f)), f);
      assert.match(readFileSync(join(plots, f), "utf8"), /^<svg /);
    }
  });

  it("usage and data errors exit non-zero with one line", async () => {
    assert.equal((await cli(["metrics"])).code, 2);
    assert.equal((await cli(["metrics", csv, "--threshold", "2"])).code, 2);
    const missing = await cli(["metrics", join(dir, "nope.csv")]);
    assert.equal(missing.code, 2);
    assert.match(missing.err, /RL_ERR_FILE_NOT_FOUND/);
  });
});
