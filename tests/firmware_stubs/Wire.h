// Declaration stub of the Arduino core's Wire (TwoWire) as the IMU libraries use it (see README.md):
// bench/sampler_stack.py compiles an IMU library's own sources against it to measure their stack frames.
#pragma once
#include <Arduino.h>

class TwoWire {
 public:
  void begin();
  void end();
  void setClock(uint32_t frequency);
  void beginTransmission(uint8_t address);
  size_t write(uint8_t data);
  size_t write(const uint8_t* data, size_t length);
  uint8_t endTransmission(bool stop = true);
  size_t requestFrom(uint8_t address, size_t length, bool stop = true);
  int available();
  int read();
};
extern TwoWire Wire;
extern TwoWire Wire1;
