/** Value representations (PS3.5 6.2): which use 32-bit lengths, how they pad and how many bytes a binary value has. */

/**
 * Every VR of PS3.5 Table 6.2-1.
 *
 * @example
 * ```ts
 * VRS.includes("SQ"); // true
 * ```
 */
export const VRS = [
  "AE",
  "AS",
  "AT",
  "CS",
  "DA",
  "DS",
  "DT",
  "FD",
  "FL",
  "IS",
  "LO",
  "LT",
  "OB",
  "OD",
  "OF",
  "OL",
  "OV",
  "OW",
  "PN",
  "SH",
  "SL",
  "SQ",
  "SS",
  "ST",
  "SV",
  "TM",
  "UC",
  "UI",
  "UL",
  "UN",
  "UR",
  "US",
  "UT",
  "UV",
] as const;

/** A value representation. */
export type VR = (typeof VRS)[number];

const VR_SET: ReadonlySet<string> = new Set(VRS);

/**
 * True for a known VR code.
 *
 * @example
 * ```ts
 * isVR("PN"); // true
 * ```
 */
export function isVR(s: string): s is VR {
  return VR_SET.has(s);
}

/**
 * VRs whose explicit encoding has 2 reserved bytes and a 32-bit length (PS3.5 7.1.2, Table 7.1-1).
 *
 * @example
 * ```ts
 * LONG_LENGTH_VRS.has("OB"); // true
 * ```
 */
export const LONG_LENGTH_VRS: ReadonlySet<VR> = new Set<VR>([
  "OB",
  "OD",
  "OF",
  "OL",
  "OV",
  "OW",
  "SQ",
  "UC",
  "UN",
  "UR",
  "UT",
  "SV",
  "UV",
]);

/**
 * Character-string VRs (PS3.5 6.2): padded with a space, multi-valued with backslash unless single-valued.
 *
 * @example
 * ```ts
 * STRING_VRS.has("PN"); // true
 * ```
 */
export const STRING_VRS: ReadonlySet<VR> = new Set<VR>([
  "AE",
  "AS",
  "CS",
  "DA",
  "DS",
  "DT",
  "IS",
  "LO",
  "LT",
  "PN",
  "SH",
  "ST",
  "TM",
  "UC",
  "UI",
  "UR",
  "UT",
]);

/**
 * String VRs whose value is a single value that may contain backslashes (PS3.5 6.4).
 *
 * @example
 * ```ts
 * SINGLE_VALUE_TEXT_VRS.has("LT"); // true: backslashes are text
 * ```
 */
export const SINGLE_VALUE_TEXT_VRS: ReadonlySet<VR> = new Set<VR>(["LT", "ST", "UT", "UR"]);

/**
 * String VRs affected by Specific Character Set (0008,0005) (PS3.5 6.1.2.3).
 *
 * @example
 * ```ts
 * CHARSET_VRS.has("UI"); // false: UIDs are ASCII
 * ```
 */
export const CHARSET_VRS: ReadonlySet<VR> = new Set<VR>(["LO", "LT", "PN", "SH", "ST", "UC", "UT"]);

/**
 * Bytes per value of a binary VR (the swap unit when changing byte order), or 1 for byte/string data.
 *
 * @example
 * ```ts
 * binaryWidth("FD"); // 8
 * ```
 */
export function binaryWidth(vr: VR): number {
  switch (vr) {
    case "US":
    case "SS":
    case "OW":
    case "AT":
      return 2;
    case "UL":
    case "SL":
    case "FL":
    case "OF":
    case "OL":
      return 4;
    case "FD":
    case "OD":
    case "SV":
    case "UV":
    case "OV":
      return 8;
    default:
      return 1;
  }
}

/**
 * Padding byte of a VR: NUL for UI and binary OB/UN, space for other strings (PS3.5 6.2).
 *
 * @example
 * ```ts
 * padByte("UI"); // 0
 * ```
 */
export function padByte(vr: VR): number {
  return STRING_VRS.has(vr) && vr !== "UI" ? 0x20 : 0x00;
}
