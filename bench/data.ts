/** Data layer benchmark: stratified group k-fold vs scikit-learn, and folder streaming (RSS, images/s) vs PyTorch. */
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PNG } from "pngjs";
import { Rng } from "../src/core/rng.js";
import { DataLoader, folderSource, kFold, type SplitInput } from "../src/data/index.js";
import { initEngine, tf } from "../src/engine/backend.js";
import { REPO_ROOT } from "../test/support/shared-data.js";

const PY = "/usr/bin/python3";
const PEER = join(REPO_ROOT, "bench", "data_peer.py");
const N_IMAGES = Number(process.env["RL_BENCH_IMAGES"] ?? 100_000);

/** Worst deviation of a fold's class share from the whole, and the spread of fold sizes (max/min). */
function quality(folds: readonly (readonly number[])[], labels: readonly number[], classes: number) {
  const overall = new Array<number>(classes).fill(0);
  for (const y of labels) overall[y] = (overall[y] as number) + 1 / labels.length;
  let worst = 0;
  for (const f of folds) {
    const c = new Array<number>(classes).fill(0);
    for (const i of f) c[labels[i] as number] = (c[labels[i] as number] as number) + 1 / f.length;
    for (let k = 0; k < classes; k++)
      worst = Math.max(worst, Math.abs((c[k] as number) - (overall[k] as number)));
  }
  const sizes = folds.map((f) => f.length);
  return { worstShareDeviation: worst, sizeRatio: Math.max(...sizes) / Math.min(...sizes) };
}

async function benchSplits(work: string): Promise<void> {
  // 100,000 images of 25,000 patients (1–7 each), patient-level labels 60/30/10 %.
  const rng = new Rng(1);
  const labels: number[] = [];
  const groups: number[] = [];
  for (let p = 0; p < 25_000; p++) {
    const u = rng.float();
    const y = u < 0.6 ? 0 : u < 0.9 ? 1 : 2;
    for (let j = rng.int(1, 7); j > 0; j--) {
      labels.push(y);
      groups.push(p);
    }
  }
  const input: SplitInput = {
    size: labels.length,
    numClasses: 3,
    label: (i) => labels[i] as number,
    group: (i) => String(groups[i]),
  };
  const t0 = performance.now();
  const ours = kFold(input, { k: 5, seed: 1 });
  const tOurs = (performance.now() - t0) / 1000;
  const file = join(work, "cohort.json");
  writeFileSync(file, JSON.stringify({ labels, groups }));
  const peer = JSON.parse(
    execFileSync(PY, [PEER, "splits", file], { encoding: "utf8", maxBuffer: 1 << 28 }),
  ) as {
    seconds: number;
    val: number[][];
  };
  const q1 = quality(
    ours.map((f) => f.val),
    labels,
    3,
  );
  const q2 = quality(peer.val, labels, 3);
  console.log(`stratified group 5-fold, ${labels.length} items / 25000 patients`);
  console.log(
    `  RadioLens  ${tOurs.toFixed(2)} s  worst class-share deviation ${q1.worstShareDeviation.toFixed(4)}  fold size max/min ${q1.sizeRatio.toFixed(3)}`,
  );
  console.log(
    `  sklearn    ${peer.seconds.toFixed(2)} s  worst class-share deviation ${q2.worstShareDeviation.toFixed(4)}  fold size max/min ${q2.sizeRatio.toFixed(3)}`,
  );
  console.log(`  time ratio RadioLens/sklearn ${(tOurs / peer.seconds).toFixed(2)}`);
}

async function benchStream(work: string): Promise<void> {
  const root = join(work, "folder");
  const rng = new Rng(2);
  const variants = Array.from({ length: 16 }, () => {
    const p = new PNG({ width: 28, height: 28, colorType: 0, inputColorType: 0, bitDepth: 8 });
    p.data = Buffer.from(Array.from({ length: 784 }, () => rng.int(0, 255)));
    return PNG.sync.write(p, { colorType: 0, inputColorType: 0 });
  });
  for (const c of ["a", "b"]) mkdirSync(join(root, c), { recursive: true });
  for (let i = 0; i < N_IMAGES; i++) {
    writeFileSync(
      join(root, i % 2 ? "b" : "a", `${String(i).padStart(7, "0")}.png`),
      variants[i % 16] as Buffer,
    );
  }
  await initEngine({ backend: "wasm" });
  const loader = new DataLoader(folderSource(root), { batchSize: 128, seed: 1, prefetch: 2 });
  const t0 = performance.now();
  let n = 0;
  let peak = 0;
  for await (const b of loader.epoch()) {
    // What a trainer does with a batch: make tensors in a tidy scope and let them go.
    tf.tidy(() => tf.sum(tf.tensor(b.x, [...b.xShape])).dataSync());
    n += b.indices.length;
    peak = Math.max(peak, process.memoryUsage().rss);
  }
  const tOurs = (performance.now() - t0) / 1000;
  const peer = JSON.parse(execFileSync(PY, [PEER, "stream", root], { encoding: "utf8" })) as {
    seconds: number;
    items: number;
    maxrss_mb: number;
  };
  console.log(`streaming a folder of ${n} 28×28 PNGs, batch 128, one epoch`);
  console.log(`  RadioLens  ${(n / tOurs).toFixed(0)} images/s  peak RSS ${(peak / 2 ** 20).toFixed(0)} MiB`);
  console.log(
    `  PyTorch    ${(peer.items / peer.seconds).toFixed(0)} images/s  peak RSS ${peer.maxrss_mb.toFixed(0)} MiB`,
  );
  console.log(`  throughput ratio RadioLens/PyTorch ${(peer.seconds / tOurs).toFixed(2)}`);
}

const work = mkdtempSync(join(tmpdir(), "rl-bench-data-"));
try {
  await benchSplits(work);
  await benchStream(work);
} finally {
  rmSync(work, { recursive: true, force: true });
}
