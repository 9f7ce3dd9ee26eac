// Retention with an injected clock (issue 3): unprinted and printed jobs go at their deadlines,
// each with its *deleted* record (reason expired); a deadline passed while the machine slept is
// honoured at the first tick after resume; records only when TrackDeletedJobs is on.
#include <catch2/catch.hpp>

#include "agent_test_support.h"
#include "lpm/ids.h"
#include "outbox.h"
#include "retention.h"

using namespace lpm;
using namespace lpm::agent;
using namespace lpm::agent::test;

namespace {

constexpr int64_t kHour = 3600 * 1000;

struct FakeClock {
  int64_t wall = 0;
  int64_t suspended = 0;
  RetentionClock clock() {
    RetentionClock c;
    c.wall_ms = [this] { return wall; };
    c.suspended_ms = [this] { return suspended; };
    return c;
  }
};

// Claims, fetches and completes a job: it is printed from `at` on.
Job print_job(JobStore &store, const Job &job, int64_t at) {
  auto grant = store.claim(job.id, kPrinter, at);
  REQUIRE(grant.ok());
  REQUIRE(store.start_printing(job.id, grant->claim, kPrinter, at).ok());
  FinishReport done;
  done.job = job.id;
  done.claim = grant->claim;
  done.printer = kPrinter;
  done.outcome = proto::JobOutcome::completed;
  auto finished = store.finish(done, at, nullptr);
  REQUIRE(finished.ok());
  return finished->job;
}

std::vector<proto::JobRecord> outbox_records(Outbox &outbox) {
  auto batch = outbox.next_batch(100);
  REQUIRE(batch.ok());
  std::vector<proto::JobRecord> out;
  for (auto &e : *batch)
    out.push_back(e.record);
  return out;
}

} // namespace

TEST_CASE("retention: unprinted and printed jobs go at their own deadlines, each with a deleted record",
          "[agent][retention]") {
  TempDir dir;
  auto db = open_db(dir.path);
  auto store = open_store(db, dir.path);
  auto outbox = Outbox::open(db);
  REQUIRE(outbox.ok());
  Job held = store_job(*store, kAlice, "unprinted");
  Job printed = store_job(*store, kBob, "printed");
  // Printed an hour after submission: its PrintAndKeepLifespan counts from then.
  printed = print_job(*store, printed, printed.submitted_ms + kHour);

  RetentionPolicy policy;
  policy.unprinted_hours = 48;
  policy.printed_hours = 24;
  policy.track_deleted = true;
  FakeClock fake;
  fake.wall = held.submitted_ms;
  Retention retention(store, *outbox, RecordContext{"HQ", "ws-1"}, policy, fake.clock());

  CHECK(retention.tick().removed_jobs.empty()); // the first tick runs: nothing is due
  fake.wall = printed.state_ms + 24 * kHour - 1000;
  CHECK(retention.tick().removed_jobs.empty());
  CHECK(retention.tick().removed_jobs.empty()); // not due again within the minute

  fake.wall = printed.state_ms + 24 * kHour + 60 * 1000; // a minute after the previous run
  auto run = retention.tick();
  REQUIRE(run.removed_jobs.size() == 1);
  CHECK(run.removed_jobs[0].id == printed.id);
  CHECK(store->get(printed.id).error().code == Errc::not_found);
  CHECK(store->get(held.id).ok());

  fake.wall = held.submitted_ms + 48 * kHour + 1000;
  run = retention.tick();
  REQUIRE(run.removed_jobs.size() == 1);
  CHECK(run.removed_jobs[0].id == held.id);
  CHECK(store->get(held.id).error().code == Errc::not_found);

  auto records = outbox_records(**outbox);
  REQUIRE(records.size() == 2);
  CHECK(records[0].job == printed.id);
  CHECK(records[1].job == held.id);
  for (const auto &r : records) {
    CHECK(r.event == "deleted");
    CHECK(r.reason == "expired");
    CHECK(r.site == "HQ");
  }
}

TEST_CASE("retention: a deadline passed during a suspend is honoured at the first tick after resume",
          "[agent][retention]") {
  TempDir dir;
  auto db = open_db(dir.path);
  auto store = open_store(db, dir.path);
  auto outbox = Outbox::open(db);
  REQUIRE(outbox.ok());
  Job job = store_job(*store, kAlice, "sleepy");

  RetentionPolicy policy;
  policy.unprinted_hours = 1;
  FakeClock fake;
  fake.wall = job.submitted_ms + kHour - 10 * 1000; // ten seconds before the deadline
  Retention retention(store, *outbox, RecordContext{"HQ", "ws-1"}, policy, fake.clock());
  CHECK(retention.tick().removed_jobs.empty());

  // Awake, 30 s later: the deadline has passed but the minute between runs has not.
  SECTION("without a suspend the next run waits for its minute") {
    fake.wall += 30 * 1000;
    CHECK(retention.tick().removed_jobs.empty());
    fake.wall += 31 * 1000;
    CHECK(retention.tick().removed_jobs.size() == 1);
  }
  SECTION("after a suspend the run happens at once") {
    fake.wall += 30 * 1000;
    fake.suspended += 30 * 1000; // the machine slept through it
    auto run = retention.tick();
    CHECK(run.after_suspend);
    REQUIRE(run.removed_jobs.size() == 1);
    CHECK(run.removed_jobs[0].id == job.id);
  }
  SECTION("a wall clock set back runs at once too, and deletes nothing early") {
    fake.wall -= 3600 * 1000;
    auto run = retention.tick();
    CHECK(run.removed_jobs.empty());
    CHECK(store->get(job.id).ok());
  }
  // TrackDeletedJobs is off: no record.
  CHECK(outbox_records(**outbox).empty());
}

TEST_CASE("retention: the system clock reports suspended time as boot time minus monotonic time",
          "[agent][retention]") {
  auto clock = RetentionClock::system();
  int64_t a = clock.suspended_ms();
  int64_t b = clock.suspended_ms();
  CHECK(a >= 0);
  CHECK(b - a < 1000); // no suspend between two readings in a row
  CHECK(clock.wall_ms() > 1700000000000); // a Unix time in ms, after 2023
}

TEST_CASE("retention: an empty user folder goes DeleteEmptyUserFoldersLifespan days after it emptied, only "
          "when DeleteEmptyUserFolders is on (SPEC PK-4, §5.3)",
          "[agent][retention]") {
  constexpr int64_t kDay = 24 * kHour;
  TempDir dir;
  auto db = open_db(dir.path);
  auto store = open_store(db, dir.path);
  auto outbox = Outbox::open(db);
  REQUIRE(outbox.ok());
  Job job = store_job(*store, kAlice, "soon gone");
  std::string folder = store->user_folder_path(kAlice);
  REQUIRE(std::filesystem::is_directory(folder));

  const bool enabled = GENERATE(true, false);
  RetentionPolicy policy;
  policy.unprinted_hours = 1;
  policy.delete_empty_folders = enabled;
  policy.empty_folder_days = 7;
  FakeClock fake;
  fake.wall = job.submitted_ms + 2 * kHour; // the job expires: the folder is empty from now on
  Retention retention(store, *outbox, RecordContext{"HQ", "ws-1"}, policy, fake.clock());
  auto run = retention.tick();
  REQUIRE(run.removed_jobs.size() == 1);
  CHECK(run.removed_folders == 0);
  const int64_t emptied = fake.wall;

  fake.wall = emptied + 7 * kDay - 60 * 1000;
  CHECK(retention.tick().removed_folders == 0);
  CHECK(std::filesystem::is_directory(folder));

  fake.wall = emptied + 7 * kDay + 60 * 1000;
  run = retention.tick();
  CHECK(run.removed_folders == (enabled ? 1u : 0u));
  CHECK(std::filesystem::is_directory(folder) == !enabled);

  // A new job for the same user recreates the folder.
  Job again = store_job(*store, kAlice, "back again");
  CHECK(std::filesystem::is_directory(store->user_folder_path(kAlice)));
  CHECK(store->get(again.id).ok());
}

TEST_CASE("retention: the enterprise's retention policy shortens the package's lifespans, never lengthens them "
          "(RT-2)",
          "[agent][retention][RT-2]") {
  TempDir dir;
  auto db = open_db(dir.path);
  auto store = open_store(db, dir.path);
  auto outbox = Outbox::open(db);
  REQUIRE(outbox.ok());
  Job held = store_job(*store, kAlice, "unprinted");

  RetentionPolicy policy;
  policy.unprinted_hours = 48;
  policy.printed_hours = 24;
  FakeClock fake;
  fake.wall = held.submitted_ms;
  Retention retention(store, *outbox, RecordContext{"HQ", "ws-1"}, policy, fake.clock());

  retention.set_enterprise_limit(72, 168); // longer than the package's: no effect
  CHECK(retention.effective_unprinted_hours() == 48);
  CHECK(retention.effective_printed_hours() == 24);
  retention.set_enterprise_limit(0, 0); // no limit
  CHECK(retention.effective_unprinted_hours() == 48);
  retention.set_enterprise_limit(12, 8);
  CHECK(retention.effective_unprinted_hours() == 8);
  CHECK(retention.effective_printed_hours() == 12);

  CHECK(retention.tick().removed_jobs.empty());
  fake.wall = held.submitted_ms + 8 * kHour + 1000;
  auto run = retention.tick();
  REQUIRE(run.removed_jobs.size() == 1);
  CHECK(run.removed_jobs[0].id == held.id);
}
