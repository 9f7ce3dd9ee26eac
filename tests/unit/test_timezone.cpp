// Time zones from the system's TZif files (common/lpm/timezone.h): report days run midnight to
// midnight in the zone asked for (SPEC RP-8, TS-22; issue 6), 23 and 25 hours on the
// daylight-saving changes. Expected instants from Python's zoneinfo on the same tzdata.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "lpm/files.h"
#include "lpm/timezone.h"

using namespace lpm;

namespace {

TimeZone zone(const char *name) {
  auto z = TimeZone::load(name);
  INFO(name);
  REQUIRE(z.ok());
  return std::move(z).value();
}

int64_t midnight(const TimeZone &z, int y, unsigned m, unsigned d) {
  auto t = z.local_midnight(y, m, d);
  REQUIRE(t.ok());
  return *t;
}

int64_t day_hours(const TimeZone &z, int y, unsigned m, unsigned d) {
  auto next = std::chrono::year_month_day{std::chrono::sys_days(std::chrono::year(y) / std::chrono::month(m) /
                                                                std::chrono::day(d)) +
                                          std::chrono::days(1)};
  return (midnight(z, static_cast<int>(next.year()), static_cast<unsigned>(next.month()),
                   static_cast<unsigned>(next.day())) -
          midnight(z, y, m, d)) /
         3600;
}

} // namespace

TEST_CASE("report days in Europe/Paris: 23 hours in March, 25 in October (RP-8) [issue-6]",
          "[timezone][issue-6]") {
  TimeZone paris = zone("Europe/Paris");
  CHECK(midnight(paris, 2025, 3, 30) == 1743289200);
  CHECK(midnight(paris, 2025, 3, 31) == 1743372000);
  CHECK(day_hours(paris, 2025, 3, 30) == 23);
  CHECK(midnight(paris, 2025, 10, 26) == 1761429600);
  CHECK(midnight(paris, 2025, 10, 27) == 1761519600);
  CHECK(day_hours(paris, 2025, 10, 26) == 25);
  CHECK(day_hours(paris, 2025, 6, 1) == 24);
  CHECK(paris.offset_at(1748728800) == 7200); // summer
  CHECK(paris.offset_at(1735689600) == 3600); // 2025-01-01T00:00Z, winter
}

TEST_CASE("report days in America/New_York and Asia/Kathmandu (+05:45) (RP-8, TS-22) [issue-6]",
          "[timezone][issue-6]") {
  TimeZone ny = zone("America/New_York");
  CHECK(midnight(ny, 2025, 3, 9) == 1741496400);
  CHECK(day_hours(ny, 2025, 3, 9) == 23);
  CHECK(midnight(ny, 2025, 11, 2) == 1762056000);
  CHECK(day_hours(ny, 2025, 11, 2) == 25);
  TimeZone kathmandu = zone("Asia/Kathmandu");
  CHECK(kathmandu.offset_at(1735689600) == 5 * 3600 + 45 * 60);
  CHECK(midnight(kathmandu, 2025, 1, 1) == 1735668900);
  CHECK(day_hours(kathmandu, 2025, 1, 1) == 24);
  TimeZone utc = zone("UTC");
  CHECK(midnight(utc, 2025, 1, 1) == 1735689600);
}

TEST_CASE("a skipped midnight begins the day at the change (America/Sao_Paulo, 2018) [issue-6]",
          "[timezone][issue-6]") {
  TimeZone sp = zone("America/Sao_Paulo");
  CHECK(midnight(sp, 2018, 11, 4) == 1541300400);
  CHECK(day_hours(sp, 2018, 11, 4) == 23);
}

TEST_CASE("past the file's last transition the footer's rule decides, as a rule-only zone does [issue-6]",
          "[timezone][issue-6]") {
  TimeZone paris = zone("Europe/Paris");
  CHECK(midnight(paris, 2040, 3, 25) == 2216242800);
  CHECK(day_hours(paris, 2040, 3, 25) == 23);
  CHECK(midnight(paris, 2040, 10, 28) == 2234988000);
  CHECK(day_hours(paris, 2040, 10, 28) == 25);
  auto rule = TimeZone::from_rule("CET-1CEST,M3.5.0,M10.5.0/3", "rule");
  REQUIRE(rule.ok());
  // The same offsets as the file's transitions, every 6 hours from 2000 to 2037.
  for (int64_t t = 946684800; t < 2114380800; t += 6 * 3600) {
    INFO(t);
    REQUIRE(rule->offset_at(t) == paris.offset_at(t));
  }
  auto ny_rule = TimeZone::from_rule("EST5EDT,M3.2.0,M11.1.0", "rule");
  REQUIRE(ny_rule.ok());
  TimeZone ny = zone("America/New_York");
  for (int64_t t = 1199145600; t < 2114380800; t += 6 * 3600) { // 2008-2037 (this rule since 2007)
    INFO(t);
    REQUIRE(ny_rule->offset_at(t) == ny.offset_at(t));
  }
  auto nepal = TimeZone::from_rule("<+0545>-5:45", "rule");
  REQUIRE(nepal.ok());
  CHECK(nepal->offset_at(0) == 20700);
  // Southern hemisphere: daylight time across the new year (Australia/Sydney's rule).
  auto sydney_rule = TimeZone::from_rule("AEST-10AEDT,M10.1.0,M4.1.0/3", "rule");
  REQUIRE(sydney_rule.ok());
  TimeZone sydney = zone("Australia/Sydney");
  for (int64_t t = 1230768000; t < 2114380800; t += 6 * 3600) { // 2009-2037
    INFO(t);
    REQUIRE(sydney_rule->offset_at(t) == sydney.offset_at(t));
  }
}

TEST_CASE("zone names, dates and files that are not what they claim are refused [issue-6]", "[timezone][issue-6]") {
  for (const char *name : {"", "../etc/passwd", "/etc/localtime", "Europe/../../etc/passwd", "Europe/./Paris",
                           "Europe//Paris", "Europe/Paris/", ".hidden", "Europe/Par is", "Europe/Paris\n"}) {
    INFO(name);
    auto z = TimeZone::load(name);
    REQUIRE_FALSE(z.ok());
    CHECK(z.error().code == Errc::bad_request);
  }
  CHECK(TimeZone::load(std::string(65, 'A')).error().code == Errc::bad_request);
  CHECK(TimeZone::load("Mars/Olympus_Mons").error().code == Errc::not_found);
  TimeZone paris = zone("Europe/Paris");
  CHECK(paris.local_midnight(2025, 2, 29).error().code == Errc::bad_request);
  CHECK(paris.local_midnight(2025, 13, 1).error().code == Errc::bad_request);
  CHECK(paris.local_midnight(0, 1, 1).error().code == Errc::bad_request);
  CHECK(paris.local_midnight(10000, 1, 1).error().code == Errc::bad_request);

  auto bytes = read_file(std::string(kZoneinfoDir) + "/Europe/Paris", 1 << 20);
  REQUIRE(bytes.ok());
  std::vector<uint8_t> tzif(bytes->begin(), bytes->end());
  SECTION("truncated anywhere") {
    for (size_t n : {size_t{0}, size_t{3}, size_t{43}, size_t{60}, tzif.size() / 2, tzif.size() - 1}) {
      INFO(n);
      auto z = TimeZone::parse(std::span<const uint8_t>(tzif.data(), n), "cut");
      REQUIRE_FALSE(z.ok());
      CHECK(z.error().code == Errc::bad_request);
    }
  }
  SECTION("not TZif, or an unknown version") {
    auto other = tzif;
    other[0] = 'X';
    CHECK(TimeZone::parse(other, "x").error().message == "not a TZif file");
    other = tzif;
    other[4] = '9';
    CHECK(TimeZone::parse(other, "x").error().code == Errc::bad_request);
  }
  SECTION("a footer rule that is not one") {
    auto other = tzif;
    // The footer is the last line: replace its first character.
    size_t start = other.size() - 2;
    while (other[start - 1] != '\n')
      start--;
    other[start] = '9';
    CHECK(TimeZone::parse(other, "x").error().code == Errc::bad_request);
  }
  for (const char *rule : {"", "C-1", "CET", "CET-1CEST,M13.1.0,M10.5.0", "CET-1CEST,M3.5.0", "CET-1CEST,M3.5.0,J366",
                           "CET-1CEST,M3.5.0,M10.5.0/200", "<+05>", "CET-25"}) {
    INFO(rule);
    CHECK(TimeZone::from_rule(rule, "x").error().code == Errc::bad_request);
  }
}
