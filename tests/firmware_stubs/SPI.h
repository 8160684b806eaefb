// Declaration stub of the Arduino core's SPI as the IMU libraries use it (see README.md).
#pragma once
#include <Arduino.h>

#define SPI_MODE0 0
class SPISettings {
 public:
  SPISettings();
  SPISettings(uint32_t clock, int bit_order, int data_mode);
};
class SPIClass {
 public:
  void begin();
  void end();
  void beginTransaction(SPISettings settings);
  void endTransaction();
  uint8_t transfer(uint8_t data);
  void transfer(void* buffer, size_t count);
};
extern SPIClass SPI;
