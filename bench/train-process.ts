/**
 * Whole-process training benchmark: times the entire `radiolens train` process (start, data loading, training, a
 * validation pass per epoch, checkpoints, bundle) against a whole PyTorch script doing the same
 * (bench/train_process_torch.py), on the same MedMNIST file, epochs and batch size.
 *
 * Usage: npm run bench:train-process [-- --models seed-cnn,resnet18-28 --threads 1,2 --rounds 3 --data FILE]
 *
 * Each round runs every (side, thread count) once, alternating which side goes first; a side's time for the round is
 * its best over the thread counts. The table prints the median seconds per side, the median ratio (PyTorch seconds /
 * RadioLens seconds, > 1 = RadioLens faster) and the range of the per-round ratios, and the same ratio for the CPU
 * seconds (user + system) of the one-thread runs, which a machine shared with other work disturbs least. Runs
 * `bin/radiolens.js`, i.e. dist/ as built by `npm run build`.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { availableParallelism, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { loadNativeAddon } from "../src/engine/native/index.js";

const { values } = parseArgs({
  options: {
    models: { type: "string" },
    threads: { type: "string" },
    rounds: { type: "string" },
    data: { type: "string" },
  },
});

/** The runs the issue's "Done when" names: the tutorial CNN for 10 epochs at batch 32, ResNet-18 (28) for 1 at 64. */
const RUNS: Record<string, { epochs: number; batch: number }> = {
  "seed-cnn": { epochs: 10, batch: 32 },
  "resnet18-28": { epochs: 1, batch: 64 },
};

const root = join(import.meta.dirname, "..");
const data = values.data ?? join(root, "..", "shared", "data", "medmnist", "pneumoniamnist.npz");
const models = (values.models ?? "seed-cnn,resnet18-28").split(",");
const threads = (values.threads ?? [1, Math.min(2, availableParallelism())].join(","))
  .split(",")
  .map(Number)
  .filter((t, i, a) => t > 0 && a.indexOf(t) === i);
const rounds = Number(values.rounds ?? 3);
const python = ["/usr/bin/python3", "python3"].find((p) => spawnSync(p, ["-c", "import torch"]).status === 0);
if (!python) throw new Error("PyTorch is not installed (apt-get install python3-torch)");

/** Wall and CPU (user + system) seconds of one whole process; throws with its output when it fails. */
function timeProcess(cmd: string, args: string[]): { wall: number; cpu: number } {
  const t0 = performance.now();
  // bash's `times` prints the CPU time of the shell's children (the process, with all its threads) on its 2nd line.
  const r = spawnSync("bash", ["-c", '"$@" >/dev/null && times', "bash", cmd, ...args], {
    cwd: root,
    encoding: "utf8",
    env: process.env,
  });
  const wall = (performance.now() - t0) / 1000;
  if (r.status !== 0)
    throw new Error(`${cmd} ${args.join(" ")} failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
  const secs = (v: string) => {
    const m = /^(\d+)m([\d.]+)s$/.exec(v);
    return m ? Number(m[1]) * 60 + Number(m[2]) : Number.NaN;
  };
  const [user = "", sys = ""] = (r.stdout.trim().split("\n")[1] ?? "").trim().split(/\s+/);
  return { wall, cpu: secs(user) + secs(sys) };
}

/** The flags both peers take: the same data, model, epochs, batch size and thread count. */
function sharedFlags(model: string, t: number): string[] {
  const { epochs, batch } = RUNS[model] as { epochs: number; batch: number };
  return [
    "--data",
    data,
    "--model",
    model,
    "--epochs",
    String(epochs),
    "--batch-size",
    String(batch),
    "--threads",
    String(t),
  ];
}

/** Times `command` with an output folder of its own, removed afterwards. */
function timeWithOutDir(
  prefix: string,
  command: string,
  args: (out: string) => string[],
): { wall: number; cpu: number } {
  const out = mkdtempSync(join(tmpdir(), prefix));
  try {
    return timeProcess(command, args(out));
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

function radiolens(model: string, t: number): { wall: number; cpu: number } {
  return timeWithOutDir("rl-train-", process.execPath, (out) => [
    join(root, "bin", "radiolens.js"),
    "train",
    ...sharedFlags(model, t),
    "--seed",
    "1",
    "--out",
    join(out, "run"),
  ]);
}

function pytorch(model: string, t: number): { wall: number; cpu: number } {
  return timeWithOutDir("pt-train-", python as string, (out) => [
    join(root, "bench", "train_process_torch.py"),
    ...sharedFlags(model, t),
    "--out",
    out,
  ]);
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};

const isa = loadNativeAddon()?.info().isa ?? "no native engine";
console.log(
  `isa ${isa}${process.env["ONEDNN_MAX_CPU_ISA"] ? ` (ONEDNN_MAX_CPU_ISA=${process.env["ONEDNN_MAX_CPU_ISA"]})` : ""}, ` +
    `${availableParallelism()} cores, threads ${threads.join(",")}, ${rounds} rounds, load ${loadavg()[0]?.toFixed(1)}`,
);
console.log(
  "| run | RadioLens s (median) | PyTorch s (median) | ratio (median) | rounds | CPU-time ratio (median) | rounds |",
);
console.log("|---|---:|---:|---:|---|---:|---|");
const range = (xs: number[]) => `${Math.min(...xs).toFixed(2)}–${Math.max(...xs).toFixed(2)}`;
for (const model of models) {
  if (!RUNS[model]) throw new Error(`unknown model ${model} (use ${Object.keys(RUNS).join(", ")})`);
  const ours: number[] = [];
  const theirs: number[] = [];
  const ratios: number[] = [];
  const cpuRatios: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const o: { wall: number; cpu: number }[] = [];
    const p: { wall: number; cpu: number }[] = [];
    for (const t of threads) {
      // Alternate which side runs first, so a slow spell of a shared machine does not always hit the same side.
      if ((r + threads.indexOf(t)) % 2 === 0) {
        p.push(pytorch(model, t));
        o.push(radiolens(model, t));
      } else {
        o.push(radiolens(model, t));
        p.push(pytorch(model, t));
      }
    }
    const best = (xs: { wall: number; cpu: number }[]) => Math.min(...xs.map((x) => x.wall));
    ours.push(best(o));
    theirs.push(best(p));
    ratios.push(best(p) / best(o));
    // CPU seconds at one thread: what the run costs, least disturbed by other processes on a shared machine.
    cpuRatios.push((p[0] as { cpu: number }).cpu / (o[0] as { cpu: number }).cpu);
    const fmt = (xs: { wall: number; cpu: number }[]) =>
      xs.map((x) => `${x.wall.toFixed(1)} (cpu ${x.cpu.toFixed(1)})`).join(" / ");
    console.error(
      `  ${model} round ${r + 1}: radiolens ${fmt(o)} s, pytorch ${fmt(p)} s (threads ${threads.join("/")}), ` +
        `load ${loadavg()[0]?.toFixed(1)}`,
    );
  }
  const { epochs, batch } = RUNS[model] as { epochs: number; batch: number };
  console.log(
    `| ${model} ${epochs} ep b${batch} | ${median(ours).toFixed(1)} | ${median(theirs).toFixed(1)} | ` +
      `${median(ratios).toFixed(2)}× | ${range(ratios)} | ${median(cpuRatios).toFixed(2)}× | ${range(cpuRatios)} |`,
  );
}
