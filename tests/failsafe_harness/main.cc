// main.cc - runs a generated sketch's setup() and loop() on the desktop with one fault injected, so
// tests/test_failsafe.py can check that a start-up failure leaves the board reporting EK,ERROR (and
// never predicting) and that the fault-free run does predict.
//
// usage: failsafe_harness <fault> <run_ms>
//   fault: ok | imu | schema | op | alloc | input-type | output-shape | quant | thread | invoke | gap
//   (gap is no start-up fault: the IMU fails to read during a short and a long gap in the samples, and
//   every sample taken and every Invoke() after start-up is logged on stderr as "S <ms>" / "I <ms>")
//   run_ms: simulated milliseconds to run loop() for
//
// The generated edgekit_app.cpp and edgekit_model.cpp are compiled against the declaration stubs in
// tests/firmware_stubs (the Arduino core, mbed RTOS, the IMU library, and in tflm/ the TFLM API that
// edgekit_model.cpp uses, standing in for the sketch's src/tflm); this file gives those declarations bodies. Time is simulated and runs in lock step: delay() advances it 1 ms at a time
// and, once the sampling thread (a real std::thread running the firmware's sampler_main) is due, waits
// until that thread has taken its sample and gone back to sleep_until(), as the higher-priority RTOS
// thread would have on the board. The interpreter is a stand-in whose tensors match edgekit_config.h
// unless a fault says otherwise; Invoke() scores class 0 highest.

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "Arduino.h"
#include "Arduino_LSM9DS1.h"
#include "edgekit_config.h"
#include "mbed.h"
#include "tflm/tensorflow/lite/micro/micro_interpreter.h"
#include "tflm/tensorflow/lite/micro/micro_mutable_op_resolver.h"
#include "tflm/tensorflow/lite/schema/schema_generated.h"

void setup();
void loop();

SerialStub Serial;
LSM9DS1Class IMU_LSM9DS1;

namespace {

enum Fault { kOk, kImu, kSchema, kOp, kAlloc, kInputType, kOutputShape, kQuant, kThread, kInvoke, kGap };

struct FaultName {
  const char* name;
  Fault fault;
};

constexpr FaultName kFaults[] = {
    {"ok", kOk},         {"imu", kImu},     {"schema", kSchema}, {"op", kOp},          {"alloc", kAlloc},
    {"input-type", kInputType}, {"output-shape", kOutputShape}, {"quant", kQuant}, {"thread", kThread},
    {"invoke", kInvoke}, {"gap", kGap},
};
// kGap: [from, to) simulated ms in which every IMU read fails, one gap under the desktop's 1 s and one over.
constexpr uint32_t kGaps[][2] = {{13000, 13600}, {20000, 21500}};

bool in_gap(uint32_t now) {
  for (const auto& gap : kGaps) {
    if (now >= gap[0] && now < gap[1]) {
      return true;
    }
  }
  return false;
}

Fault g_fault = kOk;
std::atomic<uint32_t> g_now_ms{0};
std::atomic<bool> g_sampler_running{false};
std::atomic<uint32_t> g_sampler_wakes_at{0};  // set by the sampling thread as it goes to sleep
void (*g_task)() = nullptr;

int8_t g_input_data[edgekit_config::kInputSize];
int8_t g_output_data[edgekit_config::kNumClasses];
TfLiteIntArray g_input_dims = {2, {1, static_cast<int>(edgekit_config::kInputSize), 0, 0}};
TfLiteIntArray g_output_dims = {2, {1, static_cast<int>(edgekit_config::kNumClasses), 0, 0}};
TfLiteTensor g_input_tensor;
TfLiteTensor g_output_tensor;
tflite::Model g_model_object;

bool parse_fault(const char* text) {
  for (const FaultName& f : kFaults) {
    if (strcmp(text, f.name) == 0) {
      g_fault = f.fault;
      return true;
    }
  }
  return false;
}

void make_tensors() {
  g_input_tensor.type = g_fault == kInputType ? kTfLiteFloat32 : kTfLiteInt8;
  g_input_tensor.data.int8 = g_input_data;
  g_input_tensor.dims = &g_input_dims;
  g_input_tensor.params.scale = edgekit_config::kPipeline.input_scale;
  g_input_tensor.params.zero_point = edgekit_config::kPipeline.input_zero_point;
  g_output_tensor.type = kTfLiteInt8;
  g_output_tensor.data.int8 = g_output_data;
  g_output_tensor.dims = &g_output_dims;
  g_output_tensor.params.scale = edgekit_config::kPipeline.output_scale;
  g_output_tensor.params.zero_point = edgekit_config::kPipeline.output_zero_point;
  if (g_fault == kOutputShape) {
    g_output_dims.data[1] = static_cast<int>(edgekit_config::kNumClasses) + 1;
  }
  if (g_fault == kQuant) {
    g_input_tensor.params.zero_point += 1;
  }
}

}  // namespace

namespace edgekit_failsafe {
TfLiteStatus op_status() { return g_fault == kOp ? kTfLiteError : kTfLiteOk; }
}  // namespace edgekit_failsafe

// ------------------------------------------------------------------ Arduino core

unsigned long millis(void) { return g_now_ms.load(); }
unsigned long micros(void) { return g_now_ms.load() * 1000ul; }
void delay(unsigned long ms) {
  for (unsigned long i = 0; i < ms; ++i) {
    const uint32_t now = g_now_ms.fetch_add(1) + 1;
    while (g_sampler_running.load() && g_sampler_wakes_at.load() <= now) {
      std::this_thread::yield();  // the sampler is due: let it run first, as its priority would
    }
  }
}
void pinMode(pin_size_t pin, PinMode mode) {
  (void)pin;
  (void)mode;
}
void digitalWrite(pin_size_t pin, PinStatus value) {
  (void)pin;
  (void)value;
}

void SerialStub::begin(unsigned long baud) { (void)baud; }
SerialStub::operator bool() { return true; }
int SerialStub::available() { return 0; }
int SerialStub::read() { return -1; }
size_t SerialStub::print(const char text[]) { return static_cast<size_t>(printf("%s", text)); }
size_t SerialStub::print(char c) { return static_cast<size_t>(printf("%c", c)); }
size_t SerialStub::print(int value, int base) { return print(static_cast<long>(value), base); }
size_t SerialStub::print(unsigned int value, int base) { return print(static_cast<unsigned long>(value), base); }
size_t SerialStub::print(long value, int base) {
  (void)base;
  return static_cast<size_t>(printf("%ld", value));
}
size_t SerialStub::print(unsigned long value, int base) {
  (void)base;
  return static_cast<size_t>(printf("%lu", value));
}
size_t SerialStub::print(double value, int digits) { return static_cast<size_t>(printf("%.*f", digits, value)); }

// ------------------------------------------------------------------ IMU (board at rest, upright)

int LSM9DS1Class::begin() { return g_fault == kImu ? 0 : 1; }
int LSM9DS1Class::readAcceleration(float& x, float& y, float& z) {
  x = 1.0f;
  y = 0.0f;
  z = 0.0f;
  if (g_fault != kGap) {
    return 1;
  }
  const uint32_t now = g_now_ms.load();
  if (in_gap(now)) {
    return 0;
  }
  fprintf(stderr, "S %u\n", now);
  return 1;
}
float LSM9DS1Class::accelerationSampleRate() { return 119.0f; }

// ------------------------------------------------------------------ mbed RTOS

namespace mbed {
Callback<void()>::Callback(void (*func)()) { g_task = func; }
Callback<void()> callback(void (*func)()) { return Callback<void()>(func); }
}  // namespace mbed

namespace rtos {
Kernel::Clock::time_point Kernel::Clock::now() {
  return time_point(std::chrono::milliseconds(g_now_ms.load()));
}

void ThisThread::sleep_until(Kernel::Clock::time_point abs_time) {
  const auto until = static_cast<uint32_t>(abs_time.time_since_epoch().count());
  g_sampler_wakes_at.store(until);
  while (g_now_ms.load() < until) {
    std::this_thread::yield();
  }
}

Thread::Thread(osPriority priority, uint32_t stack_size, unsigned char* stack_mem, const char* name) {
  (void)priority;
  (void)stack_size;
  (void)stack_mem;
  (void)name;
}

osStatus Thread::start(mbed::Callback<void()> task) {
  (void)task;
  if (g_fault == kThread || g_task == nullptr) {
    return -1;
  }
  g_sampler_running.store(true);
  std::thread(g_task).detach();
  return osOK;
}
}  // namespace rtos

// ------------------------------------------------------------------ TFLM

namespace tflite {
#define EDGEKIT_STUB_REGISTRATION(name) \
  TFLMRegistration name() { return TFLMRegistration{0}; }
EDGEKIT_STUB_REGISTRATION(Register_CONV_2D_INT8)
EDGEKIT_STUB_REGISTRATION(Register_DEPTHWISE_CONV_2D_INT8)
EDGEKIT_STUB_REGISTRATION(Register_FULLY_CONNECTED_INT8)
EDGEKIT_STUB_REGISTRATION(Register_MAX_POOL_2D_INT8)
EDGEKIT_STUB_REGISTRATION(Register_AVERAGE_POOL_2D_INT8)
EDGEKIT_STUB_REGISTRATION(Register_SOFTMAX_INT8)
EDGEKIT_STUB_REGISTRATION(Register_MEAN)
EDGEKIT_STUB_REGISTRATION(Register_RESHAPE)
#undef EDGEKIT_STUB_REGISTRATION

uint32_t Model::version() const { return g_fault == kSchema ? TFLITE_SCHEMA_VERSION + 1 : TFLITE_SCHEMA_VERSION; }

const Model* GetModel(const void* buf) {
  (void)buf;
  return &g_model_object;
}

MicroInterpreter::MicroInterpreter(const Model* model, const MicroOpResolver& op_resolver, uint8_t* tensor_arena,
                                   size_t tensor_arena_size, MicroResourceVariables* resource_variables,
                                   MicroProfilerInterface* profiler, bool preserve_all_tensors) {
  (void)preserve_all_tensors;
  (void)model;
  (void)op_resolver;
  (void)resource_variables;
  (void)profiler;
  memset(tensor_arena, 0, tensor_arena_size);  // the whole arena must be addressable
}

TfLiteStatus MicroInterpreter::AllocateTensors() { return g_fault == kAlloc ? kTfLiteError : kTfLiteOk; }

TfLiteStatus MicroInterpreter::Invoke() {
  if (g_fault == kInvoke) {
    return kTfLiteError;
  }
  if (g_fault == kGap && g_sampler_running.load()) {  // after start-up: the self-test's calls are not logged
    fprintf(stderr, "I %u\n", g_now_ms.load());
  }
  const int32_t zero_point = edgekit_config::kPipeline.output_zero_point;
  for (size_t i = 0; i < edgekit_config::kNumClasses; ++i) {
    const int32_t score = zero_point + (i == 0 ? 100 : 1);
    g_output_data[i] = static_cast<int8_t>(score > 127 ? 127 : score);
  }
  return kTfLiteOk;
}

TfLiteTensor* MicroInterpreter::input(size_t index) { return index == 0 ? &g_input_tensor : nullptr; }
size_t MicroInterpreter::inputs_size() const { return 1; }
TfLiteTensor* MicroInterpreter::output(size_t index) { return index == 0 ? &g_output_tensor : nullptr; }
size_t MicroInterpreter::outputs_size() const { return 1; }
size_t MicroInterpreter::arena_used_bytes() const { return edgekit_config::kArenaBytes / 2; }
}  // namespace tflite

// ------------------------------------------------------------------ the run

int main(int argc, char** argv) {
  if (argc != 3 || !parse_fault(argv[1])) {
    fprintf(stderr, "usage: %s <ok|imu|schema|op|alloc|input-type|output-shape|quant|thread|invoke|gap> <run_ms>\n",
            argv[0]);
    return 2;
  }
  const unsigned long run_ms = strtoul(argv[2], nullptr, 10);
  make_tensors();
  setup();
  while (millis() < run_ms) {
    loop();
  }
  fflush(stdout);
  _exit(0);  // the sampling thread never returns, as on the board
}
