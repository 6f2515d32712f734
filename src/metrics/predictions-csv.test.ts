/** Predictions CSV parsing: task detection from the header, patient ids, and errors that name the line. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { RadioLensError } from "../core/errors.js";
import { evaluatePredictions } from "./evaluate-predictions.js";
import {
  compareAucs,
  formatAucComparisons,
  formatEvaluationTable,
  parsePredictionsCsv,
} from "./predictions-csv.js";

const isCsvError = (pattern: RegExp) => (e: unknown) =>
  e instanceof RadioLensError && e.code === "RL_ERR_PREDICTIONS_CSV" && pattern.test(e.message);

describe("parsePredictionsCsv", () => {
  it("detects binary, two-column binary, multi-class and multi-label headers", () => {
    const b = parsePredictionsCsv("label,score\n0,0.1\n1,0.8\n\n", "b.csv");
    assert.equal(b.task, "binary");
    assert.deepEqual(b.scores, [0.1, 0.8]);
    const b2 = parsePredictionsCsv("label,score_0,score_1\n0,0.9,0.1\n1,0.3,0.7\n", "b2.csv");
    assert.equal(b2.task, "binary");
    assert.deepEqual(b2.scores, [0.1, 0.7]);
    const mc = parsePredictionsCsv("score_2,label,score_0,score_1\n0.2,1,0.1,0.7\n0.6,2,0.2,0.2\n", "mc.csv");
    assert.equal(mc.task, "multiclass");
    assert.deepEqual(mc.scores, [
      [0.1, 0.7, 0.2],
      [0.2, 0.2, 0.6],
    ]);
    const ml = parsePredictionsCsv("label_a,label_b,score_b,score_a\n1,0,0.2,0.9\n0,1,0.7,0.4\n", "ml.csv");
    assert.equal(ml.task, "multilabel");
    assert.deepEqual(ml.classNames, ["a", "b"]);
    assert.deepEqual(ml.scores, [
      [0.9, 0.2],
      [0.4, 0.7],
    ]);
  });

  it("reads quoted patient ids and aggregates per patient", () => {
    const input = parsePredictionsCsv(
      'patient_id,label,score\n"Doe, J",1,0.6\n"Doe, J",1,0.8\nX,0,0.1\n',
      "p.csv",
      {
        bootstrap: false,
      },
    );
    assert.deepEqual(input.patientIds, ["Doe, J", "Doe, J", "X"]);
    const r = evaluatePredictions(input);
    assert.equal(r.n_patients, 2);
    assert.equal(r.auc, 1);
  });

  it("rejects malformed files with the line number and no patient identifier", () => {
    assert.throws(() => parsePredictionsCsv("", "e.csv"), isCsvError(/empty/));
    assert.throws(() => parsePredictionsCsv("label,score\n0,0.1\n1,abc\n", "e.csv"), isCsvError(/line 3/));
    assert.throws(() => parsePredictionsCsv("label,score\n0.5,0.1\n", "e.csv"), isCsvError(/integer/));
    assert.throws(
      () => parsePredictionsCsv("label,score_0,score_2\n0,0.5,0.5\n", "e.csv"),
      isCsvError(/without gaps/),
    );
    assert.throws(() => parsePredictionsCsv("label_a,score_b\n1,0.5\n", "e.csv"), isCsvError(/score_a/));
    assert.throws(
      () => parsePredictionsCsv("label,score\n0,0.1,7\n", "e.csv"),
      isCsvError(/line 2 has 3 fields/),
    );
    const conflicting = parsePredictionsCsv("patient_id,label,score\nMRN-9,0,0.1\nMRN-9,1,0.2\n", "e.csv");
    assert.throws(
      () => evaluatePredictions(conflicting),
      (e: unknown) =>
        e instanceof RadioLensError && /rows 1 and 2/.test(e.message) && !e.message.includes("MRN-9"),
    );
  });

  it("compares two models per class with DeLong and refuses mismatched cases", () => {
    const a = parsePredictionsCsv(
      "label,score_0,score_1,score_2\n0,0.7,0.2,0.1\n1,0.2,0.5,0.3\n2,0.1,0.3,0.6\n2,0.3,0.4,0.3\n1,0.1,0.8,0.1\n0,0.4,0.4,0.2\n",
      "a.csv",
    );
    const b = parsePredictionsCsv(
      "label,score_0,score_1,score_2\n0,0.4,0.3,0.3\n1,0.3,0.4,0.3\n2,0.3,0.3,0.4\n2,0.4,0.3,0.3\n1,0.3,0.3,0.4\n0,0.3,0.4,0.3\n",
      "b.csv",
    );
    const rows = compareAucs(a, b);
    assert.equal(rows.length, 3);
    const ev = evaluatePredictions({ ...a, bootstrap: false });
    rows.forEach((r, c) => {
      assert.equal(r.auc_a, ev.per_class[c]!.auc);
      assert.ok(Math.abs(r.difference - (r.auc_a - r.auc_b)) < 1e-15);
    });
    assert.match(formatAucComparisons(rows), /p \(DeLong\)/);
    const shifted = parsePredictionsCsv("label,score_0,score_1,score_2\n1,0.7,0.2,0.1\n", "c.csv");
    assert.throws(() => compareAucs(a, shifted), RadioLensError);
  });

  it("formats a table with every headline metric and 'undefined' for NaN", () => {
    const r = evaluatePredictions({
      task: "binary",
      labels: [1, 1, 1],
      scores: [0.2, 0.7, 0.9],
      bootstrap: { nResamples: 10 },
    });
    const text = formatEvaluationTable(r);
    for (const k of [
      "accuracy",
      "balanced_accuracy",
      "npv",
      "mcc",
      "kappa",
      "auc",
      "average_precision",
      "ece",
    ]) {
      assert.match(text, new RegExp(`^${k} `, "m"));
    }
    assert.match(text, /^auc\s+undefined/m);
    assert.match(text, /note: auc is undefined/);
  });
});
