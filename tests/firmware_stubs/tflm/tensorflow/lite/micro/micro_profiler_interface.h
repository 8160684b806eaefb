// Declaration stub of tflite::MicroProfilerInterface (TFLM 90b983c2b), for the fail-safe harness only.
#pragma once
#include <stdint.h>

namespace tflite {
class MicroProfilerInterface {
 public:
  virtual uint32_t BeginEvent(const char* tag) = 0;
  virtual void EndEvent(uint32_t event_handle) = 0;
};
}  // namespace tflite
