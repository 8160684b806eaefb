// Arduino_LSM6DSOX.h - test stand-in for the Arduino_LSM6DSOX library: its class name and global IMU object.

#ifndef EDGEKIT_TEST_ARDUINO_LSM6DSOX_H_
#define EDGEKIT_TEST_ARDUINO_LSM6DSOX_H_

#include "imu_stub.h"

class LSM6DSOXClass : public edgekit_test::StubImu {};

extern LSM6DSOXClass IMU;

#endif  // EDGEKIT_TEST_ARDUINO_LSM6DSOX_H_
