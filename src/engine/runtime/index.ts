/** Inference runtimes: the interface and its tfjs and ONNX Runtime implementations. */
export { createOrtRuntime, type OrtRuntimeOptions, ortSessionOptions, runtimeThreads } from "./ort.js";
export { createTfjsRuntime } from "./tfjs.js";
export type { InferenceRuntime, RuntimeKind, RuntimeTensor } from "./types.js";
