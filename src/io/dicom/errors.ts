/** DicomError: the one typed error every DICOM read, decode or write failure ends in, with a stable code. */
import { ERROR_CATALOGUE, type ErrorCode } from "../../core/errors.js";

/** Stable codes of {@link DicomError} (the `DICOM_*` entries of the error catalogue); clients match on them. */
export type DicomErrorCode = Extract<ErrorCode, `DICOM_${string}`>;

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
  /** From the catalogue: the CLI's exit code and the service's HTTP status for this code. */
  readonly exitCode: number;
  readonly httpStatus: number;
  readonly offset: number | undefined;
  /** The message without the fix. */
  readonly detail: string;

  constructor(code: DicomErrorCode, message: string, options: { offset?: number; cause?: unknown } = {}) {
    // The message carries the fix, so that one printed line tells the user what to do.
    const spec = ERROR_CATALOGUE[code];
    super(
      `${options.offset === undefined ? message : `${message} (at byte ${options.offset})`}. ${spec.fix}`,
      options.cause === undefined ? undefined : { cause: options.cause },
    );
    this.name = "DicomError";
    this.detail = message;
    this.code = code;
    this.fix = spec.fix;
    this.exitCode = spec.exitCode;
    this.httpStatus = spec.httpStatus;
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
