#include "rollups.h"

#include <algorithm>

namespace lpm::accounting {
namespace {

uint64_t known(int64_t count) {
  return count < 0 ? 0 : static_cast<uint64_t>(count);
}

} // namespace

void Usage::add(const Usage &o) {
  printed_jobs += o.printed_jobs;
  pages += o.pages;
  impressions += o.impressions;
  color_impressions += o.color_impressions;
  mono_impressions += o.mono_impressions;
  duplex_impressions += o.duplex_impressions;
  simplex_impressions += o.simplex_impressions;
  sheets += o.sheets;
  deleted_jobs += o.deleted_jobs;
  deleted_pages += o.deleted_pages;
  printed_bytes += o.printed_bytes;
}

Usage usage_of(const proto::JobRecord &r) {
  Usage u;
  if (r.event == "deleted") {
    u.deleted_jobs = 1;
    u.deleted_pages = known(r.pages);
    return u;
  }
  if (r.event != "printed") return u;
  u.printed_jobs = 1;
  u.pages = known(r.pages);
  u.impressions = known(r.impressions);
  // A colour count larger than the impressions (a confused device) is capped: mono never goes
  // below zero and color + mono always equals impressions.
  u.color_impressions = std::min(known(r.color_impressions), u.impressions);
  u.mono_impressions = u.impressions - u.color_impressions;
  (r.duplex ? u.duplex_impressions : u.simplex_impressions) = u.impressions;
  u.sheets = known(r.sheets);
  u.printed_bytes = r.size;
  return u;
}

RollupPlace rollup_place(const proto::JobRecord &r, const Stamp &stamp) {
  RollupPlace p;
  p.quarter = bucket_of(r.event_ms, kQuarterMs);
  p.day = bucket_of(r.event_ms, kDayMs);
  p.printer = r.printer;
  p.workstation = r.workstation;
  p.site = r.site;
  p.user = r.user;
  p.print_group = stamp.print_group;
  p.department = stamp.department;
  return p;
}

void add_to_rollups(RollupDelta &delta, const proto::JobRecord &record, const Stamp &stamp) {
  Usage usage = usage_of(record);
  if (usage.empty()) return;
  add_to_rollups(delta, rollup_place(record, stamp), usage);
}

void add_to_rollups(RollupDelta &delta, const RollupPlace &place, const Usage &usage) {
  struct Scope {
    char scope;
    std::string_view key;
  };
  Scope scopes[4] = {{'e', {}}, {'g', place.print_group}, {'d', place.department}, {'u', place.user}};
  struct Item {
    char item;
    std::string_view key;
  };
  Item items[5] = {
      {'\0', {}}, {'p', place.printer}, {'w', place.workstation}, {'s', place.site}, {'u', place.user}};
  const std::pair<Granularity, int64_t> buckets[2] = {{Granularity::quarter, place.quarter},
                                                      {Granularity::day, place.day}};
  RollupKey key;
  for (const auto &[granularity, bucket] : buckets) {
    key.granularity = granularity;
    key.bucket = bucket;
    for (const Scope &s : scopes) {
      if (s.scope != 'e' && s.key.empty()) continue; // no group or department stamped, no user
      key.scope = s.scope;
      key.scope_key = s.key;
      for (const Item &i : items) {
        if (s.scope == 'u' && i.item == 'u') continue; // the user scope's total
        key.item = i.item;
        key.item_key = i.key;
        delta[key].add(usage);
      }
    }
  }
}

} // namespace lpm::accounting
