// Native 8-bit JPEG decoding (ITU T.81) through the system libjpeg-turbo's TurboJPEG API, the library PIL links.
//
// Why native: the same libjpeg-turbo compiled to WASM needs several times the CPU of the native build with its
// SIMD (AVX2) inverse DCT and colour conversion, and serving a 224×224 JPEG spends most of its decode there. The
// frame size is read from the header first and checked against the caller's pixel budget before anything is
// allocated, and the samples are decoded straight into a JavaScript ArrayBuffer. What the decoder refuses or only
// decodes with a warning (CMYK, 12-bit, damaged or truncated data) is reported as `fallback`, so the caller's
// JavaScript decoder decides about it and the set of accepted files does not depend on this addon.
#include <node_api.h>
#include <turbojpeg.h>

#include <cstdint>
#include <string>

namespace {

// One decompressor per thread (the event loop and each decode worker), created on first use: creating it costs
// about as much as decoding a small image.
struct Handle {
  tjhandle h = nullptr;
  ~Handle() {
    if (h) tjDestroy(h);
  }
};
thread_local Handle handle;

bool SetNumber(napi_env env, napi_value obj, const char* key, double v) {
  napi_value n;
  return napi_create_double(env, v, &n) == napi_ok && napi_set_named_property(env, obj, key, n) == napi_ok;
}

napi_value Throw(napi_env env, const std::string& msg) {
  napi_throw_error(env, nullptr, msg.c_str());
  return nullptr;
}

napi_value Fallback(napi_env env, const std::string& why) {
  napi_value obj, s;
  if (napi_create_object(env, &obj) != napi_ok ||
      napi_create_string_utf8(env, why.c_str(), why.size(), &s) != napi_ok ||
      napi_set_named_property(env, obj, "fallback", s) != napi_ok) {
    return nullptr;
  }
  return obj;
}

// decodeJpeg(data: Uint8Array, maxPixels: number, denominator?: 1 | 2 | 4 | 8) →
//   { bytes: Uint8Array, width, height, components, sourceWidth, sourceHeight } | { fallback: string }
// One byte per sample, interleaved: 1 component for a greyscale frame, 3 (RGB, libjpeg's YCbCr conversion and
// fancy upsampling) otherwise. `denominator` > 1 decodes at 1/denominator of the size through the scaled inverse
// DCT (each output sample from the low-frequency coefficients of its block; at 1/8 the block's DC term, i.e. its
// mean). The accurate integer DCT is used, as by libjpeg's and PIL's defaults.
napi_value DecodeJpeg(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  if (napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) != napi_ok) return nullptr;
  bool isTyped = false;
  if (argc < 2 || napi_is_typedarray(env, argv[0], &isTyped) != napi_ok || !isTyped) {
    return Throw(env, "decodeJpeg(data: Uint8Array, maxPixels[, denominator])");
  }
  napi_typedarray_type type;
  size_t length = 0;
  void* data = nullptr;
  if (napi_get_typedarray_info(env, argv[0], &type, &length, &data, nullptr, nullptr) != napi_ok ||
      type != napi_uint8_array) {
    return Throw(env, "decodeJpeg needs a Uint8Array");
  }
  double maxPixels = 0;
  if (napi_get_value_double(env, argv[1], &maxPixels) != napi_ok) return Throw(env, "maxPixels is a number");
  int32_t denominator = 1;
  if (argc > 2 && napi_get_value_int32(env, argv[2], &denominator) != napi_ok) {
    return Throw(env, "denominator is 1, 2, 4 or 8");
  }
  if (denominator != 1 && denominator != 2 && denominator != 4 && denominator != 8) {
    return Throw(env, "denominator is 1, 2, 4 or 8");
  }
  if (!handle.h) handle.h = tjInitDecompress();
  if (!handle.h) return Fallback(env, "TurboJPEG could not be initialised");
  auto* src = static_cast<unsigned char*>(data);
  int width = 0, height = 0, subsamp = 0, colorspace = 0;
  if (tjDecompressHeader3(handle.h, src, length, &width, &height, &subsamp, &colorspace) != 0) {
    return Fallback(env, tjGetErrorStr2(handle.h));
  }
  if (width <= 0 || height <= 0) return Fallback(env, "no frame size");
  if (static_cast<double>(width) * height > maxPixels) {
    return Throw(env, "JPEG of " + std::to_string(width) + "x" + std::to_string(height) + " exceeds the " +
                          std::to_string(static_cast<long long>(maxPixels)) + " pixel limit");
  }
  if (colorspace == TJCS_CMYK || colorspace == TJCS_YCCK) return Fallback(env, "CMYK");
  const bool grey = colorspace == TJCS_GRAY;
  const int components = grey ? 1 : 3;
  const tjscalingfactor factor{1, denominator};
  const int w = TJSCALED(width, factor);
  const int h = TJSCALED(height, factor);
  const size_t bytes = static_cast<size_t>(w) * h * components;
  void* out = nullptr;
  napi_value buffer;
  if (napi_create_arraybuffer(env, bytes, &out, &buffer) != napi_ok) return nullptr;
  // STOPONWARNING: a truncated or corrupt stream is not decoded half; LIMITSCANS: a progressive stream with more
  // than 500 scans (a known CPU-exhaustion pattern) is refused.
  if (tjDecompress2(handle.h, src, length, static_cast<unsigned char*>(out), w, 0, h, grey ? TJPF_GRAY : TJPF_RGB,
                    TJFLAG_ACCURATEDCT | TJFLAG_STOPONWARNING | TJFLAG_LIMITSCANS) != 0) {
    return Fallback(env, tjGetErrorStr2(handle.h));
  }
  napi_value obj, arr;
  if (napi_create_object(env, &obj) != napi_ok ||
      napi_create_typedarray(env, napi_uint8_array, bytes, buffer, 0, &arr) != napi_ok ||
      napi_set_named_property(env, obj, "bytes", arr) != napi_ok || !SetNumber(env, obj, "width", w) ||
      !SetNumber(env, obj, "height", h) || !SetNumber(env, obj, "components", components) ||
      !SetNumber(env, obj, "sourceWidth", width) || !SetNumber(env, obj, "sourceHeight", height)) {
    return nullptr;
  }
  return obj;
}

}  // namespace

NAPI_MODULE_INIT() {
  napi_value fn;
  if (napi_create_function(env, "decodeJpeg", NAPI_AUTO_LENGTH, DecodeJpeg, nullptr, &fn) == napi_ok) {
    napi_set_named_property(env, exports, "decodeJpeg", fn);
  }
  return exports;
}
