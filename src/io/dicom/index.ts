/** DICOM I/O: Part 10 parsing and writing, the data dictionary, transfer syntaxes and the typed DicomError. */
export { decodeText, encodeText } from "./charset.js";
export { DEFAULT_FRAME_TIME_LIMIT_MS, decodeFrame, warmUpCodecs } from "./codec-pool.js";
export {
  type DecodedFrame,
  decodeFrameInThread,
  type FrameSpec,
  type JpegFrameHeader,
  jpegFrameHeader,
  preloadCodecs,
} from "./codecs.js";
export { type ConvertOptions, type ConvertResult, convertDicom } from "./convert.js";
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
  type DicomInfo,
  describeDicom,
  exportStoredPixels,
  type PixelExportHeader,
  type PixelExportResult,
} from "./export.js";
export {
  jpeg2000Decoder,
  jpegLosslessDecoder,
  loadNativeCodecs,
  type NativeCodecs,
  type NativeJpegFrame,
} from "./native-codecs.js";
export {
  DEFAULT_PARSE_LIMITS,
  type ParsedDicom,
  type ParseOptions,
  parseDicom,
  readDicomFile,
} from "./parse.js";
export {
  applyModalityLut,
  applyPalette,
  applyVoiLut,
  interleavePlanes,
  invertDisplay,
  type LookupTable,
  type ModalityLut,
  maskStoredValues,
  minMaxWindow,
  type PaletteLuts,
  type VoiFunction,
  type VoiLut,
  WINDOW_PRESETS,
  type WindowPreset,
  ybrFullToRgb,
} from "./pipeline.js";
export {
  type DecodeOptions,
  decodeStoredPixels,
  decodeStoredPixelsMany,
  framesOfFragments,
  mapConcurrent,
  type PixelModule,
  readPixelModule,
  type StoredPixels,
} from "./pixels.js";
export { decodeRleFrame } from "./rle.js";
export {
  groupBySeries,
  type OrderedSeries,
  orderSeries,
  type SeriesVolume,
  type SeriesWarning,
  seriesToVolume,
} from "./series.js";
export {
  dicomToImage,
  functionalGroup,
  geometryOf,
  modalityLutOf,
  type ToImageOptions,
  voiOf,
} from "./to-image.js";
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
