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

// SysTick counts down from 2^24 - 1 at the core clock; with QEMU's -icount shift=0 every instruction
// advances virtual time by 1 ns, so a tick is a fixed number of instructions (edgekit.runtime.emulate
// calibrates it). The interrupt only counts wrap-arounds.
volatile uint32_t g_systick_wraps = 0;
bool g_systick_started = false;

constexpr uint32_t kSysTickReload = 0x00FFFFFFu;
#define EDGEKIT_SYST_CSR (*reinterpret_cast<volatile uint32_t*>(0xE000E010u))
#define EDGEKIT_SYST_RVR (*reinterpret_cast<volatile uint32_t*>(0xE000E014u))
#define EDGEKIT_SYST_CVR (*reinterpret_cast<volatile uint32_t*>(0xE000E018u))

uint64_t ticks() {
  if (!g_systick_started) {
    EDGEKIT_SYST_RVR = kSysTickReload;
    EDGEKIT_SYST_CVR = 0;     // the next tick loads the reload value
    EDGEKIT_SYST_CSR = 0x7u;  // processor clock, interrupt on wrap, enabled
    g_systick_started = true;
  }
  uint32_t wraps = 0;
  uint32_t value = 0;
  do {  // a wrap between the two reads is seen as a changed count: read again
    wraps = g_systick_wraps;
    value = EDGEKIT_SYST_CVR;
  } while (wraps != g_systick_wraps);
  // The counter runs reload, ..., 1, 0 (the wrap interrupt counts here), reload, ...: after `wraps` wraps
  // it has ticked wraps * period times, plus (period - value) into the current period unless it reads 0.
  const uint64_t period = static_cast<uint64_t>(kSysTickReload) + 1u;
  return static_cast<uint64_t>(wraps) * period + (value != 0 ? period - value : 0u);
}

bool ticks_available() {
  return true;
}

}  // namespace hio

// Bare metal never runs static destructors (main's return ends QEMU), so registering them is a no-op.
// The C++ runtime's own __cxa_atexit would pull in newlib's exit machinery; this harness links no heap.
extern "C" int __cxa_atexit(void (*destructor)(void*), void* object, void* dso) {
  (void)destructor;
  (void)object;
  (void)dso;
  return 0;
}
void* __dso_handle = &__dso_handle;

extern "C" void edgekit_semihost_exit(int status);

// TFLM's TFLITE_ABORT on an internal error: end the emulator with a failure status.
extern "C" void abort(void) {
  hio::log("harness: abort()");
  edgekit_semihost_exit(1);
  for (;;) {
  }
}

// A call through a pure virtual slot (never happens in a correct program): libstdc++'s version reports it
// through stdio, which would link newlib's heap. Arduino cores define their own for the same reason.
extern "C" void __cxa_pure_virtual(void) {
  abort();
}

// A failed assert() in TFLM or flatbuffers: newlib's version prints through stdio (and its heap); the
// Arduino mbed core routes it to mbed_assert_internal the same way this ends the emulator.
extern "C" void __assert_func(const char* file, int line, const char* function, const char* expression) {
  (void)line;
  (void)function;
  hio::log(file);
  hio::log(expression);
  abort();
}

extern "C" void SysTick_Handler(void) {
  hio::g_systick_wraps = hio::g_systick_wraps + 1u;
}

// Called by the startup code when main() returns (or on a fault): ends the QEMU process.
extern "C" void edgekit_semihost_exit(int status) {
  call(kSysExit, reinterpret_cast<const void*>(status == 0 ? kStoppedApplicationExit : kStoppedRunTimeError));
  for (;;) {
  }
}
