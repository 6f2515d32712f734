/** DicomError: the one typed error every DICOM read, decode or write failure ends in, with a stable code. */

/** Stable codes of {@link DicomError}; clients match on them. */
export type DicomErrorCode =
  | "DICOM_NO_META"
  | "DICOM_BAD_META"
  | "DICOM_TRUNCATED"
  | "DICOM_BAD_VR"
  | "DICOM_BAD_LENGTH"
  | "DICOM_BAD_SEQUENCE"
  | "DICOM_DEPTH"
  | "DICOM_TOO_LARGE"
  | "DICOM_TIMEOUT"
  | "DICOM_UNSUPPORTED_TS"
  | "DICOM_INFLATE"
  | "DICOM_MISSING_ATTRIBUTE"
  | "DICOM_BAD_VALUE"
  | "DICOM_BAD_PIXEL_DATA"
  | "DICOM_DECODE"
  | "DICOM_SERIES"
  | "DICOM_WRITE"
  | "DICOM_TRAILING_PADDING";

const FIX: Record<DicomErrorCode, string> = {
  DICOM_NO_META:
    "The file lacks the 128-byte preamble, 'DICM' and File Meta Information (PS3.10 7.1); read it leniently (--lenient, or { strict: false }) to guess the encoding.",
  DICOM_BAD_META:
    "The File Meta Information (group 0002, PS3.10 7.1) is damaged; re-export the file from its source.",
  DICOM_TRUNCATED: "The file ends before a declared length; copy it again from its source.",
  DICOM_BAD_VR:
    "An element has a value representation not in PS3.5 6.2; read it leniently (--lenient, or { strict: false }) to fall back to the dictionary VR.",
  DICOM_BAD_LENGTH: "An element declares a length the file cannot hold (PS3.5 7.1); the file is damaged.",
  DICOM_BAD_SEQUENCE: "A sequence or item is not delimited as PS3.5 7.5 requires; the file is damaged.",
  DICOM_DEPTH: "Sequences nest deeper than the limit (default 64); raise maxDepth only for trusted files.",
  DICOM_TOO_LARGE:
    "The data exceeds the configured size limit; raise maxPixelBytes for trusted large images.",
  DICOM_TIMEOUT: "Parsing exceeded the per-file time limit; raise timeLimitMs for trusted large files.",
  DICOM_UNSUPPORTED_TS: "Transcode the file to a supported transfer syntax (e.g. with dcmtk's dcmconv).",
  DICOM_INFLATE: "The deflated dataset (PS3.5 A.5) does not inflate; the file is damaged.",
  DICOM_MISSING_ATTRIBUTE: "An attribute the operation needs is absent; check the SOP class of the file.",
  DICOM_BAD_VALUE: "An attribute value is outside what PS3.3 allows; fix the file's header.",
  DICOM_BAD_PIXEL_DATA:
    "Pixel Data (7FE0,0010) does not match Rows x Columns x Samples x Bits Allocated x Frames; the file is damaged.",
  DICOM_DECODE:
    "The compressed frame could not be decoded; the bitstream is damaged or not what the transfer syntax says.",
  DICOM_SERIES: "The files do not form one consistent series; pass the files of one series with equal sizes.",
  DICOM_WRITE: "The dataset cannot be encoded in the requested transfer syntax; check the element values.",
  DICOM_TRAILING_PADDING:
    "The file continues with zero bytes after its last element; read it without --strict (the padding is ignored).",
};

/**
 * The error DICOM functions throw; `code` is stable, `offset` is the byte position where parsing failed.
 *
 * @example
 * ```ts
 * try { parseDicom(bytes); } catch (e) {
 *   if (e instanceof DicomError && e.code === "DICOM_TRUNCATED") console.error(e.fix);
 * }
 * ```
 */
export class DicomError extends Error {
  readonly code: DicomErrorCode;
  readonly fix: string;
  readonly offset: number | undefined;
  /** The message without the fix. */
  readonly detail: string;

  constructor(code: DicomErrorCode, message: string, options: { offset?: number; cause?: unknown } = {}) {
    // The message carries the fix, so that one printed line tells the user what to do.
    super(
      `${options.offset === undefined ? message : `${message} (at byte ${options.offset})`}. ${FIX[code]}`,
      options.cause === undefined ? undefined : { cause: options.cause },
    );
    this.name = "DicomError";
    this.detail = message;
    this.code = code;
    this.fix = FIX[code];
    this.offset = options.offset;
  }
}

/** A problem lenient parsing stepped over instead of failing. */
export interface DicomWarning {
  readonly code: DicomErrorCode;
  readonly message: string;
  readonly offset?: number;
  /** The deviation loses no information and was read by the default policy (ADR 028), not only leniently. */
  readonly tolerated?: true;
}

/**
 * Formats a tag as `(GGGG,EEEE)`.
 *
 * @example
 * ```ts
 * tagString(0x7fe00010); // "(7FE0,0010)"
 * ```
 */
export function tagString(tag: number): string {
  const h = (tag >>> 0).toString(16).toUpperCase().padStart(8, "0");
  return `(${h.slice(0, 4)},${h.slice(4)})`;
}
