// debug_log.cpp - TFLM's DebugLog() for edgekit firmware: no stdio, no heap.
//
// Upstream's version formats with vfprintf/vsnprintf, which on newlib can allocate. TFLM only logs on
// error paths (a missing op, a too-small arena), so a small formatter covering the conversions TFLM
// uses (%d %i %u %x %s %c %f %%, with l/z/ll length modifiers) is enough. The text goes to
// edgekit_debug_log(), which the firmware sends to Serial and the test harness to its console.

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "../../../tensorflow/lite/micro/debug_log.h"

extern "C" void edgekit_debug_log(const char* text);

namespace {

constexpr size_t kMaxLogLength = 160;

class Output {
 public:
  Output(char* buffer, size_t size) : buffer_(buffer), size_(size) {}

  void put(char c) {
    if (size_ > 0 && length_ + 1 < size_) {
      buffer_[length_] = c;
    }
    ++length_;
  }

  void text(const char* s) {
    for (; s != nullptr && *s != '\0'; ++s) {
      put(*s);
    }
  }

  void unsigned_number(uint64_t value, unsigned base) {
    char digits[24];
    size_t n = 0;
    do {
      const unsigned digit = static_cast<unsigned>(value % base);
      digits[n++] = static_cast<char>(digit < 10 ? '0' + digit : 'a' + digit - 10);
      value /= base;
    } while (value != 0 && n < sizeof(digits));
    while (n > 0) {
      put(digits[--n]);
    }
  }

  void signed_number(int64_t value) {
    if (value < 0) {
      put('-');
      unsigned_number(static_cast<uint64_t>(-(value + 1)) + 1u, 10);
    } else {
      unsigned_number(static_cast<uint64_t>(value), 10);
    }
  }

  void decimal(double value) {
    if (value != value) {
      text("nan");
      return;
    }
    if (value < 0) {
      put('-');
      value = -value;
    }
    if (value > 4.0e9) {
      text("big");
      return;
    }
    const uint32_t whole = static_cast<uint32_t>(value);
    const uint32_t millionths = static_cast<uint32_t>((value - whole) * 1000000.0);
    unsigned_number(whole, 10);
    put('.');
    for (uint32_t scale = 100000; scale > 0; scale /= 10) {
      put(static_cast<char>('0' + (millionths / scale) % 10));
    }
  }

  int finish() {
    if (size_ > 0) {
      buffer_[length_ < size_ ? length_ : size_ - 1] = '\0';
    }
    return static_cast<int>(length_);
  }

 private:
  char* buffer_;
  size_t size_;
  size_t length_ = 0;
};

int format(char* buffer, size_t size, const char* fmt, va_list args) {
  Output out(buffer, size);
  for (; *fmt != '\0'; ++fmt) {
    if (*fmt != '%') {
      out.put(*fmt);
      continue;
    }
    ++fmt;
    while (*fmt == '-' || *fmt == '0' || *fmt == '.' || (*fmt >= '1' && *fmt <= '9')) {
      ++fmt;  // width and precision are accepted and ignored
    }
    int longs = 0;
    bool size_t_arg = false;
    for (; *fmt == 'l' || *fmt == 'z'; ++fmt) {
      longs += *fmt == 'l' ? 1 : 0;
      size_t_arg = size_t_arg || *fmt == 'z';
    }
    switch (*fmt) {
      case 'd':
      case 'i':
        out.signed_number(longs >= 2 ? va_arg(args, long long) : longs == 1 ? va_arg(args, long) : va_arg(args, int));
        break;
      case 'u':
      case 'x': {
        const uint64_t v = size_t_arg   ? va_arg(args, size_t)
                           : longs >= 2 ? va_arg(args, unsigned long long)
                           : longs == 1 ? va_arg(args, unsigned long)
                                        : va_arg(args, unsigned int);
        out.unsigned_number(v, *fmt == 'x' ? 16u : 10u);
        break;
      }
      case 's':
        out.text(va_arg(args, const char*));
        break;
      case 'c':
        out.put(static_cast<char>(va_arg(args, int)));
        break;
      case 'f':
      case 'g':
        out.decimal(va_arg(args, double));
        break;
      case '%':
        out.put('%');
        break;
      case '\0':
        return out.finish();
      default:
        out.put('?');
        break;
    }
  }
  return out.finish();
}

}  // namespace

extern "C" void DebugLog(const char* fmt, va_list args) {
  char line[kMaxLogLength];
  format(line, sizeof(line), fmt, args);
  edgekit_debug_log(line);
}

extern "C" int DebugVsnprintf(char* buffer, size_t buf_size, const char* fmt, va_list vlist) {
  return format(buffer, buf_size, fmt, vlist);
}
