// main.cc - runs the capture sketch's setup() and loop() on the desktop against a scripted clock, host and IMU.
//
// usage: capture_harness <imu_present 0|1> <run_ms> <connect_at_ms> <stall_at_ms> <stall_ms> <fail_read_n>
// Each loop() pass takes 1 ms of simulated time. At stall_at_ms the clock jumps by stall_ms once (USB
// blocked loop()), and read number fail_read_n (1-based; 0 for none) of the IMU fails. The IMU always
// reports board axes (0.5, -1.0, 0.25) in the library's units. Serial output goes to stdout.
//
// The sketch compiles against the declaration stubs in tests/firmware_stubs, the one stand-in for the
// Arduino core and IMU libraries; this file gives the bodies the capture sketch needs (the IMU library is
// chosen with -DSTUB_IMU_HEADER and -DSTUB_IMU_CLASS), firmware_stubs/host/serial.cc gives Serial's.

#include <stdio.h>
#include <stdlib.h>

#include "Arduino.h"
#include "host/host.h"
#include STUB_IMU_HEADER

void setup();
void loop();

STUB_IMU_CLASS IMU;  // the stub header #defines IMU to the library's global object

namespace {

uint32_t g_now_ms = 0;
uint32_t g_connect_at_ms = 0;
bool g_imu_present = true;
long g_reads = 0;
long g_fail_read = 0;

long arg(char** argv, int i) { return strtol(argv[i], nullptr, 10); }

}  // namespace

bool edgekit_host::serial_connected() { return g_now_ms >= g_connect_at_ms; }

int STUB_IMU_CLASS::begin() { return g_imu_present ? 1 : 0; }

int STUB_IMU_CLASS::readAcceleration(float& x, float& y, float& z) {
  ++g_reads;
  if (g_reads == g_fail_read) {
    return 0;
  }
  x = 0.5f;
  y = -1.0f;
  z = 0.25f;
  return 1;
}

unsigned long millis(void) { return g_now_ms; }
unsigned long micros(void) { return g_now_ms * 1000ul; }
void delay(unsigned long ms) { g_now_ms += static_cast<uint32_t>(ms); }

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
