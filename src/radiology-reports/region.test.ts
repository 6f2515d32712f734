/** Tests for the Grad-CAM heatmap → pixel bounding box conversion. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { regionFromHeatmap } from "./region.js";

describe("regionFromHeatmap", () => {
  it("boxes the connected half-maximum region around the peak, scaled to image pixels", () => {
    // 4×4 map: a 2×2 hot block at rows 1-2, cols 2-3, and a separate warm cell at (3,0).
    const heat = [0, 0, 0, 0, 0, 0, 0.9, 0.6, 0, 0, 1.0, 0.5, 0.8, 0, 0, 0];
    const box = regionFromHeatmap(heat, 4, 4, 400, 800);
    assert.deepEqual(box, { x: 400, y: 100, width: 400, height: 200 });
    // A stricter threshold keeps only the peak's column.
    assert.deepEqual(regionFromHeatmap(heat, 4, 4, 400, 800, { fraction: 0.85 }), {
      x: 400,
      y: 100,
      width: 200,
      height: 200,
    });
  });

  it("returns undefined for a flat map and rejects mismatched sizes", () => {
    assert.equal(regionFromHeatmap(new Float32Array(9), 3, 3, 30, 30), undefined);
    assert.throws(() => regionFromHeatmap([1, 2, 3], 2, 2, 10, 10), { code: "RL_ERR_SHAPE_MISMATCH" });
    assert.throws(() => regionFromHeatmap([1, 2, 3, 4], 2, 2, 10, 10, { fraction: 0 }), {
      code: "RL_ERR_CONFIG_INVALID",
    });
  });
});
