/** Explainability: Grad-CAM, Grad-CAM++, occlusion, gradients, SmoothGrad, overlays and sanity checks. */
export * from "./colormaps.js";
export * from "./explain.js";
export * from "./gradcam.js";
export * from "./gradients.js";
export * from "./heatmap.js";
export * from "./occlusion.js";
export * from "./overlay.js";
export * from "./sanity.js";
