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
