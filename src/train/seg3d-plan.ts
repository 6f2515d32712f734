/** Dataset fingerprint and a CPU-budget planner for 3D segmentation, in the spirit of nnU-Net's experiment planning. */
import { RadioLensError } from "../core/errors.js";
import type { MedicalImage } from "../core/image.js";
import type { ForegroundIntensity } from "../transforms/volume/seg3d.js";

/** What the planner needs to know about a dataset (nnU-Net's "dataset fingerprint"). */
export interface SegFingerprint {
  readonly cases: number;
  readonly modality: string;
  readonly numClasses: number;
  /** Median voxel size in mm along (slices, rows, cols). */
  readonly medianSpacing: readonly [number, number, number];
  /** 10th percentile of the voxel sizes per axis (the target of an anisotropic axis). */
  readonly spacingP10: readonly [number, number, number];
  /** Median shape along (slices, rows, cols) at the images' own spacing. */
  readonly medianShape: readonly [number, number, number];
  readonly foreground: ForegroundIntensity;
}

/** The plan a training run follows; written into the bundle so inference preprocesses the same way. */
export interface SegPlan {
  readonly modality: string;
  readonly numClasses: number;
  readonly targetSpacing: readonly [number, number, number];
  readonly patch: readonly [number, number, number];
  readonly depth: number;
  readonly baseFilters: number;
  readonly batchSize: number;
  /** Optimizer steps: the training length, fixed in advance so a run is the same on any machine. */
  readonly steps: number;
  readonly learningRate: number;
  /** Deep-supervision heads below full resolution. */
  readonly deepSupervision: number;
  /** Share of patches centred on a foreground voxel (nnU-Net: 1/3). */
  readonly foregroundProb: number;
  /** CT only: the clipping window and z-score statistics. */
  readonly foreground: ForegroundIntensity;
  /** Estimated CPU seconds (one core) per step, from {@link estimateStepCoreSeconds}. */
  readonly estimatedCoreSecondsPerStep: number;
}

/** Budget of a run: wall-clock minutes on `cores` cores. */
export interface SegBudget {
  readonly minutes: number;
  readonly cores: number;
  /**
   * Multiply-accumulates per second per core of the step's convolutions on this engine (default 4.3e10, fitted
   * with `coreSecondsPerActivation` on whole training steps of an AVX2 EPYC core with the oneDNN backend).
   */
  readonly macsPerCoreSecond?: number;
  /**
   * Core-seconds per element of the step's activation maps (default 5.0e-7): the memory-bound part of a step
   * (normalisation, activations, concatenation, loss, optimizer), which on 8-32-channel 3D maps outweighs the
   * convolutions' arithmetic.
   */
  readonly coreSecondsPerActivation?: number;
  /** Share of the budget kept for data loading, validation and saving (default 0.2). */
  readonly reserve?: number;
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  return n === 0
    ? 0
    : n % 2
      ? (s[(n - 1) / 2] as number)
      : ((s[n / 2 - 1] as number) + (s[n / 2] as number)) / 2;
}

function percentile(sorted: Float32Array | readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.round((p / 100) * (sorted.length - 1))));
  return sorted[i] as number;
}

/** Spacing of a MedicalImage volume in (slices, rows, cols) order (MedicalImage stores x, y, z). */
export function zyxSpacing(img: MedicalImage): [number, number, number] {
  const [sx, sy, sz] = img.spacing as [number, number, number];
  return [sz ?? 1, sy ?? 1, sx ?? 1];
}

/**
 * Computes the fingerprint of image/label pairs: median spacing and shape, and foreground intensity statistics
 * from up to 10,000 evenly strided foreground voxels per case (nnU-Net samples the same way).
 *
 * @example
 * ```ts
 * const fp = fingerprint(cases.map((c) => ({ image: readNifti(c.image), label: readNifti(c.label) })), "MRI", 3);
 * ```
 */
export function fingerprint(
  pairs: readonly { readonly image: MedicalImage; readonly label: MedicalImage }[],
  modality: string,
  numClasses: number,
): SegFingerprint {
  if (pairs.length === 0) throw new RadioLensError("RL_ERR_DATA_EMPTY", { detail: "no cases to plan from" });
  const spacings = pairs.map((p) => zyxSpacing(p.image));
  const shapes = pairs.map((p) => p.image.shape.slice(0, 3) as [number, number, number]);
  const fg: number[] = [];
  for (const { image, label } of pairs) {
    let count = 0;
    for (let i = 0; i < label.data.length; i++) if ((label.data[i] as number) > 0) count++;
    const stride = Math.max(1, Math.floor(count / 10000));
    let seen = 0;
    for (let i = 0; i < label.data.length; i++) {
      if ((label.data[i] as number) > 0 && seen++ % stride === 0) fg.push(image.data[i] as number);
    }
  }
  const sorted = Float32Array.from(fg).sort();
  let sum = 0;
  let sq = 0;
  for (const v of sorted) {
    sum += v;
    sq += v * v;
  }
  const n = Math.max(1, sorted.length);
  const mean = sum / n;
  const axis = (arr: readonly (readonly number[])[], a: number) => arr.map((s) => s[a] as number);
  const p10 = (a: number) =>
    percentile(
      [...axis(spacings, a)].sort((x, y) => x - y),
      10,
    );
  return {
    cases: pairs.length,
    modality,
    numClasses,
    medianSpacing: [0, 1, 2].map((a) => median(axis(spacings, a))) as [number, number, number],
    spacingP10: [p10(0), p10(1), p10(2)],
    medianShape: [0, 1, 2].map((a) => median(axis(shapes, a))) as [number, number, number],
    foreground: {
      mean,
      std: Math.sqrt(Math.max(0, sq / n - mean * mean)),
      p005: percentile(sorted, 0.5),
      p995: percentile(sorted, 99.5),
    },
  };
}

/**
 * Multiply-accumulates of one training step (forward + both backward passes ≈ 3× forward) of the 3D U-Net of
 * unet.ts: two 3×3×3 convs per level on the way down and up, the 1×1×1 up-convs to 8·F channels, the heads.
 */
export function estimateStepMacs(
  patch: readonly [number, number, number],
  depth: number,
  base: number,
  batch: number,
  numClasses: number,
): number {
  let macs = 0;
  let vox = patch[0] * patch[1] * patch[2];
  let cin = 1;
  for (let l = 0; l <= depth; l++) {
    const f = base * 2 ** l;
    macs += vox * 27 * (cin * f + f * f);
    if (l < depth) {
      // Decoder at this level: 2F → F and F → F convs, the up-conv from 2F to 8F channels one level lower.
      macs += vox * 27 * (2 * f * f + f * f) + (vox / 8) * (2 * f) * (8 * f);
    }
    cin = f;
    vox /= 8;
  }
  macs += patch[0] * patch[1] * patch[2] * base * numClasses;
  return 3 * batch * macs;
}

/**
 * Elements of the activation maps of one step's U-Net (one per level at its width, times the batch): the measure of
 * the memory-bound work in {@link estimateStepCoreSeconds}.
 */
export function estimateStepActivations(
  patch: readonly [number, number, number],
  depth: number,
  base: number,
  batch: number,
): number {
  let vox = patch[0] * patch[1] * patch[2];
  let acts = 0;
  for (let l = 0; l <= depth; l++) {
    acts += vox * base * 2 ** l;
    vox /= 8;
  }
  return batch * acts;
}

// Fitted on whole steps (40 each after the first) of patch 40×56×40, depth 3, at 8/16/24 filters and batch 2/4 on a
// 2-core AVX2 EPYC, idle: measured 1.20/2.30/4.43 and 2.33 core-s against 1.12/2.57/4.34 and 2.24 predicted.
const DEFAULT_MACS_PER_CORE_SECOND = 4.3e10;
const DEFAULT_CORE_SECONDS_PER_ACTIVATION = 5.0e-7;

/**
 * CPU seconds (one core) of one training step: the convolutions' multiply-accumulates at the budget's rate plus
 * the activation elements at its per-element cost. Either term alone misjudges width against batch: doubling the
 * filters quadruples the MACs but doubles the step's time on this engine.
 */
export function estimateStepCoreSeconds(
  patch: readonly [number, number, number],
  depth: number,
  base: number,
  batch: number,
  numClasses: number,
  budget: Pick<SegBudget, "macsPerCoreSecond" | "coreSecondsPerActivation"> = {},
): number {
  return (
    estimateStepMacs(patch, depth, base, batch, numClasses) /
      (budget.macsPerCoreSecond ?? DEFAULT_MACS_PER_CORE_SECOND) +
    estimateStepActivations(patch, depth, base, batch) *
      (budget.coreSecondsPerActivation ?? DEFAULT_CORE_SECONDS_PER_ACTIVATION)
  );
}

/**
 * Plans a 3D U-Net run for a fingerprint and a CPU budget. As nnU-Net: the target spacing is the median spacing
 * (the 10th percentile on an axis more than 3× coarser than the finest), the patch covers the median shape at that
 * spacing rounded up to a multiple of 2^depth, and depth grows while every axis of the bottleneck keeps at least
 * 4 voxels (at most 5 poolings). Unlike nnU-Net, whose plan fills a GPU's memory, the width and batch come from
 * time: the widest net (8..32 filters) and batch (2..4) that still give at least `minSteps` optimizer steps in the
 * budget; the step count is then fixed by the budget, so a run is deterministic and its length machine-independent.
 *
 * @example
 * ```ts
 * const plan = planSegmentation(fp, { minutes: 60, cores: 2 });
 * ```
 */
export function planSegmentation(
  fp: SegFingerprint,
  budget: SegBudget,
  opts: { readonly minSteps?: number; readonly maxPatchVoxels?: number } = {},
): SegPlan {
  const spacing = [...fp.medianSpacing] as [number, number, number];
  const finest = Math.min(...spacing);
  for (let a = 0; a < 3; a++)
    if ((spacing[a] as number) > 3 * finest) spacing[a] = fp.spacingP10[a] as number;
  const shape = [0, 1, 2].map((a) =>
    Math.max(1, Math.round(((fp.medianShape[a] as number) * (fp.medianSpacing[a] as number)) / spacing[a]!)),
  );
  const maxVox = opts.maxPatchVoxels ?? 128 ** 3;
  let target = [...shape];
  while (target[0]! * target[1]! * target[2]! > maxVox) {
    const big = target.indexOf(Math.max(...target));
    target[big] = Math.floor(target[big]! * 0.9);
  }
  let depth = 1;
  while (depth < 5 && target.every((s) => Math.ceil(s / 2 ** (depth + 1)) >= 4)) depth++;
  const patch = target.map((s) => Math.ceil(s / 2 ** depth) * 2 ** depth) as [number, number, number];
  target = patch;
  const reserve = budget.reserve ?? 0.2;
  const coreSeconds = budget.minutes * 60 * budget.cores * (1 - reserve);
  const minSteps = opts.minSteps ?? 1500;
  let choice = { base: 8, batch: 2 };
  for (const base of [8, 12, 16, 24, 32]) {
    for (const batch of [2, 4]) {
      const s = estimateStepCoreSeconds(patch, depth, base, batch, fp.numClasses, budget);
      if (coreSeconds / s >= minSteps) choice = { base, batch };
    }
  }
  const perStep = estimateStepCoreSeconds(patch, depth, choice.base, choice.batch, fp.numClasses, budget);
  return {
    modality: fp.modality,
    numClasses: fp.numClasses,
    targetSpacing: spacing,
    patch,
    depth,
    baseFilters: choice.base,
    batchSize: choice.batch,
    steps: Math.max(1, Math.floor(coreSeconds / perStep)),
    learningRate: 3e-3,
    deepSupervision: Math.min(2, depth - 1),
    foregroundProb: 1 / 3,
    foreground: fp.foreground,
    estimatedCoreSecondsPerStep: perStep,
  };
}
