// Retention: see retention.h.
#include "retention.h"

#include <cstdlib>
#include <ctime>
#include <fstream>
#include <string>

#include "lpm/ids.h"
#include "lpm/log.h"

namespace lpm::agent {

namespace {

constexpr int64_t kHourMs = 3600 * 1000;
constexpr int64_t kDayMs = 24 * kHourMs;

int64_t clock_ms(clockid_t id) {
  timespec ts{};
  ::clock_gettime(id, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

// A suspend shorter than this is noise between the two clock readings.
constexpr int64_t kSuspendNoticeMs = 1000;

// Tests only: LPM_TEST_CLOCK_FILE names a file holding milliseconds added to the wall clock that
// retention reads (read again at each reading; missing or unreadable: 0), so an integration test
// can let days pass for the deadlines in seconds (tests/integration/accounting_outage.sh). Nothing
// else in the agent reads it: tickets, TLS and records of other events keep the real time.
int64_t test_clock_offset_ms(const std::string &file) {
  std::ifstream in(file);
  long long offset = 0;
  if (!(in >> offset)) return 0;
  return offset;
}

} // namespace

RetentionClock RetentionClock::system() {
  RetentionClock c;
  const char *test_clock = std::getenv("LPM_TEST_CLOCK_FILE");
  if (test_clock && *test_clock) {
    LPM_WARN("retention reads a test clock: the wall clock plus the milliseconds in %s (LPM_TEST_CLOCK_FILE)",
             test_clock);
    c.wall_ms = [file = std::string(test_clock)] { return lpm::wall_ms() + test_clock_offset_ms(file); };
  } else {
    c.wall_ms = [] { return lpm::wall_ms(); };
  }
  // CLOCK_BOOTTIME counts suspended time, CLOCK_MONOTONIC does not: their difference grows by
  // exactly the time spent asleep.
  c.suspended_ms = [] { return clock_ms(CLOCK_BOOTTIME) - clock_ms(CLOCK_MONOTONIC); };
  return c;
}

Retention::Retention(std::shared_ptr<JobStore> store, std::shared_ptr<Outbox> outbox, RecordContext records,
                     RetentionPolicy policy, RetentionClock clock)
    : store_(std::move(store)), outbox_(std::move(outbox)), records_(std::move(records)), policy_(policy),
      clock_(std::move(clock)) {
  last_suspended_ms_ = clock_.suspended_ms();
}

RetentionRun Retention::tick() {
  int64_t now = clock_.wall_ms();
  int64_t suspended = clock_.suspended_ms();
  bool resumed = suspended - last_suspended_ms_ >= kSuspendNoticeMs;
  bool due = !ran_ || now - last_run_ms_ >= kEveryMs || now < last_run_ms_ || resumed;
  if (!due) return {};
  if (resumed)
    LPM_INFO("the machine was suspended for %lld s: checking retention deadlines now",
             static_cast<long long>((suspended - last_suspended_ms_) / 1000));
  last_suspended_ms_ = suspended;
  auto result = run();
  if (!result.ok()) {
    LPM_ERROR("retention failed: %s", result.error().to_string().c_str());
    return {};
  }
  result->after_suspend = resumed;
  return std::move(*result);
}

namespace {
// The package's value, unless the enterprise's (0: none) is shorter.
uint32_t capped(uint32_t package_hours, uint32_t enterprise_hours) {
  return enterprise_hours != 0 && enterprise_hours < package_hours ? enterprise_hours : package_hours;
}
} // namespace

void Retention::set_enterprise_limit(uint32_t released_hours, uint32_t unreleased_hours) {
  if (released_hours == limit_released_hours_ && unreleased_hours == limit_unreleased_hours_) return;
  limit_released_hours_ = released_hours;
  limit_unreleased_hours_ = unreleased_hours;
  LPM_INFO("enterprise retention policy: released jobs %u h, unreleased %u h (0: no limit); this workstation "
           "keeps printed jobs %u h, unprinted %u h",
           released_hours, unreleased_hours, effective_printed_hours(), effective_unprinted_hours());
}

uint32_t Retention::effective_unprinted_hours() const {
  return capped(policy_.unprinted_hours, limit_unreleased_hours_);
}

uint32_t Retention::effective_printed_hours() const {
  return capped(policy_.printed_hours, limit_released_hours_);
}

Result<RetentionRun> Retention::run() {
  int64_t now = clock_.wall_ms();
  ran_ = true;
  last_run_ms_ = now;
  RetentionRun out;
  bool queued = false;
  auto removed = store_->remove_expired(
      now - int64_t{effective_unprinted_hours()} * kHourMs, now - int64_t{effective_printed_hours()} * kHourMs,
      [&](const Job &job) -> Status {
        if (!policy_.track_deleted) return {};
        queued = true;
        return outbox_->insert(job_record_for(job, records_, "deleted", "expired", now));
      },
      now);
  if (queued) outbox_->notify_queued();
  if (!removed.ok()) return removed.error();
  for (const auto &job : *removed)
    LPM_INFO("job %s deleted: its %s ended", job.id.c_str(),
             job.state == JobState::printed ? "PrintAndKeepLifespan" : "UnprintedJobsLifespan");
  out.removed_jobs = std::move(*removed);
  if (policy_.delete_empty_folders) {
    auto folders = store_->remove_empty_user_folders(now - int64_t{policy_.empty_folder_days} * kDayMs);
    if (!folders.ok()) return folders.error();
    out.removed_folders = *folders;
    if (*folders > 0)
      LPM_INFO("%zu empty user folder(s) deleted: empty for %u day(s) (DeleteEmptyUserFoldersLifespan)", *folders,
               policy_.empty_folder_days);
  }
  return out;
}

} // namespace lpm::agent
