/** The public API of RadioLens: what `import { ... } from "radiolens"` gives. Everything else is internal. */

export { ERROR_CATALOGUE, type ErrorCode, isRadioLensError, RadioLensError } from "./core/errors.js";
// Core: the image type, the error catalogue, seeded randomness.
export {
  type CreateImageOptions,
  createImage,
  type MedicalImage,
  type PixelArray,
  type PixelDType,
  pixelStats,
} from "./core/image.js";
export { Rng } from "./core/rng.js";
// Both modules name a record type `Sample`: a dataset item (data) and a keyed transform input (transforms).
export type { Sample } from "./data/index.js";
export * from "./data/index.js";
// De-identification (PS3.15 Annex E).
export { deidentifyFile, deidentifyTree, readSecretFile } from "./deid/batch.js";
// Compute engine.
export {
  type BackendName,
  currentEngine,
  type EngineInfo,
  type EngineOptions,
  initEngine,
} from "./engine/backend.js";
// Explanations.
export * from "./explain/index.js";
export {
  DicomDataset,
  DicomError,
  dicomToImage,
  groupBySeries,
  type ParsedDicom,
  type ParseOptions,
  parseDicom,
  readDicomFile,
  type SeriesVolume,
  seriesToVolume,
  WINDOW_PRESETS,
  type WindowPreset,
  writeDicom,
} from "./io/dicom/index.js";
// Reading and writing images: readers chosen by content (DICOM, NIfTI, PNG, JPEG), DICOM and NIfTI in depth, npz.
export { type ImageReader, type ReadOptions, readImage, registerImageReader } from "./io/index.js";
export { readNifti, writeNifti } from "./io/nifti/index.js";
export { type NpzArrays, readNpz } from "./io/npz/index.js";
export * from "./metrics/index.js";

// Models: the zoo, bundles, inference on tfjs or ONNX Runtime, ONNX export and import.
export { loadBundle, type ModelCard, readCard, saveBundle } from "./models/bundle.js";
export {
  type BundleModel,
  exportBundleOnnx,
  type OpenBundleOptions,
  openBundle,
  predictBundleImages,
} from "./models/onnx/bundle-runtime.js";
export { importOnnx } from "./models/onnx/import.js";
export { type Prediction, predictImages } from "./models/predict.js";
export {
  type ClassifierOptions,
  createModel,
  MODELS,
  type ModelSpec,
  registerModel,
} from "./models/registry.js";
export { generateReport, type ModelPrediction } from "./radiology-reports/generate.js";
// Radiology reports: labeling, generation, DICOM Comprehensive SR.
export { labelReport, type ReportLabels } from "./radiology-reports/labeler.js";
export { buildComprehensiveSR, writeComprehensiveSR } from "./radiology-reports/sr.js";
// The inference service.
export { type AppOptions, buildApp } from "./serve/app.js";
// Training: the loop with callbacks, the config-driven run, evaluation of a bundle.
export {
  checkpoint,
  cosineDecay,
  earlyStopping,
  lrScheduler,
  metricsLogger,
  progressBar,
  reduceLrOnPlateau,
  stepDecay,
} from "./train/callbacks.js";
export { loadTrainConfig } from "./train/config.js";
export { type BundleEvaluation, type EvaluateOptions, evaluateBundle } from "./train/evaluate-bundle.js";
export { type TrainConfig, type TrainResult, trainModel } from "./train/run.js";
export { type Callback, type FitOptions, fit, type TrainContext } from "./train/trainer.js";
export type { Sample as KeyedSample } from "./transforms/index.js";
// Transforms, datasets and metrics (each module's own curated list).
export * from "./transforms/index.js";
