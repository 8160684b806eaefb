// pipeline_edges.cc - har_pipeline.h at its edges, built with -fsanitize=address,undefined by
// tests/test_failsafe.py: odd window/hop shapes, non-finite and extreme samples, a corrupt axis map,
// short or missing output buffers, empty score vectors and a full queue. Every index the header
// computes must stay in bounds (the sanitizers abort otherwise) and every result must be the
// documented one (checked here). Prints "ok <checks>" and exits 0, or names the first failed check.

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "har_pipeline.h"

namespace {

int g_checks = 0;
int g_failures = 0;

void check(bool ok, const char* what, int line) {
  ++g_checks;
  if (!ok) {
    ++g_failures;
    printf("FAILED line %d: %s\n", line, what);
  }
}

#define CHECK(cond) check((cond), #cond, __LINE__)

edgekit::PipelineConfig config() {
  edgekit::PipelineConfig cfg = {
      9.80665f,
      {{1, true}, {0, false}, {2, false}},
      {-20.0f, -20.0f, -20.0f},
      {20.0f, 20.0f, 20.0f},
      {0.5f, 9.0f, -0.25f},
      {4.0f, 5.0f, 3.0f},
      0.05f,
      -3,
      1.0f / 256.0f,
      -128,
  };
  return cfg;
}

edgekit::Sample sample(float x, float y, float z) {
  edgekit::Sample s = {{x, y, z}};
  return s;
}

// Streams n samples (value = index) and checks every released window is the last kWindow samples,
// oldest first, released on the grid 0, hop, 2 hop, ... like the desktop windows a recording.
template <size_t kWindow, size_t kHop>
void window_grid(size_t n) {
  edgekit::PipelineConfig cfg = config();
  cfg.clip_low[0] = cfg.clip_low[1] = cfg.clip_low[2] = -1e9f;
  cfg.clip_high[0] = cfg.clip_high[1] = cfg.clip_high[2] = 1e9f;
  cfg.mean[0] = cfg.mean[1] = cfg.mean[2] = 0.0f;
  cfg.std_dev[0] = cfg.std_dev[1] = cfg.std_dev[2] = 1.0f;
  cfg.input_scale = 1.0f;
  cfg.input_zero_point = -128;
  edgekit::WindowBuffer<kWindow, kHop> buffer;
  int8_t out[kWindow * edgekit::kNumAxes + 1];
  size_t windows = 0;
  for (size_t i = 0; i < n; ++i) {
    const float v = static_cast<float>(i % 200);
    if (buffer.push(sample(v, v, v))) {
      memset(out, 0x55, sizeof(out));
      CHECK(buffer.fill_input(out, kWindow * edgekit::kNumAxes, cfg));
      CHECK(out[kWindow * edgekit::kNumAxes] == 0x55);  // nothing written past out_len
      const size_t start = i + 1 - kWindow;
      CHECK(start == windows * kHop);
      CHECK(out[0] == static_cast<int8_t>(static_cast<int>(start % 200) - 128));
      CHECK(out[(kWindow - 1) * edgekit::kNumAxes + 2] == static_cast<int8_t>(static_cast<int>(i % 200) - 128));
      ++windows;
      CHECK(!buffer.ready());  // the next window needs kHop new samples
    }
  }
  const size_t expected = n >= kWindow ? (n - kWindow) / kHop + 1 : 0;
  CHECK(windows == expected);
}

void window_shapes() {
  window_grid<1, 1>(10);
  window_grid<5, 5>(23);
  window_grid<5, 1>(23);
  window_grid<7, 3>(40);
  window_grid<80, 40>(1000);
  window_grid<80, 80>(79);
}

void fill_input_refuses_bad_buffers() {
  const edgekit::PipelineConfig cfg = config();
  edgekit::WindowBuffer<4, 2> buffer;
  int8_t out[12];
  memset(out, 0x11, sizeof(out));
  CHECK(!buffer.fill_input(out, sizeof(out), cfg));  // not ready yet
  for (int i = 0; i < 4; ++i) {
    buffer.push(sample(1.0f, 2.0f, 3.0f));
  }
  CHECK(buffer.ready());
  CHECK(!buffer.fill_input(nullptr, sizeof(out), cfg));
  CHECK(!buffer.fill_input(out, sizeof(out) - 1, cfg));  // one byte short: nothing written
  CHECK(out[0] == 0x11 && out[11] == 0x11);
  CHECK(buffer.fill_input(out, sizeof(out), cfg));
  CHECK(!buffer.fill_input(out, sizeof(out), cfg));  // a window is released once
  buffer.reset();
  CHECK(buffer.filled() == 0 && !buffer.ready());
}

void non_finite_and_extreme_samples() {
  const edgekit::PipelineConfig cfg = config();
  const float specials[] = {NAN, -NAN, INFINITY, -INFINITY, FLT_MAX, -FLT_MAX, FLT_MIN, -FLT_MIN, 1e-45f, 0.0f, -0.0f};
  const int8_t low = edgekit::quantize(edgekit::normalize(-20.0f, 0, cfg), cfg.input_scale, cfg.input_zero_point);
  for (float v : specials) {
    for (size_t axis = 0; axis < edgekit::kNumAxes; ++axis) {
      const float n = edgekit::normalize(v, axis, cfg);
      CHECK(isfinite(n));  // clipped first: never inf or NaN into the model
      const int8_t q = edgekit::quantize(n, cfg.input_scale, cfg.input_zero_point);
      if (isnan(v) && axis == 0) {
        CHECK(q == low);  // NaN (a sensor glitch) becomes the lower clip bound
      }
    }
    const float board[edgekit::kNumAxes] = {v, v, v};
    const edgekit::Sample m = edgekit::to_model_axes(board, cfg);
    CHECK(isnan(v) ? isnan(m.v[0]) : true);
  }
  const float quotients[] = {NAN, INFINITY, -INFINITY, FLT_MAX, -FLT_MAX, 1e10f, -1e10f, 127.5f, -128.5f};
  for (float x : quotients) {
    const int8_t q = edgekit::quantize(x, 1.0f, 0);  // defined for every float, saturating
    CHECK(q >= -128 && q <= 127);
  }
  CHECK(edgekit::quantize(NAN, 1.0f, 0) == -128);
  CHECK(edgekit::quantize(INFINITY, 1.0f, 0) == 127);
  CHECK(edgekit::quantize(2.5f, 1.0f, 0) == 3 && edgekit::quantize(-2.5f, 1.0f, 0) == -3);  // ties away from 0
  CHECK(edgekit::quantize(0.0f, 1.0f, 1000) == 127 && edgekit::quantize(0.0f, 1.0f, -1000) == -128);
}

void corrupt_axis_map_stays_in_bounds() {
  edgekit::PipelineConfig cfg = config();
  cfg.axis_map[0].axis = 3;
  cfg.axis_map[1].axis = 255;
  const float board[edgekit::kNumAxes] = {1.0f, 2.0f, 4.0f};
  const edgekit::Sample m = edgekit::to_model_axes(board, cfg);
  CHECK(m.v[0] == -board[0] * cfg.units_to_ms2);  // degrades to identity (negation kept), never reads board[3]
  CHECK(m.v[1] == board[1] * cfg.units_to_ms2);
  CHECK(m.v[2] == board[2] * cfg.units_to_ms2);
  CHECK(edgekit::normalize(5.0f, 3, cfg) == 0.0f && edgekit::normalize(5.0f, 1000, cfg) == 0.0f);
}

void predictions_at_the_edges() {
  const edgekit::Prediction none = edgekit::predict(nullptr, 6, 0.1f, 0);
  CHECK(none.index == 0 && none.confidence == 0.0f);
  const int8_t scores[6] = {-128, 5, 5, -7, 127, 127};
  CHECK(edgekit::predict(scores, 0, 0.1f, 0).index == 0);
  const edgekit::Prediction tie = edgekit::predict(scores, 6, 1.0f / 256.0f, -128);
  CHECK(tie.index == 4 && tie.confidence <= 1.0f && tie.confidence >= 0.0f);  // lower index wins a tie
  CHECK(edgekit::predict(scores, 1, 1.0f / 256.0f, -128).confidence == 0.0f);
  CHECK(edgekit::predict(scores, 6, 1000.0f, -128).confidence == 1.0f);  // clamped
  CHECK(edgekit::predict(scores, 6, NAN, -128).confidence == 0.0f);
  const int8_t lo[2] = {-128, 127};
  const int8_t hi[2] = {127, -128};
  CHECK(edgekit::max_abs_diff(lo, hi, 2) == 255 && edgekit::max_abs_diff(lo, hi, 0) == 0);
}

void queue_full_and_empty() {
  edgekit::SpscQueue<int, 2> queue;
  int out = -1;
  CHECK(!queue.pop(&out) && out == -1);
  CHECK(queue.push(1) && queue.push(2) && !queue.push(3));
  CHECK(queue.missed() == 1 && queue.size() == 2);
  CHECK(!queue.pop(nullptr) && queue.size() == 2);
  CHECK(queue.pop(&out) && out == 1 && queue.push(4));
  CHECK(queue.pop(&out) && out == 2 && queue.pop(&out) && out == 4 && !queue.pop(&out));
  for (int i = 0; i < 1000; ++i) {  // many laps around the ring
    CHECK(queue.push(i) && queue.pop(&out) && out == i);
  }
  queue.add_missed(0xFFFFFFFFu);  // the counter wraps like the board's, without UB
  CHECK(queue.missed() == 0u);
}

}  // namespace

int main() {
  window_shapes();
  fill_input_refuses_bad_buffers();
  non_finite_and_extreme_samples();
  corrupt_axis_map_stays_in_bounds();
  predictions_at_the_edges();
  queue_full_and_empty();
  if (g_failures != 0) {
    printf("%d of %d checks failed\n", g_failures, g_checks);
    return 1;
  }
  printf("ok %d\n", g_checks);
  return 0;
}
