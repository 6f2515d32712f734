/** Crash safety of a 3D step-budget recipe: `radiolens train --config` killed with SIGKILL mid-period, then `--resume`, ends with the weights of an uninterrupted run. */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { zipSync } from "fflate";
import { REPO_ROOT } from "../../test/support/shared-data.js";
import { Rng } from "../core/rng.js";

/** A NumPy .npy (format 1.0) of uint8 values. */
function npyU8(data: Uint8Array, shape: readonly number[]): Uint8Array {
  let header = `{'descr': '|u1', 'fortran_order': False, 'shape': (${shape.join(", ")}), }`;
  header += " ".repeat(63 - ((10 + header.length) % 64)) + "\n";
  const out = new Uint8Array(10 + header.length + data.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, header.length & 0xff, header.length >> 8]);
  out.set(new TextEncoder().encode(header), 10);
  out.set(data, 10 + header.length);
  return out;
}

/** A 3D MedMNIST-style file of 8³ noise volumes; class 1 carries a bright 3³ cube at a random place. */
function makeVolumes(path: string): void {
  const rng = new Rng(11);
  const files: Record<string, Uint8Array> = {};
  for (const [split, n] of [
    ["train", 24],
    ["val", 8],
    ["test", 8],
  ] as const) {
    const x = new Uint8Array(n * 512);
    const y = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      for (let v = 0; v < 512; v++) x[i * 512 + v] = rng.int(0, 80);
      y[i] = i % 2;
      if (y[i] === 1) {
        const [a, b, c] = [rng.int(0, 5), rng.int(0, 5), rng.int(0, 5)];
        for (let d = a; d < a + 3; d++)
          for (let r = b; r < b + 3; r++)
            for (let q = c; q < c + 3; q++) x[i * 512 + d * 64 + r * 8 + q] = 220;
      }
    }
    files[`${split}_images.npy`] = npyU8(x, [n, 8, 8, 8]);
    files[`${split}_labels.npy`] = npyU8(y, [n, 1]);
  }
  writeFileSync(path, zipSync(files));
}

function radiolens(args: string[]): ChildProcess {
  const code = `const { runCli } = await import("./src/cli/main.ts"); process.exitCode = await runCli(${JSON.stringify(args)});`;
  return spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", code], {
    cwd: REPO_ROOT,
    stdio: "ignore",
    env: { ...process.env, RADIOLENS_THREADS: "2" },
  });
}

function exited(p: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((resolve) => p.on("exit", (code, signal) => resolve({ code, signal })));
}

function checkpointStep(out: string): number {
  try {
    return (
      JSON.parse(readFileSync(join(out, "checkpoints", "last", "state.json"), "utf8")) as {
        state: { step: number };
      }
    ).state.step;
  } catch {
    return 0;
  }
}

test("3D recipe: SIGKILL mid-period, then --resume: weights byte-identical to an uninterrupted run", async () => {
  const dir = mkdtempSync(join(tmpdir(), "rl-kill3d-"));
  // A small ACS ResNet-18 on 24 generated 8³ volumes: 6 steps per epoch of 4, a 16-step budget in periods of 4
  // (so periods cross epochs), augmentation, class weights, label smoothing and val-AUC selection, all resumed.
  const data = join(dir, "cubesmnist3d.npz");
  makeVolumes(data);
  const config = join(dir, "recipe.yaml");
  writeFileSync(
    config,
    [
      "model: resnet18-acs",
      "width: 4",
      "batchSize: 4",
      "steps: 16",
      "evalEverySteps: 4",
      "seed: 3",
      "learningRate: 0.002",
      "warmupSteps: 2",
      "schedule: { kind: cosine }",
      "selectBest: val_auc",
      "earlyStopping: { monitor: val_auc, patience: 10 }",
      "augment: { flip: true, maxShift: 2 }",
      "classWeighting: sqrt",
      "labelSmoothing: 0.05",
      "checkpointEverySteps: 1",
      `out: ${join(dir, "{dataset}")}`,
      "",
    ].join("\n"),
  );
  const args = (out: string) => ["train", "--config", config, "--data", data, "--out", out];
  const full = join(dir, "full");
  assert.equal((await exited(radiolens(args(full)))).code, 0);
  const card = JSON.parse(readFileSync(join(full, "radiolens.json"), "utf8")) as {
    input: { shape: number[] };
    training: { steps: number };
  };
  assert.deepEqual(card.input.shape, [8, 8, 8, 1]);
  assert.equal(card.training.steps, 16);

  const killed = join(dir, "killed");
  const p = radiolens(args(killed));
  const done = exited(p);
  const deadline = Date.now() + 300_000;
  while (checkpointStep(killed) < 6 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  p.kill("SIGKILL");
  const r = await done;
  assert.equal(r.signal, "SIGKILL", "the run finished before it could be killed");
  const at = checkpointStep(killed);
  assert.ok(at >= 6 && at < 16, `killed with its last checkpoint at step ${at}`);
  assert.ok(!existsSync(join(killed, "radiolens.json")), "a killed run must not leave a model card");

  assert.equal((await exited(radiolens([...args(killed), "--resume"]))).code, 0);
  assert.ok(readFileSync(join(full, "weights.bin")).equals(readFileSync(join(killed, "weights.bin"))));
});
