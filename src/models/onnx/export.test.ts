/** ONNX export: every zoo model and seed-cnn, exported from a saved bundle, matches tfjs on 32 random inputs. */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type * as tfl from "@tensorflow/tfjs-layers";
import { isRadioLensError } from "../../core/errors.js";
import { Rng } from "../../core/rng.js";
import { initEngine, tf } from "../../engine/backend.js";
import { createOrtRuntime, createTfjsRuntime, type RuntimeTensor } from "../../engine/runtime/index.js";
import { loadBundle, readCard, saveBundle } from "../bundle.js";
import { createSeedCnn } from "../seed-cnn.js";
import { createZooModel, ZOO } from "../zoo/index.js";
import { exportBundleOnnx, ONNX_FILE, openBundle } from "./bundle-runtime.js";
import { decodeOnnx } from "./inspect.js";

const tmp = mkdtempSync(join(tmpdir(), "rl-onnx-export-"));
before(async () => {
  await initEngine({ backend: "wasm" });
});
after(() => {
  rmSync(tmp, { recursive: true, force: true });
});

/** Moving statistics and affine terms away from their 0/1 initial values, so a wrong mapping shows. */
function perturbBatchNorm(model: tfl.LayersModel, rng: Rng): void {
  for (const layer of model.layers) {
    if (layer.getClassName() !== "BatchNormalization") continue;
    const ws = layer.getWeights();
    const fresh = layer.weights.map((w, i) => {
      const n = (ws[i] as tf.Tensor).size;
      const name = w.name;
      const v = new Float32Array(n);
      for (let j = 0; j < n; j++) {
        if (name.includes("moving_variance")) v[j] = rng.uniform(0.5, 2);
        else if (name.includes("gamma")) v[j] = rng.uniform(0.5, 1.5);
        else v[j] = rng.uniform(-0.5, 0.5);
      }
      return tf.tensor(v, (ws[i] as tf.Tensor).shape);
    });
    layer.setWeights(fresh);
    tf.dispose(fresh);
  }
}

function randomInputs(model: tfl.LayersModel, n: number, rng: Rng): RuntimeTensor[] {
  return model.inputs.map((t) => {
    const s = t.shape.slice(1) as number[];
    const data = new Float32Array(n * s.reduce((a, b) => a * b, 1));
    for (let i = 0; i < data.length; i++) data[i] = rng.normal();
    return { data, shape: [n, ...s] };
  });
}

async function roundTrip(name: string, model: tfl.LayersModel): Promise<number> {
  const dir = join(tmp, name);
  const rng = new Rng(7);
  perturbBatchNorm(model, rng);
  const shape = model.inputs[0]?.shape.slice(1) as number[];
  await saveBundle(dir, model, {
    name,
    architecture: name,
    version: "1.0.0",
    task: "multiclass",
    labels: ["a", "b"],
    input: { shape, layout: "NHWC", dtype: "float32" },
    preprocessing: [],
    output: { activation: "softmax" },
    threshold: 0.5,
    versions: {},
  });
  model.dispose();
  // The export's own check runs on 2 inputs here; the 32-input comparison below is the test.
  const report = await exportBundleOnnx(dir, { verifyInputs: 2 });
  assert.ok(report.maxAbsDiff <= 1e-4, `${name}: export self-check ${report.maxAbsDiff}`);
  assert.equal(readCard(dir).files.onnx, ONNX_FILE);
  const { model: loaded } = await loadBundle(dir);
  const tfjsRt = createTfjsRuntime(loaded);
  const ortRt = await createOrtRuntime(join(dir, ONNX_FILE), { threads: 1 });
  const inputs = randomInputs(loaded, 32, rng);
  const [a] = await tfjsRt.run(inputs);
  const [b] = await ortRt.run(inputs);
  await ortRt.close();
  await tfjsRt.close();
  assert.ok(a && b);
  assert.deepEqual(b.shape, a.shape, `${name}: output shapes`);
  let max = 0;
  for (let i = 0; i < a.data.length; i++)
    max = Math.max(max, Math.abs((a.data[i] as number) - (b.data[i] as number)));
  assert.ok(max <= 1e-4, `${name}: max |tfjs − ORT| = ${max}`);
  return max;
}

/** Small inputs keep the whole zoo under a few seconds; the graph structure does not depend on size. */
const SIZES: Record<string, number[]> = {
  resnet18: [16, 16, 3],
  resnet34: [16, 16, 3],
  resnet50: [16, 16, 3],
  "resnet18-28": [8, 8, 1],
  "resnet34-28": [8, 8, 1],
  "resnet50-28": [8, 8, 1],
  densenet121: [32, 32, 3],
  "densenet121-28": [8, 8, 1],
  mobilenetv2: [16, 16, 3],
  "mobilenetv2-28": [12, 12, 1],
  unet2d: [16, 16, 1],
  unet3d: [8, 8, 8, 1],
  "resnet18-3d": [8, 8, 8, 1],
  "resnet18-acs": [8, 8, 8, 1],
  "resnet18-2.5d": [8, 8, 8, 1],
  "resnet50-3d": [8, 8, 8, 1],
  "resnet50-acs": [8, 8, 8, 1],
  "resnet50-2.5d": [8, 8, 8, 1],
  fusion: [16, 16, 1],
};

/** 3D ResNets at width 8: the graph (strides, paddings, ACS splits, pooling) is the same at every width, the export ~30× faster. */
const WIDTH: Record<string, number> = Object.fromEntries(
  Object.keys(SIZES)
    .filter((n) => /-(3d|acs|2\.5d)$/.test(n))
    .map((n) => [n, 8]),
);

describe("ONNX export of the model zoo", () => {
  test("every zoo model entry has a size here", () => {
    const models = Object.entries(ZOO)
      .filter(([, e]) => e.kind === "model")
      .map(([n]) => n);
    assert.deepEqual(models.sort(), Object.keys(SIZES).sort());
  });

  test("seed-cnn (28×28×1) matches tfjs within 1e-4", async () => {
    await roundTrip("seed-cnn", createSeedCnn({ numClasses: 2, seed: 1 }));
  });

  for (const [name, shape] of Object.entries(SIZES)) {
    test(`${name} ${JSON.stringify(shape)} matches tfjs within 1e-4`, async () => {
      const numClasses = ZOO[name]?.kind === "model" && ZOO[name].task === "segmentation" ? 3 : 2;
      const width = WIDTH[name];
      const opts = { inputShape: shape, numClasses, seed: 3, ...(width ? { width } : {}) };
      await roundTrip(name, createZooModel(name, opts));
    });
  }

  test("dcgan generator (transposed convs, tanh) and discriminator (leaky ReLU) match tfjs", async () => {
    const entry = ZOO["dcgan"];
    assert.ok(entry?.kind === "gan");
    const gan = entry.build({ inputShape: [28, 28, 1], numClasses: 2, seed: 5 });
    await roundTrip("dcgan-g", gan.generator);
    await roundTrip("dcgan-d", gan.discriminator);
  });

  test("the exported graph has a dynamic batch, NHWC input, opset 13 and the card in its metadata", () => {
    const m = decodeOnnx(readFileSync(join(tmp, "seed-cnn", ONNX_FILE)), "model.onnx");
    const dims = m.graph?.input?.[0]?.type?.tensorType?.shape?.dim ?? [];
    assert.equal(dims[0]?.dimParam, "N");
    assert.deepEqual(
      dims.slice(1).map((d) => Number(d.dimValue)),
      [28, 28, 1],
    );
    assert.equal(Number(m.opsetImport?.[0]?.version), 13);
    const meta = Object.fromEntries((m.metadataProps ?? []).map((p) => [p.key, p.value]));
    assert.deepEqual(JSON.parse(meta["radiolens.input"] ?? "null").shape, [28, 28, 1]);
  });

  test("openBundle picks ONNX Runtime when the bundle has model.onnx, tfjs on request, and they agree", async () => {
    const dir = join(tmp, "seed-cnn");
    const a = await openBundle(dir, { threads: 1 });
    const b = await openBundle(dir, { runtime: "tfjs" });
    assert.equal(a.runtime.kind, "onnx");
    assert.equal(b.runtime.kind, "tfjs");
    const rng = new Rng(11);
    const data = new Float32Array(5 * 28 * 28);
    for (let i = 0; i < data.length; i++) data[i] = rng.float();
    const before = tf.memory().numTensors;
    const ra = await a.predict(data, 2);
    const rb = await b.predict(data, 2);
    assert.equal(tf.memory().numTensors, before);
    assert.equal(ra.length, 5);
    ra.forEach((r, i) => {
      r.forEach((v, j) => {
        assert.ok(Math.abs(v - (rb[i]?.[j] as number)) <= 1e-5);
      });
    });
    await a.close();
    await b.close();
  });

  test("a layer without an ONNX mapping is refused with RL_ERR_ONNX_UNSUPPORTED naming it", async () => {
    const tfl = await import("@tensorflow/tfjs-layers");
    const m = tfl.sequential({
      layers: [tfl.layers.simpleRNN({ units: 2, inputShape: [3, 2], name: "rnn_layer" })],
    });
    const { exportOnnx } = await import("./export.js");
    assert.throws(
      () => exportOnnx(m),
      (e: unknown) =>
        isRadioLensError(e, "RL_ERR_ONNX_UNSUPPORTED") && /rnn_layer/.test((e as Error).message),
    );
    m.dispose();
  });
});
