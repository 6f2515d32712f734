/** The PS3.15 E.3 de-identification options RadioLens implements, their CID 7050 codes and their CLI names. */
import { RadioLensError } from "../core/errors.js";
import type { OptionLetter } from "./profile-types.js";

/** Options of PS3.15 Annex E.3 that RadioLens implements. */
export type DeidOptionName =
  | "retainLongitudinalFullDates"
  | "retainLongitudinalModifiedDates"
  | "retainPatientCharacteristics"
  | "retainDeviceIdentity"
  | "retainInstitutionIdentity"
  | "retainUIDs"
  | "retainSafePrivate"
  | "cleanDescriptors"
  | "cleanStructuredContent";

/** What an option is: its Table E.1-1 column, its CID 7050 code (PS3.16) and its CLI spelling. */
export interface DeidOptionSpec {
  readonly letter: OptionLetter;
  /** Code Value in DCM of CID 7050 "De-identification Method". */
  readonly code: string;
  /** PS3.16 Code Meaning of `code`. */
  readonly meaning: string;
  /** `--option` value on the command line. */
  readonly cli: string;
}

/**
 * The implemented options (PS3.15 E.3.4-E.3.11), in CID 7050 code order.
 *
 * @example
 * ```ts
 * DEID_OPTIONS.retainUIDs.code; // "113110"
 * ```
 */
export const DEID_OPTIONS: Readonly<Record<DeidOptionName, DeidOptionSpec>> = {
  cleanStructuredContent: {
    letter: "T",
    code: "113104",
    meaning: "Clean Structured Content Option",
    cli: "clean-structured-content",
  },
  cleanDescriptors: {
    letter: "D",
    code: "113105",
    meaning: "Clean Descriptors Option",
    cli: "clean-descriptors",
  },
  retainLongitudinalFullDates: {
    letter: "F",
    code: "113106",
    meaning: "Retain Longitudinal Temporal Information Full Dates Option",
    cli: "retain-full-dates",
  },
  retainLongitudinalModifiedDates: {
    letter: "M",
    code: "113107",
    meaning: "Retain Longitudinal Temporal Information Modified Dates Option",
    cli: "retain-modified-dates",
  },
  retainPatientCharacteristics: {
    letter: "P",
    code: "113108",
    meaning: "Retain Patient Characteristics Option",
    cli: "retain-patient-characteristics",
  },
  retainDeviceIdentity: {
    letter: "V",
    code: "113109",
    meaning: "Retain Device Identity Option",
    cli: "retain-device-identity",
  },
  retainUIDs: { letter: "U", code: "113110", meaning: "Retain UIDs Option", cli: "retain-uids" },
  retainSafePrivate: {
    letter: "S",
    code: "113111",
    meaning: "Retain Safe Private Option",
    cli: "retain-safe-private",
  },
  retainInstitutionIdentity: {
    letter: "I",
    code: "113112",
    meaning: "Retain Institution Identity Option",
    cli: "retain-institution-identity",
  },
};

/**
 * CID 7050 code of the Basic Application Level Confidentiality Profile itself.
 *
 * @example
 * ```ts
 * BASIC_PROFILE_CODE.code; // "113100"
 * ```
 */
export const BASIC_PROFILE_CODE = {
  code: "113100",
  meaning: "Basic Application Confidentiality Profile",
} as const;

/** The set of options a de-identification run applies. */
export type DeidOptions = Readonly<Partial<Record<DeidOptionName, boolean>>>;

/**
 * The active options in CID 7050 code order.
 *
 * @example
 * ```ts
 * activeOptions({ retainUIDs: true }); // ["retainUIDs"]
 * ```
 */
export function activeOptions(options: DeidOptions): DeidOptionName[] {
  return (Object.keys(DEID_OPTIONS) as DeidOptionName[])
    .filter((n) => options[n] === true)
    .sort((a, b) => Number(DEID_OPTIONS[a].code) - Number(DEID_OPTIONS[b].code));
}

/**
 * Checks a set of options: the two longitudinal temporal options exclude each other (PS3.15 E.3.6).
 *
 * @example
 * ```ts
 * validateOptions({ retainLongitudinalFullDates: true }); // ok
 * ```
 */
export function validateOptions(options: DeidOptions): void {
  if (options.retainLongitudinalFullDates && options.retainLongitudinalModifiedDates) {
    throw new RadioLensError("RL_ERR_USAGE", {
      detail: "retain-full-dates and retain-modified-dates exclude each other (PS3.15 E.3.6); pick one",
    });
  }
}

/**
 * Parses CLI option names (`retain-uids`, ...) into options.
 *
 * @example
 * ```ts
 * parseOptionNames(["retain-uids", "clean-descriptors"]); // { retainUIDs: true, cleanDescriptors: true }
 * ```
 */
export function parseOptionNames(names: readonly string[]): DeidOptions {
  const out: Partial<Record<DeidOptionName, boolean>> = {};
  for (const raw of names) {
    for (const name of raw
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean)) {
      const hit = (Object.keys(DEID_OPTIONS) as DeidOptionName[]).find((n) => DEID_OPTIONS[n].cli === name);
      if (!hit) {
        const known = Object.values(DEID_OPTIONS)
          .map((s) => s.cli)
          .join(", ");
        throw new RadioLensError("RL_ERR_USAGE", {
          detail: `unknown de-identification option '${name}' (known: ${known})`,
        });
      }
      out[hit] = true;
    }
  }
  validateOptions(out);
  return out;
}
