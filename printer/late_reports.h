// Late reports (DESIGN §4 step 4, issue 5): at start, the station reports the outcomes its
// journal still holds (station_journal.h): a previous run was killed after the device took a
// job and before the workstation answered update-job-status. For each workstation with pending
// entries it connects, pinned to the key stored in the entry, trying its addresses in order, and
// sends `report-outcome` for each entry (no ticket needed: the agent accepts the report from the
// station key that acknowledged the claim).
//
// An entry is removed when the agent answered: counted, already counted, or a refusal that no
// retry can change (not_found: the job is gone; forbidden; invalid_signature; bad_request;
// conflict). It is kept for the next start when the workstation is unreachable, the connection
// broke, or the agent said unavailable (another station is releasing the job right now).
//
// How `run` calls it (printer/commands.cpp), before taking badges:
//
//   auto journal = StationJournal::open(store);            // std::shared_ptr<StationStore>
//   report_pending(loop, tls, journal, settings, out, [](LateReportSummary) {});
//
// It runs on the loop alongside everything else; `done` runs once, on the loop, after every
// connection it opened is closed (at once, before report_pending returns, when nothing is
// pending). Output lines: "reported \"<title>\" to <workstation>: counted" (or "already
// counted", "state <state>"), "dropped late report of \"<title>\" for <workstation>: <why>",
// "workstation <name>: late reports kept for the next start (<why>)".
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <memory>

#include "lpm/protocol/stream.h"
#include "output.h"
#include "station_journal.h"
#include "workstation_release.h"

namespace lpm::printer {

struct LateReportSummary {
  uint64_t pending = 0;  // entries found in the journal
  uint64_t reported = 0; // answered and removed (counted or already counted)
  uint64_t counted = 0;  // of those, the reports that queued the job's record
  uint64_t dropped = 0;  // refused for good and removed
  uint64_t kept = 0;     // kept for the next start
};

void report_pending(uv_loop_t *loop, std::shared_ptr<proto::TlsContext> tls,
                    std::shared_ptr<StationJournal> journal, const ReleaseSettings &settings, LineFn out,
                    std::function<void(LateReportSummary)> done);

} // namespace lpm::printer
