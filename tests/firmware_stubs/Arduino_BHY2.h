// Declaration stub of Arduino_BHY2 1.0.7 (see README.md): the begin/update API of the BHI260AP sensor hub
// and SensorXYZ, whose x(), y(), z() are raw int16 LSB.
#pragma once
#include <Arduino.h>

enum SensorID { SENSOR_ID_ACC = 4 };  // accelerometer corrected (the library's SensorID.h lists all)

enum NiclaWiring { NICLA_VIA_ESLOV = 0x10, NICLA_AS_SHIELD = 0x20 };
enum NiclaConfig { NICLA_I2C = 0x1, NICLA_BLE = 0x2, NICLA_BLE_AND_I2C = 0x3, NICLA_STANDALONE = 0x4 };

class Arduino_BHY2 {
 public:
  bool begin(NiclaConfig config = NICLA_BLE_AND_I2C, NiclaWiring niclaConnection = NICLA_VIA_ESLOV);
  void update();
};
extern Arduino_BHY2 BHY2;

class SensorClass {
 public:
  SensorClass(uint8_t id);  // NOLINT: implicit like the library's
  bool begin(float rate = 1000, uint32_t latency = 1);
  int setRange(uint16_t range);
};

class SensorXYZ : public SensorClass {
 public:
  SensorXYZ(uint8_t id);  // NOLINT: implicit like the library's
  int16_t x();
  int16_t y();
  int16_t z();
};
