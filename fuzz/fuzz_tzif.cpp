// Fuzz target: time zone data (common/lpm/timezone.h; issue 6's reports). The first byte picks
// what the rest is: 0 a TZif file, otherwise a POSIX TZ rule (a TZif footer). Whatever is
// accepted must answer offsets within RFC 8536's range, and a local midnight for every date of
// years 1-9999 (its search is bounded, whatever the data).
#include <cstdint>
#include <cstdlib>
#include <climits>
#include <string_view>

#include "lpm/timezone.h"

using namespace lpm;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  std::span<const uint8_t> rest(data + 1, size - 1);
  auto zone = data[0] == 0
                  ? TimeZone::parse(rest, "fuzz")
                  : TimeZone::from_rule(std::string_view(reinterpret_cast<const char *>(rest.data()), rest.size()), "fuzz");
  if (!zone.ok()) {
    if (zone.error().code != Errc::bad_request) std::abort();
    return 0;
  }
  for (int64_t t : {INT64_MIN, int64_t{-4000000000}, int64_t{0}, int64_t{1743289200}, int64_t{4102444800}, INT64_MAX}) {
    int32_t off = zone->offset_at(t);
    if (off < -89999 || off > 93599) std::abort();
  }
  for (int year : {1, 1970, 2025, 2040, 9999})
    for (unsigned month : {1u, 3u, 10u, 12u})
      if (!zone->local_midnight(year, month, 1).ok()) std::abort();
  return 0;
}
