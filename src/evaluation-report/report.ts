/** `buildReport()`: one self-contained HTML evaluation report — dataset, metrics with CIs, plots, explained samples, model card. */
import { existsSync, readFileSync } from "node:fs";
import { basename, join } from "node:path";
import { RadioLensError } from "../core/errors.js";
import { writeFileAtomic } from "../core/fs.js";
import { createImage } from "../core/image.js";
import { Rng } from "../core/rng.js";
import { loadImageSet } from "../data/image-set.js";
import { loadNpzDataset, type NpzDataset, type NpzSplit } from "../data/npz-dataset.js";
import { type BackendName, initEngine, tf } from "../engine/backend.js";
import { applyColormap } from "../explain/colormaps.js";
import { explainInput } from "../explain/explain.js";
import type { ExplainMethod } from "../explain/heatmap.js";
import { overlayHeatmap } from "../explain/overlay.js";
import { encodePng } from "../io/image/png.js";
import { listKeys, readNpz } from "../io/npz/index.js";
import {
  type EvaluationInput,
  type EvaluationResult,
  evaluatePredictions,
  HEADLINE_KEYS,
} from "../metrics/index.js";
import { evaluationPlots, trainingCurvesSvg } from "../metrics/plots.js";
import { loadBundle, type ModelCard, sha256File } from "../models/bundle.js";
import { intendedUseOf } from "../models/intended-use.js";
import { openBundle } from "../models/onnx/bundle-runtime.js";
import { oodMetrics } from "../models/ood.js";
import { calibrateRows, predictArrays, preprocessBatch } from "../models/predict.js";
import { VERSION } from "../version.js";
import { dataUri, esc, fmt, table } from "./html.js";
import { REPORT_CSS } from "./style.js";

/** Options of {@link buildReport}. */
export interface ReportOptions {
  /** Model bundle folder. */
  readonly model: string;
  /** MedMNIST-style .npz. */
  readonly data: string;
  /** Split to evaluate (default `test`). */
  readonly split?: string;
  /** Output HTML file. */
  readonly out: string;
  readonly backend?: BackendName;
  /** Bootstrap resamples for the CIs (default 1000; 0 = DeLong AUC interval only). */
  readonly bootstrap?: number;
  /** Seeds the bootstrap and the choice of sample images (default 0). */
  readonly seed?: number;
  /** Number of explained sample images (default 8). */
  readonly samples?: number;
  /** Heatmap method for the samples (default `gradcam`). */
  readonly method?: ExplainMethod;
  /** Out-of-distribution sets for the safety section, as `radiolens evaluate --ood` takes them. */
  readonly ood?: readonly string[];
}

/** What {@link buildReport} wrote. */
export interface ReportResult {
  readonly out: string;
  readonly bytes: number;
  readonly evaluation: EvaluationResult;
  /** Indices (in the split) of the explained samples. */
  readonly sampleIndices: readonly number[];
}

interface SampleView {
  readonly index: number;
  readonly truth: string;
  readonly predicted: string;
  readonly probability: number;
  readonly correct: boolean | null;
  readonly imagePng: Uint8Array;
  readonly overlayPng: Uint8Array;
  readonly explained: string;
  /** The map is zero everywhere: nothing in the image raised this class's score at that layer. */
  readonly empty: boolean;
}

function splitImage(split: NpzSplit, i: number) {
  const [rows, cols, ch] = split.sampleShape;
  const per = rows * cols * ch;
  const x = split.x.subarray(i * per, (i + 1) * per);
  // The .npz holds 8-bit pixels scaled by 1/255; multiplying back restores them exactly.
  const u8 = new Uint8Array(per);
  for (let j = 0; j < per; j++) u8[j] = Math.round((x[j] as number) * 255);
  return { x, img: createImage(u8, [rows, cols, ch]) };
}

function argmax(r: ArrayLike<number>): number {
  let b = 0;
  for (let j = 1; j < r.length; j++) if ((r[j] as number) > (r[b] as number)) b = j;
  return b;
}

/**
 * Picks up to `n` samples to show: for single-label tasks, for each true class one correct and one incorrect
 * prediction in turn (seeded random within each group), so errors are always shown when there are any; for
 * multi-label, seeded random samples.
 */
function chooseSamples(
  ds: NpzDataset,
  split: NpzSplit,
  predicted: readonly number[],
  n: number,
  seed: number,
): number[] {
  const rng = new Rng(seed);
  if (ds.task === "multilabel") return rng.permutation(split.count).slice(0, n);
  const groups: number[][] = [];
  for (let c = 0; c < ds.numClasses; c++) {
    for (const ok of [true, false]) {
      const g: number[] = [];
      for (let i = 0; i < split.count; i++)
        if (split.labels[i] === c && (predicted[i] === c) === ok) g.push(i);
      groups.push(rng.shuffle(g));
    }
  }
  const out: number[] = [];
  for (let round = 0; out.length < n && groups.some((g) => g.length > round); round++)
    for (const g of groups) if (out.length < n && g[round] !== undefined) out.push(g[round] as number);
  return out;
}

function datasetSummary(path: string, ds: NpzDataset, card: ModelCard): string {
  const keys = listKeys(readFileSync(path)).split(", ");
  const labelKeys = keys.filter((k) => k.endsWith("_labels"));
  const arrays = readNpz(path, labelKeys);
  const rows = labelKeys.map((k) => {
    const a = arrays.get(k);
    const shape = a?.shape ?? [];
    const n = shape[0] ?? 0;
    const cols = shape[1] ?? 1;
    const counts = new Array<number>(ds.numClasses).fill(0);
    if (a) {
      if (ds.task === "multilabel") {
        for (let i = 0; i < n * cols; i++)
          if ((a.data[i] as number) > 0) counts[i % cols] = (counts[i % cols] ?? 0) + 1;
      } else for (let i = 0; i < n; i++) counts[a.data[i] as number] = (counts[a.data[i] as number] ?? 0) + 1;
    }
    return [
      k.replace(/_labels$/, ""),
      String(n),
      ...counts.map((c) => `${c} (${n ? ((100 * c) / n).toFixed(1) : "0"}%)`),
    ];
  });
  const sha = sha256File(path);
  const trained = card.dataset?.["sha256"];
  const provenance =
    trained === undefined
      ? "the model card does not record its training data file"
      : trained === sha
        ? "the same file the model was trained on (SHA-256 matches the model card)"
        : "a different file from the one the model was trained on (SHA-256 differs from the model card)";
  const shape = Object.values(ds.splits)[0]?.sampleShape ?? [];
  return `<p>File <code>${esc(basename(path))}</code> (SHA-256 <code>${esc(sha.slice(0, 16))}…</code>): ${esc(provenance)}.
Task: ${esc(ds.task)}; images ${esc(shape.join(" × "))}; ${ds.task === "multilabel" ? "positives per label" : "samples per class"} below.</p>
${table(["split", "samples", ...ds.labelNames], rows)}`;
}

function metricsSection(r: EvaluationResult): string {
  const boot = r.ci.bootstrap;
  const rows = HEADLINE_KEYS.map((k) => {
    const ci = boot?.intervals[k];
    return [
      k.replace(/_/g, " "),
      fmt(r[k]),
      ci && Number.isFinite(ci.lo) ? `${fmt(ci.lo, 3)} – ${fmt(ci.hi, 3)}` : "—",
    ];
  });
  const delong = r.ci.auc_delong.map((d) => [d.name, fmt(d.auc), `${fmt(d.lo, 3)} – ${fmt(d.hi, 3)}`]);
  const per = r.per_class.map((p) => [
    p.name,
    String(p.support),
    fmt(p.precision, 3),
    fmt(p.recall, 3),
    fmt(p.specificity, 3),
    fmt(p.npv, 3),
    fmt(p.f1, 3),
    fmt(p.auc, 3),
  ]);
  const thr = r.threshold;
  const youden = thr.youden
    ? ` The Youden-optimal threshold on these same data would be ${fmt(thr.youden.threshold, 3)} (sensitivity ${fmt(thr.youden.sensitivity, 3)}, specificity ${fmt(thr.youden.specificity, 3)}); it is shown for information and not used.`
    : "";
  return `<p>${esc(r.n_samples)} samples; averaging: ${esc(r.averaging)}; decision rule: ${esc(thr.rule)}${thr.value === null ? "" : ` (${esc(fmt(thr.value, 3))})`}.${esc(youden)}
${boot ? `95% intervals: ${esc(boot.method)}, ${esc(boot.n_resamples)} resamples, seed ${esc(boot.seed)}.` : "No bootstrap intervals were computed."}</p>
<div class="cols"><div>${table(["metric", "value", "95% CI"], rows, "metrics")}</div>
<div><h3>AUC, DeLong 95% CI</h3>${table(["class", "AUC", "95% CI"], delong)}
<h3>Per class</h3>${table(["class", "support", "precision", "recall", "specificity", "NPV", "F1", "AUC"], per)}</div></div>
${r.warnings.length ? `<div class="warn"><strong>Undefined metrics</strong><ul>${r.warnings.map((w) => `<li>${esc(w)}</li>`).join("")}</ul></div>` : ""}`;
}

function figure(title: string, svg: string | null): string {
  if (svg === null) return "";
  return `<figure><img alt="${esc(title)}" src="${dataUri("image/svg+xml", svg)}"><figcaption>${esc(title)}</figcaption></figure>`;
}

function samplesSection(samples: readonly SampleView[], method: string): string {
  if (samples.length === 0) return "<p>No samples to show.</p>";
  const cards = samples.map((s) => {
    const badge =
      s.correct === null
        ? ""
        : s.correct
          ? `<span class="ok">correct</span>`
          : `<span class="bad">incorrect</span>`;
    return `<div class="sample"><div class="pair"><img class="px" alt="image ${s.index}" src="${dataUri("image/png", s.imagePng)}"><img class="px" alt="${esc(method)} overlay ${s.index}" src="${dataUri("image/png", s.overlayPng)}"></div>
<div class="cap">#${esc(s.index)} ${badge}<br>truth: <b>${esc(s.truth)}</b><br>predicted: <b>${esc(s.predicted)}</b> (p = ${esc(fmt(s.probability, 3))})<br><span class="muted">${s.empty ? `map is zero: no positive ${esc(method)} evidence for “${esc(s.explained)}” at this layer` : `heatmap for “${esc(s.explained)}”`}</span></div></div>`;
  });
  const ramp = applyColormap(
    Float32Array.from({ length: 256 }, (_, i) => i / 255),
    "jet",
  );
  const legend = `<div class="legend"><span>low</span><img alt="jet colormap" src="${dataUri("image/png", encodePng(createImage(ramp, [1, 256, 3])))}"><span>high relevance</span></div>`;
  return `<p>Left: the image as stored; right: ${esc(method)} heatmap for the predicted class, on the image's own pixel grid (jet colormap, opacity 0.4). Samples are drawn (seeded) from each true class, correct and incorrect in turn.</p>
${legend}
<div class="samples">${cards.join("\n")}</div>`;
}

function kv(obj: Readonly<Record<string, unknown>> | undefined): string {
  if (!obj || Object.keys(obj).length === 0) return `<p class="muted">not recorded</p>`;
  const show = (v: unknown) =>
    typeof v === "number" ? fmt(v) : typeof v === "object" && v !== null ? JSON.stringify(v) : String(v);
  return table(
    ["field", "value"],
    Object.entries(obj).map(([k, v]) => [k, show(v)]),
  );
}

function modelCardSection(card: ModelCard): string {
  const pre = card.preprocessing.map((s) => {
    const { op, ...rest } = s as { op: string } & Record<string, unknown>;
    return Object.keys(rest).length ? `${op} ${JSON.stringify(rest)}` : op;
  });
  const final = (card.metrics?.["final"] ?? undefined) as Readonly<Record<string, unknown>> | undefined;
  return `<div class="cols"><div>${table(
    ["field", "value"],
    [
      ["name", card.name],
      ["version", card.version],
      ["architecture", card.architecture],
      ["task", card.task],
      ["labels", card.labels.join(", ")],
      ["input", `${card.input.shape.join(" × ")} ${card.input.layout} ${card.input.dtype}`],
      ["preprocessing", pre.join(" → ")],
      ["output", `${card.output.activation}, threshold ${card.threshold}`],
    ],
  )}
<h3>Intended use</h3><p>${esc(intendedUseOf(card).statement || "Not stated in the model card.")}</p>${kv(intendedUseOf(card).inputs as Readonly<Record<string, unknown>> | undefined)}</div>
<div><h3>Training configuration</h3>${kv(card.training)}<h3>Training data</h3>${kv(card.dataset)}</div>
<div><h3>Validation at the end of training</h3>${kv(final)}<h3>Software versions</h3>${kv(card.versions)}</div></div>`;
}

/**
 * The safety section: the card's detector and calibration, accuracy and AUC on the images the detector keeps next
 * to all images, and with `opts.ood` the same OOD AUROC and FPR at 95% TPR as `radiolens evaluate --ood`.
 */
async function safetySection(
  opts: ReportOptions,
  card: ModelCard,
  split: NpzSplit,
  task: NpzDataset["task"],
  ungated: EvaluationResult,
): Promise<string> {
  if (!card.ood) return `<p class="muted">The model card has no out-of-distribution detector.</p>`;
  const m = await openBundle(opts.model, { runtime: card.files.tfjs ? "tfjs" : "onnx" });
  try {
    const inRes = await m.predictWithOod(split.x);
    const ood = inRes.ood ?? [];
    const rows: (readonly string[])[] = [];
    if (task !== "multilabel" && ood.length === split.count) {
      const idx = ood.flatMap((o, i) => (o.inDistribution ? [i] : []));
      const labels = idx.map((i) => split.labels[i] as number);
      const g =
        task === "binary"
          ? evaluatePredictions({
              task: "binary",
              classNames: [...card.labels],
              threshold: card.threshold,
              bootstrap: false,
              labels,
              scores: idx.map((i) => (inRes.rows[i] as Float32Array)[1] as number),
            })
          : evaluatePredictions({
              task: "multiclass",
              classNames: [...card.labels],
              threshold: card.threshold,
              bootstrap: false,
              labels,
              scores: idx.map((i) => inRes.rows[i] as Float32Array),
            });
      rows.push(
        ["all images", String(split.count), fmt(ungated.accuracy), fmt(ungated.auc)],
        [
          `in distribution (${((100 * (split.count - idx.length)) / split.count).toFixed(1)}% flagged)`,
          String(idx.length),
          fmt(g.accuracy),
          fmt(g.auc),
        ],
      );
    }
    const sets: (readonly string[])[] = [];
    const pooled: number[] = [];
    const inScores = ood.map((o) => o.score);
    for (const path of opts.ood ?? []) {
      const set = await loadImageSet(path);
      const r = await m.predictWithOod(preprocessBatch(card, set.images));
      const sc = (r.ood ?? []).map((o) => o.score);
      pooled.push(...sc);
      const q = oodMetrics(inScores, sc);
      sets.push([set.name, String(sc.length), fmt(q.auroc), fmt(q.fprAt95Tpr)]);
    }
    if (pooled.length > 0) {
      const q = oodMetrics(inScores, pooled);
      sets.push([
        "all sets (ood_auroc, ood_fpr_at_95_tpr)",
        String(pooled.length),
        fmt(q.auroc),
        fmt(q.fprAt95Tpr),
      ]);
    }
    const cal = card.calibration;
    return `<p>Detector: ${esc(card.ood.method)}, threshold ${esc(card.ood.threshold.toFixed(4))} (keeps ${esc(
      String(100 * card.ood.keep),
    )}% of the validation split); out-of-distribution inputs are ${card.ood.action === "refuse" ? "not analysed" : "analysed and flagged"}.
${cal ? `Temperature ${esc(cal.temperature.toFixed(4))} fitted on the validation split; ECE there ${esc(fmt(cal.eceBefore ?? Number.NaN))} before, ${esc(fmt(cal.eceAfter ?? Number.NaN))} after. Probabilities in this report are calibrated.` : ""}</p>
${rows.length ? table(["images", "n", "accuracy", "AUC"], rows) : ""}
${sets.length ? table(["out-of-distribution set", "n", "AUROC", "FPR at 95% TPR"], sets) : ""}`;
  } finally {
    await m.close();
  }
}

function trainingHistory(dir: string): Readonly<Record<string, unknown>>[] | undefined {
  const path = join(dir, "metrics.json");
  if (!existsSync(path)) return undefined;
  try {
    const m = JSON.parse(readFileSync(path, "utf8")) as { epochs?: Record<string, unknown>[] };
    return Array.isArray(m.epochs) && m.epochs.length > 0 ? m.epochs : undefined;
  } catch {
    return undefined; // a damaged log only costs the training-curve figure
  }
}

/**
 * Evaluates a bundle on one split of an .npz and writes ONE self-contained HTML report: dataset summary,
 * headline metrics with bootstrap and DeLong 95% intervals, ROC / PR / confusion / reliability / training-curve
 * figures (Vega-Lite, inline SVG), sample predictions with heatmap overlays, and the model card. Everything is
 * inline (data URIs, inline CSS) and a Content-Security-Policy forbids any request, so the file can be mailed
 * or archived alone.
 *
 * @example
 * ```ts
 * await buildReport({ model: "/tmp/m", data: "pneumoniamnist.npz", split: "test", out: "report.html" });
 * ```
 */
export async function buildReport(opts: ReportOptions): Promise<ReportResult> {
  const splitName = opts.split ?? "test";
  const nSamples = opts.samples ?? 8;
  const method = opts.method ?? "gradcam";
  if (!(Number.isInteger(nSamples) && nSamples >= 0))
    throw new RadioLensError("RL_ERR_USAGE", { detail: `--samples must be an integer ≥ 0, got ${nSamples}` });
  await initEngine(opts.backend ? { backend: opts.backend } : {});
  const ds = loadNpzDataset(opts.data, [splitName]);
  const split = ds.splits[splitName] as NpzSplit;
  const { model, card } = await loadBundle(opts.model);
  try {
    const want = card.input.shape;
    if (want.some((v, i) => v !== split.sampleShape[i]))
      throw new RadioLensError("RL_ERR_MODEL_DATA_MISMATCH", {
        detail: `the model takes [${want.join(", ")}] images, the dataset has [${split.sampleShape.join(", ")}]`,
      });
    if (card.labels.length !== ds.numClasses)
      throw new RadioLensError("RL_ERR_MODEL_DATA_MISMATCH", {
        detail: `the model has ${card.labels.length} classes, the dataset ${ds.numClasses}`,
      });
    // Calibrated as every reported probability is, so the numbers equal `radiolens evaluate`'s.
    const rows = calibrateRows(card, predictArrays(model, split.x, want));
    const k = ds.numClasses;
    const common = {
      classNames: [...card.labels],
      threshold: card.threshold,
      bootstrap:
        (opts.bootstrap ?? 1000) > 0
          ? { nResamples: opts.bootstrap ?? 1000, seed: opts.seed ?? 0 }
          : (false as const),
    };
    let input: EvaluationInput;
    let predicted: number[];
    if (ds.task === "binary") {
      input = { ...common, task: "binary", labels: split.labels, scores: rows.map((r) => r[1] as number) };
      predicted = rows.map((r) => ((r[1] as number) >= card.threshold ? 1 : 0));
    } else if (ds.task === "multiclass") {
      input = { ...common, task: "multiclass", labels: split.labels, scores: rows };
      predicted = rows.map(argmax);
    } else {
      const labels = Array.from({ length: split.count }, (_, i) => split.labels.subarray(i * k, (i + 1) * k));
      input = { ...common, task: "multilabel", labels, scores: rows };
      predicted = rows.map(argmax);
    }
    const evaluation = evaluatePredictions(input);
    const plots = await evaluationPlots(input, evaluation);
    const history = trainingHistory(opts.model);
    const curves = history ? await trainingCurvesSvg(history) : null;

    const picked = chooseSamples(ds, split, predicted, nSamples, opts.seed ?? 0);
    const samples: SampleView[] = picked.map((i) => {
      const { x, img } = splitImage(split, i);
      const t = tf.tensor4d(x, [1, ...split.sampleShape]);
      let heat: ReturnType<typeof explainInput>;
      try {
        heat = explainInput(model, t, { method, classIndex: predicted[i] as number, seed: opts.seed ?? 0 });
      } finally {
        t.dispose();
      }
      const overlay = overlayHeatmap(img, heat, { opacity: 0.4, preprocessing: card.preprocessing });
      const truth =
        ds.task === "multilabel"
          ? card.labels.filter((_, j) => (split.labels[i * k + j] as number) > 0).join(", ") || "none"
          : (card.labels[split.labels[i] as number] ?? "?");
      const p = predicted[i] as number;
      return {
        index: i,
        truth,
        predicted:
          ds.task === "multilabel"
            ? card.labels
                .filter((_, j) => ((rows[i] as Float32Array)[j] as number) >= card.threshold)
                .join(", ") || "none"
            : (card.labels[p] ?? String(p)),
        probability: (rows[i] as Float32Array)[p] as number,
        correct: ds.task === "multilabel" ? null : split.labels[i] === p,
        imagePng: encodePng(img),
        overlayPng: encodePng(overlay),
        explained: card.labels[heat.classIndex] ?? String(heat.classIndex),
        empty: heat.data.every((v) => v === 0),
      };
    });

    const safety = await safetySection(opts, card, split, ds.task, evaluation);
    const title = `${card.name} ${card.version} on ${basename(opts.data)} / ${splitName}`;
    const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title><style>${REPORT_CSS}</style></head>
<body><header><h1>${esc(title)}</h1>
<p class="muted">RadioLens ${esc(VERSION)} evaluation report. Research and decision support only; the figures describe this model on this dataset split and nothing else.</p></header>
<nav>${["dataset", "metrics", "safety", "figures", "samples", "model card"].map((s) => `<a href="#${s.replace(" ", "-")}">${s}</a>`).join(" · ")}</nav>
<section id="dataset"><h2>Dataset</h2>${datasetSummary(opts.data, ds, card)}</section>
<section id="metrics"><h2>Metrics on ${esc(splitName)}</h2>${metricsSection(evaluation)}</section>
<section id="safety"><h2>Intended use, out-of-distribution detection and calibration</h2>${safety}</section>
<section id="figures"><h2>Figures</h2><div class="figs">
${figure("ROC curve", plots.roc)}${figure("Precision–recall curve", plots.pr)}${figure("Confusion matrix (row-normalized)", plots.confusion)}${figure("Reliability diagram", plots.reliability)}${figure("Training curves", curves)}
</div>${curves ? "" : `<p class="muted">No training history (metrics.json) in the bundle.</p>`}</section>
<section id="samples"><h2>Sample predictions with heatmaps</h2>${samplesSection(samples, method)}</section>
<section id="model-card"><h2>Model card</h2>${modelCardSection(card)}</section>
</body></html>
`;
    writeFileAtomic(opts.out, html);
    return { out: opts.out, bytes: Buffer.byteLength(html), evaluation, sampleIndices: picked };
  } finally {
    model.dispose();
  }
}
