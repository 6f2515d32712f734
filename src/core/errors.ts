/** The error catalogue: every failure RadioLens reports has a stable code, a fix-it message, an exit code and an HTTP status. */

/** One entry of the catalogue. */
export interface ErrorSpec {
  /** What went wrong, as a template; `{name}` placeholders are filled from the error's details. */
  readonly message: string;
  /** How the user fixes it. */
  readonly fix: string;
  /** Process exit code for the CLI (2 = usage/input, 3 = data, 4 = model, 5 = engine, 1 = internal). */
  readonly exitCode: number;
  /** HTTP status the server answers with. */
  readonly httpStatus: number;
}

/**
 * Every error code RadioLens raises. Codes are stable API: clients match on them.
 *
 * @example
 * ```ts
 * throw new RadioLensError("RL_ERR_FILE_NOT_FOUND", { path: "/tmp/x.npz" });
 * ```
 */
export const ERROR_CATALOGUE = {
  RL_ERR_USAGE: {
    message: "{detail}",
    fix: "Run the command with --help to see its arguments.",
    exitCode: 2,
    httpStatus: 400,
  },
  RL_ERR_OPTION_INVALID: {
    message: "{option} '{value}' is not accepted: expected {accepts}",
    fix: "Give the option a value it accepts; the command's --help lists every option with its values.",
    exitCode: 2,
    httpStatus: 400,
  },
  RL_ERR_OPTION_MISSING: {
    message: "{option} is required ({accepts})",
    fix: "Add the option; the command's --help lists the required ones.",
    exitCode: 2,
    httpStatus: 400,
  },
  RL_ERR_FILE_NOT_FOUND: {
    message: "File not found: {path}",
    fix: "Check the path; relative paths are resolved from the current directory.",
    exitCode: 2,
    httpStatus: 404,
  },
  RL_ERR_IO: {
    message: "Could not read or write {path}: {detail}",
    fix: "Check permissions and free disk space.",
    exitCode: 2,
    httpStatus: 500,
  },
  RL_ERR_UNKNOWN_FORMAT: {
    message: "Unrecognized file format for {path} (tried: {tried})",
    fix: "Give a DICOM, NIfTI, PNG, JPEG or NPZ file.",
    exitCode: 3,
    httpStatus: 415,
  },
  RL_ERR_CONVERT_UNSUPPORTED: {
    message: "Cannot convert {input}: {detail}",
    fix: "radiolens convert writes .png from DICOM, NIfTI (a slice or a montage), PNG or JPEG, and .nii/.nii.gz from DICOM files and series folders, NIfTI/Analyze, PNG or JPEG; --slice, --axis and --orient apply to NIfTI input.",
    exitCode: 2,
    httpStatus: 422,
  },
  RL_ERR_NPZ_INVALID: {
    message: "{path} is not a valid .npz archive: {detail}",
    fix: "Give a NumPy .npz file (a zip of .npy arrays), e.g. a MedMNIST release file.",
    exitCode: 3,
    httpStatus: 422,
  },
  RL_ERR_NPZ_MISSING_KEY: {
    message: "{path} has no array '{key}' (it has: {keys})",
    fix: "Give a MedMNIST-style .npz with <split>_images and <split>_labels arrays.",
    exitCode: 3,
    httpStatus: 422,
  },
  RL_ERR_IMAGE_DECODE: {
    message: "Could not decode image {path}: {detail}",
    fix: "Check that the file is a complete PNG or JPEG; re-export it if it is truncated.",
    exitCode: 3,
    httpStatus: 422,
  },
  RL_ERR_SHAPE_MISMATCH: {
    message: "Shapes do not match: {detail}",
    fix: "Give arrays, images and masks of matching sizes (resize images to one size with a transform before batching).",
    exitCode: 3,
    httpStatus: 422,
  },
  RL_ERR_MODEL_DATA_MISMATCH: {
    message: "The model and the data disagree: {detail}",
    fix: "Evaluate or run the model on data of the input size, channels and classes it was trained for (see its radiolens.json).",
    exitCode: 3,
    httpStatus: 422,
  },
  RL_ERR_LABEL_OUT_OF_RANGE: {
    message: "Label out of range: {detail}",
    fix: "Use labels 0..K-1 (or the class names the dataset declares); merge or name the extra classes.",
    exitCode: 3,
    httpStatus: 422,
  },
  RL_ERR_DATA_EMPTY: {
    message: "Not enough data: {detail}",
    fix: "Point at a dataset that holds the items named (check the path, the split, the class folders and the labels file).",
    exitCode: 3,
    httpStatus: 422,
  },
  RL_ERR_TABLE_INVALID: {
    message: "Invalid table: {detail}",
    fix: "Fix the CSV as the message says: one header row, unique column names, the named columns present, one value per column on every row.",
    exitCode: 3,
    httpStatus: 422,
  },
  RL_ERR_TRAINING_DIVERGED: {
    message: "Training diverged: {detail}",
    fix: "Lower the learning rate, enable gradient clipping (clipNorm) or check the inputs for extreme values.",
    exitCode: 4,
    httpStatus: 500,
  },
  RL_ERR_CONFIG_INVALID: {
    message: "Invalid setting: {detail}",
    fix: "Correct the named value (a rule pattern, vocabulary entry, weight or fraction) as the message describes.",
    exitCode: 2,
    httpStatus: 400,
  },
  RL_ERR_PREDICTION_INVALID: {
    message: "Invalid prediction document: {detail}",
    fix: "Give the JSON described by 'radiolens reports generate --help' (model name and version, labels with one probability each).",
    exitCode: 2,
    httpStatus: 422,
  },
  RL_ERR_SR_SOURCE_INVALID: {
    message: "The source image cannot be referenced by the SR: {detail}",
    fix: "Give the DICOM image the report is about; it needs valid Study, Series and SOP Instance UIDs and a SOP Class UID (PS3.3 C.17.2).",
    exitCode: 3,
    httpStatus: 422,
  },
  RL_ERR_RESULT_SOURCE_INVALID: {
    message: "The source images cannot be referenced by the result object: {detail}",
    fix: "Give the DICOM images the result is about; each needs Study, Series and SOP Instance UIDs and a SOP Class UID (PS3.3 C.7.2.1, C.12.1).",
    exitCode: 3,
    httpStatus: 422,
  },
  RL_ERR_RESULT_INVALID: {
    message: "Cannot write the result object: {detail}",
    fix: "Give what the object reports: findings or segments for a measurement report (PS3.16 TID 1500), at least one segment and, for a FRACTIONAL segmentation, one probability map per segment (PS3.3 C.8.20.2), finite values for a parametric map (PS3.3 A.75).",
    exitCode: 2,
    httpStatus: 422,
  },
  RL_ERR_OUTSIDE_INTENDED_USE: {
    message:
      "{attribute} {value} is outside this model's intended use ({allowed}); the image was not analysed",
    fix: "Send an image the model card's intendedUse.inputs allows, or choose a model made for it; an administrator may analyse it anyway with force (CLI --force, REST ?force=true).",
    exitCode: 3,
    httpStatus: 422,
  },
  RL_ERR_OUT_OF_DISTRIBUTION: {
    message:
      "The image is unlike the model's training data (OOD score {score} above threshold {threshold}); it was not analysed",
    fix: "Check that the image is what the model was trained on (modality, body part, rendering); an administrator may analyse it anyway with force (CLI --force, REST ?force=true).",
    exitCode: 3,
    httpStatus: 422,
  },
  RL_ERR_SPLIT_LEAK: {
    message: "{count} patient(s) of column '{column}' appear in more than one split",
    fix: "Split by patient so that every patient's images sit in exactly one split.",
    exitCode: 3,
    httpStatus: 422,
  },
  RL_ERR_MODEL_NOT_FOUND: {
    message: "No model bundle at {path}: {detail}",
    fix: "Point --model at a folder written by 'radiolens train' (it holds model.json, weights and radiolens.json).",
    exitCode: 4,
    httpStatus: 404,
  },
  RL_ERR_MODEL_INVALID: {
    message: "The model bundle at {path} is incomplete or damaged: {detail}",
    fix: "Retrain the model or restore the bundle's files from a backup.",
    exitCode: 4,
    httpStatus: 500,
  },
  RL_ERR_UNKNOWN_MODEL: {
    message: "Unknown model architecture '{name}' (available: {available})",
    fix: "Pick one of the listed architectures with --model.",
    exitCode: 2,
    httpStatus: 400,
  },
  RL_ERR_BACKEND: {
    message: "Compute backend '{backend}' is unavailable: {detail}",
    fix: "Run 'radiolens doctor' to see the backends on this machine, or pass --backend wasm.",
    exitCode: 5,
    httpStatus: 503,
  },
  RL_ERR_DICOM: {
    message: "{detail}",
    fix: "The file is not valid DICOM or uses an unsupported feature; see the DicomError code.",
    exitCode: 3,
    httpStatus: 422,
  },
  RL_ERR_AUTH: {
    message: "Authentication required",
    fix: "Send an API key (X-API-Key) or a bearer token.",
    exitCode: 2,
    httpStatus: 401,
  },
  RL_ERR_FORBIDDEN: {
    message: "Your role may not {action}",
    fix: "Ask an administrator for a role that allows it.",
    exitCode: 2,
    httpStatus: 403,
  },
  RL_ERR_TOO_LARGE: {
    message: "Input larger than the limit of {limit} bytes",
    fix: "Send a smaller file, or raise the configured limit.",
    exitCode: 2,
    httpStatus: 413,
  },
  RL_ERR_INTERNAL: {
    message: "Internal error: {detail}",
    fix: "Re-run with --verbose and report the stack trace.",
    exitCode: 1,
    httpStatus: 500,
  },
  RL_ERR_NIFTI_INVALID: {
    message: "{path} is not a readable NIfTI/Analyze file: {detail}",
    fix: "Give a complete NIfTI-1/NIfTI-2 (.nii, .nii.gz) file or an Analyze/NIfTI .hdr with its .img; re-export it if it is truncated.",
    exitCode: 3,
    httpStatus: 422,
  },
  RL_ERR_NIFTI_UNSUPPORTED: {
    message: "{path} uses a NIfTI feature RadioLens does not read: {detail}",
    fix: "Convert the image to a supported datatype (uint8/int8/int16/uint16/int32/uint32/int64/uint64/float32/float64/complex/RGB), e.g. with nibabel or fslmaths.",
    exitCode: 3,
    httpStatus: 415,
  },
  RL_ERR_NIFTI_MISSING_IMAGE: {
    message: "The header {path} has no image file beside it (looked for {tried})",
    fix: "Put the .img (or .img.gz) file with the same name next to the .hdr, or give a single-file .nii/.nii.gz.",
    exitCode: 3,
    httpStatus: 422,
  },
  RL_ERR_NIFTI_WRITE: {
    message: "Cannot write {path} as NIfTI: {detail}",
    fix: "Give a 2D or 3D MedicalImage with a valid geometry and a path ending in .nii, .nii.gz or .hdr.",
    exitCode: 2,
    httpStatus: 400,
  },
  RL_ERR_TRANSFORM_FAILED: {
    message: "Transform step {step} ({name}) failed: {detail}",
    fix: "Check the named transform's options and the input it received (shape, keys, dtype).",
    exitCode: 3,
    httpStatus: 422,
  },
  RL_ERR_TRANSFORM_INVALID: {
    message: "{name}: {detail}",
    fix: "Fix the transform's options or give it an input of the shape and keys it expects.",
    exitCode: 2,
    httpStatus: 400,
  },
  RL_ERR_TRANSFORM_NOT_INVERTIBLE: {
    message: "Cannot invert {name}: {detail}",
    fix: "Invert only spatial transforms that record an inverse; non-linear ones (randElastic) cannot be undone.",
    exitCode: 3,
    httpStatus: 422,
  },
  RL_ERR_METRIC_INPUT: {
    message: "Invalid input to metric {metric}: {detail}",
    fix: "Give equal-length label and score arrays: integer labels 0..K-1 and probabilities in [0, 1].",
    exitCode: 3,
    httpStatus: 422,
  },
  RL_ERR_PREDICTIONS_CSV: {
    message: "Cannot read predictions from {path}: {detail}",
    fix: "Give a CSV with a header: binary 'label,score'; multi-class 'label,score_0,...,score_K'; multi-label 'label_<name>...,score_<name>...'; optionally 'patient_id'.",
    exitCode: 2,
    httpStatus: 422,
  },
  RL_ERR_DEID_SECRET: {
    message: "The de-identification secret {detail}",
    fix: "Give --secret-file a file of at least 16 random bytes (e.g. 'openssl rand -out deid.key 32') kept apart from the output.",
    exitCode: 2,
    httpStatus: 400,
  },
  RL_ERR_DEID_PSEUDONYM_TABLE: {
    message: "Cannot read the pseudonym table {path}: {detail}",
    fix: "Use the secret that wrote the table, or start a new table file.",
    exitCode: 2,
    httpStatus: 422,
  },
  RL_ERR_DEID_RESUME_MISMATCH: {
    message: "The output folder {path} holds a run with other settings ({detail})",
    fix: "Resume with the same secret and options, or write to a new output folder.",
    exitCode: 2,
    httpStatus: 409,
  },
  RL_ERR_DOWNLOAD: {
    message: "Could not download {url}: {detail}",
    fix: "Check the network or proxy settings, or download the file by hand and pass its path.",
    exitCode: 2,
    httpStatus: 502,
  },
  RL_ERR_DOWNLOAD_CHECKSUM: {
    message:
      "The file downloaded from {url} has MD5 {actual}, expected {expected}; nothing was written to {path}",
    fix: "Retry the download; if it fails again the server holds a different file than the release.",
    exitCode: 3,
    httpStatus: 502,
  },
  RL_ERR_ONNX_UNSUPPORTED: {
    message: "Cannot export layer '{layer}' ({className}) to ONNX: {detail}",
    fix: "Export a model built from the zoo's layers, or run this model with --runtime tfjs.",
    exitCode: 2,
    httpStatus: 422,
  },
  RL_ERR_ONNX_INVALID: {
    message: "{path} is not a usable ONNX model: {detail}",
    fix: "Re-export the model (e.g. torch.onnx.export with opset_version=13) and check it with onnx.checker.",
    exitCode: 3,
    httpStatus: 422,
  },
  RL_ERR_ONNX_MISMATCH: {
    message: "The ONNX model and its card disagree on {what}: {detail}",
    fix: "Correct the card (input layout, size, channels, labels, names) to match the exported model, or re-export the model.",
    exitCode: 3,
    httpStatus: 422,
  },
  RL_ERR_CARD_INVALID: {
    message: "The model card {path} is invalid: {detail}",
    fix: "Fix the named field; docs/onnx.md lists every field of an import card.",
    exitCode: 2,
    httpStatus: 422,
  },
  RL_ERR_RUNTIME_UNAVAILABLE: {
    message: "Runtime '{runtime}' cannot run the bundle at {path}: {detail}",
    fix: "Use --runtime tfjs or --runtime onnx as the bundle's files allow (radiolens export --format onnx adds model.onnx).",
    exitCode: 2,
    httpStatus: 422,
  },
  RL_ERR_NOT_FOUND: {
    message: "{what} not found",
    fix: "Check the identifier; list what exists with the matching GET route (e.g. GET /v1/models).",
    exitCode: 2,
    httpStatus: 404,
  },
  RL_ERR_UNSUPPORTED_MEDIA: {
    message: "Content type '{type}' is not accepted here (accepted: {accepted})",
    fix: "Send the body with one of the accepted Content-Type values.",
    exitCode: 2,
    httpStatus: 415,
  },
  RL_ERR_NOT_ACCEPTABLE: {
    message:
      "None of the media types in the Accept header can be given here (asked: {asked}; offered: {offered})",
    fix: "Ask for one of the offered media types in the Accept header, or leave the header out.",
    exitCode: 2,
    httpStatus: 406,
  },
  RL_ERR_NOT_IMPLEMENTED: {
    message: "{feature} is not available in this build",
    fix: "Leave the option out; the feature needs a module this installation does not have.",
    exitCode: 2,
    httpStatus: 501,
  },
  RL_ERR_RATE_LIMITED: {
    message: "Too many requests: limit {limit} per {window}",
    fix: "Retry after the number of seconds in the Retry-After header, or ask for a higher limit.",
    exitCode: 2,
    httpStatus: 429,
  },
  RL_ERR_TIMEOUT: {
    message: "The request did not finish within {ms} ms",
    fix: "Retry; if it persists, send smaller inputs or raise the configured timeout.",
    exitCode: 1,
    httpStatus: 503,
  },
  RL_ERR_BAD_REQUEST: {
    message: "Malformed request: {detail}",
    fix: "Fix the request as described; GET /openapi.json documents every route.",
    exitCode: 2,
    httpStatus: 400,
  },
  RL_ERR_STORE_UNAVAILABLE: {
    message: "Cannot use the {kind} store at {where}: {detail}",
    fix: "Check that the database server runs and accepts this user (host, port, database name, password in PGPASSWORD or ~/.pgpass), or drop --store to use the embedded SQLite store in --data-dir.",
    exitCode: 2,
    httpStatus: 503,
  },
  // DICOM read, decode and write failures, thrown as DicomError by src/io/dicom (the message is its detail).
  DICOM_NO_META: {
    message: "{detail}",
    fix: "The file lacks the 128-byte preamble, 'DICM' and File Meta Information (PS3.10 7.1); read it leniently (--lenient, or { strict: false }) to guess the encoding.",
    exitCode: 3,
    httpStatus: 422,
  },
  DICOM_BAD_META: {
    message: "{detail}",
    fix: "The File Meta Information (group 0002, PS3.10 7.1) is damaged; re-export the file from its source.",
    exitCode: 3,
    httpStatus: 422,
  },
  DICOM_TRUNCATED: {
    message: "{detail}",
    fix: "The file ends before a declared length; copy it again from its source.",
    exitCode: 3,
    httpStatus: 422,
  },
  DICOM_BAD_VR: {
    message: "{detail}",
    fix: "An element has a value representation not in PS3.5 6.2; read it leniently (--lenient, or { strict: false }) to fall back to the dictionary VR.",
    exitCode: 3,
    httpStatus: 422,
  },
  DICOM_BAD_LENGTH: {
    message: "{detail}",
    fix: "An element declares a length the file cannot hold (PS3.5 7.1); the file is damaged.",
    exitCode: 3,
    httpStatus: 422,
  },
  DICOM_BAD_SEQUENCE: {
    message: "{detail}",
    fix: "A sequence or item is not delimited as PS3.5 7.5 requires; the file is damaged.",
    exitCode: 3,
    httpStatus: 422,
  },
  DICOM_DEPTH: {
    message: "{detail}",
    fix: "Sequences nest deeper than the limit (default 64); raise maxDepth only for trusted files.",
    exitCode: 3,
    httpStatus: 422,
  },
  DICOM_TOO_LARGE: {
    message: "{detail}",
    fix: "The data exceeds the configured size limit; raise maxPixelBytes for trusted large images.",
    exitCode: 3,
    httpStatus: 413,
  },
  DICOM_TIMEOUT: {
    message: "{detail}",
    fix: "Parsing exceeded the per-file time limit; raise timeLimitMs for trusted large files.",
    exitCode: 3,
    httpStatus: 422,
  },
  DICOM_UNSUPPORTED_TS: {
    message: "{detail}",
    fix: "Transcode the file to a supported transfer syntax (e.g. with dcmtk's dcmconv).",
    exitCode: 3,
    httpStatus: 415,
  },
  DICOM_INFLATE: {
    message: "{detail}",
    fix: "The deflated dataset (PS3.5 A.5) does not inflate; the file is damaged.",
    exitCode: 3,
    httpStatus: 422,
  },
  DICOM_MISSING_ATTRIBUTE: {
    message: "{detail}",
    fix: "An attribute the operation needs is absent; check the SOP class of the file.",
    exitCode: 3,
    httpStatus: 422,
  },
  DICOM_BAD_VALUE: {
    message: "{detail}",
    fix: "An attribute value is outside what PS3.3 allows; fix the file's header.",
    exitCode: 3,
    httpStatus: 422,
  },
  DICOM_BAD_PIXEL_DATA: {
    message: "{detail}",
    fix: "Pixel Data (7FE0,0010) does not match Rows x Columns x Samples x Bits Allocated x Frames; the file is damaged.",
    exitCode: 3,
    httpStatus: 422,
  },
  DICOM_DECODE: {
    message: "{detail}",
    fix: "The compressed frame could not be decoded; the bitstream is damaged or not what the transfer syntax says.",
    exitCode: 3,
    httpStatus: 422,
  },
  DICOM_SERIES: {
    message: "{detail}",
    fix: "The files do not form one consistent series; pass the files of one series with equal sizes.",
    exitCode: 3,
    httpStatus: 422,
  },
  DICOM_WRITE: {
    message: "{detail}",
    fix: "The dataset cannot be encoded in the requested transfer syntax; check the element values.",
    exitCode: 3,
    httpStatus: 422,
  },
  DICOM_TRAILING_PADDING: {
    message: "{detail}",
    fix: "The file continues with zero bytes after its last element; read it without --strict (the padding is ignored).",
    exitCode: 3,
    httpStatus: 422,
  },
} as const satisfies Record<string, ErrorSpec>;

/** A code of the catalogue. */
export type ErrorCode = keyof typeof ERROR_CATALOGUE;

/** Values substituted into the message template; never put patient identifiers here. */
export type ErrorDetails = Readonly<Record<string, string | number | boolean | undefined>>;

function fill(template: string, details: ErrorDetails): string {
  return template.replace(/\{(\w+)\}/g, (_m, key: string) => {
    const v = details[key];
    return v === undefined ? `{${key}}` : String(v);
  });
}

/**
 * The one error type RadioLens throws for expected failures.
 *
 * @example
 * ```ts
 * try { readNpz("x.npz"); } catch (e) {
 *   if (e instanceof RadioLensError) console.error(e.code, e.fix);
 * }
 * ```
 */
export class RadioLensError extends Error {
  readonly code: ErrorCode;
  readonly fix: string;
  readonly exitCode: number;
  readonly httpStatus: number;
  readonly details: ErrorDetails;

  constructor(code: ErrorCode, details: ErrorDetails = {}, options?: { cause?: unknown }) {
    const spec: ErrorSpec = ERROR_CATALOGUE[code];
    super(fill(spec.message, details), options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = "RadioLensError";
    this.code = code;
    this.fix = spec.fix;
    this.exitCode = spec.exitCode;
    this.httpStatus = spec.httpStatus;
    this.details = details;
  }

  /** One line for a terminal: code, what went wrong, how to fix it. */
  toLine(): string {
    return `${this.code}: ${this.message}. ${this.fix}`;
  }
}

/**
 * Narrowing helper.
 *
 * @example
 * ```ts
 * if (isRadioLensError(err, "RL_ERR_FILE_NOT_FOUND")) { ... }
 * ```
 */
export function isRadioLensError(err: unknown, code?: ErrorCode): err is RadioLensError {
  return err instanceof RadioLensError && (code === undefined || err.code === code);
}
