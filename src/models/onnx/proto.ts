/** The ONNX protobuf messages (onnx-proto, generated from the official onnx.proto) and small builders for them. */
import onnxProto from "onnx-proto";

/** The `onnx` protobuf namespace: ModelProto, GraphProto, NodeProto, TensorProto, ... */
export const onnx = onnxProto.onnx;
/** Type namespace of the ONNX messages. */
export type { onnx as OnnxTypes } from "onnx-proto";

import type { onnx as O } from "onnx-proto";

/** The ONNX operator set RadioLens writes (opset 13: Softmax on one axis, Clip with min/max inputs). */
export const OPSET = 13;
/** IR version 7 is the one opset 13 was released with; every ONNX Runtime since 1.6 reads it. */
export const IR_VERSION = 7;

const LITTLE_ENDIAN = new Uint8Array(Float32Array.of(1).buffer)[3] === 0x3f;

/** TensorProto.DataType values RadioLens reads or writes. */
export const DT = { FLOAT: 1, INT64: 7 } as const;

/** An attribute value as the node builder takes it. */
export type AttrValue = number | string | readonly number[] | { readonly float: number };

/**
 * Builds an AttributeProto: integers become INT/INTS, `{ float }` becomes FLOAT, strings STRING (ONNX IR spec,
 * "Attributes").
 *
 * @example
 * ```ts
 * attr("kernel_shape", [3, 3]); // INTS
 * attr("epsilon", { float: 1e-5 }); // FLOAT
 * ```
 */
export function attr(name: string, v: AttrValue): O.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  if (typeof v === "string") return { name, type: T.STRING, s: new TextEncoder().encode(v) };
  if (typeof v === "number") return { name, type: T.INT, i: v };
  if (Array.isArray(v)) return { name, type: T.INTS, ints: [...(v as number[])] };
  return { name, type: T.FLOAT, f: (v as { float: number }).float };
}

/**
 * A float32 initializer, little-endian raw data (ONNX TensorProto.raw_data).
 *
 * @example
 * ```ts
 * floatTensor("w", [2], Float32Array.of(1, 2));
 * ```
 */
export function floatTensor(name: string, dims: readonly number[], data: Float32Array): O.ITensorProto {
  let raw: Uint8Array;
  if (LITTLE_ENDIAN) {
    raw = new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength));
  } else {
    raw = new Uint8Array(data.length * 4);
    const view = new DataView(raw.buffer);
    for (let i = 0; i < data.length; i++) view.setFloat32(i * 4, data[i] as number, true);
  }
  return { name, dims: [...dims], dataType: DT.FLOAT, rawData: raw };
}

/**
 * An int64 initializer (shapes, axes), little-endian raw data.
 *
 * @example
 * ```ts
 * int64Tensor("shape", [0, -1]);
 * ```
 */
export function int64Tensor(name: string, values: readonly number[]): O.ITensorProto {
  const raw = new Uint8Array(values.length * 8);
  const view = new DataView(raw.buffer);
  values.forEach((v, i) => {
    view.setBigInt64(i * 8, BigInt(v), true);
  });
  return { name, dims: [values.length], dataType: DT.INT64, rawData: raw };
}

/**
 * A float tensor ValueInfo with named (dynamic) or fixed dimensions.
 *
 * @example
 * ```ts
 * valueInfo("image", ["N", 28, 28, 1]);
 * ```
 */
export function valueInfo(name: string, dims: readonly (number | string)[]): O.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: DT.FLOAT,
        shape: { dim: dims.map((d) => (typeof d === "string" ? { dimParam: d } : { dimValue: d })) },
      },
    },
  };
}

/**
 * A protobufjs int64 (a number, or a Long for values beyond 2^53) as a number.
 *
 * @example
 * ```ts
 * num(model.irVersion); // 7
 * ```
 */
export function num(v: number | { toNumber(): number } | null | undefined): number {
  if (v == null) return 0;
  return typeof v === "number" ? v : v.toNumber();
}
