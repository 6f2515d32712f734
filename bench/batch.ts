/**
 * Batch-inference benchmark: N generated 28×28 PNG files scored by `radiolens batch work` on PostgreSQL (pg-boss)
 * with 1 and with 2 worker processes (1 ONNX Runtime thread each), against a plain ONNX Runtime loop over the same
 * files (read, decode, preprocess, predict in micro-batches of the same size, 1 thread) in a process of its own.
 *
 * Usage: npm run bench:batch [-- --n 20000 --rounds 3 --batch-size 128]
 *
 * Every side is timed as a whole process (start, model load, all N images, exit), so the queue's overhead (pg-boss
 * start, claims, one commit per claim, the idle check at the end) is inside the batch figures; and over its
 * scoring window (from before the model opens, or the first claim, to the last prediction or commit), after every
 * process of the side has loaded its modules and they start together. Each round runs the three sides in a
 * rotated order, each batch side on a fresh database with the run submitted beforehand (submission is not timed).
 * Prints images/s per side (median and range), the per-round ratios the acceptance criteria name (2 workers /
 * 1 worker and 1 worker / plain loop), and per input: the CPU of the processes (whole, and over the scoring
 * window), PostgreSQL's CPU, and where the processes' time went (claim wait, read and decode, model, commit wait).
 * The PostgreSQL cluster is a throwaway one (test/support/postgres.ts) with fsync on, as in production.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { PNG } from "pngjs";
import { Rng } from "../src/core/rng.js";
import { initEngine } from "../src/engine/backend.js";
import { readImage } from "../src/io/index.js";
import { exportBundleOnnx, openBundle } from "../src/models/onnx/bundle-runtime.js";
import { predictionsOf, preprocessBatch } from "../src/models/predict.js";
import { writeTestBundle } from "../test/support/bundle.js";
import { startPostgresCluster } from "../test/support/postgres.js";

const { values } = parseArgs({
  options: {
    n: { type: "string" },
    rounds: { type: "string" },
    "batch-size": { type: "string" },
    plain: { type: "string" },
    model: { type: "string" },
  },
});
const batchSize = Number(values["batch-size"] ?? 128);
const root = join(import.meta.dirname, "..");

/** The peer: a plain ONNX Runtime loop over the folder's files, as a user would write it without a queue. */
async function plainLoop(dir: string, modelDir: string): Promise<void> {
  const files = readdirSync(dir).sort();
  // The same window as a worker's: from before the model is opened to the last prediction.
  const firstClaimAt = Date.now();
  const cpu0 = process.cpuUsage();
  const m = await openBundle(modelDir, { runtime: "onnx", threads: 1 });
  let n = 0;
  let readDecodeMs = 0;
  let modelMs = 0;
  for (let s = 0; s < files.length; s += batchSize) {
    const t0 = performance.now();
    const images = [];
    for (const f of files.slice(s, s + batchSize)) images.push(await readImage(join(dir, f)));
    const t1 = performance.now();
    const { rows, ood } = await m.predictWithOod(preprocessBatch(m.card, images), images.length);
    n += predictionsOf(m.card, rows, ood).length;
    readDecodeMs += t1 - t0;
    modelMs += performance.now() - t1;
  }
  const lastCommitAt = Date.now();
  const cpu = process.cpuUsage(cpu0);
  await m.close();
  if (n !== files.length) throw new Error(`plain loop scored ${n} of ${files.length}`);
  const stages = { claimWaitMs: 0, readDecodeMs, modelMs, commitWaitMs: 0 };
  process.stdout.write(
    `${JSON.stringify({ scored: n, failed: 0, firstClaimAt, lastCommitAt, stages, windowCpuMs: (cpu.user + cpu.system) / 1000 })}\n`,
  );
}

/**
 * CPU milliseconds (user + system) of the PostgreSQL server whose postmaster is `postmaster`: its own, its live
 * children's (backends, WAL writer, checkpointer, autovacuum) and those of the children it has reaped.
 */
function postgresCpuMs(postmaster: number): number {
  const tick = 10; // USER_HZ is 100 on Linux
  const stat = (pid: string): string[] =>
    readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
  const main = stat(String(postmaster));
  // Fields after the name: utime 11, stime 12, cutime 13, cstime 14 (proc(5), counted from state = 0).
  let sum = (Number(main[11]) + Number(main[12]) + Number(main[13]) + Number(main[14])) * tick;
  for (const pid of readdirSync("/proc")) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const f = stat(pid);
      if (Number(f[1]) === postmaster) sum += (Number(f[11]) + Number(f[12])) * tick;
    } catch {
      // The process ended between the listing and the read (its time is now in the postmaster's cutime).
    }
  }
  return sum;
}

/** Says "ready" and waits for the bench's go on standard input: module loading stays out of the timed window. */
async function startBarrier(): Promise<void> {
  process.stdout.write("ready\n");
  await new Promise((r) => process.stdin.once("data", r));
  process.stdin.destroy();
}

if (values.plain) {
  await startBarrier();
  await plainLoop(values.plain, values.model as string);
  process.stdout.write(`${JSON.stringify({ cpu: process.cpuUsage() })}\n`);
  process.exit(0);
}

const N = Number(values.n ?? 20_000);
const rounds = Number(values.rounds ?? 3);
const work = mkdtempSync(join(tmpdir(), "rl-bench-batch-"));
// fsync on, as a production server has it: each micro-batch's commit waits for its WAL flush.
const cluster = startPostgresCluster(undefined, { fsync: true });
const postmaster = Number(readFileSync(join(cluster.dir, "data", "postmaster.pid"), "utf8").split("\n")[0]);

interface Timing {
  /** Seconds from the spawn of the processes until the last exited. */
  readonly wall: number;
  /** Seconds from the earliest first claim to the latest last commit the processes reported (JSON on stdout). */
  readonly window: number;
  readonly scored: number;
  /** CPU milliseconds of the processes (user + system, as each reported at its end). */
  readonly cpuMs: number;
  /** PostgreSQL's CPU milliseconds while the processes ran. */
  readonly pgCpuMs: number;
  /** The processes' stage times, summed (milliseconds). */
  readonly stages: Record<string, number>;
  /** The processes' standard output. */
  readonly out: string;
}

type Summary = {
  scored: number;
  failed: number;
  firstClaimAt?: number;
  lastCommitAt?: number;
  stages?: Record<string, number>;
  windowCpuMs?: number;
  cpuMs?: number;
};

/** Runs `node --import tsx -e <code>` processes together and times them. */
async function timeProcesses(codes: string[]): Promise<Timing> {
  const pg0 = postgresCpuMs(postmaster);
  const t0 = performance.now();
  // Every process loads its modules, says "ready" and waits; all get the go together.
  let ready = 0;
  const spawned: ChildProcess[] = [];
  const go = (): void => {
    if (++ready === codes.length) for (const c of spawned) c.stdin?.end("go\n");
  };
  const outs = await Promise.all(
    codes.map(
      (code) =>
        new Promise<string>((resolve, reject) => {
          // Each process ends by printing its own CPU time, the cost the ratios are made of.
          const timed = `${code}\nprocess.stdout.write(JSON.stringify({ cpu: process.cpuUsage() }) + "\\n");`;
          const c = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", timed], {
            cwd: root,
            stdio: ["pipe", "pipe", "pipe"],
          });
          spawned.push(c);
          let out = "";
          let err = "";
          c.stdout?.on("data", (b: Buffer) => {
            const was = out.startsWith("ready\n");
            out += b.toString();
            if (!was && out.startsWith("ready\n")) go();
          });
          c.stderr?.on("data", (b: Buffer) => (err += b.toString()));
          c.on("exit", (rc) => (rc === 0 ? resolve(out) : reject(new Error(`exit ${rc}: ${err}`))));
        }),
    ),
  );
  const wall = (performance.now() - t0) / 1000;
  const pgCpuMs = postgresCpuMs(postmaster) - pg0;
  const sums = outs.flatMap((o): Summary[] => {
    const lines = o.trim().split("\n");
    const cpu = JSON.parse(lines.at(-1) ?? "{}") as { cpu?: { user: number; system: number } };
    const line = lines.at(-2) ?? "";
    const cpuMs = cpu.cpu ? (cpu.cpu.user + cpu.cpu.system) / 1000 : 0;
    return line.startsWith("{") ? [{ ...(JSON.parse(line) as Summary), cpuMs }] : [];
  });
  const stages: Record<string, number> = {};
  for (const x of sums)
    for (const [k, v] of Object.entries({ ...x.stages, windowCpuMs: x.windowCpuMs ?? 0 }))
      stages[k] = (stages[k] ?? 0) + v;
  const first = Math.min(...sums.map((x) => x.firstClaimAt ?? Number.POSITIVE_INFINITY));
  const last = Math.max(...sums.map((x) => x.lastCommitAt ?? 0));
  return {
    wall,
    window: (last - first) / 1000,
    scored: sums.reduce((a, x) => a + x.scored + x.failed, 0),
    cpuMs: sums.reduce((a, x) => a + (x.cpuMs ?? 0), 0),
    pgCpuMs,
    stages,
    out: outs.join(""),
  };
}

const cliCode = (args: string[]): string =>
  `const { runCli } = await import("./src/cli/main.ts");
process.stdout.write("ready\\n");
await new Promise((r) => process.stdin.once("data", r));
process.stdin.destroy();
const rc = await runCli(${JSON.stringify(args)});
if (rc) process.exit(rc);`;

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};

try {
  await initEngine({ backend: "wasm" });
  const model = join(work, "model");
  await writeTestBundle(model, 7);
  await exportBundleOnnx(model);
  const dir = join(work, "pngs");
  mkdirSync(dir);
  const rng = new Rng(2026);
  for (let k = 0; k < N; k++) {
    const png = new PNG({ width: 28, height: 28, colorType: 0, inputColorType: 0, bitDepth: 8 });
    const px = new Uint8Array(28 * 28);
    for (let i = 0; i < px.length; i++) px[i] = rng.int(0, 255);
    png.data = Buffer.from(px);
    writeFileSync(
      join(dir, `${String(k).padStart(6, "0")}.png`),
      PNG.sync.write(png, { colorType: 0, inputColorType: 0 }),
    );
  }
  console.log(
    `${N} PNG files, micro-batch ${batchSize}, ${rounds} rounds; load average ${loadavg()
      .map((l) => l.toFixed(2))
      .join(" ")}`,
  );

  let db = 0;
  const batchSide = async (workers: number): Promise<Timing> => {
    const dsn = await cluster.createDatabase(`b${++db}`);
    await timeProcesses([
      cliCode(["batch", "submit", "--model", model, "--input", dir, "--store", dsn, "--name", "bench"]),
    ]);
    const work = [
      "batch",
      "work",
      "--store",
      dsn,
      "--threads",
      "1",
      "--batch-size",
      String(batchSize),
      "--exit-when-idle",
      "--json",
    ];
    return timeProcesses(Array.from({ length: workers }, () => cliCode(work)));
  };
  const sides: Record<string, () => Promise<Timing>> = {
    plain: () =>
      timeProcesses([
        `process.argv.push("--plain", ${JSON.stringify(dir)}, "--model", ${JSON.stringify(model)}, "--batch-size", "${batchSize}"); await import("./bench/batch.ts");`,
      ]),
    "1 worker": () => batchSide(1),
    "2 workers": () => batchSide(2),
  };
  const names = Object.keys(sides);
  const rate: Record<"wall" | "window", Record<string, number[]>> = {
    wall: Object.fromEntries(names.map((n) => [n, []])),
    window: Object.fromEntries(names.map((n) => [n, []])),
  };
  const perInput: Record<string, Record<string, number[]>> = {};
  for (let r = 0; r < rounds; r++) {
    const order = names.map((_, i) => names[(i + r) % names.length] as string);
    for (const name of order) {
      const t = await (sides[name] as () => Promise<Timing>)();
      if (t.scored !== N) throw new Error(`${name} scored ${t.scored} of ${N}: ${t.out.slice(0, 500)}`);
      rate.wall[name]?.push(N / t.wall);
      rate.window[name]?.push(N / t.window);
      for (const [k, v] of Object.entries({
        cpu: t.cpuMs,
        pg: t.pgCpuMs,
        ...t.stages,
      }))
        (perInput[name] ??= {})[k] = [...(perInput[name]?.[k] ?? []), (v * 1000) / N];
      console.log(
        `round ${r + 1} ${name.padEnd(9)} process ${t.wall.toFixed(2)} s (${(N / t.wall).toFixed(0)}/s), scoring window ${t.window.toFixed(2)} s (${(N / t.window).toFixed(0)}/s); µs per input: process CPU ${((t.cpuMs * 1000) / N).toFixed(0)}, PostgreSQL CPU ${((t.pgCpuMs * 1000) / N).toFixed(0)}`,
      );
    }
  }
  const fmt = (xs: number[], d = 0): string =>
    `${median(xs).toFixed(d)} [${Math.min(...xs).toFixed(d)}–${Math.max(...xs).toFixed(d)}]`;
  console.log(
    "\nµs per input, median [range]: CPU of the processes and of PostgreSQL; where the processes' time went",
  );
  for (const n of names) {
    const m = perInput[n] ?? {};
    console.log(
      `  ${n.padEnd(10)} ${Object.entries(m)
        .map(([k, v]) => `${k} ${fmt(v)}`)
        .join(", ")}`,
    );
  }
  for (const kind of ["wall", "window"] as const) {
    console.log(`\nimages/s, ${kind === "wall" ? "whole processes" : "scoring window"}: median [range]`);
    for (const n of names) console.log(`  ${n.padEnd(10)} ${fmt(rate[kind][n] as number[])}`);
    for (const [a, b, want] of [
      ["2 workers", "1 worker", 1.8],
      ["1 worker", "plain", 0.9],
    ] as const) {
      const xs = (rate[kind][a] as number[]).map((x, i) => x / ((rate[kind][b] as number[])[i] as number));
      console.log(`  ${a} / ${b}: ${fmt(xs, 2)}× (criterion ≥ ${want}×)`);
    }
  }
} finally {
  cluster.stop();
  rmSync(work, { recursive: true, force: true });
}
