// Declaration stub of tflite::MicroInterpreter as in Chirale_TensorFLowLite 2.0.0 (see tests/firmware_stubs/README.md).
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "tensorflow/lite/c/common.h"
#include "tensorflow/lite/schema/schema_generated.h"

#define TFLITE_SCHEMA_VERSION (3)

namespace tflite {
class MicroOpResolver {};
class MicroResourceVariables;
class MicroProfilerInterface;

class MicroInterpreter {
 public:
  MicroInterpreter(const Model* model, const MicroOpResolver& op_resolver, uint8_t* tensor_arena,
                   size_t tensor_arena_size, MicroResourceVariables* resource_variables = nullptr,
                   MicroProfilerInterface* profiler = nullptr);
  TfLiteStatus AllocateTensors();
  TfLiteStatus Invoke();
  TfLiteTensor* input(size_t index);
  size_t inputs_size() const;
  TfLiteTensor* output(size_t index);
  size_t outputs_size() const;
  size_t arena_used_bytes() const;
};
}  // namespace tflite
