/** Inference runtimes: tfjs and ONNX Runtime agree on a dense model, input checks, thread resolution, no tensor leaks. */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import * as tfl from "@tensorflow/tfjs-layers";
import onnxProto from "onnx-proto";
import { isRadioLensError } from "../../core/errors.js";
import { initEngine, tf } from "../backend.js";
import { createOrtRuntime, createTfjsRuntime, runtimeThreads } from "./index.js";

const saved = process.env["RADIOLENS_THREADS"];
before(async () => {
  await initEngine({ backend: "wasm" });
});
after(() => {
  if (saved === undefined) delete process.env["RADIOLENS_THREADS"];
  else process.env["RADIOLENS_THREADS"] = saved;
});

/** The same two dense layers as an ONNX graph (Gemm → Tanh → Gemm → Softmax), written with the protobuf classes. */
function denseOnnx(model: tfl.LayersModel): Uint8Array {
  const { onnx } = onnxProto;
  const w = model.getWeights().map((t) => ({ dims: [...t.shape], data: t.dataSync() as Float32Array }));
  const init = w.map((t, i) => ({
    name: `w${i}`,
    dims: t.dims,
    dataType: 1,
    rawData: new Uint8Array(t.data.buffer.slice(t.data.byteOffset, t.data.byteOffset + t.data.byteLength)),
  }));
  const io = (name: string, n: number) => ({
    name,
    type: { tensorType: { elemType: 1, shape: { dim: [{ dimParam: "N" }, { dimValue: n }] } } },
  });
  const node = (op: string, input: string[], output: string, attribute: object[] = []) => ({
    opType: op,
    input,
    output: [output],
    attribute,
  });
  const axis = { name: "axis", type: onnx.AttributeProto.AttributeType.INT, i: 1 };
  const graph = {
    name: "dense_net",
    node: [
      node("Gemm", ["x", "w0", "w1"], "h"),
      node("Tanh", ["h"], "t"),
      node("Gemm", ["t", "w2", "w3"], "z"),
      node("Softmax", ["z"], "y", [axis]),
    ],
    initializer: init,
    input: [io("x", 3)],
    output: [io("y", 2)],
  };
  const m = onnx.ModelProto.create({ irVersion: 7, opsetImport: [{ domain: "", version: 13 }], graph });
  return onnx.ModelProto.encode(m).finish();
}

function denseModel(): tfl.LayersModel {
  const m = tfl.sequential({ name: "dense_net" });
  m.add(
    tfl.layers.dense({
      units: 4,
      inputShape: [3],
      activation: "tanh",
      kernelInitializer: tfl.initializers.glorotUniform({ seed: 1 }),
      biasInitializer: "ones",
    }),
  );
  m.add(
    tfl.layers.dense({
      units: 2,
      activation: "softmax",
      kernelInitializer: tfl.initializers.glorotUniform({ seed: 2 }),
    }),
  );
  return m;
}

describe("inference runtimes", () => {
  test("tfjs and ONNX Runtime give the same rows; names and shapes come back", async () => {
    const model = denseModel();
    const ort = await createOrtRuntime(denseOnnx(model), { threads: 1 });
    const tfjs = createTfjsRuntime(model);
    assert.equal(ort.kind, "onnx");
    assert.equal(tfjs.kind, "tfjs");
    assert.deepEqual(ort.inputNames, ["x"]);
    assert.equal(tfjs.inputNames.length, 1);
    const x = { data: Float32Array.of(0.1, -2, 3, 0, 0, 0, 5, 5, -5), shape: [3, 3] };
    const before = tf.memory().numTensors;
    const [a] = await tfjs.run([x]);
    assert.equal(tf.memory().numTensors, before);
    const [b] = await ort.run([x]);
    assert.deepEqual(b?.shape, [3, 2]);
    assert.deepEqual(a?.shape, [3, 2]);
    a?.data.forEach((v, i) => {
      assert.ok(Math.abs(v - (b?.data[i] as number)) < 1e-6);
    });
    await ort.close();
    await tfjs.close();
  });

  test("a wrong number of inputs and a wrong shape are RL_ERR_MODEL_DATA_MISMATCH", async () => {
    const model = denseModel();
    const ort = await createOrtRuntime(denseOnnx(model), { threads: 1 });
    await assert.rejects(ort.run([]), (e: unknown) => isRadioLensError(e, "RL_ERR_MODEL_DATA_MISMATCH"));
    await assert.rejects(ort.run([{ data: new Float32Array(4), shape: [1, 4] }]), (e: unknown) =>
      isRadioLensError(e, "RL_ERR_MODEL_DATA_MISMATCH"),
    );
    await ort.close();
    model.dispose();
  });

  test("bytes that are not a model are RL_ERR_ONNX_INVALID", async () => {
    await assert.rejects(
      createOrtRuntime(new TextEncoder().encode("nope"), { path: "x.onnx" }),
      (e: unknown) => isRadioLensError(e, "RL_ERR_ONNX_INVALID") && /x\.onnx/.test((e as Error).message),
    );
  });

  test("threads: option, then RADIOLENS_THREADS, then the core count", () => {
    process.env["RADIOLENS_THREADS"] = "3";
    assert.equal(runtimeThreads(2), 2);
    assert.equal(runtimeThreads(), 3);
    process.env["RADIOLENS_THREADS"] = "zero";
    assert.ok(runtimeThreads() >= 1);
  });
});
