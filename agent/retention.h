// Retention (DESIGN §4, issue 3): unprinted jobs go after UnprintedJobsLifespan hours, printed
// jobs after PrintAndKeepLifespan hours, empty per-user spool folders after
// DeleteEmptyUserFoldersLifespan days (when DeleteEmptyUserFolders is on). Each deleted job
// queues a *deleted* record (reason "expired") when TrackDeletedJobs is on, in the transaction
// that deletes it.
//
// Deadlines are wall-clock times. Event-loop timers run on the monotonic clock, which stops
// while the machine sleeps, so the daemon calls tick() every few seconds and a run happens when
// a minute of wall-clock time has passed, when the wall clock went back, or at once when the
// machine was suspended since the previous tick (CLOCK_BOOTTIME moved ahead of
// CLOCK_MONOTONIC): a deadline passed during a suspend is honoured at resume.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "job_store.h"
#include "outbox.h"

namespace lpm::agent {

struct RetentionPolicy {
  uint32_t unprinted_hours = 48;
  uint32_t printed_hours = 48;
  bool delete_empty_folders = false;
  uint32_t empty_folder_days = 7;
  bool track_deleted = false;
};

// Where retention reads the time; tests inject their own.
struct RetentionClock {
  std::function<int64_t()> wall_ms;      // Unix ms
  std::function<int64_t()> suspended_ms; // total time spent suspended since boot
  static RetentionClock system();
};

struct RetentionRun {
  std::vector<Job> removed_jobs;
  size_t removed_folders = 0;
  bool after_suspend = false;
};

class Retention {
public:
  static constexpr int64_t kEveryMs = 60 * 1000;

  Retention(std::shared_ptr<JobStore> store, std::shared_ptr<Outbox> outbox, RecordContext records,
            RetentionPolicy policy, RetentionClock clock = RetentionClock::system());

  // Runs the deadlines if one is due (see the header comment); nullopt-like empty run when not.
  // Errors are logged; a failed run is retried at the next due tick.
  RetentionRun tick();
  // Runs the deadlines now.
  Result<RetentionRun> run();
  // The enterprise's retention policy (RT-2, from register replies; 0: no limit). Jobs stay the
  // package's lifespans (SPEC §5.2) unless the enterprise's are shorter: RT-2 is "the maximum
  // time a submitted job stays printable".
  void set_enterprise_limit(uint32_t released_hours, uint32_t unreleased_hours);
  uint32_t effective_unprinted_hours() const;
  uint32_t effective_printed_hours() const;

private:
  std::shared_ptr<JobStore> store_;
  std::shared_ptr<Outbox> outbox_;
  RecordContext records_;
  RetentionPolicy policy_;
  RetentionClock clock_;
  uint32_t limit_released_hours_ = 0;
  uint32_t limit_unreleased_hours_ = 0;
  bool ran_ = false;
  int64_t last_run_ms_ = 0;
  int64_t last_suspended_ms_ = 0;
};

} // namespace lpm::agent
