/** DICOM I/O: Part 10 parsing and writing, the data dictionary, transfer syntaxes and the typed DicomError. */
export { decodeText, encodeText } from "./charset.js";
export {
  DicomDataset,
  type DicomElement,
  decodeBinary,
  encodeBinary,
  type PersonName,
  type TagLike,
} from "./dataset.js";
export { type DictionaryEntry, implicitVRCandidates, lookupKeyword, lookupTag, tagOf } from "./dictionary.js";
export { DicomError, type DicomErrorCode, type DicomWarning, tagString } from "./errors.js";
export {
  DEFAULT_PARSE_LIMITS,
  type ParsedDicom,
  type ParseOptions,
  parseDicom,
  readDicomFile,
} from "./parse.js";
export {
  isKnownTransferSyntax,
  type PixelEncoding,
  type TransferSyntaxInfo,
  TS,
  transferSyntax,
} from "./transfer-syntax.js";
export { binaryWidth, isVR, LONG_LENGTH_VRS, STRING_VRS, type VR, VRS } from "./vr.js";
export {
  IMPLEMENTATION_CLASS_UID,
  IMPLEMENTATION_VERSION_NAME,
  type WriteOptions,
  writeDicom,
} from "./write.js";
