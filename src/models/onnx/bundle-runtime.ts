/** Bundle-level ONNX: export a bundle's tfjs model to model.onnx, and open a bundle on the runtime it should use. */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type * as tfl from "@tensorflow/tfjs-layers";
import { RadioLensError } from "../../core/errors.js";
import { writeFileAtomic } from "../../core/fs.js";
import type { MedicalImage } from "../../core/image.js";
import { Rng } from "../../core/rng.js";
import { currentEngine, initEngine } from "../../engine/backend.js";
import {
  createOrtRuntime,
  createTfjsRuntime,
  type InferenceRuntime,
  type RuntimeKind,
  type RuntimeTensor,
} from "../../engine/runtime/index.js";
import { BUNDLE_FILES, loadBundle, type ModelCard, readCard } from "../bundle.js";
import { withFeatureOutputs } from "../features.js";
import { foldBatchNorm } from "../fold.js";
import {
  energyScore,
  mahalanobisScore,
  mspScore,
  type OodDetector,
  type OodResult,
  oodVerdict,
} from "../ood.js";
import { calibrateRows, type Prediction, predictionsOf, preprocessBatch } from "../predict.js";
import { encodeOnnx, exportOnnx } from "./export.js";

/** File name of the ONNX graph inside a bundle. */
export const ONNX_FILE = "model.onnx";

/**
 * The card's output block as ONNX bundles use it: `logits: true` means the graph returns pre-activation scores and
 * RadioLens applies `activation` itself (models imported from PyTorch usually end at the last linear layer).
 */
export interface OnnxCardOutput {
  readonly activation: "softmax" | "sigmoid" | "none";
  readonly logits?: boolean;
  /** Graph output name RadioLens reads (the first output when absent). */
  readonly name?: string;
}

/** The card's input block with the ONNX graph's input name. */
export interface OnnxCardInput {
  readonly shape: readonly number[];
  readonly layout: "NHWC" | "NCHW";
  readonly dtype: "float32";
  readonly name?: string;
}

/** Result of {@link exportBundleOnnx}. */
export interface OnnxExportReport {
  readonly path: string;
  readonly bytes: number;
  readonly nodes: number;
  /** Largest |tfjs − ONNX Runtime| over the verification inputs. */
  readonly maxAbsDiff: number;
}

/** Tolerance an export must meet against tfjs on seeded random inputs before it is written. */
export const EXPORT_TOLERANCE = 1e-4;

function randomInputs(shapes: readonly (readonly number[])[], n: number, seed: number): RuntimeTensor[] {
  const rng = new Rng(seed);
  return shapes.map((s) => {
    const per = s.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n * per);
    for (let i = 0; i < data.length; i++) data[i] = rng.uniform(-1, 1);
    return { data, shape: [n, ...s] };
  });
}

/**
 * Largest absolute difference between two runtimes' outputs on the same inputs.
 *
 * @example
 * ```ts
 * const d = await maxOutputDiff(tfjsRt, ortRt, inputs);
 * ```
 */
export async function maxOutputDiff(
  a: InferenceRuntime,
  b: InferenceRuntime,
  inputs: readonly RuntimeTensor[],
): Promise<number> {
  const ya = await a.run(inputs);
  const yb = await b.run(inputs);
  let max = 0;
  ya.forEach((t, i) => {
    const u = yb[i];
    if (!u || u.data.length !== t.data.length) {
      max = Number.POSITIVE_INFINITY;
      return;
    }
    for (let j = 0; j < t.data.length; j++)
      max = Math.max(max, Math.abs((t.data[j] as number) - (u.data[j] as number)));
  });
  return max;
}

/**
 * Exports a bundle's tfjs model to `model.onnx` in the same folder and records it in `radiolens.json`
 * (`files.onnx`). The graph keeps the bundle's NHWC input with a dynamic batch; before anything is written, ONNX
 * Runtime and tfjs run `verifyInputs` (default 8) seeded random inputs and must agree within {@link EXPORT_TOLERANCE}.
 *
 * @example
 * ```ts
 * const r = await exportBundleOnnx("runs/demo");
 * console.log(r.path, r.maxAbsDiff);
 * ```
 */
export async function exportBundleOnnx(
  dir: string,
  opts: { readonly verifyInputs?: number } = {},
): Promise<OnnxExportReport> {
  const { model: base, card } = await loadBundle(dir);
  // A bundle with a feature-based OOD detector exports the feature outputs with the prediction.
  const model = card.ood?.method === "mahalanobis" ? withFeatureOutputs(base).model : base;
  try {
    const proto = exportOnnx(model, {
      docString: `${card.name} (${card.architecture}) exported by RadioLens; input NHWC as in radiolens.json`,
      metadata: {
        "radiolens.input": JSON.stringify(card.input),
        "radiolens.labels": JSON.stringify(card.labels),
        "radiolens.task": card.task,
        "radiolens.preprocessing": JSON.stringify(card.preprocessing),
        "radiolens.output": JSON.stringify(card.output),
      },
    });
    const bytes = encodeOnnx(proto);
    const ortRt = await createOrtRuntime(bytes, { path: join(dir, ONNX_FILE), threads: 1 });
    let maxAbsDiff: number;
    try {
      const shapes = model.inputs.map((t) => t.shape.slice(1) as number[]);
      const n = opts.verifyInputs ?? 8;
      maxAbsDiff =
        n > 0
          ? await maxOutputDiff(createTfjsRuntimeNoClose(model), ortRt, randomInputs(shapes, n, 20260101))
          : 0;
    } finally {
      await ortRt.close();
    }
    if (!(maxAbsDiff <= EXPORT_TOLERANCE)) {
      throw new RadioLensError("RL_ERR_INTERNAL", {
        detail: `the exported graph differs from tfjs by ${maxAbsDiff} (> ${EXPORT_TOLERANCE}); nothing was written`,
      });
    }
    writeFileAtomic(join(dir, ONNX_FILE), bytes);
    const next: ModelCard = { ...card, files: { ...card.files, onnx: ONNX_FILE } };
    writeFileAtomic(join(dir, BUNDLE_FILES.card), `${JSON.stringify(next, null, 2)}\n`);
    return {
      path: join(dir, ONNX_FILE),
      bytes: bytes.length,
      nodes: proto.graph?.node?.length ?? 0,
      maxAbsDiff,
    };
  } finally {
    base.dispose();
  }
}

/** A tfjs runtime whose close() leaves the model alone (the caller owns it). */
function createTfjsRuntimeNoClose(model: Parameters<typeof createTfjsRuntime>[0]): InferenceRuntime {
  const rt = createTfjsRuntime(model);
  return { ...rt, run: rt.run.bind(rt), close: async () => {} };
}

/** Options of {@link openBundle}. */
export interface OpenBundleOptions {
  /** Force a runtime; by default ONNX Runtime when the bundle has an ONNX file, else tfjs. */
  readonly runtime?: RuntimeKind;
  /** ONNX Runtime intra-op threads (default `RADIOLENS_THREADS` or the core count). */
  readonly threads?: number;
}

/**
 * A bundle opened for inference: its card, the runtime, and `predict` from preprocessed NHWC inputs to output
 * rows in channels-last order with the card's output activation applied.
 */
export interface BundleModel {
  readonly card: ModelCard;
  readonly runtime: InferenceRuntime;
  /**
   * Runs `x` (`n` images, each `card.input.shape` NHWC, as preprocessForModel produces them) in batches of
   * `batchSize`; returns one Float32Array per image.
   */
  predict(x: Float32Array, batchSize?: number): Promise<Float32Array[]>;
  /**
   * Like `predict`, with each image's out-of-distribution verdict when the card has a detector and the graph
   * the outputs it needs (undefined otherwise).
   */
  predictWithOod(
    x: Float32Array,
    batchSize?: number,
  ): Promise<{ rows: Float32Array[]; ood: OodResult[] | undefined }>;
  close(): Promise<void>;
}

/**
 * The runtime a bundle runs on: `requested`, else ONNX Runtime when the card lists an ONNX file, else tfjs.
 *
 * @example
 * ```ts
 * pickRuntime(readCard("runs/demo")); // "onnx" after radiolens export
 * ```
 */
export function pickRuntime(card: ModelCard, requested?: RuntimeKind): RuntimeKind {
  if (requested) return requested;
  return card.files.onnx ? "onnx" : "tfjs";
}

/** NHWC → NCHW for `n` images of `[rows, cols, ch]`. */
function nhwcToNchw(x: Float32Array, n: number, rows: number, cols: number, ch: number): Float32Array {
  if (ch === 1) return x;
  const out = new Float32Array(x.length);
  const hw = rows * cols;
  for (let b = 0; b < n; b++) {
    const o = b * hw * ch;
    for (let p = 0; p < hw; p++)
      for (let c = 0; c < ch; c++) out[o + c * hw + p] = x[o + p * ch + c] as number;
  }
  return out;
}

/** `[N, C, ...spatial]` → `[N, ...spatial, C]`. */
function channelsLast(t: RuntimeTensor): RuntimeTensor {
  if (t.shape.length <= 2) return t;
  const [n, c] = t.shape as [number, number];
  const sp = t.data.length / (n * c);
  const out = new Float32Array(t.data.length);
  for (let b = 0; b < n; b++) {
    const o = b * c * sp;
    for (let k = 0; k < c; k++)
      for (let p = 0; p < sp; p++) out[o + p * c + k] = t.data[o + k * sp + p] as number;
  }
  return { data: out, shape: [n, ...t.shape.slice(2), c] };
}

/** Softmax or sigmoid along the last axis, in place (rows of `c` values). */
function activate(data: Float32Array, c: number, activation: "softmax" | "sigmoid" | "none"): void {
  if (activation === "none") return;
  if (activation === "sigmoid") {
    for (let i = 0; i < data.length; i++) data[i] = 1 / (1 + Math.exp(-(data[i] as number)));
    return;
  }
  for (let o = 0; o < data.length; o += c) {
    let m = Number.NEGATIVE_INFINITY;
    for (let k = 0; k < c; k++) m = Math.max(m, data[o + k] as number);
    let s = 0;
    for (let k = 0; k < c; k++) {
      const e = Math.exp((data[o + k] as number) - m);
      data[o + k] = e;
      s += e;
    }
    for (let k = 0; k < c; k++) data[o + k] = (data[o + k] as number) / s;
  }
}

/**
 * The tfjs model a bundle predicts with: batch norm folded into the convolutions (one pass less per layer, same
 * outputs to 1e-5), plus the OOD feature outputs its detector reads. The folded model keeps the layers whose outputs
 * the detector was fitted on only if their names survive folding; otherwise the unfolded model serves, so the OOD
 * scores stay the ones the threshold was set for.
 */
async function predictionModel(card: ModelCard, loaded: tfl.LayersModel): Promise<tfl.LayersModel> {
  const { model: folded } = await foldBatchNorm(loaded);
  if (card.ood?.method !== "mahalanobis") {
    if (folded !== loaded) loaded.dispose();
    return folded;
  }
  const wanted = (card.ood.layers ?? []).map((l) => l.output);
  if (folded !== loaded) {
    const withFeatures = withFeatureOutputs(folded);
    if (wanted.every((o) => withFeatures.outputs.includes(o))) {
      loaded.dispose();
      return withFeatures.model;
    }
    folded.dispose();
  }
  return withFeatureOutputs(loaded).model;
}

/**
 * Opens a bundle on ONNX Runtime (when it has `model.onnx`, or when asked) or tfjs. ONNX bundles imported with
 * `layout: "NCHW"` get their NHWC inputs transposed and channels-first outputs returned channels-last, so callers
 * see one layout whatever the model's origin.
 *
 * @example
 * ```ts
 * const m = await openBundle("runs/demo", { runtime: "onnx", threads: 1 });
 * const rows = await m.predict(preprocessForModel(img, m.card));
 * await m.close();
 * ```
 */
export async function openBundle(dir: string, opts: OpenBundleOptions = {}): Promise<BundleModel> {
  const card = readCard(dir);
  const kind = pickRuntime(card, opts.runtime);
  let runtime: InferenceRuntime;
  if (kind === "onnx") {
    const file = card.files.onnx;
    if (!file || !existsSync(join(dir, file))) {
      throw new RadioLensError("RL_ERR_RUNTIME_UNAVAILABLE", {
        runtime: "onnx",
        path: dir,
        detail: file ? `${file} is missing` : "the bundle has no ONNX file",
      });
    }
    runtime = await createOrtRuntime(readFileSync(join(dir, file)), {
      path: join(dir, file),
      ...(opts.threads === undefined ? {} : { threads: opts.threads }),
    });
  } else {
    if (!card.files.tfjs) {
      throw new RadioLensError("RL_ERR_RUNTIME_UNAVAILABLE", {
        runtime: "tfjs",
        path: dir,
        detail: "the bundle holds only an ONNX model (imported); run it with --runtime onnx",
      });
    }
    // A library caller may open a bundle before choosing a backend: take the fastest available, as the CLI does.
    if (!currentEngine()) await initEngine();
    runtime = createTfjsRuntime(await predictionModel(card, (await loadBundle(dir)).model));
  }
  const input = card.input as OnnxCardInput;
  const output = card.output as OnnxCardOutput;
  const [rows, cols, ch] = input.shape as [number, number, number];
  const per = input.shape.reduce((a, b) => a * b, 1);
  const nchw = kind === "onnx" && input.layout === "NCHW";
  const outIndex = output.name ? Math.max(0, runtime.outputNames.indexOf(output.name)) : 0;
  const detector: OodDetector | undefined = card.ood;
  const featureIndex = (detector?.layers ?? []).map((l) => runtime.outputNames.indexOf(l.output));
  // Without the feature outputs (an ONNX file exported before the detector existed) there is no verdict.
  const oodReady =
    detector !== undefined &&
    (detector.method !== "mahalanobis" || (featureIndex.length > 0 && featureIndex.every((i) => i >= 0)));
  const predictWithOod = async (
    x: Float32Array,
    batchSize = 256,
  ): Promise<{ rows: Float32Array[]; ood: OodResult[] | undefined }> => {
    const n = x.length / per;
    if (!Number.isInteger(n)) {
      throw new RadioLensError("RL_ERR_SHAPE_MISMATCH", {
        detail: `input length ${x.length} is not a multiple of one image (${per} values)`,
      });
    }
    const rowsOut: Float32Array[] = [];
    const scores: number[] = [];
    for (let s = 0; s < n; s += batchSize) {
      const e = Math.min(n, s + batchSize);
      let xb = x.subarray(s * per, e * per);
      const shape = nchw ? [e - s, ch, rows, cols] : [e - s, ...input.shape];
      if (nchw) xb = nhwcToNchw(xb, e - s, rows, cols, ch);
      const outs = await runtime.run([{ data: xb, shape }]);
      let y = outs[outIndex] as RuntimeTensor;
      if (nchw) y = channelsLast(y);
      const c = y.shape[y.shape.length - 1] as number;
      const k = y.data.length / (e - s);
      if (oodReady && detector?.method === "energy")
        for (let i = 0; i < e - s; i++)
          scores.push(energyScore(y.data.subarray(i * k, (i + 1) * k), detector.temperature ?? 1));
      if (output.logits) {
        y = { data: Float32Array.from(y.data), shape: y.shape };
        activate(y.data, c, output.activation);
      }
      for (let i = 0; i < e - s; i++) rowsOut.push(y.data.slice(i * k, (i + 1) * k));
      if (oodReady && detector?.method === "msp")
        for (let i = 0; i < e - s; i++) scores.push(mspScore(y.data.subarray(i * k, (i + 1) * k)));
      if (oodReady && detector?.method === "mahalanobis") {
        const feats = featureIndex.map((j) => outs[j] as RuntimeTensor);
        for (let i = 0; i < e - s; i++) {
          const f = feats.map((t) => {
            const d = t.data.length / (e - s);
            return t.data.subarray(i * d, (i + 1) * d);
          });
          scores.push(mahalanobisScore(detector.layers ?? [], f));
        }
      }
    }
    return {
      rows: calibrateRows(card, rowsOut),
      ood: oodReady && detector ? scores.map((sc) => oodVerdict(detector, sc)) : undefined,
    };
  };
  return {
    card,
    runtime,
    predictWithOod,
    async predict(x: Float32Array, batchSize = 256): Promise<Float32Array[]> {
      return (await predictWithOod(x, batchSize)).rows;
    },
    close: () => runtime.close(),
  };
}

/**
 * Reads a `--runtime` value: undefined stays undefined (the bundle decides), `tfjs`/`onnx` pass, anything else is
 * RL_ERR_USAGE.
 *
 * @example
 * ```ts
 * parseRuntime("onnx"); // "onnx"
 * ```
 */
export function parseRuntime(v: string | undefined): RuntimeKind | undefined {
  if (v === undefined) return undefined;
  if (v === "tfjs" || v === "onnx") return v;
  throw new RadioLensError("RL_ERR_USAGE", { detail: `--runtime must be tfjs or onnx, got '${v}'` });
}

/** One image's prediction from {@link predictBundleImages} (the same as the tfjs path's). */
export type BundlePrediction = Prediction;

/**
 * Preprocesses images by the card and predicts them on the bundle's runtime (classifiers).
 *
 * @example
 * ```ts
 * const m = await openBundle("runs/demo");
 * const [p] = await predictBundleImages(m, [await readImage("cxr.png")]);
 * ```
 */
export async function predictBundleImages(
  m: BundleModel,
  images: readonly MedicalImage[],
): Promise<BundlePrediction[]> {
  const { rows, ood } = await m.predictWithOod(preprocessBatch(m.card, images));
  return predictionsOf(m.card, rows, ood);
}
