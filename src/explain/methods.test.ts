/** Explanation methods on a linear model whose answers are known exactly; overlays, colormaps, the explain pipeline and CLI. */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import * as tfl from "@tensorflow/tfjs-layers";
import { sharedData } from "../../test/support/shared-data.js";
import { explainCommand } from "../cli/commands/explain.js";
import { isRadioLensError } from "../core/errors.js";
import { writeFileAtomic } from "../core/fs.js";
import { createImage } from "../core/image.js";
import { initEngine, tf } from "../engine/backend.js";
import { dicomToImage, readDicomFile } from "../io/dicom/index.js";
import { decodePng, encodePng } from "../io/image/png.js";
import { saveBundle } from "../models/bundle.js";
import { createModel } from "../models/registry.js";
import { createSeedCnn } from "../models/seed-cnn.js";
import { applyColormap } from "./colormaps.js";
import { explainFile, explainInput } from "./explain.js";
import { camGeometry, placeOnInput } from "./geometry.js";
import { camLayer } from "./gradcam.js";
import { EXPLAIN_METHODS, type Heatmap, resizeBilinear } from "./heatmap.js";
import { overlayHeatmap } from "./overlay.js";
import { spearman } from "./sanity.js";

const N = 8;
/** Class 1's evidence: the 3×3 block at rows 2–4, cols 5–7. */
const inMask = (r: number, c: number) => r >= 2 && r <= 4 && c >= 5 && c <= 7;

/**
 * input → 1×1 conv (identity, linear; the CAM layer) → flatten → dense(2, softmax) with logit_0 = 0 and
 * logit_1 = Σ_mask x. So ∂logit_1/∂x is the mask, and Grad-CAM on "conv" is ReLU(x · 9/64) ∝ x.
 */
function linearModel(): tfl.LayersModel {
  const m = tfl.sequential();
  m.add(
    tfl.layers.conv2d({ inputShape: [N, N, 1], filters: 1, kernelSize: 1, useBias: false, name: "conv" }),
  );
  m.add(tfl.layers.flatten({ name: "flat" }));
  m.add(tfl.layers.dense({ units: 2, activation: "softmax", name: "fc" }));
  const w = new Float32Array(N * N * 2);
  for (let r = 0; r < N; r++) for (let c = 0; c < N; c++) if (inMask(r, c)) w[(r * N + c) * 2 + 1] = 1;
  tf.tidy(() => {
    (m.getLayer("conv") as tfl.layers.Layer).setWeights([tf.ones([1, 1, 1, 1])]);
    (m.getLayer("fc") as tfl.layers.Layer).setWeights([tf.tensor2d(w, [N * N, 2]), tf.zeros([2])]);
  });
  return m;
}

function input(seed: number): { x: Float32Array; t: tf.Tensor4D } {
  const x = new Float32Array(N * N);
  let s = seed;
  for (let i = 0; i < x.length; i++) {
    s = (s * 1103515245 + 12345) % 2147483648;
    x[i] = 0.1 + 0.9 * (s / 2147483648);
  }
  return { x, t: tf.tensor4d(x, [1, N, N, 1]) };
}

test("each method gives the known map on a linear model, without leaking tensors", async () => {
  await initEngine({ backend: "wasm" });
  const model = linearModel();
  const { x, t } = input(7);
  const before = tf.memory().numTensors;
  const maps = Object.fromEntries(
    EXPLAIN_METHODS.map((m) => [
      m,
      explainInput(model, t, { method: m, classIndex: 1, patch: 1, stride: 1, baseline: 0 }),
    ]),
  ) as Record<string, Heatmap>;
  assert.equal(tf.memory().numTensors, before);
  const max = Math.max(...x);
  for (let i = 0; i < N * N; i++) {
    const r = Math.floor(i / N);
    const c = i % N;
    const mask = inMask(r, c) ? 1 : 0;
    // Grad-CAM: ReLU(mean(∂y/∂A) · A) with A = x, scaled by its max.
    assert.ok(Math.abs((maps["gradcam"]?.data[i] as number) - (x[i] as number) / max) < 1e-5, `gradcam ${i}`);
    assert.ok(Math.abs((maps["gradient"]?.data[i] as number) - mask) < 1e-6, `gradient ${i}`);
    // The gradient of a linear model does not depend on the noise.
    assert.ok(Math.abs((maps["smoothgrad"]?.data[i] as number) - mask) < 1e-5, `smoothgrad ${i}`);
    // Hiding a pixel lowers p(class 1) exactly where it counts.
    if (!mask) assert.equal(maps["occlusion"]?.data[i], 0, `occlusion ${i}`);
    else assert.ok((maps["occlusion"]?.data[i] as number) > 0, `occlusion ${i}`);
  }
  assert.equal(maps["gradcam"]?.layer, "conv");
  assert.equal(maps["gradient"]?.layer, "input");
  // The predicted class is the default.
  const p1 = 1 / (1 + Math.exp(-x.reduce((s, v, i) => s + (inMask(Math.floor(i / N), i % N) ? v : 0), 0)));
  const auto = explainInput(model, t, { method: "gradcam" });
  assert.equal(auto.classIndex, 1);
  assert.ok(Math.abs(auto.score - p1) < 1e-5);
  t.dispose();
  model.dispose();
});

test("bad layer, class and method names fail with a usage error that lists the choices", async () => {
  await initEngine({ backend: "wasm" });
  const model = linearModel();
  const { t } = input(3);
  assert.throws(() => camLayer(model, "fc"), /no spatial \(4D\) output.*conv/);
  assert.throws(() => camLayer(model, "nope"), /no layer 'nope'/);
  assert.throws(
    () => explainInput(model, t, { classIndex: 2 }),
    (e) => isRadioLensError(e, "RL_ERR_USAGE") && /outside 0\.\.1/.test(e.message),
  );
  const batch = tf.zeros([2, N, N, 1]) as tf.Tensor4D;
  assert.throws(() => explainInput(model, batch), /one image at a time/);
  batch.dispose();
  t.dispose();
  model.dispose();
});

test("resampling, colormaps, Spearman and overlays", () => {
  // Half-pixel bilinear: a 2×1 map [0, 1] to 4×1 is [0, 0.25, 0.75, 1].
  assert.deepEqual(Array.from(resizeBilinear([0, 1], 2, 1, 4, 1)), [0, 0.25, 0.75, 1]);
  assert.deepEqual(Array.from(resizeBilinear([0, 1, 2, 3], 2, 2, 2, 2)), [0, 1, 2, 3]);
  // matplotlib: jet(0) = (0, 0, 0.5), jet(1) = (0.5, 0, 0), viridis(1) = (0.993248, 0.906157, 0.143936).
  assert.deepEqual(Array.from(applyColormap([0, 1], "jet")), [0, 0, 128, 128, 0, 0]);
  assert.deepEqual(Array.from(applyColormap([1], "viridis")), [253, 231, 37]);
  assert.deepEqual(Array.from(applyColormap([0], "inferno")), [0, 0, 4]);
  // scipy.stats.spearmanr([1,2,2,3,7], [1,3,2,4,0]) = -0.05129891760425771
  assert.ok(Math.abs(spearman([1, 2, 2, 3, 7], [1, 3, 2, 4, 0]) - -0.05129891760425771) < 1e-12);
  assert.ok(Number.isNaN(spearman([1, 1, 1], [1, 2, 3])));

  // A 16-bit 6×4 image; a 2×2 heatmap with the top-left quadrant hot.
  const img = createImage(
    Uint16Array.from({ length: 24 }, (_, i) => i * 100),
    [6, 4, 1],
  );
  const heat: Heatmap = {
    data: Float32Array.from([1, 0, 0, 0]),
    rows: 2,
    cols: 2,
    classIndex: 0,
    layer: "x",
    method: "gradcam",
    score: 1,
  };
  const plain = overlayHeatmap(img, heat, { opacity: 0 });
  assert.deepEqual(plain.shape, [6, 4, 3]);
  // Min–max display: first pixel 0, last 255, grey.
  assert.deepEqual(Array.from(plain.data.slice(0, 3)), [0, 0, 0]);
  assert.deepEqual(Array.from(plain.data.slice(69, 72)), [255, 255, 255]);
  const full = overlayHeatmap(img, heat, { opacity: 1, colormap: "jet" });
  assert.deepEqual(Array.from(full.data.slice(0, 3)), [128, 0, 0]); // hot corner: jet(1)
  assert.deepEqual(Array.from(full.data.slice(69, 72)), [0, 0, 128]); // cold corner: jet(0)
  assert.throws(() => overlayHeatmap(img, heat, { opacity: 2 }), /opacity/);
});

test("explainFile and `radiolens explain` write the overlay on the original image grid", async () => {
  await initEngine({ backend: "wasm" });
  const dir = mkdtempSync(join(tmpdir(), "rl-explain-"));
  const model = linearModel();
  await saveBundle(join(dir, "m"), model, {
    name: "linear",
    architecture: "test-linear",
    version: "1.0.0",
    task: "binary",
    labels: ["normal", "finding"],
    input: { shape: [N, N, 1], layout: "NHWC", dtype: "float32" },
    preprocessing: [{ op: "grayscale" }, { op: "resize", size: [N, N] }, { op: "scale", divisor: 255 }],
    output: { activation: "softmax" },
    threshold: 0.5,
    versions: {},
  });
  model.dispose();
  // 40 × 24 RGB original: bright where the model's mask lands after the resize (rows 10–24, cols 15–23).
  const rgb = new Uint8Array(40 * 24 * 3);
  for (let r = 0; r < 40; r++)
    for (let c = 0; c < 24; c++)
      rgb.fill(r >= 10 && r < 25 && c >= 15 ? 220 : 40, (r * 24 + c) * 3, (r * 24 + c) * 3 + 3);
  const png = join(dir, "in.png");
  writeFileAtomic(png, encodePng(createImage(rgb, [40, 24, 3])));
  const before = tf.memory().numTensors;
  const r = await explainFile({
    model: join(dir, "m"),
    image: png,
    out: join(dir, "heat.png"),
    classIndex: "finding",
  });
  assert.equal(tf.memory().numTensors, before);
  assert.deepEqual([r.rows, r.cols, r.classIndex, r.label, r.method], [40, 24, 1, "finding", "gradcam"]);
  const out = decodePng(readFileSync(join(dir, "heat.png")));
  assert.deepEqual(out.shape, [40, 24, 3]);

  let text = "";
  const io = { stdout: (t: string) => (text += t), stderr: () => {}, isTTY: false };
  const code = await explainCommand.run(
    {
      values: {
        model: join(dir, "m"),
        out: join(dir, "o.png"),
        method: "occlusion",
        opacity: "0.5",
        colormap: "inferno",
      },
      positionals: [png],
    },
    io,
  );
  assert.equal(code, 0);
  assert.match(text, /occlusion on input: class 1 \(finding\).*\(24×40\)/);
  assert.deepEqual(decodePng(readFileSync(join(dir, "o.png"))).shape, [40, 24, 3]);
  // DICOM: drawn over the file's own display rendering (its VOI window), on its 64 × 64 grid.
  const mr = sharedData("dicom/pydicom/MR_small.dcm"); // Window Center 600, Width 1600
  const d = await explainFile({ model: join(dir, "m"), image: mr, out: join(dir, "mr.png"), opacity: 0 });
  assert.deepEqual([d.rows, d.cols], [64, 64]);
  const shown = await dicomToImage(readDicomFile(mr), { output: "display" });
  const mrPng = decodePng(readFileSync(join(dir, "mr.png")));
  for (let i = 0; i < 64 * 64; i += 7) assert.equal(mrPng.data[i * 3], shown.data[i], `MR pixel ${i}`);
  await assert.rejects(
    explainCommand.run(
      { values: { model: join(dir, "m"), out: "x.png", method: "lime" }, positionals: [png] },
      io,
    ),
    (e) =>
      isRadioLensError(e, "RL_ERR_OPTION_INVALID") &&
      /--method 'lime' is not accepted: expected one of gradcam, gradcam\+\+, occlusion/.test(e.message),
  );
});

test("CAM cells sit at their receptive-field centres on the input grid", async () => {
  await initEngine({ backend: "wasm" });
  const seed = createSeedCnn({ numClasses: 2, seed: 1 });
  // Valid 3×3 convolutions and 2×2 poolings: conv1 centres at 1 + j, pool2's 5 × 5 cells at 4.5 + 4j.
  const g = (name: string) => camGeometry(seed, seed.getLayer(name), 28, 28);
  assert.deepEqual(g("conv1"), { offsetRow: 1, offsetCol: 1, strideRow: 1, strideCol: 1, exact: true });
  assert.deepEqual(g("pool2"), { offsetRow: 4.5, offsetCol: 4.5, strideRow: 4, strideCol: 4, exact: true });
  // The middle cell of a 5-cell column lands on rows 12 and 13 (centre 12.5), not spread over 28 rows.
  const col = placeOnInput([0, 0, 1, 0, 0], 5, 1, g("pool2"), 28, 1);
  assert.ok(Math.abs((col[12] as number) - 0.875) < 1e-6 && Math.abs((col[13] as number) - 0.875) < 1e-6);
  assert.equal(col[8], 0);
  assert.equal(col[17], 0);
  seed.dispose();
  // Residual merges: the plain-resize geometry, flagged as such.
  const resnet = createModel("resnet18-28", { inputShape: [28, 28, 1], numClasses: 2, seed: 1 });
  const last = camLayer(resnet);
  assert.deepEqual(camGeometry(resnet, last, 28, 28), {
    strideRow: 7,
    strideCol: 7,
    offsetRow: 3,
    offsetCol: 3,
    exact: false,
  });
  resnet.dispose();
});
