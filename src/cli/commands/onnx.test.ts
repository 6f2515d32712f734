/** CLI: `radiolens export --format onnx`, then predict on ONNX Runtime and tfjs; `radiolens import` refusals. */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { PNG } from "pngjs";
import { writeTestBundle } from "../../../test/support/bundle.js";
import { Rng } from "../../core/rng.js";
import { initEngine } from "../../engine/backend.js";
import { readCard } from "../../models/bundle.js";
import { runCli } from "../main.js";

const tmp = mkdtempSync(join(tmpdir(), "rl-cli-onnx-"));
const bundle = join(tmp, "bundle");
const pngs: string[] = [];

async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const code = await runCli(args, { stdout: (t) => (out += t), stderr: (t) => (err += t), isTTY: false });
  return { code, out, err };
}

before(async () => {
  await initEngine({ backend: "wasm" });
  await writeTestBundle(bundle, 4);
  const rng = new Rng(9);
  for (let k = 0; k < 3; k++) {
    const png = new PNG({ width: 40, height: 36 });
    for (let i = 0; i < png.data.length; i++) png.data[i] = i % 4 === 3 ? 255 : rng.int(0, 255);
    const p = join(tmp, `img${k}.png`);
    writeFileSync(p, PNG.sync.write(png));
    pngs.push(p);
  }
});
after(() => {
  rmSync(tmp, { recursive: true, force: true });
});

describe("radiolens export / predict --runtime / import", () => {
  it("export --format onnx writes model.onnx and records it in the card", async () => {
    const r = await cli(["export", "--model", bundle, "--format", "onnx"]);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /wrote .*model\.onnx/);
    assert.equal(readCard(bundle).files.onnx, "model.onnx");
  });

  it("predict gives the same probabilities on ONNX Runtime (default) and tfjs", async () => {
    const a = await cli(["predict", "--model", bundle, "--json", ...pngs]);
    const b = await cli(["predict", "--model", bundle, "--json", "--runtime", "tfjs", ...pngs]);
    assert.equal(a.code, 0, a.err);
    assert.equal(b.code, 0, b.err);
    const pa = JSON.parse(a.out).predictions as { probabilities: Record<string, number>; label: string }[];
    const pb = JSON.parse(b.out).predictions as { probabilities: Record<string, number>; label: string }[];
    assert.equal(pa.length, 3);
    pa.forEach((p, i) => {
      assert.equal(p.label, pb[i]?.label);
      for (const [k, v] of Object.entries(p.probabilities)) {
        assert.ok(Math.abs(v - (pb[i]?.probabilities[k] as number)) <= 1e-5);
      }
    });
  });

  it("--runtime with another value is a usage error", async () => {
    const r = await cli(["predict", "--model", bundle, "--runtime", "tensorrt", pngs[0] as string]);
    assert.equal(r.code, 2);
    assert.match(
      r.err,
      /RL_ERR_OPTION_INVALID: --runtime 'tensorrt' is not accepted: expected one of tfjs, onnx/,
    );
  });

  it("import refuses a malformed ONNX file and a card that is not JSON, naming them", async () => {
    const bad = join(tmp, "bad.onnx");
    writeFileSync(bad, "definitely not protobuf");
    const card = join(tmp, "card.json");
    writeFileSync(
      card,
      JSON.stringify({
        name: "x",
        task: "binary",
        labels: ["a", "b"],
        input: { layout: "NCHW", shape: [28, 28, 1] },
        output: { activation: "softmax", logits: true },
      }),
    );
    const r1 = await cli(["import", "--onnx", bad, "--card", card, "--out", join(tmp, "o1")]);
    assert.equal(r1.code, 3);
    assert.match(r1.err, /RL_ERR_ONNX_INVALID|not a usable ONNX model/);
    const notJson = join(tmp, "card.txt");
    writeFileSync(notJson, "{ labels: ");
    const r2 = await cli([
      "import",
      "--onnx",
      join(bundle, "model.onnx"),
      "--card",
      notJson,
      "--out",
      join(tmp, "o2"),
    ]);
    assert.equal(r2.code, 2);
    assert.match(r2.err, /card\.txt is invalid: not JSON/);
  });

  it("import of our own export with an NCHW card is refused: the model is NHWC", async () => {
    const card = join(tmp, "card-nchw.json");
    writeFileSync(
      card,
      JSON.stringify({
        name: "x",
        task: "binary",
        labels: ["a", "b"],
        input: { layout: "NCHW", shape: [28, 28, 1] },
        output: { activation: "softmax", logits: false },
      }),
    );
    const r = await cli([
      "import",
      "--onnx",
      join(bundle, "model.onnx"),
      "--card",
      card,
      "--out",
      join(tmp, "o3"),
    ]);
    assert.equal(r.code, 3);
    assert.match(r.err, /input size.*NHWC layout; the card says NCHW/);
  });
});
