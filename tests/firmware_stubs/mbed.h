// Declaration stub of the mbed OS 6 RTOS API used by edgekit_app.cpp (see README.md).
#pragma once
#include <stdint.h>

#include <chrono>

typedef enum { osPriorityNormal = 24, osPriorityAboveNormal = 32 } osPriority;
typedef int32_t osStatus;
#define osOK 0

namespace mbed {
template <typename F>
class Callback;
template <>
class Callback<void()> {
 public:
  Callback(void (*func)());  // NOLINT: implicit like mbed's
};
Callback<void()> callback(void (*func)());
}  // namespace mbed

namespace rtos {
namespace Kernel {
struct Clock {
  Clock() = delete;
  using duration = std::chrono::milliseconds;
  using rep = duration::rep;
  using period = duration::period;
  using time_point = std::chrono::time_point<Clock>;
  static constexpr bool is_steady = true;
  static time_point now();
};
}  // namespace Kernel

namespace ThisThread {
void sleep_until(Kernel::Clock::time_point abs_time);
}

class Thread {
 public:
  Thread(osPriority priority = osPriorityNormal, uint32_t stack_size = 4096, unsigned char* stack_mem = nullptr,
         const char* name = nullptr);
  osStatus start(mbed::Callback<void()> task);
};
}  // namespace rtos
