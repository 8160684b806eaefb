// Declaration stub of Arduino_LSM6DSOX (see README.md): readAcceleration() returns g, 1 on success.
#pragma once
#include <Arduino.h>

class LSM6DSOXClass {
 public:
  int begin();
  int readAcceleration(float& x, float& y, float& z);
  float accelerationSampleRate();
};
extern LSM6DSOXClass IMU_LSM6DSOX;
#undef IMU
#define IMU IMU_LSM6DSOX
