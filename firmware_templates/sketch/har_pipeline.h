// har_pipeline.h - from IMU samples to the model's int8 input, and from int8 scores to a label.
//
// Part of edgekit. Plain C++14: no Arduino, no TFLM, no heap, no exceptions. The firmware and the
// desktop test harness compile this same file, and the harness proves that it produces, value for
// value, the int8 windows edgekit's Python side feeds the desktop interpreters (edgekit.firmware.
// reference_int8_windows). Change the arithmetic here only together with that function.
//
// Per sample (in this order, all in float32, each operation rounded as IEEE-754 single precision):
//   board axes in IMU units -> * units_to_ms2 -> signed axis map (model axis i = +/- board axis k)
//   -> clip to [clip_low, clip_high] -> (v - mean) / std -> / input_scale
//   -> round to nearest, ties away from zero (TFLite's AffineQuantize rule) -> + zero_point
//   -> saturate to [-128, 127].
// There is deliberately no a * b + c anywhere on this path, so a compiler that fuses multiply-adds
// (GCC does by default in GNU mode) cannot make the board disagree with the desktop in the last bit.

#ifndef EDGEKIT_HAR_PIPELINE_H_
#define EDGEKIT_HAR_PIPELINE_H_

#include <stddef.h>
#include <stdint.h>

#include <atomic>

namespace edgekit {

constexpr size_t kNumAxes = 3;

// Where model axis i comes from: board axis `axis` (0 = x, 1 = y, 2 = z), negated if `negate`.
struct AxisSource {
  uint8_t axis;
  bool negate;
};

// Every number the pipeline needs; edgekit_config.h defines the instance for one model and board.
struct PipelineConfig {
  float units_to_ms2;  // 9.80665 for an IMU that reports g, 1 for one that reports m/s^2
  AxisSource axis_map[kNumAxes];
  float clip_low[kNumAxes];
  float clip_high[kNumAxes];
  float mean[kNumAxes];
  float std_dev[kNumAxes];
  float input_scale;
  int32_t input_zero_point;
  float output_scale;
  int32_t output_zero_point;
};

// One accelerometer sample in the model's axis order, m/s^2.
struct Sample {
  float v[kNumAxes];
};

// A board sample as the IMU library returns it -> a model-axis sample in m/s^2.
inline Sample to_model_axes(const float (&board)[kNumAxes], const PipelineConfig& cfg) {
  Sample out = {{0.0f, 0.0f, 0.0f}};
  for (size_t i = 0; i < kNumAxes; ++i) {
    const AxisSource src = cfg.axis_map[i];
    const size_t k = src.axis < kNumAxes ? src.axis : i;  // a bad map degrades to identity, never reads out of bounds
    const float ms2 = board[k] * cfg.units_to_ms2;
    out.v[i] = src.negate ? -ms2 : ms2;
  }
  return out;
}

// Clip to the training data's range, then standardise. NaN (a sensor glitch) becomes clip_low.
inline float normalize(float value, size_t axis, const PipelineConfig& cfg) {
  if (axis >= kNumAxes) {
    return 0.0f;
  }
  float v = value;
  if (!(v >= cfg.clip_low[axis])) {
    v = cfg.clip_low[axis];
  }
  if (v > cfg.clip_high[axis]) {
    v = cfg.clip_high[axis];
  }
  const float centred = v - cfg.mean[axis];
  return centred / cfg.std_dev[axis];
}

// float -> int8 exactly as edgekit.runtimes.quantize_input: clamp(round_half_away(x / scale) + zp).
inline int8_t quantize(float x, float scale, int32_t zero_point) {
  float q = x / scale;
  // Far outside int8 either way; bounding first keeps the float -> int conversion defined (and maps NaN low).
  if (!(q > -1024.0f)) {
    q = -1024.0f;
  }
  if (q > 1024.0f) {
    q = 1024.0f;
  }
  int32_t r = static_cast<int32_t>(q);  // truncates toward zero
  const float frac = q - static_cast<float>(r);  // exact: |q| < 2^23
  if (frac >= 0.5f) {
    ++r;
  } else if (frac <= -0.5f) {
    --r;
  }
  r += zero_point;
  if (r < -128) {
    r = -128;
  }
  if (r > 127) {
    r = 127;
  }
  return static_cast<int8_t>(r);
}

// The last kWindow samples, released every kHop new ones: the first window after kWindow samples,
// then one per kHop samples, each holding samples in time order - the same grid as the desktop's
// windowing of a continuous recording (starts 0, hop, 2*hop, ...).
template <size_t kWindow, size_t kHop>
class WindowBuffer {
  static_assert(kWindow > 0, "window must hold at least one sample");
  static_assert(kHop > 0 && kHop <= kWindow, "hop must be between 1 and the window length");

 public:
  static constexpr size_t kInputSize = kWindow * kNumAxes;

  void reset() {
    next_ = 0;
    filled_ = 0;
    since_window_ = 0;
    emitted_ = false;
  }

  // Stores one sample; true when a window is ready for fill_input().
  bool push(const Sample& sample) {
    ring_[next_] = sample;
    next_ = (next_ + 1 < kWindow) ? next_ + 1 : 0;
    if (filled_ < kWindow) {
      ++filled_;
    }
    if (since_window_ < kHop) {
      ++since_window_;
    }
    return ready();
  }

  bool ready() const { return filled_ == kWindow && (!emitted_ || since_window_ >= kHop); }

  size_t filled() const { return filled_; }

  // Writes the window oldest-first as (t0x, t0y, t0z, t1x, ...), normalised and quantised, and
  // starts counting towards the next one. False (and nothing written) if not ready or out_len is short.
  bool fill_input(int8_t* out, size_t out_len, const PipelineConfig& cfg) {
    if (out == nullptr || out_len < kInputSize || !ready()) {
      return false;
    }
    size_t slot = next_;  // once full, the next slot to write holds the oldest sample
    for (size_t t = 0; t < kWindow; ++t) {
      for (size_t a = 0; a < kNumAxes; ++a) {
        const float n = normalize(ring_[slot].v[a], a, cfg);
        out[t * kNumAxes + a] = quantize(n, cfg.input_scale, cfg.input_zero_point);
      }
      slot = (slot + 1 < kWindow) ? slot + 1 : 0;
    }
    emitted_ = true;
    since_window_ = 0;
    return true;
  }

 private:
  Sample ring_[kWindow] = {};
  size_t next_ = 0;
  size_t filled_ = 0;
  size_t since_window_ = 0;
  bool emitted_ = false;
};

// Top class and its dequantised score. Ties go to the lower index, like numpy.argmax.
struct Prediction {
  size_t index;
  float confidence;
};

inline Prediction predict(const int8_t* scores, size_t n, float scale, int32_t zero_point) {
  Prediction p = {0, 0.0f};
  if (scores == nullptr || n == 0) {
    return p;
  }
  int8_t best = scores[0];
  for (size_t i = 1; i < n; ++i) {
    if (scores[i] > best) {
      best = scores[i];
      p.index = i;
    }
  }
  const float steps = static_cast<float>(best) - static_cast<float>(zero_point);
  float confidence = steps * scale;
  if (!(confidence >= 0.0f)) {
    confidence = 0.0f;
  }
  if (confidence > 1.0f) {
    confidence = 1.0f;
  }
  p.confidence = confidence;
  return p;
}

// Largest |a[i] - b[i]| of two int8 vectors (the self-test's comparison against desktop outputs).
inline int32_t max_abs_diff(const int8_t* a, const int8_t* b, size_t n) {
  int32_t worst = 0;
  for (size_t i = 0; i < n; ++i) {
    int32_t d = static_cast<int32_t>(a[i]) - static_cast<int32_t>(b[i]);
    if (d < 0) {
      d = -d;
    }
    if (d > worst) {
      worst = d;
    }
  }
  return worst;
}

// Lock-free queue between exactly one producer (the sampling thread or ISR) and one consumer (loop()).
// Only atomic loads and stores are used - no read-modify-write - so it also works on Cortex-M0+,
// which has no exclusive-access instructions. A push into a full queue is dropped and counted.
template <typename T, size_t kCapacity>
class SpscQueue {
  static_assert(kCapacity >= 2 && (kCapacity & (kCapacity - 1)) == 0, "capacity must be a power of two");

 public:
  // Producer side.
  bool push(const T& item) {
    const uint32_t head = head_.load(std::memory_order_relaxed);
    const uint32_t tail = tail_.load(std::memory_order_acquire);
    if (head - tail >= kCapacity) {
      add_missed(1);
      return false;
    }
    items_[head & (kCapacity - 1)] = item;
    head_.store(head + 1, std::memory_order_release);
    return true;
  }

  // Producer side: samples that were never taken (a late tick) count as missed too.
  void add_missed(uint32_t n) {
    missed_.store(missed_.load(std::memory_order_relaxed) + n, std::memory_order_release);
  }

  // Consumer side.
  bool pop(T* out) {
    const uint32_t tail = tail_.load(std::memory_order_relaxed);
    const uint32_t head = head_.load(std::memory_order_acquire);
    if (out == nullptr || head == tail) {
      return false;
    }
    *out = items_[tail & (kCapacity - 1)];
    tail_.store(tail + 1, std::memory_order_release);
    return true;
  }

  // Either side.
  uint32_t missed() const { return missed_.load(std::memory_order_acquire); }
  uint32_t size() const {
    return head_.load(std::memory_order_acquire) - tail_.load(std::memory_order_acquire);
  }

 private:
  T items_[kCapacity] = {};
  std::atomic<uint32_t> head_{0};
  std::atomic<uint32_t> tail_{0};
  std::atomic<uint32_t> missed_{0};
};

}  // namespace edgekit

#endif  // EDGEKIT_HAR_PIPELINE_H_
