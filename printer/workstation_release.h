// The release conversation with one workstation (DESIGN §4, steps 2-4): connect over TLS pinned
// to the key the directory vouched for, trying its addresses in order; open-release with the
// ticket; list-jobs (every page); then per job acknowledge-job, fetch-document streamed into the
// device, update-job-status. Everything runs on the loop, asynchronously, so the station talks to
// all of a user's workstations at once.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "device.h"
#include "interactive.h"
#include "lpm/protocol/keys.h"
#include "lpm/protocol/ops.h"
#include "lpm/protocol/presign_reserve.h"
#include "lpm/protocol/stream.h"
#include "output.h"

namespace lpm::printer {

class QuotaGate;
class ReportPacer;
class StationJournal;

struct ReleaseSettings {
  uint32_t connect_timeout_ms = 2000;           // connect + TLS handshake, per address
  uint32_t idle_timeout_ms = 30000;             // a workstation silent this long mid-release is given up
  std::string printer_name = "release-station"; // reported with each job's outcome
  // The station's key: it signs every outcome (protocol/outcome.h). Null: outcomes go unsigned
  // (an agent then refuses to count a completed job).
  std::shared_ptr<const proto::Identity> identity;
  // Presignatures of that key made while the station is idle (presign_reserve.h): a badge's ten
  // outcomes are then signed in microseconds each, not a P-256 multiplication each on the loop
  // while the other documents stream. Null, or empty: signed whole.
  std::shared_ptr<proto::PresignReserve> presignatures;
  // Where an outcome is written before it is reported (station_journal.h). Null: not journaled.
  std::shared_ptr<StationJournal> journal;
  // Shared by the conversations of one badge: a workstation's last report waits while the
  // others still move documents (report_pacer.h). Null: every report goes out at once.
  std::shared_ptr<ReportPacer> pacer;
  // The badge's quotas and colour (quota_gate.h): asked before each job is claimed. Null: no
  // limits. `settle` gets each printed job of a counted user: its owner, the workstation the
  // outcome is signed for, the outcome as signed (for settle-quota).
  std::shared_ptr<QuotaGate> quota;
  std::function<void(const std::string &user, const std::string &workstation,
                     const proto::UpdateJobStatusRequest &outcome)>
      settle;
  // Interactive release (interactive.h): after listing, `choose` gets the workstation's jobs
  // and answers once, through `answer`, what to do with each (by job id); jobs it does not
  // name stay held. Null: every job is printed as submitted.
  using Choices = std::map<std::string, JobChoice>;
  std::function<void(const proto::WorkstationRef &, const std::vector<proto::JobInfo> &,
                     std::function<void(Choices)> answer)>
      choose;
  // A ticket the station signed itself while the directory is unreachable (issue 8): the
  // directory's certificate of the station's key, sent with open-release. Empty: the ticket is
  // the directory's.
  proto::SignedPrinterCertificate certificate;
};

// Cap on the jobs one release takes from one workstation (list-jobs pages are followed up to it).
inline constexpr size_t kMaxJobsPerRelease = 10000;

struct WorkstationOutcome {
  std::string name;
  bool reached = false; // the TLS handshake and hello succeeded on one of its addresses
  std::string address;  // the address that answered
  bool resumed = false; // that handshake resumed an earlier TLS session
  uint64_t jobs_listed = 0;
  uint64_t jobs_printed = 0;
  uint64_t jobs_deleted = 0; // interactive: deleted at the user's request
  uint64_t jobs_refused = 0; // refused by quota or colour (quota_gate.h): left held
  Error error{Errc::ok, ""}; // why the conversation stopped early (ok when it did not)
};

// Starts the release on `workstation` and returns at once. `out` receives one line per job and
// one per workstation ("workstation <name>: unreachable (<reason>)" when no address answered);
// `done` runs once, on the loop, after the connection's handles are closed. `tls` is the
// process's one client context (its session cache makes later contacts resume); `device` must
// outlive the release.
void release_workstation(uv_loop_t *loop, std::shared_ptr<proto::TlsContext> tls, Device &device,
                         const ReleaseSettings &settings, const proto::WorkstationRef &workstation,
                         const proto::SignedTicket &ticket, LineFn out,
                         std::function<void(WorkstationOutcome)> done);

} // namespace lpm::printer
