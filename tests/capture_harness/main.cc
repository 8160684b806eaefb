// main.cc - runs a sketch's setup() and loop() on the desktop against a scripted clock, host and IMU.
//
// usage: capture_harness <imu_present 0|1> <run_ms> <connect_at_ms> <stall_at_ms> <stall_ms> <fail_read_n>
// Each loop() pass takes 1 ms of simulated time. At stall_at_ms the clock jumps by stall_ms once (USB
// blocked loop()), and read number fail_read_n (1-based; 0 for none) of the IMU fails. The IMU always
// reports board axes (0.5, -1.0, 0.25) in the library's units. Serial output goes to stdout.

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "Arduino.h"
#include STUB_IMU_HEADER

void setup();
void loop();

STUB_IMU_CLASS IMU;
HostSerial Serial;

namespace {

uint32_t g_now_ms = 0;
uint32_t g_connect_at_ms = 0;
bool g_imu_present = true;
long g_reads = 0;
long g_fail_read = 0;

long arg(char** argv, int i) { return strtol(argv[i], nullptr, 10); }

}  // namespace

namespace edgekit_test {

int imu_begin() { return g_imu_present ? 1 : 0; }

int imu_read(float& x, float& y, float& z) {
  ++g_reads;
  if (g_reads == g_fail_read) {
    return 0;
  }
  x = 0.5f;
  y = -1.0f;
  z = 0.25f;
  return 1;
}

}  // namespace edgekit_test

uint32_t millis() { return g_now_ms; }

void delay(unsigned long ms) { g_now_ms += static_cast<uint32_t>(ms); }

void HostSerial::begin(unsigned long baud) { (void)baud; }

HostSerial::operator bool() const { return g_now_ms >= g_connect_at_ms; }

int HostSerial::available() { return 0; }

int HostSerial::read() { return -1; }

size_t HostSerial::print(const char* text) { return static_cast<size_t>(printf("%s", text)); }

size_t HostSerial::print(char c) { return static_cast<size_t>(printf("%c", c)); }

size_t HostSerial::print(int value) { return print(static_cast<long>(value)); }

size_t HostSerial::print(unsigned int value) { return print(static_cast<unsigned long>(value)); }

size_t HostSerial::print(long value) { return static_cast<size_t>(printf("%ld", value)); }

size_t HostSerial::print(unsigned long value) { return static_cast<size_t>(printf("%lu", value)); }

// Print::printFloat's algorithm: round half up at the last digit, then emit digit by digit.
size_t HostSerial::print(double value, int digits) {
  if (isnan(value)) {
    return print("nan");
  }
  size_t n = 0;
  if (value < 0.0) {
    n += print('-');
    value = -value;
  }
  double rounding = 0.5;
  for (int i = 0; i < digits; ++i) {
    rounding /= 10.0;
  }
  value += rounding;
  const unsigned long whole = static_cast<unsigned long>(value);
  double rest = value - static_cast<double>(whole);
  n += print(whole);
  if (digits > 0) {
    n += print('.');
  }
  for (int i = 0; i < digits; ++i) {
    rest *= 10.0;
    const unsigned int digit = static_cast<unsigned int>(rest);
    n += print(digit);
    rest -= digit;
  }
  return n;
}

int main(int argc, char** argv) {
  if (argc != 7) {
    fprintf(stderr, "usage: %s imu_present run_ms connect_at_ms stall_at_ms stall_ms fail_read_n\n", argv[0]);
    return 2;
  }
  g_imu_present = arg(argv, 1) != 0;
  const uint32_t run_ms = static_cast<uint32_t>(arg(argv, 2));
  g_connect_at_ms = static_cast<uint32_t>(arg(argv, 3));
  const uint32_t stall_at_ms = static_cast<uint32_t>(arg(argv, 4));
  const uint32_t stall_ms = static_cast<uint32_t>(arg(argv, 5));
  g_fail_read = arg(argv, 6);
  setup();
  bool stalled = false;
  while (g_now_ms < run_ms) {
    if (!stalled && g_now_ms >= stall_at_ms) {
      stalled = true;
      g_now_ms += stall_ms;
    }
    loop();
    ++g_now_ms;
  }
  return 0;
}
