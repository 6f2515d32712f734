/** ONNX import: PyTorch 1.13 models exported with torch.onnx.export match PyTorch through the card's preprocessing (DICOM included); bad files and cards are refused. */

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { REPO_ROOT, sharedData } from "../../../test/support/shared-data.js";
import { isRadioLensError } from "../../core/errors.js";
import { createImage, type MedicalImage } from "../../core/image.js";
import { Rng } from "../../core/rng.js";
import { readDicomFile } from "../../io/dicom/parse.js";
import { dicomToImage } from "../../io/dicom/to-image.js";
import { checkIntendedUse, intendedUseOf } from "../intended-use.js";
import { preprocessForModel } from "../preprocess.js";
import { openBundle } from "./bundle-runtime.js";
import { type ImportCard, importOnnx } from "./import.js";

const PYTHON = process.env["RADIOLENS_PYTHON"] ?? "/usr/bin/python3";
const FIXTURE = join(REPO_ROOT, "test", "fixtures", "torch_fixture.py");
const CT = sharedData("dicom/pydicom/CT_small.dcm");
const SIZE = 64;
const N_RAW = 31;
const tmp = mkdtempSync(join(tmpdir(), "rl-onnx-import-"));
const hasTorch = spawnSync(PYTHON, ["-c", "import torch, pydicom"], { encoding: "utf8" }).status === 0;

let images: MedicalImage[] = [];

before(async () => {
  if (!hasTorch) return;
  // 31 random HU-like images (air to dense bone) and one real CT, whose 128×128 goes through the card's resize.
  const rng = new Rng(2026);
  const raw = new Float32Array(N_RAW * SIZE * SIZE);
  for (let i = 0; i < raw.length; i++) raw[i] = rng.uniform(-1200, 1500);
  writeFileSync(join(tmp, "raw.f32"), raw);
  const r = spawnSync(PYTHON, [FIXTURE, tmp, join(tmp, "raw.f32"), String(N_RAW), CT], { encoding: "utf8" });
  assert.equal(r.status, 0, `torch fixture failed: ${r.stderr}`);
  images = [];
  for (let i = 0; i < N_RAW; i++) {
    images.push(createImage(raw.slice(i * SIZE * SIZE, (i + 1) * SIZE * SIZE), [SIZE, SIZE, 1]));
  }
  images.push(await dicomToImage(readDicomFile(CT)));
});
after(() => {
  rmSync(tmp, { recursive: true, force: true });
});

function card(over: Partial<Record<keyof ImportCard, unknown>> = {}): Record<string, unknown> {
  return {
    name: "torch-cnn",
    task: "multiclass",
    labels: ["normal", "nodule", "mass"],
    input: { name: "input", layout: "NCHW", shape: [SIZE, SIZE, 1] },
    window: { center: 40, width: 400 },
    preprocessing: [{ op: "resize", size: [SIZE, SIZE] }],
    normalize: { mean: [0.5], std: [0.25] },
    output: { name: "logits", activation: "softmax", logits: true },
    ...over,
  };
}

function f32(path: string): Float32Array {
  const b = readFileSync(path);
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}

async function expectCode(p: Promise<unknown>, code: string, pattern: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(isRadioLensError(e), `not a RadioLensError: ${String(e)}`);
    assert.equal(e.code, code, e.message);
    assert.match(e.message, pattern);
    return true;
  });
}

describe("importing PyTorch 1.13 ONNX models", {
  skip: !hasTorch && `${PYTHON} cannot import torch and pydicom`,
}, () => {
  for (const [name, cardOver] of [
    ["cnn", {}],
    ["resnet", { name: "torch-resnet", window: { preset: "abdomen" } }],
  ] as const) {
    test(`${name}: RadioLens on the imported bundle matches PyTorch within 1e-4 on 32 inputs incl. a DICOM CT`, async () => {
      const out = join(tmp, `bundle-${name}`);
      const rep = await importOnnx(readFileSync(join(tmp, `${name}.onnx`)), card(cardOver), out, {
        onnxPath: `${name}.onnx`,
      });
      assert.equal(rep.inputName, "input");
      assert.equal(rep.opset, 13);
      assert.deepEqual(rep.card.preprocessing[0], { op: "window", center: 40, width: 400 });
      const m = await openBundle(out, { threads: 1 });
      assert.equal(m.runtime.kind, "onnx");
      const per = SIZE * SIZE;
      const x = new Float32Array(images.length * per);
      images.forEach((img, i) => {
        x.set(preprocessForModel(img, m.card), i * per);
      });
      // Our preprocessing equals the numpy reimplementation (window, 2×2 area mean, normalize) in the fixture.
      const theirs = f32(join(tmp, "inputs.f32"));
      let dx = 0;
      for (let i = 0; i < x.length; i++)
        dx = Math.max(dx, Math.abs((x[i] as number) - (theirs[i] as number)));
      assert.ok(dx <= 1e-5, `preprocessing differs from numpy by ${dx}`);
      const rows = await m.predict(x, 16);
      await m.close();
      const probs = f32(join(tmp, `${name}.probs.f32`));
      assert.equal(rows.length, 32);
      let d = 0;
      rows.forEach((r, i) => {
        assert.equal(r.length, 3);
        r.forEach((v, j) => {
          d = Math.max(d, Math.abs(v - (probs[i * 3 + j] as number)));
        });
      });
      assert.ok(d <= 1e-4, `max |RadioLens − PyTorch| = ${d}`);
      // The DICOM row is a real, non-degenerate prediction.
      const ct = rows[31] as Float32Array;
      assert.ok(Math.abs(ct.reduce((a, b) => a + b, 0) - 1) < 1e-5);
    });
  }

  test("seg: an NCHW segmenter returns channels-last softmax maps equal to PyTorch within 1e-4", async () => {
    const out = join(tmp, "bundle-seg");
    await importOnnx(
      readFileSync(join(tmp, "seg.onnx")),
      card({ name: "torch-seg", task: "segmentation", labels: ["background", "lesion"] }),
      out,
    );
    const m = await openBundle(out, { threads: 1 });
    const per = SIZE * SIZE;
    const x = new Float32Array(images.length * per);
    images.forEach((img, i) => {
      x.set(preprocessForModel(img, m.card), i * per);
    });
    const rows = await m.predict(x, 8);
    await m.close();
    const probs = f32(join(tmp, "seg.probs.f32"));
    assert.equal(rows.length, 32);
    let d = 0;
    rows.forEach((r, i) => {
      assert.equal(r.length, per * 2);
      for (let j = 0; j < r.length; j++)
        d = Math.max(d, Math.abs((r[j] as number) - (probs[i * per * 2 + j] as number)));
    });
    assert.ok(d <= 1e-4, `max |RadioLens − PyTorch| = ${d}`);
  });

  test("the card's intended use and energy threshold come with the import; predictions carry the energy verdict", async () => {
    const out = join(tmp, "bundle-safety");
    const rep = await importOnnx(
      readFileSync(join(tmp, "cnn.onnx")),
      card({
        intendedUse: { statement: "CT nodules (test)", inputs: { modalities: ["CT"] } },
        ood: { threshold: -1.5 },
      }),
      out,
    );
    assert.deepEqual(intendedUseOf(rep.card).inputs, { modalities: ["CT"] });
    assert.equal(rep.card.ood?.method, "energy");
    const m = await openBundle(out, { threads: 1 });
    const per = SIZE * SIZE;
    const x = new Float32Array(images.length * per);
    images.forEach((img, i) => {
      x.set(preprocessForModel(img, m.card), i * per);
    });
    const { rows, ood } = await m.predictWithOod(x, 16);
    await m.close();
    assert.equal(ood?.length, rows.length);
    for (const o of ood ?? []) {
      assert.ok(Number.isFinite(o.score));
      assert.equal(o.inDistribution, o.score <= -1.5);
    }
    // The real CT passes the gate; the same image labelled MR does not.
    const ctImage = images[31] as MedicalImage;
    assert.equal(checkIntendedUse(intendedUseOf(rep.card).inputs, ctImage), undefined);
    const mr = { ...ctImage, meta: { ...ctImage.meta, modality: "MR" } };
    assert.equal(
      checkIntendedUse(intendedUseOf(rep.card).inputs, mr)?.reason,
      "Modality MR is outside this model's intended use (CT)",
    );
  });

  test("an imported bundle has no tfjs model: --runtime tfjs is refused by name", async () => {
    await expectCode(
      openBundle(join(tmp, "bundle-cnn"), { runtime: "tfjs" }),
      "RL_ERR_RUNTIME_UNAVAILABLE",
      /ONNX/,
    );
  });

  test("malformed ONNX is refused with RL_ERR_ONNX_INVALID", async () => {
    const good = readFileSync(join(tmp, "resnet.onnx"));
    await expectCode(
      importOnnx(good.subarray(0, 5000), card(), join(tmp, "x1")),
      "RL_ERR_ONNX_INVALID",
      /ONNX/,
    );
    await expectCode(
      importOnnx(new TextEncoder().encode("this is not a model"), card(), join(tmp, "x2")),
      "RL_ERR_ONNX_INVALID",
      /not a usable ONNX model/,
    );
    assert.equal(existsSync(join(tmp, "x1")), false);
  });

  test("a card that contradicts the model is refused naming the mismatch", async () => {
    const bytes = readFileSync(join(tmp, "cnn.onnx"));
    const nhwc = card({ input: { name: "input", layout: "NHWC", shape: [SIZE, SIZE, 1] } });
    await expectCode(
      importOnnx(bytes, nhwc, join(tmp, "y")),
      "RL_ERR_ONNX_MISMATCH",
      /input size.*NCHW layout/,
    );
    await expectCode(
      importOnnx(bytes, card({ labels: ["a", "b"], task: "multiclass" }), join(tmp, "y")),
      "RL_ERR_ONNX_MISMATCH",
      /labels: output 'logits' has 3 classes, the card lists 2/,
    );
    await expectCode(
      importOnnx(
        bytes,
        card({ input: { name: "image", layout: "NCHW", shape: [SIZE, SIZE, 1] } }),
        join(tmp, "y"),
      ),
      "RL_ERR_ONNX_MISMATCH",
      /input name: the card says 'image', the model's input is 'input'/,
    );
    await expectCode(
      importOnnx(
        bytes,
        card({
          input: { name: "input", layout: "NCHW", shape: [32, 32, 1] },
          preprocessing: [{ op: "resize", size: [32, 32] }],
        }),
        join(tmp, "y"),
      ),
      "RL_ERR_ONNX_MISMATCH",
      /input size/,
    );
    await expectCode(
      importOnnx(
        bytes,
        card({ output: { name: "probs", activation: "softmax", logits: true } }),
        join(tmp, "y"),
      ),
      "RL_ERR_ONNX_MISMATCH",
      /output name/,
    );
    await expectCode(
      importOnnx(bytes, card({ task: "segmentation" }), join(tmp, "y")),
      "RL_ERR_ONNX_MISMATCH",
      /output rank/,
    );
  });

  test("a card that contradicts itself is refused with RL_ERR_CARD_INVALID naming the field", async () => {
    const bytes = readFileSync(join(tmp, "cnn.onnx"));
    const cases: [Record<string, unknown>, RegExp][] = [
      [card({ task: "multilabel" }), /multilabel.*sigmoid, not softmax/],
      [
        card({ normalize: { mean: [0.5, 0.5, 0.5], std: [0.25] } }),
        /mean has 3 values but the model takes 1/,
      ],
      [card({ window: { preset: "liver" } }), /unknown window preset 'liver'/],
      [card({ window: { center: 40, width: 0 } }), /width > 0/],
      [card({ preprocessing: [{ op: "rgb" }] }), /does not end at input.shape/],
      [card({ output: { activation: "softmax" } }), /output.logits/],
      [card({ labels: ["a", "a", "b"] }), /twice/],
      [card({ input: { layout: "CHW", shape: [SIZE, SIZE, 1] } }), /input.layout/],
    ];
    for (const [c, re] of cases)
      await expectCode(importOnnx(bytes, c, join(tmp, "z")), "RL_ERR_CARD_INVALID", re);
  });
});
