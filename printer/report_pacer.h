// Pages first, bookkeeping after (issue 5, the 10-workstation release): while a badge's release
// still moves documents to the device, the workstations whose last job is already done there
// wait a little before sending update-job-status. That report sets off the heaviest work of a
// release that is not on the way to paper: the agent verifies the station's signature, commits
// the job's new state, queues its accounting record and tells the directory; the station signs
// nothing more for it (the outcome was signed and journaled when the device finished, so a
// station killed while the report waits still reports it at its next start, late_reports.h).
//
// Only a conversation's last job is held back: a workstation with more jobs reports each at
// once, since its next job waits on that answer. A report waits at most `max_delay_ms`, however
// long the other transfers take.
//
//   auto pacer = std::make_shared<ReportPacer>(loop, 1000);   // one per badge's fan-out
//   auto mark = pacer->transfer();          // claimed: a document is on its way
//   ...                                     // device finished: mark.reset()
//   pacer->after_transfers([=] { send(); });
//
// Loop thread only.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "lpm/protocol/loop_timer.h"

namespace lpm::printer {

class ReportPacer : public std::enable_shared_from_this<ReportPacer> {
public:
  ReportPacer(uv_loop_t *loop, uint64_t max_delay_ms);
  ReportPacer(const ReportPacer &) = delete;
  ReportPacer &operator=(const ReportPacer &) = delete;

  // A document on its way to the device; the transfer ends when the returned mark is released.
  std::shared_ptr<void> transfer();
  // Runs fn once no transfer is under way (at once when none is), and after max_delay_ms at the
  // latest; in the order they were given.
  void after_transfers(std::function<void()> fn);

  size_t transfers() const { return transfers_; }
  size_t waiting() const { return waiting_.size(); }

private:
  void ended();
  void flush();

  uint64_t max_delay_ms_;
  size_t transfers_ = 0;
  std::vector<std::function<void()>> waiting_;
  proto::LoopTimer timer_;
};

} // namespace lpm::printer
