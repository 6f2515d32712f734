/** Crash safety: `radiolens train` killed with SIGKILL mid-epoch, then `--resume`, ends with the weights of an uninterrupted run. */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { REPO_ROOT, sharedData } from "../../test/support/shared-data.js";

function radiolens(args: string[]): ChildProcess {
  const code = `const { runCli } = await import("./src/cli/main.ts"); process.exitCode = await runCli(${JSON.stringify(args)});`;
  return spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", code], {
    cwd: REPO_ROOT,
    stdio: "ignore",
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

test("SIGKILL during an epoch, then --resume: weights byte-identical to an uninterrupted run", async () => {
  const dir = mkdtempSync(join(tmpdir(), "rl-kill-"));
  // 512 samples / 32 = 16 steps per epoch, 3 epochs = 48 steps; a checkpoint every 4 steps.
  const args = (out: string) => [
    "train",
    "--data",
    sharedData("medmnist/pneumoniamnist.npz"),
    "--model",
    "seed-cnn",
    "--epochs",
    "3",
    "--batch-size",
    "32",
    "--seed",
    "5",
    "--limit",
    "512",
    "--checkpoint-every",
    "4",
    "--backend",
    "wasm",
    "--out",
    out,
  ];
  const full = join(dir, "full");
  assert.equal((await exited(radiolens(args(full)))).code, 0);

  const killed = join(dir, "killed");
  const p = radiolens(args(killed));
  const done = exited(p);
  const deadline = Date.now() + 300_000;
  while (checkpointStep(killed) < 20 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  p.kill("SIGKILL");
  const r = await done;
  assert.equal(r.signal, "SIGKILL", "the run finished before it could be killed");
  const at = checkpointStep(killed);
  assert.ok(at >= 20 && at < 48, `killed with its last checkpoint at step ${at}`);
  assert.ok(!existsSync(join(killed, "radiolens.json")), "a killed run must not leave a model card");

  assert.equal((await exited(radiolens([...args(killed), "--resume"]))).code, 0);
  assert.ok(readFileSync(join(full, "weights.bin")).equals(readFileSync(join(killed, "weights.bin"))));
});
