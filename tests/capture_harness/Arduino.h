// Arduino.h - the slice of the Arduino API the capture sketch uses, for running it on the desktop.
// Serial prints to stdout the way Print does on a board; millis() and the host connection are driven
// by the harness (main.cc), so a test controls time instead of waiting for it.

#ifndef EDGEKIT_TEST_ARDUINO_H_
#define EDGEKIT_TEST_ARDUINO_H_

#include <stddef.h>
#include <stdint.h>

uint32_t millis();
void delay(unsigned long ms);

class HostSerial {
 public:
  void begin(unsigned long baud);
  explicit operator bool() const;
  int available();
  int read();
  size_t print(const char* text);
  size_t print(char c);
  size_t print(int value);
  size_t print(unsigned int value);
  size_t print(long value);
  size_t print(unsigned long value);
  size_t print(double value, int digits = 2);
};

extern HostSerial Serial;

#endif  // EDGEKIT_TEST_ARDUINO_H_
