// Arduino_BMI270_BMM150.h - test stand-in for the Arduino_BMI270_BMM150 library: its class name and global IMU object.

#ifndef EDGEKIT_TEST_ARDUINO_BMI270_BMM150_H_
#define EDGEKIT_TEST_ARDUINO_BMI270_BMM150_H_

#include "imu_stub.h"

class BoschSensorClass : public edgekit_test::StubImu {};

extern BoschSensorClass IMU;

#endif  // EDGEKIT_TEST_ARDUINO_BMI270_BMM150_H_
