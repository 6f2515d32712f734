/** Types of the generated PS3.15 Table E.1-1 / E.3.10-1 data (src/deid/profile-table.ts). */

/** An action code of PS3.15 E.1.1 (D, Z, X, K, C, U) or one of its IOD-type-dependent combinations. */
export type ProfileAction = "D" | "Z" | "X" | "K" | "C" | "U" | "Z/D" | "X/Z" | "X/D" | "X/Z/D" | "X/Z/U*";

/**
 * Column letters of the option actions in Table E.1-1: F Retain Longitudinal Temporal Information Full Dates,
 * M ... Modified Dates, P Retain Patient Characteristics, V Retain Device Identity, I Retain Institution Identity,
 * U Retain UIDs, S Retain Safe Private, D Clean Descriptors, T Clean Structured Content, G Clean Graphics.
 */
export type OptionLetter = "F" | "M" | "P" | "V" | "I" | "U" | "S" | "D" | "T" | "G";

/** One Table E.1-1 row: tag (GGGGEEEE; X = any hex digit; GGGGEEEE = private), name, in a standard IOD, Basic Profile action, option actions. */
export type ProfileRowData = readonly [
  tag: string,
  name: string,
  inStandardIOD: boolean,
  basic: ProfileAction,
  options: Readonly<Partial<Record<OptionLetter, ProfileAction>>>,
];

/** One Table E.3.10-1 row: group, element low byte (the `xx` block is resolved by the creator), private creator, VR, VM, meaning. */
export type SafePrivateRowData = readonly [
  group: string,
  element: string,
  creator: string,
  vr: string,
  vm: string,
  meaning: string,
];
