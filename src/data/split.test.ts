/** Splits: patient-leak refusal (count + column, never ids), stratified grouped k-fold and ratio splits, determinism. */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { isRadioLensError } from "../core/errors.js";
import { Rng } from "../core/rng.js";
import { readManifest } from "./files.js";
import { assertNoPatientLeak, kFold, type SplitInput, splitByRatio } from "./split.js";

/** 160 patients with 1–8 images each; a patient's images share its label; ~25% positive patients. */
function cohort(seed: number): SplitInput & { labels: number[]; groups: string[] } {
  const rng = new Rng(seed);
  const labels: number[] = [];
  const groups: string[] = [];
  for (let p = 0; p < 160; p++) {
    const y = rng.bernoulli(0.25) ? 1 : 0;
    const k = rng.int(1, 8);
    for (let j = 0; j < k; j++) {
      labels.push(y);
      groups.push(`MRN${1000 + p}`);
    }
  }
  return {
    size: labels.length,
    numClasses: 2,
    labels,
    groups,
    label: (i) => labels[i] as number,
    group: (i) => groups[i],
  };
}

const rate = (idx: readonly number[], labels: number[]): number =>
  idx.reduce((a, i) => a + (labels[i] as number), 0) / idx.length;

describe("patient leak", () => {
  test("a manifest with patients in two splits is refused, naming the column and the count only", () => {
    const dir = mkdtempSync(join(tmpdir(), "rl-leak-"));
    try {
      const csv = join(dir, "manifest.csv");
      writeFileSync(
        csv,
        [
          "path,label,patient_id,split",
          "a.png,normal,DOE^JOHN,train",
          "b.png,pneumonia,DOE^JOHN,test",
          "c.png,normal,MRN-4711,train",
          "d.png,normal,MRN-4711,val",
          "e.png,pneumonia,MRN-0815,train",
          "f.png,pneumonia,MRN-0815,train",
        ].join("\n"),
      );
      assert.throws(
        () => readManifest(csv),
        (e) => {
          assert.ok(isRadioLensError(e, "RL_ERR_SPLIT_LEAK"));
          assert.match(e.message, /^2 patient\(s\) of column 'patient_id' appear in more than one split$/);
          for (const id of ["DOE", "JOHN", "4711", "0815"])
            assert.ok(!e.toLine().includes(id), `identifier ${id} leaked`);
          return true;
        },
      );
      writeFileSync(csv, "path,label,subject,split\na.png,x,P1,train\nb.png,y,P1,test\n");
      assert.throws(() => readManifest(csv, { patientColumn: "subject" }), /column 'subject'/);
      // The same rows with the patient in one split load fine.
      writeFileSync(
        csv,
        "path,label,patient_id,split\na.png,x,P1,train\nb.png,y,P1,train\nc.png,y,P2,test\n",
      );
      const m = readManifest(csv);
      assert.deepEqual(m.splits, { train: [0, 1], test: [2] });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("assertNoPatientLeak ignores items without a patient", () => {
    const g = ["A", undefined, "B", undefined];
    assertNoPatientLeak({ train: [0, 1], test: [2, 3] }, (i) => g[i], "pid");
    assert.throws(() => assertNoPatientLeak({ train: [0], test: [0, 2] }, (i) => g[i], "pid"), /1 patient/);
  });
});

describe("stratified grouped k-fold", () => {
  const data = cohort(3);
  const folds = kFold(data, { k: 5, seed: 42 });
  const overall = rate(
    Array.from({ length: data.size }, (_, i) => i),
    data.labels,
  );

  test("every item is validated exactly once; train and val never share an item or a patient", () => {
    const seen = new Int32Array(data.size);
    for (const f of folds) {
      for (const i of f.val) seen[i] = (seen[i] as number) + 1;
      assert.equal(f.train.length + f.val.length, data.size);
      const valPatients = new Set(f.val.map((i) => data.groups[i]));
      assert.ok(f.train.every((i) => !valPatients.has(data.groups[i])));
      assertNoPatientLeak({ train: f.train, val: f.val }, (i) => data.groups[i], "patient_id");
    }
    assert.ok(seen.every((v) => v === 1));
  });

  test("folds are balanced in size and class mix", () => {
    for (const f of folds) {
      assert.ok(Math.abs(f.val.length - data.size / 5) < 0.1 * (data.size / 5), `fold size ${f.val.length}`);
      assert.ok(
        Math.abs(rate(f.val, data.labels) - overall) < 0.03,
        `positive rate ${rate(f.val, data.labels)} vs ${overall}`,
      );
    }
  });

  test("deterministic for a seed, different across seeds", () => {
    assert.deepEqual(kFold(data, { k: 5, seed: 42 }), folds);
    assert.notDeepEqual(kFold(data, { k: 5, seed: 43 }), folds);
  });

  test("too few patients is refused", () => {
    const tiny: SplitInput = { size: 3, numClasses: 2, label: () => 0, group: () => "P" };
    assert.throws(
      () => kFold(tiny, { k: 2, seed: 1 }),
      (e) => isRadioLensError(e, "RL_ERR_DATA_EMPTY"),
    );
  });
});

describe("ratio splits", () => {
  test("70/10/20 by patient, stratified, deterministic", () => {
    const data = cohort(9);
    const s = splitByRatio(data, { ratios: { train: 0.7, val: 0.1, test: 0.2 }, seed: 1 });
    const all = [...(s["train"] ?? []), ...(s["val"] ?? []), ...(s["test"] ?? [])].sort((a, b) => a - b);
    assert.deepEqual(
      all,
      Array.from({ length: data.size }, (_, i) => i),
    );
    assertNoPatientLeak(s, (i) => data.groups[i], "patient_id");
    const overall = rate(all, data.labels);
    for (const [name, r] of [
      ["train", 0.7],
      ["val", 0.1],
      ["test", 0.2],
    ] as const) {
      const idx = s[name] ?? [];
      assert.ok(Math.abs(idx.length / data.size - r) < 0.03, `${name} size ${idx.length}`);
      assert.ok(Math.abs(rate(idx, data.labels) - overall) < 0.05, `${name} positive rate`);
    }
    assert.deepEqual(splitByRatio(data, { ratios: { train: 0.7, val: 0.1, test: 0.2 }, seed: 1 }), s);
  });

  test("multi-label items are stratified per label", () => {
    const rng = new Rng(5);
    const labels = Array.from({ length: 400 }, () => [
      rng.bernoulli(0.3) ? 1 : 0,
      rng.bernoulli(0.1) ? 1 : 0,
    ]);
    const input: SplitInput = {
      size: 400,
      numClasses: 2,
      label: (i) => labels[i] as number[],
      group: () => undefined,
    };
    const s = splitByRatio(input, { ratios: { train: 0.5, test: 0.5 }, seed: 2 });
    for (const c of [0, 1]) {
      const pos = (idx: readonly number[]) => idx.filter((i) => (labels[i] as number[])[c] === 1).length;
      assert.ok(Math.abs(pos(s["train"] ?? []) - pos(s["test"] ?? [])) <= 2, `label ${c}`);
    }
  });

  test("bad ratios are refused", () => {
    const data = cohort(1);
    assert.throws(
      () => splitByRatio(data, { ratios: { train: 1 }, seed: 1 }),
      (e) => isRadioLensError(e, "RL_ERR_USAGE"),
    );
    assert.throws(
      () => splitByRatio(data, { ratios: { train: -1, test: 2 }, seed: 1 }),
      (e) => isRadioLensError(e, "RL_ERR_USAGE"),
    );
  });
});
