/** 3D up-sampling layer for the 3D U-Net: a voxel shuffle, since tfjs has no gradient for Conv3DBackpropInputV2. */
import * as tfl from "@tensorflow/tfjs-layers";
import { tf } from "../../engine/backend.js";

/**
 * Rearranges `[B, D, H, W, 8·F]` into `[B, 2D, 2H, 2W, F]` (the 3D form of the sub-pixel shuffle, Shi et al. 2016,
 * "Real-Time Single Image and Video Super-Resolution Using an Efficient Sub-Pixel CNN"). A 1×1×1 conv to 8·F channels
 * followed by this shuffle computes exactly what a 2×2×2 stride-2 transposed conv does (its kernels do not
 * overlap), but every op on the way has a tfjs gradient. Channel order is (depth offset, row offset, col offset, F).
 *
 * @example
 * ```ts
 * const up = new VoxelShuffle3D({ name: "up" }).apply(tfl.layers.conv3d({ filters: 8 * 16, kernelSize: 1 }).apply(x));
 * ```
 */
export class VoxelShuffle3D extends tfl.layers.Layer {
  static readonly className = "RadioLensVoxelShuffle3D";

  override computeOutputShape(inputShape: tfl.Shape | tfl.Shape[]): tfl.Shape {
    const s = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tfl.Shape;
    const [b, d, h, w, c] = s;
    const dbl = (v: number | null | undefined): number | null => (v == null ? null : v * 2);
    return [b ?? null, dbl(d), dbl(h), dbl(w), c == null ? null : c / 8];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = Array.isArray(inputs) ? (inputs[0] as tf.Tensor) : inputs;
      const [b, d, h, w, c] = x.shape as [number, number, number, number, number];
      const f = c / 8;
      // Depth: [B, D, H·W, 2, 4F] → [B, D, 2, H·W, 4F] → [B, 2D, H, W, 4F].
      let y = tf.reshape(x, [b, d, h * w, 2, 4 * f]);
      y = tf.reshape(tf.transpose(y, [0, 1, 3, 2, 4]), [b, 2 * d, h, w, 4 * f]);
      // Rows: [B·2D, H, W, 2, 2F] → [B·2D, H, 2, W, 2F] → [B, 2D, 2H, W, 2F].
      y = tf.reshape(y, [b * 2 * d, h, w, 2, 2 * f]);
      y = tf.reshape(tf.transpose(y, [0, 1, 3, 2, 4]), [b, 2 * d, 2 * h, w, 2 * f]);
      // Cols: (w, offset) is already w-major, so a reshape interleaves them.
      return tf.reshape(y, [b, 2 * d, 2 * h, 2 * w, f]);
    });
  }
}
tf.serialization.registerClass(
  VoxelShuffle3D as unknown as tf.serialization.SerializableConstructor<tf.serialization.Serializable>,
);
