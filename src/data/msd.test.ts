/** MSD task folders: pairing of imagesTr/labelsTr, dataset.json, and seeded k-fold splits. */
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { sharedData } from "../../test/support/shared-data.js";
import { kFold, readMsdTask } from "./msd.js";

test("the hippocampus task folder pairs its 208 images with their labels", () => {
  const task = readMsdTask(sharedData("segmentation/msd-hippocampus"), {
    labels: ["background", "anterior", "posterior"],
  });
  assert.equal(task.cases.length, 208);
  assert.equal(task.modality, "MRI");
  assert.deepEqual(task.labels, ["background", "anterior", "posterior"]);
  const first = task.cases[0];
  assert.equal(first?.id, "hippocampus_001");
  assert.match(first?.label ?? "", /labelsTr\/hippocampus_001\.nii\.gz$/);
});

test("dataset.json names labels and modality; unpaired and resource-fork files are skipped", () => {
  const dir = mkdtempSync(join(tmpdir(), "rl-msd-"));
  try {
    mkdirSync(join(dir, "imagesTr"));
    mkdirSync(join(dir, "labelsTr"));
    const src = sharedData("segmentation/msd-hippocampus");
    for (const id of ["hippocampus_001", "hippocampus_003"]) {
      symlinkSync(join(src, "imagesTr", `${id}.nii.gz`), join(dir, "imagesTr", `${id}.nii.gz`));
      symlinkSync(join(src, "labelsTr", `${id}.nii.gz`), join(dir, "labelsTr", `${id}.nii.gz`));
    }
    symlinkSync(
      join(src, "imagesTr", "hippocampus_004.nii.gz"),
      join(dir, "imagesTr", "hippocampus_004.nii.gz"),
    );
    writeFileSync(join(dir, "imagesTr", "._hippocampus_001.nii.gz"), "junk");
    writeFileSync(
      join(dir, "dataset.json"),
      JSON.stringify({
        name: "Hippocampus",
        modality: { "0": "MRI" },
        labels: { "0": "background", "1": "Anterior", "2": "Posterior" },
      }),
    );
    const task = readMsdTask(dir);
    assert.equal(task.name, "Hippocampus");
    assert.deepEqual(task.labels, ["background", "Anterior", "Posterior"]);
    assert.deepEqual(
      task.cases.map((c) => c.id),
      ["hippocampus_001", "hippocampus_003"],
    );
    writeFileSync(join(dir, "dataset.json"), "{not json");
    assert.throws(() => readMsdTask(dir), { code: "RL_ERR_CONFIG_INVALID" });
    assert.throws(() => readMsdTask(join(dir, "imagesTr")), { code: "RL_ERR_DATA_EMPTY" });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("k-fold splits partition the cases, are balanced, and repeat with the seed", () => {
  const n = 208;
  const seen = new Array<number>(n).fill(0);
  for (let f = 0; f < 5; f++) {
    const { train, val } = kFold(n, 5, f, 7);
    assert.equal(train.length + val.length, n);
    assert.ok(val.length === 41 || val.length === 42);
    const t = new Set(train);
    for (const v of val) {
      assert.ok(!t.has(v));
      seen[v] = (seen[v] as number) + 1;
    }
    assert.deepEqual(kFold(n, 5, f, 7), { train, val });
  }
  assert.ok(
    seen.every((c) => c === 1),
    "every case is validated exactly once",
  );
  assert.notDeepEqual(kFold(n, 5, 0, 7).val, kFold(n, 5, 0, 8).val);
  assert.throws(() => kFold(n, 5, 5, 7), { code: "RL_ERR_USAGE" });
  assert.throws(() => kFold(n, 1, 0, 7), { code: "RL_ERR_USAGE" });
});
