/** End-to-end CLI tests on real data: train → evaluate → predict, and one clear line for every kind of bad input. */
import assert from "node:assert/strict";
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { zipSync } from "fflate";
import { sharedData } from "../../test/support/shared-data.js";
import { initEngine, tf } from "../engine/backend.js";
import { runCli } from "./main.js";

const NPZ = sharedData("medmnist/pneumoniamnist.npz");

async function cli(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const code = await runCli(argv, { stdout: (t) => (out += t), stderr: (t) => (err += t), isTTY: false });
  return { code, out, err };
}

const work = mkdtempSync(join(tmpdir(), "rl-cli-"));

/** `radiolens train` on PneumoniaMNIST: one epoch on a seeded subset. */
function trainArgs(out: string, seed: number, limit: number, ...extra: string[]): string[] {
  return [
    "train",
    "--data",
    NPZ,
    "--model",
    "seed-cnn",
    "--epochs",
    "1",
    "--batch-size",
    "32",
    "--seed",
    String(seed),
    "--limit",
    String(limit),
    "--out",
    out,
    ...extra,
  ];
}

/** The headline keys the JSON must carry at its top level (the list, spelled out on purpose). */
const HEADLINE =
  "accuracy balanced_accuracy precision recall specificity npv f1 mcc kappa auc average_precision log_loss brier ece".split(
    " ",
  );
const bundle = join(work, "m");

test("train → evaluate --json → predict on a real chest X-ray JPEG", async () => {
  await initEngine({ backend: "wasm" });
  const before = tf.memory().numTensors;
  const t = await cli(trainArgs(bundle, 1, 1024, "--backend", "wasm"));
  assert.equal(t.code, 0, t.err);
  assert.match(t.err, /epoch 1\/1/);
  for (const f of ["model.json", "weights.bin", "radiolens.json", "metrics.json"])
    assert.ok(existsSync(join(bundle, f)), f);
  const card = JSON.parse(readFileSync(join(bundle, "radiolens.json"), "utf8"));
  assert.deepEqual(card.labels, ["normal", "pneumonia"]);
  assert.deepEqual(card.input.shape, [28, 28, 1]);

  const e = await cli([
    "evaluate",
    "--model",
    bundle,
    "--data",
    NPZ,
    "--split",
    "test",
    "--json",
    "--bootstrap",
    "50",
  ]);
  assert.equal(e.code, 0, e.err);
  const m = JSON.parse(e.out);
  for (const k of HEADLINE) {
    // A metric undefined on this data (e.g. NPV with no negative prediction) is null, never a made-up number.
    assert.ok(k in m && (typeof m[k] === "number" || m[k] === null), k);
  }
  assert.equal(typeof m.accuracy, "number");
  assert.equal(typeof m.auc, "number");
  assert.equal(m.n_samples, 624);
  // Even one epoch on 640 images separates the classes well above chance.
  assert.ok(m.auc > 0.8, `auc ${m.auc}`);

  // These adult COVID-19 radiographs come from another source than the pediatric PneumoniaMNIST images, so the
  // OOD detector may hold some back: each is analysed or "not analysed" with the reason, exit 3 if any is not.
  const xrays = [sharedData("xray/COVID-00001.jpg"), sharedData("xray/COVID-00045.png")];
  const gated = await cli(["predict", "--model", bundle, "--json", ...xrays]);
  const gatedPreds = JSON.parse(gated.out).predictions as {
    analysed: boolean;
    code?: string;
    reason?: string;
  }[];
  assert.equal(gatedPreds.length, 2);
  for (const g of gatedPreds)
    if (!g.analysed) {
      assert.equal(g.code, "RL_ERR_OUT_OF_DISTRIBUTION");
      assert.match(g.reason ?? "", /unlike this model's training data/);
    }
  assert.equal(gated.code, gatedPreds.every((g) => g.analysed) ? 0 : 3);
  const p = await cli(["predict", "--model", bundle, "--json", "--force", ...xrays]);
  assert.equal(p.code, 0, p.err);
  const preds = JSON.parse(p.out).predictions;
  assert.equal(preds.length, 2);
  for (const pr of preds) {
    const probs = Object.values(pr.probabilities) as number[];
    assert.equal(probs.length, 2);
    assert.ok(Math.abs(probs.reduce((a, b) => a + b, 0) - 1) < 1e-5);
    assert.ok(["normal", "pneumonia"].includes(pr.label));
  }
  assert.equal(tf.memory().numTensors, before);
});

test("the same train command twice with the same seed writes byte-identical weights (default backend)", async () => {
  const args = (out: string) => trainArgs(out, 7, 256);
  const a = join(work, "det-a");
  const b = join(work, "det-b");
  assert.equal((await cli(args(a))).code, 0);
  assert.equal((await cli(args(b))).code, 0);
  assert.ok(readFileSync(join(a, "weights.bin")).equals(readFileSync(join(b, "weights.bin"))));
  assert.equal(readFileSync(join(a, "model.json"), "utf8"), readFileSync(join(b, "model.json"), "utf8"));
});

function assertOneLine(r: { code: number; out: string; err: string }, pattern: RegExp): void {
  assert.notEqual(r.code, 0);
  const lines = r.err.trim().split("\n");
  assert.equal(lines.length, 1, `expected one line, got:\n${r.err}`);
  assert.match(lines[0] as string, /^error: RL_ERR_[A-Z_]+: /);
  assert.match(lines[0] as string, pattern);
  assert.doesNotMatch(r.err, /\n\s+at /);
}

test("bad input: one clear line, exit ≠ 0, no stack trace, nothing written to --out", async () => {
  const dir = mkdtempSync(join(tmpdir(), "rl-bad-"));
  const notNpz = join(dir, "x.npz");
  writeFileSync(notNpz, "this is not a zip file");
  const noKeys = join(dir, "nokeys.npz");
  writeFileSync(
    noKeys,
    zipSync({ "other.npy": new Uint8Array([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, 0, 0]) }),
  );
  const cases: [string, string[], RegExp][] = [
    ["missing file", [join(dir, "missing.npz")], /RL_ERR_FILE_NOT_FOUND: File not found/],
    ["not an npz", [notNpz], /RL_ERR_NPZ_INVALID/],
    ["npz without keys", [noKeys], /RL_ERR_NPZ_MISSING_KEY: .*train_images/],
  ];
  for (const [name, data, pattern] of cases) {
    const out = join(dir, `out-${name.replace(/ /g, "-")}`);
    const r = await cli([
      "train",
      "--data",
      data[0] as string,
      "--model",
      "seed-cnn",
      "--epochs",
      "1",
      "--out",
      out,
    ]);
    assertOneLine(r, pattern);
    assert.ok(!existsSync(out) || readdirSync(out).length === 0, `${name}: ${out} was written`);
  }
  assertOneLine(
    await cli(["train", "--data", NPZ, "--model", "no-such-net", "--epochs", "1", "--out", join(dir, "o")]),
    /RL_ERR_UNKNOWN_MODEL.*seed-cnn/,
  );

  const corrupt = join(dir, "corrupt.jpg");
  writeFileSync(corrupt, readFileSync(sharedData("xray/COVID-00003b.jpg")).subarray(0, 600));
  assertOneLine(await cli(["predict", "--model", bundle, corrupt]), /RL_ERR_IMAGE_DECODE/);

  const broken = join(dir, "broken");
  rmSync(broken, { recursive: true, force: true });
  copyDir(bundle, broken);
  rmSync(join(broken, "weights.bin"));
  assertOneLine(
    await cli(["predict", "--model", broken, sharedData("xray/COVID-00001.jpg")]),
    /RL_ERR_MODEL_INVALID: .*weights\.bin is missing/,
  );
  assertOneLine(
    await cli(["evaluate", "--model", join(dir, "nowhere"), "--data", NPZ]),
    /RL_ERR_MODEL_NOT_FOUND/,
  );

  const verbose = await cli(["predict", "--model", broken, sharedData("xray/COVID-00001.jpg"), "--verbose"]);
  assert.match(verbose.err, /\n\s+at /);
});

function copyDir(src: string, dst: string): void {
  mkdirSync(dst, { recursive: true });
  for (const f of readdirSync(src)) if (f.includes(".")) copyFileSync(join(src, f), join(dst, f));
}

test("--help on every command and --version", async () => {
  const { COMMAND_ENTRIES, loadCommands } = await import("./commands/index.js");
  const commands = await loadCommands();
  assert.equal(commands.length, COMMAND_ENTRIES.length);
  for (const [i, e] of COMMAND_ENTRIES.entries()) {
    const r = await cli([...e.name.split(" "), "--help"]);
    assert.equal(r.code, 0, e.name);
    assert.match(r.out, new RegExp(`Usage: radiolens ${e.name}\\b`), e.name);
    assert.equal(r.out.trim(), commands[i]?.help.trim(), e.name);
  }
  const overview = await cli(["--help"]);
  for (const e of COMMAND_ENTRIES)
    assert.ok(overview.out.includes(`${e.name}`) && overview.out.includes(e.summary));
  const v = await cli(["--version"]);
  assert.match(v.out, /^\d+\.\d+\.\d+/);
});
