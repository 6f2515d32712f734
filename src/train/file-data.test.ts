/** Training from files: a folder per class streams through the loader; a manifest that leaks a patient is refused. */
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { isRadioLensError } from "../core/errors.js";
import { createImage } from "../core/image.js";
import { Rng } from "../core/rng.js";
import { encodePng } from "../io/image/index.js";
import { trainModel } from "./run.js";

/** Writes `n` 40×40 gray PNGs per class; class "b" has a bright block, so the task is learnable. */
function makeFolder(root: string, n: number): string[] {
  const rng = new Rng(3);
  const files: string[] = [];
  for (const cls of ["a", "b"]) {
    mkdirSync(join(root, cls), { recursive: true });
    for (let i = 0; i < n; i++) {
      const px = new Uint8Array(40 * 40);
      for (let p = 0; p < px.length; p++)
        px[p] = rng.int(0, 120) + (cls === "b" && p % 40 < 20 && p < 800 ? 120 : 0);
      const f = join(root, cls, `P${i % 10}_${i}.png`);
      writeFileSync(f, encodePng(createImage(px, [40, 40, 1])));
      files.push(f);
    }
  }
  return files;
}

test("trains from a folder per class, streamed and resized to the model input", async () => {
  const root = mkdtempSync(join(tmpdir(), "rl-folder-"));
  makeFolder(join(root, "data"), 40);
  const out = join(root, "m");
  const r = await trainModel({
    data: join(root, "data"),
    model: "seed-cnn",
    epochs: 2,
    batchSize: 16,
    seed: 1,
    out,
    inputSize: [28, 28],
    backend: "wasm",
  });
  const card = JSON.parse(readFileSync(join(out, "radiolens.json"), "utf8"));
  assert.deepEqual(card.labels, ["a", "b"]);
  assert.deepEqual(card.input.shape, [28, 28, 1]);
  assert.equal(card.dataset.source, "folder");
  assert.equal(card.dataset.trainSamples + card.dataset.valSamples + card.dataset.testSamples, 80);
  assert.equal(r.state.history.length, 2);
});

test("a manifest with a patient in two splits is refused, naming the column and the count only", async () => {
  const root = mkdtempSync(join(tmpdir(), "rl-manifest-"));
  const files = makeFolder(join(root, "img"), 6);
  const rows = files.map((f, i) => {
    const patient = `MRN${1000 + (i % 4)}`;
    // MRN1000 and MRN1001 appear in both train and val.
    const split = i < 8 ? "train" : "val";
    return `${f},${f.includes("/a/") ? "a" : "b"},${patient},${split}`;
  });
  const csv = join(root, "manifest.csv");
  writeFileSync(csv, `path,label,patient_id,split\n${rows.join("\n")}\n`);
  const out = join(root, "m");
  await assert.rejects(
    trainModel({
      data: csv,
      model: "seed-cnn",
      epochs: 1,
      batchSize: 4,
      seed: 1,
      out,
      inputSize: [28, 28],
      backend: "wasm",
    }),
    (e) => {
      if (!isRadioLensError(e, "RL_ERR_SPLIT_LEAK")) return false;
      const msg = (e as Error).message;
      return /patient_id/.test(msg) && /\b4 patient/.test(msg) && !/MRN/.test(msg);
    },
  );
  assert.ok(!existsSync(out), "nothing may be written when the data is refused");
});
