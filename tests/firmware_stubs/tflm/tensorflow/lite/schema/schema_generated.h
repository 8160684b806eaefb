// Declaration stub of the flatbuffer Model accessors edgekit_app.cpp uses (see tests/firmware_stubs/README.md).
#pragma once
#include <stdint.h>

namespace tflite {
struct Model {
  uint32_t version() const;
};
const Model* GetModel(const void* buf);
}  // namespace tflite
