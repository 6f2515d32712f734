/** The report on multi-class and multi-label data: generated .npz files, a tiny model each, the task-specific sections. */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { zipSync } from "fflate";
import { Rng } from "../core/rng.js";
import { tf } from "../engine/backend.js";
import { trainModel } from "../train/run.js";
import { buildReport } from "./report.js";

/** A NumPy .npy (format 1.0) of uint8 values. */
function npyU8(data: Uint8Array, shape: readonly number[]): Uint8Array {
  let header = `{'descr': '|u1', 'fortran_order': False, 'shape': (${shape.join(", ")}${shape.length === 1 ? "," : ""}), }`;
  header += " ".repeat(63 - ((10 + header.length) % 64)) + "\n";
  const out = new Uint8Array(10 + header.length + data.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, header.length & 0xff, header.length >> 8]);
  out.set(new TextEncoder().encode(header), 10);
  out.set(data, 10 + header.length);
  return out;
}

/**
 * 28 × 28 images with a bright 8 × 8 block per active label/class: block c sits at column 2 + 9c. Multi-class
 * images carry one block, multi-label images any subset of two.
 */
function makeNpz(path: string, multilabel: boolean, seed: number): void {
  const rng = new Rng(seed);
  const files: Record<string, Uint8Array> = {};
  for (const [split, n] of [
    ["train", 120],
    ["val", 30],
    ["test", 45],
  ] as const) {
    const x = new Uint8Array(n * 784);
    const y = new Uint8Array(n * (multilabel ? 2 : 1));
    for (let i = 0; i < n; i++) {
      for (let p = 0; p < 784; p++) x[i * 784 + p] = rng.int(0, 60);
      const active = multilabel
        ? [i % 4 === 1 || i % 4 === 3, i % 4 >= 2]
        : [0, 1, 2].map((c) => c === i % 3);
      active.forEach((on, c) => {
        if (multilabel) y[i * 2 + c] = on ? 1 : 0;
        else if (on) y[i] = c;
        if (on)
          for (let r = 10; r < 18; r++)
            for (let q = 2 + 9 * c; q < 10 + 9 * c; q++) x[i * 784 + r * 28 + q] = 230;
      });
    }
    files[`${split}_images.npy`] = npyU8(x, [n, 28, 28]);
    files[`${split}_labels.npy`] = npyU8(y, [n, multilabel ? 2 : 1]);
  }
  writeFileSync(path, zipSync(files));
}

for (const multilabel of [false, true]) {
  const kind = multilabel ? "multi-label" : "multi-class";
  test(`a ${kind} report holds per-class metrics, the right figures and explained samples`, async () => {
    const dir = mkdtempSync(join(tmpdir(), "rl-report-task-"));
    const npz = join(dir, "synthetic.npz");
    makeNpz(npz, multilabel, 5);
    const bundle = join(dir, "model");
    await trainModel({
      data: npz,
      model: "seed-cnn",
      epochs: 2,
      batchSize: 16,
      seed: 2,
      out: bundle,
      backend: "wasm",
    });
    const before = tf.memory().numTensors;
    const out = join(dir, "r.html");
    const r = await buildReport({
      model: bundle,
      data: npz,
      out,
      bootstrap: 50,
      samples: 6,
      method: "gradcam++",
    });
    assert.equal(tf.memory().numTensors, before);
    const html = readFileSync(out, "utf8");
    assert.equal(r.evaluation.task, multilabel ? "multilabel" : "multiclass");
    assert.equal(r.evaluation.n_samples, 45);
    assert.equal(r.sampleIndices.length, 6);
    assert.equal((html.match(/alt="gradcam\+\+ overlay/g) ?? []).length, 6);
    // Figures: ROC, PR, reliability, training curves; a confusion matrix only for single-label tasks.
    assert.equal((html.match(/<figure>/g) ?? []).length, multilabel ? 4 : 5);
    if (multilabel) {
      assert.ok(
        html.includes("<td>test</td><td>45</td><td>22 (48.9%)</td><td>22 (48.9%)</td>"),
        "label positives",
      );
      assert.ok(html.includes("positives per label"));
    } else {
      assert.ok(
        html.includes("<td>test</td><td>45</td><td>15 (33.3%)</td><td>15 (33.3%)</td><td>15 (33.3%)</td>"),
      );
      // Single-label samples alternate correct/incorrect per true class; the truths cover every class present.
      const truths = new Set([...html.matchAll(/truth: <b>([^<]+)<\/b>/g)].map((m) => m[1]));
      assert.deepEqual([...truths].sort(), ["class_0", "class_1", "class_2"]);
    }
    for (const c of multilabel ? ["class_0", "class_1"] : ["class_0", "class_1", "class_2"])
      assert.ok(html.includes(`<tr><td>${c}</td>`), `per-class row ${c}`);
  });
}
