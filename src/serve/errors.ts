/** The one mapping from any thrown error to an HTTP answer: RadioLensError and DicomError keep their codes. */
import { RadioLensError } from "../core/errors.js";
import { DicomError } from "../io/dicom/index.js";

/** The JSON error body every route answers with. */
export interface ErrorBody {
  readonly error: { readonly code: string; readonly message: string; readonly fix: string };
}

/**
 * Maps an error to (status, body). Fastify's own errors (body too large, media type, validation, rate limit)
 * become catalogue errors so clients see one vocabulary. Server-side failures hide their message.
 *
 * @example
 * ```ts
 * const { status, body } = toHttpError(new RadioLensError("RL_ERR_AUTH"));
 * status; // 401
 * ```
 */
export function toHttpError(err: unknown): { status: number; body: ErrorBody; internal: boolean } {
  if (err instanceof RadioLensError) {
    return {
      status: err.httpStatus,
      body: { error: { code: err.code, message: err.message, fix: err.fix } },
      internal: err.httpStatus >= 500 && err.httpStatus !== 501 && err.httpStatus !== 503,
    };
  }
  if (err instanceof DicomError) {
    return {
      status: err.httpStatus,
      body: { error: { code: err.code, message: err.message, fix: err.fix } },
      internal: false,
    };
  }
  const e = err as { code?: unknown; statusCode?: unknown; validation?: unknown; message?: unknown };
  const fastifyCode = typeof e.code === "string" ? e.code : "";
  const wrap = (re: RadioLensError): { status: number; body: ErrorBody; internal: boolean } => ({
    status: re.httpStatus,
    body: { error: { code: re.code, message: re.message, fix: re.fix } },
    internal: false,
  });
  if (fastifyCode === "FST_ERR_CTP_BODY_TOO_LARGE" || e.statusCode === 413)
    return wrap(new RadioLensError("RL_ERR_TOO_LARGE", { limit: "the route's" }));
  if (fastifyCode === "FST_ERR_CTP_INVALID_MEDIA_TYPE" || e.statusCode === 415)
    return wrap(
      new RadioLensError("RL_ERR_UNSUPPORTED_MEDIA", { type: "given", accepted: "see GET /openapi.json" }),
    );
  if (e.statusCode === 429)
    return wrap(new RadioLensError("RL_ERR_RATE_LIMITED", { limit: "the", window: "window" }));
  if (
    e.validation !== undefined ||
    (typeof e.statusCode === "number" && e.statusCode >= 400 && e.statusCode < 500)
  ) {
    return {
      ...wrap(
        new RadioLensError("RL_ERR_BAD_REQUEST", {
          detail: typeof e.message === "string" ? e.message : "invalid",
        }),
      ),
      status: typeof e.statusCode === "number" ? e.statusCode : 400,
    };
  }
  return {
    ...wrap(new RadioLensError("RL_ERR_INTERNAL", { detail: "see the server log" })),
    status: 500,
    internal: true,
  };
}
