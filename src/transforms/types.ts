/** The transform contract: typed callables made by factories, a seeded context, and the split randomize/apply step. */
import { RadioLensError } from "../core/errors.js";
import type { MedicalImage } from "../core/image.js";
import type { Rng } from "../core/rng.js";

/**
 * What a pipeline run carries: the one seeded random source. Random transforms draw only from `rng`
 * (never Math.random), so a seed fixes every augmentation.
 */
export interface TransformContext {
  readonly rng: Rng;
}

/**
 * A named, typed callable. Deterministic transforms ignore the context; random ones require it.
 *
 * @example
 * ```ts
 * const t: Transform<MedicalImage> = flip({ axes: [1] });
 * const out = t(img);
 * ```
 */
export interface Transform<T> {
  (input: T, ctx?: TransformContext): T;
  /** Name used in error messages and in `meta.appliedOperations`. */
  readonly transformName: string;
}

/** A dictionary sample: MedicalImages (and anything else) under string keys, e.g. `{ image, label }`. */
export type Sample = Readonly<Record<string, unknown>>;

/** How one key of a keyed sample is treated. */
export interface ApplyOptions {
  /** A label map: spatial transforms use nearest interpolation, intensity transforms leave it alone. */
  readonly mask: boolean;
}

/**
 * An image transform split in two, so that {@link onKeys} draws random parameters once per sample and applies
 * them to every key. Calling it directly does both on one image.
 *
 * @example
 * ```ts
 * const t = randFlip({ prob: 0.5 });
 * const p = t.randomize(image, ctx);
 * const [img2, mask2] = [t.apply(image, p, { mask: false }), t.apply(mask, p, { mask: true })];
 * ```
 */
export interface ImageTransform<P = unknown, O extends object = object> extends Transform<MedicalImage> {
  /** Intensity transforms change values; spatial ones move voxels (and record how to undo it). */
  readonly kind: "intensity" | "spatial";
  /** The frozen options the factory was given. */
  readonly options: Readonly<O>;
  /** Draws this sample's parameters from `ctx.rng` (deterministic transforms return fixed ones). */
  randomize(ref: MedicalImage, ctx: TransformContext | undefined): P;
  /** Applies the transform with given parameters. */
  apply(img: MedicalImage, params: P, opts: ApplyOptions): MedicalImage;
}

/**
 * Builds an {@link ImageTransform} from its parts; the options are frozen so a pipeline cannot be changed
 * behind its back.
 *
 * @example
 * ```ts
 * const negate = defineImageTransform("negate", "intensity", {}, () => undefined, (img) => img);
 * ```
 */
export function defineImageTransform<P, O extends object>(
  name: string,
  kind: "intensity" | "spatial",
  options: O,
  randomize: (ref: MedicalImage, ctx: TransformContext | undefined) => P,
  apply: (img: MedicalImage, params: P, opts: ApplyOptions) => MedicalImage,
): ImageTransform<P, O> {
  const frozen = Object.freeze({ ...options });
  const call = (img: MedicalImage, ctx?: TransformContext): MedicalImage =>
    apply(checkImage(img, name), randomize(img, ctx), { mask: false });
  return Object.assign(call, {
    transformName: name,
    kind,
    options: frozen,
    randomize,
    apply: (img: MedicalImage, params: P, opts: ApplyOptions) => apply(checkImage(img, name), params, opts),
  });
}

/**
 * The context's RNG, or a typed error naming the random transform that needs one.
 *
 * @example
 * ```ts
 * const angle = requireRng(ctx, "randRotate").uniform(-0.3, 0.3);
 * ```
 */
export function requireRng(ctx: TransformContext | undefined, name: string): Rng {
  if (ctx === undefined) {
    throw new RadioLensError("RL_ERR_TRANSFORM_INVALID", {
      name,
      detail: "a random transform needs a context with a seeded rng: t(img, { rng: new Rng(seed) })",
    });
  }
  return ctx.rng;
}

/**
 * A typed error (RL_ERR_TRANSFORM_INVALID) for bad options or input of a transform.
 *
 * @example
 * ```ts
 * throw invalid("resize", "size must hold positive integers");
 * ```
 */
export function invalid(name: string, detail: string): RadioLensError {
  return new RadioLensError("RL_ERR_TRANSFORM_INVALID", { name, detail });
}

/**
 * True when a value looks like a MedicalImage (typed-array data, shape and spacing arrays).
 *
 * @example
 * ```ts
 * if (isMedicalImage(sample["label"])) { ... }
 * ```
 */
export function isMedicalImage(x: unknown): x is MedicalImage {
  if (typeof x !== "object" || x === null) return false;
  const o = x as Partial<MedicalImage>;
  return ArrayBuffer.isView(o.data) && Array.isArray(o.shape) && Array.isArray(o.spacing);
}

function checkImage(img: MedicalImage, name: string): MedicalImage {
  if (!isMedicalImage(img)) throw invalid(name, "input is not a MedicalImage");
  const nd = img.shape.length - 1;
  if (nd !== 2 && nd !== 3) throw invalid(name, `shape [${img.shape.join(", ")}] is not 2D or 3D`);
  return img;
}

/**
 * Spatial rank of an image (2 or 3).
 *
 * @example
 * ```ts
 * ndimOf(createImage(new Uint8Array(8), [2, 2, 2, 1])); // 3
 * ```
 */
export function ndimOf(img: MedicalImage): 2 | 3 {
  return img.shape.length === 4 ? 3 : 2;
}

/**
 * Normalizes a per-axis option: one number for all axes, or one per axis (checked).
 *
 * @example
 * ```ts
 * perAxis(0.5, 3, "randRotate", "range"); // [0.5, 0.5, 0.5]
 * ```
 */
export function perAxis(v: number | readonly number[], nd: number, name: string, what: string): number[] {
  if (typeof v === "number") return new Array<number>(nd).fill(v);
  if (v.length !== nd) throw invalid(name, `${what} has ${v.length} values for a ${nd}D image`);
  return [...v];
}
