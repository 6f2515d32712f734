/** Training kernels the tfjs WASM backend lacks (Conv2DBackpropFilter, depthwise backprops), built from its own BatchMatMul. */

import type { BackendWasm } from "@tensorflow/tfjs-backend-wasm";
import * as tf from "@tensorflow/tfjs-core";

type Conv2DBackpropFilterAttrs = {
  strides: [number, number] | number;
  pad: "valid" | "same" | number | tf.backend_util.ExplicitPadding;
  dataFormat: "NHWC" | "NCHW";
  dimRoundingMode?: "floor" | "round" | "ceil";
  dilations?: [number, number] | number;
  filterShape: [number, number, number, number];
};

/**
 * Writes the im2col matrix of `x` for `conv` into `cols` (row = output pixel, column = kh,kw,cin), zero where
 * the window falls in the padding. Column order matches the HWIO filter layout, so dW = colsᵀ · dy.
 */
function im2col(x: Float32Array, conv: tf.backend_util.Conv2DInfo, cols: Float32Array): void {
  const { batchSize, inHeight, inWidth, inChannels, outHeight, outWidth } = conv;
  const { filterHeight, filterWidth, strideHeight, strideWidth, dilationHeight, dilationWidth } = conv;
  const padTop = conv.padInfo.top;
  const padLeft = conv.padInfo.left;
  const k = filterHeight * filterWidth * inChannels;
  let row = 0;
  for (let b = 0; b < batchSize; b++) {
    const xb = b * inHeight * inWidth * inChannels;
    for (let oh = 0; oh < outHeight; oh++) {
      for (let ow = 0; ow < outWidth; ow++, row++) {
        let c = row * k;
        for (let fh = 0; fh < filterHeight; fh++) {
          const ih = oh * strideHeight - padTop + fh * dilationHeight;
          if (ih < 0 || ih >= inHeight) {
            cols.fill(0, c, c + filterWidth * inChannels);
            c += filterWidth * inChannels;
            continue;
          }
          for (let fw = 0; fw < filterWidth; fw++) {
            const iw = ow * strideWidth - padLeft + fw * dilationWidth;
            if (iw < 0 || iw >= inWidth) {
              cols.fill(0, c, c + inChannels);
            } else {
              const src = xb + (ih * inWidth + iw) * inChannels;
              cols.set(x.subarray(src, src + inChannels), c);
            }
            c += inChannels;
          }
        }
      }
    }
  }
}

function batchMatMulKernel(): tf.KernelFunc {
  const k = tf.getKernel("BatchMatMul", "wasm");
  if (!k) throw new Error("the WASM backend has no BatchMatMul kernel");
  return k.kernelFunc;
}

/** dW for a 2D convolution: [KH, KW, Cin, Cout] = im2col(x)ᵀ · dy. */
const conv2DBackpropFilter: tf.KernelFunc = ({ inputs, backend, attrs }) => {
  const wasm = backend as BackendWasm;
  const { x, dy } = inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
  const a = attrs as unknown as Conv2DBackpropFilterAttrs;
  if (a.dataFormat === "NCHW") throw new Error("Conv2DBackpropFilter on WASM supports NHWC only");
  const conv = tf.backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    a.filterShape,
    a.strides,
    a.dilations ?? 1,
    a.pad,
    a.dimRoundingMode,
    false,
    "channelsLast",
  );
  const m = conv.batchSize * conv.outHeight * conv.outWidth;
  const k = conv.filterHeight * conv.filterWidth * conv.inChannels;
  const cols = wasm.makeOutput([1, m, k], "float32");
  im2col(wasm.typedArrayFromHeap(x) as Float32Array, conv, wasm.typedArrayFromHeap(cols) as Float32Array);
  const dy3 = { dataId: dy.dataId, shape: [1, m, conv.outChannels], dtype: dy.dtype };
  const prod = batchMatMulKernel()({
    inputs: { a: cols, b: dy3 },
    backend,
    attrs: { transposeA: true, transposeB: false },
  }) as tf.TensorInfo;
  wasm.disposeData(cols.dataId);
  const out = wasm.makeOutput([...a.filterShape], "float32");
  (wasm.typedArrayFromHeap(out) as Float32Array).set(wasm.typedArrayFromHeap(prod) as Float32Array);
  wasm.disposeData(prod.dataId);
  return out;
};

type DepthwiseAttrs = Omit<Conv2DBackpropFilterAttrs, "filterShape"> & {
  filterShape?: [number, number, number, number];
  inputShape?: [number, number, number, number];
};

function depthwiseInfo(
  xShape: number[],
  filterShape: number[],
  a: DepthwiseAttrs,
): tf.backend_util.Conv2DInfo {
  return tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    a.strides,
    a.dilations ?? 1,
    a.pad,
    a.dimRoundingMode,
    true,
  );
}

/**
 * Visits every valid (output pixel, filter tap) pair of a depthwise convolution with the flat offsets of the input
 * pixel, the filter tap and the output pixel; padding taps are skipped.
 */
function forEachDepthwiseTap(
  conv: tf.backend_util.Conv2DInfo,
  visit: (xBase: number, wBase: number, dyBase: number) => void,
): void {
  const { batchSize, inHeight, inWidth, inChannels, outHeight, outWidth, outChannels } = conv;
  for (let b = 0; b < batchSize; b++) {
    for (let oh = 0; oh < outHeight; oh++) {
      for (let ow = 0; ow < outWidth; ow++) {
        const dyBase = ((b * outHeight + oh) * outWidth + ow) * outChannels;
        for (let fh = 0; fh < conv.filterHeight; fh++) {
          const ih = oh * conv.strideHeight - conv.padInfo.top + fh * conv.dilationHeight;
          if (ih < 0 || ih >= inHeight) continue;
          for (let fw = 0; fw < conv.filterWidth; fw++) {
            const iw = ow * conv.strideWidth - conv.padInfo.left + fw * conv.dilationWidth;
            if (iw < 0 || iw >= inWidth) continue;
            visit(
              ((b * inHeight + ih) * inWidth + iw) * inChannels,
              (fh * conv.filterWidth + fw) * outChannels,
              dyBase,
            );
          }
        }
      }
    }
  }
}

/** dW for a depthwise convolution, direct loops (depthwise layers are memory-bound, not FLOP-bound). */
const depthwiseBackpropFilter: tf.KernelFunc = ({ inputs, backend, attrs }) => {
  const wasm = backend as BackendWasm;
  const { x, dy } = inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
  const a = attrs as unknown as DepthwiseAttrs;
  const fs = a.filterShape as [number, number, number, number];
  const conv = depthwiseInfo(x.shape, fs, a);
  // Allocate first: makeOutput may grow the heap and detach earlier views.
  const out = wasm.makeOutput([...fs], "float32");
  const xv = wasm.typedArrayFromHeap(x) as Float32Array;
  const dyv = wasm.typedArrayFromHeap(dy) as Float32Array;
  const dw = wasm.typedArrayFromHeap(out) as Float32Array;
  dw.fill(0);
  const mult = conv.outChannels / conv.inChannels;
  forEachDepthwiseTap(conv, (xBase, wBase, dyBase) => {
    for (let c = 0; c < conv.inChannels; c++) {
      const xval = xv[xBase + c] as number;
      for (let q = 0; q < mult; q++) {
        const oc = c * mult + q;
        dw[wBase + oc] = (dw[wBase + oc] as number) + xval * (dyv[dyBase + oc] as number);
      }
    }
  });
  return out;
};

/** dx for a depthwise convolution, direct loops. */
const depthwiseBackpropInput: tf.KernelFunc = ({ inputs, backend, attrs }) => {
  const wasm = backend as BackendWasm;
  const { dy, filter } = inputs as { dy: tf.TensorInfo; filter: tf.TensorInfo };
  const a = attrs as unknown as DepthwiseAttrs;
  const xs = a.inputShape as [number, number, number, number];
  const conv = depthwiseInfo(xs, filter.shape, a);
  const out = wasm.makeOutput([...xs], "float32");
  const dyv = wasm.typedArrayFromHeap(dy) as Float32Array;
  const wv = wasm.typedArrayFromHeap(filter) as Float32Array;
  const dx = wasm.typedArrayFromHeap(out) as Float32Array;
  dx.fill(0);
  const mult = conv.outChannels / conv.inChannels;
  forEachDepthwiseTap(conv, (xBase, wBase, dyBase) => {
    for (let c = 0; c < conv.inChannels; c++) {
      let acc = 0;
      for (let q = 0; q < mult; q++) {
        const oc = c * mult + q;
        acc += (wv[wBase + oc] as number) * (dyv[dyBase + oc] as number);
      }
      dx[xBase + c] = (dx[xBase + c] as number) + acc;
    }
  });
  return out;
};

let registered = false;

/**
 * Registers the missing training kernels on the `wasm` backend (idempotent).
 *
 * @example
 * ```ts
 * registerWasmTrainingKernels();
 * await tf.setBackend("wasm");
 * ```
 */
export function registerWasmTrainingKernels(): void {
  if (registered) return;
  registered = true;
  const add = (kernelName: string, kernelFunc: tf.KernelFunc): void => {
    if (!tf.getKernel(kernelName, "wasm")) tf.registerKernel({ kernelName, backendName: "wasm", kernelFunc });
  };
  add("Conv2DBackpropFilter", conv2DBackpropFilter);
  add("DepthwiseConv2dNativeBackpropFilter", depthwiseBackpropFilter);
  add("DepthwiseConv2dNativeBackpropInput", depthwiseBackpropInput);
}
