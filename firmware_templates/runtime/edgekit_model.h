// edgekit_model.h - the model on TensorFlow Lite Micro: start-up checks and the interpreter.
//
// Shared, unchanged, by the sketch (edgekit_app.cpp) and by edgekit's parity harness, which compiles this
// file with the host compiler and, with the board's flags, for an emulated Cortex-M: the code the desktop
// checks is the code the board runs.

#ifndef EDGEKIT_MODEL_H_
#define EDGEKIT_MODEL_H_

#include <stddef.h>
#include <stdint.h>

// TFLM leaves parameters unused in its headers on purpose; edgekit's own code keeps every warning.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-parameter"
#include "src/tflm/tensorflow/lite/micro/micro_interpreter.h"
#include "src/tflm/tensorflow/lite/micro/micro_profiler_interface.h"
#pragma GCC diagnostic pop

namespace edgekit_model {

// Registers the model's ops, allocates its tensors in `arena` and checks the schema version, input and
// output types, shapes and quantization against the model edgekit generated this file for. Returns nullptr on success, otherwise
// a message for the EK,ERROR line. Call once.
const char* begin(uint8_t* arena, size_t arena_bytes, tflite::MicroProfilerInterface* profiler,
                  bool preserve_all_tensors);

// The interpreter begin() started; only valid after it returned nullptr.
tflite::MicroInterpreter& interpreter();

}  // namespace edgekit_model

#endif  // EDGEKIT_MODEL_H_
