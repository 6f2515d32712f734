/** `benchmarkMedmnist()`: trains one recipe per dimensionality on every MedMNIST file of a folder and tabulates test ACC/AUC with CIs beside the paper's rows. */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { basename, join } from "node:path";
import { RadioLensError } from "../core/errors.js";
import { writeFileAtomic } from "../core/fs.js";
import { MemoryBatchSource } from "../data/memory.js";
import { loadNpzDataset, targetsOf } from "../data/npz-dataset.js";
import { initEngine, tf } from "../engine/backend.js";
import { bootstrapCi } from "../metrics/bootstrap.js";
import { medmnistEvaluate } from "../metrics/medmnist.js";
import { MEDMNIST_PAPER, type PaperResult } from "../metrics/medmnist-paper.js";
import { loadBundle } from "../models/bundle.js";
import { medmnistTaskOf, predictSource } from "./budget.js";
import { loadTrainConfig } from "./config.js";
import { type TrainConfig, trainModel } from "./run.js";
import type { Callback } from "./trainer.js";

/** Options of {@link benchmarkMedmnist}. */
export interface MedmnistBenchmarkOptions {
  /** Folder of MedMNIST .npz files. */
  readonly dataDir: string;
  /** Recipe for 2D files (default `configs/medmnist-2d.yaml`). */
  readonly config2d?: string;
  /** Recipe for 3D files (default `configs/medmnist-3d.yaml`). */
  readonly config3d?: string;
  /** Folder for the bundles and the tables (default `runs/benchmark-medmnist`). */
  readonly out?: string;
  /** Bootstrap resamples for the 95% CIs (default 1000). */
  readonly bootstrap?: number;
  /** Evaluate bundles already in `out/<dataset>` instead of training them again. */
  readonly reuse?: boolean;
  readonly callbacks?: readonly Callback[];
}

/** One dataset's row. */
export interface MedmnistBenchmarkRow {
  readonly dataset: string;
  readonly task: string;
  readonly dims: 2 | 3;
  readonly model: string;
  readonly testSamples: number;
  readonly acc: number;
  readonly accCi: readonly [number, number];
  readonly auc: number;
  readonly aucCi: readonly [number, number];
  readonly minutes: number;
  readonly cores: number;
  readonly steps: number;
  readonly paper?: PaperResult;
}

/** Test-time flips: left–right for images, every axis for volumes; predictions are averaged (TTA). */
function flipViews(dims: 2 | 3): (x: tf.Tensor) => tf.Tensor[] {
  return (x) =>
    dims === 2 ? [x, tf.reverse(x, 2)] : [x, tf.reverse(x, 1), tf.reverse(x, 2), tf.reverse(x, 3)];
}

/**
 * Evaluates a bundle on the test split of an .npz with the MedMNIST evaluator's semantics, with stratified bootstrap
 * 95% CIs of ACC and AUC.
 *
 * @example
 * ```ts
 * const r = await evaluateMedmnistTest("runs/x", "pneumoniamnist.npz", { tta: false });
 * ```
 */
export async function evaluateMedmnistTest(
  bundleDir: string,
  data: string,
  opts: { readonly tta: boolean; readonly bootstrap?: number },
): Promise<{ acc: number; auc: number; accCi: [number, number]; aucCi: [number, number]; n: number }> {
  const ds = loadNpzDataset(data, ["test"]);
  const test = ds.splits["test"]!;
  const { model } = await loadBundle(bundleDir);
  const src = new MemoryBatchSource({
    x: test.x,
    sampleShape: test.shape,
    y: targetsOf(test, ds),
    targetShape: [ds.numClasses],
    batchSize: test.dims === 3 ? 16 : 256,
    shuffle: false,
    seed: 0,
  });
  const ml = ds.task === "multilabel";
  const { scores, labels } = await predictSource(model, src, ml, opts.tta ? flipViews(test.dims) : undefined);
  model.dispose();
  const mt = medmnistTaskOf(ds.task);
  const full = medmnistEvaluate(mt, labels as number[] & number[][], scores);
  const strata = ml ? undefined : (labels as number[]);
  const ci = bootstrapCi(
    scores.length,
    (w) => {
      const idx: number[] = [];
      w.forEach((k, i) => {
        for (let j = 0; j < k; j++) idx.push(i);
      });
      const r = medmnistEvaluate(
        mt,
        idx.map((i) => labels[i]) as number[] & number[][],
        idx.map((i) => scores[i] as number[]),
      );
      return { acc: r.acc, auc: r.auc };
    },
    { nResamples: opts.bootstrap ?? 1000, seed: 0, ...(strata ? { strata } : {}) },
  );
  return {
    acc: full.acc,
    auc: full.auc,
    accCi: [ci.intervals.acc.lo, ci.intervals.acc.hi],
    aucCi: [ci.intervals.auc.lo, ci.intervals.auc.hi],
    n: scores.length,
  };
}

const f3 = (v: number) => v.toFixed(3);

/** The Markdown table of {@link benchmarkMedmnist}. */
export function medmnistMarkdown(rows: readonly MedmnistBenchmarkRow[]): string {
  const lines = [
    "| dataset | task | model | test n | ours ACC (95% CI) | ours AUC (95% CI) | paper ResNet-18 ACC / AUC | paper best ACC / AUC | minutes | cores |",
    "|---|---|---|---:|---|---|---|---|---:|---:|",
  ];
  for (const r of rows) {
    const p = r.paper;
    lines.push(
      `| ${r.dataset} | ${r.task} | ${r.model} | ${r.testSamples} | ${f3(r.acc)} (${f3(r.accCi[0])}–${f3(r.accCi[1])}) | ${f3(r.auc)} (${f3(r.aucCi[0])}–${f3(r.aucCi[1])}) | ${p ? `${f3(p.resnet18.acc)} / ${f3(p.resnet18.auc)} (${p.resnet18.method})` : "–"} | ${p ? `${f3(p.bestAcc.acc)} (${p.bestAcc.method}) / ${f3(p.bestAuc.auc)} (${p.bestAuc.method})` : "–"} | ${r.minutes.toFixed(1)} | ${r.cores} |`,
    );
  }
  lines.push(
    "",
    "Paper: MedMNIST v2 (Yang et al., Scientific Data 10, 41 (2023)), Tables 3 and 4, test split. Ours: test split, MedMNIST evaluator semantics (binary: P(class 1) > 0.5; multi-class: arg-max ACC, one-vs-rest macro AUC), stratified bootstrap 95% CIs (1000 resamples, seed 0).",
  );
  return `${lines.join("\n")}\n`;
}

/**
 * Trains the 2D recipe on every 2D MedMNIST file of `dataDir` and the 3D recipe on every 3D one (chosen from the
 * data, not the name), evaluates each on its test split and writes `benchmark.md` and `benchmark.json` to `out`.
 *
 * @example
 * ```ts
 * const rows = await benchmarkMedmnist({ dataDir: "../shared/data/medmnist" });
 * ```
 */
export async function benchmarkMedmnist(opts: MedmnistBenchmarkOptions): Promise<MedmnistBenchmarkRow[]> {
  if (!existsSync(opts.dataDir)) throw new RadioLensError("RL_ERR_FILE_NOT_FOUND", { path: opts.dataDir });
  const files = readdirSync(opts.dataDir)
    .filter((f) => f.toLowerCase().endsWith(".npz"))
    .sort();
  if (files.length === 0)
    throw new RadioLensError("RL_ERR_USAGE", { detail: `${opts.dataDir} holds no .npz files` });
  const out = opts.out ?? "runs/benchmark-medmnist";
  await initEngine({});
  const rows: MedmnistBenchmarkRow[] = [];
  for (const f of files) {
    const data = join(opts.dataDir, f);
    const dataset = basename(f).replace(/\.npz$/i, "");
    const probe = loadNpzDataset(data, ["val"]);
    const dims = probe.splits["val"]!.dims;
    const recipe =
      dims === 3
        ? (opts.config3d ?? "configs/medmnist-3d.yaml")
        : (opts.config2d ?? "configs/medmnist-2d.yaml");
    const bundle = join(out, dataset);
    const config: TrainConfig = loadTrainConfig(recipe, { data, out: bundle });
    if (!(opts.reuse && existsSync(join(bundle, "radiolens.json"))))
      await trainModel(config, opts.callbacks ?? []);
    const metrics = JSON.parse(readFileSync(join(bundle, "metrics.json"), "utf8")) as { seconds: number };
    const card = JSON.parse(readFileSync(join(bundle, "radiolens.json"), "utf8")) as {
      training?: { steps?: number };
    };
    const r = await evaluateMedmnistTest(bundle, data, {
      tta: config.tta === true,
      ...(opts.bootstrap ? { bootstrap: opts.bootstrap } : {}),
    });
    const paper = MEDMNIST_PAPER[dataset.replace(/_\d+$/, "")];
    rows.push({
      dataset,
      task: medmnistTaskOf(probe.task),
      dims,
      model: `${config.model}${config.width ? ` (width ${config.width})` : ""}`,
      testSamples: r.n,
      acc: r.acc,
      accCi: r.accCi,
      auc: r.auc,
      aucCi: r.aucCi,
      minutes: metrics.seconds / 60,
      cores: config.threads ?? availableParallelism(),
      steps: card.training?.steps ?? 0,
      ...(paper ? { paper } : {}),
    });
    // Written after every dataset, so a long benchmark leaves its finished rows behind.
    writeFileAtomic(join(out, "benchmark.md"), medmnistMarkdown(rows));
    writeFileAtomic(join(out, "benchmark.json"), `${JSON.stringify(rows, null, 2)}\n`);
  }
  return rows;
}
