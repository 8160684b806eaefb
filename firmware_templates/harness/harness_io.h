// harness_io.h - the few file operations edgekit's test harness needs, without stdio or a heap.
//
// Two implementations: io_posix.cpp (desktop) and io_semihost.cpp (Cortex-M under QEMU, through ARM
// semihosting). newlib's stdio would allocate FILE buffers with malloc, and the harness must prove that
// nothing it links - the pipeline included - needs a heap.

#ifndef EDGEKIT_HARNESS_IO_H_
#define EDGEKIT_HARNESS_IO_H_

#include <stddef.h>
#include <stdint.h>

namespace hio {

// Opens a file in the current directory for binary reading or writing; a negative handle on failure.
int open(const char* path, bool for_write);
// Reads up to n bytes; returns how many were read (0 at the end), negative on error.
long read(int handle, void* buffer, size_t n);
// Writes all n bytes; false on error.
bool write(int handle, const void* buffer, size_t n);
void close(int handle);
// One line of diagnostics on the console.
void log(const char* text);
// A monotonic instruction clock: SysTick ticks under QEMU -icount (see io_semihost.cpp); 0 on the desktop.
uint64_t ticks();
bool ticks_available();

}  // namespace hio

#endif  // EDGEKIT_HARNESS_IO_H_
