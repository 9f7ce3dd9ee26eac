#include "lpm/ids.h"

#include <sys/random.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <mutex>

namespace lpm {

void random_bytes(void *buf, size_t len) {
  auto *p = static_cast<uint8_t *>(buf);
  while (len > 0) {
    ssize_t n = getrandom(p, len, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      std::perror("getrandom");
      std::abort();
    }
    p += n;
    len -= static_cast<size_t>(n);
  }
}

std::string uuid_v7() {
  // Within one millisecond, the 12-bit rand_a field counts up so ids stay ordered (RFC 9562
  // method 1, "fixed bit-length dedicated counter").
  static std::mutex mutex;
  static int64_t last_ms = 0;
  static uint16_t counter = 0;
  uint8_t b[16];
  random_bytes(b, sizeof b);
  int64_t ms;
  uint16_t seq;
  {
    std::lock_guard<std::mutex> lock(mutex);
    ms = wall_ms();
    if (ms <= last_ms) {
      ms = last_ms;
      if (++counter > 0x0fff) { // counter exhausted: borrow the next millisecond
        ms = ++last_ms;
        counter = 0;
      }
    } else {
      last_ms = ms;
      counter = static_cast<uint16_t>(b[6] & 0x07) << 8 | b[7]; // random start, room to count
    }
    seq = counter;
  }
  for (int i = 0; i < 6; i++) b[i] = static_cast<uint8_t>(static_cast<uint64_t>(ms) >> (40 - 8 * i));
  b[6] = static_cast<uint8_t>(0x70 | ((seq >> 8) & 0x0f));
  b[7] = static_cast<uint8_t>(seq & 0xff);
  b[8] = static_cast<uint8_t>((b[8] & 0x3f) | 0x80);
  std::string hex = to_hex(b);
  return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" +
         hex.substr(16, 4) + "-" + hex.substr(20);
}

bool uuid_valid(std::string_view t) {
  if (t.size() != 36) return false;
  for (size_t i = 0; i < t.size(); i++) {
    char c = t[i];
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (c != '-') return false;
    } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) {
      return false;
    }
  }
  return true;
}

std::string to_hex(std::span<const uint8_t> bytes) {
  static const char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (uint8_t b : bytes) {
    out.push_back(digits[b >> 4]);
    out.push_back(digits[b & 15]);
  }
  return out;
}

bool from_hex(std::string_view hex, std::vector<uint8_t> &out) {
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  if (hex.size() % 2) return false;
  out.clear();
  out.reserve(hex.size() / 2);
  for (size_t i = 0; i < hex.size(); i += 2) {
    int hi = nibble(hex[i]), lo = nibble(hex[i + 1]);
    if (hi < 0 || lo < 0) return false;
    out.push_back(static_cast<uint8_t>(hi << 4 | lo));
  }
  return true;
}

int64_t wall_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

int64_t mono_ms() { return mono_ns() / 1000000; }

int64_t mono_ns() {
  using namespace std::chrono;
  return duration_cast<nanoseconds>(steady_clock::now().time_since_epoch()).count();
}

std::string utc_minute_text(int64_t ms) {
  std::time_t seconds = static_cast<std::time_t>(ms / 1000);
  std::tm parts{};
  char text[32] = "";
  if (::gmtime_r(&seconds, &parts) == nullptr ||
      std::strftime(text, sizeof text, "%Y-%m-%d %H:%M UTC", &parts) == 0)
    return std::to_string(ms) + " ms since 1970 (UTC)";
  return text;
}

} // namespace lpm
