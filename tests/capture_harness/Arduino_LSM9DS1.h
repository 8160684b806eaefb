// Arduino_LSM9DS1.h - test stand-in for the Arduino_LSM9DS1 library: its class name and global IMU object.

#ifndef EDGEKIT_TEST_ARDUINO_LSM9DS1_H_
#define EDGEKIT_TEST_ARDUINO_LSM9DS1_H_

#include "imu_stub.h"

class LSM9DS1Class : public edgekit_test::StubImu {};

extern LSM9DS1Class IMU;

#endif  // EDGEKIT_TEST_ARDUINO_LSM9DS1_H_
