// runtime_main.cpp - runs int8 windows through the firmware's own model code and TFLM runtime.
//
// edgekit's board-runtime parity rungs build this with the host compiler and, with the board's flags, for
// an emulated Cortex-M under QEMU. It links edgekit_model.cpp, model_data.cpp and the runtime tree exactly
// as the sketch has them. harness_in.bin -> harness_out.bin in the current directory:
//
//   in : u32 magic "EKR1", u32 mode, u32 n, then n x kInputSize int8 windows
//   out: u32 arena_used_bytes, u32 ops, u32 ticks_per_op_valid (1 on the emulator), then per mode
//     1 outputs: per window kNumClasses int8 scores and u32 ticks for Invoke(); then per op u32 total ticks
//     2 tensors: per window, per op: u32 byte count and the op's first output tensor (all tensors kept)
//
// Ticks come from hio::ticks() (SysTick under QEMU -icount, 0 on the host). Exit status 0 on success.

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "edgekit_model.h"
#include "harness_io.h"
#include "model_data.h"
// TFLM leaves parameters unused in its headers on purpose; edgekit's own code keeps every warning.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-parameter"
#include "src/tflm/tensorflow/lite/schema/schema_generated.h"
#pragma GCC diagnostic pop

namespace {

constexpr size_t kInputSize = EDGEKIT_HARNESS_INPUT_SIZE;
constexpr size_t kNumClasses = EDGEKIT_HARNESS_CLASSES;

constexpr uint32_t kMagic = 0x31524B45u;  // "EKR1" read as a little-endian u32
constexpr size_t kMaxOps = 64;
enum Mode : uint32_t { kOutputs = 1, kTensors = 2 };

// Generous: the harness measures what the model needs; the sketch's arena is sized from that figure.
alignas(16) uint8_t g_arena[EDGEKIT_HARNESS_ARENA_BYTES];

// Instruction ticks per op, accumulated over every Invoke().
class OpTicks : public tflite::MicroProfilerInterface {
 public:
  uint32_t BeginEvent(const char* tag) override {
    (void)tag;
    const uint32_t handle = static_cast<uint32_t>(next_ % kMaxOps);
    started_[handle] = hio::ticks();
    ++next_;
    return handle;
  }

  void EndEvent(uint32_t handle) override { total_[handle] += hio::ticks() - started_[handle]; }

  void start_invoke() { next_ = 0; }
  uint64_t total(size_t op) const { return total_[op]; }

  void operator delete(void*) {}  // no heap: this object is never deleted (TFLM does the same)

 private:
  size_t next_ = 0;
  uint64_t started_[kMaxOps] = {};
  uint64_t total_[kMaxOps] = {};
};

OpTicks g_op_ticks;

bool read_all(int handle, void* out, size_t n) {
  uint8_t* dst = static_cast<uint8_t*>(out);
  while (n > 0) {
    const long got = hio::read(handle, dst, n);
    if (got <= 0) {
      return false;
    }
    dst += got;
    n -= static_cast<size_t>(got);
  }
  return true;
}

bool write_u32(int handle, uint32_t value) {
  return hio::write(handle, &value, sizeof(value));
}

uint32_t clamp32(uint64_t value) {
  return value > 0xFFFFFFFFu ? 0xFFFFFFFFu : static_cast<uint32_t>(value);
}

bool run_outputs(int in, int out, uint32_t n, size_t ops) {
  tflite::MicroInterpreter& interpreter = edgekit_model::interpreter();
  int8_t* input = interpreter.input(0)->data.int8;
  const int8_t* output = interpreter.output(0)->data.int8;
  for (uint32_t i = 0; i < n; ++i) {
    if (!read_all(in, input, kInputSize)) {
      return false;
    }
    g_op_ticks.start_invoke();
    const uint64_t start = hio::ticks();
    if (interpreter.Invoke() != kTfLiteOk) {
      hio::log("harness: Invoke failed");
      return false;
    }
    const uint64_t elapsed = hio::ticks() - start;
    if (!hio::write(out, output, kNumClasses) || !write_u32(out, clamp32(elapsed))) {
      return false;
    }
  }
  for (size_t op = 0; op < ops; ++op) {
    if (!write_u32(out, clamp32(g_op_ticks.total(op)))) {
      return false;
    }
  }
  return true;
}

bool run_tensors(int in, int out, uint32_t n, size_t ops) {
  tflite::MicroInterpreter& interpreter = edgekit_model::interpreter();
  const tflite::Model* model = tflite::GetModel(g_model_data);
  const auto* operators = model->subgraphs()->Get(0)->operators();
  int8_t* input = interpreter.input(0)->data.int8;
  for (uint32_t i = 0; i < n; ++i) {
    if (!read_all(in, input, kInputSize) || interpreter.Invoke() != kTfLiteOk) {
      return false;
    }
    for (size_t op = 0; op < ops; ++op) {
      const int index = operators->Get(static_cast<uint32_t>(op))->outputs()->Get(0);
      const TfLiteEvalTensor* tensor = interpreter.GetTensor(index);
      size_t bytes = 1;
      for (int d = 0; tensor != nullptr && d < tensor->dims->size; ++d) {
        bytes *= static_cast<size_t>(tensor->dims->data[d]);
      }
      if (tensor == nullptr || !write_u32(out, static_cast<uint32_t>(bytes)) ||
          !hio::write(out, tensor->data.raw, bytes)) {
        return false;
      }
    }
  }
  return true;
}

}  // namespace

extern "C" void edgekit_debug_log(const char* text) {
  hio::log(text);
}

int main() {
  hio::ticks();  // start the instruction clock before anything is measured
  const int in = hio::open("harness_in.bin", false);
  const int out = in < 0 ? -1 : hio::open("harness_out.bin", true);
  uint32_t header[3] = {};
  if (in < 0 || out < 0 || !read_all(in, header, sizeof(header)) || header[0] != kMagic) {
    hio::log("harness: missing or bad harness_in.bin");
    return 1;
  }
  const bool keep_all = header[1] == kTensors;
  const char* error = edgekit_model::begin(g_arena, sizeof(g_arena), keep_all ? nullptr : &g_op_ticks, keep_all);
  if (error != nullptr) {
    hio::log(error);
    return 1;
  }
  tflite::MicroInterpreter& interpreter = edgekit_model::interpreter();
  const size_t ops = tflite::GetModel(g_model_data)->subgraphs()->Get(0)->operators()->size();
  bool ok = ops <= kMaxOps && write_u32(out, static_cast<uint32_t>(interpreter.arena_used_bytes())) &&
            write_u32(out, static_cast<uint32_t>(ops)) && write_u32(out, hio::ticks_available() ? 1u : 0u);
  if (ok && header[1] == kOutputs) {
    ok = run_outputs(in, out, header[2], ops);
  } else if (ok && keep_all) {
    ok = run_tensors(in, out, header[2], ops);
  } else {
    ok = false;
  }
  hio::close(in);
  hio::close(out);
  if (!ok) {
    hio::log("harness: bad or truncated harness_in.bin, or a failed write");
    return 1;
  }
  return 0;
}
