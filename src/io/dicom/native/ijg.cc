// JPEG Lossless (ITU T.81 Process 14, DICOM PS3.5 A.4.2) and 12-bit JPEG Extended decoding through DCMTK's IJG libraries.
//
// Why DCMTK (ADR 028): Debian's libdcmtk-dev ships the IJG 6b library built three times, for 8, 12 and 16-bit
// samples, with the lossless (Process 14) extension; `dcmdjpeg` and most DICOM toolkits decode with it. DCMTK's
// DJDecompressIJG{8,12,16}Bit decode one frame from memory into a caller-sized buffer and turn the library's
// fatal errors into a return code (setjmp inside DCMTK), so no IJG state outlives a call.
#include "ijg.h"

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmjpeg/djcparam.h>
#include <dcmtk/dcmjpeg/djdijg12.h>
#include <dcmtk/dcmjpeg/djdijg16.h>
#include <dcmtk/dcmjpeg/djdijg8.h>
#include <dcmtk/oflog/appender.h>
#include <dcmtk/oflog/oflog.h>
#include <dcmtk/oflog/spi/logevent.h>

#include <memory>
#include <mutex>

namespace radiolens {
namespace {

// The warnings of the decode running on this thread (codec workers are threads), filled by Capture.
thread_local std::string* captured = nullptr;

// Receives DCMTK's dcmjpeg log messages: DJDecompressIJG*Bit::emitMessage formats the IJG warning text there.
class Capture : public dcmtk::log4cplus::Appender {
 public:
  ~Capture() override { destructorImpl(); }
  void close() override {}

 protected:
  void append(const dcmtk::log4cplus::spi::InternalLoggingEvent& e) override {
    if (!captured || captured->size() > 512) return;
    if (!captured->empty()) captured->append("; ");
    captured->append(e.getMessage().c_str());
  }
};

// Collects the library's warnings (level -1). IJG reports damaged entropy-coded data as a warning and goes on
// with guessed samples, so the caller decides from the text (see Damaged) whether the frame is a decode.
template <class Base>
class Collecting : public Base {
 public:
  explicit Collecting(const DJCodecParameter& cp) : Base(cp, OFFalse) {}
  void emitMessage(int level) const override {
    if (level >= 0) return;  // trace messages
    captured = &warnings;
    Base::emitMessage(level);
    captured = nullptr;
    if (warnings.empty()) warnings = "an unnamed IJG warning";
  }
  mutable std::string warnings;
};

// IJG warnings that mean samples were lost or guessed (jerror.h: JWRN_HIT_MARKER, JWRN_HUFF_BAD_CODE,
// JWRN_MUST_RESYNC, JWRN_EXTRANEOUS_DATA all start "Corrupt JPEG data"; JWRN_JPEG_EOF "Premature end").
// Others (e.g. JWRN_NOT_SEQUENTIAL "Invalid SOS parameters for sequential JPEG", which DCMTK and pydicom also
// accept for JPEG-lossy.dcm) describe the header and change no sample.
bool Damaged(const std::string& warnings) {
  return warnings.find("Corrupt JPEG data") != std::string::npos ||
         warnings.find("Premature end") != std::string::npos || warnings.find("unnamed") != std::string::npos;
}

// No colour conversion (EDC_never): the codestream's own components are returned, as pydicom and `dcmdjpeg
// +cn` return them (ADR 022).
const DJCodecParameter& Params() {
  static const DJCodecParameter params(ECC_lossyYCbCr, EDC_never, EUC_never, EPC_colorByPixel);
  return params;
}

}  // namespace

bool ReadJpegFrameHeader(const uint8_t* data, size_t size, JpegFrameHeader* out) {
  // T.81 B.2: SOI, then marker segments (FF xx, 2-byte length) up to the first SOFn.
  if (size < 4 || data[0] != 0xff || data[1] != 0xd8) return false;
  size_t i = 2;
  while (i + 4 <= size) {
    if (data[i] != 0xff) return false;
    const uint8_t m = data[i + 1];
    if (m == 0xff) {
      i++;
      continue;
    }
    const size_t len = (static_cast<size_t>(data[i + 2]) << 8) | data[i + 3];
    const bool sof = m >= 0xc0 && m <= 0xcf && m != 0xc4 && m != 0xc8 && m != 0xcc;
    if (sof) {
      if (i + 10 > size || len < 8) return false;
      out->marker = m;
      out->precision = data[i + 4];
      out->rows = (static_cast<uint32_t>(data[i + 5]) << 8) | data[i + 6];
      out->cols = (static_cast<uint32_t>(data[i + 7]) << 8) | data[i + 8];
      out->components = data[i + 9];
      return true;
    }
    if (m == 0xda || len < 2) return false;
    i += 2 + len;
  }
  return false;
}

IjgFrame DecodeIjg(const uint8_t* data, size_t size, uint32_t rows, uint32_t cols, uint32_t samples,
                   Allocate allocate, void* context) {
  static std::once_flag quiet;
  // DCMTK logs codec warnings to stderr by default; CLI output (e.g. --json) must stay clean, so every DCMTK
  // logger is off except dcmjpeg's, whose warnings go to Capture only.
  std::call_once(quiet, [] {
    OFLog::configure(OFLogger::OFF_LOG_LEVEL);
    OFLogger jpeg = OFLog::getLogger("dcmtk.dcmjpeg");
    jpeg.setAdditivity(false);
    jpeg.setLogLevel(OFLogger::WARN_LOG_LEVEL);
    jpeg.addAppender(dcmtk::log4cplus::SharedAppenderPtr(new Capture()));
  });

  IjgFrame f;
  JpegFrameHeader h{};
  if (!ReadJpegFrameHeader(data, size, &h)) {
    f.error = "the JPEG codestream has no frame header (SOF) before its first scan";
    return f;
  }
  // PS3.5 8.2.1: the frame must be what the dataset declares, checked before the library allocates anything.
  if (h.rows != rows || h.cols != cols || h.components != samples) {
    f.error = "the JPEG frame header says " + std::to_string(h.cols) + "x" + std::to_string(h.rows) + "x" +
              std::to_string(h.components) + " but the dataset says " + std::to_string(cols) + "x" +
              std::to_string(rows) + "x" + std::to_string(samples);
    return f;
  }
  if (h.precision < 2 || h.precision > 16) {
    f.error = "the JPEG sample precision " + std::to_string(h.precision) + " is outside 2..16";
    return f;
  }
  std::unique_ptr<DJDecoder> dec;
  const std::string* warnings = nullptr;
  // One IJG build per sample precision (DCMTK's own choice in DJCodecDecoder): 8, 12 or 16 bits.
  if (h.precision <= 8) {
    auto* d = new Collecting<DJDecompressIJG8Bit>(Params());
    warnings = &d->warnings;
    dec.reset(d);
  } else if (h.precision <= 12) {
    auto* d = new Collecting<DJDecompressIJG12Bit>(Params());
    warnings = &d->warnings;
    dec.reset(d);
  } else {
    auto* d = new Collecting<DJDecompressIJG16Bit>(Params());
    warnings = &d->warnings;
    dec.reset(d);
  }
  const size_t bytesPer = dec->bytesPerSample();
  const size_t n = static_cast<size_t>(rows) * cols * samples * bytesPer;
  if (n > UINT32_MAX || size > UINT32_MAX) {
    f.error = "the JPEG frame is larger than 4 GiB";
    return f;
  }
  uint8_t* out = allocate(n, context);
  if (!out) {
    f.error = "cannot allocate the decoded JPEG frame";
    return f;
  }
  OFCondition c = dec->init();
  if (c.good()) {
    // The IJG source manager reads from this buffer only; DCMTK's interface takes a non-const pointer.
    c = dec->decode(const_cast<uint8_t*>(data), static_cast<Uint32>(size), out, static_cast<Uint32>(n), OFFalse);
  }
  if (c.bad()) {
    f.error = std::string("the JPEG codestream is damaged: ") + c.text();
    return f;
  }
  if (Damaged(*warnings)) {
    f.error = "the JPEG codestream is damaged: " + *warnings;
    return f;
  }
  f.length = n;
  f.bitsPerSample = h.precision;
  f.process = h.marker == 0xc3 || h.marker == 0xc7 || h.marker == 0xcb || h.marker == 0xcf ? 14 : 0;
  return f;
}

const char* DcmtkVersion() { return PACKAGE_VERSION; }

}  // namespace radiolens
