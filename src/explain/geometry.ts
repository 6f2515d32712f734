/** Where each cell of a feature map sits on the input grid: receptive-field centres of a conv/pool chain, used to place a CAM on the input. */
import type * as tfl from "@tensorflow/tfjs-layers";

/** Feature cell (i, j) is centred on input pixel (offsetRow + strideRow·i, offsetCol + strideCol·j), pixel-index coordinates. */
export interface CamGeometry {
  readonly offsetRow: number;
  readonly offsetCol: number;
  readonly strideRow: number;
  readonly strideCol: number;
  /** True when derived layer by layer; false when the plain resize assumption was used. */
  readonly exact: boolean;
}

const WINDOWED = new Set([
  "Conv2D",
  "DepthwiseConv2D",
  "SeparableConv2D",
  "MaxPooling2D",
  "AveragePooling2D",
]);

function pair(v: unknown, fallback: number): [number, number] {
  if (Array.isArray(v)) return [Number(v[0] ?? fallback), Number(v[1] ?? v[0] ?? fallback)];
  if (typeof v === "number") return [v, v];
  return [fallback, fallback];
}

/**
 * The geometry a plain resize of a `lr × lc` map to `rows × cols` assumes (half-pixel centres): cells spread
 * evenly over the whole input.
 *
 * @example
 * ```ts
 * uniformGeometry(7, 7, 28, 28); // stride 4, offset 1.5
 * ```
 */
export function uniformGeometry(lr: number, lc: number, rows: number, cols: number): CamGeometry {
  return {
    strideRow: rows / lr,
    strideCol: cols / lc,
    offsetRow: rows / lr / 2 - 0.5,
    offsetCol: cols / lc / 2 - 0.5,
    exact: false,
  };
}

/**
 * The receptive-field centre geometry of `layer`'s output (Araujo et al., Distill 2019, "Computing receptive
 * fields of convolutional neural networks", eqs. for the effective stride and the centre offset): along a
 * single chain from the input, each convolution or pooling with kernel k (dilated), stride s and left padding
 * p moves the centre by stride·((k − 1)/2 − p) and multiplies the stride by s; "same" padding pads as tfjs
 * does (the smaller half on the left). Valid padding shifts a map by up to a few pixels compared with a plain
 * resize — with the seed CNN at 28 × 28, the last pooling's 5 × 5 cells are centred at 4.5 … 20.5, not 2.3 … 24.7.
 * Models with merges (residual adds, concatenations) or unknown resampling layers before `layer` fall back to
 * the plain-resize geometry (`exact: false`).
 *
 * @example
 * ```ts
 * const g = camGeometry(model, model.getLayer("pool2"), 28, 28); // { offsetRow: 4.5, strideRow: 4, ... }
 * ```
 */
export function camGeometry(
  model: tfl.LayersModel,
  layer: tfl.layers.Layer,
  rows: number,
  cols: number,
): CamGeometry {
  const out = layer.outputShape as number[];
  const fallback = uniformGeometry(out[1] as number, out[2] as number, rows, cols);
  const idx = model.layers.indexOf(layer);
  if (idx < 0) return fallback;
  let offR = 0;
  let offC = 0;
  let sR = 1;
  let sC = 1;
  for (const l of model.layers.slice(0, idx + 1)) {
    const cls = l.getClassName();
    if (cls === "InputLayer") continue;
    const inbound = (l as unknown as { inboundNodes: { inboundLayers: unknown[]; inputShapes: unknown }[] })
      .inboundNodes;
    const node = inbound[0];
    if (inbound.length !== 1 || !node || node.inboundLayers.length > 1) return fallback;
    // A node lists one shape per input tensor; a chain link has exactly one.
    const shapes = node.inputShapes as number[] | number[][];
    const inShape = (Array.isArray(shapes[0]) ? (shapes.length === 1 ? shapes[0] : []) : shapes) as number[];
    const outShape = l.outputShape as number[];
    if (Array.isArray(outShape[0])) return fallback;
    if (inShape.length !== 4 || outShape.length !== 4) return fallback;
    if (WINDOWED.has(cls)) {
      const cfg = l.getConfig() as Record<string, unknown>;
      const pooling = cls.endsWith("Pooling2D");
      const k = pair(pooling ? cfg["poolSize"] : cfg["kernelSize"], 1);
      const s = pair(cfg["strides"] ?? (pooling ? cfg["poolSize"] : 1), 1);
      const d = pair(pooling ? 1 : cfg["dilationRate"], 1);
      const same = cfg["padding"] === "same";
      const axis = (a: 0 | 1) => {
        const kEff = (d[a] as number) * ((k[a] as number) - 1) + 1;
        const n = inShape[a + 1] as number;
        const m = outShape[a + 1] as number;
        const padLeft = same ? Math.floor(Math.max((m - 1) * (s[a] as number) + kEff - n, 0) / 2) : 0;
        return { shift: (kEff - 1) / 2 - padLeft, stride: s[a] as number };
      };
      const r = axis(0);
      const c = axis(1);
      offR += sR * r.shift;
      offC += sC * c.shift;
      sR *= r.stride;
      sC *= c.stride;
    } else if (inShape[1] !== outShape[1] || inShape[2] !== outShape[2]) {
      return fallback; // an unknown layer that resamples (padding, cropping, upsampling)
    }
  }
  return { offsetRow: offR, offsetCol: offC, strideRow: sR, strideCol: sC, exact: true };
}

/**
 * Samples a `lr × lc` feature-cell map at every input pixel: pixel x reads the map at cell position
 * (x − offset) / stride, bilinearly, clamped to the outermost cells.
 *
 * @example
 * ```ts
 * const onInput = placeOnInput(cam, 5, 5, camGeometry(model, layer, 28, 28), 28, 28);
 * ```
 */
export function placeOnInput(
  cam: ArrayLike<number>,
  lr: number,
  lc: number,
  g: CamGeometry,
  rows: number,
  cols: number,
): Float32Array {
  const axis = (n: number, N: number, off: number, s: number) => {
    const i0 = new Int32Array(N);
    const i1 = new Int32Array(N);
    const w = new Float32Array(N);
    for (let x = 0; x < N; x++) {
      const f = Math.min(Math.max((x - off) / s, 0), n - 1);
      const a = Math.floor(f);
      i0[x] = a;
      i1[x] = Math.min(a + 1, n - 1);
      w[x] = f - a;
    }
    return { i0, i1, w };
  };
  const ay = axis(lr, rows, g.offsetRow, g.strideRow);
  const ax = axis(lc, cols, g.offsetCol, g.strideCol);
  const out = new Float32Array(rows * cols);
  for (let y = 0; y < rows; y++) {
    const r0 = (ay.i0[y] as number) * lc;
    const r1 = (ay.i1[y] as number) * lc;
    const wy = ay.w[y] as number;
    for (let x = 0; x < cols; x++) {
      const c0 = ax.i0[x] as number;
      const c1 = ax.i1[x] as number;
      const wx = ax.w[x] as number;
      const top = (cam[r0 + c0] as number) * (1 - wx) + (cam[r0 + c1] as number) * wx;
      const bot = (cam[r1 + c0] as number) * (1 - wx) + (cam[r1 + c1] as number) * wx;
      out[y * cols + x] = top * (1 - wy) + bot * wy;
    }
  }
  return out;
}
