/** Tests for `radiolens reports label|evaluate|generate` through the CLI entry point. */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { sharedData } from "../../../test/support/shared-data.js";
import { parseCsv } from "../../radiology-reports/csv.js";
import { runCli } from "../main.js";

const dir = mkdtempSync(join(tmpdir(), "rl-reports-cli-"));
after(() => rmSync(dir, { recursive: true, force: true }));

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const code = await runCli(argv, { stdout: (t) => (out += t), stderr: (t) => (err += t), isTTY: false });
  return { code, out, err };
}

const reportsCsv = [
  "uid,findings,impression",
  '7,"Heart size normal.\nNo pneumothorax, effusion, or consolidation.","No acute disease"',
  '3,"1. Large right pleural effusion.\n2. Cardiomegaly without overt edema.",Effusion may represent hemothorax.',
  "12,,Possible early pneumonia",
].join("\n");

describe("radiolens reports", () => {
  it("labels a CSV with quoted multi-line fields, one row per input row in order", async () => {
    const input = join(dir, "reports.csv");
    writeFileSync(input, reportsCsv);
    const out = join(dir, "labels.csv");
    const r = await cli("reports", "label", input, "--out", out);
    assert.equal(r.code, 0, r.err);
    const t = parseCsv(readFileSync(out, "utf8"));
    assert.equal(t.columns[0], "uid");
    assert.equal(t.columns.at(-1), "normal");
    assert.deepEqual(
      t.rows.map((row) => row["uid"]),
      ["7", "3", "12"],
    );
    assert.deepEqual(
      t.rows.map((row) => [
        row["Effusion"],
        row["Cardiomegaly"],
        row["Edema"],
        row["Pneumonia"],
        row["normal"],
      ]),
      [
        ["0", "0", "", "", "1"],
        ["1", "1", "0", "", ""],
        ["", "", "", "-1", ""],
      ],
    );

    const gold = join(dir, "gold.csv");
    const findings = t.columns.slice(1, -1);
    writeFileSync(
      gold,
      [
        ["filename", ...findings, "normal"].join(","),
        ["CXR3", ...findings.map((f) => (f === "Effusion" || f === "Cardiomegaly" ? 1 : 0)), 0].join(","),
        ["CXR7", ...findings.map(() => 0), 1].join(","),
        ["CXR12", ...findings.map((f) => (f === "Pneumonia" ? 1 : 0)), 0].join(","),
      ].join("\n"),
    );
    const ev = await cli("reports", "evaluate", "--pred", out, "--gold", gold, "--json");
    assert.equal(ev.code, 0, ev.err);
    const parsed = JSON.parse(ev.out) as { micro: { precision: number; recall: number }; rows: number };
    assert.equal(parsed.rows, 3);
    assert.equal(parsed.micro.precision, 1);
    assert.equal(parsed.micro.recall, 2 / 3);
    const table = await cli("reports", "evaluate", "--pred", out, "--gold", gold);
    assert.match(table.out, /\| Effusion \| 1 \| 1 \| 0 \| 0 \| 1\.000 \| 1\.000 \| 1\.000 \|/);
  });

  it("labels the CheXpert labeler's header-less sample file", async () => {
    const out = join(dir, "sample.csv");
    const r = await cli(
      "reports",
      "label",
      sharedData("reports/sample_reports.csv"),
      "--no-header",
      "--out",
      out,
    );
    assert.equal(r.code, 0, r.err);
    const t = parseCsv(readFileSync(out, "utf8"));
    assert.equal(t.rows.length, 4);
    assert.equal(t.columns[0], "Reports");
    assert.match(t.rows[1]?.["Reports"] ?? "", /^1\. Left pleural effusion/);
    assert.deepEqual(
      t.rows.map((row) => row["Cardiomegaly"]),
      ["0", "1", "", "1"],
    );
  });

  it("writes a manifest with patient and split columns from metadata", async () => {
    const input = join(dir, "reports.csv");
    const meta = join(dir, "meta.csv");
    writeFileSync(meta, "uid,patient,split\n7,P1,train\n3,P2,val\n12,P1,train\n");
    const out = join(dir, "manifest.csv");
    const r = await cli(
      "reports",
      "label",
      input,
      "--out",
      out,
      "--manifest",
      "--path-template",
      "img/{id}.png",
      "--metadata",
      meta,
      "--patient-column",
      "patient",
      "--split-column",
      "split",
      "--uncertain",
      "one",
    );
    assert.equal(r.code, 0, r.err);
    const t = parseCsv(readFileSync(out, "utf8"));
    assert.deepEqual(t.columns.slice(0, 4), ["path", "label", "patient_id", "split"]);
    assert.deepEqual(t.rows[1], {
      ...t.rows[1],
      path: "img/3.png",
      label: "Cardiomegaly|Effusion",
      patient_id: "P2",
      split: "val",
    });
    assert.equal(t.rows[2]?.["label"], "Pneumonia");
    assert.equal(t.rows[0]?.["label"], "normal");
  });

  it("generates text and SR reports, and reports usage errors with exit code 2", async () => {
    const pred = join(dir, "pred.json");
    writeFileSync(
      pred,
      JSON.stringify({ model: { name: "m", version: "1" }, labels: ["Pneumothorax"], probabilities: [0.8] }),
    );
    const txt = join(dir, "r.txt");
    const r = await cli("reports", "generate", "--prediction", pred, "--out", txt, "--lang", "zh");
    assert.equal(r.code, 0, r.err);
    assert.match(readFileSync(txt, "utf8"), /气胸/);
    const noSource = await cli("reports", "generate", "--prediction", pred, "--sr", join(dir, "x.dcm"));
    assert.equal(noSource.code, 2);
    assert.match(noSource.err, /RL_ERR_USAGE/);
    const missing = await cli("reports", "label", join(dir, "nope.csv"), "--out", join(dir, "o.csv"));
    assert.equal(missing.code, 2);
    const badCols = await cli("reports", "label", join(dir, "meta.csv"), "--out", join(dir, "o.csv"));
    assert.equal(badCols.code, 2);
    assert.match(badCols.err, /--text-columns/);
  });
});
