// Declaration stub of the Arduino mbed core API used by edgekit_app.cpp (see README.md).
#pragma once
#include <stddef.h>
#include <stdint.h>

typedef uint8_t pin_size_t;
enum PinStatus { LOW = 0, HIGH = 1 };
enum PinMode { INPUT = 0, OUTPUT = 1 };
#define DEC 10
#define LED_BUILTIN 13
#define LEDR 22
#define LEDG 23
#define LEDB 24

unsigned long millis(void);
unsigned long micros(void);
void delay(unsigned long ms);
void pinMode(pin_size_t pin, PinMode mode);
void digitalWrite(pin_size_t pin, PinStatus value);

class SerialStub {
 public:
  void begin(unsigned long baud);
  explicit operator bool();
  int available();
  int read();
  size_t print(const char text[]);
  size_t print(char c);
  size_t print(int value, int base = DEC);
  size_t print(unsigned int value, int base = DEC);
  size_t print(long value, int base = DEC);
  size_t print(unsigned long value, int base = DEC);
  size_t print(double value, int digits = 2);
};
extern SerialStub Serial;

// What the IMU libraries' own sources use beyond edgekit_app.cpp (bench/sampler_stack.py compiles them).
#include <math.h>
#include <string.h>
#define MSBFIRST 1
template <class T>
T min(T a, T b) {
  return b < a ? b : a;
}
void delayMicroseconds(unsigned int us);
class String {
 public:
  String(const char* text = "");
  String(int value);
  friend String operator+(const char* left, const String& right);
  friend String operator+(const String& left, const char* right);
};
class Stream {
 public:
  size_t print(const String& text);
  size_t println(const String& text);
  size_t println(const char text[]);
};
