/** Public entry of the metrics layer: classification, ranking, calibration, intervals, segmentation, MedMNIST and the headline evaluation. */
export * from "./accumulators.js";
export * from "./bootstrap.js";
export * from "./confusion.js";
export * from "./delong.js";
export * from "./evaluate-predictions.js";
export * from "./medmnist.js";
export * from "./predictions-csv.js";
export * from "./probabilistic.js";
export * from "./ranking.js";
export * from "./segmentation.js";
export { erfc, midranks, normalCdf, normalQuantile, quantileSorted } from "./stats.js";
