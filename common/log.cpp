#include "lpm/log.h"

#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <ctime>

namespace lpm {
namespace {
const char *g_component = "lpm";
LogLevel g_level = std::getenv("LPM_DEBUG") ? LogLevel::debug : LogLevel::info;

const char *level_name(LogLevel level) {
  switch (level) {
  case LogLevel::debug: return "debug";
  case LogLevel::info: return "info";
  case LogLevel::warn: return "warn";
  case LogLevel::error: return "error";
  }
  return "?";
}
} // namespace

void log_set_component(const char *component) { g_component = component; }
void log_set_level(LogLevel level) { g_level = level; }

void log_message(LogLevel level, const char *fmt, ...) {
  if (level < g_level) return;
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  tm utc{};
  gmtime_r(&ts.tv_sec, &utc);
  char stamp[32];
  strftime(stamp, sizeof stamp, "%H:%M:%S", &utc);
  char line[2048];
  va_list args;
  va_start(args, fmt);
  vsnprintf(line, sizeof line, fmt, args);
  va_end(args);
  // One fprintf per line so lines from several threads do not interleave.
  std::fprintf(stderr, "%s.%03ld %s %s: %s\n", stamp, ts.tv_nsec / 1000000, g_component,
               level_name(level), line);
}

} // namespace lpm
