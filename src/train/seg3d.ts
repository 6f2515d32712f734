/** 3D segmentation training on an MSD task folder: plan, patch training with deep supervision, validation fold, bundle; k-fold CV. */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type * as tfl from "@tensorflow/tfjs-layers";
import { RadioLensError } from "../core/errors.js";
import type { MedicalImage } from "../core/image.js";
import { Rng } from "../core/rng.js";
import { kFold, type MsdCase, readMsdTask } from "../data/msd.js";
import { type BackendName, initEngine, tf } from "../engine/backend.js";
import { readNifti, writeNifti } from "../io/nifti/index.js";
import { loadBundle, type ModelCard, saveBundle } from "../models/bundle.js";
import { createUNet, diceCeLoss } from "../models/zoo/index.js";
import {
  classLocations,
  downsampleLabel,
  normalizeIntensity,
  resampledShape,
  resampleVolume,
  type SegAugmentOptions,
  sampleSegPatch,
  type Volume,
} from "../transforms/volume/seg3d.js";
import { VERSION } from "../version.js";
import { Adam } from "./optim.js";
import { evaluateSegmentations, predictVolume, type SegEvaluation } from "./seg3d-infer.js";
import { fingerprint, planSegmentation, type SegBudget, type SegPlan, zyxSpacing } from "./seg3d-plan.js";

/** Options of {@link trainSegmentation3D}. */
export interface Segmentation3DOptions {
  /** MSD task folder (`imagesTr/`, `labelsTr/`, optional `dataset.json`). */
  readonly data: string;
  /** Bundle folder to write. */
  readonly out: string;
  readonly seed: number;
  /** k of k-fold cross-validation (default 5) and the fold held out for validation (default 0). */
  readonly folds?: number;
  readonly fold?: number;
  /** Train on every case, validate on none (the final model once the folds are known). */
  readonly allCases?: boolean;
  /** Time budget the planner sizes the run for (default 60 minutes on the engine's threads). */
  readonly budget?: Partial<SegBudget>;
  /** Fields that override the planner's choices (e.g. from configs/msd-hippocampus.yaml). */
  readonly plan?: Partial<SegPlan>;
  /** Class names, background first, when the folder has no dataset.json (default background/foreground). */
  readonly labels?: readonly string[];
  /** Wall-clock cap in minutes: a logged safety net that stops training early (default none). */
  readonly maxMinutes?: number;
  readonly augment?: SegAugmentOptions;
  /** Mirroring test-time augmentation on the validation fold (default true). */
  readonly mirror?: boolean;
  readonly backend?: BackendName;
  readonly threads?: number;
  /** Log the running loss every this many steps (default 50). */
  readonly logEvery?: number;
  /** Progress lines (never patient data: only case ids from file names and numbers). */
  readonly log?: (line: string) => void;
}

/** What {@link trainSegmentation3D} returns (also written as `metrics.json` in the bundle). */
export interface Segmentation3DResult {
  readonly plan: SegPlan;
  readonly stepsRun: number;
  readonly trainSeconds: number;
  readonly trainCases: number;
  readonly validation?: SegEvaluation;
  readonly stoppedEarly: boolean;
}

interface Prepared {
  readonly id: string;
  readonly image: Volume;
  readonly label: Volume<Uint8Array>;
  readonly locations: Int32Array[];
}

function labelsOf(img: MedicalImage, numClasses: number, path: string): Uint8Array {
  const out = new Uint8Array(img.data.length);
  for (let i = 0; i < out.length; i++) {
    const v = Math.round(img.data[i] as number);
    if (v < 0 || v >= numClasses) {
      throw new RadioLensError("RL_ERR_LABEL_OUT_OF_RANGE", {
        detail: `${path} holds label ${v} but the task names ${numClasses} classes (dataset.json labels)`,
      });
    }
    out[i] = v;
  }
  return out;
}

/** Normalises and resamples one case to the plan's spacing (nnU-Net's preprocessing, minus cropping). */
function prepare(c: MsdCase, image: MedicalImage, label: MedicalImage, plan: SegPlan): Prepared {
  const [d, h, w] = image.shape as [number, number, number];
  const spatial = (s: readonly number[]) => s.slice(0, 3).join("×");
  if (spatial(image.shape) !== spatial(label.shape)) {
    throw new RadioLensError("RL_ERR_SHAPE_MISMATCH", {
      detail: `${c.label} is ${label.shape.join("×")}, its image ${image.shape.join("×")}; they must share a grid`,
    });
  }
  const ch = image.shape[3] ?? 1;
  const first =
    ch === 1 ? image.data : Float32Array.from({ length: d * h * w }, (_, i) => image.data[i * ch] as number);
  const shape0: [number, number, number] = [d, h, w];
  const rs = resampledShape(shape0, zyxSpacing(image), plan.targetSpacing);
  const img = resampleVolume(normalizeIntensity(first, plan.modality, plan.foreground), shape0, rs, "linear");
  const lab = resampleVolume(labelsOf(label, plan.numClasses, c.label), shape0, rs, "nearest");
  return {
    id: c.id,
    image: { data: img, shape: rs, spacing: plan.targetSpacing },
    label: { data: lab, shape: rs, spacing: plan.targetSpacing },
    locations: classLocations(lab, plan.numClasses),
  };
}

/** One-hot `[n, C]` of a label patch. */
function oneHot(label: Uint8Array, C: number, into: Float32Array, offset: number): void {
  for (let i = 0; i < label.length; i++) into[offset + i * C + (label[i] as number)] = 1;
}

/**
 * Trains a 3D U-Net (Çiçek et al. 2016) on an MSD task the way nnU-Net does (Isensee et al. 2021, Nat. Methods
 * 18:203), scaled to a CPU budget: a fingerprint and {@link planSegmentation} fix patch, depth, width, batch and
 * the number of optimizer steps; every step draws a batch of augmented, one-third foreground-centred patches
 * from the training folds; the loss is Dice + cross-entropy at full resolution plus deep-supervision heads at
 * 1/2 and 1/4 (weights 1, ½, ¼, normalised); Adam with a polynomial learning-rate decay (exponent 0.9, as
 * nnU-Net's poly schedule). The held-out fold is then segmented with {@link predictVolume} and scored per case.
 * Everything random comes from `seed`; with a fixed thread count the run repeats bit-for-bit.
 *
 * @example
 * ```ts
 * const r = await trainSegmentation3D({ data: "msd-hippocampus", out: "runs/hippo-f0", seed: 0, fold: 0 });
 * console.log(r.validation?.summary);
 * ```
 */
export async function trainSegmentation3D(opts: Segmentation3DOptions): Promise<Segmentation3DResult> {
  const started = performance.now();
  const log = opts.log ?? (() => {});
  const engine = await initEngine({
    ...(opts.backend ? { backend: opts.backend } : {}),
    ...(opts.threads !== undefined ? { threads: opts.threads } : {}),
  });
  const task = readMsdTask(opts.data, opts.labels ? { labels: opts.labels } : {});
  const numClasses = task.labels.length;
  const k = opts.folds ?? 5;
  const fold = opts.fold ?? 0;
  const split = opts.allCases
    ? { train: task.cases.map((_, i) => i), val: [] as number[] }
    : kFold(task.cases.length, k, fold, opts.seed);
  const read = task.cases.map((c) => ({ image: readNifti(c.image), label: readNifti(c.label) }));
  const fp = fingerprint(
    split.train.map((i) => read[i] as { image: MedicalImage; label: MedicalImage }),
    task.modality,
    numClasses,
  );
  const budget: SegBudget = {
    minutes: opts.budget?.minutes ?? 60,
    cores: opts.budget?.cores ?? engine.threads,
    ...(opts.budget?.macsPerCoreSecond !== undefined
      ? { macsPerCoreSecond: opts.budget.macsPerCoreSecond }
      : {}),
    ...(opts.budget?.coreSecondsPerActivation !== undefined
      ? { coreSecondsPerActivation: opts.budget.coreSecondsPerActivation }
      : {}),
    ...(opts.budget?.reserve !== undefined ? { reserve: opts.budget.reserve } : {}),
  };
  const plan: SegPlan = { ...planSegmentation(fp, budget), ...opts.plan };
  log(
    `plan: patch ${plan.patch.join("x")}, depth ${plan.depth}, ${plan.baseFilters} filters, batch ${plan.batchSize}, ` +
      `${plan.steps} steps, spacing ${plan.targetSpacing.join("x")} mm; ${split.train.length} train / ${split.val.length} val cases`,
  );
  const train = split.train.map((i) => {
    const c = task.cases[i] as MsdCase;
    const r = read[i] as { image: MedicalImage; label: MedicalImage };
    return prepare(c, r.image, r.label, plan);
  });

  const model = createUNet({
    inputShape: [...plan.patch, 1],
    numClasses,
    seed: opts.seed,
    baseFilters: plan.baseFilters,
    depth: plan.depth,
    deepSupervision: plan.deepSupervision,
  });
  const optimizer = new Adam({ learningRate: plan.learningRate });
  const vars = model.trainableWeights.map((wt) => wt.read() as tf.Variable);
  const rng = new Rng(opts.seed);
  const [pd, ph, pw] = plan.patch;
  const pn = pd * ph * pw;
  const B = plan.batchSize;
  const scales = Array.from({ length: plan.deepSupervision + 1 }, (_, s) => s);
  const weights = scales.map((s) => 0.5 ** s);
  const wsum = weights.reduce((a, b) => a + b, 0);
  let step = 0;
  let stoppedEarly = false;
  const trainStart = performance.now();
  let lossAvg = Number.NaN;
  while (step < plan.steps) {
    if (opts.maxMinutes !== undefined && (performance.now() - trainStart) / 60000 > opts.maxMinutes) {
      stoppedEarly = true;
      log(`wall-clock cap of ${opts.maxMinutes} min reached after ${step} of ${plan.steps} steps`);
      break;
    }
    const xs = new Float32Array(B * pn);
    const ys = scales.map((s) => new Float32Array((B * pn * numClasses) / 8 ** s));
    for (let b = 0; b < B; b++) {
      const c = train[rng.int(0, train.length - 1)] as Prepared;
      const p = sampleSegPatch(c.image, c.label, c.locations, plan.patch, rng, {
        ...opts.augment,
        foregroundProb: plan.foregroundProb,
      });
      xs.set(p.image, b * pn);
      for (const s of scales) {
        const lab = s === 0 ? p.label : downsampleLabel(p.label, plan.patch, s);
        oneHot(lab, numClasses, ys[s] as Float32Array, b * lab.length * numClasses);
      }
    }
    optimizer.learningRate = plan.learningRate * (1 - step / plan.steps) ** 0.9;
    const loss = tf.tidy(() => {
      const x = tf.tensor(xs, [B, pd, ph, pw, 1]);
      const targets = scales.map((s) =>
        tf.tensor(ys[s] as Float32Array, [B, pd / 2 ** s, ph / 2 ** s, pw / 2 ** s, numClasses]),
      );
      const { value, grads } = tf.variableGrads(() => {
        const outs = model.apply(x, { training: true }) as tf.Tensor | tf.Tensor[];
        const list = Array.isArray(outs) ? outs : [outs];
        let total: tf.Tensor = tf.scalar(0);
        list.forEach((o, s) => {
          const l = diceCeLoss(targets[s] as tf.Tensor, o, { includeBackground: false });
          total = tf.add(total, tf.mul(l, (weights[s] as number) / wsum));
        });
        return total as tf.Scalar;
      }, vars);
      optimizer.apply(
        vars,
        vars.map((v) => grads[v.name] as tf.Tensor),
      );
      return value.dataSync()[0] as number;
    });
    step++;
    lossAvg = Number.isNaN(lossAvg) ? loss : 0.98 * lossAvg + 0.02 * loss;
    if (step % (opts.logEvery ?? 50) === 0 || step === plan.steps) {
      const min = (performance.now() - trainStart) / 60000;
      log(
        `step ${step}/${plan.steps} loss ${lossAvg.toFixed(4)} lr ${optimizer.learningRate.toExponential(2)} ${min.toFixed(1)} min`,
      );
    }
  }
  const trainSeconds = (performance.now() - trainStart) / 1000;

  let validation: SegEvaluation | undefined;
  if (split.val.length > 0) {
    const preds = split.val.map((i) => {
      const c = task.cases[i] as MsdCase;
      const r = read[i] as { image: MedicalImage; label: MedicalImage };
      return {
        id: c.id,
        pred: predictVolume(model, plan, r.image, { mirror: opts.mirror ?? true }),
        truth: r.label,
      };
    });
    validation = evaluateSegmentations(preds, task.labels, { seed: opts.seed });
    for (const [name, m] of Object.entries(validation.summary)) {
      const dsc = m["dice"];
      if (dsc)
        log(`fold ${fold} ${name}: Dice ${dsc.mean.toFixed(4)} [${dsc.lo.toFixed(4)}, ${dsc.hi.toFixed(4)}]`);
    }
  }
  mkdirSync(opts.out, { recursive: true });
  await saveSegBundle(opts.out, model, plan, task.labels, engine, {
    task: task.name,
    cases: task.cases.length,
    folds: opts.allCases ? null : { k, fold, seed: opts.seed, val: split.val.map((i) => task.cases[i]?.id) },
    steps: step,
    stoppedEarly,
    trainSeconds,
    threads: engine.threads,
    seed: opts.seed,
    totalSeconds: (performance.now() - started) / 1000,
  });
  const result: Segmentation3DResult = {
    plan,
    stepsRun: step,
    trainSeconds,
    trainCases: train.length,
    ...(validation ? { validation } : {}),
    stoppedEarly,
  };
  writeFileSync(join(opts.out, "metrics.json"), `${JSON.stringify(result, null, 2)}\n`);
  model.dispose();
  optimizer.dispose();
  return result;
}

async function saveSegBundle(
  dir: string,
  model: tfl.LayersModel,
  plan: SegPlan,
  labels: readonly string[],
  engine: { backend: string; versions: Record<string, string> },
  training: Record<string, unknown>,
): Promise<void> {
  await saveBundle(dir, model, {
    name: `unet3d-${String(training["task"] ?? "task")}`,
    architecture: "unet3d",
    version: "1.0.0",
    task: "segmentation",
    labels,
    input: { shape: [...plan.patch, 1], layout: "NHWC", dtype: "float32", intensity: "modality" },
    preprocessing: [],
    output: { activation: "softmax" },
    threshold: 0.5,
    training: {
      ...training,
      plan,
      backend: engine.backend,
      optimizer: "adam",
      loss: "dice+ce, deep supervision",
    },
    versions: { radiolens: VERSION, ...engine.versions },
    intendedUse: { statement: "Research and decision support only; not a medical device." },
  });
}

/** Per-fold and mean validation Dice of a k-fold cross-validation. */
export interface CrossValidationResult {
  readonly folds: readonly { readonly fold: number; readonly dice: Record<string, number> }[];
  readonly meanDice: Record<string, number>;
}

/**
 * k-fold cross-validation: trains fold 0..k−1 into `out/fold_<f>` with the same seed (hence the same split) and
 * reports each fold's mean per-case Dice per class and their mean.
 *
 * @example
 * ```ts
 * const cv = await crossValidateSegmentation3D({ data: "msd-hippocampus", out: "runs/cv", seed: 0, folds: 5 });
 * ```
 */
export async function crossValidateSegmentation3D(
  opts: Omit<Segmentation3DOptions, "fold" | "allCases">,
): Promise<CrossValidationResult> {
  const k = opts.folds ?? 5;
  const folds: { fold: number; dice: Record<string, number> }[] = [];
  for (let f = 0; f < k; f++) {
    const r = await trainSegmentation3D({ ...opts, fold: f, folds: k, out: join(opts.out, `fold_${f}`) });
    const dice: Record<string, number> = {};
    for (const [name, m] of Object.entries(r.validation?.summary ?? {}))
      dice[name] = m["dice"]?.mean ?? Number.NaN;
    folds.push({ fold: f, dice });
  }
  const names = Object.keys(folds[0]?.dice ?? {});
  const meanDice = Object.fromEntries(
    names.map((n) => [n, folds.reduce((s, f) => s + (f.dice[n] ?? 0), 0) / Math.max(1, folds.length)]),
  );
  const result = { folds, meanDice };
  mkdirSync(opts.out, { recursive: true });
  writeFileSync(join(opts.out, "cv.json"), `${JSON.stringify(result, null, 2)}\n`);
  return result;
}

/** A trained 3D segmentation bundle, ready to segment volumes. */
export interface Seg3DModel {
  readonly model: tfl.LayersModel;
  readonly plan: SegPlan;
  readonly labels: readonly string[];
  readonly card: ModelCard;
}

/**
 * Opens a bundle written by {@link trainSegmentation3D}; its plan (normalisation, spacing, patch) comes from the
 * card, so inference preprocesses exactly as training did.
 *
 * @example
 * ```ts
 * const m = await loadSeg3DModel("runs/msd-hippocampus-f0");
 * const mask = predictVolume(m.model, m.plan, readNifti("case.nii.gz"));
 * ```
 */
export async function loadSeg3DModel(dir: string): Promise<Seg3DModel> {
  const { model, card } = await loadBundle(dir);
  const plan = (card.training as { plan?: SegPlan } | undefined)?.plan;
  if (card.architecture !== "unet3d" || !plan) {
    model.dispose();
    throw new RadioLensError("RL_ERR_MODEL_INVALID", {
      path: dir,
      detail:
        "not a 3D segmentation bundle (its card has no training.plan); train one with radiolens train --data <MSD task folder>",
    });
  }
  return { model, plan, labels: card.labels, card };
}

/** Writes a predicted label map; chosen by the output name (see {@link registerSegmentationWriter}). */
export type SegmentationWriter = (path: string, mask: MedicalImage, source: MedicalImage) => void;

const segWriters: { test: (path: string) => boolean; write: SegmentationWriter }[] = [
  { test: (p) => /\.(nii|nii\.gz|hdr)$/i.test(p), write: (p, mask) => writeNifti(p, mask) },
];

/**
 * Adds an output format for predicted label maps (e.g. DICOM SEG for DICOM inputs); the first writer whose test
 * accepts the output path writes it. NIfTI (`.nii`, `.nii.gz`, `.hdr`) is built in and keeps the input's affine.
 *
 * @example
 * ```ts
 * registerSegmentationWriter((p) => p.endsWith(".dcm"), (p, mask, source) => writeDicomSeg(p, mask, source));
 * ```
 */
export function registerSegmentationWriter(test: (path: string) => boolean, write: SegmentationWriter): void {
  segWriters.unshift({ test, write });
}

/**
 * Segments image files with a bundle and writes each label map to its output path.
 *
 * @example
 * ```ts
 * await predictSegmentationFiles("runs/msd-hippocampus-f0", [{ input: "case.nii.gz", output: "mask.nii.gz" }]);
 * ```
 */
export async function predictSegmentationFiles(
  modelDir: string,
  files: readonly { readonly input: string; readonly output: string }[],
  opts: { readonly mirror?: boolean; readonly backend?: BackendName; readonly threads?: number } = {},
): Promise<{ readonly output: string; readonly voxels: Record<string, number> }[]> {
  await initEngine({
    ...(opts.backend ? { backend: opts.backend } : {}),
    ...(opts.threads !== undefined ? { threads: opts.threads } : {}),
  });
  const m = await loadSeg3DModel(modelDir);
  try {
    return files.map(({ input, output }) => {
      const writer = segWriters.find((w) => w.test(output));
      if (!writer) {
        throw new RadioLensError("RL_ERR_USAGE", {
          detail: `no segmentation writer for ${output}; name it .nii.gz, .nii or .hdr`,
        });
      }
      const image = readNifti(input);
      const mask = predictVolume(m.model, m.plan, image, { mirror: opts.mirror ?? true });
      writer.write(output, mask, image);
      const voxels: Record<string, number> = {};
      m.labels.forEach((name, c) => {
        if (c > 0) voxels[name] = 0;
      });
      for (const v of mask.data)
        if (v > 0) voxels[m.labels[v] as string] = (voxels[m.labels[v] as string] ?? 0) + 1;
      return { output, voxels };
    });
  } finally {
    m.model.dispose();
  }
}

/**
 * Scores a bundle on an MSD task folder: by default on the validation cases recorded in its card (the fold it
 * never trained on), or on every case; per-case and mean Dice, IoU, HD95, ASSD and surface Dice per class with
 * bootstrap CIs ({@link evaluateSegmentations}).
 *
 * @example
 * ```ts
 * const ev = await evaluateSegmentationBundle({ model: "runs/msd-hippocampus-f0", data: "msd-hippocampus" });
 * ```
 */
export async function evaluateSegmentationBundle(opts: {
  readonly model: string;
  readonly data: string;
  readonly cases?: "validation" | "all";
  readonly mirror?: boolean;
  readonly tolerance?: number;
  readonly backend?: BackendName;
  readonly threads?: number;
}): Promise<SegEvaluation> {
  await initEngine({
    ...(opts.backend ? { backend: opts.backend } : {}),
    ...(opts.threads !== undefined ? { threads: opts.threads } : {}),
  });
  const m = await loadSeg3DModel(opts.model);
  try {
    const task = readMsdTask(opts.data, { labels: m.labels });
    const folds = (m.card.training as { folds?: { val?: string[] } | null } | undefined)?.folds;
    const wanted = opts.cases === "all" ? undefined : new Set(folds?.val ?? []);
    if (wanted && wanted.size === 0) {
      throw new RadioLensError("RL_ERR_USAGE", {
        detail: "the bundle was trained on every case and has no validation fold; pass --cases all",
      });
    }
    const cases = task.cases.filter((c) => !wanted || wanted.has(c.id));
    const pairs = cases.map((c) => {
      const image = readNifti(c.image);
      return {
        id: c.id,
        pred: predictVolume(m.model, m.plan, image, { mirror: opts.mirror ?? true }),
        truth: readNifti(c.label),
      };
    });
    return evaluateSegmentations(pairs, m.labels, {
      ...(opts.tolerance !== undefined ? { tolerance: opts.tolerance } : {}),
    });
  } finally {
    m.model.dispose();
  }
}
