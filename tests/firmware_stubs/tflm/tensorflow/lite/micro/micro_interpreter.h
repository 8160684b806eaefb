// Declaration stub of tflite::MicroInterpreter (TFLM 90b983c2b) for the fail-safe harness only: it stands in for the
// sketch's src/tflm so tests/failsafe_harness/main.cc can inject start-up faults (see tests/firmware_stubs/README.md).
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "../c/common.h"
#include "../schema/schema_generated.h"
#include "micro_profiler_interface.h"

#define TFLITE_SCHEMA_VERSION (3)

namespace tflite {
class MicroOpResolver {};
class MicroResourceVariables;

class MicroInterpreter {
 public:
  MicroInterpreter(const Model* model, const MicroOpResolver& op_resolver, uint8_t* tensor_arena,
                   size_t tensor_arena_size, MicroResourceVariables* resource_variables = nullptr,
                   MicroProfilerInterface* profiler = nullptr, bool preserve_all_tensors = false);
  TfLiteStatus AllocateTensors();
  TfLiteStatus Invoke();
  TfLiteTensor* input(size_t index);
  size_t inputs_size() const;
  TfLiteTensor* output(size_t index);
  size_t outputs_size() const;
  size_t arena_used_bytes() const;
};
}  // namespace tflite
