/** GAN tests: a time-budgeted run writes the generator and a PNG grid; sampling reads it back. */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { sharedData } from "../../test/support/shared-data.js";
import { isRadioLensError } from "../core/errors.js";
import { initEngine, tf } from "../engine/backend.js";
import { readImage } from "../io/index.js";
import { sampleGan, trainGan } from "./gan.js";

test("trainGan within a time budget writes generator, log and an 8×8 sample grid; sampleGan writes a grid", async () => {
  await initEngine({ backend: "wasm" });
  const before = tf.memory().numTensors;
  const out = join(mkdtempSync(join(tmpdir(), "rl-gan-")), "gan");
  const r = await trainGan({
    data: sharedData("medmnist/pneumoniamnist.npz"),
    label: 1,
    seconds: 1,
    batchSize: 16,
    seed: 1,
    out,
    backend: "wasm",
  });
  assert.ok(r.steps >= 1);
  assert.ok(Number.isFinite(r.dLoss) && Number.isFinite(r.gLoss));
  for (const f of ["generator/model.json", "generator/weights.bin", "gan.json", "samples.png"])
    assert.ok(existsSync(join(out, f)), f);
  const grid = await readImage(readFileSync(join(out, "samples.png")));
  assert.deepEqual(grid.shape, [8 * 28 + 7 * 2, 8 * 28 + 7 * 2, 1]);
  const png = join(out, "s.png");
  await sampleGan({ model: out, n: 4, label: 1, seed: 2, out: png });
  assert.deepEqual((await readImage(png)).shape, [2 * 28 + 2, 2 * 28 + 2, 1]);
  assert.equal(tf.memory().numTensors, before);
  await assert.rejects(sampleGan({ model: out, n: 4, label: 5, seed: 2, out: png }), (e) =>
    isRadioLensError(e, "RL_ERR_USAGE"),
  );
});
