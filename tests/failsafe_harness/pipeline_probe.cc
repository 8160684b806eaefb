// pipeline_probe.cc - every har_pipeline.h entry point the firmware calls, instantiated with a generated
// sketch's edgekit_config.h and kept out of line, so that `-fstack-usage` reports what each costs on the
// target. tests/test_failsafe.py compiles it for a Cortex-M4F, reads the .su file and bounds the figures.
// Nothing here runs.

#include <stddef.h>
#include <stdint.h>

#include "edgekit_config.h"
#include "har_pipeline.h"

namespace edgekit_probe {

struct TimedSample {  // as edgekit_app.cpp queues them
  float board[edgekit::kNumAxes];
  uint32_t t_ms;
};

edgekit::WindowBuffer<edgekit_config::kWindow, edgekit_config::kHop> g_window;
edgekit::SpscQueue<TimedSample, edgekit_config::kQueueCapacity> g_queue;
int8_t g_input[edgekit_config::kInputSize];

}  // namespace edgekit_probe

using edgekit_probe::TimedSample;
using edgekit_probe::g_input;
using edgekit_probe::g_queue;
using edgekit_probe::g_window;

#define EDGEKIT_PROBE __attribute__((noinline, used))

EDGEKIT_PROBE edgekit::Sample probe_to_model_axes(const float (&board)[edgekit::kNumAxes]) {
  return edgekit::to_model_axes(board, edgekit_config::kPipeline);
}

EDGEKIT_PROBE bool probe_window_push(const edgekit::Sample& sample) { return g_window.push(sample); }

EDGEKIT_PROBE bool probe_window_fill_input() {
  return g_window.fill_input(g_input, edgekit_config::kInputSize, edgekit_config::kPipeline);
}

EDGEKIT_PROBE int8_t probe_normalize_quantize(float value, size_t axis) {
  const float n = edgekit::normalize(value, axis, edgekit_config::kPipeline);
  return edgekit::quantize(n, edgekit_config::kPipeline.input_scale, edgekit_config::kPipeline.input_zero_point);
}

EDGEKIT_PROBE edgekit::Prediction probe_predict(const int8_t* scores) {
  return edgekit::predict(scores, edgekit_config::kNumClasses, edgekit_config::kPipeline.output_scale,
                          edgekit_config::kPipeline.output_zero_point);
}

EDGEKIT_PROBE int32_t probe_max_abs_diff(const int8_t* a, const int8_t* b) {
  return edgekit::max_abs_diff(a, b, edgekit_config::kNumClasses);
}

EDGEKIT_PROBE bool probe_queue_push(const TimedSample& sample) { return g_queue.push(sample); }

EDGEKIT_PROBE bool probe_queue_pop(TimedSample* out) { return g_queue.pop(out); }
