/** Loads and validates the labeler's data files (observation vocabularies, negation/uncertainty triggers). */
import { RadioLensError } from "../core/errors.js";
import modifiersData from "./data/modifiers.json" with { type: "json" };
import observationsData from "./data/observations.json" with { type: "json" };
import { compilePattern, type Pattern } from "./patterns.js";

/** The 14 ChestX-ray14 findings, in the column order of the NegBio Open-i gold standard. */
export const FINDINGS = [
  "Atelectasis",
  "Cardiomegaly",
  "Effusion",
  "Infiltration",
  "Mass",
  "Nodule",
  "Pneumonia",
  "Pneumothorax",
  "Consolidation",
  "Edema",
  "Emphysema",
  "Fibrosis",
  "Pleural_Thickening",
  "Hernia",
] as const;

/** One of the 14 findings. */
export type Finding = (typeof FINDINGS)[number];

/** Output columns: the 14 findings then `normal` (no positive finding). */
export const LABEL_COLUMNS = [...FINDINGS, "normal"] as const;

/** Raw JSON shape of an observation vocabulary. */
export interface ObservationSpec {
  readonly name: string;
  readonly chexpert?: string;
  readonly mentions: readonly string[];
  readonly unmentions: readonly string[];
  readonly absent?: readonly string[];
}

/** Raw JSON shape of a directional trigger list. */
export interface DirectionalSpec {
  readonly forward: readonly string[];
  readonly backward: readonly string[];
}

/** Raw JSON shape of the modifier file. */
export interface ModifierSpec {
  readonly scope: { readonly forward: number; readonly backward: number };
  readonly terminations: readonly string[];
  readonly pseudo: readonly string[];
  readonly preNegationUncertainty: DirectionalSpec;
  readonly negation: DirectionalSpec;
  readonly postNegationUncertainty: DirectionalSpec;
}

/** A compiled observation vocabulary. */
export interface CompiledObservation {
  readonly name: string;
  readonly chexpert: string | undefined;
  readonly mentions: readonly Pattern[];
  readonly unmentions: readonly Pattern[];
  /** Phrases that state the observation is absent without a negation trigger ("heart size normal"). */
  readonly absent: readonly Pattern[];
}

/** Compiled trigger lists for one phase. */
export interface CompiledDirectional {
  readonly forward: readonly Pattern[];
  readonly backward: readonly Pattern[];
}

/** Everything the labeler needs, compiled. */
export interface Vocabulary {
  readonly observations: readonly CompiledObservation[];
  readonly scope: { readonly forward: number; readonly backward: number };
  readonly terminations: readonly Pattern[];
  readonly pseudo: readonly Pattern[];
  readonly preNegationUncertainty: CompiledDirectional;
  readonly negation: CompiledDirectional;
  readonly postNegationUncertainty: CompiledDirectional;
}

function dataError(detail: string): RadioLensError {
  return new RadioLensError("RL_ERR_CONFIG_INVALID", { detail: `report vocabulary: ${detail}` });
}

function stringList(v: unknown, where: string): string[] {
  if (!Array.isArray(v) || !v.every((x) => typeof x === "string"))
    throw dataError(`${where} must be a list of strings`);
  return v as string[];
}

function directional(v: unknown, where: string): CompiledDirectional {
  if (typeof v !== "object" || v === null)
    throw dataError(`${where} must be an object with forward/backward lists`);
  const o = v as Record<string, unknown>;
  return {
    forward: stringList(o["forward"], `${where}.forward`).map(compilePattern),
    backward: stringList(o["backward"], `${where}.backward`).map(compilePattern),
  };
}

/**
 * Compiles vocabularies from parsed JSON (the shapes of `data/observations.json` and `data/modifiers.json`);
 * every observation must name one of the 14 findings.
 *
 * @example
 * ```ts
 * const vocab = compileVocabulary(customObservations, customModifiers);
 * ```
 */
export function compileVocabulary(observations: unknown, modifiers: unknown): Vocabulary {
  const obsList = (observations as { observations?: unknown } | null)?.observations;
  if (!Array.isArray(obsList)) throw dataError("observations file needs an 'observations' list");
  const compiled: CompiledObservation[] = [];
  for (const raw of obsList as Record<string, unknown>[]) {
    const name = raw["name"];
    if (typeof name !== "string" || !(FINDINGS as readonly string[]).includes(name)) {
      throw dataError(`observation name '${String(name)}' is not one of ${FINDINGS.join(", ")}`);
    }
    const chexpert = raw["chexpert"];
    compiled.push({
      name,
      chexpert: typeof chexpert === "string" ? chexpert : undefined,
      mentions: stringList(raw["mentions"], `${name}.mentions`).map(compilePattern),
      unmentions: stringList(raw["unmentions"] ?? [], `${name}.unmentions`).map(compilePattern),
      absent: stringList(raw["absent"] ?? [], `${name}.absent`).map(compilePattern),
    });
  }
  const m = modifiers as Record<string, unknown> | null;
  if (typeof m !== "object" || m === null) throw dataError("modifiers file must be an object");
  const scope = m["scope"] as { forward?: unknown; backward?: unknown } | undefined;
  if (typeof scope?.forward !== "number" || typeof scope.backward !== "number") {
    throw dataError("modifiers.scope needs numeric forward and backward");
  }
  return {
    observations: compiled,
    scope: { forward: scope.forward, backward: scope.backward },
    terminations: stringList(m["terminations"], "terminations").map(compilePattern),
    pseudo: stringList(m["pseudo"], "pseudo").map(compilePattern),
    preNegationUncertainty: directional(m["preNegationUncertainty"], "preNegationUncertainty"),
    negation: directional(m["negation"], "negation"),
    postNegationUncertainty: directional(m["postNegationUncertainty"], "postNegationUncertainty"),
  };
}

let cached: Vocabulary | undefined;

/**
 * The built-in vocabulary from `src/radiology-reports/data/`.
 *
 * @example
 * ```ts
 * defaultVocabulary().observations.length; // 14
 * ```
 */
export function defaultVocabulary(): Vocabulary {
  cached ??= compileVocabulary(observationsData, modifiersData);
  return cached;
}
