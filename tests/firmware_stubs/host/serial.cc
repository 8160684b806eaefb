// serial.cc - the stubs' Serial on the desktop: prints to stdout the way the core's Print class does on a
// board (integers in decimal, floats by Print::printFloat's algorithm), shared by every desktop harness.

#include <math.h>
#include <stdio.h>

#include "Arduino.h"
#include "host/host.h"

SerialStub Serial;

void SerialStub::begin(unsigned long baud) { (void)baud; }
SerialStub::operator bool() { return edgekit_host::serial_connected(); }
int SerialStub::available() { return 0; }
int SerialStub::read() { return -1; }
size_t SerialStub::print(const char text[]) { return static_cast<size_t>(printf("%s", text)); }
size_t SerialStub::print(char c) { return static_cast<size_t>(printf("%c", c)); }
size_t SerialStub::print(int value, int base) { return print(static_cast<long>(value), base); }
size_t SerialStub::print(unsigned int value, int base) { return print(static_cast<unsigned long>(value), base); }
size_t SerialStub::print(long value, int base) {
  (void)base;  // the firmware prints decimal only
  return static_cast<size_t>(printf("%ld", value));
}
size_t SerialStub::print(unsigned long value, int base) {
  (void)base;
  return static_cast<size_t>(printf("%lu", value));
}

// Print::printFloat: nan/inf/ovf, then round half up at the last digit and emit digit by digit.
size_t SerialStub::print(double value, int digits) {
  if (isnan(value)) {
    return print("nan");
  }
  if (isinf(value)) {
    return print("inf");
  }
  if (value > 4294967040.0 || value < -4294967040.0) {
    return print("ovf");
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
    rest -= static_cast<double>(digit);
  }
  return n;
}
