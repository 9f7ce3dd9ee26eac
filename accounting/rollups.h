// Rollups (issue 6, DESIGN §4): usage summed at ingest into 15-minute and UTC-day buckets, so a
// report over millions of records reads a few thousand rows whatever the time zone it asks for.
//
// Every 15-minute bucket begins at a multiple of 15 minutes in every zone in use (offsets are whole
// quarters of an hour: +05:45, -03:30), so a local day is a whole number of quarters; its UTC days
// fully inside a report's window are read from the day buckets, the edges from the quarters.
//
// A row is (scope, scope key, item, bucket, item key) -> Usage:
//   scope: e enterprise (key ""), g print group, d department (keys: the ids stamped at ingest),
//          u user (key: the user's id)
//   item:  "" the scope's total (item key ""), p per printer, w per workstation, s per site,
//          u per user (not in a user's own scope: its total is that user's)
// An agent's batch is one workstation's records, nearly always of one user, so the user scope
// costs a batch a few rows, where an index of the records by user cost every record an entry
// (schema 7 replaced that index with this scope).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "lpm/protocol/ops.h"

namespace lpm::accounting {

inline constexpr int64_t kQuarterMs = 15 * 60 * 1000;
inline constexpr int64_t kDayMs = 24 * 60 * 60 * 1000;

enum class Granularity : char { quarter = 'q', day = 'd' };

// What reports add up (SPEC RP-2: impressions are sides of sheets with toner, pages the document's
// surfaces). Unknown counts (-1 in a record) add nothing; an unknown colour count counts the
// impressions as mono; duplex/simplex follow the record's duplex flag.
struct Usage {
  uint64_t printed_jobs = 0;
  uint64_t pages = 0;
  uint64_t impressions = 0;
  uint64_t color_impressions = 0;
  uint64_t mono_impressions = 0;
  uint64_t duplex_impressions = 0;
  uint64_t simplex_impressions = 0;
  uint64_t sheets = 0;
  uint64_t deleted_jobs = 0;
  uint64_t deleted_pages = 0;
  uint64_t printed_bytes = 0; // the printed documents' sizes (report-totals)

  void add(const Usage &other);
  bool empty() const { return printed_jobs == 0 && deleted_jobs == 0; }
  bool operator==(const Usage &) const = default;
};

// A record's own contribution.
Usage usage_of(const proto::JobRecord &record);

// Who the user was at ingest: the print group and department the directory knew (ids, "" when none).
struct Stamp {
  std::string print_group;
  std::string department;
};

struct RollupKey {
  Granularity granularity = Granularity::quarter;
  char scope = 'e';
  std::string scope_key;
  char item = '\0'; // '\0' = the scope's total (stored as "")
  int64_t bucket = 0; // quarters or days since the Unix epoch
  std::string item_key;
  auto tie() const { return std::tie(granularity, scope, scope_key, item, bucket, item_key); }
  bool operator<(const RollupKey &o) const { return tie() < o.tie(); }
};

using RollupDelta = std::map<RollupKey, Usage>;

// Adds one record's contribution to every row it belongs to, at both granularities.
void add_to_rollups(RollupDelta &delta, const proto::JobRecord &record, const Stamp &stamp);

// What decides the rows a record's usage goes to. The records of an agent's batch share nearly
// all of it (one user, workstation and site, a few printers, a few quarters), so ingest sums a
// batch's usage per place first and adds each place's sum once, not each record's 38 rows. The
// views point into the records and stamps, which must outlive the place.
struct RollupPlace {
  int64_t quarter = 0;
  int64_t day = 0;
  std::string_view printer, workstation, site, user, print_group, department;
  auto tie() const {
    return std::tie(quarter, day, printer, workstation, site, user, print_group, department);
  }
  bool operator<(const RollupPlace &o) const { return tie() < o.tie(); }
  bool operator==(const RollupPlace &o) const { return tie() == o.tie(); }
};
RollupPlace rollup_place(const proto::JobRecord &record, const Stamp &stamp);
void add_to_rollups(RollupDelta &delta, const RollupPlace &place, const Usage &usage);

// Floor division for bucket numbers (event times before 1970 stay in the right bucket).
inline int64_t bucket_of(int64_t ms, int64_t width_ms) {
  int64_t q = ms / width_ms;
  return (ms % width_ms < 0) ? q - 1 : q;
}

} // namespace lpm::accounting
