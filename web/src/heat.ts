/** Heatmap colours of the console: a Parametric Map's float values on its source's grid turned into an RGBA picture. */

/**
 * The "jet" colour of t in [0, 1] (blue → cyan → yellow → red), the map Grad-CAM figures use
 * (Selvaraju et al. 2017); values outside are clamped.
 *
 * @example
 * ```ts
 * jet(1); // [128, 0, 0]
 * ```
 */
export function jet(t: number): [number, number, number] {
  const x = Math.min(1, Math.max(0, t));
  const c = (v: number): number => Math.round(255 * Math.min(1, Math.max(0, v)));
  return [c(1.5 - Math.abs(4 * x - 3)), c(1.5 - Math.abs(4 * x - 2)), c(1.5 - Math.abs(4 * x - 1))];
}

/**
 * RGBA pixels of `values` (`columns × rows`, row-major) in {@link jet} over [lo, hi], opaque: the overlay's
 * opacity is set where it is drawn.
 *
 * @example
 * ```ts
 * const rgba = heatRgba(frame, 512, 512, 0, 1);
 * ```
 */
export function heatRgba(
  values: ArrayLike<number>,
  columns: number,
  rows: number,
  lo: number,
  hi: number,
): Uint8ClampedArray<ArrayBuffer> {
  const out = new Uint8ClampedArray(new ArrayBuffer(columns * rows * 4));
  const span = hi > lo ? hi - lo : 1;
  for (let i = 0; i < columns * rows; i++) {
    const [r, g, b] = jet(((values[i] as number) - lo) / span);
    out[i * 4] = r;
    out[i * 4 + 1] = g;
    out[i * 4 + 2] = b;
    out[i * 4 + 3] = 255;
  }
  return out;
}

/** One frame of a Parametric Map and the source image it was derived from. */
export interface MapFrame {
  /** SOP Instance UID of the source image (Derivation Image Sequence > Source Image Sequence, C.7.6.16.2.6). */
  readonly source: string;
  readonly rows: number;
  readonly columns: number;
  readonly values: Float32Array;
  /** The value range the map's Real World Value Mapping declares (C.7.6.16.2.11), else the frame's own. */
  readonly lo: number;
  readonly hi: number;
}

const items = (v: unknown): Record<string, unknown>[] =>
  v === undefined ? [] : Array.isArray(v) ? (v as Record<string, unknown>[]) : [v as Record<string, unknown>];

/**
 * The frames of a Parametric Map (PS3.3 A.75) with float values (Float Pixel Data, 7FE0,0008), each with the
 * source image it covers, read with dcmjs.
 *
 * @example
 * ```ts
 * for (const f of readParametricMap(part10)) maps.set(f.source, f);
 * ```
 */
export function readParametricMap(
  part10: Uint8Array,
  parse: (b: ArrayBuffer) => Record<string, unknown>,
): MapFrame[] {
  const ds = parse(part10.slice().buffer);
  const rows = Number(ds["Rows"]);
  const columns = Number(ds["Columns"]);
  const px = ds["FloatPixelData"];
  const buf = (Array.isArray(px) ? px[0] : px) as ArrayBuffer | undefined;
  if (!buf || !(rows > 0) || !(columns > 0)) return [];
  const all = new Float32Array(buf);
  const shared = items(ds["SharedFunctionalGroupsSequence"])[0] ?? {};
  const rwv = items(shared["RealWorldValueMappingSequence"])[0];
  const perFrame = items(ds["PerFrameFunctionalGroupsSequence"]);
  const plane = rows * columns;
  const out: MapFrame[] = [];
  perFrame.forEach((f, k) => {
    const derivation = items(f["DerivationImageSequence"])[0];
    const source = items(derivation?.["SourceImageSequence"])[0]?.["ReferencedSOPInstanceUID"];
    if (typeof source !== "string" || all.length < (k + 1) * plane) return;
    const values = all.slice(k * plane, (k + 1) * plane);
    let lo = Number(rwv?.["DoubleFloatRealWorldValueFirstValueMapped"]);
    let hi = Number(rwv?.["DoubleFloatRealWorldValueLastValueMapped"]);
    if (!Number.isFinite(lo) || !Number.isFinite(hi)) {
      lo = Math.min(...values);
      hi = Math.max(...values);
    }
    out.push({ source, rows, columns, values, lo, hi });
  });
  return out;
}
