// Native JPEG 2000 decoding (ISO/IEC 15444-1, DICOM PS3.5 A.4.4 / 8.2.4) through the system OpenJPEG library.
//
// Why native: the same OpenJPEG 2.5 compiled to WASM needs 1.45-1.55x the CPU of the native build (ADR 026), and
// pydicom's decoders (Pillow, GDCM) call the native one. The codestream's size is read first (opj_read_header)
// and checked against what the dataset declares before any sample is decoded, so a lying header cannot make the
// library allocate or decode more than the frame the caller budgeted for.
#include <node_api.h>
#include <openjpeg.h>

#ifdef RADIOLENS_DCMTK
#include "ijg.h"
#endif

#include <algorithm>
#include <climits>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace {

struct MemoryStream {
  const uint8_t* data;
  size_t size;
  size_t pos;
};

OPJ_SIZE_T StreamRead(void* out, OPJ_SIZE_T n, void* user) {
  auto* s = static_cast<MemoryStream*>(user);
  if (s->pos >= s->size) return static_cast<OPJ_SIZE_T>(-1);  // OpenJPEG's end-of-stream signal
  const size_t k = std::min(static_cast<size_t>(n), s->size - s->pos);
  std::memcpy(out, s->data + s->pos, k);
  s->pos += k;
  return k;
}

OPJ_OFF_T StreamSkip(OPJ_OFF_T n, void* user) {
  auto* s = static_cast<MemoryStream*>(user);
  if (n < 0) {
    const size_t back = std::min(static_cast<size_t>(-n), s->pos);
    s->pos -= back;
    return -static_cast<OPJ_OFF_T>(back);
  }
  const size_t k = std::min(static_cast<size_t>(n), s->size - s->pos);
  s->pos += k;
  return static_cast<OPJ_OFF_T>(k);
}

OPJ_BOOL StreamSeek(OPJ_OFF_T to, void* user) {
  auto* s = static_cast<MemoryStream*>(user);
  if (to < 0 || static_cast<size_t>(to) > s->size) return OPJ_FALSE;
  s->pos = static_cast<size_t>(to);
  return OPJ_TRUE;
}

// OpenJPEG reports some damaged codestreams only through its error handler while still returning success from
// a call, so every error message makes the frame fail.
struct Messages {
  std::string errors;
};

void OnError(const char* msg, void* user) {
  auto* m = static_cast<Messages*>(user);
  if (m->errors.size() < 1024) m->errors.append(msg);
}
void OnQuiet(const char*, void*) {}

// Owns the OpenJPEG objects of one decode.
struct Decoding {
  opj_codec_t* codec = nullptr;
  opj_stream_t* stream = nullptr;
  opj_image_t* image = nullptr;
  ~Decoding() {
    if (stream) opj_stream_destroy(stream);
    if (codec) opj_destroy_codec(codec);
    if (image) opj_image_destroy(image);
  }
};

std::string Trim(std::string s) {
  std::replace(s.begin(), s.end(), '\n', ' ');
  while (!s.empty() && s.back() == ' ') s.pop_back();
  return s;
}

// The outcome of one decode, computed without touching JavaScript.
struct Frame {
  std::string error;     // non-empty: the codestream cannot be decoded
  std::string fallback;  // non-empty: left to the WASM decoder
  std::vector<uint8_t> bytes;
  uint32_t bitsPerSample = 0;
  bool sgnd = false;
};

Frame Decode(const uint8_t* data, size_t size, uint32_t rows, uint32_t cols, uint32_t samples, int threads) {
  Frame f;
  if (size < 4) {
    f.error = "the JPEG 2000 codestream is shorter than its SOC marker";
    return f;
  }
  MemoryStream mem{data, size, 0};
  Messages messages;
  Decoding d;
  // PS3.5 A.4.4: DICOM carries a bare codestream (starts with SOC FF4F + SIZ FF51); some encoders wrap it in JP2.
  const bool j2k = data[0] == 0xff && data[1] == 0x4f && data[2] == 0xff && data[3] == 0x51;
  d.codec = opj_create_decompress(j2k ? OPJ_CODEC_J2K : OPJ_CODEC_JP2);
  opj_set_error_handler(d.codec, OnError, &messages);
  opj_set_warning_handler(d.codec, OnQuiet, nullptr);
  opj_set_info_handler(d.codec, OnQuiet, nullptr);
  opj_dparameters_t params;
  opj_set_default_decoder_parameters(&params);
  if (!opj_setup_decoder(d.codec, &params)) {
    f.error = "OpenJPEG refused its decoder set-up";
    return f;
  }
  if (threads > 1) opj_codec_set_threads(d.codec, threads);

  d.stream = opj_stream_create(64 * 1024, OPJ_TRUE);
  opj_stream_set_user_data(d.stream, &mem, nullptr);
  opj_stream_set_user_data_length(d.stream, mem.size);
  opj_stream_set_read_function(d.stream, StreamRead);
  opj_stream_set_skip_function(d.stream, StreamSkip);
  opj_stream_set_seek_function(d.stream, StreamSeek);

  if (!opj_read_header(d.stream, d.codec, &d.image) || !d.image || !messages.errors.empty()) {
    f.error = "failed to read the JPEG 2000 header: " + Trim(messages.errors);
    return f;
  }
  opj_image_t* img = d.image;
  // The frame must be exactly what the dataset declares (PS3.5 8.2.4: Rows, Columns and Samples per Pixel match
  // the codestream) before the library allocates and decodes the samples.
  if (img->x0 != 0 || img->y0 != 0 || img->x1 != cols || img->y1 != rows || img->numcomps != samples) {
    f.error = "the JPEG 2000 header says " + std::to_string(img->x1 - img->x0) + "x" +
              std::to_string(img->y1 - img->y0) + "x" + std::to_string(img->numcomps) + " but the dataset says " +
              std::to_string(cols) + "x" + std::to_string(rows) + "x" + std::to_string(samples);
    return f;
  }
  const OPJ_UINT32 prec = img->comps[0].prec;
  const bool sgnd = img->comps[0].sgnd != 0;
  for (OPJ_UINT32 c = 0; c < img->numcomps; c++) {
    const opj_image_comp_t& k = img->comps[c];
    if (k.dx != 1 || k.dy != 1) {
      f.fallback = "sub-sampled components";
      return f;
    }
    if (k.prec != prec || (k.sgnd != 0) != sgnd || prec == 0 || prec > 16) {
      f.error = "the JPEG 2000 components differ in precision or sign, or exceed 16 bits";
      return f;
    }
  }
  if (img->color_space == OPJ_CLRSPC_SYCC || img->color_space == OPJ_CLRSPC_EYCC ||
      img->color_space == OPJ_CLRSPC_CMYK) {
    f.fallback = "JP2 colour space needing conversion";
    return f;
  }
  if (!opj_decode(d.codec, d.stream, img) || !opj_end_decompress(d.codec, d.stream) || !messages.errors.empty()) {
    f.error = "the JPEG 2000 codestream is damaged: " + Trim(messages.errors);
    return f;
  }
  for (OPJ_UINT32 c = 0; c < img->numcomps; c++) {
    if (!img->comps[c].data || img->comps[c].w != cols || img->comps[c].h != rows) {
      f.error = "OpenJPEG decoded no samples for a component";
      return f;
    }
  }

  const size_t pixels = static_cast<size_t>(rows) * cols;
  const size_t bytesPer = prec <= 8 ? 1 : 2;
  f.bytes.resize(pixels * samples * bytesPer);
  uint8_t* o = f.bytes.data();
  for (OPJ_UINT32 c = 0; c < samples; c++) {
    const OPJ_INT32* src = img->comps[c].data;
    if (bytesPer == 1) {
      for (size_t i = 0; i < pixels; i++) o[i * samples + c] = static_cast<uint8_t>(std::clamp(src[i], 0, 255));
    } else {
      const OPJ_INT32 lo = sgnd ? SHRT_MIN : 0;
      const OPJ_INT32 hi = sgnd ? SHRT_MAX : USHRT_MAX;
      for (size_t i = 0; i < pixels; i++) {
        const auto v = static_cast<uint16_t>(std::clamp(src[i], lo, hi));
        o[2 * (i * samples + c)] = static_cast<uint8_t>(v & 0xff);
        o[2 * (i * samples + c) + 1] = static_cast<uint8_t>(v >> 8);
      }
    }
  }
  f.bitsPerSample = prec;
  f.sgnd = sgnd;
  return f;
}

// Raw N-API with every status checked: in a worker thread that is being terminated (a frame over its time limit)
// calls into JavaScript fail, and a failure must end this call quietly instead of aborting the process.
bool SetNumber(napi_env env, napi_value obj, const char* key, double v) {
  napi_value n;
  return napi_create_double(env, v, &n) == napi_ok && napi_set_named_property(env, obj, key, n) == napi_ok;
}

napi_value Throw(napi_env env, const std::string& msg) {
  napi_throw_error(env, nullptr, msg.c_str());
  return nullptr;
}

// decodeJpeg2000(codestream: Uint8Array, rows, cols, samples[, threads]) →
//   { bytes: Uint8Array, width, height, bitsPerSample, components, signed } | { fallback: string } | throws Error
// Samples are interleaved, 1 byte each up to 8 bits, else 2 bytes little endian (two's complement when signed),
// clamped to the sample type as the WASM OpenJPEG wrapper does. `fallback` names a colour layout (sub-sampled or
// sYCC/e-YCC/CMYK components of a JP2 file) left to the WASM decoder's colour conversion.
napi_value DecodeJpeg2000(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  if (napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) != napi_ok) return nullptr;
  bool isTyped = false;
  if (argc < 4 || napi_is_typedarray(env, argv[0], &isTyped) != napi_ok || !isTyped) {
    return Throw(env, "decodeJpeg2000(data: Uint8Array, rows, cols, samples[, threads])");
  }
  napi_typedarray_type type;
  size_t length = 0;
  void* data = nullptr;
  if (napi_get_typedarray_info(env, argv[0], &type, &length, &data, nullptr, nullptr) != napi_ok ||
      type != napi_uint8_array) {
    return Throw(env, "decodeJpeg2000 needs a Uint8Array");
  }
  uint32_t dims[3];
  for (int i = 0; i < 3; i++) {
    if (napi_get_value_uint32(env, argv[i + 1], &dims[i]) != napi_ok) return Throw(env, "rows, cols and samples are numbers");
  }
  int32_t threads = 1;
  if (argc > 4) napi_get_value_int32(env, argv[4], &threads);

  const Frame f = Decode(static_cast<const uint8_t*>(data), length, dims[0], dims[1], dims[2], threads);
  if (!f.error.empty()) return Throw(env, f.error);
  napi_value obj;
  if (napi_create_object(env, &obj) != napi_ok) return nullptr;
  if (!f.fallback.empty()) {
    napi_value why;
    if (napi_create_string_utf8(env, f.fallback.c_str(), f.fallback.size(), &why) != napi_ok ||
        napi_set_named_property(env, obj, "fallback", why) != napi_ok) {
      return nullptr;
    }
    return obj;
  }
  void* out = nullptr;
  napi_value buffer, bytes, sgnd;
  if (napi_create_arraybuffer(env, f.bytes.size(), &out, &buffer) != napi_ok) return nullptr;
  std::memcpy(out, f.bytes.data(), f.bytes.size());
  if (napi_create_typedarray(env, napi_uint8_array, f.bytes.size(), buffer, 0, &bytes) != napi_ok ||
      napi_set_named_property(env, obj, "bytes", bytes) != napi_ok || !SetNumber(env, obj, "width", dims[1]) ||
      !SetNumber(env, obj, "height", dims[0]) || !SetNumber(env, obj, "bitsPerSample", f.bitsPerSample) ||
      !SetNumber(env, obj, "components", dims[2]) || napi_get_boolean(env, f.sgnd, &sgnd) != napi_ok ||
      napi_set_named_property(env, obj, "signed", sgnd) != napi_ok) {
    return nullptr;
  }
  return obj;
}

#ifdef RADIOLENS_DCMTK
// decodeJpeg(codestream: Uint8Array, rows, cols, samples) →
//   { bytes: Uint8Array, width, height, bitsPerSample, components, process } | throws Error
// JPEG Lossless (Process 14) and 8/12/16-bit DCT frames through DCMTK's IJG libraries (ijg.cc); samples
// interleaved, 1 byte each up to 8 bits, else 2 bytes little endian, the codestream's own components.
napi_value DecodeJpeg(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  if (napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) != napi_ok) return nullptr;
  bool isTyped = false;
  if (argc < 4 || napi_is_typedarray(env, argv[0], &isTyped) != napi_ok || !isTyped) {
    return Throw(env, "decodeJpeg(data: Uint8Array, rows, cols, samples)");
  }
  napi_typedarray_type type;
  size_t length = 0;
  void* data = nullptr;
  if (napi_get_typedarray_info(env, argv[0], &type, &length, &data, nullptr, nullptr) != napi_ok ||
      type != napi_uint8_array) {
    return Throw(env, "decodeJpeg needs a Uint8Array");
  }
  uint32_t dims[3];
  for (int i = 0; i < 3; i++) {
    if (napi_get_value_uint32(env, argv[i + 1], &dims[i]) != napi_ok) return Throw(env, "rows, cols and samples are numbers");
  }
  // The samples are decoded straight into a JavaScript ArrayBuffer (allocated once the header has been checked).
  struct Target {
    napi_env env;
    napi_value buffer = nullptr;
  } target{env};
  const radiolens::Allocate allocate = [](size_t n, void* context) -> uint8_t* {
    auto* t = static_cast<Target*>(context);
    void* out = nullptr;
    return napi_create_arraybuffer(t->env, n, &out, &t->buffer) == napi_ok ? static_cast<uint8_t*>(out) : nullptr;
  };
  const radiolens::IjgFrame f = radiolens::DecodeIjg(static_cast<const uint8_t*>(data), length, dims[0], dims[1],
                                                     dims[2], allocate, &target);
  if (!f.error.empty()) return Throw(env, f.error);
  napi_value obj;
  if (napi_create_object(env, &obj) != napi_ok) return nullptr;
  napi_value bytes;
  if (napi_create_typedarray(env, napi_uint8_array, f.length, target.buffer, 0, &bytes) != napi_ok ||
      napi_set_named_property(env, obj, "bytes", bytes) != napi_ok || !SetNumber(env, obj, "width", dims[1]) ||
      !SetNumber(env, obj, "height", dims[0]) || !SetNumber(env, obj, "bitsPerSample", f.bitsPerSample) ||
      !SetNumber(env, obj, "components", dims[2]) || !SetNumber(env, obj, "process", f.process)) {
    return nullptr;
  }
  return obj;
}

napi_value DcmtkVersion(napi_env env, napi_callback_info) {
  napi_value v;
  return napi_create_string_utf8(env, radiolens::DcmtkVersion(), NAPI_AUTO_LENGTH, &v) == napi_ok ? v : nullptr;
}
#endif

napi_value Version(napi_env env, napi_callback_info) {
  napi_value v;
  const char* s = opj_version();
  return napi_create_string_utf8(env, s, NAPI_AUTO_LENGTH, &v) == napi_ok ? v : nullptr;
}

}  // namespace

NAPI_MODULE_INIT() {
  napi_value fn;
  if (napi_create_function(env, "decodeJpeg2000", NAPI_AUTO_LENGTH, DecodeJpeg2000, nullptr, &fn) == napi_ok) {
    napi_set_named_property(env, exports, "decodeJpeg2000", fn);
  }
#ifdef RADIOLENS_DCMTK
  if (napi_create_function(env, "decodeJpeg", NAPI_AUTO_LENGTH, DecodeJpeg, nullptr, &fn) == napi_ok) {
    napi_set_named_property(env, exports, "decodeJpeg", fn);
  }
  if (napi_create_function(env, "dcmtkVersion", NAPI_AUTO_LENGTH, DcmtkVersion, nullptr, &fn) == napi_ok) {
    napi_set_named_property(env, exports, "dcmtkVersion", fn);
  }
#endif
  if (napi_create_function(env, "openjpegVersion", NAPI_AUTO_LENGTH, Version, nullptr, &fn) == napi_ok) {
    napi_set_named_property(env, exports, "openjpegVersion", fn);
  }
  return exports;
}
