/** Config-file tests: JSON and YAML load, flags override, schema errors name the key. */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { REPO_ROOT } from "../../test/support/shared-data.js";
import { isRadioLensError } from "../core/errors.js";
import { loadTrainConfig } from "./config.js";
import { isSeg3DConfig, loadSeg3DConfig } from "./seg3d-config.js";

test("YAML and JSON configs load; flags override the file", () => {
  const dir = mkdtempSync(join(tmpdir(), "rl-cfg-"));
  const y = join(dir, "t.yaml");
  writeFileSync(
    y,
    "data: d.npz\nmodel: seed-cnn\nepochs: 3\nbatchSize: 32\nseed: 1\nout: o\nschedule: { kind: cosine, minLr: 0.0001 }\n",
  );
  const c = loadTrainConfig(y, { seed: 5 });
  assert.equal(c.seed, 5);
  assert.deepEqual(c.schedule, { kind: "cosine", minLr: 0.0001 });
  const j = join(dir, "t.json");
  writeFileSync(
    j,
    JSON.stringify({ data: "d.npz", model: "seed-cnn", epochs: 3, batchSize: 32, seed: 1, out: "o" }),
  );
  assert.equal(loadTrainConfig(j).epochs, 3);
});

test("schema errors name the offending key; unknown keys are refused", () => {
  const dir = mkdtempSync(join(tmpdir(), "rl-cfg-"));
  const bad = join(dir, "bad.json");
  writeFileSync(
    bad,
    JSON.stringify({
      data: "d.npz",
      model: "m",
      epochs: -1,
      batchSize: 32,
      seed: 1,
      out: "o",
      colour: "red",
    }),
  );
  assert.throws(
    () => loadTrainConfig(bad),
    (e) =>
      isRadioLensError(e, "RL_ERR_USAGE") &&
      /epochs/.test((e as Error).message) &&
      /colour/.test((e as Error).message),
  );
});

test("every committed config under configs/ is valid", async () => {
  const { readdirSync } = await import("node:fs");
  const files = readdirSync(join(REPO_ROOT, "configs")).filter((f) => /\.(json|ya?ml)$/.test(f));
  assert.ok(files.length > 0);
  // A `task: segmentation3d` config has its own schema; every other file is a classifier recipe.
  for (const f of files) {
    const path = join(REPO_ROOT, "configs", f);
    if (isSeg3DConfig(path)) loadSeg3DConfig(path);
    else loadTrainConfig(path);
  }
});

test("every schedule the README lists (step, cosine, plateau) is accepted", () => {
  const dir = mkdtempSync(join(tmpdir(), "rl-cfg-"));
  const base = "data: d.npz\nmodel: seed-cnn\nepochs: 3\nbatchSize: 32\nseed: 1\nout: o\n";
  const schedules = {
    step: "{ kind: step, stepSize: 2, gamma: 0.5 }",
    cosine: "{ kind: cosine }",
    plateau: "{ kind: plateau, monitor: val_auc, patience: 3, factor: 0.5 }",
  };
  const readme = readFileSync(join(REPO_ROOT, "README.md"), "utf8");
  assert.match(readme, /step\/cosine\/plateau schedules/);
  for (const [kind, yaml] of Object.entries(schedules)) {
    const f = join(dir, `${kind}.yaml`);
    writeFileSync(f, `${base}schedule: ${yaml}\n`);
    assert.equal(loadTrainConfig(f).schedule?.kind, kind);
  }
});
