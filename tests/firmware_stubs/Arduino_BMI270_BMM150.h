// Declaration stub of Arduino_BMI270_BMM150 (see README.md): readAcceleration() returns g, 1 on success.
#pragma once
#include <Arduino.h>

class BoschSensorClass {
 public:
  int begin();
  int readAcceleration(float& x, float& y, float& z);
  float accelerationSampleRate();
};
extern BoschSensorClass IMU_BMI270_BMM150;
#undef IMU
#define IMU IMU_BMI270_BMM150
