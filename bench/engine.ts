/**
 * Engine benchmark: trains and infers three reference CNNs on tfjs-onednn, tfjs-wasm and PyTorch (same architectures,
 * batch sizes and thread counts) and prints samples/s, the onednn/PyTorch ratio and achieved GFLOPS against peak.
 *
 * Usage: npm run bench:engine [-- --configs a,b,c --threads 1,2 --seconds 4 --rounds 3 --no-wasm --profile]
 * (threads default to 1 up to the core count). It prints the ISA oneDNN dispatched to and, on an AVX-512 CPU, runs
 * again capped at AVX2 (`ONEDNN_MAX_CPU_ISA=AVX2`), the table most CPUs without AVX-512 get.
 *
 * Samples/s and ratios are medians over the rounds (each round measures PyTorch, then RadioLens); `rounds` shows
 * the range of the per-round ratios.
 */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { availableParallelism, loadavg } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { Rng } from "../src/core/rng.js";
import { initEngine, tf } from "../src/engine/backend.js";
import { loadNativeAddon, type NativeAddon } from "../src/engine/native/index.js";

type Tfl = typeof tf extends never ? never : typeof import("@tensorflow/tfjs-layers");
const tfl: Tfl = await import("@tensorflow/tfjs-layers");

interface Config {
  readonly key: string;
  readonly title: string;
  readonly batch: number;
  readonly input: [number, number, number];
  readonly classes: number;
  readonly build: (
    input: [number, number, number],
    classes: number,
    seed: number,
  ) => import("@tensorflow/tfjs-layers").LayersModel;
  /** Most timed steps per measurement on the slow peers (WASM): keeps the run bounded. */
  readonly wasmSteps: number;
  /**
   * Whether the WASM peer trains this model: at ~0.2 GFLOPS its ResNet-18 and 224×224 training steps take minutes
   * (estimated from the tutorial CNN), beyond a bounded benchmark, so there it is measured on inference only.
   */
  readonly wasmTrains: boolean;
}

const init = (seed: number) => tfl.initializers.glorotUniform({ seed });

/**
 * The tutorial CNN (Conv 32 3×3, max-pool, Conv 64 3×3, max-pool, Dense 128, Dense classes), as bench/engine_torch.py builds it.
 *
 * @example
 * ```ts
 * tutorialCnn([28, 28, 1], 10, 7).predict(tf.zeros([1, 28, 28, 1]));
 * ```
 */
export function tutorialCnn(input: [number, number, number], classes: number, seed: number) {
  const m = tfl.sequential();
  m.add(
    tfl.layers.conv2d({
      inputShape: input,
      filters: 32,
      kernelSize: 3,
      activation: "relu",
      kernelInitializer: init(seed),
    }),
  );
  m.add(tfl.layers.maxPooling2d({ poolSize: 2 }));
  m.add(
    tfl.layers.conv2d({ filters: 64, kernelSize: 3, activation: "relu", kernelInitializer: init(seed + 1) }),
  );
  m.add(tfl.layers.maxPooling2d({ poolSize: 2 }));
  m.add(tfl.layers.flatten());
  m.add(tfl.layers.dense({ units: 128, activation: "relu", kernelInitializer: init(seed + 2) }));
  m.add(tfl.layers.dropout({ rate: 0.5, seed }));
  m.add(tfl.layers.dense({ units: classes, activation: "softmax", kernelInitializer: init(seed + 3) }));
  return m;
}

/**
 * ResNet-18 (He et al. 2016) in the MedMNIST form (Yang et al. 2023): 3×3 stride-1 stem, no max-pool.
 *
 * @example
 * ```ts
 * resnet18([28, 28, 1], 10, 7).predict(tf.zeros([1, 28, 28, 1]));
 * ```
 */
export function resnet18(input: [number, number, number], classes: number, seed: number) {
  let s = seed;
  const conv = (
    x: import("@tensorflow/tfjs-layers").SymbolicTensor,
    filters: number,
    k: number,
    strides: number,
  ) =>
    tfl.layers
      .conv2d({
        filters,
        kernelSize: k,
        strides,
        padding: "same",
        useBias: false,
        kernelInitializer: init(s++),
      })
      .apply(x) as import("@tensorflow/tfjs-layers").SymbolicTensor;
  const bn = (x: import("@tensorflow/tfjs-layers").SymbolicTensor) =>
    tfl.layers.batchNormalization().apply(x) as import("@tensorflow/tfjs-layers").SymbolicTensor;
  const relu = (x: import("@tensorflow/tfjs-layers").SymbolicTensor) =>
    tfl.layers.reLU().apply(x) as import("@tensorflow/tfjs-layers").SymbolicTensor;
  const inp = tfl.input({ shape: input });
  let x = relu(bn(conv(inp, 64, 3, 1)));
  let cin = 64;
  for (const [cout, stride] of [
    [64, 1],
    [128, 2],
    [256, 2],
    [512, 2],
  ] as const) {
    for (let b = 0; b < 2; b++) {
      const st = b === 0 ? stride : 1;
      const y = bn(conv(relu(bn(conv(x, cout, 3, st))), cout, 3, 1));
      const short = st !== 1 || cin !== cout ? bn(conv(x, cout, 1, st)) : x;
      x = relu(tfl.layers.add().apply([y, short]) as import("@tensorflow/tfjs-layers").SymbolicTensor);
      cin = cout;
    }
  }
  x = tfl.layers.globalAveragePooling2d({}).apply(x) as import("@tensorflow/tfjs-layers").SymbolicTensor;
  const out = tfl.layers
    .dense({ units: classes, activation: "softmax", kernelInitializer: init(s++) })
    .apply(x) as import("@tensorflow/tfjs-layers").SymbolicTensor;
  return tfl.model({ inputs: inp, outputs: out });
}

/**
 * The 224×224 reference CNN: Conv 32/64/128 3×3, each followed by 2×2 max-pooling, then Dense 1024 and Dense 10.
 *
 * @example
 * ```ts
 * cnn224([224, 224, 3], 10, 7).predict(tf.zeros([1, 224, 224, 3]));
 * ```
 */
export function cnn224(input: [number, number, number], classes: number, seed: number) {
  const m = tfl.sequential();
  [32, 64, 128].forEach((filters, i) => {
    m.add(
      tfl.layers.conv2d({
        ...(i === 0 ? { inputShape: input } : {}),
        filters,
        kernelSize: 3,
        padding: "same",
        activation: "relu",
        kernelInitializer: init(seed + i),
      }),
    );
    m.add(tfl.layers.maxPooling2d({ poolSize: 2 }));
  });
  m.add(tfl.layers.flatten());
  m.add(tfl.layers.dense({ units: 1024, activation: "relu", kernelInitializer: init(seed + 5) }));
  m.add(tfl.layers.dense({ units: classes, activation: "softmax", kernelInitializer: init(seed + 6) }));
  return m;
}

const CONFIGS: Config[] = [
  {
    key: "a",
    title: "tutorial CNN 28×28×1 b32",
    batch: 32,
    input: [28, 28, 1],
    classes: 10,
    build: tutorialCnn,
    wasmSteps: 20,
    wasmTrains: true,
  },
  {
    key: "b",
    title: "ResNet-18 28×28×1 b64",
    batch: 64,
    input: [28, 28, 1],
    classes: 10,
    build: resnet18,
    wasmSteps: 1,
    wasmTrains: false,
  },
  {
    key: "c",
    title: "CNN 224×224×3 b8",
    batch: 8,
    input: [224, 224, 3],
    classes: 10,
    build: cnn224,
    wasmSteps: 1,
    wasmTrains: false,
  },
];

/**
 * Kernel taps that land inside the input along one axis, summed over the output positions: with "same" padding
 * the border positions multiply fewer inputs (a 3×3 conv on a 4×4 map does 69% of its nominal MACs), and oneDNN
 * skips the padding, so counting nominal MACs would overstate the achieved GFLOPS.
 */
function validTaps(inSize: number, outSize: number, k: number, stride: number, padBefore: number): number {
  let n = 0;
  for (let o = 0; o < outSize; o++) {
    for (let t = 0; t < k; t++) {
      const i = o * stride - padBefore + t;
      if (i >= 0 && i < inSize) n++;
    }
  }
  return n;
}

/** Multiply-accumulates of one forward pass of one sample over real (unpadded) inputs, from the conv and dense layers' shapes. */
function forwardMacs(model: import("@tensorflow/tfjs-layers").LayersModel): number {
  let macs = 0;
  for (const layer of model.layers) {
    const cls = layer.getClassName();
    if (cls !== "Conv2D" && cls !== "Dense") continue;
    const kernel = layer.getWeights()[0];
    if (!kernel) continue;
    if (cls === "Dense") {
      macs += kernel.size;
      continue;
    }
    const [kh, kw, cin, cout] = kernel.shape as [number, number, number, number];
    const inp = (layer.input as { shape: number[] }).shape;
    const out = layer.outputShape as number[];
    const cfg = layer.getConfig() as { strides?: number[] | number };
    const [sh, sw] = Array.isArray(cfg.strides) ? cfg.strides : [cfg.strides ?? 1, cfg.strides ?? 1];
    const axis = (i: number, k: number, st: number) => {
      const inSize = inp[i] ?? 1;
      const outSize = out[i] ?? 1;
      // tfjs "same": total padding max((out-1)·stride + k - in, 0), the smaller half before (as TensorFlow).
      const padBefore = Math.floor(Math.max((outSize - 1) * st + k - inSize, 0) / 2);
      return validTaps(inSize, outSize, k, st, padBefore);
    };
    macs += axis(1, kh, sh ?? 1) * axis(2, kw, sw ?? 1) * cin * cout;
  }
  return macs;
}

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? (process.argv[i + 1] ?? def) : def;
}

/** Process CPU seconds so far (all threads). */
function cpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

/**
 * Wall and process-CPU seconds per step: two untimed warm-up steps (primitive creation, first page faults, optimizer
 * slots, buffers reaching their steady-state sizes), then steps until `seconds` pass or `maxSteps` ran. The first
 * warm-up step is reported only for peers so slow that it took 5× the budget.
 * CPU time is reported too because on a shared machine wall time mostly measures the other processes.
 */
async function timeSteps(
  step: () => Promise<void>,
  seconds: number,
  maxSteps: number,
): Promise<{ wall: number; cpu: number }> {
  const t0 = performance.now();
  const c0 = cpuSeconds();
  await step();
  const first = { wall: (performance.now() - t0) / 1000, cpu: cpuSeconds() - c0 };
  if (first.wall >= 5 * seconds || maxSteps <= 0) return first;
  await step();
  let n = 0;
  const t1 = performance.now();
  const c1 = cpuSeconds();
  do {
    await step();
    n++;
  } while (performance.now() - t1 < seconds * 1000 && n < maxSteps);
  return { wall: (performance.now() - t1) / 1000 / n, cpu: (cpuSeconds() - c1) / n };
}

/** Samples per second of wall time and per second of process CPU time. */
interface Rate {
  wall: number;
  cpu: number;
}
interface Result {
  train: Rate;
  infer: Rate;
}

async function measureTfjs(
  cfg: Config,
  seconds: number,
  maxSteps: number,
  profile: boolean,
  trainToo = true,
): Promise<Result> {
  const rng = new Rng(1);
  const n = cfg.batch * cfg.input.reduce((a, b) => a * b, 1);
  const xData = new Float32Array(n);
  for (let i = 0; i < n; i++) xData[i] = rng.normal();
  const labels = Array.from({ length: cfg.batch }, () => rng.int(0, cfg.classes - 1));
  const x = tf.tensor4d(xData, [cfg.batch, ...cfg.input]);
  const y = tf.oneHot(tf.tensor1d(labels, "int32"), cfg.classes).toFloat();
  const model = cfg.build(cfg.input, cfg.classes, 7);
  model.compile({ optimizer: tf.train.adam(1e-3), loss: "categoricalCrossentropy" });
  const train = async () => {
    await model.trainOnBatch(x, y);
  };
  const infer = async () => {
    // The whole batch in one call, as the PyTorch peer does (predict would otherwise split it into 32s).
    const p = tf.tidy(() => model.predict(x, { batchSize: cfg.batch }) as tf.Tensor);
    await p.data();
    p.dispose();
  };
  if (profile) await printProfile(cfg, train);
  const tTrain = trainToo ? await timeSteps(train, seconds, maxSteps) : { wall: Number.NaN, cpu: Number.NaN };
  const tInfer = await timeSteps(infer, seconds, maxSteps * 4);
  model.dispose();
  tf.dispose([x, y]);
  const rate = (t: { wall: number; cpu: number }) => ({ wall: cfg.batch / t.wall, cpu: cfg.batch / t.cpu });
  return { train: rate(tTrain), infer: rate(tInfer) };
}

/** Kernel time shares of one training step (after a warm-up step). */
async function printProfile(cfg: Config, step: () => Promise<void>): Promise<void> {
  await step();
  const info = await tf.profile(step);
  const byKernel = new Map<string, number>();
  let total = 0;
  for (const k of info.kernels) {
    const ms = typeof k.kernelTimeMs === "number" ? k.kernelTimeMs : 0;
    byKernel.set(k.name, (byKernel.get(k.name) ?? 0) + ms);
    total += ms;
  }
  const wall = await timeSteps(step, 0, 0);
  console.log(
    `profile ${cfg.key} (${tf.getBackend()}): step ${(wall.wall * 1000).toFixed(1)} ms, kernels ${total.toFixed(1)} ms`,
  );
  for (const [name, ms] of [...byKernel].sort((p, q) => q[1] - p[1]).slice(0, 14)) {
    console.log(
      `  ${name.padEnd(34)} ${ms.toFixed(2).padStart(9)} ms ${((100 * ms) / (wall.wall * 1000)).toFixed(1).padStart(5)}%`,
    );
  }
}

function torchResults(cfg: Config, threads: number[], seconds: number): Map<string, Rate> {
  const py = ["/usr/bin/python3", "python3"].find((p) => spawnSync(p, ["-c", "import torch"]).status === 0);
  const out = new Map<string, Rate>();
  if (!py) return out;
  const script = join(import.meta.dirname, "engine_torch.py");
  const res = spawnSync(
    py,
    [script, "--config", cfg.key, "--threads", threads.join(","), "--seconds", String(seconds)],
    {
      encoding: "utf8",
    },
  );
  for (const line of res.stdout.split("\n")) {
    if (!line.startsWith("{")) continue;
    const r = JSON.parse(line) as {
      mode: string;
      threads: number;
      samplesPerSec: number;
      samplesPerCpuSec: number;
    };
    out.set(`${r.mode}:${r.threads}`, { wall: r.samplesPerSec, cpu: r.samplesPerCpuSec });
  }
  return out;
}

/**
 * fp32 peak of one core: measured by the addon's FMA microbenchmark (independent 512/256-bit FMA chains timed in
 * thread CPU time), else the nominal clock × 32 FLOP/cycle.
 */
function corePeakGflops(): { gflops: number; how: string } {
  const addon = loadNativeAddon() as
    | (NativeAddon & { peakGflops?: () => { gflops: number; vectorBits: number } })
    | undefined;
  const measured = addon?.peakGflops?.();
  if (measured && measured.gflops > 0) {
    return { gflops: measured.gflops, how: `measured, ${measured.vectorBits}-bit FMA microbenchmark` };
  }
  const m = /cpu MHz\s*:\s*([\d.]+)/.exec(readFileSync("/proc/cpuinfo", "utf8"));
  const mhz = m ? Number(m[1]) : 2000;
  return { gflops: (mhz / 1000) * 32, how: `nominal, ${mhz.toFixed(0)} MHz × 32 FLOP/cycle` };
}

const fmt = (v: number | undefined, d = 1) => (v === undefined || !Number.isFinite(v) ? "—" : v.toFixed(d));

async function main(): Promise<void> {
  const keys = arg("configs", "a,b,c").split(",");
  // Thread scaling from 1 up to the core count (the engine must not assume 2 cores).
  const allThreads = Array.from({ length: availableParallelism() }, (_, i) => i + 1).join(",");
  const threads = arg("threads", allThreads)
    .split(",")
    .map(Number)
    .filter((t) => t > 0);
  const seconds = Number(arg("seconds", "4"));
  const rounds = Math.max(1, Number(arg("rounds", "3")));
  const withWasm = !process.argv.includes("--no-wasm");
  const profile = process.argv.includes("--profile");
  const peak = corePeakGflops();
  console.log(
    `engine bench: ${availableParallelism()} cores, fp32 peak ${peak.gflops.toFixed(0)} GFLOPS/core (${peak.how}); load average ${loadavg()
      .map((l) => l.toFixed(1))
      .join(" ")}`,
  );
  const engine = await initEngine({ backend: "onednn", threads: threads[0] ?? 1 });
  const cap = process.env["ONEDNN_MAX_CPU_ISA"];
  console.log(`isa: ${engine.isa ?? "none"}${cap ? ` (capped by ONEDNN_MAX_CPU_ISA=${cap})` : ""}`);
  const rows: string[][] = [];
  const median = (v: number[]) => {
    const s = [...v].sort((a, b) => a - b);
    const m = s.length >> 1;
    return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
  };
  for (const cfg of CONFIGS.filter((c) => keys.includes(c.key))) {
    const probe = cfg.build(cfg.input, cfg.classes, 1);
    const macs = forwardMacs(probe);
    probe.dispose();
    // Training ≈ forward + backward-data + backward-weights, each about one forward's FLOPs.
    const flops = { train: 3 * 2 * macs, infer: 2 * macs };
    let wasm: Result | undefined;
    if (withWasm) {
      await initEngine({ backend: "wasm" });
      wasm = await measureTfjs(cfg, seconds, cfg.wasmSteps, false, cfg.wasmTrains);
    }
    // Rounds alternate the peers (PyTorch, then RadioLens at every thread count), so that a slow spell of this
    // shared machine lands in one round's pair, not on one side of every ratio; the median round is reported.
    const torchRounds: Map<string, { wall: number; cpu: number }>[] = [];
    const ourRounds: Map<string, { wall: number; cpu: number }>[] = [];
    let isa = "";
    for (let round = 0; round < rounds; round++) {
      torchRounds.push(torchResults(cfg, threads, seconds));
      const ours = new Map<string, { wall: number; cpu: number }>();
      for (const t of threads) {
        const eng = await initEngine({ backend: "onednn", threads: t });
        isa = eng.isa ?? "";
        const last = round === rounds - 1 && t === threads[threads.length - 1];
        const r = await measureTfjs(cfg, seconds, 1000, profile && last);
        ours.set(`train:${t}`, r.train);
        ours.set(`infer:${t}`, r.infer);
      }
      ourRounds.push(ours);
      process.stdout.write(`  ${cfg.key} round ${round + 1}/${rounds} done${isa ? ` (isa ${isa})` : ""}\n`);
    }
    for (const t of threads) {
      for (const mode of ["train", "infer"] as const) {
        const key = `${mode}:${t}`;
        const pairs = ourRounds
          .map((o, i) => ({ o: o.get(key), p: torchRounds[i]?.get(key) }))
          .filter((x): x is { o: { wall: number; cpu: number }; p: { wall: number; cpu: number } } =>
            Boolean(x.o && x.p),
          );
        const ourWall = median(ourRounds.map((o) => o.get(key)?.wall ?? Number.NaN));
        const ratios = pairs.map((x) => x.o.wall / x.p.wall);
        const cpuRatios = pairs.map((x) => x.o.cpu / x.p.cpu);
        const gflops = (ourWall * flops[mode]) / 1e9;
        rows.push([
          cfg.title,
          mode,
          String(t),
          fmt(ourWall),
          t === 1 ? fmt(wasm?.[mode].wall) : "—",
          pairs.length ? fmt(median(pairs.map((x) => x.p.wall))) : "—",
          ratios.length ? fmt(median(ratios), 2) : "—",
          ratios.length ? `${fmt(Math.min(...ratios), 2)}–${fmt(Math.max(...ratios), 2)}` : "—",
          cpuRatios.length ? fmt(median(cpuRatios), 2) : "—",
          fmt(gflops),
          `${fmt((100 * gflops) / (peak.gflops * t), 0)}%`,
        ]);
      }
    }
  }
  const head = [
    "model",
    "mode",
    "thr",
    "onednn/s",
    "wasm/s",
    "torch/s",
    "onednn/torch",
    "rounds",
    "same, CPU time",
    "GFLOPS",
    "of peak",
  ];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (r: string[]) =>
    r.map((c, i) => (i < 2 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join("  ");
  console.log(line(head));
  for (const r of rows) console.log(line(r));
  // What a user without AVX-512 gets: the same table with oneDNN capped at AVX2 (it reads the cap once per process).
  if (!cap && /^avx512/.test(engine.isa ?? "")) {
    console.log("\nthe same, capped at AVX2 (ONEDNN_MAX_CPU_ISA=AVX2):");
    spawnSync(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
      stdio: "inherit",
      env: { ...process.env, ONEDNN_MAX_CPU_ISA: "AVX2" },
    });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
