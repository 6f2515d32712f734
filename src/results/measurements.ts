/** Per-segment measurements of a label volume on its series geometry: volume, largest in-plane area and long axis. */
import type { SourceSeries } from "./source.js";

/** What {@link segmentMeasurements} reports for one label value. */
export interface SegmentMeasurement {
  readonly labelValue: number;
  /** Voxel count × voxel volume (pixel spacing × slice spacing), mm³; absent for one slice or without pixel spacing. */
  readonly volumeMm3?: number;
  /** The largest area on one slice, mm² (pixels without spacing). */
  readonly areaMm2: number;
  /** The longest in-plane distance between two pixel centres of the segment on one slice (RECIST long axis), mm. */
  readonly longAxisMm: number;
  readonly voxels: number;
}

/**
 * Measures each label value present in the volume (slice-major, `images.length × Rows × Columns`). The long
 * axis follows RECIST 1.1 (Eisenhauer et al. 2009): the longest diameter in the axial plane, measured here
 * between pixel centres of the segment's boundary pixels on each slice, scaled by the pixel spacing.
 *
 * @example
 * ```ts
 * segmentMeasurements(labels, series, [1, 2]); // [{ labelValue: 1, volumeMm3: 1234.5, areaMm2: ..., longAxisMm: ... }, ...]
 * ```
 */
export function segmentMeasurements(
  labels: ArrayLike<number>,
  series: SourceSeries,
  labelValues: readonly number[],
): SegmentMeasurement[] {
  const rows = series.Rows;
  const cols = series.Columns;
  const plane = rows * cols;
  const slices = series.images.length;
  const [dy, dx] = series.PixelSpacing ?? [1, 1];
  return labelValues.map((value) => {
    let voxels = 0;
    let maxArea = 0;
    let longAxis = 0;
    for (let z = 0; z < slices; z++) {
      const base = z * plane;
      const boundary: [number, number][] = [];
      let count = 0;
      for (let y = 0; y < rows; y++) {
        for (let x = 0; x < cols; x++) {
          if (labels[base + y * cols + x] !== value) continue;
          count++;
          const inside =
            x > 0 &&
            y > 0 &&
            x < cols - 1 &&
            y < rows - 1 &&
            labels[base + y * cols + x - 1] === value &&
            labels[base + y * cols + x + 1] === value &&
            labels[base + (y - 1) * cols + x] === value &&
            labels[base + (y + 1) * cols + x] === value;
          if (!inside) boundary.push([x * dx, y * dy]);
        }
      }
      voxels += count;
      maxArea = Math.max(maxArea, count * dx * dy);
      for (let i = 0; i < boundary.length; i++) {
        const [ax, ay] = boundary[i] as [number, number];
        for (let j = i + 1; j < boundary.length; j++) {
          const [bx, by] = boundary[j] as [number, number];
          const d = (ax - bx) ** 2 + (ay - by) ** 2;
          if (d > longAxis) longAxis = d;
        }
      }
    }
    return {
      labelValue: value,
      ...(series.PixelSpacing && series.SliceSpacing !== undefined
        ? { volumeMm3: voxels * dx * dy * series.SliceSpacing }
        : {}),
      areaMm2: maxArea,
      longAxisMm: Math.sqrt(longAxis),
      voxels,
    };
  });
}
