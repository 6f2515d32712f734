/** Short, non-reversible references to bytes for audit records and logs, so neither ever holds a UID or a value. */
import { createHash } from "node:crypto";

/**
 * The first 16 hex digits of SHA-256.
 *
 * @example
 * ```ts
 * shortHash(new Uint8Array([1, 2, 3])); // "039058c6f2c0cb49"
 * ```
 */
export function shortHash(bytes: Uint8Array | string): string {
  return createHash("sha256").update(bytes).digest("hex").slice(0, 16);
}
