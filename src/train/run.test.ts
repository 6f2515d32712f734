/** trainModel tests: selectBest ships the best validation epoch's weights; an existing run is never overwritten. */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { sharedData } from "../../test/support/shared-data.js";
import { isRadioLensError } from "../core/errors.js";
import { trainModel } from "./run.js";

const data = sharedData("medmnist/pneumoniamnist.npz");

test("selectBest: the bundle holds the weights of the best validation epoch", async () => {
  const out = join(mkdtempSync(join(tmpdir(), "rl-best-")), "m");
  const r = await trainModel({
    data,
    model: "seed-cnn",
    epochs: 3,
    batchSize: 32,
    seed: 4,
    out,
    limit: 256,
    selectBest: "val_acc",
    backend: "wasm",
  });
  const bestEpoch = r.state.history.reduce((b, e) =>
    (e["val_acc"] as number) > (b["val_acc"] as number) ? e : b,
  );
  const card = JSON.parse(readFileSync(join(out, "radiolens.json"), "utf8"));
  assert.equal(card.metrics.selectedBy, "val_acc");
  assert.equal(card.metrics.final.epoch, bestEpoch["epoch"]);
  assert.ok(
    readFileSync(join(out, "weights.bin")).equals(
      readFileSync(join(out, "checkpoints", "best", "weights.bin")),
    ),
  );
  await assert.rejects(
    trainModel({
      data,
      model: "seed-cnn",
      epochs: 1,
      batchSize: 32,
      seed: 4,
      out,
      limit: 64,
      backend: "wasm",
    }),
    (e) => isRadioLensError(e, "RL_ERR_USAGE") && /--resume/.test((e as Error).message),
  );
});
