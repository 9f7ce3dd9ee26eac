// The station's journal of outcomes (DESIGN §4 step 4, issue 5): what the station sent to its
// device and is about to report. An entry is written and committed (state.db, WAL,
// synchronous=FULL) BEFORE update-job-status goes to the workstation, and removed once the
// workstation answered. A station killed in between finds the entry at its next start and
// reports it then with report-outcome (late_reports.h): a job may at worst print twice, but is
// never counted twice (the agent counts one record per claim).
//
// How the release calls it (printer/workstation_release.cpp, once the device took the job):
//
//   proto::UpdateJobStatusRequest req = ...;                   // every field, then:
//   sign_outcome(identity.key(), workstation.id, req);         // protocol/outcome.h
//   journal->record(journal_entry(workstation, job, req));     // before sending; on error
//                                                              // send anyway, and log it
//   ... peer->call(update_job_status, req) -> on an answer (ok, or refused by the agent):
//   journal->done(req.job, req.claim);                         // not when the connection broke
//
// An entry whose answer was "expired" (the claim lapsed meanwhile) may be kept instead: the
// late report then records it (the agent accepts a lapsed claim's report from its station).
// Table journal is created by StationStore::open.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "lpm/error.h"
#include "lpm/protocol/ops.h"
#include "station_store.h"

namespace lpm::printer {

struct JournalEntry {
  proto::WorkstationRef workstation;    // id, name, addresses, port, fingerprint: where to report
  std::string job;                      // job id
  std::string title;                    // for the station's output lines
  std::string claim;                    // the claim the outcome is for
  proto::UpdateJobStatusRequest report; // the signed outcome, sent as is
  int64_t recorded_ms = 0;              // set by record() (wall clock)
};

// A printed job's quota charge (AMB-17): settle-quota for its owner under the badge-in's
// reservation. Recorded in the same commit as the job's journal entry, removed once the
// directory answered; a station killed before that sends it at its next start.
struct SettleEntry {
  std::string reservation;
  std::string user;                     // the job's owner
  std::string workstation;              // the workstation id the outcome is signed for
  proto::UpdateJobStatusRequest report; // the signed outcome (its job and claim key the entry)
  int64_t recorded_ms = 0;              // set by record() (wall clock)
};

// An entry for `report` (whose job and claim it takes) on `workstation`.
JournalEntry journal_entry(const proto::WorkstationRef &workstation, const proto::JobInfo &job,
                           const proto::UpdateJobStatusRequest &report);

class StationJournal {
public:
  // The journal in `store`'s state.db; the journal keeps the store open.
  static std::shared_ptr<StationJournal> open(std::shared_ptr<StationStore> store);

  // Writes the entry and commits it durably before returning (replacing an entry of the same
  // job and claim). bad_request for an entry without job, claim or workstation address.
  // With `settle`, its quota charge is written in the same commit.
  Status record(const JournalEntry &entry, const SettleEntry *settle = nullptr);
  // Removes the entry of (job, claim); ok when there is none.
  Status done(const std::string &job, const std::string &claim);
  // Every entry, oldest first (at most `max`).
  Result<std::vector<JournalEntry>> pending(size_t max = 10000);
  // The quota charge of (job, claim) was answered: removed; ok when there is none.
  Status settle_done(const std::string &job, const std::string &claim);
  // Every quota charge not yet answered, oldest first (at most `max`).
  Result<std::vector<SettleEntry>> pending_settles(size_t max = 10000);

private:
  explicit StationJournal(std::shared_ptr<StationStore> store) : store_(std::move(store)) {}
  std::shared_ptr<StationStore> store_;
};

} // namespace lpm::printer
