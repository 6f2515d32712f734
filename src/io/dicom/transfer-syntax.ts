/** Transfer syntaxes (PS3.5 Section 10 and Annex A): how each one encodes the dataset and the pixel data. */

/** How a transfer syntax encodes pixels. */
export type PixelEncoding =
  | "native"
  | "jpeg-baseline"
  | "jpeg-extended"
  | "jpeg-lossless"
  | "jpeg-ls"
  | "jpeg-2000"
  | "htj2k"
  | "rle"
  | "unsupported";

/** What a transfer syntax implies for parsing and decoding. */
export interface TransferSyntaxInfo {
  readonly uid: string;
  readonly name: string;
  readonly littleEndian: boolean;
  readonly explicitVR: boolean;
  /** The dataset after the File Meta is deflated (PS3.5 A.5). */
  readonly deflated: boolean;
  /** Pixel Data is encapsulated in fragments (PS3.5 A.4). */
  readonly encapsulated: boolean;
  readonly pixels: PixelEncoding;
  /** The codec may change values (lossy compression). */
  readonly lossy: boolean;
}

/**
 * UIDs of the transfer syntaxes RadioLens names in code.
 *
 * @example
 * ```ts
 * transferSyntax(TS.JPEGLSLossless).pixels; // "jpeg-ls"
 * ```
 */
export const TS = {
  ImplicitVRLittleEndian: "1.2.840.10008.1.2",
  ExplicitVRLittleEndian: "1.2.840.10008.1.2.1",
  DeflatedExplicitVRLittleEndian: "1.2.840.10008.1.2.1.99",
  ExplicitVRBigEndian: "1.2.840.10008.1.2.2",
  JPEGBaseline8Bit: "1.2.840.10008.1.2.4.50",
  JPEGExtended12Bit: "1.2.840.10008.1.2.4.51",
  JPEGLossless: "1.2.840.10008.1.2.4.57",
  JPEGLosslessSV1: "1.2.840.10008.1.2.4.70",
  JPEGLSLossless: "1.2.840.10008.1.2.4.80",
  JPEGLSNearLossless: "1.2.840.10008.1.2.4.81",
  JPEG2000Lossless: "1.2.840.10008.1.2.4.90",
  JPEG2000: "1.2.840.10008.1.2.4.91",
  HTJ2KLossless: "1.2.840.10008.1.2.4.201",
  HTJ2KLosslessRPCL: "1.2.840.10008.1.2.4.202",
  HTJ2K: "1.2.840.10008.1.2.4.203",
  RLELossless: "1.2.840.10008.1.2.5",
} as const;

const native = (
  uid: string,
  name: string,
  le: boolean,
  explicit: boolean,
  deflated = false,
): TransferSyntaxInfo => ({
  uid,
  name,
  littleEndian: le,
  explicitVR: explicit,
  deflated,
  encapsulated: false,
  pixels: "native",
  lossy: false,
});
const encap = (uid: string, name: string, pixels: PixelEncoding, lossy: boolean): TransferSyntaxInfo => ({
  uid,
  name,
  littleEndian: true,
  explicitVR: true,
  deflated: false,
  encapsulated: true,
  pixels,
  lossy,
});

const TABLE: readonly TransferSyntaxInfo[] = [
  native(TS.ImplicitVRLittleEndian, "Implicit VR Little Endian", true, false),
  native(TS.ExplicitVRLittleEndian, "Explicit VR Little Endian", true, true),
  native(TS.DeflatedExplicitVRLittleEndian, "Deflated Explicit VR Little Endian", true, true, true),
  native(TS.ExplicitVRBigEndian, "Explicit VR Big Endian", false, true),
  encap(TS.JPEGBaseline8Bit, "JPEG Baseline (Process 1)", "jpeg-baseline", true),
  encap(TS.JPEGExtended12Bit, "JPEG Extended (Process 2 & 4)", "jpeg-extended", true),
  encap(TS.JPEGLossless, "JPEG Lossless, Non-Hierarchical (Process 14)", "jpeg-lossless", false),
  encap(TS.JPEGLosslessSV1, "JPEG Lossless, First-Order Prediction (Process 14 SV1)", "jpeg-lossless", false),
  encap(TS.JPEGLSLossless, "JPEG-LS Lossless", "jpeg-ls", false),
  encap(TS.JPEGLSNearLossless, "JPEG-LS Lossy (Near-Lossless)", "jpeg-ls", true),
  encap(TS.JPEG2000Lossless, "JPEG 2000 (Lossless Only)", "jpeg-2000", false),
  encap(TS.JPEG2000, "JPEG 2000", "jpeg-2000", true),
  encap(TS.HTJ2KLossless, "High-Throughput JPEG 2000 (Lossless Only)", "htj2k", false),
  encap(TS.HTJ2KLosslessRPCL, "High-Throughput JPEG 2000 with RPCL Options (Lossless Only)", "htj2k", false),
  encap(TS.HTJ2K, "High-Throughput JPEG 2000", "htj2k", true),
  encap(TS.RLELossless, "RLE Lossless", "rle", false),
];

const BY_UID = new Map(TABLE.map((t) => [t.uid, t]));

/**
 * What a transfer syntax UID means; unknown UIDs are treated as encapsulated explicit VR little endian with
 * unsupported pixels, as PS3.5 A.4 requires of every encapsulated syntax.
 *
 * @example
 * ```ts
 * transferSyntax("1.2.840.10008.1.2.2").littleEndian; // false
 * ```
 */
export function transferSyntax(uid: string): TransferSyntaxInfo {
  return (
    BY_UID.get(uid) ?? {
      uid,
      name: `unknown (${uid})`,
      littleEndian: true,
      explicitVR: true,
      deflated: false,
      encapsulated: true,
      pixels: "unsupported",
      lossy: false,
    }
  );
}

/**
 * True when RadioLens knows the UID (it can at least parse the dataset and name the codec).
 *
 * @example
 * ```ts
 * isKnownTransferSyntax("1.2.840.10008.1.2.4.80"); // true
 * ```
 */
export function isKnownTransferSyntax(uid: string): boolean {
  return BY_UID.has(uid);
}
