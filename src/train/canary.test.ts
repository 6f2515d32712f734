/** Random-label canary: trained on permuted labels, the model's test AUC stays at chance (0.5 ± 0.07). */
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { sharedData } from "../../test/support/shared-data.js";
import { evaluateBundle } from "./evaluate-bundle.js";
import { trainModel } from "./run.js";

test("random-label canary: test AUC within 0.5 ± 0.07", async () => {
  const out = join(mkdtempSync(join(tmpdir(), "rl-canary-")), "m");
  const data = sharedData("medmnist/pneumoniamnist.npz");
  await trainModel({
    data,
    model: "seed-cnn",
    epochs: 1,
    batchSize: 32,
    seed: 11,
    out,
    limit: 1024,
    shuffleLabels: true,
    backend: "wasm",
  });
  const r = await evaluateBundle({ model: out, data, split: "test", bootstrap: 0 });
  assert.ok(Math.abs(r.auc - 0.5) <= 0.07, `canary AUC ${r.auc}`);
});
