// What the accounting benchmarks share (lpm_ingest_bench, lpm_post_bench): the job records they
// post, and the WAL settled after their fill.
#pragma once

#include <cstdlib>
#include <string>

#include "lpm/ids.h"
#include "lpm/protocol/keys.h"
#include "lpm/protocol/ops.h"
#include "lpm/protocol/outcome.h"
#include "lpm/sqlite.h"

namespace lpm::bench {

// After a fill: the WAL copied into the database file and emptied, through a connection of its
// own, so the figure that follows does not share the machine with the fill's checkpoint (false
// when SQLite could not).
inline bool settle_wal(const std::string &path) {
  auto db = Db::open(path);
  return db.ok() && (*db)->exec("PRAGMA wal_checkpoint(TRUNCATE)").ok();
}

// The printed record `r`'s counts signed by `station`, as a release station signs them. Safe on
// several threads at once with one station key (its table for G exists once it has signed).
inline void sign_record(proto::JobRecord &r, const proto::KeyPair &station) {
  const std::string &workstation = r.workstation;
  int64_t event_ms = r.event_ms;
  proto::UpdateJobStatusRequest u;
  u.job = r.job;
  u.claim = uuid_v7();
  u.pages = r.pages;
  u.impressions = r.impressions;
  u.sheets = r.sheets;
  u.color_impressions = r.color_impressions;
  u.counts_source = r.counts_source;
  u.printer_name = r.printer;
  u.finished_ms = event_ms;
  if (!proto::sign_outcome(station, workstation, u).ok()) std::abort();
  r.signed_outcome = proto::outcome_signed_bytes(u, workstation);
  r.signature = u.signature;
  r.signer_key = u.signer_key;
  r.signed_by = station.fingerprint();
}

// A printed record of 3 pages at a device, its counts signed by `station` as a release station
// signs them (none when null), or a deleted record without counts.
inline proto::JobRecord job_record(const std::string &user, const std::string &workstation, int64_t event_ms,
                                   bool printed, const proto::KeyPair *station) {
  proto::JobRecord r;
  r.id = uuid_v7();
  r.event = printed ? "printed" : "deleted";
  r.reason = printed ? "released" : "expired";
  r.job = uuid_v7();
  r.user = user;
  r.workstation = workstation;
  r.site = "HQ";
  r.printer = "Hall B";
  r.submitted_ms = event_ms - 60000;
  r.event_ms = event_ms;
  r.format = "application/pdf";
  r.size = 100000;
  if (!printed) return r;
  r.pages = 3;
  r.impressions = 3;
  r.sheets = 3;
  r.color_impressions = 0;
  r.counts_source = "device";
  if (station) sign_record(r, *station);
  return r;
}

} // namespace lpm::bench
