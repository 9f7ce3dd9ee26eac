#include "lpm/timezone.h"

#include <algorithm>
#include <chrono>

#include "lpm/files.h"

namespace lpm {
namespace {

namespace chr = std::chrono;

// A TZif file of the system is a few kB; this leaves room without reading just anything.
constexpr size_t kMaxTzifBytes = 256 * 1024;
constexpr size_t kMaxZoneName = 64;
constexpr uint64_t kMaxTransitions = 50000;
// RFC 8536: UT offsets are in [-89999, 93599] seconds (-24:59:59 to +25:59:59).
constexpr int32_t kMinOffset = -89999;
constexpr int32_t kMaxOffset = 93599;
// Instants whose civil year is computed are clamped to years 1..9999 (no overflow on odd input).
constexpr int64_t kFirstInstant = -62135596800;  // 0001-01-01T00:00:00Z
constexpr int64_t kLastInstant = 253402300799;   // 9999-12-31T23:59:59Z
constexpr int64_t kDay = 86400;

Error bad(const std::string &what) {
  return make_error(Errc::bad_request, what);
}

int64_t days_of(int year, unsigned month, unsigned day) {
  return chr::sys_days(chr::year(year) / chr::month(month) / chr::day(day)).time_since_epoch().count();
}

int year_of(int64_t unix_s) {
  unix_s = std::clamp(unix_s, kFirstInstant, kLastInstant);
  int64_t days = unix_s >= 0 ? unix_s / kDay : -((-unix_s + kDay - 1) / kDay);
  chr::year_month_day ymd{chr::sys_days(chr::days(days))};
  return static_cast<int>(ymd.year());
}

bool leap(int year) {
  return chr::year(year).is_leap();
}

// Big-endian reads over a span, every read bounds-checked.
class ByteReader {
public:
  explicit ByteReader(std::span<const uint8_t> data) : data_(data) {}
  bool has(uint64_t n) const { return n <= data_.size() - pos_; }
  void skip(uint64_t n) { pos_ += static_cast<size_t>(n); }
  uint8_t u8() { return data_[pos_++]; }
  uint32_t u32() {
    uint32_t v = 0;
    for (int i = 0; i < 4; i++)
      v = (v << 8) | data_[pos_++];
    return v;
  }
  int64_t i64() {
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
      v = (v << 8) | data_[pos_++];
    return static_cast<int64_t>(v);
  }
  std::span<const uint8_t> rest() const { return data_.subspan(pos_); }

private:
  std::span<const uint8_t> data_;
  size_t pos_ = 0;
};

struct Counts {
  uint64_t isut = 0, isstd = 0, leap = 0, time = 0, type = 0, chars = 0;
};

// The 44-byte header: magic, version, 15 unused bytes, six counts.
Result<Counts> read_header(ByteReader &in, char &version) {
  if (!in.has(44)) return bad("TZif: truncated header");
  if (in.u8() != 'T' || in.u8() != 'Z' || in.u8() != 'i' || in.u8() != 'f') return bad("not a TZif file");
  version = static_cast<char>(in.u8());
  if (version != 0 && version != '2' && version != '3' && version != '4')
    return bad("TZif: unknown version " + std::to_string(static_cast<unsigned char>(version)));
  in.skip(15);
  Counts c;
  c.isut = in.u32();
  c.isstd = in.u32();
  c.leap = in.u32();
  c.time = in.u32();
  c.type = in.u32();
  c.chars = in.u32();
  if (c.type == 0) return bad("TZif: no local time types");
  if (c.time > kMaxTransitions) return bad("TZif: too many transitions");
  if ((c.isut != 0 && c.isut != c.type) || (c.isstd != 0 && c.isstd != c.type))
    return bad("TZif: indicator counts do not match the type count");
  return c;
}

uint64_t block_size(const Counts &c, uint64_t time_size) {
  return c.time * time_size + c.time + c.type * 6 + c.chars + c.leap * (time_size + 4) + c.isstd + c.isut;
}

// [+-]hh[:mm[:ss]] with hh <= max_hours; seconds, or false.
bool parse_hms(std::string_view &s, int max_hours, int32_t &out) {
  int sign = 1;
  if (!s.empty() && (s[0] == '+' || s[0] == '-')) {
    sign = s[0] == '-' ? -1 : 1;
    s.remove_prefix(1);
  }
  auto number = [&s](int max, int &value) {
    size_t n = 0;
    value = 0;
    while (n < s.size() && n < 3 && s[n] >= '0' && s[n] <= '9')
      value = value * 10 + (s[n++] - '0');
    if (n == 0 || value > max) return false;
    s.remove_prefix(n);
    return true;
  };
  int h = 0, m = 0, sec = 0;
  if (!number(max_hours, h)) return false;
  if (!s.empty() && s[0] == ':') {
    s.remove_prefix(1);
    if (!number(59, m)) return false;
    if (!s.empty() && s[0] == ':') {
      s.remove_prefix(1);
      if (!number(59, sec)) return false;
    }
  }
  out = sign * (h * 3600 + m * 60 + sec);
  return true;
}

// A zone abbreviation: three or more letters, or <...> of letters, digits, '+' and '-'.
bool parse_abbreviation(std::string_view &s) {
  size_t n = 0;
  if (!s.empty() && s[0] == '<') {
    size_t close = s.find('>');
    if (close == std::string_view::npos || close < 4) return false;
    for (size_t i = 1; i < close; i++) {
      char c = s[i];
      if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '-'))
        return false;
    }
    s.remove_prefix(close + 1);
    return true;
  }
  while (n < s.size() && ((s[n] >= 'A' && s[n] <= 'Z') || (s[n] >= 'a' && s[n] <= 'z')))
    n++;
  if (n < 3) return false;
  s.remove_prefix(n);
  return true;
}

bool valid_zone_name(std::string_view name) {
  if (name.empty() || name.size() > kMaxZoneName || name.front() == '/' || name.back() == '/') return false;
  size_t start = 0;
  while (start <= name.size()) {
    size_t slash = name.find('/', start);
    std::string_view part = name.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
    if (part.empty() || part == "." || part == ".." || part.front() == '.') return false;
    for (char c : part)
      if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
            c == '+'))
        return false;
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return true;
}

} // namespace

Result<TimeZone::Rule> TimeZone::parse_rule(std::string_view s) {
  std::string_view all = s;
  auto refuse = [all](const char *what) { return bad("TZ rule \"" + std::string(all) + "\": " + what); };
  Rule r;
  if (!parse_abbreviation(s)) return refuse("no standard time abbreviation");
  int32_t posix = 0;
  if (!parse_hms(s, 24, posix)) return refuse("no standard time offset");
  r.std_offset = -posix; // POSIX counts west of UTC as positive
  if (s.empty()) return r;
  if (!parse_abbreviation(s)) return refuse("bad daylight time abbreviation");
  r.has_dst = true;
  r.dst_offset = r.std_offset + 3600;
  if (!s.empty() && s[0] != ',') {
    if (!parse_hms(s, 24, posix)) return refuse("bad daylight time offset");
    r.dst_offset = -posix;
  }
  auto when = [&s](Rule::When &w) {
    if (s.empty() || s[0] != ',') return false;
    s.remove_prefix(1);
    auto number = [&s](int &value) {
      size_t n = 0;
      value = 0;
      while (n < s.size() && n < 3 && s[n] >= '0' && s[n] <= '9')
        value = value * 10 + (s[n++] - '0');
      s.remove_prefix(n);
      return n > 0;
    };
    if (!s.empty() && s[0] == 'M') {
      s.remove_prefix(1);
      w.kind = Rule::Kind::month_week_day;
      if (!number(w.month) || w.month < 1 || w.month > 12 || s.empty() || s[0] != '.') return false;
      s.remove_prefix(1);
      if (!number(w.week) || w.week < 1 || w.week > 5 || s.empty() || s[0] != '.') return false;
      s.remove_prefix(1);
      if (!number(w.weekday) || w.weekday > 6) return false;
    } else if (!s.empty() && s[0] == 'J') {
      s.remove_prefix(1);
      w.kind = Rule::Kind::julian_no_leap;
      if (!number(w.day) || w.day < 1 || w.day > 365) return false;
    } else {
      w.kind = Rule::Kind::zero_based;
      if (!number(w.day) || w.day > 365) return false;
    }
    w.time_s = 7200;
    if (!s.empty() && s[0] == '/') {
      s.remove_prefix(1);
      // RFC 8536 extends POSIX: hours -167 to 167.
      if (!parse_hms(s, 167, w.time_s)) return false;
    }
    return true;
  };
  if (s.empty()) {
    // A daylight time without its rule: the POSIX default (the US rule since 2007).
    r.start = Rule::When{Rule::Kind::month_week_day, 3, 2, 0, 0, 7200};
    r.end = Rule::When{Rule::Kind::month_week_day, 11, 1, 0, 0, 7200};
    return r;
  }
  if (!when(r.start) || !when(r.end)) return refuse("bad change rule");
  if (!s.empty()) return refuse("unexpected text after the rule");
  return r;
}

int64_t TimeZone::rule_change_utc(const Rule::When &when, int year, int32_t offset_before) {
  int64_t day = 0;
  switch (when.kind) {
  case Rule::Kind::julian_no_leap: {
    // J1..J365, February 29 never counted.
    int n = when.day - 1;
    if (leap(year) && when.day >= 60) n++;
    day = days_of(year, 1, 1) + n;
    break;
  }
  case Rule::Kind::zero_based:
    day = days_of(year, 1, 1) + when.day;
    break;
  case Rule::Kind::month_week_day: {
    int64_t first = days_of(year, static_cast<unsigned>(when.month), 1);
    unsigned first_weekday = chr::weekday(chr::sys_days(chr::days(first))).c_encoding(); // 0 = Sunday
    int64_t d = (static_cast<int64_t>(when.weekday) - first_weekday + 7) % 7 + 7 * (when.week - 1);
    auto last = chr::year_month_day_last(chr::year(year), chr::month_day_last(chr::month(when.month)));
    int64_t length = static_cast<unsigned>(last.day());
    while (d >= length)
      d -= 7; // week 5: the last such weekday of the month
    day = first + d;
    break;
  }
  }
  return day * kDay + when.time_s - offset_before;
}

int32_t TimeZone::rule_offset_at(int64_t unix_s) const {
  if (!rule_.has_dst) return rule_.std_offset;
  int year = year_of(std::clamp(unix_s, kFirstInstant, kLastInstant) + rule_.std_offset);
  // Daylight time starts at a local standard time and ends at a local daylight time.
  int64_t start = rule_change_utc(rule_.start, year, rule_.std_offset);
  int64_t end = rule_change_utc(rule_.end, year, rule_.dst_offset);
  bool dst = start < end ? (unix_s >= start && unix_s < end) : !(unix_s >= end && unix_s < start);
  return dst ? rule_.dst_offset : rule_.std_offset;
}

Result<TimeZone> TimeZone::from_rule(std::string_view rule, std::string name) {
  auto parsed = parse_rule(rule);
  if (!parsed.ok()) return parsed.error();
  TimeZone z;
  z.name_ = std::move(name);
  z.has_rule_ = true;
  z.rule_ = *parsed;
  z.types_.push_back(Type{parsed->std_offset});
  return z;
}

Result<TimeZone> TimeZone::parse(std::span<const uint8_t> tzif, std::string name) {
  ByteReader in(tzif);
  char version = 0;
  auto counts = read_header(in, version);
  if (!counts.ok()) return counts.error();
  uint64_t time_size = 4;
  if (version != 0) {
    // Version 2+: skip the 32-bit block; the 64-bit one follows with its own header.
    uint64_t v1 = block_size(*counts, 4);
    if (!in.has(v1)) return bad("TZif: truncated version 1 data");
    in.skip(v1);
    char version2 = 0;
    counts = read_header(in, version2);
    if (!counts.ok()) return counts.error();
    time_size = 8;
  }
  const Counts &c = *counts;
  if (!in.has(block_size(c, time_size))) return bad("TZif: truncated data");
  TimeZone z;
  z.name_ = std::move(name);
  z.times_.reserve(c.time);
  for (uint64_t i = 0; i < c.time; i++) {
    int64_t t = time_size == 8 ? in.i64() : static_cast<int32_t>(in.u32());
    if (!z.times_.empty() && t <= z.times_.back()) return bad("TZif: transition times not ascending");
    z.times_.push_back(t);
  }
  for (uint64_t i = 0; i < c.time; i++) {
    uint8_t index = in.u8();
    if (index >= c.type) return bad("TZif: transition to an unknown type");
    z.indices_.push_back(index);
  }
  for (uint64_t i = 0; i < c.type; i++) {
    auto offset = static_cast<int32_t>(in.u32());
    uint8_t isdst = in.u8();
    uint8_t abbreviation = in.u8();
    if (offset < kMinOffset || offset > kMaxOffset) return bad("TZif: UT offset out of range");
    if (isdst > 1 || abbreviation >= c.chars) return bad("TZif: bad local time type");
    z.types_.push_back(Type{offset});
  }
  in.skip(c.chars + c.leap * (time_size + 4) + c.isstd + c.isut);
  if (version != 0) {
    // The footer: "\n<POSIX TZ rule>\n", the rule for instants after the last transition.
    auto rest = in.rest();
    if (rest.empty() || rest[0] != '\n') return bad("TZif: missing footer");
    auto end = std::find(rest.begin() + 1, rest.end(), uint8_t{'\n'});
    if (end == rest.end()) return bad("TZif: unterminated footer");
    std::string_view rule(reinterpret_cast<const char *>(rest.data()) + 1, static_cast<size_t>(end - rest.begin()) - 1);
    if (!rule.empty()) {
      auto parsed = parse_rule(rule);
      if (!parsed.ok()) return parsed.error();
      z.has_rule_ = true;
      z.rule_ = *parsed;
    }
  }
  return z;
}

Result<TimeZone> TimeZone::load(std::string_view name, const std::string &zoneinfo_dir) {
  if (!valid_zone_name(name)) return bad("\"" + std::string(name.substr(0, kMaxZoneName)) + "\" is not a time zone name");
  std::string path = zoneinfo_dir + "/" + std::string(name);
  if (!file_exists(path)) return make_error(Errc::not_found, "unknown time zone \"" + std::string(name) + "\"");
  auto bytes = read_file(path, kMaxTzifBytes);
  if (!bytes.ok()) return bytes.error();
  auto zone = parse(std::span<const uint8_t>(reinterpret_cast<const uint8_t *>(bytes->data()), bytes->size()),
                    std::string(name));
  if (!zone.ok()) return make_error(zone.error().code, path + ": " + zone.error().message);
  return zone;
}

int32_t TimeZone::offset_at(int64_t unix_s) const {
  if (times_.empty()) return has_rule_ ? rule_offset_at(unix_s) : types_[0].offset;
  // RFC 8536: before the first transition, the first type.
  if (unix_s < times_.front()) return types_[0].offset;
  if (unix_s >= times_.back() && has_rule_) return rule_offset_at(unix_s);
  auto after = std::upper_bound(times_.begin(), times_.end(), unix_s);
  return types_[indices_[static_cast<size_t>(after - times_.begin()) - 1]].offset;
}

Result<int64_t> TimeZone::local_midnight(int year, unsigned month, unsigned day) const {
  if (year < 1 || year > 9999) return bad("year " + std::to_string(year) + " is out of range (1-9999)");
  chr::year_month_day ymd{chr::year(year), chr::month(month), chr::day(day)};
  if (!ymd.ok())
    return bad("no such date: " + std::to_string(year) + "-" + std::to_string(month) + "-" + std::to_string(day));
  int64_t local = days_of(year, month, day) * kDay;
  auto local_of = [this](int64_t t) { return t + offset_at(t); };
  // The offsets around that midnight (changes are far more than two days apart).
  int32_t offsets[3] = {offset_at(local - 2 * kDay), offset_at(local), offset_at(local + 2 * kDay)};
  std::sort(std::begin(offsets), std::end(offsets));
  // The earliest instant whose local time is exactly midnight: the larger offset is earlier.
  for (int i = 2; i >= 0; i--) {
    int64_t t = local - offsets[i];
    if (local_of(t) == local) return t;
  }
  // Midnight was skipped: the first instant whose local time is past it.
  int64_t lo = local - offsets[2], hi = local - offsets[0];
  for (int i = 0; i < 64 && lo < hi; i++) {
    int64_t mid = lo + (hi - lo) / 2;
    if (local_of(mid) >= local)
      hi = mid;
    else
      lo = mid + 1;
  }
  return hi;
}

} // namespace lpm
