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

/**
 * Resizes by area averaging when shrinking (exact box filter: each output pixel is the mean of the input area it
 * covers, so a 2000-pixel X-ray does not alias down to 28) and bilinear interpolation (half-pixel centres) when
 * enlarging.
 */
function resize(p: Plane, rows: number, cols: number): Plane {
  if (rows === p.rows && cols === p.cols) return p;
  const out = new Float32Array(rows * cols * p.ch);
  const axis = (inN: number, outN: number): { idx: Int32Array; w: Float32Array; start: Int32Array } => {
    // Per output index: a list of (input index, weight) pairs stored flat.
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
    return { idx: Int32Array.from(idx), w: Float32Array.from(w), start };
  };
  const ry = axis(p.rows, rows);
  const rx = axis(p.cols, cols);
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
    throw new RadioLensError("RL_ERR_DATA_INVALID", {
      detail: `the model takes 2D images; this image has shape [${img.shape.join(", ")}]`,
    });
  }
  let p: Plane = {
    data: Float32Array.from(img.data),
    rows: img.shape[0] as number,
    cols: img.shape[1] as number,
    ch: img.shape[2] as number,
  };
  for (const step of card.preprocessing) p = applyStep(p, step);
  const want = card.input.shape;
  if (p.rows !== want[0] || p.cols !== want[1] || p.ch !== want[2]) {
    throw new RadioLensError("RL_ERR_DATA_INVALID", {
      detail: `preprocessing produced [${p.rows}, ${p.cols}, ${p.ch}] but the model takes [${want.join(", ")}]`,
    });
  }
  return p.data;
}
