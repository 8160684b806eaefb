// imu_stub.h - what the Arduino IMU libraries' global objects offer the capture sketch (begin() and
// readAcceleration() in the library's units), answered by the harness's scripted sensor.

#ifndef EDGEKIT_TEST_IMU_STUB_H_
#define EDGEKIT_TEST_IMU_STUB_H_

namespace edgekit_test {

int imu_begin();
int imu_read(float& x, float& y, float& z);

class StubImu {
 public:
  int begin() { return imu_begin(); }
  int readAcceleration(float& x, float& y, float& z) { return imu_read(x, y, z); }
};

}  // namespace edgekit_test

#endif  // EDGEKIT_TEST_IMU_STUB_H_
