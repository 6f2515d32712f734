/** The `onednn` tfjs backend: the CPU backend's tensor storage and kernels, with the hot kernels run by oneDNN. */
import { createRequire } from "node:module";
import { MathBackendCPU } from "@tensorflow/tfjs-backend-cpu";
import { log } from "../../core/log.js";
import { type AdamStepConstants, setFusedKernels, setNativeRegistrar, tf } from "../backend.js";
import {
  ACT,
  BIN_OP,
  type CONV_LAYOUT,
  type ConvParamsDim,
  POOL_ALG,
  type PoolParamsDim,
  packConvParams,
  packMatMulParams,
  packPoolParams,
  UN_OP,
} from "./abi.js";
import { loadNativeAddon, type NativeAddon } from "./index.js";

type Conv2DInfo = tf.backend_util.Conv2DInfo;
type Conv3DInfo = tf.backend_util.Conv3DInfo;
type Pad = "same" | "valid" | number | tf.backend_util.ExplicitPadding;
type Rounding = "floor" | "round" | "ceil" | undefined;
type KernelArgs = {
  inputs: tf.NamedTensorInfoMap;
  backend: tf.KernelBackend;
  attrs?: tf.NamedAttrMap;
};

/** The kernels of {@link OnednnAddon} as called from TypeScript; buffers are never copied. */
export interface OnednnAddon extends NativeAddon {
  /** Filter gradient of a stride-1 undilated 3D convolution (params: see conv3dFilterGradDirect). */
  conv3dFilterGrad?(p: Int32Array, x: Float32Array, dy: Float32Array, dw: Float32Array): void;
  convForward(
    p: Int32Array,
    x: Float32Array,
    w: Float32Array,
    b: Float32Array | null,
    y: Float32Array,
    alpha: number,
    weightVersion?: number,
  ): void;
  convBackwardData(
    p: Int32Array,
    dy: Float32Array,
    w: Float32Array,
    dx: Float32Array,
    weightVersion?: number,
  ): void;
  convBackwardWeights(p: Int32Array, x: Float32Array, dy: Float32Array, dw: Float32Array): void;
  poolForward(p: Int32Array, x: Float32Array, y: Float32Array): void;
  poolBackward(p: Int32Array, dy: Float32Array, x: Float32Array, dx: Float32Array): void;
  matMul(
    p: Int32Array,
    a: Float32Array,
    b: Float32Array,
    bias: Float32Array | null,
    c: Float32Array,
    alpha: number,
  ): void;
  eltwise(act: number, x: Float32Array, y: Float32Array, alpha: number): void;
  eltwiseBackward(act: number, dy: Float32Array, y: Float32Array, dx: Float32Array, alpha: number): void;
  softmax(rows: number, cols: number, x: Float32Array, y: Float32Array): void;
  batchNorm(
    rows: number,
    channels: number,
    x: Float32Array,
    mean: Float32Array,
    variance: Float32Array,
    scale: Float32Array | null,
    offset: Float32Array | null,
    y: Float32Array,
    eps: number,
  ): void;
  batchNormGrad(
    x: Float32Array,
    dy: Float32Array,
    mean: Float32Array,
    variance: Float32Array,
    scale: Float32Array | null,
    rows: number,
    channels: number,
    eps: number,
    dx: Float32Array,
    dMean: Float32Array,
    dVariance: Float32Array,
    dScale: Float32Array,
    dOffset: Float32Array,
  ): void;
  reduce(
    x: Float32Array,
    outer: number,
    reduced: number,
    inner: number,
    out: Float32Array,
    divisor: number,
  ): void;
  adam(
    w: Float32Array,
    m: Float32Array,
    v: Float32Array,
    g: Float32Array,
    constants: Float32Array,
    outW: Float32Array,
    outM: Float32Array,
    outV: Float32Array,
  ): void;
  clip(x: Float32Array, y: Float32Array, lo: number, hi: number): void;
  adamStep(
    w: Float32Array,
    m: Float32Array,
    v: Float32Array,
    g: Float32Array,
    constants: Float32Array,
    outW: Float32Array,
    outM: Float32Array,
    outV: Float32Array,
  ): void;
  moments(x: Float32Array, rows: number, channels: number, stats: Float32Array): void;
  momentsGrad(
    x: Float32Array,
    stats: Float32Array,
    dStats: Float32Array,
    rows: number,
    channels: number,
    dx: Float32Array,
  ): void;
  tile(x: Float32Array, inShape: Int32Array, out: Float32Array, outShape: Int32Array): void;
  binary(
    op: number,
    a: Float32Array,
    b: Float32Array,
    out: Float32Array,
    shape: Int32Array,
    stridesA: Int32Array,
    stridesB: Int32Array,
  ): void;
  unary(op: number, x: Float32Array, y: Float32Array, alpha: number): void;
  clearCache(): void;
  /** `"<primitive kind> <implementation>"` for every primitive created since the last {@link clearImplementations}. */
  implementations(): string[];
  clearImplementations(): void;
  /** Receives each implementation fallback (a reference kernel avoided or met) once. */
  setLogger(fn: (message: string) => void): void;
  /** Convolution activation layouts: 0 per shape and ISA (default), 1 channels-last, 2 oneDNN's choice (tests). */
  setConvLayout(mode: (typeof CONV_LAYOUT)[keyof typeof CONV_LAYOUT]): void;
}

/** Activation codes understood by the addon (post-ops of conv/matmul, eltwise kernels), from abi.json. */
export { ACT };

/** Smallest buffer (in elements) worth pooling: below it V8 allocates faster than a map lookup. */
const POOL_MIN_ELEMENTS = 1024;

/**
 * Byte budget of free buffers kept for reuse: `RADIOLENS_POOL_MB`, default 2048 MB (0 disables the pool). A training
 * step frees its whole working set at its end and allocates it again in the next one, so the budget must hold a
 * step's working set (ResNet-18 at batch 64: ~1.6 GB) for every output to be reused; a smaller one served only a
 * third of them. The memory is held anyway: without the pool it waits for the garbage collector instead.
 */
function poolBudgetBytes(): number {
  const mb = Number(process.env["RADIOLENS_POOL_MB"] ?? "2048");
  return Number.isFinite(mb) && mb >= 0 ? mb * 1024 * 1024 : 2048 * 1024 * 1024;
}

/** A pool untouched for this long is dropped, so an idle process gives its memory back. */
const POOL_IDLE_MS = 5000;

/**
 * The backend class: all storage and fallbacks are the CPU backend's.
 *
 * Native kernels write every element of their outputs, so their output buffers come from a pool of the float32
 * buffers of disposed tensors instead of fresh zero-filled allocations: a ResNet-18 training step otherwise allocates
 * about 2 GB that is zeroed, page-faulted in and only returned when V8's garbage collector runs (ADR 014). A buffer is
 * pooled only while the backend is its sole holder: it was allocated by {@link OnednnBackend.out}, no second tensor
 * was written over the same `ArrayBuffer` (CPU `Slice` returns subarrays) and it was never handed out by
 * `readSync`/`read` (`dataSync()` returns the storage itself on this backend).
 *
 * @example
 * ```ts
 * await initEngine({ backend: "onednn" }); // registers an OnednnBackend as tfjs backend "onednn"
 * ```
 */
export class OnednnBackend extends MathBackendCPU {
  private readonly pool = new Map<number, Float32Array[]>();
  private pooledBytes = 0;
  private poolHits = 0;
  private poolActivity = 0;
  /** Per buffer size, the value of `poolActivity` when a buffer of that size last entered or left the pool. */
  private readonly lastUse = new Map<number, number>();
  private idleTimer: ReturnType<typeof setTimeout> | undefined;
  private poolMisses = 0;
  private poolBudget = poolBudgetBytes();
  /** `ArrayBuffer`s allocated by {@link out} that no one but the backend's storage map references. */
  private readonly owned = new WeakSet<ArrayBufferLike>();

  /**
   * An identity of a tensor's storage for the addon's weight-reorder cache: the CPU backend gives every stored
   * tensor a fresh `dataId.id`, and tensors are immutable, so (id, buffer) names the same values; 0 when unknown.
   */
  version(t: tf.TensorInfo): number {
    const id = (t.dataId as { id?: unknown }).id;
    return typeof id === "number" ? id + 1 : 0;
  }
  /** Typed view of a tensor's storage when it is float32 and held as a Float32Array. */
  f32(t: tf.TensorInfo): Float32Array | undefined {
    if (t.dtype !== "float32") return undefined;
    const v = this.data.get(t.dataId).values;
    return v instanceof Float32Array ? v : undefined;
  }
  /**
   * A float32 output tensor with its storage, reused from the pool when a buffer of that size is free. The values
   * are NOT zeroed: callers must write every element.
   */
  out(shape: number[]): { info: tf.TensorInfo; values: Float32Array } {
    let n = 1;
    for (const d of shape) n *= d;
    const values = this.buffer(n);
    return { info: this.adopt(values, shape), values };
  }
  /** A buffer of `n` floats, from the pool when one is free (contents undefined), not yet holding a tensor. */
  buffer(n: number): Float32Array {
    if (n < POOL_MIN_ELEMENTS) return new Float32Array(n);
    const reused = this.pool.get(n)?.pop();
    if (!reused) {
      this.poolMisses++;
      return new Float32Array(n);
    }
    this.poolHits++;
    this.lastUse.set(n, ++this.poolActivity);
    this.pooledBytes -= reused.byteLength;
    return reused;
  }
  /** Makes a buffer from {@link buffer} the storage of a new float32 tensor, poolable once that is disposed. */
  adopt(values: Float32Array, shape: number[]): tf.TensorInfo {
    const info = this.makeTensorInfo(shape, "float32", values);
    if (values.length >= POOL_MIN_ELEMENTS) this.owned.add(values.buffer);
    return info;
  }
  /** Bytes of free buffers currently held for reuse. */
  pooledByteCount(): number {
    return this.pooledBytes;
  }
  /** Pool counters since the backend started: outputs served from the pool, freshly allocated, bytes held. */
  poolStats(): { hits: number; misses: number; pooledBytes: number } {
    return { hits: this.poolHits, misses: this.poolMisses, pooledBytes: this.pooledBytes };
  }
  /** Sets the pool's byte budget (default from `RADIOLENS_POOL_MB`); buffers beyond it are dropped. */
  setPoolBudget(bytes: number): void {
    this.poolBudget = Math.max(0, bytes);
    if (this.pooledBytes > this.poolBudget) this.drainPool();
  }
  /** Drops every pooled buffer (they are freed by the garbage collector). */
  drainPool(): void {
    this.pool.clear();
    this.lastUse.clear();
    this.pooledBytes = 0;
  }
  private release(values: Float32Array): void {
    if (values.byteLength > this.poolBudget) return;
    // Over budget, the sizes used longest ago go first: after one model trains another, the first one's sizes would
    // otherwise hold the whole budget.
    while (this.pooledBytes + values.byteLength > this.poolBudget) {
      let oldest: number | undefined;
      for (const [n, stamp] of this.lastUse) {
        if (n !== values.length && (this.pool.get(n)?.length ?? 0) > 0) {
          if (oldest === undefined || stamp < (this.lastUse.get(oldest) ?? 0)) oldest = n;
        }
      }
      if (oldest === undefined) return;
      const list = this.pool.get(oldest) as Float32Array[];
      this.pooledBytes -= (list.pop() as Float32Array).byteLength;
      if (list.length === 0) {
        this.pool.delete(oldest);
        this.lastUse.delete(oldest);
      }
    }
    this.lastUse.set(values.length, ++this.poolActivity);
    if (!this.idleTimer) this.armIdleTimer();
    let l = this.pool.get(values.length);
    if (!l) {
      l = [];
      this.pool.set(values.length, l);
    }
    l.push(values);
    this.pooledBytes += values.byteLength;
  }
  private armIdleTimer(): void {
    const seen = this.poolActivity;
    this.idleTimer = setTimeout(() => {
      this.idleTimer = undefined;
      if (this.poolActivity === seen) this.drainPool();
      else this.armIdleTimer();
    }, POOL_IDLE_MS);
    this.idleTimer.unref();
  }
  private disown(values: unknown): void {
    if (ArrayBuffer.isView(values)) this.owned.delete(values.buffer);
  }
  override write(values: tf.backend_util.BackendValues, shape: number[], dtype: tf.DataType): tf.DataId {
    // A second tensor over a pooled buffer (a subarray or the same array) makes it shared: never reuse it.
    this.disown(values);
    return super.write(values, shape, dtype);
  }
  override move(
    dataId: tf.DataId,
    values: tf.backend_util.BackendValues,
    shape: number[],
    dtype: tf.DataType,
    refCount: number,
  ): void {
    this.disown(values);
    super.move(dataId, values, shape, dtype, refCount);
  }
  override readSync(dataId: tf.DataId): tf.backend_util.BackendValues {
    // The caller gets the storage itself and may keep it.
    if (this.data.has(dataId)) this.disown(this.data.get(dataId).values);
    return super.readSync(dataId);
  }
  override disposeData(dataId: tf.DataId, force = false): boolean {
    const values = this.data.has(dataId) ? this.data.get(dataId).values : undefined;
    const r = super.disposeData(dataId, force);
    if (values instanceof Float32Array && !this.data.has(dataId) && this.owned.has(values.buffer)) {
      this.owned.delete(values.buffer);
      this.release(values);
    }
    return r;
  }
}

let addon: OnednnAddon | undefined;
const cpuKernels = new Map<string, tf.KernelFunc>();
const nativeCalls = new Map<string, number>();
const warned = new Set<string>();

function fallback(name: string, args: KernelArgs): tf.TensorInfo | tf.TensorInfo[] {
  const k = cpuKernels.get(name);
  if (!k) throw new Error(`no CPU kernel ${name}`);
  return k(args as Parameters<tf.KernelFunc>[0]);
}

function actCode(name: unknown): number | undefined {
  if (name === undefined || name === null) return ACT.linear;
  return (ACT as Record<string, number>)[name as string];
}

/**
 * The spatial dimensions of a convolution or pooling, as the addon reads them (abi.json). oneDNN requires
 * `(in - effK + padL + padR) / stride + 1 == out` with floor division; tfjs's padInfo satisfies it except for `ceil`
 * rounding, where the right padding is widened.
 */
function spatial(
  inn: number[],
  k: number[],
  out: number[],
  stride: number[],
  dil: number[],
  padL: number[],
  padR: number[],
): ConvParamsDim[] | undefined {
  const dims: ConvParamsDim[] = [];
  for (let i = 0; i < inn.length; i++) {
    const effK = ((k[i] ?? 1) - 1) * (dil[i] ?? 1) + 1;
    const inI = inn[i] ?? 0;
    const s = stride[i] ?? 1;
    const pl = padL[i] ?? 0;
    let pr = padR[i] ?? 0;
    const o = out[i] ?? 0;
    if (Math.floor((inI - effK + pl + pr) / s) + 1 !== o) pr = (o - 1) * s + effK - inI - pl;
    if (pl < 0 || pr < 0 || Math.floor((inI - effK + pl + pr) / s) + 1 !== o) return undefined;
    // oneDNN's dilation is the gap between taps, tfjs's the step.
    dims.push({ in: inI, k: k[i] ?? 1, out: o, stride: s, dil: (dil[i] ?? 1) - 1, padL: pl, padR: pr });
  }
  return dims;
}

/** Pooling has no dilation in the addon's layout. */
function poolDims(dims: ConvParamsDim[] | undefined): PoolParamsDim[] | undefined {
  return dims?.map(({ dil: _dil, ...d }) => d);
}

function conv2dParams(c: Conv2DInfo, groups: number, act: number): Int32Array | undefined {
  if (c.dataFormat !== "channelsLast") return undefined;
  const dims = spatial(
    [c.inHeight, c.inWidth],
    [c.filterHeight, c.filterWidth],
    [c.outHeight, c.outWidth],
    [c.strideHeight, c.strideWidth],
    [c.dilationHeight, c.dilationWidth],
    [c.padInfo.top, c.padInfo.left],
    [c.padInfo.bottom, c.padInfo.right],
  );
  if (!dims) return undefined;
  return packConvParams({ nd: 2, N: c.batchSize, IC: c.inChannels, OC: c.outChannels, G: groups, dims, act });
}

function conv3dParams(c: Conv3DInfo, act: number): Int32Array | undefined {
  if (c.dataFormat !== "channelsLast") return undefined;
  const dims = spatial(
    [c.inDepth, c.inHeight, c.inWidth],
    [c.filterDepth, c.filterHeight, c.filterWidth],
    [c.outDepth, c.outHeight, c.outWidth],
    [c.strideDepth, c.strideHeight, c.strideWidth],
    [c.dilationDepth, c.dilationHeight, c.dilationWidth],
    [c.padInfo.front, c.padInfo.top, c.padInfo.left],
    [c.padInfo.back, c.padInfo.bottom, c.padInfo.right],
  );
  if (!dims) return undefined;
  return packConvParams({ nd: 3, N: c.batchSize, IC: c.inChannels, OC: c.outChannels, G: 1, dims, act });
}

/** A pooling algorithm code of abi.json. */
type PoolAlg = (typeof POOL_ALG)[keyof typeof POOL_ALG];

function pool2dParams(c: Conv2DInfo, alg: PoolAlg): Int32Array | undefined {
  if (c.dataFormat !== "channelsLast" || c.dilationHeight !== 1 || c.dilationWidth !== 1) return undefined;
  const dims = poolDims(
    spatial(
      [c.inHeight, c.inWidth],
      [c.filterHeight, c.filterWidth],
      [c.outHeight, c.outWidth],
      [c.strideHeight, c.strideWidth],
      [1, 1],
      [c.padInfo.top, c.padInfo.left],
      [c.padInfo.bottom, c.padInfo.right],
    ),
  );
  if (!dims) return undefined;
  return packPoolParams({ nd: 2, N: c.batchSize, C: c.inChannels, alg, dims });
}

function pool3dParams(c: Conv3DInfo, alg: PoolAlg): Int32Array | undefined {
  if (
    c.dataFormat !== "channelsLast" ||
    c.dilationDepth !== 1 ||
    c.dilationHeight !== 1 ||
    c.dilationWidth !== 1
  ) {
    return undefined;
  }
  const dims = poolDims(
    spatial(
      [c.inDepth, c.inHeight, c.inWidth],
      [c.filterDepth, c.filterHeight, c.filterWidth],
      [c.outDepth, c.outHeight, c.outWidth],
      [c.strideDepth, c.strideHeight, c.strideWidth],
      [1, 1, 1],
      [c.padInfo.front, c.padInfo.top, c.padInfo.left],
      [c.padInfo.back, c.padInfo.bottom, c.padInfo.right],
    ),
  );
  if (!dims) return undefined;
  return packPoolParams({ nd: 3, N: c.batchSize, C: c.inChannels, alg, dims });
}

const fmt = (f: unknown): "channelsFirst" | "channelsLast" =>
  f === "NCHW" || f === "NCDHW" ? "channelsFirst" : "channelsLast";
const shape4 = (s: number[]) => s as [number, number, number, number];
const shape5 = (s: number[]) => s as [number, number, number, number, number];

type Native = (args: KernelArgs, be: OnednnBackend, a: OnednnAddon) => tf.TensorInfo | undefined;

/** Wraps a native kernel: `undefined` from it (unsupported dtype/attributes) runs the CPU kernel instead. */
function kernel(name: string, impl: Native): tf.KernelConfig {
  return {
    kernelName: name,
    backendName: "onednn",
    kernelFunc: (args) => {
      const be = args.backend as OnednnBackend;
      let r: tf.TensorInfo | undefined;
      try {
        r = addon ? impl(args as KernelArgs, be, addon) : undefined;
      } catch (e) {
        // oneDNN may lack an implementation for an exotic shape/attribute mix: compute it on the CPU kernel instead,
        // and say so once per kernel.
        if (!warned.has(name)) {
          warned.add(name);
          log.warn(`onednn: ${name} fell back to the CPU kernel (${(e as Error).message})`);
        }
      }
      if (r) nativeCalls.set(name, (nativeCalls.get(name) ?? 0) + 1);
      return r ?? fallback(name, args as KernelArgs);
    },
  };
}

function convForward(
  be: OnednnBackend,
  a: OnednnAddon,
  x: tf.TensorInfo,
  w: tf.TensorInfo,
  bias: tf.TensorInfo | undefined,
  p: Int32Array | undefined,
  outShape: number[],
  alpha: number,
): tf.TensorInfo | undefined {
  const xv = be.f32(x);
  const wv = be.f32(w);
  const bv = bias ? be.f32(bias) : null;
  const outC = outShape[outShape.length - 1] ?? 0;
  if (!p || !xv || !wv || bv === undefined || (bv && bv.length !== outC)) return undefined;
  const o = be.out(outShape);
  a.convForward(p, xv, wv, bv, o.values, alpha, be.version(w));
  return o.info;
}

function fusedAct(attrs: tf.NamedAttrMap | undefined, inputs: tf.NamedTensorInfoMap): number | undefined {
  if (inputs["preluActivationWeights"]) return undefined;
  return actCode(attrs?.["activation"]);
}

/**
 * Conv2DInfo from a kernel's attributes. `dilations` overrides the attribute (tfjs's backprop kernels run with 1);
 * depthwise kernels are always channels-last.
 */
function conv2dInfo(
  xShape: number[],
  fShape: number[],
  attrs: tf.NamedAttrMap,
  depthwise: boolean,
  dilations = (attrs["dilations"] as number | undefined) ?? 1,
): Conv2DInfo {
  const args = [
    shape4(xShape),
    shape4(fShape),
    attrs["strides"] as number,
    dilations,
    attrs["pad"] as Pad,
    attrs["dimRoundingMode"] as Rounding,
  ] as const;
  return depthwise
    ? tf.backend_util.computeConv2DInfo(...args, true)
    : tf.backend_util.computeConv2DInfo(...args, false, fmt(attrs["dataFormat"]));
}

/** dx of a convolution (2D, depthwise or 3D, by its params) into a new tensor of the input's shape. */
function backwardData(
  be: OnednnBackend,
  a: OnednnAddon,
  p: Int32Array | undefined,
  dy: tf.TensorInfo,
  filter: tf.TensorInfo,
  inputShape: number[],
): tf.TensorInfo | undefined {
  const dyv = be.f32(dy);
  const wv = be.f32(filter);
  if (!p || !dyv || !wv) return undefined;
  const o = be.out(inputShape);
  a.convBackwardData(p, dyv, wv, o.values, be.version(filter));
  return o.info;
}

/** dW of a convolution (2D, depthwise or 3D, by its params) into a new tensor of the filter's shape. */
function backwardWeights(
  be: OnednnBackend,
  a: OnednnAddon,
  p: Int32Array | undefined,
  x: tf.TensorInfo,
  dy: tf.TensorInfo,
  filterShape: number[],
): tf.TensorInfo | undefined {
  const xv = be.f32(x);
  const dyv = be.f32(dy);
  if (!p || !xv || !dyv) return undefined;
  const o = be.out(filterShape);
  a.convBackwardWeights(p, xv, dyv, o.values);
  return o.info;
}

/**
 * The filter gradient of a stride-1, undilated 3D convolution by the addon's direct kernel (ADR 160): oneDNN 2.6
 * has only an im2col GEMM for 3D backward weights below AVX-512, 10-25x slower than the forward pass on a 3D
 * U-Net's layers. Undefined (the oneDNN primitive runs) for other geometries or an addon without the kernel.
 */
function conv3dFilterGradDirect(
  be: OnednnBackend,
  a: OnednnAddon,
  c: Conv3DInfo,
  x: tf.TensorInfo,
  dy: tf.TensorInfo,
): tf.TensorInfo | undefined {
  const xv = be.f32(x);
  const dyv = be.f32(dy);
  if (!xv || !dyv || typeof a.conv3dFilterGrad !== "function") return undefined;
  if (c.strideDepth !== 1 || c.strideHeight !== 1 || c.strideWidth !== 1) return undefined;
  if (c.dilationDepth !== 1 || c.dilationHeight !== 1 || c.dilationWidth !== 1) return undefined;
  if (c.dataFormat !== "channelsLast") return undefined;
  const o = be.out([c.filterDepth, c.filterHeight, c.filterWidth, c.inChannels, c.outChannels]);
  const p = Int32Array.from([
    c.batchSize,
    c.inDepth,
    c.inHeight,
    c.inWidth,
    c.inChannels,
    c.outDepth,
    c.outHeight,
    c.outWidth,
    c.outChannels,
    c.filterDepth,
    c.filterHeight,
    c.filterWidth,
    c.padInfo.front,
    c.padInfo.top,
    c.padInfo.left,
  ]);
  a.conv3dFilterGrad(p, xv, dyv, o.values);
  return o.info;
}

function convKernels(): tf.KernelConfig[] {
  return [
    kernel("Conv2D", ({ inputs, attrs = {} }, be, a) => {
      const { x, filter } = inputs as { x: tf.TensorInfo; filter: tf.TensorInfo };
      const c = conv2dInfo(x.shape, filter.shape, attrs, false);
      return convForward(be, a, x, filter, undefined, conv2dParams(c, 1, 0), c.outShape, 0);
    }),
    kernel("FusedConv2D", ({ inputs, attrs = {} }, be, a) => {
      const { x, filter, bias } = inputs as { x: tf.TensorInfo; filter: tf.TensorInfo; bias?: tf.TensorInfo };
      const act = fusedAct(attrs, inputs);
      if (act === undefined) return undefined;
      const c = conv2dInfo(x.shape, filter.shape, attrs, false);
      const alpha = (attrs["leakyreluAlpha"] as number | undefined) ?? 0.2;
      return convForward(be, a, x, filter, bias, conv2dParams(c, 1, act), c.outShape, alpha);
    }),
    kernel("Conv2DBackpropInput", ({ inputs, attrs = {} }, be, a) => {
      const { dy, filter } = inputs as { dy: tf.TensorInfo; filter: tf.TensorInfo };
      const inputShape = attrs["inputShape"] as number[];
      const c = conv2dInfo(inputShape, filter.shape, attrs, false, 1);
      return backwardData(be, a, conv2dParams(c, 1, 0), dy, filter, inputShape);
    }),
    kernel("Conv2DBackpropFilter", ({ inputs, attrs = {} }, be, a) => {
      const { x, dy } = inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
      const filterShape = attrs["filterShape"] as number[];
      const c = conv2dInfo(x.shape, filterShape, attrs, false, 1);
      return backwardWeights(be, a, conv2dParams(c, 1, 0), x, dy, filterShape);
    }),
    kernel("DepthwiseConv2dNative", ({ inputs, attrs = {} }, be, a) => {
      const { x, filter } = inputs as { x: tf.TensorInfo; filter: tf.TensorInfo };
      const c = conv2dInfo(x.shape, filter.shape, attrs, true);
      return convForward(be, a, x, filter, undefined, conv2dParams(c, c.inChannels, 0), c.outShape, 0);
    }),
    kernel("FusedDepthwiseConv2D", ({ inputs, attrs = {} }, be, a) => {
      const { x, filter, bias } = inputs as { x: tf.TensorInfo; filter: tf.TensorInfo; bias?: tf.TensorInfo };
      const act = fusedAct(attrs, inputs);
      if (act === undefined) return undefined;
      const c = conv2dInfo(x.shape, filter.shape, attrs, true);
      const alpha = (attrs["leakyreluAlpha"] as number | undefined) ?? 0.2;
      return convForward(be, a, x, filter, bias, conv2dParams(c, c.inChannels, act), c.outShape, alpha);
    }),
    kernel("DepthwiseConv2dNativeBackpropInput", ({ inputs, attrs = {} }, be, a) => {
      const { dy, filter } = inputs as { dy: tf.TensorInfo; filter: tf.TensorInfo };
      const inputShape = attrs["inputShape"] as number[];
      const c = conv2dInfo(inputShape, filter.shape, attrs, true);
      return backwardData(be, a, conv2dParams(c, c.inChannels, 0), dy, filter, inputShape);
    }),
    kernel("DepthwiseConv2dNativeBackpropFilter", ({ inputs, attrs = {} }, be, a) => {
      const { x, dy } = inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
      const filterShape = attrs["filterShape"] as number[];
      const c = conv2dInfo(x.shape, filterShape, attrs, true);
      return backwardWeights(be, a, conv2dParams(c, c.inChannels, 0), x, dy, filterShape);
    }),
    kernel("Conv3D", ({ inputs, attrs = {} }, be, a) => {
      const { x, filter } = inputs as { x: tf.TensorInfo; filter: tf.TensorInfo };
      const c = tf.backend_util.computeConv3DInfo(
        shape5(x.shape),
        shape5(filter.shape),
        attrs["strides"] as number,
        attrs["dilations"] as number,
        attrs["pad"] as "same" | "valid",
      );
      return convForward(be, a, x, filter, undefined, conv3dParams(c, 0), c.outShape, 0);
    }),
    kernel("Conv3DBackpropInputV2", ({ inputs, attrs = {} }, be, a) => {
      const { dy, filter } = inputs as { dy: tf.TensorInfo; filter: tf.TensorInfo };
      const inputShape = attrs["inputShape"] as number[];
      const c = tf.backend_util.computeConv3DInfo(
        shape5(inputShape),
        shape5(filter.shape),
        attrs["strides"] as number,
        1,
        attrs["pad"] as "same" | "valid",
      );
      return backwardData(be, a, conv3dParams(c, 0), dy, filter, inputShape);
    }),
    kernel("Conv3DBackpropFilterV2", ({ inputs, attrs = {} }, be, a) => {
      const { x, dy } = inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
      const filterShape = attrs["filterShape"] as number[];
      const c = tf.backend_util.computeConv3DInfo(
        shape5(x.shape),
        shape5(filterShape),
        attrs["strides"] as number,
        1,
        attrs["pad"] as "same" | "valid",
      );
      return (
        conv3dFilterGradDirect(be, a, c, x, dy) ??
        backwardWeights(be, a, conv3dParams(c, 0), x, dy, filterShape)
      );
    }),
  ];
}

function poolKernels(): tf.KernelConfig[] {
  const info2 = (shape: number[], attrs: tf.NamedAttrMap) =>
    tf.backend_util.computePool2DInfo(
      shape4(shape),
      attrs["filterSize"] as number,
      attrs["strides"] as number,
      1,
      attrs["pad"] as Pad,
      attrs["dimRoundingMode"] as Rounding,
    );
  const info3 = (shape: number[], attrs: tf.NamedAttrMap) =>
    tf.backend_util.computePool3DInfo(
      shape5(shape),
      attrs["filterSize"] as number,
      attrs["strides"] as number,
      1,
      attrs["pad"] as "same" | "valid",
      attrs["dimRoundingMode"] as Rounding,
    );
  const fwd = (
    p: Int32Array | undefined,
    x: tf.TensorInfo,
    outShape: number[],
    be: OnednnBackend,
    a: OnednnAddon,
  ) => {
    const xv = be.f32(x);
    if (!p || !xv) return undefined;
    const o = be.out(outShape);
    a.poolForward(p, xv, o.values);
    return o.info;
  };
  const bwd = (
    p: Int32Array | undefined,
    dy: tf.TensorInfo,
    x: tf.TensorInfo,
    be: OnednnBackend,
    a: OnednnAddon,
  ) => {
    const dyv = be.f32(dy);
    const xv = be.f32(x);
    if (!p || !dyv || !xv) return undefined;
    const o = be.out(x.shape);
    a.poolBackward(p, dyv, xv, o.values);
    return o.info;
  };
  const io = (inputs: tf.NamedTensorInfoMap) =>
    inputs as { x: tf.TensorInfo; dy: tf.TensorInfo; input: tf.TensorInfo };
  // One forward and one gradient kernel per (dimensionality, algorithm): MaxPool, AvgPool, MaxPool3D, AvgPool3D.
  const family = <C extends { outShape: number[] }>(
    suffix: string,
    info: (shape: number[], attrs: tf.NamedAttrMap) => C,
    params: (c: C, alg: PoolAlg) => Int32Array | undefined,
  ): tf.KernelConfig[] =>
    (
      [
        ["Max", POOL_ALG.max],
        ["Avg", POOL_ALG.avg],
      ] as const
    ).flatMap(([kind, alg]) => [
      kernel(`${kind}Pool${suffix}`, ({ inputs, attrs = {} }, be, a) => {
        const { x } = io(inputs);
        const c = info(x.shape, attrs);
        return fwd(params(c, alg), x, c.outShape, be, a);
      }),
      kernel(`${kind}Pool${suffix}Grad`, ({ inputs, attrs = {} }, be, a) => {
        const { dy, input } = io(inputs);
        return bwd(params(info(input.shape, attrs), alg), dy, input, be, a);
      }),
    ]);
  return [...family("", info2, pool2dParams), ...family("3D", info3, pool3dParams)];
}

function matMul(
  be: OnednnBackend,
  a: OnednnAddon,
  A: tf.TensorInfo,
  B: tf.TensorInfo,
  transA: boolean,
  transB: boolean,
  bias: tf.TensorInfo | undefined,
  act: number,
  alpha: number,
): tf.TensorInfo | undefined {
  const av = be.f32(A);
  const bv = be.f32(B);
  const biasV = bias ? be.f32(bias) : null;
  if (!av || !bv || biasV === undefined || A.shape.length < 2 || B.shape.length < 2) return undefined;
  const ra = A.shape.length;
  const rb = B.shape.length;
  const M = (transA ? A.shape[ra - 1] : A.shape[ra - 2]) ?? 0;
  const K = (transA ? A.shape[ra - 2] : A.shape[ra - 1]) ?? 0;
  const K2 = (transB ? B.shape[rb - 1] : B.shape[rb - 2]) ?? 0;
  const N = (transB ? B.shape[rb - 2] : B.shape[rb - 1]) ?? 0;
  if (K !== K2 || M * N * K === 0) return undefined;
  const outerA = A.shape.slice(0, -2);
  const outerB = B.shape.slice(0, -2);
  const batchA = outerA.reduce((x, y) => x * y, 1);
  const batchB = outerB.reduce((x, y) => x * y, 1);
  if (batchA !== batchB && batchA !== 1 && batchB !== 1) return undefined;
  if (biasV && biasV.length !== N) return undefined;
  const outer = tf.backend_util.assertAndGetBroadcastShape(outerA, outerB);
  const batch = Math.max(batchA, batchB);
  const o = be.out([...outer, M, N]);
  const p = packMatMulParams({
    B: batch,
    M,
    K,
    N,
    batchA,
    batchB,
    transA: transA ? 1 : 0,
    transB: transB ? 1 : 0,
    hasBias: biasV ? 1 : 0,
    act,
  });
  a.matMul(p, av, bv, biasV ?? null, o.values, alpha);
  return o.info;
}

function denseKernels(): tf.KernelConfig[] {
  return [
    kernel("BatchMatMul", ({ inputs, attrs = {} }, be, a) => {
      const { a: A, b: B } = inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
      return matMul(be, a, A, B, attrs["transposeA"] === true, attrs["transposeB"] === true, undefined, 0, 0);
    }),
    kernel("_FusedMatMul", ({ inputs, attrs = {} }, be, a) => {
      const { a: A, b: B, bias } = inputs as { a: tf.TensorInfo; b: tf.TensorInfo; bias?: tf.TensorInfo };
      const act = fusedAct(attrs, inputs);
      if (act === undefined) return undefined;
      const alpha = (attrs["leakyreluAlpha"] as number | undefined) ?? 0.2;
      return matMul(
        be,
        a,
        A,
        B,
        attrs["transposeA"] === true,
        attrs["transposeB"] === true,
        bias,
        act,
        alpha,
      );
    }),
    kernel("Softmax", ({ inputs, attrs = {} }, be, a) => {
      const { logits } = inputs as { logits: tf.TensorInfo };
      const v = be.f32(logits);
      const rank = logits.shape.length;
      const dim = attrs["dim"] as number | number[] | undefined;
      const d = Array.isArray(dim) ? dim[0] : dim;
      if (!v || rank === 0 || (d !== undefined && d !== -1 && d !== rank - 1)) return undefined;
      const cols = logits.shape[rank - 1] ?? 0;
      if (cols === 0) return undefined;
      const o = be.out(logits.shape);
      a.softmax(v.length / cols, cols, v, o.values);
      return o.info;
    }),
    kernel("FusedBatchNorm", ({ inputs, attrs = {} }, be, a) => {
      const { x, mean, variance, scale, offset } = inputs as Record<string, tf.TensorInfo | undefined>;
      if (!x || !mean || !variance) return undefined;
      const C = x.shape[x.shape.length - 1] ?? 0;
      const xv = be.f32(x);
      const mv = be.f32(mean);
      const vv = be.f32(variance);
      const sv = scale ? be.f32(scale) : null;
      const ov = offset ? be.f32(offset) : null;
      const ok = (t: Float32Array | null | undefined) => t === null || t?.length === C;
      if (!xv || C === 0 || !ok(mv) || !ok(vv) || !ok(sv) || !ok(ov) || !mv || !vv) return undefined;
      const o = be.out(x.shape);
      const eps = (attrs["varianceEpsilon"] as number | undefined) ?? 0.001;
      a.batchNorm(xv.length / C, C, xv, mv, vv, sv ?? null, ov ?? null, o.values, eps);
      return o.info;
    }),
  ];
}

function eltwiseKernels(): tf.KernelConfig[] {
  const unary = (name: string, act: number) =>
    kernel(name, ({ inputs, attrs = {} }, be, a) => {
      const { x } = inputs as { x: tf.TensorInfo };
      const v = be.f32(x);
      if (!v || v.length === 0) return undefined;
      const o = be.out(x.shape);
      a.eltwise(act, v, o.values, (attrs["alpha"] as number | undefined) ?? 0.2);
      return o.info;
    });
  return [
    unary("Relu", ACT.relu),
    unary("Relu6", ACT.relu6),
    unary("Elu", ACT.elu),
    unary("Sigmoid", ACT.sigmoid),
    unary("LeakyRelu", ACT.leakyrelu),
    kernel("EluGrad", ({ inputs }, be, a) => {
      const { dy, y } = inputs as { dy: tf.TensorInfo; y: tf.TensorInfo };
      const dyv = be.f32(dy);
      const yv = be.f32(y);
      if (!dyv || !yv || dyv.length !== yv.length || dyv.length === 0) return undefined;
      const o = be.out(dy.shape);
      a.eltwiseBackward(ACT.elu, dyv, yv, o.values, 1);
      return o.info;
    }),
  ];
}

/**
 * Sum/Mean over one contiguous run of axes (bias gradients, batch statistics, global pooling): the CPU kernel
 * transposes the reduced axes innermost first.
 */
/**
 * Layout kernels: SplitV (the gradient of every channel concatenation, e.g. a U-Net's skip joins) and Transpose
 * as strided copies on the backend's own buffers. tfjs's CPU forms go through a per-element index computation that
 * dominated a 3D U-Net step (SplitV alone took 4× the time of every Conv3D kernel together); these are plain
 * moves, so the results are bit-identical.
 */
/**
 * Copies `outer` blocks of `block` floats from `src` (block r at `srcAt + r * srcStride`) to `dst` (at
 * `dstAt + r * dstStride`): the strided copy of SplitV and Concat along one axis.
 */
function copyBlocks(
  src: Float32Array,
  srcAt: number,
  srcStride: number,
  dst: Float32Array,
  dstAt: number,
  dstStride: number,
  block: number,
  outer: number,
): void {
  for (let r = 0; r < outer; r++) {
    const s = srcAt + r * srcStride;
    const d = dstAt + r * dstStride;
    // `set` costs a call per block; short blocks (a few channels) copy faster element by element.
    if (block >= 64) dst.set(src.subarray(s, s + block), d);
    else for (let i = 0; i < block; i++) dst[d + i] = src[s + i] as number;
  }
}

function layoutKernels(): tf.KernelConfig[] {
  const count = (name: string) => nativeCalls.set(name, (nativeCalls.get(name) ?? 0) + 1);
  const splitV: tf.KernelConfig = {
    kernelName: "SplitV",
    backendName: "onednn",
    kernelFunc: (args) => {
      const be = args.backend as OnednnBackend;
      const { x } = args.inputs as { x: tf.TensorInfo };
      const attrs = args.attrs ?? {};
      const v = be.f32(x);
      if (!v) return fallback("SplitV", args as KernelArgs);
      const axis = tf.util.parseAxisParam(attrs["axis"] as number, x.shape)[0] ?? 0;
      const sizes = tf.backend_util.prepareSplitSize(
        x as tf.Tensor,
        attrs["numOrSizeSplits"] as number | number[],
        axis,
      );
      const outer = x.shape.slice(0, axis).reduce((p, q) => p * q, 1);
      const inner = x.shape.slice(axis + 1).reduce((p, q) => p * q, 1);
      const row = (x.shape[axis] as number) * inner;
      let offset = 0;
      const outs = sizes.map((size) => {
        const shape = x.shape.slice();
        shape[axis] = size;
        const o = be.out(shape);
        const block = size * inner;
        copyBlocks(v, offset, row, o.values, 0, block, block, outer);
        offset += block;
        return o.info;
      });
      count("SplitV");
      return outs;
    },
  };
  const transpose = kernel("Transpose", ({ inputs, attrs = {} }, be) => {
    const { x } = inputs as { x: tf.TensorInfo };
    const v = be.f32(x);
    if (!v) return undefined;
    const perm = attrs["perm"] as number[];
    const rank = x.shape.length;
    const outShape = perm.map((p) => x.shape[p] as number);
    const inStrides = new Array<number>(rank).fill(1);
    for (let i = rank - 2; i >= 0; i--)
      inStrides[i] = (inStrides[i + 1] as number) * (x.shape[i + 1] as number);
    const o = be.out(outShape);
    const dst = o.values;
    if (rank === 0 || v.length === 0) {
      dst.set(v);
      return o.info;
    }
    // Walk the output in order with an odometer over all but its last dimension; the last runs as a strided loop.
    const st = perm.map((p) => inStrides[p] as number);
    const last = outShape[rank - 1] as number;
    const lastStride = st[rank - 1] as number;
    const idx = new Array<number>(rank).fill(0);
    let base = 0;
    for (let d = 0; d < dst.length; d += last) {
      if (lastStride === 1) dst.set(v.subarray(base, base + last), d);
      else for (let i = 0, s = base; i < last; i++, s += lastStride) dst[d + i] = v[s] as number;
      for (let k = rank - 2; k >= 0; k--) {
        base += st[k] as number;
        idx[k] = (idx[k] as number) + 1;
        if ((idx[k] as number) < (outShape[k] as number)) break;
        base -= (st[k] as number) * (outShape[k] as number);
        idx[k] = 0;
      }
    }
    return o.info;
  });
  // Concat's CPU kernel copies one `subarray` per outer row: 180,000 calls for a 3D U-Net's channel concatenation
  // of 8-channel maps. The reverse of SplitV above, and the same values.
  const concat: tf.KernelConfig = {
    kernelName: "Concat",
    backendName: "onednn",
    kernelFunc: (args) => {
      const be = args.backend as OnednnBackend;
      const xs = args.inputs as unknown as tf.TensorInfo[];
      const attrs = args.attrs ?? {};
      const first = xs[0];
      const vs = xs.map((x) => be.f32(x));
      if (!first || vs.some((v) => !v) || xs.some((x) => x.shape.length !== first.shape.length))
        return fallback("Concat", args as KernelArgs);
      const axis = tf.util.parseAxisParam(attrs["axis"] as number, first.shape)[0] ?? 0;
      const shape = first.shape.slice();
      shape[axis] = xs.reduce((n, x) => n + (x.shape[axis] as number), 0);
      const outer = first.shape.slice(0, axis).reduce((p, q) => p * q, 1);
      const inner = first.shape.slice(axis + 1).reduce((p, q) => p * q, 1);
      const row = (shape[axis] as number) * inner;
      const o = be.out(shape);
      let offset = 0;
      xs.forEach((x, k) => {
        const block = (x.shape[axis] as number) * inner;
        copyBlocks(vs[k] as Float32Array, 0, block, o.values, offset, row, block, outer);
        offset += block;
      });
      count("Concat");
      return o.info;
    },
  };
  return [splitV, concat, transpose];
}

function reduceKernels(): tf.KernelConfig[] {
  const reduce = (name: string, mean: boolean) =>
    kernel(name, ({ inputs, attrs = {} }, be, a) => {
      const { x } = inputs as { x: tf.TensorInfo };
      const v = be.f32(x);
      if (!v || v.length === 0) return undefined;
      const axes = tf.util.parseAxisParam(attrs["axis"] as number | number[], x.shape).sort((p, q) => p - q);
      const first = axes[0] ?? 0;
      if (axes.length === 0 || !axes.every((ax, i) => ax === first + i)) return undefined;
      const last = first + axes.length;
      const prod = (s: number[]) => s.reduce((p, q) => p * q, 1);
      const outer = prod(x.shape.slice(0, first));
      const reduced = prod(x.shape.slice(first, last));
      const inner = prod(x.shape.slice(last));
      const outShape =
        attrs["keepDims"] === true
          ? x.shape.map((d, i) => (i >= first && i < last ? 1 : d))
          : x.shape.filter((_, i) => i < first || i >= last);
      const o = be.out(outShape);
      a.reduce(v, outer, reduced, inner, o.values, mean ? reduced : 1);
      return o.info;
    });
  return [reduce("Sum", false), reduce("Mean", true)];
}

/** Element strides of `shape` broadcast to `out` (0 along broadcast dimensions), right-aligned as numpy does. */
function broadcastStrides(shape: readonly number[], out: readonly number[]): number[] {
  const s = new Array<number>(out.length).fill(0);
  let acc = 1;
  for (let i = shape.length - 1, j = out.length - 1; i >= 0; i--, j--) {
    const d = shape[i] ?? 1;
    s[j] = d === 1 ? 0 : acc;
    acc *= d;
  }
  return s;
}

/**
 * Merges adjacent dimensions that both operands traverse the same way, so `[32,26,26,32] + [32]` runs as
 * `[21632, 32]` rows, and makes the innermost stride 0 or 1 as the addon expects.
 */
function collapse(out: number[], sa: number[], sb: number[]): [number[], number[], number[]] {
  const o: number[] = [];
  const a: number[] = [];
  const b: number[] = [];
  for (let i = 0; i < out.length; i++) {
    const d = out[i] ?? 1;
    if (d === 1) continue;
    const k = o.length - 1;
    if (k >= 0 && (a[k] as number) === (sa[i] as number) * d && (b[k] as number) === (sb[i] as number) * d) {
      o[k] = (o[k] as number) * d;
      a[k] = sa[i] as number;
      b[k] = sb[i] as number;
    } else {
      o.push(d);
      a.push(sa[i] as number);
      b.push(sb[i] as number);
    }
  }
  if (o.length === 0) return [[1], [0], [0]];
  return [o, a, b];
}

/** The binary tfjs kernels the addon runs; SquareGrad and ReluGrad are its fused gradient forms, not tfjs kernels. */
const { SquareGrad, ReluGrad, ...BINARY } = BIN_OP;
/** Fused gradient forms in the addon's binary kernel (a = dy, b = the forward input x). */
const GRAD_OP = { SquareGrad, ReluGrad } as const;
const UNARY = UN_OP;

/**
 * `out = a op b` with numpy broadcasting of `aShape` and `bShape` to `outShape`, into a new tensor; `undefined` when
 * the broadcast pattern leaves a strided innermost dimension (the CPU kernel then runs).
 */
function nativeBinary(
  be: OnednnBackend,
  ad: OnednnAddon,
  op: number,
  av: Float32Array,
  aShape: readonly number[],
  bv: Float32Array,
  bShape: readonly number[],
  outShape: number[],
): tf.TensorInfo | undefined {
  const [shape, sa, sb] = collapse(
    outShape,
    broadcastStrides(aShape, outShape),
    broadcastStrides(bShape, outShape),
  );
  const last = shape.length - 1;
  if ((sa[last] ?? 0) > 1 || (sb[last] ?? 0) > 1) return undefined;
  const o = be.out(outShape);
  if (o.values.length === 0) return o.info;
  ad.binary(op, av, bv, o.values, Int32Array.from(shape), Int32Array.from(sa), Int32Array.from(sb));
  return o.info;
}

/** Elementwise kernels: tfjs's CPU versions index every broadcast element through generic coordinates. */
function elementwiseKernels(): tf.KernelConfig[] {
  const binary = Object.entries(BINARY).map(([name, op]) =>
    kernel(name, ({ inputs }, be, ad) => {
      const { a, b } = inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
      const av = be.f32(a);
      const bv = be.f32(b);
      if (!av || !bv) return undefined;
      const outShape = tf.backend_util.assertAndGetBroadcastShape(a.shape, b.shape);
      return nativeBinary(be, ad, op, av, a.shape, bv, b.shape, outShape);
    }),
  );
  const unary = Object.entries(UNARY).map(([name, op]) =>
    kernel(name, ({ inputs, attrs = {} }, be, ad) => {
      const { x } = inputs as { x: tf.TensorInfo };
      const v = be.f32(x);
      if (!v) return undefined;
      const o = be.out(x.shape);
      ad.unary(op, v, o.values, (attrs["alpha"] as number | undefined) ?? 0);
      return o.info;
    }),
  );
  const tile = kernel("Tile", ({ inputs, attrs = {} }, be, ad) => {
    const { x } = inputs as { x: tf.TensorInfo };
    const v = be.f32(x);
    const reps = attrs["reps"] as number[];
    if (!v || x.shape.length === 0 || reps.length !== x.shape.length) return undefined;
    const outShape = x.shape.map((d, i) => d * (reps[i] ?? 1));
    const o = be.out(outShape);
    if (o.values.length > 0) ad.tile(v, Int32Array.from(x.shape), o.values, Int32Array.from(outShape));
    return o.info;
  });
  const clip = kernel("ClipByValue", ({ inputs, attrs = {} }, be, ad) => {
    const { x } = inputs as { x: tf.TensorInfo };
    const v = be.f32(x);
    if (!v) return undefined;
    const o = be.out(x.shape);
    ad.clip(v, o.values, attrs["clipValueMin"] as number, attrs["clipValueMax"] as number);
    return o.info;
  });
  return [...binary, ...unary, tile, clip];
}

type VariableGradients = Parameters<tf.AdamOptimizer["applyGradients"]>[0];

/** The AdamOptimizer fields the native update reads (tfjs keeps them protected). */
interface AdamInternals {
  learningRate: number;
  beta1: number;
  beta2: number;
  epsilon: number;
  accBeta1: tf.Variable;
  accBeta2: tf.Variable;
  accumulatedFirstMoment: ({ originalName: string; variable: tf.Variable } | undefined)[];
  accumulatedSecondMoment: ({ originalName: string; variable: tf.Variable } | undefined)[];
  incrementIterations(): void;
}

/**
 * One Adam step for every variable as a single native pass (instead of ten tfjs ops, each allocating a tensor the
 * size of the variable). The addon reproduces tfjs's operation order and float32 rounding, so weights are
 * bit-identical to tfjs's own AdamOptimizer. Results go to fresh buffers: on this backend `dataSync()` and
 * `tf.tensor(array)` share storage with the caller, so an in-place update would change arrays users still hold.
 */
function nativeAdamStep(opt: AdamInternals, variableGradients: VariableGradients): void {
  const be = tf.backend() as OnednnBackend;
  const a = addon as OnednnAddon;
  const names = Array.isArray(variableGradients)
    ? variableGradients.map((v) => v.name)
    : Object.keys(variableGradients);
  const f = Math.fround;
  const acc1 = (be.f32(opt.accBeta1) ?? new Float32Array([0]))[0] ?? 0;
  const acc2 = (be.f32(opt.accBeta2) ?? new Float32Array([0]))[0] ?? 0;
  const constants = Float32Array.from([
    f(opt.beta1),
    f(1 - opt.beta1),
    f(opt.beta2),
    f(1 - opt.beta2),
    f(1 - acc1),
    f(1 - acc2),
    f(opt.epsilon),
    f(-opt.learningRate),
  ]);
  names.forEach((name, i) => {
    const value = tf.engine().registeredVariables[name] as tf.Variable;
    const slot = (list: AdamInternals["accumulatedFirstMoment"], suffix: string) => {
      let s = list[i];
      if (!s) {
        s = {
          originalName: `${name}/${suffix}`,
          variable: tf.tidy(() => tf.zerosLike(value).variable(false)),
        };
        list[i] = s;
      }
      return s.variable;
    };
    const m = slot(opt.accumulatedFirstMoment, "m");
    const v = slot(opt.accumulatedSecondMoment, "v");
    const grad = Array.isArray(variableGradients) ? variableGradients[i]?.tensor : variableGradients[name];
    if (!grad) return;
    const wv = be.f32(value);
    const mv = be.f32(m);
    const vv = be.f32(v);
    const gv = be.f32(grad);
    if (!wv || !mv || !vv || !gv || gv.length !== wv.length) throw new Error(`Adam: ${name} is not float32`);
    const outW = be.buffer(wv.length);
    const outM = be.buffer(wv.length);
    const outV = be.buffer(wv.length);
    a.adam(wv, mv, vv, gv, constants, outW, outM, outV);
    const adopt = (values: Float32Array, shape: number[]) =>
      tf.engine().makeTensorFromTensorInfo(be.adopt(values, shape)) as tf.Tensor;
    tf.tidy(() => {
      value.assign(adopt(outW, value.shape));
      m.assign(adopt(outM, m.shape));
      v.assign(adopt(outV, v.shape));
    });
  });
  tf.tidy(() => {
    opt.accBeta1.assign(tf.mul(opt.accBeta1, opt.beta1));
    opt.accBeta2.assign(tf.mul(opt.accBeta2, opt.beta2));
  });
  opt.incrementIterations();
}

/**
 * One step of RadioLens's Adam/AdamW (src/train/optim.ts) for one variable as a single native pass, instead of ten
 * tfjs ops each allocating a variable-sized tensor. Constants are rounded to float32 as the optimizer's scalar
 * tensors are, so the bits match its op sequence. Fresh (pooled) output buffers, for the reason given above.
 */
function fusedAdamStep(
  w: tf.Variable,
  m: tf.Variable,
  v: tf.Variable,
  g: tf.Tensor,
  c: AdamStepConstants,
): boolean {
  const be = tf.backend();
  if (!(be instanceof OnednnBackend) || !addon) return false;
  const wv = be.f32(w);
  const mv = be.f32(m);
  const vv = be.f32(v);
  const gv = be.f32(g);
  const n = wv?.length ?? -1;
  if (!wv || !mv || !vv || !gv || mv.length !== n || vv.length !== n || gv.length !== n) return false;
  const f = Math.fround;
  const constants = Float32Array.of(
    f(c.beta1),
    f(1 - c.beta1),
    f(c.beta2),
    f(1 - c.beta2),
    f(c.lrT),
    f(c.epsilon),
    f(c.lrWeightDecay ?? 0),
    c.lrWeightDecay === undefined ? 0 : 1,
  );
  const outW = be.buffer(n);
  const outM = be.buffer(n);
  const outV = be.buffer(n);
  addon.adamStep(wv, mv, vv, gv, constants, outW, outM, outV);
  const adopt = (values: Float32Array, shape: number[]) =>
    tf.engine().makeTensorFromTensorInfo(be.adopt(values, shape)) as tf.Tensor;
  tf.tidy(() => {
    w.assign(adopt(outW, w.shape));
    m.assign(adopt(outM, m.shape));
    v.assign(adopt(outV, v.shape));
  });
  nativeCalls.set("AdamStep", (nativeCalls.get("AdamStep") ?? 0) + 1);
  return true;
}

let adamPatched = false;

/** Routes tfjs's AdamOptimizer through {@link nativeAdamStep} while the onednn backend is active. */
function patchAdam(): void {
  if (adamPatched) return;
  adamPatched = true;
  const proto = tf.AdamOptimizer.prototype;
  const original = proto.applyGradients;
  proto.applyGradients = function (this: tf.AdamOptimizer, g: VariableGradients) {
    const floats = (Array.isArray(g) ? g.map((x) => x.tensor) : Object.values(g)).every(
      (t) => t.dtype === "float32",
    );
    if (tf.getBackend() !== "onednn" || !addon || !floats) return original.call(this, g);
    nativeAdamStep(this as unknown as AdamInternals, g);
  };
}

let bnGradPatched = false;

/**
 * Replaces tfjs's FusedBatchNorm gradient, on this backend only, by the addon's two-pass kernel (same formulas,
 * one read of x and dy for the channel sums and one for dx, instead of ~10 full-size ops). Other backends and
 * unsupported shapes keep the original gradient.
 */
function patchBatchNormGradient(): void {
  if (bnGradPatched) return;
  const original = tf.getGradient("FusedBatchNorm");
  if (!original) return;
  bnGradPatched = true;
  tf.registerGradient({
    ...original,
    gradFunc: (dy, saved, attrs) => {
      const fallbackGrads = () => original.gradFunc(dy, saved, attrs);
      const [x, mean, variance, scale] = saved as (tf.Tensor | undefined)[];
      const be = tf.backend();
      if (!(be instanceof OnednnBackend) || !addon || Array.isArray(dy) || !x || !mean || !variance) {
        return fallbackGrads();
      }
      const C = x.shape[x.shape.length - 1] ?? 0;
      const xv = be.f32(x);
      const dyv = be.f32(dy);
      const mv = be.f32(mean);
      const vv = be.f32(variance);
      const sv = scale ? be.f32(scale) : null;
      const perChannel = (t: tf.Tensor | undefined, v: Float32Array | null | undefined) =>
        t === undefined ? v === null : t.rank === 1 && v?.length === C;
      if (
        !xv ||
        !dyv ||
        dyv.length !== xv.length ||
        C === 0 ||
        !perChannel(mean, mv) ||
        !perChannel(variance, vv)
      ) {
        return fallbackGrads();
      }
      if (!perChannel(scale, sv) || !mv || !vv || sv === undefined) return fallbackGrads();
      const a = addon;
      let out: Float32Array[] | undefined;
      const compute = (): Float32Array[] => {
        if (!out) {
          out = [be.buffer(xv.length), ...Array.from({ length: 4 }, () => be.buffer(C))];
          const [dx, dm, dv, ds, doff] = out as [
            Float32Array,
            Float32Array,
            Float32Array,
            Float32Array,
            Float32Array,
          ];
          const eps = (attrs["varianceEpsilon"] as number | undefined) ?? 0.001;
          a.batchNormGrad(xv, dyv, mv, vv, sv, xv.length / C, C, eps, dx, dm, dv, ds, doff);
          nativeCalls.set("FusedBatchNormGrad", (nativeCalls.get("FusedBatchNormGrad") ?? 0) + 1);
        }
        return out;
      };
      // Each gradient is requested inside its own tidy, so each one makes its tensor when asked.
      const grad = (i: number, shape: number[]) => () =>
        tf.engine().makeTensorFromTensorInfo(be.adopt(compute()[i] as Float32Array, shape)) as tf.Tensor;
      return {
        x: grad(0, x.shape),
        mean: grad(1, mean.shape),
        variance: grad(2, variance.shape),
        scale: grad(3, [C]),
        offset: grad(4, [C]),
      };
    },
  });
}

let gradientsPatched = false;

/**
 * One-pass gradients, on this backend only, for ops whose tfjs gradients build full-size temporaries: ClipByValue
 * (a bool mask from two comparisons and a select), Relu (`mul(dy, cast(step(x)))`), Square (`mul(dy, mul(x, 2))`)
 * and Mean (`div(mul(dy, ones(x.shape)), n)`, whose `ones` is filled element by element in JavaScript). Each
 * native form rounds once where tfjs's exact intermediate steps (x * 2, a 0/1 mask, dy * 1) do not round, so the
 * gradients are bit-identical (ADR 015).
 */
function patchGradients(): void {
  if (gradientsPatched) return;
  gradientsPatched = true;
  const override = (
    name: string,
    grad: (
      dy: tf.Tensor,
      x: tf.Tensor,
      be: OnednnBackend,
      a: OnednnAddon,
      attrs: tf.NamedAttrMap,
    ) => tf.TensorInfo | undefined,
  ) => {
    const original = tf.getGradient(name);
    if (!original) return;
    tf.registerGradient({
      ...original,
      gradFunc: (dy, saved, attrs) => {
        const [x] = saved as (tf.Tensor | undefined)[];
        const be = tf.backend();
        if (!(be instanceof OnednnBackend) || !addon || Array.isArray(dy) || !x)
          return original.gradFunc(dy, saved, attrs);
        const a = addon;
        return {
          x: () => {
            const info = grad(dy, x, be, a, attrs);
            if (!info) return (original.gradFunc(dy, saved, attrs)["x"] as () => tf.Tensor)();
            nativeCalls.set(`${name}Grad`, (nativeCalls.get(`${name}Grad`) ?? 0) + 1);
            return tf.engine().makeTensorFromTensorInfo(info) as tf.Tensor;
          },
        };
      },
    });
  };
  const elementwise = (op: number) => (dy: tf.Tensor, x: tf.Tensor, be: OnednnBackend, a: OnednnAddon) => {
    const dyv = be.f32(dy);
    const xv = be.f32(x);
    if (!dyv || !xv || !tf.util.arraysEqual(dy.shape, x.shape)) return undefined;
    return nativeBinary(be, a, op, dyv, dy.shape, xv, x.shape, x.shape);
  };
  // tfjs: where(logicalAnd(x >= min, x <= max), dy, zerosLike(dy)), four full-size CPU kernels (two of them bool)
  // on the probabilities a Dice/CE loss clips; one pass here, the same values.
  override("ClipByValue", (dy, x, be, _a, attrs) => {
    const dyv = be.f32(dy);
    const xv = be.f32(x);
    if (!dyv || !xv || !tf.util.arraysEqual(dy.shape, x.shape)) return undefined;
    const lo = attrs["clipValueMin"] as number;
    const hi = attrs["clipValueMax"] as number;
    const o = be.out(x.shape);
    const out = o.values;
    for (let i = 0; i < xv.length; i++) {
      const v = xv[i] as number;
      out[i] = v >= lo && v <= hi ? (dyv[i] as number) : 0;
    }
    return o.info;
  });
  override("Relu", elementwise(GRAD_OP.ReluGrad));
  override("Square", elementwise(GRAD_OP.SquareGrad));
  override("Mean", (dy, x, be, a, attrs) => {
    const dyv = be.f32(dy);
    if (!dyv) return undefined;
    const axes = tf.util.parseAxisParam(attrs["axis"] as number | number[], x.shape);
    const expanded = x.shape.map((d, i) => (axes.includes(i) ? 1 : d));
    if (tf.util.sizeFromShape(expanded) !== dyv.length) return undefined;
    const n = tf.util.sizeFromShape(x.shape) / dyv.length;
    return nativeBinary(be, a, BINARY.RealDiv, dyv, expanded, Float32Array.of(n), [], x.shape);
  });
}

/** `tf.moments` over every axis but the last, as one native op with a one-pass gradient; `undefined` otherwise. */
function nativeMoments(
  x: unknown,
  axis: number | number[] | undefined,
  keepDims: boolean,
): { mean: tf.Tensor; variance: tf.Tensor } | undefined {
  const be = tf.backend();
  if (!(be instanceof OnednnBackend) || !addon || !(x instanceof tf.Tensor) || axis === undefined)
    return undefined;
  const input: tf.Tensor = x;
  const rank = input.rank;
  const C = input.shape[rank - 1] ?? 0;
  if (input.dtype !== "float32" || rank < 2 || C === 0 || input.size === 0) return undefined;
  const axes = tf.util.parseAxisParam(axis, input.shape).sort((p, q) => p - q);
  if (axes.length !== rank - 1 || !axes.every((ax, i) => ax === i)) return undefined;
  const a = addon;
  const rows = input.size / C;
  const stats = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const xt = args[0] as tf.Tensor;
    const save = args[1] as tf.GradSaveFunc;
    const xv = be.f32(xt) as Float32Array;
    const o = be.out([2, C]);
    a.moments(xv, rows, C, o.values);
    nativeCalls.set("Moments", (nativeCalls.get("Moments") ?? 0) + 1);
    const value = tf.engine().makeTensorFromTensorInfo(o.info) as tf.Tensor;
    save([xt, value]);
    return {
      value,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xs, st] = saved as [tf.Tensor, tf.Tensor];
        const dyv = be.f32(dy);
        const xsv = be.f32(xs);
        const sv = be.f32(st);
        if (!dyv || !xsv || !sv) throw new Error("moments gradient: float32 storage expected");
        const g = be.out(xs.shape);
        a.momentsGrad(xsv, sv, dyv, rows, C, g.values);
        nativeCalls.set("MomentsGrad", (nativeCalls.get("MomentsGrad") ?? 0) + 1);
        return tf.engine().makeTensorFromTensorInfo(g.info) as tf.Tensor;
      },
    };
  })(input);
  const outShape = keepDims ? input.shape.map((d, i) => (i === rank - 1 ? d : 1)) : [C];
  const [mean, variance] = tf.unstack(stats).map((t) => tf.reshape(t, outShape)) as [tf.Tensor, tf.Tensor];
  stats.dispose();
  return { mean, variance };
}

let momentsPatched = false;

/**
 * Routes `tf.moments` over all axes but the last (batch-norm statistics, as tfjs-layers' BatchNormalization computes
 * them in training) to {@link nativeMoments} while this backend is active (ADR 016). tfjs-layers calls it through
 * tfjs-core's CommonJS exports object, which is where the patch goes; other calls keep the original.
 */
function patchMoments(): void {
  if (momentsPatched) return;
  momentsPatched = true;
  const core = createRequire(import.meta.url)("@tensorflow/tfjs-core") as { moments: typeof tf.moments };
  const original = core.moments;
  core.moments = ((x: tf.Tensor | tf.TensorLike, axis?: number | number[], keepDims = false) =>
    nativeMoments(x, axis, keepDims) ?? original(x, axis, keepDims)) as typeof tf.moments;
}

let registered = false;

/**
 * Registers the `onednn` backend and its kernels (once per process) and sets the thread count.
 *
 * @example
 * ```ts
 * const { isa, version } = await registerOnednnBackend(2);
 * await tf.setBackend("onednn");
 * ```
 */
export async function registerOnednnBackend(threads: number): Promise<{ isa: string; version: string }> {
  const a = loadNativeAddon() as OnednnAddon | undefined;
  if (!a) throw new Error("the oneDNN addon is not built");
  addon = a;
  a.setThreads(threads);
  if (!registered) {
    a.setLogger((message) => log.debug(message));
    tf.registerBackend("onednn", () => new OnednnBackend(), 1);
    for (const k of tf.getKernelsForBackend("cpu")) {
      cpuKernels.set(k.kernelName, k.kernelFunc);
      tf.registerKernel({ ...k, backendName: "onednn" });
    }
    for (const k of [
      ...convKernels(),
      ...poolKernels(),
      ...denseKernels(),
      ...eltwiseKernels(),
      ...reduceKernels(),
      ...elementwiseKernels(),
      ...layoutKernels(),
    ]) {
      if (!cpuKernels.has(k.kernelName)) continue;
      tf.unregisterKernel(k.kernelName, "onednn");
      tf.registerKernel(k);
    }
    patchAdam();
    patchBatchNormGradient();
    patchGradients();
    patchMoments();
    setFusedKernels("onednn", { adamStep: fusedAdamStep });
    registered = true;
  }
  const info = a.info();
  return { isa: info.isa, version: info.onednnVersion };
}

/**
 * How many times each kernel ran natively (not through its CPU fallback) in this process.
 *
 * @example
 * ```ts
 * const before = nativeKernelCalls().get("Conv2D") ?? 0;
 * ```
 */
export function nativeKernelCalls(): ReadonlyMap<string, number> {
  return nativeCalls;
}

/**
 * The loaded addon, once {@link registerOnednnBackend} ran.
 *
 * @example
 * ```ts
 * onednnAddon()?.info().isa; // "avx512_core_bf16"
 * ```
 */
export function onednnAddon(): OnednnAddon | undefined {
  return addon;
}

setNativeRegistrar(registerOnednnBackend);

/** What {@link probeImplementations} found. */
export interface ImplementationProbe {
  /** `"<primitive kind> <oneDNN implementation>"` of every primitive the probe created, in order. */
  readonly implementations: readonly string[];
  /** The reference (`ref:`) ones among them: kernels that would run 100-1000× slower than a JIT one. */
  readonly reference: readonly string[];
}

/**
 * Runs one ResNet basic block (He et al. 2016) forward and backward on fresh primitives — the downsampling block of
 * ResNet-18 (28)'s last stage: 8×8×256 → 4×4×512, 3×3 convolutions, a 1×1 projection, batch norm, ReLU, global
 * average pooling and a dense layer — and lists the oneDNN implementations it met. `radiolens doctor` prints the
 * reference ones. The onednn backend must be active.
 *
 * @example
 * ```ts
 * await initEngine({ backend: "onednn" });
 * const { reference } = probeImplementations();
 * ```
 */
export function probeImplementations(): ImplementationProbe {
  const a = addon;
  if (!a || tf.getBackend() !== "onednn") throw new Error("the onednn backend is not active");
  a.clearCache();
  a.clearImplementations();
  let seed = 1;
  const rand = (shape: number[], scale: number) => tf.randomUniform(shape, -scale, scale, "float32", seed++);
  tf.tidy(() => {
    const x = rand([2, 8, 8, 256], 1);
    const w1 = rand([3, 3, 256, 512], 0.03);
    const w2 = rand([3, 3, 512, 512], 0.02);
    const ws = rand([1, 1, 256, 512], 0.06);
    const wd = rand([512, 2], 0.05);
    const bn = (t: tf.Tensor4D) => {
      const { mean, variance } = tf.moments(t, [0, 1, 2]);
      return tf.batchNorm(t, mean, variance, tf.zeros([t.shape[3]]), tf.ones([t.shape[3]]), 1e-3);
    };
    const block = (xi: tf.Tensor, a1: tf.Tensor, a2: tf.Tensor, as: tf.Tensor, ad: tf.Tensor) => {
      const y = tf.relu(bn(tf.conv2d(xi as tf.Tensor4D, a1 as tf.Tensor4D, 2, "same")));
      const z = bn(tf.conv2d(y as tf.Tensor4D, a2 as tf.Tensor4D, 1, "same"));
      const s = bn(tf.conv2d(xi as tf.Tensor4D, as as tf.Tensor4D, 2, "same"));
      const pooled = tf.mean(tf.relu(tf.add(z, s)), [1, 2]);
      return tf.sum(tf.softmax(tf.matMul(pooled as tf.Tensor2D, ad as tf.Tensor2D)).mul(tf.tensor([1, 0])));
    };
    for (const g of tf.grads(block)([x, w1, w2, ws, wd])) g.dataSync();
  });
  const implementations = a.implementations();
  return { implementations, reference: implementations.filter((s) => / ref/.test(s)) };
}
