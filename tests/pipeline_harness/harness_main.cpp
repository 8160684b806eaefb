// harness_main.cpp - runs the firmware's har_pipeline.h on recorded data, for edgekit's tests.
//
// Built twice from the same sources: with g++ for the desktop and with arm-none-eabi-g++ for a
// Cortex-M4F under QEMU, with edgekit's harness_io.h (firmware_templates/harness: io_posix.cpp,
// io_semihost.cpp, the start-up code and linker script the board-runtime rungs use as well). It reads
// harness_in.bin and writes harness_out.bin in the current directory (tests/helpers/firmware.py writes the
// one, tests/test_firmware*.py check the other against Python). A test file: it does not ship in the wheel.
//
//   u32 magic "EKH1", u32 mode, then per mode:
//   1 windows : u32 segments, per segment u32 n and n x 3 float32 board samples in IMU units;
//               out: every int8 model input window, kInputSize bytes each, in stream order
//               (the window buffer restarts at each segment, as the desktop windows each recording).
//   2 predict : u32 n, n x kNumClasses int8 scores; out: per row i32 class index, float32 confidence.
//   3 quantize: u32 n, n x float32 normalised values; out: n int8 (input scale and zero point).
//   4 queue   : no input; out: u32 words of a scripted SpscQueue run (see run_queue).
//   5 model   : no input; out: the embedded model bytes, then u32 (address of g_model_data) % 16.
//
// Exit status 0 on success; a message and status 1 otherwise.

#include <stddef.h>
#include <stdint.h>

#include "edgekit_config.h"
#include "har_pipeline.h"
#include "harness_io.h"
#include "model_data.h"

namespace {

using edgekit_config::kInputSize;
using edgekit_config::kNumClasses;
using edgekit_config::kPipeline;

constexpr char kInPath[] = "harness_in.bin";
constexpr char kOutPath[] = "harness_out.bin";
constexpr uint32_t kMagic = 0x31484B45u;  // "EKH1" read as a little-endian u32

enum Mode : uint32_t { kWindows = 1, kPredict = 2, kQuantize = 3, kQueue = 4, kModel = 5 };

// Buffered reads of little-endian values; any short read marks the stream failed.
class Reader {
 public:
  explicit Reader(int handle) : handle_(handle) {}

  bool bytes(void* out, size_t n) {
    uint8_t* dst = static_cast<uint8_t*>(out);
    for (size_t i = 0; i < n; ++i) {
      if (pos_ == len_ && !refill()) {
        ok_ = false;
        return false;
      }
      dst[i] = buf_[pos_++];
    }
    return true;
  }

  bool u32(uint32_t* out) { return bytes(out, sizeof(*out)); }
  bool ok() const { return ok_; }

 private:
  bool refill() {
    const long got = hio::read(handle_, buf_, sizeof(buf_));
    if (got <= 0) {
      return false;
    }
    pos_ = 0;
    len_ = static_cast<size_t>(got);
    return true;
  }

  int handle_;
  uint8_t buf_[1024] = {};
  size_t pos_ = 0;
  size_t len_ = 0;
  bool ok_ = true;
};

// Buffered writes; flush() must be called before closing.
class Writer {
 public:
  explicit Writer(int handle) : handle_(handle) {}

  bool bytes(const void* data, size_t n) {
    const uint8_t* src = static_cast<const uint8_t*>(data);
    for (size_t i = 0; i < n; ++i) {
      if (len_ == sizeof(buf_) && !flush()) {
        return false;
      }
      buf_[len_++] = src[i];
    }
    return true;
  }

  bool u32(uint32_t value) { return bytes(&value, sizeof(value)); }

  bool flush() {
    if (len_ > 0 && !hio::write(handle_, buf_, len_)) {
      ok_ = false;
      return false;
    }
    len_ = 0;
    return ok_;
  }

 private:
  int handle_;
  uint8_t buf_[1024] = {};
  size_t len_ = 0;
  bool ok_ = true;
};

edgekit::WindowBuffer<edgekit_config::kWindow, edgekit_config::kHop> g_window;

bool run_windows(Reader& in, Writer& out) {
  uint32_t segments = 0;
  if (!in.u32(&segments)) {
    return false;
  }
  int8_t input[kInputSize];
  for (uint32_t s = 0; s < segments; ++s) {
    uint32_t n = 0;
    if (!in.u32(&n)) {
      return false;
    }
    g_window.reset();
    for (uint32_t i = 0; i < n; ++i) {
      float board[edgekit::kNumAxes];
      if (!in.bytes(board, sizeof(board))) {
        return false;
      }
      if (g_window.push(edgekit::to_model_axes(board, kPipeline))) {
        if (!g_window.fill_input(input, sizeof(input), kPipeline) || !out.bytes(input, sizeof(input))) {
          return false;
        }
      }
    }
  }
  return true;
}

bool run_predict(Reader& in, Writer& out) {
  uint32_t n = 0;
  if (!in.u32(&n)) {
    return false;
  }
  for (uint32_t i = 0; i < n; ++i) {
    int8_t scores[kNumClasses];
    if (!in.bytes(scores, sizeof(scores))) {
      return false;
    }
    const edgekit::Prediction p =
        edgekit::predict(scores, kNumClasses, kPipeline.output_scale, kPipeline.output_zero_point);
    const int32_t index = static_cast<int32_t>(p.index);
    if (!out.bytes(&index, sizeof(index)) || !out.bytes(&p.confidence, sizeof(p.confidence))) {
      return false;
    }
  }
  return true;
}

bool run_quantize(Reader& in, Writer& out) {
  uint32_t n = 0;
  if (!in.u32(&n)) {
    return false;
  }
  for (uint32_t i = 0; i < n; ++i) {
    float x = 0.0f;
    if (!in.bytes(&x, sizeof(x))) {
      return false;
    }
    const int8_t q = edgekit::quantize(x, kPipeline.input_scale, kPipeline.input_zero_point);
    if (!out.bytes(&q, sizeof(q))) {
      return false;
    }
  }
  return true;
}

// Fill an 8-slot queue past capacity, drain part of it, refill, drain all. The test knows the answer:
// accepted 8, missed 4 (+5 added directly), then values 0..7, 100, 101 in order.
bool run_queue(Writer& out) {
  edgekit::SpscQueue<uint32_t, 8> queue;
  uint32_t accepted = 0;
  for (uint32_t v = 0; v < 12; ++v) {
    accepted += queue.push(v) ? 1u : 0u;
  }
  queue.add_missed(5);
  uint32_t popped[16] = {};
  uint32_t n = 0;
  for (int i = 0; i < 3 && queue.pop(&popped[n]); ++i) {
    ++n;
  }
  queue.push(100);
  queue.push(101);
  while (n < 16 && queue.pop(&popped[n])) {
    ++n;
  }
  bool ok = out.u32(accepted) && out.u32(queue.missed()) && out.u32(queue.size()) && out.u32(n);
  for (uint32_t i = 0; ok && i < n; ++i) {
    ok = out.u32(popped[i]);
  }
  return ok;
}

bool run_model(Writer& out) {
  const uintptr_t address = reinterpret_cast<uintptr_t>(g_model_data);
  return out.bytes(g_model_data, g_model_data_len) && out.u32(static_cast<uint32_t>(address % 16u));
}

}  // namespace

int main() {
  const int in_handle = hio::open(kInPath, false);
  if (in_handle < 0) {
    hio::log("harness: cannot open harness_in.bin");
    return 1;
  }
  const int out_handle = hio::open(kOutPath, true);
  if (out_handle < 0) {
    hio::close(in_handle);
    hio::log("harness: cannot create harness_out.bin");
    return 1;
  }
  Reader in(in_handle);
  Writer out(out_handle);
  uint32_t magic = 0;
  uint32_t mode = 0;
  bool ok = in.u32(&magic) && in.u32(&mode) && magic == kMagic;
  if (ok) {
    switch (mode) {
      case kWindows:
        ok = run_windows(in, out);
        break;
      case kPredict:
        ok = run_predict(in, out);
        break;
      case kQuantize:
        ok = run_quantize(in, out);
        break;
      case kQueue:
        ok = run_queue(out);
        break;
      case kModel:
        ok = run_model(out);
        break;
      default:
        ok = false;
        break;
    }
  }
  ok = out.flush() && ok;
  hio::close(in_handle);
  hio::close(out_handle);
  if (!ok) {
    hio::log("harness: bad or truncated harness_in.bin, or a failed write");
    return 1;
  }
  return 0;
}
