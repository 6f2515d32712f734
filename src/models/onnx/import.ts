/** Imports an external ONNX classifier or segmenter plus a model card into a RadioLens bundle, checking one against the other. */

import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { RadioLensError } from "../../core/errors.js";
import { writeDirAtomic } from "../../core/fs.js";
import { createImage } from "../../core/image.js";
import type { Task } from "../../core/task.js";
import { createOrtRuntime } from "../../engine/runtime/index.js";
import { WINDOW_PRESETS } from "../../io/dicom/pipeline.js";
import { VERSION } from "../../version.js";
import { BUNDLE_FILES, type ModelCard, type PreprocessStep } from "../bundle.js";
import type { IntendedUse } from "../intended-use.js";
import { preprocessForModel } from "../preprocess.js";
import { ONNX_FILE, type OnnxCardInput, type OnnxCardOutput } from "./bundle-runtime.js";
import { type OnnxIo, summarizeOnnx } from "./inspect.js";

/** A preprocessing step as an import card may write it: the bundle's steps, or a window by preset name. */
export type ImportStep = PreprocessStep | { readonly op: "window"; readonly preset: string };

/**
 * The card that comes with an external ONNX model (docs/onnx.md). Preprocessing runs in this order: `window`,
 * then `preprocessing`, then `normalize`, each optional, ending at `input.shape`.
 */
export interface ImportCard {
  readonly name: string;
  readonly version?: string;
  readonly architecture?: string;
  readonly task: Task;
  readonly labels: readonly string[];
  readonly input: {
    /** Graph input name; checked when given. */
    readonly name?: string;
    readonly layout: "NCHW" | "NHWC";
    /** `[rows, cols, channels]` of one image, whatever the layout. */
    readonly shape: readonly number[];
  };
  /** VOI window on the image's values (HU for CT): center/width, or a preset (lung, mediastinum, bone, brain, abdomen). */
  readonly window?: { readonly center: number; readonly width: number } | { readonly preset: string };
  readonly preprocessing?: readonly ImportStep[];
  /** Per-channel (x − mean) / std after the other steps, as torchvision's Normalize. */
  readonly normalize?: { readonly mean: readonly number[]; readonly std: readonly number[] };
  readonly output: {
    readonly name?: string;
    readonly activation: "softmax" | "sigmoid" | "none";
    /** True when the graph returns logits and RadioLens applies `activation`; false when the graph applies it. */
    readonly logits?: boolean;
  };
  readonly threshold?: number;
  /** A statement, or `{ statement, inputs }` whose inputs gate inference (src/models/intended-use.ts). */
  readonly intendedUse?: string | IntendedUse;
  /**
   * OOD threshold on the energy score (graphs ending in logits; Liu et al. 2020) or the negated maximum softmax
   * probability (otherwise), measured by whoever supplies the model; without it predictions carry no OOD verdict.
   */
  readonly ood?: {
    readonly threshold: number;
    readonly action?: "refuse" | "flag";
    readonly temperature?: number;
  };
}

/** The validation coverage an imported threshold is assumed to keep (not measured here). */
const OOD_KEEP_IMPORTED = 0.95;

/** What {@link importOnnx} made. */
export interface ImportReport {
  readonly dir: string;
  readonly card: ModelCard;
  readonly inputName: string;
  readonly outputName: string;
  readonly producer: string;
  readonly opset: number;
}

const TASKS: readonly Task[] = ["binary", "multiclass", "multilabel", "segmentation"];

function bad(path: string, detail: string): never {
  throw new RadioLensError("RL_ERR_CARD_INVALID", { path, detail });
}

function mismatch(what: string, detail: string): never {
  throw new RadioLensError("RL_ERR_ONNX_MISMATCH", { what, detail });
}

function isPosInt(v: unknown): v is number {
  return typeof v === "number" && Number.isInteger(v) && v > 0;
}

function windowStep(w: unknown, path: string, where: string): PreprocessStep {
  const o = (w ?? {}) as Record<string, unknown>;
  if (typeof o["preset"] === "string") {
    const p = WINDOW_PRESETS[o["preset"] as keyof typeof WINDOW_PRESETS] as
      | { center: number; width: number }
      | undefined;
    if (!p || !Object.hasOwn(WINDOW_PRESETS, o["preset"])) {
      bad(
        path,
        `${where}: unknown window preset '${o["preset"]}' (known: ${Object.keys(WINDOW_PRESETS).join(", ")})`,
      );
    }
    return { op: "window", center: p.center, width: p.width };
  }
  const center = o["center"];
  const width = o["width"];
  if (typeof center !== "number" || !Number.isFinite(center) || typeof width !== "number" || !(width > 0)) {
    bad(path, `${where}: a window needs a finite center and a width > 0, or a preset`);
  }
  return { op: "window", center, width };
}

/**
 * Parses and checks an import card on its own: required fields, types, and the contradictions a card can hold
 * by itself (task vs activation vs labels, normalize vs channels, preprocessing that does not end at the
 * input shape). Returns the card and the resolved preprocessing steps.
 *
 * @example
 * ```ts
 * const { card, steps } = parseImportCard(JSON.parse(readFileSync("card.json", "utf8")), "card.json");
 * ```
 */
export function parseImportCard(raw: unknown, path: string): { card: ImportCard; steps: PreprocessStep[] } {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw))
    bad(path, "the card must be a JSON object");
  const c = raw as Record<string, unknown>;
  if (typeof c["name"] !== "string" || c["name"] === "") bad(path, "'name' must be a non-empty string");
  if (!TASKS.includes(c["task"] as Task)) bad(path, `'task' must be one of ${TASKS.join(", ")}`);
  const task = c["task"] as Task;
  const labels = c["labels"];
  if (
    !Array.isArray(labels) ||
    labels.length === 0 ||
    !labels.every((l) => typeof l === "string" && l !== "")
  ) {
    bad(path, "'labels' must be a non-empty array of label names");
  }
  if (new Set(labels).size !== labels.length) bad(path, "'labels' holds a name twice");
  const input = (c["input"] ?? {}) as Record<string, unknown>;
  if (input["layout"] !== "NCHW" && input["layout"] !== "NHWC")
    bad(path, "'input.layout' must be NCHW or NHWC");
  const shape = input["shape"];
  if (!Array.isArray(shape) || shape.length !== 3 || !shape.every(isPosInt)) {
    bad(path, "'input.shape' must be [rows, cols, channels] of positive integers (one 2D image, any layout)");
  }
  if (input["name"] !== undefined && typeof input["name"] !== "string")
    bad(path, "'input.name' must be a string");
  const output = (c["output"] ?? {}) as Record<string, unknown>;
  const activation = output["activation"];
  if (activation !== "softmax" && activation !== "sigmoid" && activation !== "none") {
    bad(path, "'output.activation' must be softmax, sigmoid or none");
  }
  if (activation !== "none" && typeof output["logits"] !== "boolean") {
    bad(
      path,
      "'output.logits' must say whether the graph returns logits (true) or already-activated scores (false)",
    );
  }
  if (output["name"] !== undefined && typeof output["name"] !== "string")
    bad(path, "'output.name' must be a string");
  // Contradictions between task, activation and labels.
  if (task === "multilabel" && activation === "softmax") {
    bad(
      path,
      "task multilabel scores labels independently, so output.activation must be sigmoid, not softmax",
    );
  }
  if ((task === "multiclass" || task === "binary") && activation === "sigmoid" && labels.length > 1) {
    bad(path, `task ${task} with ${labels.length} labels needs softmax (one label per image), not sigmoid`);
  }
  if (task === "binary" && labels.length !== 2)
    bad(path, `task binary needs exactly 2 labels, got ${labels.length}`);
  if (task === "multiclass" && labels.length < 2) bad(path, "task multiclass needs at least 2 labels");
  const threshold = c["threshold"] ?? 0.5;
  if (typeof threshold !== "number" || !(threshold >= 0 && threshold <= 1))
    bad(path, "'threshold' must be in [0, 1]");

  const steps: PreprocessStep[] = [];
  if (c["window"] !== undefined) steps.push(windowStep(c["window"], path, "'window'"));
  const pre = c["preprocessing"] ?? [];
  if (!Array.isArray(pre)) bad(path, "'preprocessing' must be an array of steps");
  pre.forEach((s: unknown, i: number) => {
    const o = (s ?? {}) as Record<string, unknown>;
    const where = `'preprocessing[${i}]'`;
    switch (o["op"]) {
      case "window":
        steps.push(windowStep(o, path, where));
        break;
      case "grayscale":
      case "rgb":
        steps.push({ op: o["op"] });
        break;
      case "resize": {
        const sz = o["size"];
        if (!Array.isArray(sz) || sz.length !== 2 || !sz.every(isPosInt))
          bad(path, `${where}: size must be [rows, cols]`);
        steps.push({ op: "resize", size: [sz[0] as number, sz[1] as number] });
        break;
      }
      case "scale":
        if (typeof o["divisor"] !== "number" || o["divisor"] === 0)
          bad(path, `${where}: divisor must be a non-zero number`);
        steps.push({ op: "scale", divisor: o["divisor"] });
        break;
      case "normalize":
        steps.push(normalizeStep(o, shape[2] as number, path, where));
        break;
      default:
        bad(
          path,
          `${where}: unknown op '${String(o["op"])}' (window, grayscale, rgb, resize, scale, normalize)`,
        );
    }
  });
  if (c["normalize"] !== undefined)
    steps.push(normalizeStep(c["normalize"], shape[2] as number, path, "'normalize'"));
  // The steps must turn an image into exactly input.shape; a dry run on a blank image of the right channel count
  // catches a grayscale step on a 3-channel model or a resize to the wrong size now, not at the first request.
  const [rows, cols, ch] = shape as [number, number, number];
  const probe = createImage(new Float32Array(rows * cols * ch), [rows, cols, ch]);
  try {
    preprocessForModel(probe, { preprocessing: steps, input: { shape, layout: "NHWC", dtype: "float32" } });
  } catch (e) {
    bad(path, `the preprocessing does not end at input.shape [${shape.join(", ")}]: ${(e as Error).message}`);
  }
  return { card: c as unknown as ImportCard, steps };
}

function normalizeStep(v: unknown, ch: number, path: string, where: string): PreprocessStep {
  const o = (v ?? {}) as Record<string, unknown>;
  const mean = o["mean"];
  const std = o["std"];
  const ok = (a: unknown): a is number[] =>
    Array.isArray(a) && a.length > 0 && a.every((x) => typeof x === "number" && Number.isFinite(x));
  if (!ok(mean) || !ok(std)) bad(path, `${where}: mean and std must be arrays of numbers`);
  if (std.some((s) => !(s > 0))) bad(path, `${where}: every std must be > 0`);
  for (const [k, a] of [
    ["mean", mean],
    ["std", std],
  ] as const) {
    if (a.length !== 1 && a.length !== ch) {
      bad(path, `${where}: ${k} has ${a.length} values but the model takes ${ch} channel(s)`);
    }
  }
  return { op: "normalize", mean, std };
}

function dimsStr(d: readonly (number | string)[]): string {
  return `[${d.join(", ")}]`;
}

/**
 * Checks the ONNX graph's input and output against the card: one image input of rank 4 whose fixed dimensions
 * equal the card's size in its layout, an output of rank 2 `[N, labels]` (classifiers) or rank 4 with
 * `labels` channels (segmenters), names when the card gives them. Returns the graph's input and output.
 *
 * @example
 * ```ts
 * const { input, output } = checkAgainstCard(summarizeOnnx(bytes, "m.onnx"), card);
 * ```
 */
export function checkAgainstCard(
  s: ReturnType<typeof summarizeOnnx>,
  card: ImportCard,
): { input: OnnxIo; output: OnnxIo } {
  if (s.inputs.length !== 1) {
    mismatch(
      "inputs",
      `the model has ${s.inputs.length} inputs (${s.inputs.map((i) => i.name).join(", ")}); import takes single-image models`,
    );
  }
  const input = s.inputs[0] as OnnxIo;
  if (card.input.name !== undefined && card.input.name !== input.name) {
    mismatch("input name", `the card says '${card.input.name}', the model's input is '${input.name}'`);
  }
  if (input.elemType !== 1)
    mismatch("input type", `input '${input.name}' is not float32 (ONNX type ${input.elemType})`);
  if (input.dims.length !== 4) {
    mismatch(
      "input rank",
      `input '${input.name}' is ${dimsStr(input.dims)} (rank ${input.dims.length}); a 2D image model takes rank 4`,
    );
  }
  const [rows, cols, ch] = card.input.shape as [number, number, number];
  const want = card.input.layout === "NCHW" ? [ch, rows, cols] : [rows, cols, ch];
  const other = card.input.layout === "NCHW" ? [rows, cols, ch] : [ch, rows, cols];
  const fixed = input.dims.slice(1);
  const agrees = (w: number[]): boolean => fixed.every((d, i) => typeof d !== "number" || d === w[i]);
  if (!agrees(want)) {
    const hint = agrees(other)
      ? ` — that is the ${card.input.layout === "NCHW" ? "NHWC" : "NCHW"} layout; the card says ${card.input.layout}`
      : "";
    mismatch(
      "input size",
      `input '${input.name}' is ${dimsStr(input.dims)}, the card's [rows, cols, channels] = [${rows}, ${cols}, ${ch}] in ${card.input.layout} is [N, ${want.join(", ")}]${hint}`,
    );
  }
  let output: OnnxIo | undefined;
  if (card.output.name !== undefined) {
    output = s.outputs.find((o) => o.name === card.output.name);
    if (!output) {
      mismatch(
        "output name",
        `the card says '${card.output.name}', the model's outputs are ${s.outputs.map((o) => `'${o.name}'`).join(", ")}`,
      );
    }
  } else {
    output = s.outputs[0];
    if (!output) mismatch("outputs", "the model declares no output");
  }
  checkOutputDims(output.name, output.dims, card);
  return { input, output };
}

function checkOutputDims(name: string, dims: readonly (number | string)[], card: ImportCard): void {
  const nLabels = card.labels.length;
  if (card.task === "segmentation") {
    if (dims.length !== 4) {
      mismatch(
        "output rank",
        `output '${name}' is ${dimsStr(dims)}; a segmenter returns rank 4 (one map per label)`,
      );
    }
    const [rows, cols] = card.input.shape as [number, number, number];
    const want = card.input.layout === "NCHW" ? [nLabels, rows, cols] : [rows, cols, nLabels];
    dims.slice(1).forEach((d, i) => {
      if (typeof d === "number" && d !== want[i]) {
        mismatch(
          "output size",
          `output '${name}' is ${dimsStr(dims)}; with ${nLabels} labels and ${card.input.layout} the card expects [N, ${want.join(", ")}]`,
        );
      }
    });
    return;
  }
  if (dims.length !== 2) {
    mismatch(
      "output rank",
      `output '${name}' is ${dimsStr(dims)}; a classifier returns [N, classes] (rank 2)`,
    );
  }
  const c = dims[1];
  if (typeof c === "number" && c !== nLabels) {
    mismatch(
      "labels",
      `output '${name}' has ${c} classes, the card lists ${nLabels} labels (${card.labels.join(", ")})`,
    );
  }
}

/**
 * Makes a bundle in `out` from an external ONNX model and its card: decodes the file (malformed → RL_ERR_ONNX_INVALID),
 * checks the card on its own (RL_ERR_CARD_INVALID) and against the graph (RL_ERR_ONNX_MISMATCH naming what
 * differs), loads it in ONNX Runtime and runs a batch of 2 blank images to check the real output shape, then
 * writes the model bytes unchanged and a `radiolens.json` whose preprocessing is the card's, resolved (presets to
 * numbers). The folder appears complete or not at all.
 *
 * @example
 * ```ts
 * await importOnnx(readFileSync("vendor.onnx"), JSON.parse(readFileSync("card.json", "utf8")), "models/vendor", {
 *   onnxPath: "vendor.onnx", cardPath: "card.json",
 * });
 * ```
 */
export async function importOnnx(
  bytes: Uint8Array,
  rawCard: unknown,
  out: string,
  names: { readonly onnxPath?: string; readonly cardPath?: string } = {},
): Promise<ImportReport> {
  const onnxPath = names.onnxPath ?? "<model.onnx>";
  const cardPath = names.cardPath ?? "<card>";
  const { card, steps } = parseImportCard(rawCard, cardPath);
  const summary = summarizeOnnx(bytes, onnxPath);
  const { input, output } = checkAgainstCard(summary, card);

  // The declared shapes may be symbolic; run the graph to see the real ones.
  const rt = await createOrtRuntime(bytes, { path: onnxPath, threads: 1 });
  try {
    const [rows, cols, ch] = card.input.shape as [number, number, number];
    const shape = card.input.layout === "NCHW" ? [2, ch, rows, cols] : [2, rows, cols, ch];
    let outs: Awaited<ReturnType<typeof rt.run>>;
    try {
      outs = await rt.run([{ data: new Float32Array(2 * rows * cols * ch), shape }]);
    } catch (e) {
      mismatch("input", `the model does not run on [${shape.join(", ")}]: ${(e as Error).message}`);
    }
    const got = outs[rt.outputNames.indexOf(output.name)];
    if (!got) mismatch("outputs", `output '${output.name}' was not produced`);
    if (got.shape[0] !== 2) {
      mismatch(
        "batch",
        `a batch of 2 gave output ${dimsStr(got.shape)}; export with a dynamic batch axis (dynamic_axes)`,
      );
    }
    checkOutputDims(output.name, got.shape, card);
  } finally {
    await rt.close();
  }

  const versions: Record<string, string> = { radiolens: VERSION, onnxOpset: String(summary.opset) };
  if (summary.producer) versions["producer"] = summary.producer;
  const cardInput: OnnxCardInput = {
    shape: [...card.input.shape],
    layout: card.input.layout,
    dtype: "float32",
    name: input.name,
  };
  const cardOutput: OnnxCardOutput = {
    activation: card.output.activation,
    logits: card.output.logits ?? false,
    name: output.name,
  };
  const full: ModelCard = {
    format: "radiolens-bundle",
    formatVersion: 1,
    name: card.name,
    architecture: card.architecture ?? "onnx",
    version: card.version ?? "1.0.0",
    task: card.task,
    labels: [...card.labels],
    input: cardInput as ModelCard["input"],
    preprocessing: steps,
    output: cardOutput as ModelCard["output"],
    threshold: card.threshold ?? 0.5,
    versions,
    // An imported bundle runs on ONNX Runtime only: no tfjs topology or weights.
    files: { tfjs: "", weights: [], onnx: ONNX_FILE },
    ...(card.intendedUse === undefined ? {} : { intendedUse: card.intendedUse }),
    ...(card.ood === undefined
      ? {}
      : {
          ood: {
            method: card.output.logits ? ("energy" as const) : ("msp" as const),
            threshold: card.ood.threshold,
            keep: OOD_KEEP_IMPORTED,
            action: card.ood.action ?? "refuse",
            ...(card.ood.temperature === undefined ? {} : { temperature: card.ood.temperature }),
            fittedOn: { source: "import card" },
          },
        }),
  };
  await writeDirAtomic(out, async (tmp) => {
    writeFileSync(join(tmp, ONNX_FILE), bytes);
    writeFileSync(join(tmp, BUNDLE_FILES.card), `${JSON.stringify(full, null, 2)}\n`);
  });
  return {
    dir: out,
    card: full,
    inputName: input.name,
    outputName: output.name,
    producer: summary.producer,
    opset: summary.opset,
  };
}
