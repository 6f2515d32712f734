/** Pipelines: compose() runs steps and names the failing one, onKeys() moves image and mask together, invert() undoes. */
import { RadioLensError } from "../core/errors.js";
import { createImage, type MedicalImage } from "../core/image.js";
import {
  type AppliedOperation,
  appliedOperations,
  type InterpolationMode,
  matInv,
  matVec,
  resampleIndex,
} from "./resample.js";
import {
  type ImageTransform,
  invalid,
  isMedicalImage,
  type Sample,
  type Transform,
  type TransformContext,
} from "./types.js";

/** A composed pipeline: a transform that also exposes its steps. */
export interface Compose<T> extends Transform<T> {
  readonly steps: readonly Transform<T>[];
}

/**
 * Chains transforms, passing the context to each (MONAI Compose). A failing step is rethrown as
 * RL_ERR_TRANSFORM_FAILED naming its index and transform, the original error kept as `cause`.
 *
 * @example
 * ```ts
 * const train = compose([
 *   onKeys(["image", "label"], spacing({ pixdim: 1.5 }), { masks: ["label"] }),
 *   onKeys(["image"], scaleIntensityRange({ aMin: -1000, aMax: 400, bMin: 0, bMax: 1, clip: true })),
 *   onKeys(["image", "label"], randAffine({ prob: 0.5, rotateRange: 0.2 }), { masks: ["label"] }),
 * ]);
 * const out = train({ image, label }, { rng: new Rng(42) });
 * ```
 */
export function compose<T>(steps: readonly Transform<T>[]): Compose<T> {
  const list = Object.freeze([...steps]);
  list.forEach((s, i) => {
    if (typeof s !== "function") throw invalid("compose", `step ${i} is not a transform`);
  });
  const run = (input: T, ctx?: TransformContext): T => {
    let x = input;
    for (let i = 0; i < list.length; i++) {
      const step = list[i] as Transform<T>;
      try {
        x = step(x, ctx);
      } catch (e) {
        throw new RadioLensError(
          "RL_ERR_TRANSFORM_FAILED",
          {
            step: i,
            name: step.transformName ?? "anonymous",
            detail: e instanceof Error ? e.message : String(e),
          },
          { cause: e },
        );
      }
    }
    return x;
  };
  return Object.assign(run, { transformName: "compose", steps: list });
}

/** Options of {@link onKeys}. */
export interface OnKeysOptions {
  /** Keys holding label maps: nearest interpolation for spatial transforms, untouched by intensity ones. */
  readonly masks?: readonly string[];
  /** Skip keys absent from a sample instead of failing (default false). */
  readonly allowMissingKeys?: boolean;
  /** The key whose image random parameters are drawn from (default the first key), e.g. the label for label-guided crops. */
  readonly refKey?: string;
}

/**
 * Applies an image transform to several keys of a sample (MONAI's dictionary transforms). Random parameters
 * are drawn once per sample, from the first key's image, and applied to every key, so image and mask move
 * together; mask keys use nearest interpolation. Spatial transforms require every key on the same grid.
 *
 * @example
 * ```ts
 * const t = onKeys(["image", "label"], randRotate({ prob: 1, range: 0.3 }), { masks: ["label"] });
 * const { image, label } = t({ image: flair, label: lesion }, { rng: new Rng(7) });
 * ```
 */
export function onKeys<P>(
  keys: readonly string[],
  transform: ImageTransform<P>,
  options: OnKeysOptions = {},
): Transform<Sample> {
  if (keys.length === 0) throw invalid("onKeys", "give at least one key");
  const name = `onKeys(${transform.transformName})`;
  const masks = new Set(options.masks ?? []);
  const run = (sample: Sample, ctx?: TransformContext): Sample => {
    const present: string[] = [];
    for (const k of keys) {
      const v = sample[k];
      if (v === undefined) {
        if (options.allowMissingKeys === true) continue;
        throw invalid(name, `the sample has no key '${k}' (it has: ${Object.keys(sample).join(", ")})`);
      }
      if (!isMedicalImage(v)) throw invalid(name, `'${k}' is not a MedicalImage`);
      present.push(k);
    }
    if (present.length === 0) return sample;
    const refName = options.refKey ?? (present[0] as string);
    const ref = sample[refName];
    if (!isMedicalImage(ref))
      throw invalid(name, `the reference key '${refName}' is not a MedicalImage in the sample`);
    if (transform.kind === "spatial") {
      const refShape = ref.shape.slice(0, -1).join("x");
      for (const k of present) {
        const s = (sample[k] as MedicalImage).shape.slice(0, -1).join("x");
        if (s !== refShape) {
          throw invalid(
            name,
            `'${k}' is ${s} but '${present[0]}' is ${refShape}: keyed spatial transforms need one grid`,
          );
        }
      }
    }
    const params = transform.randomize(ref, ctx);
    const out: Record<string, unknown> = { ...sample };
    for (const k of present)
      out[k] = transform.apply(sample[k] as MedicalImage, params, { mask: masks.has(k) });
    return out;
  };
  return Object.assign(run, { transformName: name });
}

function undo(
  img: MedicalImage,
  op: AppliedOperation,
  rest: readonly AppliedOperation[],
  mode: InterpolationMode | undefined,
): MedicalImage {
  if (!op.invertible || op.matrix.length === 0) {
    throw new RadioLensError("RL_ERR_TRANSFORM_NOT_INVERTIBLE", {
      name: op.name,
      detail: "it is not an affine resampling; invert only up to the step before it",
    });
  }
  const nd = op.inputGeometry.spacing.length;
  const spatial = op.inputShape.slice(0, -1);
  if (img.shape.length - 1 !== nd) {
    throw new RadioLensError("RL_ERR_TRANSFORM_NOT_INVERTIBLE", {
      name: op.name,
      detail: `the image is ${img.shape.length - 1}D but the operation was ${nd}D`,
    });
  }
  // Forward: input = A·output + b. Inverse: output = A⁻¹·input − A⁻¹·b, sampled on the original grid.
  const Ainv = matInv(op.matrix, nd);
  const binv = matVec(Ainv, op.offset, nd).map((v) => -v);
  const ch = img.shape[img.shape.length - 1] as number;
  const data = resampleIndex(img, spatial, Ainv, binv, { mode: mode ?? op.mode, padding: op.padding });
  return createImage(data, [...spatial, ch], {
    spacing: op.inputGeometry.spacing,
    origin: op.inputGeometry.origin,
    direction: op.inputGeometry.direction,
    meta: { ...img.meta, appliedOperations: rest },
  });
}

/** Options of {@link invert}. */
export interface InvertOptions {
  /** Undo only the last n recorded operations (default all). */
  readonly steps?: number;
  /**
   * Take the operations from this image instead (MONAI Invertd's `orig_keys`): maps a model output that
   * carries no history, e.g. a predicted mask or probability map on the transformed grid, back to the
   * original grid. Its spatial shape must be the one `like` has now; channels may differ.
   */
  readonly like?: MedicalImage;
  /** Interpolation for the inverse (default: the one each operation used); "nearest" for predicted labels. */
  readonly mode?: InterpolationMode;
}

/**
 * Undoes recorded spatial transforms, last first, from `meta.appliedOperations` (MONAI's Invertd idea): the
 * shape and geometry come back exactly; values exactly for flips, 90° rotations and crop/pad, approximately
 * where interpolation was involved (and zero where content was moved out of view). On a sample, every
 * MedicalImage value is inverted. Intensity transforms are not undone.
 *
 * @example
 * ```ts
 * const x = preprocess(image);                       // records its spatial steps
 * const pred = createImage(labels, x.shape);         // a model's mask on the transformed grid
 * const onScanner = invert(pred, { like: x, mode: "nearest" });
 * ```
 */
export function invert<T extends MedicalImage | Sample>(x: T, options: InvertOptions = {}): T {
  if (isMedicalImage(x)) {
    const source = options.like ?? x;
    if (options.like !== undefined) {
      const want = source.shape.slice(0, -1).join("x");
      const got = x.shape.slice(0, -1).join("x");
      if (want !== got) {
        throw new RadioLensError("RL_ERR_TRANSFORM_NOT_INVERTIBLE", {
          name: "invert",
          detail: `the image is ${got} but the reference it should follow is ${want}`,
        });
      }
    }
    const ops = appliedOperations(source);
    const n = Math.min(options.steps ?? ops.length, ops.length);
    let img: MedicalImage = x;
    for (let i = 0; i < n; i++) {
      const k = ops.length - 1 - i;
      img = undo(img, ops[k] as AppliedOperation, ops.slice(0, k), options.mode);
    }
    return img as T;
  }
  const out: Record<string, unknown> = { ...x };
  for (const [k, v] of Object.entries(x)) if (isMedicalImage(v)) out[k] = invert(v, options);
  return out as T;
}
