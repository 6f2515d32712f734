/** Evaluation plots as Vega-Lite specifications rendered server-side to SVG (vega's headless renderer), with PNG through resvg (WebAssembly). */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { parse, View } from "vega";
import { compile, type TopLevelSpec } from "vega-lite";
import { writeFileAtomic } from "../core/fs.js";
import { aggregateByPatient, type EvaluationInput, type EvaluationResult } from "./evaluate-predictions.js";
import { type CalibrationBin, computeCalibrationBins, topLabelConfidence } from "./probabilistic.js";
import { computePrCurve, computeRocCurve } from "./ranking.js";
import { metricInputError } from "./stats.js";

const FONT = "DejaVu Sans, Helvetica, Arial, sans-serif";

const CONFIG = {
  font: FONT,
  axis: { labelFontSize: 11, titleFontSize: 12, grid: true, gridOpacity: 0.4 },
  legend: { labelFontSize: 11, titleFontSize: 11, labelLimit: 400 },
  title: { fontSize: 14, anchor: "start" },
  view: { stroke: "#888" },
} as const;

/**
 * Renders a Vega-Lite specification to an SVG document string, headless (no browser, no canvas).
 *
 * @example
 * ```ts
 * const svg = await renderVegaLiteSvg({ mark: "point", data: { values: [{ x: 1, y: 2 }] },
 *   encoding: { x: { field: "x", type: "quantitative" }, y: { field: "y", type: "quantitative" } } });
 * ```
 */
export async function renderVegaLiteSvg(spec: TopLevelSpec): Promise<string> {
  const vg = compile({ config: CONFIG, background: "white", ...spec } as TopLevelSpec).spec;
  const view = new View(parse(vg), { renderer: "none" });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** One ROC curve to draw. */
export interface RocSeries {
  readonly name: string;
  readonly fpr: ArrayLike<number>;
  readonly tpr: ArrayLike<number>;
  /** Shown in the legend when given. */
  readonly auc?: number;
}

function label(name: string, key: string, v: number | undefined): string {
  return v === undefined || Number.isNaN(v) ? name : `${name} (${key} ${v.toFixed(3)})`;
}

function points(xs: ArrayLike<number>, ys: ArrayLike<number>, series: string, xName: string, yName: string) {
  if (xs.length !== ys.length) throw metricInputError("plot", `${xName} and ${yName} have different lengths`);
  const out: Record<string, number | string>[] = [];
  for (let i = 0; i < xs.length; i++) {
    const x = xs[i] as number;
    const y = ys[i] as number;
    if (Number.isFinite(x) && Number.isFinite(y)) out.push({ [xName]: x, [yName]: y, series, i });
  }
  return out;
}

const UNIT = { type: "quantitative", scale: { domain: [0, 1] } } as const;

/**
 * ROC curves (one line per series) with the chance diagonal.
 *
 * @example
 * ```ts
 * const roc = computeRocCurve(labels, scores);
 * const svg = await rocCurveSvg([{ name: "model", fpr: roc.fpr, tpr: roc.tpr, auc: 0.91 }]);
 * ```
 */
export async function rocCurveSvg(series: readonly RocSeries[], options: { readonly title?: string } = {}) {
  const values = series.flatMap((s) => points(s.fpr, s.tpr, label(s.name, "AUC", s.auc), "fpr", "tpr"));
  return renderVegaLiteSvg({
    title: options.title ?? "ROC curve",
    width: 320,
    height: 320,
    layer: [
      {
        data: {
          values: [
            { fpr: 0, tpr: 0 },
            { fpr: 1, tpr: 1 },
          ],
        },
        mark: { type: "line", strokeDash: [4, 4], color: "#999" },
        encoding: { x: { field: "fpr", ...UNIT }, y: { field: "tpr", ...UNIT } },
      },
      {
        data: { values },
        mark: { type: "line", interpolate: "linear" },
        encoding: {
          x: { field: "fpr", ...UNIT, title: "1 − specificity (false-positive rate)" },
          y: { field: "tpr", ...UNIT, title: "sensitivity (true-positive rate)" },
          color: { field: "series", type: "nominal", title: null },
          order: { field: "i", type: "quantitative" },
        },
      },
    ],
  } as unknown as TopLevelSpec);
}

/** One precision–recall curve to draw. */
export interface PrSeries {
  readonly name: string;
  readonly precision: ArrayLike<number>;
  readonly recall: ArrayLike<number>;
  readonly averagePrecision?: number;
  /** Prevalence of the positive class: the no-skill line. */
  readonly prevalence?: number;
}

/**
 * Precision–recall curves drawn as steps — each precision holds from the previous recall up to its own,
 * so the area under the drawn steps is the average precision — with the prevalence baseline when given.
 *
 * @example
 * ```ts
 * const pr = computePrCurve(labels, scores);
 * const svg = await prCurveSvg([{ name: "model", precision: pr.precision, recall: pr.recall }]);
 * ```
 */
export async function prCurveSvg(series: readonly PrSeries[], options: { readonly title?: string } = {}) {
  const values = series.flatMap((s) =>
    points(s.recall, s.precision, label(s.name, "AP", s.averagePrecision), "recall", "precision"),
  );
  const baselines = series
    .filter((s) => s.prevalence !== undefined)
    .map((s) => ({ prevalence: s.prevalence as number, series: label(s.name, "AP", s.averagePrecision) }));
  const layers: unknown[] = [
    {
      data: { values },
      mark: { type: "line", interpolate: "step-after" },
      encoding: {
        x: { field: "recall", ...UNIT, title: "recall (sensitivity)" },
        y: { field: "precision", ...UNIT, title: "precision (PPV)" },
        color: { field: "series", type: "nominal", title: null },
        order: { field: "i", type: "quantitative" },
      },
    },
  ];
  if (baselines.length > 0) {
    layers.push({
      data: { values: baselines },
      mark: { type: "rule", strokeDash: [4, 4] },
      encoding: {
        y: { field: "prevalence", type: "quantitative" },
        color: { field: "series", type: "nominal" },
      },
    });
  }
  return renderVegaLiteSvg({
    title: options.title ?? "Precision–recall curve",
    width: 320,
    height: 320,
    layer: layers,
  } as unknown as TopLevelSpec);
}

/**
 * A confusion matrix heatmap: rows are true classes, columns predicted; cells show counts (and the row
 * percentage when `normalize` is set, which also colours by row share).
 *
 * @example
 * ```ts
 * const svg = await confusionMatrixSvg({ labels: ["normal", "pneumonia"], matrix: [[50, 3], [7, 40]] });
 * ```
 */
export async function confusionMatrixSvg(
  cm: { readonly labels: readonly string[]; readonly matrix: readonly (readonly number[])[] },
  options: { readonly normalize?: boolean; readonly title?: string } = {},
) {
  const k = cm.labels.length;
  if (cm.matrix.length !== k || cm.matrix.some((r) => r.length !== k)) {
    throw metricInputError("plot", `confusion matrix is not ${k}×${k}`);
  }
  const values: Record<string, string | number>[] = [];
  cm.matrix.forEach((row, t) => {
    const total = row.reduce((a, b) => a + b, 0);
    row.forEach((count, p) => {
      const share = total > 0 ? count / total : 0;
      values.push({
        truth: cm.labels[t]!,
        predicted: cm.labels[p]!,
        count,
        share,
        text: options.normalize ? `${count} (${(100 * share).toFixed(0)}%)` : String(count),
      });
    });
  });
  const colorField = options.normalize ? "share" : "count";
  const order = [...cm.labels];
  const max = Math.max(...values.map((v) => v[colorField] as number), 0);
  const side = Math.max(160, Math.min(520, 44 * k));
  return renderVegaLiteSvg({
    title: options.title ?? "Confusion matrix",
    width: side,
    height: side,
    data: { values },
    encoding: {
      x: {
        field: "predicted",
        type: "nominal",
        sort: order,
        title: "predicted",
        axis: { grid: false, labelAngle: 0 },
      },
      y: { field: "truth", type: "nominal", sort: order, title: "true", axis: { grid: false } },
    },
    layer: [
      {
        mark: "rect",
        encoding: {
          color: {
            field: colorField,
            type: "quantitative",
            scale: { scheme: "blues" },
            title: options.normalize ? "row share" : "count",
          },
        },
      },
      {
        mark: { type: "text", fontSize: 11 },
        encoding: {
          text: { field: "text", type: "nominal" },
          color: {
            condition: { test: `datum['${colorField}'] > ${max / 2}`, value: "white" },
            value: "black",
          },
        },
      },
    ],
  } as unknown as TopLevelSpec);
}

/**
 * Reliability diagram: observed frequency against mean predicted probability per non-empty bin (point size =
 * sample count), the identity line for perfect calibration, and a histogram of predictions below.
 *
 * @example
 * ```ts
 * const svg = await reliabilityDiagramSvg(computeCalibrationBins(labels, scores, 10), { ece: 0.04 });
 * ```
 */
export async function reliabilityDiagramSvg(
  bins: readonly CalibrationBin[],
  options: { readonly ece?: number; readonly title?: string } = {},
) {
  const values = bins.map((b) => ({
    lo: b.lo,
    hi: b.hi,
    count: b.count,
    meanPredicted: b.count > 0 ? b.meanPredicted : null,
    fractionPositive: b.count > 0 ? b.fractionPositive : null,
  }));
  const filled = values.filter((v) => v.count > 0);
  const title =
    options.title ??
    (options.ece === undefined
      ? "Reliability diagram"
      : `Reliability diagram (ECE ${options.ece.toFixed(3)})`);
  return renderVegaLiteSvg({
    title,
    vconcat: [
      {
        width: 320,
        height: 320,
        layer: [
          {
            data: {
              values: [
                { x: 0, y: 0 },
                { x: 1, y: 1 },
              ],
            },
            mark: { type: "line", strokeDash: [4, 4], color: "#999" },
            encoding: { x: { field: "x", ...UNIT }, y: { field: "y", ...UNIT } },
          },
          {
            data: { values: filled },
            mark: { type: "line", point: true },
            encoding: {
              x: { field: "meanPredicted", ...UNIT, title: "mean predicted probability" },
              y: { field: "fractionPositive", ...UNIT, title: "observed frequency" },
              order: { field: "lo", type: "quantitative" },
            },
          },
        ],
      },
      {
        width: 320,
        height: 90,
        data: { values },
        mark: { type: "rect", color: "#7a9cc6", stroke: "white" },
        encoding: {
          x: { field: "lo", type: "quantitative", scale: { domain: [0, 1] }, title: "predicted probability" },
          x2: { field: "hi" },
          y: { field: "count", type: "quantitative", title: "samples" },
          y2: { datum: 0 },
        },
      },
    ],
  } as unknown as TopLevelSpec);
}

/**
 * Training curves: one line per series (e.g. `loss`, `val_loss`, `val_auc`) against epoch; series whose name
 * contains "loss" go to the top panel, the rest below. `history` is either arrays per series or one log object
 * per epoch (a trainer's `history`).
 *
 * @example
 * ```ts
 * const svg = await trainingCurvesSvg({ loss: [0.7, 0.5, 0.4], val_loss: [0.72, 0.6, 0.55], val_auc: [0.7, 0.8, 0.84] });
 * ```
 */
export async function trainingCurvesSvg(
  history: Readonly<Record<string, readonly number[]>> | readonly Readonly<Record<string, unknown>>[],
  options: { readonly title?: string } = {},
) {
  // Per-epoch log objects (a trainer's history) become one series per numeric key.
  const series: Record<string, number[]> = {};
  if (Array.isArray(history)) {
    (history as readonly Readonly<Record<string, unknown>>[]).forEach((logs, i) => {
      for (const [k, v] of Object.entries(logs)) {
        if (k === "epoch" || typeof v !== "number") continue;
        (series[k] ??= new Array<number>(history.length).fill(Number.NaN))[i] = v;
      }
    });
  } else Object.assign(series, history);
  const rows = (pick: (name: string) => boolean) =>
    Object.entries(series)
      .filter(([name]) => pick(name))
      .flatMap(([name, vals]) =>
        vals.flatMap((v, i) => (Number.isFinite(v) ? [{ epoch: i + 1, value: v, series: name }] : [])),
      );
  const losses = rows((n) => n.includes("loss"));
  const others = rows((n) => !n.includes("loss"));
  if (losses.length + others.length === 0)
    throw metricInputError("plot", "training history has no finite values");
  const panel = (values: unknown[], yTitle: string) => ({
    width: 420,
    height: 200,
    data: { values },
    mark: { type: "line", point: true },
    encoding: {
      x: { field: "epoch", type: "quantitative", axis: { tickMinStep: 1 } },
      y: { field: "value", type: "quantitative", title: yTitle, scale: { zero: false } },
      color: { field: "series", type: "nominal", title: null },
    },
  });
  const panels = [
    ...(losses.length > 0 ? [panel(losses, "loss")] : []),
    ...(others.length > 0 ? [panel(others, "metric")] : []),
  ];
  return renderVegaLiteSvg({
    title: options.title ?? "Training curves",
    vconcat: panels,
    resolve: { scale: { color: "independent" } },
  } as unknown as TopLevelSpec);
}

let resvgReady: Promise<typeof import("@resvg/resvg-wasm")> | undefined;

function loadResvg(): Promise<typeof import("@resvg/resvg-wasm")> {
  resvgReady ??= (async () => {
    const mod = await import("@resvg/resvg-wasm");
    const require = createRequire(import.meta.url);
    await mod.initWasm(readFileSync(require.resolve("@resvg/resvg-wasm/index_bg.wasm")));
    return mod;
  })();
  return resvgReady;
}

const FONT_FILES = [
  "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
  "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
];

/**
 * Rasterizes an SVG to PNG bytes with resvg (WebAssembly, no native build). Text needs a font file: the
 * first of `fontFiles` (default: DejaVu Sans or Liberation Sans from the system) that exists is used.
 *
 * @example
 * ```ts
 * writeFileAtomic("roc.png", await svgToPng(await rocCurveSvg(series), { scale: 2 }));
 * ```
 */
export async function svgToPng(
  svg: string,
  options: { readonly scale?: number; readonly fontFiles?: readonly string[] } = {},
): Promise<Uint8Array> {
  const { Resvg } = await loadResvg();
  const fontBuffers: Uint8Array[] = [];
  for (const f of options.fontFiles ?? FONT_FILES) {
    try {
      fontBuffers.push(readFileSync(f));
      break;
    } catch {
      // try the next font file
    }
  }
  const r = new Resvg(svg, {
    fitTo: { mode: "zoom", value: options.scale ?? 1 },
    font: { fontBuffers, defaultFontFamily: "DejaVu Sans", loadSystemFonts: false },
  });
  try {
    return r.render().asPng();
  } finally {
    r.free();
  }
}

/** The standard evaluation figures as SVG documents. */
export interface EvaluationPlots {
  readonly roc: string;
  readonly pr: string;
  readonly confusion: string | null;
  readonly reliability: string;
}

/**
 * ROC, precision–recall, confusion-matrix and reliability figures for an evaluation (after the same patient
 * aggregation): one curve for binary, one per class (one-vs-rest) or per label otherwise; the reliability
 * diagram shows P(class 1) for binary, top-label confidence for multi-class and all labels pooled for
 * multi-label.
 *
 * @example
 * ```ts
 * const plots = await evaluationPlots(input, evaluatePredictions(input));
 * writeFileAtomic("roc.svg", plots.roc);
 * ```
 */
export async function evaluationPlots(
  input: EvaluationInput,
  result: EvaluationResult,
): Promise<EvaluationPlots> {
  const data = aggregateByPatient(input);
  const curves: { name: string; y: number[]; s: number[] }[] = [];
  let rel: { y: number[]; p: number[] };
  if (data.task === "binary") {
    const y = Array.from(data.labels);
    const s = Array.from(data.scores);
    curves.push({ name: result.class_names[1] ?? "positive", y, s });
    rel = { y, p: s };
  } else if (data.task === "multiclass") {
    const y = Array.from(data.labels);
    result.class_names.forEach((name, c) => {
      curves.push({ name, y: y.map((v) => (v === c ? 1 : 0)), s: data.scores.map((r) => r[c] as number) });
    });
    const t = topLabelConfidence(y, data.scores);
    rel = { y: Array.from(t.correct), p: Array.from(t.confidence) };
  } else {
    result.class_names.forEach((name, c) => {
      curves.push({
        name,
        y: data.labels.map((r) => r[c] as number),
        s: data.scores.map((r) => r[c] as number),
      });
    });
    rel = { y: curves.flatMap((c) => c.y), p: curves.flatMap((c) => c.s) };
  }
  const per = new Map(result.per_class.map((p) => [p.name, p]));
  const defined = curves.filter((c) => c.y.some((v) => v === 1) && c.y.some((v) => v === 0));
  const rocSeries = defined.map((c) => {
    const r = computeRocCurve(c.y, c.s);
    const auc = data.task === "binary" ? result.auc : per.get(c.name)?.auc;
    return { name: c.name, fpr: r.fpr, tpr: r.tpr, ...(auc === undefined ? {} : { auc }) };
  });
  const prSeries = defined.map((c) => {
    const r = computePrCurve(c.y, c.s);
    const ap = data.task === "binary" ? result.average_precision : per.get(c.name)?.average_precision;
    return {
      name: c.name,
      precision: r.precision,
      recall: r.recall,
      prevalence: c.y.reduce((a, b) => a + b, 0) / c.y.length,
      ...(ap === undefined ? {} : { averagePrecision: ap }),
    };
  });
  const bins = computeCalibrationBins(rel.y, rel.p, result.ece_bins);
  return {
    roc: await rocCurveSvg(rocSeries),
    pr: await prCurveSvg(prSeries),
    confusion: result.confusion_matrix
      ? await confusionMatrixSvg(result.confusion_matrix, { normalize: true })
      : null,
    reliability: await reliabilityDiagramSvg(bins, {
      ...(data.task === "multilabel"
        ? { title: "Reliability diagram (all labels pooled)" }
        : { ece: result.ece }),
    }),
  };
}

/**
 * Writes the evaluation figures as `roc.svg`, `pr.svg`, `confusion.svg` (when there is a matrix) and
 * `reliability.svg` into `dir` (each file atomically); returns the written paths.
 *
 * @example
 * ```ts
 * await writeEvaluationPlots("out/plots", input, evaluatePredictions(input));
 * ```
 */
export async function writeEvaluationPlots(
  dir: string,
  input: EvaluationInput,
  result: EvaluationResult,
): Promise<string[]> {
  const plots = await evaluationPlots(input, result);
  const written: string[] = [];
  for (const [name, svg] of Object.entries(plots)) {
    if (svg === null) continue;
    const path = join(dir, `${name}.svg`);
    writeFileAtomic(path, svg);
    written.push(path);
  }
  return written;
}
