// io_posix.cpp - harness_io.h on a desktop (POSIX) system.

#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "harness_io.h"

namespace hio {

int open(const char* path, bool for_write) {
  return for_write ? ::open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644) : ::open(path, O_RDONLY);
}

long read(int handle, void* buffer, size_t n) {
  return static_cast<long>(::read(handle, buffer, n));
}

bool write(int handle, const void* buffer, size_t n) {
  const char* bytes = static_cast<const char*>(buffer);
  while (n > 0) {
    const ssize_t done = ::write(handle, bytes, n);
    if (done <= 0) {
      return false;
    }
    bytes += done;
    n -= static_cast<size_t>(done);
  }
  return true;
}

void close(int handle) {
  ::close(handle);
}

void log(const char* text) {
  const ssize_t ignored = ::write(2, text, strlen(text));
  const ssize_t ignored_newline = ::write(2, "\n", 1);
  (void)ignored;
  (void)ignored_newline;
}

uint64_t ticks() {
  return 0;  // desktop timing is not the board's; the parity rung measures only the emulated board
}

bool ticks_available() {
  return false;
}

}  // namespace hio
