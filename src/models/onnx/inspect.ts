/** Reads an ONNX file's structure (inputs, outputs, opset, metadata) without running it, refusing malformed bytes. */
import type { onnx as O } from "onnx-proto";
import { RadioLensError } from "../../core/errors.js";
import { num, onnx } from "./proto.js";

/** One graph input or output: name and dimensions (a number, or the symbolic name of a dynamic dimension). */
export interface OnnxIo {
  readonly name: string;
  readonly elemType: number;
  readonly dims: readonly (number | string)[];
}

/** What an ONNX file declares about itself. */
export interface OnnxSummary {
  readonly irVersion: number;
  readonly opset: number;
  readonly producer: string;
  readonly inputs: readonly OnnxIo[];
  readonly outputs: readonly OnnxIo[];
  readonly nodes: number;
  readonly metadata: Readonly<Record<string, string>>;
}

/**
 * Decodes `.onnx` bytes into a ModelProto; anything that is not a protobuf ModelProto with a graph is refused with
 * RL_ERR_ONNX_INVALID.
 *
 * @example
 * ```ts
 * const proto = decodeOnnx(readFileSync("model.onnx"), "model.onnx");
 * ```
 */
export function decodeOnnx(bytes: Uint8Array, path: string): O.ModelProto {
  let m: O.ModelProto;
  try {
    m = onnx.ModelProto.decode(bytes);
  } catch (e) {
    throw new RadioLensError("RL_ERR_ONNX_INVALID", {
      path,
      detail: `not an ONNX protobuf (${(e as Error).message})`,
    });
  }
  if (!m.graph || (m.graph.node ?? []).length === 0) {
    throw new RadioLensError("RL_ERR_ONNX_INVALID", { path, detail: "the file holds no graph nodes" });
  }
  if (num(m.irVersion) < 3 || (m.opsetImport ?? []).length === 0) {
    throw new RadioLensError("RL_ERR_ONNX_INVALID", {
      path,
      detail: `IR version ${num(m.irVersion)} without an operator set import is not a model ONNX Runtime can load`,
    });
  }
  return m;
}

function io(v: O.IValueInfoProto): OnnxIo {
  const t = v.type?.tensorType;
  return {
    name: v.name ?? "",
    elemType: t?.elemType ?? 0,
    dims: (t?.shape?.dim ?? []).map((d) =>
      d.dimParam ? d.dimParam : d.dimValue != null ? num(d.dimValue) : "?",
    ),
  };
}

/**
 * Summarizes an ONNX model: the graph's real inputs (initializers listed as inputs by old exporters are left out),
 * outputs, default-domain opset and metadata.
 *
 * @example
 * ```ts
 * const s = summarizeOnnx(readFileSync("model.onnx"), "model.onnx");
 * console.log(s.inputs[0]?.dims); // ["batch", 1, 28, 28]
 * ```
 */
export function summarizeOnnx(bytes: Uint8Array, path: string): OnnxSummary {
  const m = decodeOnnx(bytes, path);
  const g = m.graph as O.IGraphProto;
  const inits = new Set((g.initializer ?? []).map((t) => t.name));
  const opset = (m.opsetImport ?? []).find((o) => !o.domain || o.domain === "ai.onnx");
  return {
    irVersion: num(m.irVersion),
    opset: num(opset?.version),
    producer: `${m.producerName ?? ""} ${m.producerVersion ?? ""}`.trim(),
    inputs: (g.input ?? []).filter((v) => !inits.has(v.name ?? "")).map(io),
    outputs: (g.output ?? []).map(io),
    nodes: (g.node ?? []).length,
    metadata: Object.fromEntries((m.metadataProps ?? []).map((p) => [p.key ?? "", p.value ?? ""])),
  };
}
