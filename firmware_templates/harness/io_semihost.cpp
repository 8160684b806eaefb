// io_semihost.cpp - harness_io.h on a bare Cortex-M through ARM semihosting (QEMU: -semihosting-config
// enable=on,target=native). Each call is a BKPT 0xAB with the operation in r0 and its argument block in r1.

#include <stddef.h>
#include <stdint.h>

#include "harness_io.h"

namespace {

enum Operation : uint32_t {
  kSysOpen = 0x01,
  kSysClose = 0x02,
  kSysWrite0 = 0x04,
  kSysWrite = 0x05,
  kSysRead = 0x06,
  kSysExit = 0x18,
};

constexpr uint32_t kModeReadBinary = 1;   // "rb"
constexpr uint32_t kModeWriteBinary = 5;  // "wb"
constexpr uint32_t kStoppedApplicationExit = 0x20026;  // ADP_Stopped_ApplicationExit: exit status 0
constexpr uint32_t kStoppedRunTimeError = 0x20023;     // ADP_Stopped_RunTimeErrorUnknown: exit status 1

int32_t call(uint32_t operation, const void* argument) {
  register uint32_t r0 __asm__("r0") = operation;
  register const void* r1 __asm__("r1") = argument;
  __asm__ volatile("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
  return static_cast<int32_t>(r0);
}

size_t length(const char* text) {
  size_t n = 0;
  while (text[n] != '\0') {
    ++n;
  }
  return n;
}

}  // namespace

namespace hio {

int open(const char* path, bool for_write) {
  const uint32_t block[3] = {reinterpret_cast<uint32_t>(path), for_write ? kModeWriteBinary : kModeReadBinary,
                             static_cast<uint32_t>(length(path))};
  return call(kSysOpen, block);
}

long read(int handle, void* buffer, size_t n) {
  const uint32_t block[3] = {static_cast<uint32_t>(handle), reinterpret_cast<uint32_t>(buffer),
                             static_cast<uint32_t>(n)};
  const int32_t not_read = call(kSysRead, block);  // bytes NOT read
  if (not_read < 0 || static_cast<size_t>(not_read) > n) {
    return -1;
  }
  return static_cast<long>(n - static_cast<size_t>(not_read));
}

bool write(int handle, const void* buffer, size_t n) {
  const uint32_t block[3] = {static_cast<uint32_t>(handle), reinterpret_cast<uint32_t>(buffer),
                             static_cast<uint32_t>(n)};
  return call(kSysWrite, block) == 0;  // bytes NOT written
}

void close(int handle) {
  const uint32_t block[1] = {static_cast<uint32_t>(handle)};
  call(kSysClose, block);
}

void log(const char* text) {
  call(kSysWrite0, text);
  call(kSysWrite0, "\n");
}

}  // namespace hio

// Called by the startup code when main() returns (or on a fault): ends the QEMU process.
extern "C" void edgekit_semihost_exit(int status) {
  call(kSysExit, reinterpret_cast<const void*>(status == 0 ? kStoppedApplicationExit : kStoppedRunTimeError));
  for (;;) {
  }
}
