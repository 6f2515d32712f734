/** PS3.15 Table E.1-1 lookup and action resolution: which action applies to a tag under a set of options. */
import { activeOptions, DEID_OPTIONS, type DeidOptions } from "./options.js";
import { PROFILE_ROWS, PROFILE_SUPPLEMENT_ROWS, SAFE_PRIVATE_ROWS } from "./profile-table.js";
import type { OptionLetter, ProfileAction } from "./profile-types.js";

/** One attribute's row of Table E.1-1. */
export interface ProfileRule {
  /** GGGGEEEE, X for any hex digit; `GGGGEEEE` for the private-attribute row. */
  readonly tag: string;
  readonly name: string;
  readonly inStandardIOD: boolean;
  readonly basic: ProfileAction;
  readonly options: Readonly<Partial<Record<OptionLetter, ProfileAction>>>;
  /** `E.1-1` for a row of the standard's table, `RadioLens` for a documented addition (ADR 054). */
  readonly source: "E.1-1" | "RadioLens";
}

/** A single action after options and IOD-type combinations are resolved (PS3.15 E.1.1). */
export type ResolvedAction = "X" | "Z" | "D" | "K" | "C" | "U";

let exact: Map<number, ProfileRule> | undefined;
let masked: { mask: number; value: number; rule: ProfileRule }[] = [];
let privateRule: ProfileRule | undefined;

function load(): Map<number, ProfileRule> {
  if (exact) return exact;
  exact = new Map();
  masked = [];
  const rows = [
    ...PROFILE_ROWS.map((r) => [r, "E.1-1"] as const),
    ...PROFILE_SUPPLEMENT_ROWS.map((r) => [r, "RadioLens"] as const),
  ];
  for (const [[tag, name, inStandardIOD, basic, options], source] of rows) {
    const rule: ProfileRule = { tag, name, inStandardIOD, basic, options, source };
    if (tag === "GGGGEEEE") {
      privateRule = rule;
      continue;
    }
    if (tag.includes("X")) {
      let mask = 0;
      let value = 0;
      for (let i = 0; i < 8; i++) {
        const c = tag[i] ?? "X";
        if (c !== "X") {
          mask |= 0xf << (28 - 4 * i);
          value |= Number.parseInt(c, 16) << (28 - 4 * i);
        }
      }
      masked.push({ mask: mask >>> 0, value: value >>> 0, rule });
    } else if (!exact.has(Number.parseInt(tag, 16) >>> 0)) {
      exact.set(Number.parseInt(tag, 16) >>> 0, rule);
    }
  }
  return exact;
}

/**
 * The Table E.1-1 row that governs a tag: exact rows, repeating-group rows (50xx curves, 60xx overlays) and the
 * private-attribute row for odd groups.
 *
 * @example
 * ```ts
 * findRule(0x00100010)?.basic; // "Z" (Patient's Name)
 * findRule(0x60003000)?.name;  // "Overlay Data"
 * ```
 */
export function findRule(tag: number): ProfileRule | undefined {
  const t = tag >>> 0;
  const hit = load().get(t);
  if (hit) return hit;
  for (const m of masked) if ((t & m.mask) >>> 0 === m.value) return m.rule;
  if ((t >>> 16) & 1) return privateRule;
  return undefined;
}

/**
 * Every row, for listing and tests.
 *
 * @example
 * ```ts
 * allRules().filter((r) => r.basic === "U").length;
 * ```
 */
export function allRules(): ProfileRule[] {
  const rows = [...load().values(), ...masked.map((m) => m.rule)];
  if (privateRule) rows.push(privateRule);
  return rows;
}

const RETAIN_RANK: Record<string, number> = { K: 3, C: 2, U: 1 };

/**
 * The action a rule asks for under the given options. "A requirement for an Option, when implemented, overrides
 * any requirement for the underlying Profile" (PS3.15 E.1.1); where two active options disagree (e.g. Device UID:
 * Retain UIDs K and Retain Device Identity K; Allergies: Patient Characteristics C and Clean Descriptors C) the
 * one that retains most wins (K over C over anything else), since each option was chosen to keep that information.
 *
 * @example
 * ```ts
 * chooseAction(findRule(0x00080020)!, { retainLongitudinalFullDates: true }); // "K"
 * ```
 */
export function chooseAction(rule: ProfileRule, options: DeidOptions): ProfileAction {
  let best: ProfileAction | undefined;
  for (const name of activeOptions(options)) {
    const a = rule.options[DEID_OPTIONS[name].letter];
    if (a === undefined) continue;
    if (best === undefined || (RETAIN_RANK[a] ?? 0) > (RETAIN_RANK[best] ?? 0)) best = a;
  }
  return best ?? rule.basic;
}

/**
 * Resolves an IOD-type-dependent combination to one action without IOD type information (see ADR 050): keep the
 * attribute present with a value that carries no information, so the result is valid whatever the attribute's
 * type (1, 2 or 3) in the instance's IOD and leaks nothing:
 * Z/D, X/D, X/Z/D → D (a dummy satisfies Type 1, 2 and 3); X/Z → Z (empty satisfies Type 2 and 3);
 * X/Z/U* → U (the sequence stays, every UID inside is remapped and every other attribute inside is processed by
 * the profile recursively).
 *
 * @example
 * ```ts
 * resolveCombination("X/Z/D"); // "D"
 * ```
 */
export function resolveCombination(action: ProfileAction): ResolvedAction {
  switch (action) {
    case "Z/D":
    case "X/D":
    case "X/Z/D":
      return "D";
    case "X/Z":
      return "Z";
    case "X/Z/U*":
      return "U";
    default:
      return action;
  }
}

/** A Table E.3.10-1 entry keyed for lookup. */
export interface SafePrivateEntry {
  readonly group: number;
  readonly elementByte: number;
  readonly creator: string;
  readonly vr: string;
  readonly meaning: string;
}

let safeIndex: Map<string, SafePrivateEntry> | undefined;

/**
 * Whether a private element is listed as safe in PS3.15 Table E.3.10-1: the group, the private creator that
 * reserved the block and the element's low byte must all match.
 *
 * @example
 * ```ts
 * isSafePrivate(0x0019, "GEMS_ACQU_01", 0x23); // true (Table Speed)
 * ```
 */
export function isSafePrivate(group: number, creator: string, elementByte: number): boolean {
  if (!safeIndex) {
    safeIndex = new Map();
    for (const [g, e, c, vr, , meaning] of SAFE_PRIVATE_ROWS) {
      const entry = {
        group: Number.parseInt(g, 16),
        elementByte: Number.parseInt(e, 16),
        creator: c,
        vr,
        meaning,
      };
      safeIndex.set(`${entry.group}|${c.trim().toUpperCase()}|${entry.elementByte}`, entry);
    }
  }
  return safeIndex.has(`${group}|${creator.trim().toUpperCase()}|${elementByte & 0xff}`);
}
