/** 3D segmentation inference (sliding window, Gaussian weighting, mirroring) and its per-case evaluation with bootstrap CIs. */
import type * as tfl from "@tensorflow/tfjs-layers";
import { RadioLensError } from "../core/errors.js";
import { type MedicalImage, withData } from "../core/image.js";
import { tf } from "../engine/backend.js";
import { bootstrapCi } from "../metrics/bootstrap.js";
import { computeLabelMapScores, type SegmentationScores } from "../metrics/segmentation.js";
import { normalizeIntensity, resampledShape, resampleVolume } from "../transforms/volume/seg3d.js";
import { type SegPlan, zyxSpacing } from "./seg3d-plan.js";

/** Options of {@link predictVolume}. */
export interface PredictVolumeOptions {
  /** Average over the 8 mirrorings of the patch (nnU-Net's test-time augmentation; default true). */
  readonly mirror?: boolean;
  /** Window step as a fraction of the patch (default 0.5, as nnU-Net). */
  readonly stepFraction?: number;
}

/**
 * Gaussian importance map over a patch, σ = 1/8 of the patch size per axis (Isensee et al. 2021, Methods
 * "inference"): centre voxels of a window count more than its borders, where the receptive field is cut.
 */
export function gaussianMap(patch: readonly [number, number, number]): Float32Array {
  const [pd, ph, pw] = patch;
  const g = new Float32Array(pd * ph * pw);
  const axis = (n: number) =>
    Array.from({ length: n }, (_, i) => {
      const s = n / 8;
      const d = i - (n - 1) / 2;
      return Math.exp(-(d * d) / (2 * s * s));
    });
  const gz = axis(pd);
  const gy = axis(ph);
  const gx = axis(pw);
  let k = 0;
  for (let z = 0; z < pd; z++)
    for (let y = 0; y < ph; y++)
      for (let x = 0; x < pw; x++, k++) {
        g[k] = (gz[z] as number) * (gy[y] as number) * (gx[x] as number);
      }
  return g;
}

/** Window starts along one axis: evenly spread, first at 0, last flush with the end, step ≤ stepFraction·patch. */
function starts(size: number, patch: number, frac: number): number[] {
  if (size <= patch) return [0];
  const n = Math.ceil((size - patch) / (patch * frac)) + 1;
  return Array.from({ length: n }, (_, i) => Math.round((i * (size - patch)) / (n - 1)));
}

/** Flips a `[d, h, w, c]` block (c values per voxel) along the axes whose bit is set in `mask` (1 = z, 2 = y, 4 = x). */
function flipBlock(
  src: Float32Array,
  shape: readonly number[],
  c: number,
  mask: number,
  dst: Float32Array,
): void {
  const [d, h, w] = shape as [number, number, number];
  let k = 0;
  for (let z = 0; z < d; z++) {
    const sz = mask & 1 ? d - 1 - z : z;
    for (let y = 0; y < h; y++) {
      const sy = mask & 2 ? h - 1 - y : y;
      for (let x = 0; x < w; x++) {
        const sx = mask & 4 ? w - 1 - x : x;
        const s = ((sz * h + sy) * w + sx) * c;
        for (let ch = 0; ch < c; ch++, k++) dst[k] = src[s + ch] as number;
      }
    }
  }
}

/**
 * Segments one volume: the plan's normalisation and resampling, sliding windows of the plan's patch (padded with
 * zeros where the volume is smaller), softmax averaged over mirrorings and weighted by {@link gaussianMap}, the
 * class probabilities resampled back to the input grid and arg-maxed. Returns the label map on the input's grid
 * and geometry (a one-channel uint8 MedicalImage that keeps the input's affine and NIfTI metadata).
 *
 * @example
 * ```ts
 * const mask = predictVolume(model, plan, readNifti("case.nii.gz"));
 * writeNifti("mask.nii.gz", mask);
 * ```
 */
export function predictVolume(
  model: tfl.LayersModel,
  plan: SegPlan,
  image: MedicalImage,
  opts: PredictVolumeOptions = {},
): MedicalImage {
  if (image.shape.length !== 4) {
    throw new RadioLensError("RL_ERR_SHAPE_MISMATCH", {
      detail: `3D segmentation needs a volume [slices, rows, cols, channels], got [${image.shape.join(", ")}]`,
    });
  }
  const [d, h, w, ch] = image.shape as [number, number, number, number];
  const n = d * h * w;
  const first =
    ch === 1 ? image.data : Float32Array.from({ length: n }, (_, i) => image.data[i * ch] as number);
  const norm = normalizeIntensity(first, plan.modality, plan.foreground);
  const shape0: [number, number, number] = [d, h, w];
  const rs = resampledShape(shape0, zyxSpacing(image), plan.targetSpacing);
  const vol = resampleVolume(norm, shape0, rs, "linear");
  const [pd, ph, pw] = plan.patch;
  const C = plan.numClasses;
  // Pad to at least the patch, centred, so a small volume is one window.
  const P = [Math.max(rs[0], pd), Math.max(rs[1], ph), Math.max(rs[2], pw)] as [number, number, number];
  const off = [0, 1, 2].map((a) => Math.floor((P[a]! - rs[a]!) / 2)) as [number, number, number];
  const padded = new Float32Array(P[0] * P[1] * P[2]);
  for (let z = 0; z < rs[0]; z++)
    for (let y = 0; y < rs[1]; y++) {
      const s = (z * rs[1] + y) * rs[2];
      padded.set(vol.subarray(s, s + rs[2]), ((z + off[0]) * P[1] + y + off[1]) * P[2] + off[2]);
    }
  const gauss = gaussianMap(plan.patch);
  const acc = new Float32Array(P[0] * P[1] * P[2] * C);
  const wsum = new Float32Array(P[0] * P[1] * P[2]);
  const frac = opts.stepFraction ?? 0.5;
  const mirrors = opts.mirror === false ? [0] : [0, 1, 2, 3, 4, 5, 6, 7];
  const pn = pd * ph * pw;
  const win = new Float32Array(pn);
  const batch = new Float32Array(pn * mirrors.length);
  const flippedBack = new Float32Array(pn * C);
  for (const z0 of starts(P[0], pd, frac))
    for (const y0 of starts(P[1], ph, frac))
      for (const x0 of starts(P[2], pw, frac)) {
        for (let z = 0; z < pd; z++)
          for (let y = 0; y < ph; y++) {
            const s = ((z + z0) * P[1] + y + y0) * P[2] + x0;
            win.set(padded.subarray(s, s + pw), (z * ph + y) * pw);
          }
        mirrors.forEach((m, i) => {
          flipBlock(win, plan.patch, 1, m, batch.subarray(i * pn, (i + 1) * pn));
        });
        const probs = tf.tidy(() => {
          const out = model.predict(tf.tensor(batch, [mirrors.length, pd, ph, pw, 1]));
          return (Array.isArray(out) ? (out[0] as tf.Tensor) : out).dataSync() as Float32Array;
        });
        const mean = new Float32Array(pn * C);
        mirrors.forEach((m, i) => {
          flipBlock(probs.subarray(i * pn * C, (i + 1) * pn * C), plan.patch, C, m, flippedBack);
          for (let k = 0; k < pn * C; k++) mean[k] = (mean[k] as number) + (flippedBack[k] as number);
        });
        let k = 0;
        for (let z = 0; z < pd; z++)
          for (let y = 0; y < ph; y++)
            for (let x = 0; x < pw; x++, k++) {
              const t = ((z + z0) * P[1] + y + y0) * P[2] + x + x0;
              const g = gauss[k] as number;
              wsum[t] = (wsum[t] as number) + g;
              for (let c = 0; c < C; c++)
                acc[t * C + c] = (acc[t * C + c] as number) + g * (mean[k * C + c] as number);
            }
      }
  // Crop the padding, resample each class's probability back to the input grid, arg-max.
  const perClass: Float32Array[] = [];
  for (let c = 0; c < C; c++) {
    const p = new Float32Array(rs[0] * rs[1] * rs[2]);
    let k = 0;
    for (let z = 0; z < rs[0]; z++)
      for (let y = 0; y < rs[1]; y++)
        for (let x = 0; x < rs[2]; x++, k++) {
          const t = ((z + off[0]) * P[1] + y + off[1]) * P[2] + x + off[2];
          p[k] = (acc[t * C + c] as number) / Math.max(wsum[t] as number, 1e-12);
        }
    perClass.push(resampleVolume(p, rs, shape0, "linear"));
  }
  const labels = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    let best = 0;
    let bv = perClass[0]![i] as number;
    for (let c = 1; c < C; c++) {
      const v = perClass[c]![i] as number;
      if (v > bv) {
        bv = v;
        best = c;
      }
    }
    labels[i] = best;
  }
  return withData(image, labels, [d, h, w, 1]);
}

/** Scores of one case: per foreground class, Dice, IoU, HD95, ASSD and surface Dice (mm). */
export interface CaseScores {
  readonly id: string;
  readonly byClass: Record<string, SegmentationScores>;
}

/** Mean over cases and its 95% bootstrap interval, per class and metric. */
export interface SegEvaluation {
  readonly cases: readonly CaseScores[];
  /** `summary[class][metric] = { mean, lo, hi, n }`; means skip cases where a metric is undefined (NaN). */
  readonly summary: Record<string, Record<string, { mean: number; lo: number; hi: number; n: number }>>;
  readonly tolerance: number;
}

/**
 * Per-case scores of predicted label maps against references, with the class names of the plan (background
 * first), and their means as nnU-Net reports them (mean over cases of the per-case value, per class) with seeded
 * percentile bootstrap 95% intervals over cases. Distances use the reference's voxel spacing (mm); surface Dice
 * uses `tolerance` mm (default 1).
 *
 * @example
 * ```ts
 * const ev = evaluateSegmentations([{ id: "c1", pred, truth }], ["background", "Anterior", "Posterior"]);
 * ev.summary["Anterior"]!.dice!.mean;
 * ```
 */
export function evaluateSegmentations(
  pairs: readonly { readonly id: string; readonly pred: MedicalImage; readonly truth: MedicalImage }[],
  classNames: readonly string[],
  opts: { readonly tolerance?: number; readonly seed?: number } = {},
): SegEvaluation {
  const tolerance = opts.tolerance ?? 1;
  const labels = classNames.map((_, i) => i).filter((i) => i > 0);
  const cases: CaseScores[] = pairs.map(({ id, pred, truth }) => {
    const shape = truth.shape.slice(0, 3);
    const spacing = zyxSpacing(truth);
    const scores = computeLabelMapScores(
      { data: pred.data, shape, spacing },
      { data: Uint8Array.from(truth.data as ArrayLike<number>, (v) => Math.round(v)), shape, spacing },
      labels,
      { tolerance },
    );
    const byClass: Record<string, SegmentationScores> = {};
    for (const l of labels) byClass[classNames[l] as string] = scores[l] as SegmentationScores;
    return { id, byClass };
  });
  const summary: SegEvaluation["summary"] = {};
  const metrics = ["dice", "iou", "hd95", "assd", "surfaceDice"] as const;
  for (const l of labels) {
    const name = classNames[l] as string;
    const values = metrics.map((m) => cases.map((c) => c.byClass[name]?.[m] ?? Number.NaN));
    const weightedMean = (vals: number[], wts: Int32Array | undefined) => {
      let s = 0;
      let n = 0;
      vals.forEach((v, i) => {
        const wt = wts ? (wts[i] as number) : 1;
        if (Number.isFinite(v) && wt > 0) {
          s += v * wt;
          n += wt;
        }
      });
      return n > 0 ? s / n : Number.NaN;
    };
    const ci = bootstrapCi(
      cases.length,
      (wts) => Object.fromEntries(metrics.map((m, i) => [m, weightedMean(values[i] as number[], wts)])),
      { seed: opts.seed ?? 0 },
    );
    summary[name] = Object.fromEntries(
      metrics.map((m, i) => {
        const iv = ci.intervals[m] as { lo: number; hi: number };
        const vals = values[i] as number[];
        return [
          m,
          {
            mean: weightedMean(vals, undefined),
            lo: iv.lo,
            hi: iv.hi,
            n: vals.filter(Number.isFinite).length,
          },
        ];
      }),
    );
  }
  return { cases, summary, tolerance };
}
