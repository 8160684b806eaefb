// Declaration stub (see tests/firmware_stubs/README.md).
#pragma once
namespace tflite {
void InitializeTarget();
}
