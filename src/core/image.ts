/** MedicalImage: pixel data plus the geometry (spacing, origin, direction) and metadata that give it meaning. */

/** Typed arrays a MedicalImage may hold. */
export type PixelArray =
  | Uint8Array
  | Int8Array
  | Uint16Array
  | Int16Array
  | Uint32Array
  | Int32Array
  | Float32Array
  | Float64Array;

/** The names of {@link PixelArray} element types. */
export type PixelDType = "uint8" | "int8" | "uint16" | "int16" | "uint32" | "int32" | "float32" | "float64";

/**
 * The typed-array constructor of each {@link PixelDType}.
 *
 * @example
 * ```ts
 * const values = new PIXEL_ARRAY_TYPES.int16(bytes.buffer, 0, bytes.byteLength / 2);
 * ```
 */
export const PIXEL_ARRAY_TYPES = {
  uint8: Uint8Array,
  int8: Int8Array,
  uint16: Uint16Array,
  int16: Int16Array,
  uint32: Uint32Array,
  int32: Int32Array,
  float32: Float32Array,
  float64: Float64Array,
} as const satisfies Record<PixelDType, unknown>;

/**
 * An image or volume in RadioLens's one layout: row-major `[...spatial, channels]`, i.e. 2D images are
 * `[rows, cols, channels]` and volumes `[slices, rows, cols, channels]`.
 *
 * Geometry follows the DICOM patient coordinate system (LPS, millimetres): `spacing`, `origin` and
 * `direction` are given per spatial axis in the order of `shape` reversed to (x=cols, y=rows, z=slices),
 * as ITK and SimpleITK do.
 */
export interface MedicalImage {
  /** Pixel values, row-major, channels last. */
  readonly data: PixelArray;
  /** `[rows, cols, channels]` or `[slices, rows, cols, channels]`. */
  readonly shape: readonly number[];
  /** Physical size of a pixel along x, y (and z), in mm. */
  readonly spacing: readonly number[];
  /** Position of the first pixel's centre, in mm. */
  readonly origin: readonly number[];
  /** Direction cosines, row-major square matrix of size ndim×ndim (columns are the axis directions). */
  readonly direction: readonly number[];
  /** Free-form metadata (modality, photometric interpretation, source format...). Never patient identifiers in logs. */
  readonly meta: Readonly<Record<string, unknown>>;
}

/** Options for {@link createImage}. */
export interface CreateImageOptions {
  readonly spacing?: readonly number[];
  readonly origin?: readonly number[];
  readonly direction?: readonly number[];
  readonly meta?: Readonly<Record<string, unknown>>;
}

/**
 * Element type name of a typed array.
 *
 * @example
 * ```ts
 * dtypeOf(new Int16Array(4)); // "int16"
 * ```
 */
export function dtypeOf(data: PixelArray): PixelDType {
  if (data instanceof Uint8Array) return "uint8";
  if (data instanceof Int8Array) return "int8";
  if (data instanceof Uint16Array) return "uint16";
  if (data instanceof Int16Array) return "int16";
  if (data instanceof Uint32Array) return "uint32";
  if (data instanceof Int32Array) return "int32";
  if (data instanceof Float32Array) return "float32";
  return "float64";
}

/**
 * Number of spatial dimensions of a `[..., channels]` shape.
 *
 * @example
 * ```ts
 * spatialDims([64, 64, 1]); // 2
 * ```
 */
export function spatialDims(shape: readonly number[]): number {
  return shape.length - 1;
}

function identity(n: number): number[] {
  const m = new Array<number>(n * n).fill(0);
  for (let i = 0; i < n; i++) m[i * n + i] = 1;
  return m;
}

/**
 * Builds a MedicalImage, checking that the data length matches the shape; geometry defaults to unit
 * spacing, zero origin and identity direction.
 *
 * @example
 * ```ts
 * const img = createImage(new Uint8Array(28 * 28), [28, 28, 1]);
 * ```
 */
export function createImage(
  data: PixelArray,
  shape: readonly number[],
  opts: CreateImageOptions = {},
): MedicalImage {
  const n = shape.reduce((a, b) => a * b, 1);
  if (shape.length < 3 || shape.length > 4) {
    throw new RangeError(
      `MedicalImage shape must be [rows, cols, channels] or [slices, rows, cols, channels], got [${shape.join(", ")}]`,
    );
  }
  if (n !== data.length) {
    throw new RangeError(
      `MedicalImage data has ${data.length} values but shape [${shape.join(", ")}] needs ${n}`,
    );
  }
  const nd = spatialDims(shape);
  const spacing = opts.spacing ?? new Array<number>(nd).fill(1);
  const origin = opts.origin ?? new Array<number>(nd).fill(0);
  const direction = opts.direction ?? identity(nd);
  if (spacing.length !== nd || origin.length !== nd || direction.length !== nd * nd) {
    throw new RangeError(`MedicalImage geometry does not match its ${nd} spatial dimensions`);
  }
  return {
    data,
    shape: [...shape],
    spacing: [...spacing],
    origin: [...origin],
    direction: [...direction],
    meta: { ...(opts.meta ?? {}) },
  };
}

/**
 * Returns a copy of the image with new pixel data and shape, keeping geometry and metadata.
 *
 * @example
 * ```ts
 * const f = withData(img, Float32Array.from(img.data), img.shape);
 * ```
 */
export function withData(
  img: MedicalImage,
  data: PixelArray,
  shape: readonly number[] = img.shape,
): MedicalImage {
  const nd = spatialDims(shape);
  const same = nd === spatialDims(img.shape);
  return createImage(
    data,
    shape,
    same
      ? { spacing: img.spacing, origin: img.origin, direction: img.direction, meta: img.meta }
      : { meta: img.meta },
  );
}

/** Min, max, mean and standard deviation of the pixel values (NaN ignored). */
export interface PixelStats {
  readonly min: number;
  readonly max: number;
  readonly mean: number;
  readonly std: number;
}

/**
 * Pixel statistics in one pass (Welford).
 *
 * @example
 * ```ts
 * const { min, max } = pixelStats(img.data);
 * ```
 */
export function pixelStats(data: ArrayLike<number>): PixelStats {
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  let mean = 0;
  let m2 = 0;
  let n = 0;
  for (let i = 0; i < data.length; i++) {
    const v = data[i] as number;
    if (Number.isNaN(v)) continue;
    n++;
    if (v < min) min = v;
    if (v > max) max = v;
    const d = v - mean;
    mean += d / n;
    m2 += d * (v - mean);
  }
  return n === 0
    ? { min: Number.NaN, max: Number.NaN, mean: Number.NaN, std: Number.NaN }
    : { min, max, mean, std: Math.sqrt(m2 / n) };
}
