/** Memory stays bounded while streaming a generated folder of 20,000 PNGs (measured in a child process). */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { PNG } from "pngjs";
import { Rng } from "../core/rng.js";

const SIDE = 64;
const COUNT = 20_000;

/** Child role: stream the folder once, report RSS before and at its peak. `RL_STREAM_RETAIN=1` keeps every batch. */
async function child(root: string): Promise<void> {
  const { folderSource } = await import("./files.js");
  const { DataLoader } = await import("./loader.js");
  const src = folderSource(root);
  const loader = new DataLoader(src, { batchSize: 64, seed: 1, prefetch: 2 });
  const kept: unknown[] = [];
  // The baseline is taken after a warm-up of 20 batches (JIT, heap sizing, buffer pools); a loader that holds on
  // to what it read grows linearly after it, one that streams stays flat.
  let base = 0;
  let peak = 0;
  let items = 0;
  let batches = 0;
  for await (const b of loader.epoch()) {
    items += b.indices.length;
    if (process.env["RL_STREAM_RETAIN"] === "1") kept.push(b);
    const rss = process.memoryUsage().rss;
    if (++batches === 20) base = rss;
    peak = Math.max(peak, rss);
  }
  process.stdout.write(`${JSON.stringify({ items, base, peak, kept: kept.length })}\n`);
}

if (process.env["RL_STREAM_CHILD"]) {
  await child(process.env["RL_STREAM_CHILD"]);
} else {
  test(`streaming ${COUNT} ${SIDE}×${SIDE} PNGs holds memory flat (${((COUNT * SIDE * SIDE * 4) / 2 ** 20).toFixed(0)} MiB as float32)`, () => {
    const root = mkdtempSync(join(tmpdir(), "rl-stream-"));
    try {
      const rng = new Rng(1);
      const variants = Array.from({ length: 8 }, () => {
        const p = new PNG({ width: SIDE, height: SIDE, colorType: 0, inputColorType: 0, bitDepth: 8 });
        p.data = Buffer.from(Array.from({ length: SIDE * SIDE }, () => rng.int(0, 255)));
        return PNG.sync.write(p, { colorType: 0, inputColorType: 0 });
      });
      for (const c of ["a", "b"]) mkdirSync(join(root, c));
      for (let i = 0; i < COUNT; i++) {
        writeFileSync(
          join(root, i % 2 ? "b" : "a", `${String(i).padStart(6, "0")}.png`),
          variants[i % 8] as Buffer,
        );
      }
      const run = (retain: boolean) => {
        const r = spawnSync(process.execPath, ["--import", "tsx", fileURLToPath(import.meta.url)], {
          env: { ...process.env, RL_STREAM_CHILD: root, RL_STREAM_RETAIN: retain ? "1" : "0" },
          encoding: "utf8",
        });
        assert.equal(r.status, 0, r.stderr);
        return JSON.parse(r.stdout.trim().split("\n").pop() as string) as {
          items: number;
          base: number;
          peak: number;
        };
      };
      const mb = (b: number) => b / 2 ** 20;
      const streamed = run(false);
      assert.equal(streamed.items, COUNT);
      const growth = mb(streamed.peak - streamed.base);
      // Decoded as float32 the dataset is 312 MiB; a loader that kept its batches would grow by ~290 MiB after warm-up.
      assert.ok(growth < 80, `RSS grew by ${growth.toFixed(1)} MiB while streaming`);
      if (process.env["RL_STREAM_SHOW_RETAIN"] === "1") {
        const retained = run(true);
        process.stderr.write(
          `streamed +${growth.toFixed(1)} MiB; retaining +${mb(retained.peak - retained.base).toFixed(1)} MiB\n`,
        );
      }
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
}
