// JPEG decoding through DCMTK's IJG 8/12/16-bit libraries (ijg.cc); compiled only when libdcmtk-dev is installed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace radiolens {

// Frame header fields (ITU T.81 B.2.2).
struct JpegFrameHeader {
  uint8_t marker;
  uint32_t precision;
  uint32_t rows;
  uint32_t cols;
  uint32_t components;
};

// Reads the first SOFn segment; false when none precedes the first scan.
bool ReadJpegFrameHeader(const uint8_t* data, size_t size, JpegFrameHeader* out);

// The outcome of one decode.
struct IjgFrame {
  std::string error;  // non-empty: the codestream cannot be decoded
  size_t length = 0;  // bytes written: interleaved samples, 1 byte each up to 8 bits, else 2 (host order)
  uint32_t bitsPerSample = 0;
  int process = 0;  // 14 for a lossless frame, 0 otherwise
};

// Gives the buffer of `n` bytes the samples are decoded into (the caller's JavaScript ArrayBuffer, so that a
// frame is written once, not decoded and then copied); nullptr when it cannot be allocated.
using Allocate = uint8_t* (*)(size_t n, void* context);

// Decodes one JPEG frame whose header must declare exactly cols x rows x samples.
IjgFrame DecodeIjg(const uint8_t* data, size_t size, uint32_t rows, uint32_t cols, uint32_t samples,
                   Allocate allocate, void* context);

// The linked DCMTK's version, e.g. "3.6.7".
const char* DcmtkVersion();

}  // namespace radiolens
