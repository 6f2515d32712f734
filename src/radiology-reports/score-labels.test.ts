/** Tests for report-label scoring: counts, undefined ratios, the CXR<uid> join and missing rows. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseCsv } from "./csv.js";
import { computeObservationScore, evaluateLabelTables, LabelMetrics, reportKey } from "./score-labels.js";
import { FINDINGS } from "./vocab.js";

const header = (id: string): string => [id, ...FINDINGS, "normal"].join(",");
const row = (id: string, pos: readonly string[], normal: string, neg = "0"): string =>
  [id, ...FINDINGS.map((f) => (pos.includes(f) ? "1" : neg)), normal].join(",");

describe("report label evaluation", () => {
  it("computes precision, recall and F1, NaN when undefined", () => {
    const s = computeObservationScore("Edema", 8, 2, 2);
    assert.equal(s.precision, 0.8);
    assert.equal(s.recall, 0.8);
    assert.ok(Math.abs(s.f1 - 0.8) < 1e-12);
    assert.ok(Number.isNaN(computeObservationScore("Hernia", 0, 0, 0).f1));
    assert.equal(computeObservationScore("Hernia", 0, 3, 0).f1, 0);
  });

  it("accumulates, excludes undefined F1 from macro, and resets", () => {
    const m = new LabelMetrics(["A", "B", "C"], []);
    m.update({ A: true, B: true }, { A: true, B: false });
    m.update({ A: false }, { A: true });
    const ev = m.aggregate();
    assert.equal(ev.micro.f1, 2 / (2 + 1 + 1));
    // C has neither gold nor predicted positives: F1 undefined, not averaged.
    assert.equal(ev.macroCount, 2);
    assert.equal(ev.macro.f1, (2 / 3 + 0) / 2);
    m.reset();
    assert.equal(m.aggregate().rows, 0);
  });

  it("joins prediction uid against gold filename CXR<uid>, in any order", () => {
    const gold = parseCsv(
      [
        header("filename"),
        row("CXR1", ["Edema"], "0"),
        row("CXR10", [], "1"),
        row("CXR2", ["Mass"], "0"),
      ].join("\n"),
    );
    const pred = parseCsv(
      [
        header("uid"),
        row("2", ["Mass"], "", ""),
        row("1", ["Edema", "Nodule"], "", ""),
        row("10", [], "1", ""),
      ].join("\n"),
    );
    const ev = evaluateLabelTables(pred, gold);
    const by = Object.fromEntries(ev.perObservation.map((s) => [s.observation, s]));
    assert.equal(by["Edema"]?.tp, 1);
    assert.equal(by["Mass"]?.tp, 1);
    assert.equal(by["Nodule"]?.fp, 1);
    assert.equal(ev.normal?.tp, 1);
    assert.equal(ev.rows, 3);
    assert.equal(reportKey(" cxr77 "), "77");
  });

  it("refuses rows that do not join instead of shrinking the denominator", () => {
    const gold = parseCsv([header("filename"), row("CXR1", [], "1"), row("CXR2", [], "1")].join("\n"));
    const pred = parseCsv([header("uid"), row("1", [], "1")].join("\n"));
    assert.throws(() => evaluateLabelTables(pred, gold), { code: "RL_ERR_TABLE_INVALID" });
  });
});
