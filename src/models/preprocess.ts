/** Applies a model card's declarative preprocessing to a MedicalImage, producing the exact input tensor data. */
import { RadioLensError } from "../core/errors.js";
import type { MedicalImage } from "../core/image.js";
import type { ModelCard, PreprocessStep } from "./bundle.js";

/** A float image in the working layout `[rows, cols, channels]`. */
interface Plane {
  data: Float32Array;
  rows: number;
  cols: number;
  ch: number;
}

function toGray(p: Plane): Plane {
  if (p.ch === 1) return p;
  const n = p.rows * p.cols;
  const out = new Float32Array(n);
  // ITU-R BT.601 luma, the weights of PIL's convert("L") that MedMNIST used.
  for (let i = 0; i < n; i++) {
    out[i] =
      0.299 * (p.data[i * p.ch] as number) +
      0.587 * (p.data[i * p.ch + 1] as number) +
      0.114 * (p.data[i * p.ch + 2] as number);
  }
  return { data: out, rows: p.rows, cols: p.cols, ch: 1 };
}

function toRgb(p: Plane): Plane {
  if (p.ch === 3) return p;
  const n = p.rows * p.cols;
  const out = new Float32Array(n * 3);
  for (let i = 0; i < n; i++) out.fill(p.data[i * p.ch] as number, i * 3, i * 3 + 3);
  return { data: out, rows: p.rows, cols: p.cols, ch: 3 };
}

/** Per output index along one axis: the input indices and weights that make it, stored flat. */
interface Axis {
  readonly idx: Int32Array;
  readonly w: Float32Array;
  readonly start: Int32Array;
}

const axisCache = new Map<string, Axis>();

/**
 * Resampling weights from `inN` to `outN` samples: exact area (box) weights when shrinking, bilinear with
 * half-pixel centres when enlarging. Cached: a served model sees the same few sizes again and again.
 */
function axisWeights(inN: number, outN: number): Axis {
  const key = `${inN}:${outN}`;
  const hit = axisCache.get(key);
  if (hit) return hit;
  const idx: number[] = [];
  const w: number[] = [];
  const start = new Int32Array(outN + 1);
  const scale = inN / outN;
  for (let o = 0; o < outN; o++) {
    start[o] = idx.length;
    if (scale >= 1) {
      const a = o * scale;
      const b = a + scale;
      for (let i = Math.floor(a); i < Math.ceil(b) && i < inN; i++) {
        const cover = Math.min(b, i + 1) - Math.max(a, i);
        if (cover > 0) {
          idx.push(i);
          w.push(cover / scale);
        }
      }
    } else {
      const x = Math.min(Math.max((o + 0.5) * scale - 0.5, 0), inN - 1);
      const i0 = Math.floor(x);
      const i1 = Math.min(i0 + 1, inN - 1);
      idx.push(i0, i1);
      w.push(1 - (x - i0), x - i0);
    }
  }
  start[outN] = idx.length;
  const axis = { idx: Int32Array.from(idx), w: Float32Array.from(w), start };
  if (axisCache.size >= 64) axisCache.clear();
  axisCache.set(key, axis);
  return axis;
}

/**
 * Resizes by area averaging when shrinking (exact box filter: each output pixel is the mean of the input area it
 * covers, so a 2000-pixel X-ray does not alias down to 28) and bilinear interpolation (half-pixel centres) when
 * enlarging.
 */
function resize(p: Plane, rows: number, cols: number): Plane {
  if (rows === p.rows && cols === p.cols) return p;
  const out = new Float32Array(rows * cols * p.ch);
  const ry = axisWeights(p.rows, rows);
  const rx = axisWeights(p.cols, cols);
  // Separable: rows first into a temporary [rows, p.cols, ch].
  const tmp = new Float32Array(rows * p.cols * p.ch);
  for (let y = 0; y < rows; y++) {
    for (let k = ry.start[y] as number; k < (ry.start[y + 1] as number); k++) {
      const src = (ry.idx[k] as number) * p.cols * p.ch;
      const wt = ry.w[k] as number;
      const dst = y * p.cols * p.ch;
      for (let j = 0; j < p.cols * p.ch; j++)
        tmp[dst + j] = (tmp[dst + j] as number) + wt * (p.data[src + j] as number);
    }
  }
  for (let y = 0; y < rows; y++) {
    for (let x = 0; x < cols; x++) {
      for (let k = rx.start[x] as number; k < (rx.start[x + 1] as number); k++) {
        const src = (y * p.cols + (rx.idx[k] as number)) * p.ch;
        const wt = rx.w[k] as number;
        const dst = (y * cols + x) * p.ch;
        for (let c = 0; c < p.ch; c++)
          out[dst + c] = (out[dst + c] as number) + wt * (tmp[src + c] as number);
      }
    }
  }
  return { data: out, rows, cols, ch: p.ch };
}

function applyStep(p: Plane, step: PreprocessStep): Plane {
  switch (step.op) {
    case "grayscale":
      return toGray(p);
    case "rgb":
      return toRgb(p);
    case "resize":
      return resize(p, step.size[0], step.size[1]);
    case "scale": {
      const out = new Float32Array(p.data.length);
      for (let i = 0; i < out.length; i++) out[i] = (p.data[i] as number) / step.divisor;
      return { ...p, data: out };
    }
    case "normalize": {
      const out = new Float32Array(p.data.length);
      for (let i = 0; i < out.length; i++) {
        const c = i % p.ch;
        out[i] =
          ((p.data[i] as number) - (step.mean[c] ?? step.mean[0] ?? 0)) / (step.std[c] ?? step.std[0] ?? 1);
      }
      return { ...p, data: out };
    }
    case "window": {
      // Linear VOI window to [0, 1] (PS3.3 C.11.2.1.2.1 with the output range normalized).
      const lo = step.center - step.width / 2;
      const out = new Float32Array(p.data.length);
      for (let i = 0; i < out.length; i++)
        out[i] = Math.min(1, Math.max(0, ((p.data[i] as number) - lo) / step.width));
      return { ...p, data: out };
    }
  }
}

/**
 * The card's leading colour conversion and resize in one pass over the source pixels: each output row sums its
 * source rows (grey computed on the fly from RGB, BT.601 as in {@link toGray}) into one float64 row, then its
 * columns, so neither a float copy of the whole image nor a grey or row-resized intermediate is made. Gives what
 * `toGray`/`toRgb` then `resize` give, up to float32 rounding (the sums run in float64). Undefined when the steps
 * do not start that way (a colour step after the resize, a pointwise step before it) or the image is neither grey
 * nor RGB; the step-by-step path then runs.
 */
function fusedColourResize(
  img: MedicalImage,
  steps: readonly PreprocessStep[],
): { plane: Plane; rest: readonly PreprocessStep[] } | undefined {
  const [rows, cols, ch] = img.shape as [number, number, number];
  if (ch !== 1 && ch !== 3) return undefined;
  let i = 0;
  const colour = steps[0]?.op === "grayscale" || steps[0]?.op === "rgb" ? steps[0].op : undefined;
  if (colour) i++;
  const resizeStep = steps[i];
  const size = resizeStep?.op === "resize" ? resizeStep.size : undefined;
  if (size) i++;
  const rest = steps.slice(i);
  if (!colour && !size) return undefined;
  if (rest.some((s) => s.op === "grayscale" || s.op === "rgb" || s.op === "resize")) return undefined;
  const [outRows, outCols] = size ?? [rows, cols];
  // Working channels: grey from RGB is made while reading; grey to RGB is replicated at the end.
  const grey = colour === "grayscale" && ch === 3;
  const wc = grey ? 1 : ch;
  const outCh = colour === "grayscale" ? 1 : colour === "rgb" ? 3 : ch;
  const src = img.data;
  const out = new Float32Array(outRows * outCols * outCh);
  if (rows % outRows === 0 && cols % outCols === 0) {
    // Shrinking by whole factors (224 → 28): every output pixel is the plain mean of an fy × fx block, summed
    // without per-sample weights.
    const fy = rows / outRows;
    const fx = cols / outCols;
    const inv = 1 / (fy * fx);
    const acc = new Float64Array(outCols * wc);
    for (let y = 0; y < outRows; y++) {
      acc.fill(0);
      for (let r = y * fy; r < (y + 1) * fy; r++) {
        let b = r * cols * ch;
        for (let x = 0; x < outCols; x++) {
          if (grey) {
            let sum = 0;
            for (let d = 0; d < fx; d++, b += 3)
              sum += Math.fround(
                0.299 * (src[b] as number) + 0.587 * (src[b + 1] as number) + 0.114 * (src[b + 2] as number),
              );
            acc[x] = (acc[x] as number) + sum;
          } else if (wc === 1) {
            let sum = 0;
            for (let d = 0; d < fx; d++, b++) sum += src[b] as number;
            acc[x] = (acc[x] as number) + sum;
          } else {
            for (let d = 0; d < fx; d++)
              for (let c = 0; c < wc; c++, b++)
                acc[x * wc + c] = (acc[x * wc + c] as number) + (src[b] as number);
          }
        }
      }
      for (let x = 0; x < outCols; x++) {
        const dst = (y * outCols + x) * outCh;
        for (let c = 0; c < wc; c++) out[dst + c] = (acc[x * wc + c] as number) * inv;
        if (outCh === 3 && wc === 1) {
          out[dst + 1] = out[dst] as number;
          out[dst + 2] = out[dst] as number;
        }
      }
    }
    return { plane: { data: out, rows: outRows, cols: outCols, ch: outCh }, rest };
  }
  const ry = axisWeights(rows, outRows);
  const rx = axisWeights(cols, outCols);
  const acc = new Float64Array(cols * wc);
  for (let y = 0; y < outRows; y++) {
    acc.fill(0);
    for (let k = ry.start[y] as number; k < (ry.start[y + 1] as number); k++) {
      const wt = ry.w[k] as number;
      const base = (ry.idx[k] as number) * cols * ch;
      if (grey) {
        for (let x = 0, b = base; x < cols; x++, b += 3) {
          acc[x] =
            (acc[x] as number) +
            wt *
              Math.fround(
                0.299 * (src[b] as number) + 0.587 * (src[b + 1] as number) + 0.114 * (src[b + 2] as number),
              );
        }
      } else {
        for (let j = 0; j < cols * wc; j++) acc[j] = (acc[j] as number) + wt * (src[base + j] as number);
      }
    }
    for (let x = 0; x < outCols; x++) {
      const dst = (y * outCols + x) * outCh;
      for (let c = 0; c < wc; c++) {
        let v = 0;
        for (let k = rx.start[x] as number; k < (rx.start[x + 1] as number); k++)
          v += (rx.w[k] as number) * (acc[(rx.idx[k] as number) * wc + c] as number);
        out[dst + c] = v;
      }
      if (outCh === 3 && wc === 1) {
        out[dst + 1] = out[dst] as number;
        out[dst + 2] = out[dst] as number;
      }
    }
  }
  return { plane: { data: out, rows: outRows, cols: outCols, ch: outCh }, rest };
}

/**
 * The card's steps one by one, each over the whole image: the reference the fused path is tested against.
 *
 * @example
 * ```ts
 * const x = preprocessStepwise(img, card.preprocessing);
 * ```
 */
export function preprocessStepwise(img: MedicalImage, steps: readonly PreprocessStep[]): Float32Array {
  let p: Plane = {
    data: Float32Array.from(img.data),
    rows: img.shape[0] as number,
    cols: img.shape[1] as number,
    ch: img.shape[2] as number,
  };
  for (const step of steps) p = applyStep(p, step);
  return p.data;
}

/**
 * Converts an image to the model's input: runs the card's preprocessing steps in order, then checks the result
 * matches `card.input.shape` (`[rows, cols, channels]`, NHWC without the batch axis).
 *
 * @example
 * ```ts
 * const x = preprocessForModel(await readImage("cxr.jpg"), card); // Float32Array of 28*28*1
 * ```
 */
export function preprocessForModel(
  img: MedicalImage,
  card: Pick<ModelCard, "preprocessing" | "input">,
): Float32Array {
  if (img.shape.length !== 3) {
    throw new RadioLensError("RL_ERR_SHAPE_MISMATCH", {
      detail: `the model takes 2D images; this image has shape [${img.shape.join(", ")}]`,
    });
  }
  const fused = fusedColourResize(img, card.preprocessing);
  let p: Plane = fused?.plane ?? {
    data: Float32Array.from(img.data),
    rows: img.shape[0] as number,
    cols: img.shape[1] as number,
    ch: img.shape[2] as number,
  };
  for (const step of fused?.rest ?? card.preprocessing) p = applyStep(p, step);
  const want = card.input.shape;
  if (p.rows !== want[0] || p.cols !== want[1] || p.ch !== want[2]) {
    throw new RadioLensError("RL_ERR_SHAPE_MISMATCH", {
      detail: `preprocessing produced [${p.rows}, ${p.cols}, ${p.ch}] but the model takes [${want.join(", ")}]`,
    });
  }
  return p.data;
}
