// IANA time zones from the system's TZif files (RFC 8536), for reports whose days run midnight to
// midnight in a zone the caller names (issue 6, SPEC RP-8): on a daylight-saving change a day
// has 23 or 25 hours, and some zones are not whole hours from UTC (Asia/Kathmandu, +05:45).
//
// libstdc++ 12 (Debian 12) has no std::chrono time-zone database, so the files are read here:
// transitions from the version 2+ data block (64-bit times), and past the last transition the
// file's footer, a POSIX TZ rule ("CET-1CEST,M3.5.0,M10.5.0/3"), which is all a "slim" file has.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "lpm/error.h"

namespace lpm {

inline constexpr const char *kZoneinfoDir = "/usr/share/zoneinfo";

class TimeZone {
public:
  // The zone `name` ("Europe/Paris", "UTC") from `zoneinfo_dir`. bad_request for a name that is
  // not a zone name (only letters, digits, '_', '-', '+', '/' between components; no "." or ".."
  // component; at most 64 characters), not_found when no such file, bad_request when the file is
  // not a TZif file.
  static Result<TimeZone> load(std::string_view name, const std::string &zoneinfo_dir = kZoneinfoDir);
  // TZif bytes (versions 1 to 4); bad_request names what is wrong.
  static Result<TimeZone> parse(std::span<const uint8_t> tzif, std::string name);
  // A zone from a POSIX TZ rule alone (what a TZif footer holds), for tests and fixed zones.
  static Result<TimeZone> from_rule(std::string_view rule, std::string name);

  const std::string &name() const { return name_; }
  // Seconds east of UTC at the instant `unix_s`.
  int32_t offset_at(int64_t unix_s) const;
  // The instant local midnight begins the civil date year-month-day (month 1-12, day 1-31), in
  // Unix seconds. When that midnight does not exist (a change at 00:00 that skips it), the first
  // instant of the day; when it happens twice, the first. bad_request for a date that does not
  // exist or a year outside 1-9999.
  Result<int64_t> local_midnight(int year, unsigned month, unsigned day) const;

private:
  // A POSIX TZ rule: standard offset, and optionally a daylight offset with when it starts/ends.
  struct Rule {
    enum class Kind { julian_no_leap, zero_based, month_week_day };
    struct When {
      Kind kind = Kind::month_week_day;
      int month = 0, week = 0, weekday = 0, day = 0;
      int32_t time_s = 7200; // local time of the change, may be negative or past 24 h
    };
    int32_t std_offset = 0; // seconds east of UTC
    bool has_dst = false;
    int32_t dst_offset = 0;
    When start, end;
  };
  struct Type {
    int32_t offset = 0;
  };

  static Result<Rule> parse_rule(std::string_view text);
  int32_t rule_offset_at(int64_t unix_s) const;
  static int64_t rule_change_utc(const Rule::When &when, int year, int32_t offset_before);

  std::string name_;
  std::vector<int64_t> times_;   // transition instants, ascending
  std::vector<uint8_t> indices_; // type after each transition
  std::vector<Type> types_;
  bool has_rule_ = false;
  Rule rule_;
};

} // namespace lpm
