/** Runs the engine's kernel-equality suite and a ResNet-18 (28) training step under every oneDNN ISA cap the CPU has. */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { writeFileAtomic } from "../../core/fs.js";
import { Rng } from "../../core/rng.js";
import { initEngine, tf } from "../../engine/backend.js";
import { onednnAddon } from "../../engine/native/backend.js";
import { loadNativeAddon } from "../../engine/native/index.js";
import { createZooModel } from "./index.js";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..", "..", "..");
/** Set in the child processes this file starts: there it runs the training step under the cap it was given. */
const CHILD = process.env["RADIOLENS_ISA_CHILD"] === "1";

/**
 * The caps a developer can impose with `ONEDNN_MAX_CPU_ISA`, with the /proc/cpuinfo flags oneDNN needs for each
 * (its `mayiuse` checks). oneDNN reads the variable once per process, so each cap runs in a child process.
 */
const CAPS = [
  { cap: "SSE41", flags: ["sse4_1"] },
  { cap: "AVX2", flags: ["avx2", "fma"] },
  { cap: "AVX512_CORE", flags: ["avx512f", "avx512bw", "avx512vl", "avx512dq"] },
] as const;

/** Primitive kinds whose reference implementation would dominate a training step. */
const HOT = /^(convolution|matmul|pooling|batch normalization|eltwise)/;

function cpuFlags(): Set<string> | undefined {
  if (!existsSync("/proc/cpuinfo")) return undefined;
  const line = readFileSync("/proc/cpuinfo", "utf8")
    .split("\n")
    .find((l) => l.startsWith("flags"));
  return line ? new Set(line.split(":")[1]?.trim().split(/\s+/)) : undefined;
}

/**
 * The CPU backend's loss and gradients for {@link step}, summarized: a pure-JS ResNet-18 step takes minutes on a
 * loaded 2-core machine, so it was computed once (`RADIOLENS_ISA_REFERENCE=write` with `RADIOLENS_ISA_CHILD=1`,
 * `--test` on this file, then `npx biome format --write` it) and is stored, as training.test.ts stores the tutorial
 * CNN's CPU losses.
 */
const REFERENCE = join(here, "testdata", "resnet18-28-cpu-step.json");

interface GradSummary {
  /** Largest |g|. */
  readonly maxAbs: number;
  /** Sum of g². */
  readonly sumSq: number;
  /** g at {@link SAMPLES} evenly spread indices. */
  readonly samples: number[];
}
const SAMPLES = 16;

function summarize(g: Float32Array): GradSummary {
  let maxAbs = 0;
  let sumSq = 0;
  for (const v of g) {
    maxAbs = Math.max(maxAbs, Math.abs(v));
    sumSq += v * v;
  }
  const samples: number[] = [];
  for (let k = 0; k < Math.min(SAMPLES, g.length); k++) {
    samples.push(g[Math.floor((k * g.length) / Math.min(SAMPLES, g.length))] as number);
  }
  return { maxAbs, sumSq, samples };
}

/** Loss and every weight gradient of one ResNet-18 (28) training step (batch-norm in training mode) on `backend`. */
async function step(backend: string): Promise<{ loss: number; grads: Map<string, Float32Array> }> {
  await tf.setBackend(backend);
  const rng = new Rng(7);
  const n = 2;
  const x = new Float32Array(n * 28 * 28);
  for (let i = 0; i < x.length; i++) x[i] = rng.uniform(0, 1);
  const model = createZooModel("resnet18-28", { inputShape: [28, 28, 1], numClasses: 2, seed: 1 });
  tf.engine().startScope();
  try {
    const xt = tf.tensor4d(x, [n, 28, 28, 1]);
    const yt = tf.oneHot(tf.tensor1d([0, 1], "int32"), 2);
    // Keyed by position and shape: layer names carry a per-process counter.
    const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
    const { value, grads } = tf.variableGrads(
      () => tf.losses.softmaxCrossEntropy(yt, model.apply(xt, { training: true }) as tf.Tensor) as tf.Scalar,
      vars,
    );
    const g = new Map<string, Float32Array>();
    vars.forEach((v, i) => {
      g.set(`${i}:${v.shape.join("x")}`, (grads[v.name] as tf.Tensor).dataSync() as Float32Array);
    });
    return { loss: value.dataSync()[0] as number, grads: g };
  } finally {
    tf.engine().endScope();
    model.dispose();
  }
}

if (CHILD) {
  test(`ResNet-18 (28) training step under ONEDNN_MAX_CPU_ISA=${process.env["ONEDNN_MAX_CPU_ISA"]}`, async () => {
    const engine = await initEngine({ backend: "onednn" });
    const above = process.env["RADIOLENS_ISA_ABOVE_CPU"];
    if (above)
      assert.ok(
        !(engine.isa ?? "").toLowerCase().startsWith(above.toLowerCase()),
        `a ${above} cap on a CPU without it dispatched ${engine.isa}`,
      );
    const addon = onednnAddon();
    assert.ok(addon, "the onednn backend did not register");
    addon.clearImplementations();
    const got = await step("onednn");
    const impls = addon.implementations();
    if (process.env["RADIOLENS_ISA_REFERENCE"] === "write") {
      const want = await step("cpu");
      const grads = Object.fromEntries([...want.grads].map(([k, g]) => [k, summarize(g)]));
      await writeFileAtomic(REFERENCE, `${JSON.stringify({ loss: want.loss, grads }, null, 1)}\n`);
    }
    const want = JSON.parse(readFileSync(REFERENCE, "utf8")) as {
      loss: number;
      grads: Record<string, GradSummary>;
    };
    assert.ok(Math.abs(got.loss - want.loss) < 1e-4, `${engine.isa}: loss ${got.loss} vs cpu ${want.loss}`);
    assert.deepEqual([...got.grads.keys()].sort(), Object.keys(want.grads).sort());
    for (const [name, g] of got.grads) {
      const w = want.grads[name] as GradSummary;
      const s = summarize(g);
      const scale = Math.max(w.maxAbs, 1e-12);
      const e = Math.max(...s.samples.map((v, i) => Math.abs(v - (w.samples[i] as number)) / scale));
      // Twenty layers of training-mode batch norm over a batch of 2 amplify summation-order differences (each kernel
      // is held to 1e-4 by the kernel suite; the SSE4.1 tier's GEMM-based backward convolutions reach 1.4e-2 on the
      // stem's batch-norm scale here); a wrong layout or kernel gives errors of order 1.
      assert.ok(e < 5e-2, `${engine.isa}: gradient of ${name} differs from cpu by ${e} of its largest value`);
      assert.ok(
        Math.abs(Math.sqrt(s.sumSq) - Math.sqrt(w.sumSq)) <= 5e-2 * Math.sqrt(w.sumSq) + 1e-12,
        `${engine.isa}: gradient norm of ${name}: ${Math.sqrt(s.sumSq)} vs cpu ${Math.sqrt(w.sumSq)}`,
      );
    }
    assert.ok(
      impls.some((s) => s.startsWith("convolution")),
      `no convolution recorded: ${impls.join("; ")}`,
    );
    const ref = impls.filter((s) => HOT.test(s) && / ref/.test(s));
    assert.deepEqual(ref, [], `${engine.isa}: reference implementations on the hot path: ${ref.join("; ")}`);
  });
} else {
  const flags = cpuFlags();
  for (const { cap, flags: need } of CAPS) {
    const missing = flags ? need.filter((f) => !flags.has(f)) : [];
    const skip = !loadNativeAddon()
      ? "oneDNN addon not built"
      : !flags
        ? "no /proc/cpuinfo to read the CPU's instruction sets from"
        : missing.length > 0
          ? `this CPU lacks ${missing.join(", ")}, so a ${cap} cap would not be honoured`
          : undefined;
    // Without the parent runner's NODE_TEST_CONTEXT, the child is a test run of its own and reports in text.
    const { NODE_TEST_CONTEXT: _parent, ...inherited } = process.env;
    const env = { ...inherited, ONEDNN_MAX_CPU_ISA: cap, RADIOLENS_ISA_CHILD: "1" };
    const run = (file: string, extra: Record<string, string> = {}) =>
      spawnSync(process.execPath, ["--import", "tsx", "--test", "--test-reporter=dot", file], {
        cwd: root,
        env: { ...env, ...extra },
        encoding: "utf8",
        timeout: 300_000,
      });
    if (
      missing.length > 0 &&
      skip === `this CPU lacks ${missing.join(", ")}, so a ${cap} cap would not be honoured`
    ) {
      // A cap above the CPU is no cap: oneDNN dispatches the CPU's own best ISA. What runs under it is the uncapped
      // engine, covered by the tiers below, so one step checks the clamp instead of repeating the suite.
      test(`ONEDNN_MAX_CPU_ISA=${cap} on a CPU without ${missing.join(", ")}: oneDNN stays below it and the step is exact`, () => {
        const r = run(join("src", "models", "zoo", "isa-tiers.test.ts"), { RADIOLENS_ISA_ABOVE_CPU: cap });
        assert.equal(r.status, 0, `${cap}: ${r.stdout}\n${r.stderr}`);
        assert.match(r.stdout, /\./, `${cap}: the child ran no test`);
      });
      continue;
    }
    test(`kernel-equality suite under ONEDNN_MAX_CPU_ISA=${cap}`, { skip: skip ?? false }, () => {
      const r = run(join("src", "engine", "native", "kernels.test.ts"));
      assert.equal(r.status, 0, `${cap}: ${r.stdout}\n${r.stderr}`);
    });
    test(`ResNet-18 (28) training step under ONEDNN_MAX_CPU_ISA=${cap}`, { skip: skip ?? false }, () => {
      const r = run(join("src", "models", "zoo", "isa-tiers.test.ts"));
      assert.equal(r.status, 0, `${cap}: ${r.stdout}\n${r.stderr}`);
      assert.match(r.stdout, /\./, `${cap}: the child ran no test`);
    });
  }
}
