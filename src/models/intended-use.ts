/** The intended-use gate: which inputs a model was made for (model card `intendedUse.inputs`) and the one check every entry point runs before inference. */
import { RadioLensError } from "../core/errors.js";
import type { MedicalImage } from "../core/image.js";

/**
 * The inputs a model is meant for. Every listed constraint must hold; an absent one is not checked. DICOM
 * attribute values compare case-insensitively after trimming (CS values are upper case, PS3.5 6.2).
 */
export interface IntendedUseInputs {
  /** Modality (0008,0060) values, e.g. ["CR", "DX"]. */
  readonly modalities?: readonly string[];
  /** Body Part Examined (0018,0015) values, e.g. ["CHEST"]. An instance without the attribute passes. */
  readonly bodyParts?: readonly string[];
  /** View Position (0018,5101) values, e.g. ["PA", "AP"]. An instance without the attribute passes. */
  readonly viewPositions?: readonly string[];
  /** SOP Class UID (0008,0016) values. */
  readonly sopClassUids?: readonly string[];
  /** Photometric Interpretation (0028,0004) values, e.g. ["MONOCHROME1", "MONOCHROME2"]. */
  readonly photometricInterpretations?: readonly string[];
  /** Smallest Rows (0028,0010) and Columns (0028,0011). */
  readonly minRows?: number;
  readonly minColumns?: number;
  /** Pixel Spacing (0028,0030) range in mm, both axes; an image without physical spacing passes. */
  readonly pixelSpacingMm?: readonly [number, number];
  /** Whether PNG/JPEG and other non-DICOM images are analysed (they carry none of the attributes above). */
  readonly acceptNonDicom?: boolean;
}

/** The card's `intendedUse` block. */
export interface IntendedUse {
  /** Free text: purpose and limits. */
  readonly statement: string;
  readonly inputs?: IntendedUseInputs;
}

/** Why an input is outside the intended use: the attribute, its value and what is allowed. */
export interface GateRefusal {
  readonly attribute: string;
  readonly value: string;
  readonly allowed: string;
  /** One sentence for people: "Modality MR is outside this model's intended use (CR, DX)". */
  readonly reason: string;
}

/**
 * The `intendedUse` of a card as an object (older cards store only a statement).
 *
 * @example
 * ```ts
 * intendedUseOf(card).inputs?.modalities; // ["CR", "DX"]
 * ```
 */
export function intendedUseOf(card: { readonly intendedUse?: string | IntendedUse }): IntendedUse {
  const u = card.intendedUse;
  if (u === undefined) return { statement: "" };
  return typeof u === "string" ? { statement: u } : u;
}

const norm = (s: string): string => s.trim().toUpperCase();

function refusal(attribute: string, value: string, allowed: string): GateRefusal {
  return {
    attribute,
    value,
    allowed,
    reason: `${attribute} ${value} is outside this model's intended use (${allowed})`,
  };
}

function listCheck(
  attribute: string,
  value: unknown,
  allowed: readonly string[] | undefined,
  missingPasses: boolean,
): GateRefusal | undefined {
  if (!allowed || allowed.length === 0) return undefined;
  const v = typeof value === "string" ? value.trim() : "";
  if (v === "") return missingPasses ? undefined : refusal(attribute, "(absent)", allowed.join(", "));
  return allowed.some((a) => norm(a) === norm(v)) ? undefined : refusal(attribute, v, allowed.join(", "));
}

/**
 * Checks an image against the model's intended use; undefined when it may be analysed. Reads what the readers
 * put in `image.meta` (`format`, and for DICOM `modality`, `bodyPartExamined`, `viewPosition`, `sopClassUID`,
 * `photometricInterpretation`), the pixel size and `image.spacing`. The same function gates the CLI, REST
 * predict, STOW-RS and C-STORE.
 *
 * @example
 * ```ts
 * const r = checkIntendedUse(intendedUseOf(card).inputs, image);
 * if (r) console.log(r.reason); // "Modality MR is outside this model's intended use (CR, DX)"
 * ```
 */
export function checkIntendedUse(
  inputs: IntendedUseInputs | undefined,
  image: Pick<MedicalImage, "meta" | "shape" | "spacing">,
): GateRefusal | undefined {
  if (!inputs) return undefined;
  const m = image.meta;
  const dicom = m["format"] === "dicom";
  if (!dicom) {
    if (inputs.acceptNonDicom === false)
      return refusal("Format", String(m["format"] ?? "unknown"), "DICOM only");
    return undefined;
  }
  const checks = [
    listCheck("Modality", m["modality"], inputs.modalities, false),
    listCheck("SOPClassUID", m["sopClassUID"], inputs.sopClassUids, false),
    listCheck("BodyPartExamined", m["bodyPartExamined"], inputs.bodyParts, true),
    listCheck("ViewPosition", m["viewPosition"], inputs.viewPositions, true),
    listCheck(
      "PhotometricInterpretation",
      m["photometricInterpretation"],
      inputs.photometricInterpretations,
      false,
    ),
  ];
  const first = checks.find((c) => c !== undefined);
  if (first) return first;
  const rows = image.shape[image.shape.length - 3] as number;
  const cols = image.shape[image.shape.length - 2] as number;
  if (inputs.minRows !== undefined && rows < inputs.minRows)
    return refusal("Rows", String(rows), `at least ${inputs.minRows}`);
  if (inputs.minColumns !== undefined && cols < inputs.minColumns)
    return refusal("Columns", String(cols), `at least ${inputs.minColumns}`);
  const range = inputs.pixelSpacingMm;
  const sp = image.spacing.slice(0, 2);
  // Unit spacing is what readers give when the file has no physical spacing.
  if (range && sp.length === 2 && !(sp[0] === 1 && sp[1] === 1)) {
    const bad = sp.find((s) => !(s >= range[0] && s <= range[1]));
    if (bad !== undefined) return refusal("PixelSpacing", `${bad} mm`, `${range[0]} to ${range[1]} mm`);
  }
  return undefined;
}

/**
 * Throws RL_ERR_OUTSIDE_INTENDED_USE for a refusal (REST answers 422, the CLI exits 3).
 *
 * @example
 * ```ts
 * assertIntendedUse(checkIntendedUse(inputs, image));
 * ```
 */
export function assertIntendedUse(r: GateRefusal | undefined): void {
  if (r)
    throw new RadioLensError("RL_ERR_OUTSIDE_INTENDED_USE", {
      attribute: r.attribute,
      value: r.value,
      allowed: r.allowed,
    });
}

/**
 * Parses the training/import flags (`--modality CR,DX --body-part CHEST ...`) into intended-use inputs.
 *
 * @example
 * ```ts
 * intendedUseFromFlags({ modality: "CR,DX", "body-part": "CHEST" }); // { modalities: ["CR", "DX"], bodyParts: ["CHEST"] }
 * ```
 */
export function intendedUseFromFlags(flags: Readonly<Record<string, string | undefined>>): IntendedUseInputs {
  const list = (k: string): string[] | undefined => {
    const v = flags[k];
    return v === undefined
      ? undefined
      : v
          .split(",")
          .map((s) => s.trim())
          .filter(Boolean);
  };
  const num = (k: string): number | undefined => {
    const v = flags[k];
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isFinite(n) || n < 0)
      throw new RadioLensError("RL_ERR_USAGE", {
        detail: `--${k} must be a non-negative number, got '${v}'`,
      });
    return n;
  };
  const spacing = list("pixel-spacing");
  if (spacing && (spacing.length !== 2 || spacing.some((s) => !Number.isFinite(Number(s)))))
    throw new RadioLensError("RL_ERR_USAGE", { detail: "--pixel-spacing takes MIN,MAX in mm, e.g. 0.1,0.5" });
  const out: Record<string, unknown> = {
    modalities: list("modality")?.map(norm),
    bodyParts: list("body-part")?.map(norm),
    viewPositions: list("view-position")?.map(norm),
    sopClassUids: list("sop-class"),
    photometricInterpretations: list("photometric")?.map(norm),
    minRows: num("min-rows"),
    minColumns: num("min-columns"),
    pixelSpacingMm: spacing ? [Number(spacing[0]), Number(spacing[1])] : undefined,
    acceptNonDicom: flags["dicom-only"] === "true" ? false : undefined,
  };
  for (const k of Object.keys(out)) if (out[k] === undefined) delete out[k];
  return out as IntendedUseInputs;
}

/** Whether one input was analysed, and why not. */
export interface SafetyDecision {
  readonly analysed: boolean;
  /** The stable code of the refusal: outside the intended use, or out of distribution. */
  readonly code?: "RL_ERR_OUTSIDE_INTENDED_USE" | "RL_ERR_OUT_OF_DISTRIBUTION";
  /** For people and the audit log: "Modality MR is outside this model's intended use (CR, DX)". */
  readonly reason?: string;
  /** Analysed although a check refused it (an administrator's `force`). */
  readonly forced?: boolean;
}

/**
 * The decision after inference from the prediction's OOD verdict: a refusing detector withholds the result of an
 * out-of-distribution input unless `force`; a flagging one lets it through marked.
 *
 * @example
 * ```ts
 * oodDecision(card.ood, prediction.ood, false); // { analysed: false, code: "RL_ERR_OUT_OF_DISTRIBUTION", reason: "..." }
 * ```
 */
export function oodDecision(
  detector: { readonly action: "refuse" | "flag" } | undefined,
  ood: { readonly score: number; readonly threshold: number; readonly inDistribution: boolean } | undefined,
  force: boolean,
): SafetyDecision {
  if (!detector || !ood || ood.inDistribution) return { analysed: true };
  const reason = `the image is unlike this model's training data (OOD score ${ood.score.toFixed(3)} above threshold ${ood.threshold.toFixed(3)})`;
  if (detector.action === "flag") return { analysed: true, reason };
  if (force) return { analysed: true, code: "RL_ERR_OUT_OF_DISTRIBUTION", reason, forced: true };
  return { analysed: false, code: "RL_ERR_OUT_OF_DISTRIBUTION", reason };
}

/**
 * The decision before inference from the intended-use check.
 *
 * @example
 * ```ts
 * gateDecision(checkIntendedUse(inputs, image), false).analysed; // false for an MR sent to a chest X-ray model
 * ```
 */
export function gateDecision(r: GateRefusal | undefined, force: boolean): SafetyDecision {
  if (!r) return { analysed: true };
  return force
    ? { analysed: true, code: "RL_ERR_OUTSIDE_INTENDED_USE", reason: r.reason, forced: true }
    : { analysed: false, code: "RL_ERR_OUTSIDE_INTENDED_USE", reason: r.reason };
}
