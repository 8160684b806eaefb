// Declaration stub of Arduino_LSM9DS1 (see README.md): readAcceleration() returns g, 1 on success.
#pragma once
#include <Arduino.h>

class LSM9DS1Class {
 public:
  int begin();
  int readAcceleration(float& x, float& y, float& z);
  float accelerationSampleRate();
};
extern LSM9DS1Class IMU_LSM9DS1;
#undef IMU
#define IMU IMU_LSM9DS1
