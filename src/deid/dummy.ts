/** Dummy values for the D action (PS3.15 E.1.1: "a non-zero length value ... consistent with the VR"). */
import type { VR } from "../io/dicom/vr.js";

/**
 * Text put in place of removed free text, names and identifiers.
 *
 * @example
 * ```ts
 * ds.string("InstitutionName") === DUMMY_TEXT; // after a D action
 * ```
 */
export const DUMMY_TEXT = "ANONYMIZED";

/**
 * A dummy value for a VR, as the string that is encoded for string VRs, or undefined for binary VRs (whose dummy
 * is zero bytes of the VR's width, see `dummyBinary`). Every dummy is valid for its VR's length limit.
 *
 * @example
 * ```ts
 * dummyString("DA"); // "19000101"
 * dummyString("SH"); // "ANONYMIZED"
 * ```
 */
export function dummyString(vr: VR): string | undefined {
  switch (vr) {
    case "DA":
      return "19000101";
    case "DT":
      return "19000101000000";
    case "TM":
      return "000000";
    case "AS":
      return "000Y";
    case "DS":
    case "IS":
      return "0";
    case "AE":
    case "CS":
      return "ANONYMIZED";
    case "UR":
      return "urn:anonymized";
    case "PN":
    case "LO":
    case "SH":
    case "ST":
    case "LT":
    case "UT":
    case "UC":
      return DUMMY_TEXT;
    default:
      return undefined;
  }
}

/**
 * Zero bytes for one value of a binary VR (US, SL, FD, OB, ...): the smallest non-zero-length value.
 *
 * @example
 * ```ts
 * dummyBinary("FD").length; // 8
 * ```
 */
export function dummyBinary(vr: VR): Uint8Array {
  switch (vr) {
    case "FD":
    case "SV":
    case "UV":
    case "OD":
    case "OV":
      return new Uint8Array(8);
    case "UL":
    case "SL":
    case "FL":
    case "OF":
    case "OL":
    case "AT":
      return new Uint8Array(4);
    default:
      return new Uint8Array(2);
  }
}
