/** Browser stand-in for node:zlib's raw inflate, for Deflated Explicit VR Little Endian files (PS3.5 A.5). */
import { inflateSync } from "fflate";

/**
 * Inflates a raw DEFLATE stream (RFC 1951), refusing output beyond `maxOutputLength`.
 *
 * @example
 * ```ts
 * inflateRawSync(deflated); // the raw-inflated bytes
 * ```
 */
export function inflateRawSync(data: Uint8Array, opts: { maxOutputLength?: number } = {}): Uint8Array {
  const out = inflateSync(data);
  if (opts.maxOutputLength !== undefined && out.length > opts.maxOutputLength)
    throw new RangeError("inflated data exceeds the limit");
  return out;
}
