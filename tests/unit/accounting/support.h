// Shared by the accounting tests: job records. Temp folders, identities and the test loop come
// from the project's transport_support.h.
#pragma once

#include <catch2/catch.hpp>

#include <memory>
#include <string>

#include "lpm/ids.h"
#include "lpm/protocol/ops.h"
#include "lpm/protocol/outcome.h"
#include "record_store.h"
#include "transport_support.h"

namespace lpm::accounting::test {

using lpm::test::make_identity;
using lpm::test::TempDir;
using lpm::test::TestLoop;

// The SQLite record store in `dir` (state.db), failing the test when it does not open.
inline std::unique_ptr<RecordStore> open_store(const TempDir &dir) {
  auto store = open_sqlite_record_store(dir.path + "/state.db");
  REQUIRE(store.ok());
  return std::move(*store);
}

// A valid printed record for `user` at `event_ms`.
inline proto::JobRecord printed_record(const std::string &user, int64_t event_ms, int64_t pages = 2,
                                       uint64_t size = 1000) {
  proto::JobRecord r;
  r.id = uuid_v7();
  r.event = "printed";
  r.reason = "released";
  r.job = uuid_v7();
  r.user = user;
  r.workstation = uuid_v7();
  r.site = "HQ";
  r.printer = "Printer 2nd floor";
  r.submitted_ms = event_ms; // submitted and printed in the same millisecond: fine for counting
  r.event_ms = event_ms;
  r.format = "application/pdf";
  r.size = size;
  r.pages = pages;
  r.impressions = pages;
  r.sheets = pages;
  r.copies = 1;
  r.counts_source = "estimated";
  return r;
}

// `record` with the release station `station`'s signed outcome of its counts, as the agent
// writes it (agent/release_service.cpp).
inline void sign_record(proto::JobRecord &record, const proto::KeyPair &station) {
  proto::UpdateJobStatusRequest u;
  u.job = record.job;
  u.claim = uuid_v7();
  u.outcome = proto::JobOutcome::completed;
  u.pages = record.pages;
  u.impressions = record.impressions;
  u.sheets = record.sheets;
  u.color_impressions = record.color_impressions;
  u.counts_source = record.counts_source;
  u.printer_name = record.printer;
  u.finished_ms = record.event_ms;
  if (!proto::sign_outcome(station, record.workstation, u).ok()) return;
  record.signed_outcome = proto::outcome_signed_bytes(u, record.workstation);
  record.signature = u.signature;
  record.signer_key = u.signer_key;
  record.signed_by = station.fingerprint();
}

} // namespace lpm::accounting::test
