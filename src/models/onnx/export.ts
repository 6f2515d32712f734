/** Exports a tfjs LayersModel (NHWC, Keras semantics) to an ONNX opset-13 graph with a dynamic batch dimension. */
import type * as tfl from "@tensorflow/tfjs-layers";
import type { onnx as O } from "onnx-proto";
import { RadioLensError } from "../../core/errors.js";
import { VERSION } from "../../version.js";
import {
  type AttrValue,
  attr,
  floatTensor,
  IR_VERSION,
  int64Tensor,
  OPSET,
  onnx,
  valueInfo,
} from "./proto.js";

/** Where a graph value keeps its channels: as in Keras (last axis) or moved to axis 1 as ONNX Conv needs. */
type Layout = "keras" | "cf";

interface Value {
  readonly name: string;
  readonly layout: Layout;
  /** The Keras shape, batch first (null); the ONNX shape is its permutation when layout is "cf". */
  readonly shape: readonly (number | null)[];
}

/** Options of {@link exportOnnx}. */
export interface OnnxExportOptions {
  /** Written to ModelProto.metadata_props (e.g. the bundle's input spec and labels). */
  readonly metadata?: Readonly<Record<string, string>>;
  /** ModelProto.doc_string. */
  readonly docString?: string;
}

/** Weight tensors of a layer by their Keras short name (`kernel`, `bias`, `gamma`, `moving_mean`, ...). */
function weightsOf(layer: tfl.layers.Layer): Map<string, { data: Float32Array; shape: number[] }> {
  const out = new Map<string, { data: Float32Array; shape: number[] }>();
  const values = layer.getWeights();
  layer.weights.forEach((w, i) => {
    const t = values[i];
    if (!t) return;
    const short = (w.originalName ?? w.name).split("/").pop() ?? w.name;
    out.set(short.replace(/_\d+$/, ""), { data: t.dataSync() as Float32Array, shape: [...t.shape] });
  });
  return out;
}

/** Permutes a dense row-major array of `shape` by `perm` (numpy.transpose semantics). */
function permute(data: Float32Array, shape: readonly number[], perm: readonly number[]): Float32Array {
  const r = shape.length;
  const outShape = perm.map((p) => shape[p] as number);
  const inStrides = new Array<number>(r).fill(1);
  for (let i = r - 2; i >= 0; i--) inStrides[i] = (inStrides[i + 1] as number) * (shape[i + 1] as number);
  const step = perm.map((p) => inStrides[p] as number);
  const out = new Float32Array(data.length);
  const idx = new Array<number>(r).fill(0);
  // The source offset moves by the permuted stride as the output index counts up, like an odometer.
  let src = 0;
  for (let o = 0; o < out.length; o++) {
    out[o] = data[src] as number;
    for (let k = r - 1; k >= 0; k--) {
      idx[k] = (idx[k] as number) + 1;
      src += step[k] as number;
      if ((idx[k] as number) < (outShape[k] as number)) break;
      src -= (step[k] as number) * (outShape[k] as number);
      idx[k] = 0;
    }
  }
  return out;
}

/** Keras → channels-first permutation for a rank-r tensor: [0, r-1, 1, ..., r-2]. */
function toCfPerm(r: number): number[] {
  return [0, r - 1, ...Array.from({ length: r - 2 }, (_, i) => i + 1)];
}
/** Channels-first → Keras permutation: [0, 2, ..., r-1, 1]. */
function toKerasPerm(r: number): number[] {
  return [0, ...Array.from({ length: r - 2 }, (_, i) => i + 2), 1];
}

/**
 * TensorFlow's SAME padding for one spatial axis: total = max((⌈in/s⌉−1)·s + (k−1)·d + 1 − in, 0), the smaller
 * half before (TF `GetWindowedOutputSize`); VALID is no padding.
 */
function samePads(inSize: number, k: number, s: number, d: number, padding: string): [number, number] {
  if (padding !== "same") return [0, 0];
  const out = Math.ceil(inSize / s);
  const total = Math.max((out - 1) * s + (k - 1) * d + 1 - inSize, 0);
  const before = Math.floor(total / 2);
  return [before, total - before];
}

/**
 * tfjs's SAME padding for 3D convolution and pooling (`get3DPadAndOutInfo`): the same formula without the clamp at
 * zero, so an even input under a window smaller than the stride (a 1×1×1 stride-2 shortcut on 8³) gets −1 before
 * and the window starts one cell in. Models are trained with these semantics, so the export keeps them.
 */
function samePads3d(inSize: number, k: number, s: number, d: number, padding: string): [number, number] {
  if (padding !== "same") return [0, 0];
  const total = (Math.ceil(inSize / s) - 1) * s + (k - 1) * d + 1 - inSize;
  const before = Math.floor(total / 2);
  return [before, total - before];
}

/**
 * ONNX pads are never negative: a negative pad becomes a Slice of the channels-first input that drops those cells.
 * Returns the input to convolve and the non-negative pads.
 */
function cropNegativePads(
  g: GraphBuilder,
  v: Value,
  before: number[],
  after: number[],
  base: string,
): { v: Value; before: number[]; after: number[] } {
  if (before.every((b) => b >= 0) && after.every((a) => a >= 0)) return { v, before, after };
  const axes: number[] = [];
  const starts: number[] = [];
  const ends: number[] = [];
  before.forEach((b, i) => {
    const a = after[i] as number;
    if (b >= 0 && a >= 0) return;
    const size = v.shape[i + 1] as number;
    axes.push(i + 2);
    starts.push(Math.max(0, -b));
    ends.push(size - Math.max(0, -a));
  });
  const name = g.node(
    "Slice",
    [
      v.name,
      g.int64(`${base}.crop_starts`, starts),
      g.int64(`${base}.crop_ends`, ends),
      g.int64(`${base}.crop_axes`, axes),
    ],
    `${base}_crop`,
  );
  return {
    v: { name, layout: "cf", shape: v.shape },
    before: before.map((b) => Math.max(0, b)),
    after: after.map((a) => Math.max(0, a)),
  };
}

function arr(v: unknown, n: number): number[] {
  if (Array.isArray(v)) return v.map(Number);
  return new Array<number>(n).fill(Number(v ?? 1));
}

class GraphBuilder {
  readonly nodes: O.INodeProto[] = [];
  readonly inits: O.ITensorProto[] = [];
  private readonly used = new Set<string>();
  private readonly converted = new Map<string, Value>();

  unique(base: string): string {
    let name = base.replace(/[^A-Za-z0-9_./:-]/g, "_");
    for (let i = 1; this.used.has(name); i++) name = `${base}_${i}`;
    this.used.add(name);
    return name;
  }

  reserve(name: string): void {
    this.used.add(name);
  }

  node(
    op: string,
    inputs: readonly string[],
    base: string,
    attrs: Readonly<Record<string, AttrValue>> = {},
    output?: string,
  ): string {
    const out = output ?? this.unique(base);
    this.nodes.push({
      opType: op,
      input: [...inputs],
      output: [out],
      name: this.unique(`${base}/${op}`),
      attribute: Object.entries(attrs).map(([k, v]) => attr(k, v)),
    });
    return out;
  }

  float(base: string, dims: readonly number[], data: Float32Array): string {
    const name = this.unique(base);
    this.inits.push(floatTensor(name, dims, data));
    return name;
  }

  int64(base: string, values: readonly number[]): string {
    const name = this.unique(base);
    this.inits.push(int64Tensor(name, values));
    return name;
  }

  toCf(v: Value): Value {
    const r = v.shape.length;
    if (r <= 2 || v.layout === "cf") return r <= 2 ? { ...v, layout: "cf" } : v;
    const key = `${v.name}->cf`;
    const hit = this.converted.get(key);
    if (hit) return hit;
    const name = this.node("Transpose", [v.name], `${v.name}_cf`, { perm: toCfPerm(r) });
    const out: Value = { name, layout: "cf", shape: v.shape };
    this.converted.set(key, out);
    this.converted.set(`${name}->keras`, v);
    return out;
  }

  toKeras(v: Value): Value {
    const r = v.shape.length;
    if (r <= 2 || v.layout === "keras") return r <= 2 ? { ...v, layout: "keras" } : v;
    const key = `${v.name}->keras`;
    const hit = this.converted.get(key);
    if (hit) return hit;
    const name = this.node("Transpose", [v.name], `${v.name}_nhwc`, { perm: toKerasPerm(r) });
    const out: Value = { name, layout: "keras", shape: v.shape };
    this.converted.set(key, out);
    this.converted.set(`${name}->cf`, v);
    return out;
  }

  /** Keras axis (negative allowed) of a rank-r tensor → the axis in `layout`. */
  static axis(a: number, r: number, layout: Layout): number {
    const k = a < 0 ? a + r : a;
    if (layout === "keras" || r <= 2) return k;
    if (k === 0) return 0;
    return k === r - 1 ? 1 : k + 1;
  }

  activation(v: Value, act: string | undefined, base: string, layer: tfl.layers.Layer): Value {
    const a = (act ?? "linear").toLowerCase();
    const r = v.shape.length;
    const same = (op: string, attrs: Record<string, AttrValue> = {}): Value => ({
      ...v,
      name: this.node(op, [v.name], `${base}_${a}`, attrs),
    });
    switch (a) {
      case "linear":
        return v;
      case "relu":
        return same("Relu");
      case "sigmoid":
        return same("Sigmoid");
      case "tanh":
        return same("Tanh");
      case "elu":
        return same("Elu", { alpha: { float: 1 } });
      case "selu":
        return same("Selu");
      case "softplus":
        return same("Softplus");
      case "softsign":
        return same("Softsign");
      case "hardsigmoid":
        return same("HardSigmoid", { alpha: { float: 0.2 }, beta: { float: 0.5 } });
      case "relu6": {
        const lo = this.float(`${base}_zero`, [], Float32Array.of(0));
        const hi = this.float(`${base}_six`, [], Float32Array.of(6));
        return { ...v, name: this.node("Clip", [v.name, lo, hi], `${base}_relu6`) };
      }
      case "swish":
      case "silu": {
        const s = this.node("Sigmoid", [v.name], `${base}_sig`);
        return { ...v, name: this.node("Mul", [v.name, s], `${base}_swish`) };
      }
      case "softmax":
        return same("Softmax", { axis: GraphBuilder.axis(-1, r, v.layout) });
      default:
        throw new RadioLensError("RL_ERR_ONNX_UNSUPPORTED", {
          layer: layer.name,
          className: layer.getClassName(),
          detail: `activation '${a}' has no ONNX mapping`,
        });
    }
  }
}

function unsupported(layer: tfl.layers.Layer, detail: string): never {
  throw new RadioLensError("RL_ERR_ONNX_UNSUPPORTED", {
    layer: layer.name,
    className: layer.getClassName(),
    detail,
  });
}

/** Emits the ONNX nodes of one Keras layer call; returns its output values. */
function emitLayer(
  g: GraphBuilder,
  layer: tfl.layers.Layer,
  ins: readonly Value[],
  outShapes: readonly (readonly (number | null)[])[],
): Value[] {
  const cls = layer.getClassName();
  const cfg = layer.getConfig() as Record<string, unknown>;
  const base = layer.name;
  const x = ins[0] as Value;
  const outShape = outShapes[0] as readonly (number | null)[];
  const w = (): Map<string, { data: Float32Array; shape: number[] }> => weightsOf(layer);
  if (cfg["dataFormat"] !== undefined && cfg["dataFormat"] !== "channelsLast")
    unsupported(layer, `dataFormat ${String(cfg["dataFormat"])} (RadioLens models are channels-last)`);

  switch (cls) {
    case "Conv1D":
    case "Conv2D":
    case "Conv3D":
    case "DepthwiseConv2D": {
      const r = x.shape.length;
      const nd = r - 2;
      const v = g.toCf(x);
      const k = arr(cfg["kernelSize"], nd);
      const s = arr(cfg["strides"], nd);
      const d = arr(cfg["dilationRate"], nd);
      const padding = String(cfg["padding"]);
      if (padding === "causal") unsupported(layer, "causal padding");
      const pad = nd === 3 ? samePads3d : samePads;
      const raw = { before: [] as number[], after: [] as number[] };
      for (let i = 0; i < nd; i++) {
        const [b, a] = pad(x.shape[i + 1] as number, k[i]!, s[i]!, d[i]!, padding);
        raw.before.push(b);
        raw.after.push(a);
      }
      const { v: src, before, after } = cropNegativePads(g, v, raw.before, raw.after, base);
      const ws = w();
      const inC = x.shape[r - 1] as number;
      let wName: string;
      let group = 1;
      if (cls === "DepthwiseConv2D") {
        const kern = ws.get("depthwise_kernel") ?? unsupported(layer, "no depthwise_kernel weight");
        const m = kern.shape[3] as number;
        // [kh, kw, C, M] → [C·M, 1, kh, kw]; output channel c·M + m as TF orders it.
        const p = permute(kern.data, kern.shape, [2, 3, 0, 1]);
        wName = g.float(`${base}.weight`, [inC * m, 1, k[0]!, k[1]!], p);
        group = inC;
      } else {
        const kern = ws.get("kernel") ?? unsupported(layer, "no kernel weight");
        // [k..., in, out] → [out, in, k...].
        const perm = [nd + 1, nd, ...Array.from({ length: nd }, (_, i) => i)];
        wName = g.float(
          `${base}.weight`,
          perm.map((pi) => kern.shape[pi] as number),
          permute(kern.data, kern.shape, perm),
        );
      }
      const inputs = [src.name, wName];
      const bias = ws.get("bias");
      if (bias && cfg["useBias"] !== false) inputs.push(g.float(`${base}.bias`, bias.shape, bias.data));
      const y: Value = {
        name: g.node("Conv", inputs, base, {
          kernel_shape: k,
          strides: s,
          dilations: d,
          pads: [...before, ...after],
          group,
        }),
        layout: "cf",
        shape: outShape,
      };
      return [g.activation(y, cfg["activation"] as string | undefined, base, layer)];
    }
    case "Conv2DTranspose":
    case "Conv3DTranspose": {
      const r = x.shape.length;
      const nd = r - 2;
      const v = g.toCf(x);
      const k = arr(cfg["kernelSize"], nd);
      const s = arr(cfg["strides"], nd);
      const d = arr(cfg["dilationRate"], nd);
      if (d.some((q) => q !== 1)) unsupported(layer, "dilated transposed convolution");
      const padding = String(cfg["padding"]);
      const ws = w();
      const kern = ws.get("kernel") ?? unsupported(layer, "no kernel weight");
      // TF keeps [k..., out, in]; ONNX ConvTranspose wants [in, out, k...].
      const perm = [nd + 1, nd, ...Array.from({ length: nd }, (_, i) => i)];
      const wName = g.float(
        `${base}.weight`,
        perm.map((pi) => kern.shape[pi] as number),
        permute(kern.data, kern.shape, perm),
      );
      // The transpose of a SAME/VALID conv from the output size back to the input size: the forward conv's pads,
      // the smaller half first, and output_padding for what the formula s·(in−1)+k−pads leaves short.
      const before: number[] = [];
      const after: number[] = [];
      const outPad: number[] = [];
      for (let i = 0; i < nd; i++) {
        const inSize = x.shape[i + 1] as number;
        const want = outShape[i + 1] as number;
        const [b, a] = samePads(want, k[i]!, s[i]!, 1, padding);
        const got = s[i]! * (inSize - 1) + k[i]! - b - a;
        if (want < got) unsupported(layer, `cannot reach output size ${want} from ${inSize}`);
        before.push(b);
        after.push(a);
        outPad.push(want - got);
      }
      const inputs = [v.name, wName];
      const bias = ws.get("bias");
      if (bias && cfg["useBias"] !== false) inputs.push(g.float(`${base}.bias`, bias.shape, bias.data));
      const attrs: Record<string, AttrValue> = { kernel_shape: k, strides: s, pads: [...before, ...after] };
      if (outPad.some((q) => q !== 0)) attrs["output_padding"] = outPad;
      const y: Value = { name: g.node("ConvTranspose", inputs, base, attrs), layout: "cf", shape: outShape };
      return [g.activation(y, cfg["activation"] as string | undefined, base, layer)];
    }
    case "MaxPooling1D":
    case "MaxPooling2D":
    case "MaxPooling3D":
    case "AveragePooling1D":
    case "AveragePooling2D":
    case "AveragePooling3D": {
      const r = x.shape.length;
      const nd = r - 2;
      const v = g.toCf(x);
      const k = arr(cfg["poolSize"], nd);
      const s = arr(cfg["strides"] ?? cfg["poolSize"], nd);
      const padding = String(cfg["padding"]);
      const pad = nd === 3 ? samePads3d : samePads;
      const raw = { before: [] as number[], after: [] as number[] };
      for (let i = 0; i < nd; i++) {
        const [b, a] = pad(x.shape[i + 1] as number, k[i]!, s[i]!, 1, padding);
        raw.before.push(b);
        raw.after.push(a);
      }
      const { v: src, before, after } = cropNegativePads(g, v, raw.before, raw.after, base);
      const max = cls.startsWith("Max");
      const attrs: Record<string, AttrValue> = { kernel_shape: k, strides: s, pads: [...before, ...after] };
      // TF averages over the valid cells only: count_include_pad = 0 (the ONNX default, stated for clarity).
      if (!max) attrs["count_include_pad"] = 0;
      return [
        {
          name: g.node(max ? "MaxPool" : "AveragePool", [src.name], base, attrs),
          layout: "cf",
          shape: outShape,
        },
      ];
    }
    case "GlobalAveragePooling1D":
    case "GlobalAveragePooling2D":
    case "GlobalAveragePooling3D":
    case "GlobalMaxPooling1D":
    case "GlobalMaxPooling2D":
    case "GlobalMaxPooling3D": {
      const v = g.toCf(x);
      const op = cls.startsWith("GlobalMax") ? "GlobalMaxPool" : "GlobalAveragePool";
      const pooled = g.node(op, [v.name], base);
      return [
        { name: g.node("Flatten", [pooled], `${base}_flat`, { axis: 1 }), layout: "keras", shape: outShape },
      ];
    }
    case "BatchNormalization": {
      const r = x.shape.length;
      const ax = Number(cfg["axis"] ?? -1);
      if ((ax < 0 ? ax + r : ax) !== r - 1)
        unsupported(layer, `batch norm over axis ${ax} (only the channel axis)`);
      const ws = w();
      const mean = ws.get("moving_mean") ?? unsupported(layer, "no moving_mean");
      const variance = ws.get("moving_variance") ?? unsupported(layer, "no moving_variance");
      const c = mean.data.length;
      const gamma = ws.get("gamma")?.data ?? new Float32Array(c).fill(1);
      const beta = ws.get("beta")?.data ?? new Float32Array(c);
      const v = g.toCf(x);
      const name = g.node(
        "BatchNormalization",
        [
          v.name,
          g.float(`${base}.gamma`, [c], gamma),
          g.float(`${base}.beta`, [c], beta),
          g.float(`${base}.moving_mean`, [c], mean.data),
          g.float(`${base}.moving_variance`, [c], variance.data),
        ],
        base,
        { epsilon: { float: Number(cfg["epsilon"] ?? 1e-3) } },
      );
      return [{ name, layout: "cf", shape: outShape }];
    }
    case "Dense": {
      const ws = w();
      const kern = ws.get("kernel") ?? unsupported(layer, "no kernel weight");
      const bias = cfg["useBias"] !== false ? ws.get("bias") : undefined;
      const v = g.toKeras(x);
      const wName = g.float(`${base}.weight`, kern.shape, kern.data);
      let name: string;
      if (x.shape.length === 2) {
        const inputs = [v.name, wName];
        if (bias) inputs.push(g.float(`${base}.bias`, bias.shape, bias.data));
        name = g.node("Gemm", inputs, base);
      } else {
        name = g.node("MatMul", [v.name, wName], base);
        if (bias)
          name = g.node("Add", [name, g.float(`${base}.bias`, bias.shape, bias.data)], `${base}_bias`);
      }
      const y: Value = { name, layout: "keras", shape: outShape };
      return [g.activation(y, cfg["activation"] as string | undefined, base, layer)];
    }
    case "Activation":
      return [g.activation(x, cfg["activation"] as string, base, layer)];
    case "Softmax": {
      const ax = Number(Array.isArray(cfg["axis"]) ? (cfg["axis"] as number[])[0] : (cfg["axis"] ?? -1));
      const axis = GraphBuilder.axis(ax, x.shape.length, x.layout);
      return [{ ...x, name: g.node("Softmax", [x.name], base, { axis }) }];
    }
    case "ReLU": {
      const maxValue = cfg["maxValue"] as number | null | undefined;
      if (maxValue == null) return [{ ...x, name: g.node("Relu", [x.name], base) }];
      const lo = g.float(`${base}_min`, [], Float32Array.of(0));
      const hi = g.float(`${base}_max`, [], Float32Array.of(maxValue));
      return [{ ...x, name: g.node("Clip", [x.name, lo, hi], base) }];
    }
    case "LeakyReLU":
      return [
        {
          ...x,
          name: g.node("LeakyRelu", [x.name], base, { alpha: { float: Number(cfg["alpha"] ?? 0.3) } }),
        },
      ];
    case "ELU":
      return [{ ...x, name: g.node("Elu", [x.name], base, { alpha: { float: Number(cfg["alpha"] ?? 1) } }) }];
    case "Dropout":
    case "SpatialDropout1D":
    case "SpatialDropout2D":
    case "GaussianNoise":
    case "GaussianDropout":
    case "AlphaDropout":
    case "SeededDropout":
      // Inference-time identity: these layers only act while training.
      return [x];
    case "Flatten": {
      const v = g.toKeras(x);
      return [{ name: g.node("Flatten", [v.name], base, { axis: 1 }), layout: "keras", shape: outShape }];
    }
    case "Reshape": {
      const v = g.toKeras(x);
      const target = (cfg["targetShape"] as number[]).map(Number);
      // 0 copies the (dynamic) batch size from the input (ONNX Reshape, allowzero = 0).
      const shape = g.int64(`${base}.shape`, [0, ...target]);
      return [{ name: g.node("Reshape", [v.name, shape], base), layout: "keras", shape: outShape }];
    }
    case "Concatenate": {
      const r = x.shape.length;
      const vs = r > 2 ? ins.map((i) => g.toCf(i)) : ins.map((i) => g.toKeras(i));
      const layout: Layout = r > 2 ? "cf" : "keras";
      const axis = GraphBuilder.axis(Number(cfg["axis"] ?? -1), r, layout);
      return [
        {
          name: g.node(
            "Concat",
            vs.map((i) => i.name),
            base,
            { axis },
          ),
          layout,
          shape: outShape,
        },
      ];
    }
    case "Add":
    case "Multiply":
    case "Maximum":
    case "Minimum":
    case "Subtract":
    case "Average": {
      const layout = x.layout;
      const vs = ins.map((i) => (layout === "cf" ? g.toCf(i) : g.toKeras(i)));
      const op = {
        Add: "Add",
        Multiply: "Mul",
        Maximum: "Max",
        Minimum: "Min",
        Subtract: "Sub",
        Average: "Add",
      }[cls] as string;
      let acc = (vs[0] as Value).name;
      for (let i = 1; i < vs.length; i++) acc = g.node(op, [acc, (vs[i] as Value).name], base);
      if (cls === "Average") {
        const n = g.float(`${base}_n`, [], Float32Array.of(vs.length));
        acc = g.node("Div", [acc, n], `${base}_mean`);
      }
      return [{ name: acc, layout, shape: outShape }];
    }
    case "ZeroPadding2D": {
      const v = g.toCf(x);
      const p = cfg["padding"] as [[number, number], [number, number]];
      const pads = g.int64(`${base}.pads`, [0, 0, p[0][0], p[1][0], 0, 0, p[0][1], p[1][1]]);
      return [
        { name: g.node("Pad", [v.name, pads], base, { mode: "constant" }), layout: "cf", shape: outShape },
      ];
    }
    case "RadioLensVoxelShuffle3D": {
      // The same reshapes/transposes as VoxelShuffle3D.call, with -1 standing for the dynamic batch.
      const v = g.toKeras(x);
      const [, d, h, wd, c] = x.shape as [null, number, number, number, number];
      const f = c / 8;
      const reshape = (src: string, dims: number[], tag: string): string =>
        g.node("Reshape", [src, g.int64(`${base}.${tag}`, dims)], `${base}_${tag}`);
      const tr = (src: string, tag: string): string =>
        g.node("Transpose", [src], `${base}_${tag}`, { perm: [0, 1, 3, 2, 4] });
      let y = reshape(v.name, [-1, d, h * wd, 2, 4 * f], "s1");
      y = reshape(tr(y, "t1"), [-1, 2 * d, h, wd, 4 * f], "s2");
      y = reshape(y, [-1, h, wd, 2, 2 * f], "s3");
      y = reshape(tr(y, "t2"), [-1, 2 * d, 2 * h, wd, 2 * f], "s4");
      y = reshape(y, [-1, 2 * d, 2 * h, 2 * wd, f], "s5");
      return [{ name: y, layout: "keras", shape: outShape }];
    }
    default:
      return unsupported(layer, "no ONNX mapping for this layer type");
  }
}

/** The Keras output shape of a layer call (batch first), from its symbolic output tensors. */
function shapesOf(tensors: readonly tfl.SymbolicTensor[]): (number | null)[][] {
  return tensors.map((t) => [...t.shape]);
}

/**
 * Converts a tfjs LayersModel into an ONNX ModelProto (opset 13). Inputs and outputs keep the model's NHWC
 * layout with a symbolic batch dimension `N`; inside, feature maps run channels-first (what ONNX Conv, Pool and
 * BatchNormalization define) with a Transpose only where a layer needs Keras order (Flatten, Reshape, Dense on
 * maps, the graph boundaries). Inference semantics: dropout is identity, batch norm uses the moving statistics.
 *
 * @example
 * ```ts
 * const proto = exportOnnx(model, { metadata: { "radiolens.input": JSON.stringify(card.input) } });
 * writeFileAtomic("model.onnx", encodeOnnx(proto));
 * ```
 */
export function exportOnnx(model: tfl.LayersModel, opts: OnnxExportOptions = {}): O.IModelProto {
  const g = new GraphBuilder();
  const values = new Map<number, Value>();
  const inputs: O.IValueInfoProto[] = [];
  // A Sequential model leaves inputNames/outputNames empty; its symbolic tensors carry the names.
  const inNames = model.inputNames.length > 0 ? model.inputNames : model.inputs.map((t) => t.name);
  const outNames = model.outputNames.length > 0 ? model.outputNames : model.outputs.map((t) => t.name);
  model.inputs.forEach((t, i) => {
    const name = inNames[i] ?? `input_${i}`;
    g.reserve(name);
    values.set(t.id, { name, layout: "keras", shape: [...t.shape] });
    inputs.push(valueInfo(name, ["N", ...t.shape.slice(1).map((d) => d as number)]));
  });
  for (const name of outNames) g.reserve(name);

  // Layer calls in dependency order: a call is emitted once all of its inputs exist.
  type Call = { layer: tfl.layers.Layer; ins: tfl.SymbolicTensor[]; outs: tfl.SymbolicTensor[] };
  const pending: Call[] = [];
  for (const layer of model.layers) {
    if (layer.getClassName() === "InputLayer") continue;
    for (const node of layer.inboundNodes) {
      pending.push({ layer, ins: [...node.inputTensors], outs: [...node.outputTensors] });
    }
  }
  let progress = true;
  while (pending.length > 0 && progress) {
    progress = false;
    for (let i = 0; i < pending.length; i++) {
      const call = pending[i] as Call;
      if (!call.ins.every((t) => values.has(t.id))) continue;
      if ("layers" in call.layer)
        unsupported(call.layer, "nested models are not exported; flatten the model");
      const outs = emitLayer(
        g,
        call.layer,
        call.ins.map((t) => values.get(t.id) as Value),
        shapesOf(call.outs),
      );
      call.outs.forEach((t, j) => {
        values.set(t.id, outs[j] as Value);
      });
      pending.splice(i, 1);
      i--;
      progress = true;
    }
  }
  const outputs: O.IValueInfoProto[] = [];
  model.outputs.forEach((t, i) => {
    const v = values.get(t.id);
    if (!v) {
      throw new RadioLensError("RL_ERR_INTERNAL", {
        detail: `output ${t.name} is not reachable from the inputs`,
      });
    }
    const name = outNames[i] ?? `output_${i}`;
    g.node("Identity", [g.toKeras(v).name], name, {}, name);
    outputs.push(valueInfo(name, ["N", ...t.shape.slice(1).map((d) => d as number)]));
  });
  return {
    irVersion: IR_VERSION,
    opsetImport: [{ domain: "", version: OPSET }],
    producerName: "radiolens",
    producerVersion: VERSION,
    docString: opts.docString ?? `${model.name} exported by RadioLens`,
    graph: { name: model.name, node: g.nodes, initializer: g.inits, input: inputs, output: outputs },
    metadataProps: Object.entries(opts.metadata ?? {}).map(([key, value]) => ({ key, value })),
  };
}

/**
 * Serializes a ModelProto to the bytes of a `.onnx` file.
 *
 * @example
 * ```ts
 * const bytes = encodeOnnx(exportOnnx(model));
 * ```
 */
export function encodeOnnx(proto: O.IModelProto): Uint8Array {
  return onnx.ModelProto.encode(onnx.ModelProto.create(proto)).finish();
}
