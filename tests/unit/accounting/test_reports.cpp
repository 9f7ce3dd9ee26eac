// Reports from the rollups (issue 6; SPEC RP-2, RP-8, RP-9, RP-11, TS-10, TS-22, AMB-21, AMB-22):
// exact totals on 23- and 25-hour days, a +05:45 zone, every report type against sums computed
// straight from the records, CSV export, and the requests refused.
#include <catch2/catch.hpp>

#include <map>
#include <random>

#include "accounting/support.h"
#include "lpm/sqlite.h"
#include "record_store.h"
#include "reports.h"

using namespace lpm;
using namespace lpm::accounting;
using lpm::accounting::test::open_store;
using lpm::accounting::test::printed_record;
using lpm::accounting::test::TempDir;

namespace {

constexpr int64_t kHour = 3600 * 1000;

// Ingests, failing the test with the store's message.
void ingest(RecordStore &store, const std::vector<proto::JobRecord> &records, int64_t now,
            const std::vector<IngestFacts> &facts = {}) {
  auto r = facts.empty() ? store.ingest(records, now) : store.ingest_with(records, facts, now);
  INFO((r.ok() ? std::string() : r.error().message));
  REQUIRE(r.ok());
}

TimeZone zone(const char *name) {
  auto z = TimeZone::load(name);
  REQUIRE(z.ok());
  return std::move(*z);
}

CivilDate date(const char *text) {
  auto d = parse_civil_date(text);
  REQUIRE(d.ok());
  return *d;
}

int64_t utc_ms(const char *date_text, int hour, int minute = 0) {
  CivilDate d = date(date_text);
  return (days_between(CivilDate{}, d) * 24 * 60 + hour * 60 + minute) * 60 * 1000;
}

std::vector<std::string> measures(const Usage &u) {
  std::vector<std::string> row;
  for (uint64_t v : {u.impressions, u.color_impressions, u.mono_impressions, u.duplex_impressions,
                     u.simplex_impressions, u.pages, u.sheets, u.printed_jobs, u.deleted_jobs, u.deleted_pages})
    row.push_back(std::to_string(v));
  return row;
}

// One printed record of one impression every hour from `first` (UTC) for `hours` hours.
std::vector<proto::JobRecord> hourly(const std::string &user, int64_t first, int hours) {
  std::vector<proto::JobRecord> records;
  for (int h = 0; h < hours; h++) records.push_back(printed_record(user, first + h * kHour, 1));
  return records;
}

// The impressions column of a daily report, per day.
std::vector<std::string> daily_impressions(RecordStore &store, const char *zone_name, const char *from,
                                           const char *to) {
  ReportRequest req;
  req.type = ReportType::daily;
  req.from = date(from);
  req.to = date(to);
  auto table = run_report(store, zone(zone_name), req);
  REQUIRE(table.ok());
  std::vector<std::string> out;
  for (const auto &row : table->rows) out.push_back(row[0] + " " + row[1]);
  return out;
}

} // namespace

TEST_CASE("daily reports on the daylight-saving days of Paris and New York have 23 and 25 hours "
          "[issue-6][RP-8][AMB-21][TS-22]",
          "[accounting][reports][issue-6]") {
  TempDir dir;
  auto store = open_store(dir);
  std::string user = uuid_v7();
  // One impression per UTC hour around each change, so a day's total is its length in hours.
  for (const char *around : {"2026-03-06", "2026-03-27", "2026-10-23", "2026-10-30"})
    ingest(*store, hourly(user, utc_ms(around, 0), 24 * 5), utc_ms(around, 0));

  CHECK(daily_impressions(*store, "Europe/Paris", "2026-03-28", "2026-03-30") ==
        std::vector<std::string>{"2026-03-28 24", "2026-03-29 23", "2026-03-30 24"});
  CHECK(daily_impressions(*store, "Europe/Paris", "2026-10-24", "2026-10-26") ==
        std::vector<std::string>{"2026-10-24 24", "2026-10-25 25", "2026-10-26 24"});
  CHECK(daily_impressions(*store, "America/New_York", "2026-03-07", "2026-03-09") ==
        std::vector<std::string>{"2026-03-07 24", "2026-03-08 23", "2026-03-09 24"});
  CHECK(daily_impressions(*store, "America/New_York", "2026-10-31", "2026-11-02") ==
        std::vector<std::string>{"2026-10-31 24", "2026-11-01 25", "2026-11-02 24"});

  SECTION("a summary of the short and the long day alone") {
    ReportRequest req;
    req.from = req.to = date("2026-03-29");
    auto table = run_report(*store, zone("Europe/Paris"), req);
    REQUIRE(table.ok());
    REQUIRE(table->rows.size() == 1);
    CHECK(table->rows[0][0] == "23");
    CHECK(table->to_ms - table->from_ms == 23 * kHour);
    req.from = req.to = date("2026-11-01");
    table = run_report(*store, zone("America/New_York"), req);
    REQUIRE(table.ok());
    REQUIRE(table->rows.size() == 1);
    CHECK(table->rows[0][0] == "25");
  }
}

TEST_CASE("days in Asia/Kathmandu begin at 18:15 UTC [issue-6][RP-8]", "[accounting][reports][issue-6]") {
  TempDir dir;
  auto store = open_store(dir);
  std::string user = uuid_v7();
  // Just before and at local midnight of 2026-06-02 (+05:45), then one in the middle of that day.
  int64_t midnight = utc_ms("2026-06-01", 18, 15);
  ingest(*store,
         {printed_record(user, midnight - 1, 1), printed_record(user, midnight, 2),
          printed_record(user, midnight + 12 * kHour, 4)},
         midnight);
  CHECK(daily_impressions(*store, "Asia/Kathmandu", "2026-06-01", "2026-06-02") ==
        std::vector<std::string>{"2026-06-01 1", "2026-06-02 6"});
  // The same records in UTC all fall on 2026-06-01 and 06-02 differently.
  CHECK(daily_impressions(*store, "UTC", "2026-06-01", "2026-06-02") ==
        std::vector<std::string>{"2026-06-01 3", "2026-06-02 4"});
}

TEST_CASE("every report type agrees with sums computed from the records, in four zones [issue-6][RP-2]",
          "[accounting][reports][issue-6]") {
  TempDir dir;
  auto store = open_store(dir);
  std::mt19937_64 rng(20261125);
  auto pick = [&](uint64_t n) { return rng() % n; };
  const std::vector<std::string> users = {uuid_v7(), uuid_v7(), uuid_v7(), uuid_v7(), uuid_v7()};
  const std::vector<std::string> printers = {"P-1", "P-2", "P-3", "P-4"};
  const std::vector<std::string> groups = {"", "g-sales", "g-lab", "g-ops"};
  const std::vector<std::string> departments = {"", "d-east", "d-west"};
  struct Stamped {
    proto::JobRecord record;
    Stamp stamp;
  };
  std::vector<Stamped> all;
  int64_t begin = utc_ms("2026-03-20", 0), span = 17 * 24 * kHour; // across Europe's and America's changes
  for (int batch = 0; batch < 30; batch++) {
    std::vector<proto::JobRecord> records;
    std::vector<IngestFacts> facts;
    for (int i = 0; i < 100; i++) {
      proto::JobRecord r = printed_record(users[pick(users.size())], begin + static_cast<int64_t>(pick(span)),
                                          static_cast<int64_t>(pick(20)));
      r.printer = printers[pick(printers.size())];
      r.site = pick(2) ? "HQ" : "Lab";
      r.impressions = pick(10) == 0 ? -1 : static_cast<int64_t>(pick(30));
      r.color_impressions = pick(3) == 0 ? -1 : static_cast<int64_t>(pick(30));
      r.duplex = pick(2) == 0;
      if (pick(5) == 0) r.event = "deleted", r.reason = "expired";
      IngestFacts f;
      f.stamp = {groups[pick(groups.size())], departments[pick(departments.size())]};
      records.push_back(r);
      facts.push_back(f);
      all.push_back({r, f.stamp});
    }
    ingest(*store, records, begin, facts);
    // A repeat of a batch changes nothing (its records are duplicates).
    if (batch % 10 == 0) REQUIRE(store->ingest_with(records, facts, begin)->duplicates == 100);
  }

  struct Case {
    ReportLevel level;
    std::string entity;
  };
  const std::vector<Case> cases = {{ReportLevel::enterprise, ""},     {ReportLevel::group, "g-lab"},
                                   {ReportLevel::department, "d-east"}, {ReportLevel::user, users[0]},
                                   {ReportLevel::user, users[3]},      {ReportLevel::group, "g-none-such"}};
  for (const char *zone_name : {"UTC", "Europe/Paris", "America/New_York", "Asia/Kathmandu"}) {
    TimeZone z = zone(zone_name);
    for (int trial = 0; trial < 6; trial++) {
      CivilDate from = civil_date_from_days(days_between(CivilDate{}, date("2026-03-19")) +
                                            static_cast<int64_t>(pick(16)));
      CivilDate to = civil_date_from_days(days_between(CivilDate{}, from) + static_cast<int64_t>(pick(5)));
      int64_t from_ms = *z.local_midnight(from.year, from.month, from.day) * 1000;
      CivilDate after = next_day(to);
      int64_t to_ms = *z.local_midnight(after.year, after.month, after.day) * 1000;
      for (const Case &c : cases) {
        auto in_scope = [&](const Stamped &s) {
          if (s.record.event_ms < from_ms || s.record.event_ms >= to_ms) return false;
          switch (c.level) {
          case ReportLevel::enterprise:
            return true;
          case ReportLevel::group:
            return s.stamp.print_group == c.entity;
          case ReportLevel::department:
            return s.stamp.department == c.entity;
          case ReportLevel::user:
            return s.record.user == c.entity;
          }
          return false;
        };
        Usage total;
        std::map<std::string, Usage> by_printer, by_user;
        for (const Stamped &s : all)
          if (in_scope(s)) {
            total.add(usage_of(s.record));
            by_printer[s.record.printer].add(usage_of(s.record));
            by_user[s.record.user].add(usage_of(s.record));
          }
        INFO(zone_name << " " << format_civil_date(from) << ".." << format_civil_date(to) << " "
                       << report_level_name(c.level) << " " << c.entity);
        ReportRequest req;
        req.level = c.level;
        req.entity = c.entity;
        req.from = from;
        req.to = to;

        req.type = ReportType::summary;
        auto summary = run_report(*store, z, req);
        REQUIRE(summary.ok());
        if (total.empty()) {
          CHECK(summary->no_data);
        } else {
          REQUIRE(summary->rows.size() == 1);
          CHECK(summary->rows[0] == measures(total));
        }

        req.type = ReportType::by_printer;
        auto printers_table = run_report(*store, z, req);
        REQUIRE(printers_table.ok());
        std::map<std::string, std::vector<std::string>> got;
        for (const auto &row : printers_table->rows)
          got[row[0]] = std::vector<std::string>(row.begin() + 1, row.end());
        std::map<std::string, std::vector<std::string>> want;
        for (const auto &[printer, u] : by_printer)
          if (!u.empty()) want[printer] = measures(u);
        CHECK(got == want);

        req.type = ReportType::daily;
        auto daily = run_report(*store, z, req);
        REQUIRE(daily.ok());
        Usage days_total;
        for (const auto &row : daily->rows) {
          // Each day's row equals the summary of that day alone.
          ReportRequest one = req;
          one.type = ReportType::summary;
          one.from = one.to = date(row[0].c_str());
          auto day = run_report(*store, z, one);
          REQUIRE(day.ok());
          std::vector<std::string> rest(row.begin() + 1, row.end());
          if (day->no_data)
            CHECK(rest == measures(Usage{}));
          else
            CHECK(rest == day->rows[0]);
        }
        CHECK(daily->no_data == total.empty());

        if (c.level != ReportLevel::user) {
          req.type = ReportType::top_users;
          req.top = 3;
          auto top = run_report(*store, z, req);
          REQUIRE(top.ok());
          std::vector<std::pair<std::string, Usage>> ranked(by_user.begin(), by_user.end());
          std::stable_sort(ranked.begin(), ranked.end(),
                           [](const auto &a, const auto &b) { return a.second.impressions > b.second.impressions; });
          ranked.erase(std::remove_if(ranked.begin(), ranked.end(), [](const auto &p) { return p.second.empty(); }),
                       ranked.end());
          if (ranked.size() > 3) ranked.resize(3);
          REQUIRE(top->rows.size() == ranked.size());
          for (size_t i = 0; i < ranked.size(); i++) {
            CHECK(top->rows[i][0] == std::to_string(i + 1));
            CHECK(top->rows[i][1] == ranked[i].first);
            CHECK(top->rows[i][2] == ""); // no name: the directory never listed them here
            CHECK(std::vector<std::string>(top->rows[i].begin() + 3, top->rows[i].end()) ==
                  measures(ranked[i].second));
          }
        }
      }
    }
  }
}

TEST_CASE("a user's print group at ingest stays with those records when the group changes or is deleted "
          "[issue-6][RP-11]",
          "[accounting][reports][issue-6]") {
  TempDir dir;
  auto store = open_store(dir);
  std::string user = uuid_v7();
  int64_t march = utc_ms("2026-03-10", 12), april = utc_ms("2026-04-10", 12);
  ingest(*store, {printed_record(user, march, 5)}, march, {IngestFacts{{}, {"g-old", "d-1"}}});
  ingest(*store, {printed_record(user, april, 7)}, april, {IngestFacts{{}, {"g-new", "d-1"}}});
  auto impressions = [&](ReportLevel level, const char *entity) -> std::string {
    ReportRequest req;
    req.level = level;
    req.entity = entity;
    req.from = date("2026-03-01");
    req.to = date("2026-04-30");
    auto t = run_report(*store, zone("UTC"), req);
    REQUIRE(t.ok());
    return t->no_data ? "no data" : t->rows[0][0];
  };
  CHECK(impressions(ReportLevel::group, "g-old") == "5");
  CHECK(impressions(ReportLevel::group, "g-new") == "7");
  CHECK(impressions(ReportLevel::department, "d-1") == "12");
  CHECK(impressions(ReportLevel::user, user.c_str()) == "12");
}

TEST_CASE("by-group and by-department list what had activity in the window, a deleted group by its last name "
          "[issue-6][RP-11]",
          "[accounting][reports][issue-6]") {
  TempDir dir;
  auto store = open_store(dir);
  std::string ann = uuid_v7(), bob = uuid_v7();
  // The directory named both groups once; g-old was deleted since (nobody lists it any more).
  REQUIRE(store
              ->replace_people({proto::PersonFacts{ann, "Ann", "ann@x.y", "Sales", "g-old", "Old floor"}},
                               utc_ms("2026-03-01", 0))
              .ok());
  REQUIRE(store
              ->replace_people({proto::PersonFacts{ann, "Ann", "ann@x.y", "Sales", "g-new", "New floor"},
                                proto::PersonFacts{bob, "Bob", "bob@x.y", "IT", "", ""}},
                               utc_ms("2026-04-01", 0))
              .ok());
  int64_t march = utc_ms("2026-03-10", 12), april = utc_ms("2026-04-10", 12);
  ingest(*store, {printed_record(ann, march, 5)}, march, {IngestFacts{{}, {"g-old", "Sales"}}});
  ingest(*store, {printed_record(ann, april, 7), printed_record(bob, april, 9)}, april,
         {IngestFacts{{}, {"g-new", "Sales"}}, IngestFacts{{}, {"", "IT"}}});
  auto table = [&](ReportType type, const char *from, const char *to) {
    ReportRequest req;
    req.type = type;
    req.from = date(from);
    req.to = date(to);
    auto t = run_report(*store, zone("UTC"), req);
    REQUIRE(t.ok());
    return *t;
  };
  auto groups = table(ReportType::by_group, "2026-03-01", "2026-04-30");
  REQUIRE(groups.columns.size() > 3);
  CHECK(groups.columns[0] == "print group");
  CHECK(groups.columns[1] == "name");
  REQUIRE(groups.rows.size() == 2); // most impressions first; bob's records had no group
  CHECK(groups.rows[0][0] == "g-new");
  CHECK(groups.rows[0][1] == "New floor");
  CHECK(groups.rows[0][2] == "7");
  CHECK(groups.rows[1][0] == "g-old");
  CHECK(groups.rows[1][1] == "Old floor"); // deleted, still selectable for the dates it existed
  CHECK(groups.rows[1][2] == "5");
  // Only the date range excludes a group (RP-11).
  auto april_only = table(ReportType::by_group, "2026-04-01", "2026-04-30");
  REQUIRE(april_only.rows.size() == 1);
  CHECK(april_only.rows[0][0] == "g-new");
  auto departments = table(ReportType::by_department, "2026-03-01", "2026-04-30");
  REQUIRE(departments.rows.size() == 2);
  CHECK(departments.rows[0] ==
        std::vector<std::string>{"Sales", "12", "0", "12", "0", "12", "12", "12", "2", "0", "0"});
  CHECK(departments.rows[1][0] == "IT");
  CHECK(departments.rows[1][1] == "9");
  CHECK(table(ReportType::by_department, "2026-05-01", "2026-05-31").no_data);

  ReportRequest at_group_level;
  at_group_level.level = ReportLevel::group;
  at_group_level.entity = "g-new";
  at_group_level.type = ReportType::by_department;
  at_group_level.from = at_group_level.to = date("2026-04-10");
  auto refused = run_report(*store, zone("UTC"), at_group_level);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().message == "by-department is a report of the enterprise");
}

TEST_CASE("an empty selection says so [issue-6][RP-9][TS-18]", "[accounting][reports][issue-6]") {
  TempDir dir;
  auto store = open_store(dir);
  ReportRequest req;
  req.from = date("2026-01-01");
  req.to = date("2026-01-31");
  for (ReportType type :
       {ReportType::summary, ReportType::by_printer, ReportType::by_workstation, ReportType::by_site,
        ReportType::daily, ReportType::top_users, ReportType::by_group, ReportType::by_department}) {
    req.type = type;
    auto t = run_report(*store, zone("Europe/Paris"), req);
    REQUIRE(t.ok());
    CHECK(t->no_data);
    CHECK(t->rows.empty());
    CHECK(report_text(*t).find("no data for this selection") != std::string::npos);
  }
}

TEST_CASE("CSV export: UTF-8 with a byte-order mark, RFC 4180 quoting, formulas neutralised "
          "[issue-6][RP-6][TS-10][AMB-22]",
          "[accounting][reports][issue-6]") {
  TempDir dir;
  auto store = open_store(dir);
  std::string user = uuid_v7();
  int64_t t = utc_ms("2026-05-05", 9);
  std::vector<proto::JobRecord> records;
  for (const char *printer : {"=HYPERLINK(\"http://x\")", "+1", "-2", "@SUM(A1)", "Imprimante étage 2, \"nord\"",
                              "plain"}) {
    records.push_back(printed_record(user, t, 1));
    records.back().printer = printer;
  }
  ingest(*store, records, t);
  ReportRequest req;
  req.type = ReportType::by_printer;
  req.from = req.to = date("2026-05-05");
  auto table = run_report(*store, zone("UTC"), req);
  REQUIRE(table.ok());
  std::string csv = report_csv(*table);
  REQUIRE(csv.rfind("\xEF\xBB\xBF", 0) == 0);
  CHECK(csv.find("printer,impressions,color impressions,") == 3);
  CHECK(csv.find("\r\n'+1,1,") != std::string::npos);
  CHECK(csv.find("\r\n'-2,1,") != std::string::npos);
  CHECK(csv.find("\r\n'@SUM(A1),1,") != std::string::npos);
  CHECK(csv.find("\r\n\"'=HYPERLINK(\"\"http://x\"\")\",1,") != std::string::npos);
  CHECK(csv.find("\r\n\"Imprimante étage 2, \"\"nord\"\"\",1,") != std::string::npos);
  CHECK(csv.find("\r\nplain,1,") != std::string::npos);
  // Every line ends CRLF, none is left open.
  CHECK(csv.size() >= 2);
  CHECK(csv.substr(csv.size() - 2) == "\r\n");
}

TEST_CASE("report requests refused with the reason [issue-6]", "[accounting][reports][issue-6]") {
  TempDir dir;
  auto store = open_store(dir);
  TimeZone utc = zone("UTC");
  ReportRequest req;
  req.from = date("2026-02-01");
  req.to = date("2026-02-28");
  auto refused = [&](const ReportRequest &r, const char *words) {
    auto t = run_report(*store, utc, r);
    REQUIRE_FALSE(t.ok());
    CHECK(t.error().code == Errc::bad_request);
    CHECK_THAT(t.error().message, Catch::Contains(words));
  };
  ReportRequest r = req;
  r.entity = "someone";
  refused(r, "names no group");
  r = req;
  r.level = ReportLevel::group;
  refused(r, "needs its group");
  r = req;
  r.level = ReportLevel::user;
  r.entity = "u";
  r.type = ReportType::top_users;
  refused(r, "top users is a report");
  r = req;
  r.to = date("2026-01-31");
  refused(r, "ends (2026-01-31) before it begins");
  r = req;
  r.from = date("2020-01-01");
  refused(r, "at most 1100");

  CHECK_FALSE(parse_civil_date("2026-02-30").ok());
  CHECK_FALSE(parse_civil_date("2026-2-3").ok());
  CHECK_FALSE(parse_civil_date("0000-01-01").ok());
  CHECK_FALSE(parse_report_type("weekly").ok());
  CHECK_FALSE(parse_report_level("site").ok());
  // A zone whose midnight is not on a quarter hour (as historic local mean times were).
  auto odd = TimeZone::from_rule("<+0020>-0:20", "Test/Twenty");
  REQUIRE(odd.ok());
  auto t = run_report(*store, *odd, req);
  REQUIRE_FALSE(t.ok());
  CHECK_THAT(t.error().message, Catch::Contains("quarter hour"));
}
