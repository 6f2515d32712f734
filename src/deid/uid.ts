/** UID remapping: HMAC-SHA256(secret, UID) written as a `2.25.<decimal>` UID (PS3.5 B.2, ISO/IEC 9834-8). */
import { createHmac } from "node:crypto";

/**
 * UID roots defined by the DICOM standard itself: SOP classes, transfer syntaxes, well-known frames of reference.
 *
 * @example
 * ```ts
 * "1.2.840.10008.1.2".startsWith(DICOM_UID_ROOT); // true
 * ```
 */
export const DICOM_UID_ROOT = "1.2.840.10008.";

/**
 * Maps a UID to a new one: the first 128 bits of HMAC-SHA256 keyed with the secret, as an unsigned decimal under
 * the `2.25` arc (at most 44 characters, within the 64 of PS3.5 9.1). The same input maps to the same output for
 * every run with the same secret, so references between instances stay consistent; without the secret a guessed
 * UID cannot be confirmed by hashing it.
 *
 * @example
 * ```ts
 * remapUid(Buffer.from("secret-of-32-bytes........."), "1.2.3.4"); // "2.25.1234..." (39 digits at most)
 * ```
 */
export function remapUid(secret: Uint8Array, uid: string): string {
  const digest = createHmac("sha256", secret)
    .update("uid\0")
    .update(uid.replace(/[\0 ]+$/, ""), "latin1")
    .digest();
  const n = BigInt(`0x${digest.subarray(0, 16).toString("hex")}`);
  return `2.25.${n.toString(10)}`;
}

/**
 * Whether a UID is defined by the standard (never replaced: SOP classes, transfer syntaxes, coding schemes).
 *
 * @example
 * ```ts
 * isStandardUid("1.2.840.10008.5.1.4.1.1.2"); // true
 * ```
 */
export function isStandardUid(uid: string): boolean {
  return uid.startsWith(DICOM_UID_ROOT);
}
