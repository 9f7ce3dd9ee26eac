// Logging to standard error: one line per event, "component level message".
#pragma once

namespace lpm {

enum class LogLevel { debug = 0, info = 1, warn = 2, error = 3 };

// Names the process in every line ("agent", "directory", ...). Call once at start-up.
void log_set_component(const char *component);
// Lines below this level are dropped. Default: info, or debug when LPM_DEBUG is set.
void log_set_level(LogLevel level);

void log_message(LogLevel level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

} // namespace lpm

#define LPM_DEBUG(...) ::lpm::log_message(::lpm::LogLevel::debug, __VA_ARGS__)
#define LPM_INFO(...) ::lpm::log_message(::lpm::LogLevel::info, __VA_ARGS__)
#define LPM_WARN(...) ::lpm::log_message(::lpm::LogLevel::warn, __VA_ARGS__)
#define LPM_ERROR(...) ::lpm::log_message(::lpm::LogLevel::error, __VA_ARGS__)
