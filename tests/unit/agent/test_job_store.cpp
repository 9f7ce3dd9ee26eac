// The job store through its public interface: durability across a reopen, crash leftovers
// removed at start-up, claims and leases, idempotent status updates, retention.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent_test_support.h"
#include "lpm/files.h"
#include "lpm/ids.h"

using namespace lpm;
using namespace lpm::agent;
using namespace lpm::agent::test;

namespace {
const std::string kOtherPrinter(64, 'd');

JobFilter held_of(const std::string &user) {
  JobFilter f;
  f.users = {user};
  f.states = {JobState::held};
  return f;
}
} // namespace

TEST_CASE("job store: a held job survives closing and reopening the store", "[agent][job_store]") {
  TempDir dir;
  std::string id;
  {
    auto db = open_db(dir.path);
    auto store = open_store(db, dir.path);
    Job job = store_job(*store, kAlice, "hello printer");
    id = job.id;
    CHECK(job.state == JobState::held);
    CHECK(job.size_bytes == 13);
    struct stat st {};
    REQUIRE(::stat(store->spool_path(job).c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
    REQUIRE(::stat(store->user_folder_path(kAlice).c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0700);
  }
  auto db = open_db(dir.path);
  auto store = open_store(db, dir.path);
  auto job = store->get(id);
  REQUIRE(job.ok());
  CHECK(job->state == JobState::held);
  CHECK(job->user == kAlice);
  CHECK(job->sha256 ==
        proto::sha256(std::span<const uint8_t>(reinterpret_cast<const uint8_t *>("hello printer"), 13)));
  CHECK(job->title == "report.pdf");
  auto content = read_document(*store, *job);
  REQUIRE(content.ok());
  CHECK(*content == "hello printer");
  auto counts = store->held_counts();
  REQUIRE(counts.ok());
  REQUIRE(counts->size() == 1);
  CHECK((*counts)[0].user == kAlice);
  CHECK((*counts)[0].jobs == 1);
}

TEST_CASE("job store: start-up removes what a crash left half-done", "[agent][job_store]") {
  TempDir dir;
  // A child process stores one job, starts a second one and dies mid-document (_exit skips
  // every destructor, as a crash would), after leaving a stray file in the spool folder too.
  pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    auto db = Db::open(dir.path + "/state.db");
    if (!db.ok()) ::_exit(2);
    StoreOptions options;
    options.data_folder = dir.path;
    options.reserve_bytes = 0;
    auto store = JobStore::open(std::shared_ptr<Db>(std::move(*db)), options);
    if (!store.ok()) ::_exit(3);
    NewJob nj;
    nj.user = kAlice;
    nj.os_account = "tester";
    auto complete = (*store)->begin_job(nj);
    const uint8_t bytes[] = {'d', 'o', 'c'};
    if (!complete.ok() || !(*complete)->write(bytes).ok() ||
        !(*complete)->commit(proto::sha256(bytes), 3).ok())
      ::_exit(4);
    auto partial = (*store)->begin_job(nj);
    if (!partial.ok() || !(*partial)->write(bytes).ok()) ::_exit(5);
    // Strays: a file in Alice's folder, one at the top of the spool folder, a folder no user has.
    std::string alice_folder = (*store)->user_folder_path(kAlice);
    if (!write_file_atomic(alice_folder + "/" + uuid_v7() + ".spool", std::string("stray"), 0600).ok() ||
        !write_file_atomic(dir.path + "/spool/" + uuid_v7() + ".spool", std::string("stray"), 0600).ok() ||
        !make_dirs(dir.path + "/spool/0123456789abcdef0123456789abcdef", 0700).ok() ||
        !write_file_atomic(dir.path + "/spool/0123456789abcdef0123456789abcdef/x.spool", std::string("x"),
                           0600)
             .ok())
      ::_exit(6);
    ::_exit(0);
  }
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  REQUIRE(WIFEXITED(status));
  REQUIRE(WEXITSTATUS(status) == 0);
  CHECK(count_files(dir.path + "/spool") == 3); // Alice's folder, the stray file, the stray folder

  auto db = open_db(dir.path);
  auto store = open_store(db, dir.path);
  CHECK(count_files(dir.path + "/spool") == 1);
  CHECK(count_files(store->user_folder_path(kAlice)) == 1);
  auto page = store->list(held_of(kAlice));
  REQUIRE(page.ok());
  REQUIRE(page->jobs.size() == 1);
  std::string kept = page->jobs[0].id;
  CHECK(file_exists(store->spool_path(kAlice, kept)));
  CHECK(*read_document(*store, page->jobs[0]) == "doc");
  JobFilter receiving = held_of(kAlice);
  receiving.states = {JobState::receiving};
  CHECK(store->list(receiving)->jobs.empty());

  // A row whose document vanished is removed too.
  ::unlink(store->spool_path(kAlice, kept).c_str());
  store.reset();
  auto again = open_store(db, dir.path);
  CHECK(again->get(kept).error().code == Errc::not_found);
}

TEST_CASE("job store: an abandoned upload leaves nothing behind", "[agent][job_store]") {
  TempDir dir;
  auto db = open_db(dir.path);
  auto store = open_store(db, dir.path);
  NewJob nj;
  nj.user = kAlice;
  nj.os_account = "tester";
  {
    auto writer = store->begin_job(nj);
    REQUIRE(writer.ok());
    REQUIRE((*writer)->write(std::span<const uint8_t>(reinterpret_cast<const uint8_t *>("abc"), 3)).ok());
    // Size disagreeing with what was written is refused; the writer then discards on destruction.
    auto bad = (*writer)->commit(proto::sha256({}), 99);
    CHECK_FALSE(bad.ok());
  }
  CHECK(count_files(store->user_folder_path(kAlice)) == 0);
  JobFilter all = held_of(kAlice);
  all.states = {JobState::receiving, JobState::held};
  CHECK(store->list(all)->jobs.empty());
}

TEST_CASE("job store: claims, leases and status updates follow the state machine", "[agent][job_store]") {
  TempDir dir;
  auto db = open_db(dir.path);
  auto store = open_store(db, dir.path);
  // Stored: more held jobs; claimed or deleted: fewer (the registrar waits with those).
  std::vector<HeldChange> held_changes;
  store->on_held_changed = [&](HeldChange change) { held_changes.push_back(change); };
  Job job = store_job(*store, kAlice, "document");
  CHECK(held_changes == std::vector<HeldChange>{HeldChange::more});
  int64_t now = wall_ms();

  SECTION("one station wins; the document must be fetched before completion") {
    auto grant = store->claim(job.id, kPrinter, now);
    REQUIRE(grant.ok());
    CHECK(grant->expires_ms == now + kClaimLeaseMs);
    CHECK(held_changes == std::vector<HeldChange>{HeldChange::more, HeldChange::fewer});
    auto second = store->claim(job.id, kOtherPrinter, now + 1);
    REQUIRE_FALSE(second.ok());
    CHECK(second.error().code == Errc::conflict);

    FinishReport done{job.id, grant->claim, kPrinter, proto::JobOutcome::completed};
    auto early = store->finish(done, now + 2, nullptr);
    REQUIRE_FALSE(early.ok());
    CHECK(early.error().code == Errc::conflict);

    CHECK(store->start_printing(job.id, grant->claim, kOtherPrinter, now + 3).error().code ==
          Errc::forbidden);
    CHECK(store->start_printing(job.id, "not-the-claim", kPrinter, now + 3).error().code == Errc::conflict);
    auto printing = store->start_printing(job.id, grant->claim, kPrinter, now + 3);
    REQUIRE(printing.ok());
    CHECK(printing->state == JobState::printing);

    int records = 0;
    auto finished = store->finish(done, now + 4, [&](const Job &j) {
      CHECK(j.state == JobState::printed);
      records++;
      return Status{};
    });
    REQUIRE(finished.ok());
    CHECK(finished->changed);
    CHECK(finished->job.state == JobState::printed);
    // The same report again (the reply was lost): same answer, nothing done twice.
    auto repeat = store->finish(done, now + 5, [&](const Job &) {
      records++;
      return Status{};
    });
    REQUIRE(repeat.ok());
    CHECK_FALSE(repeat->changed);
    CHECK(records == 1);
    // A different outcome for a finished claim is refused.
    FinishReport aborted = done;
    aborted.outcome = proto::JobOutcome::aborted;
    CHECK(store->finish(aborted, now + 6, nullptr).error().code == Errc::conflict);

    // Reprint: printed -> claimed again.
    auto reprint = store->claim(job.id, kOtherPrinter, now + 7);
    REQUIRE(reprint.ok());
    CHECK(store->get(job.id)->state == JobState::claimed);
  }

  SECTION("an aborted release returns the job to held") {
    auto grant = store->claim(job.id, kPrinter, now);
    REQUIRE(grant.ok());
    REQUIRE(store->start_printing(job.id, grant->claim, kPrinter, now + 1).ok());
    FinishReport aborted{job.id, grant->claim, kPrinter, proto::JobOutcome::aborted};
    auto r = store->finish(aborted, now + 2, nullptr);
    REQUIRE(r.ok());
    CHECK(r->job.state == JobState::held);
    CHECK(held_changes == std::vector<HeldChange>{HeldChange::more, HeldChange::fewer, HeldChange::more});
    CHECK(store->finish(aborted, now + 3, nullptr)->changed == false);
  }

  SECTION("an expired lease returns the job to held and refuses the old claim") {
    auto grant = store->claim(job.id, kPrinter, now);
    REQUIRE(grant.ok());
    auto moved = store->expire_claims(now + kClaimLeaseMs - 1);
    REQUIRE(moved.ok());
    CHECK(*moved == 0);
    moved = store->expire_claims(now + kClaimLeaseMs);
    REQUIRE(moved.ok());
    CHECK(*moved == 1);
    CHECK(store->get(job.id)->state == JobState::held);
    auto late = store->start_printing(job.id, grant->claim, kPrinter, now + kClaimLeaseMs + 1);
    REQUIRE_FALSE(late.ok());
    CHECK(late.error().code == Errc::expired);
    // Another station may claim it now.
    CHECK(store->claim(job.id, kOtherPrinter, now + kClaimLeaseMs + 2).ok());
  }

  SECTION("a claim whose lease ended can be taken over even before the sweep") {
    auto grant = store->claim(job.id, kPrinter, now);
    REQUIRE(grant.ok());
    auto takeover = store->claim(job.id, kOtherPrinter, now + kClaimLeaseMs + 1);
    REQUIRE(takeover.ok());
    FinishReport old{job.id, grant->claim, kPrinter, proto::JobOutcome::aborted};
    CHECK(store->finish(old, now + kClaimLeaseMs + 2, nullptr).error().code == Errc::expired);
  }

  SECTION("retention deletes held jobs past their lifespan, with the row and the file") {
    std::vector<std::string> seen;
    auto removed = store->remove_expired(job.submitted_ms + 1, 0, [&](const Job &j) {
      seen.push_back(j.id);
      return Status{};
    });
    REQUIRE(removed.ok());
    REQUIRE(removed->size() == 1);
    CHECK(seen == std::vector<std::string>{job.id});
    CHECK(store->get(job.id).error().code == Errc::not_found);
    CHECK_FALSE(file_exists(store->spool_path(job)));
    CHECK(held_changes == std::vector<HeldChange>{HeldChange::more, HeldChange::fewer});
  }
}

TEST_CASE("job store: listing pages by id and filters by owner and state", "[agent][job_store]") {
  TempDir dir;
  auto db = open_db(dir.path);
  auto store = open_store(db, dir.path);
  std::vector<std::string> alice;
  for (int i = 0; i < 5; i++)
    alice.push_back(store_job(*store, kAlice, "a" + std::to_string(i)).id);
  store_job(*store, kBob, "b");
  JobFilter f = held_of(kAlice);
  f.limit = 2;
  std::vector<std::string> listed;
  for (int pages = 0; pages < 10; pages++) {
    auto page = store->list(f);
    REQUIRE(page.ok());
    for (const auto &j : page->jobs)
      listed.push_back(j.id);
    if (page->next.empty()) break;
    f.after = page->next;
  }
  CHECK(listed == alice);
}

TEST_CASE("job store: an abandoned reprint returns to printed, keeping its printed time",
          "[agent][job_store]") {
  TempDir dir;
  auto db = open_db(dir.path);
  auto store = open_store(db, dir.path);
  Job job = store_job(*store, kAlice, "document");
  int64_t now = wall_ms();
  // Released once: printed at printed_ms.
  auto first = store->claim(job.id, kPrinter, now);
  REQUIRE(first.ok());
  REQUIRE(store->start_printing(job.id, first->claim, kPrinter, now + 1).ok());
  int64_t printed_ms = now + 2;
  FinishReport completed{job.id, first->claim, kPrinter, proto::JobOutcome::completed};
  REQUIRE(store->finish(completed, printed_ms, nullptr).ok());
  REQUIRE(store->get(job.id)->state_ms == printed_ms);
  int held_changes = 0;
  store->on_held_changed = [&](HeldChange) { held_changes++; };
  int64_t later = now + 1000;

  auto expect_printed_again = [&] {
    auto after = store->get(job.id);
    REQUIRE(after.ok());
    CHECK(after->state == JobState::printed);
    CHECK(after->state_ms == printed_ms);
    CHECK(after->claim.empty());
    // Not held: the directory is not told about it, and a plain list-jobs does not offer it.
    CHECK(store->held_counts()->empty());
    CHECK(held_changes == 0);
  };

  auto reprint = store->claim(job.id, kOtherPrinter, later);
  REQUIRE(reprint.ok());
  REQUIRE(store->get(job.id)->state == JobState::claimed);

  SECTION("aborted before the fetch") {
    FinishReport aborted{job.id, reprint->claim, kOtherPrinter, proto::JobOutcome::aborted};
    auto r = store->finish(aborted, later + 1, nullptr);
    REQUIRE(r.ok());
    CHECK(r->job.state == JobState::printed);
    expect_printed_again();
    // The repeat is idempotent and answers printed.
    auto repeat = store->finish(aborted, later + 2, nullptr);
    REQUIRE(repeat.ok());
    CHECK_FALSE(repeat->changed);
    CHECK(repeat->job.state == JobState::printed);
  }

  SECTION("canceled while printing") {
    REQUIRE(store->start_printing(job.id, reprint->claim, kOtherPrinter, later + 1).ok());
    auto r = store->finish(FinishReport{job.id, reprint->claim, kOtherPrinter, proto::JobOutcome::canceled},
                           later + 2, nullptr);
    REQUIRE(r.ok());
    CHECK(r->job.state == JobState::printed);
    expect_printed_again();
  }

  SECTION("lease expired, found by the sweep") {
    REQUIRE(store->start_printing(job.id, reprint->claim, kOtherPrinter, later + 1).ok());
    auto moved = store->expire_claims(later + 1 + kClaimLeaseMs);
    REQUIRE(moved.ok());
    CHECK(*moved == 1);
    expect_printed_again();
    auto late = store->start_printing(job.id, reprint->claim, kOtherPrinter, later + 2 + kClaimLeaseMs);
    CHECK(late.error().code == Errc::expired);
    // PrintAndKeepLifespan still counts from the print, not from the abandoned reprint.
    auto removed = store->remove_expired(0, printed_ms + 1, nullptr);
    REQUIRE(removed.ok());
    CHECK(removed->size() == 1);
  }

  SECTION("lease expired, found by the claim check") {
    auto late = store->start_printing(job.id, reprint->claim, kOtherPrinter, later + kClaimLeaseMs);
    REQUIRE_FALSE(late.ok());
    CHECK(late.error().code == Errc::expired);
    expect_printed_again();
  }

  SECTION("lease expired, taken over by another claim which is then aborted") {
    auto takeover = store->claim(job.id, kPrinter, later + kClaimLeaseMs + 1);
    REQUIRE(takeover.ok());
    CHECK(store->get(job.id)->state == JobState::claimed);
    FinishReport aborted{job.id, takeover->claim, kPrinter, proto::JobOutcome::aborted};
    REQUIRE(store->finish(aborted, later + kClaimLeaseMs + 2, nullptr).ok());
    expect_printed_again();
  }
}

TEST_CASE("job store: a claim being streamed is skipped by the sweep", "[agent][job_store]") {
  TempDir dir;
  auto db = open_db(dir.path);
  auto store = open_store(db, dir.path);
  Job job = store_job(*store, kAlice, "document");
  int64_t now = wall_ms();
  auto grant = store->claim(job.id, kPrinter, now);
  REQUIRE(grant.ok());
  REQUIRE(store->start_printing(job.id, grant->claim, kPrinter, now + 1).ok());
  int64_t lapsed = now + 1 + kClaimLeaseMs;
  auto moved = store->expire_claims(lapsed, {job.id});
  REQUIRE(moved.ok());
  CHECK(*moved == 0);
  CHECK(store->get(job.id)->state == JobState::printing);
  // The end of a stream reads the lease without writing it.
  auto lease_end = store->claim_lease_end(job.id, grant->claim);
  REQUIRE(lease_end.ok());
  CHECK(*lease_end == now + 1 + kClaimLeaseMs);
  CHECK(store->claim_lease_end(job.id, "another-claim").error().code == Errc::expired);
  // The stream reads on: its renewal keeps the claim although the lease had lapsed meanwhile.
  REQUIRE(store->renew_claim(job.id, grant->claim, lapsed + 10).ok());
  CHECK(store->get(job.id)->claim_expires_ms == lapsed + 10 + kClaimLeaseMs);
  // Once the stream is gone (not in the set any more) the lapsed lease is expired as usual.
  moved = store->expire_claims(lapsed + 10 + kClaimLeaseMs);
  REQUIRE(moved.ok());
  CHECK(*moved == 1);
  CHECK(store->get(job.id)->state == JobState::held);
  // A claim that is no longer current cannot be renewed, and is not live.
  CHECK(store->renew_claim(job.id, grant->claim, lapsed + 20 + kClaimLeaseMs).error().code == Errc::expired);
  CHECK(store->claim_lease_end(job.id, grant->claim).error().code == Errc::expired);
}

TEST_CASE("job store: a state.db from before claim_from is migrated", "[agent][job_store]") {
  TempDir dir;
  {
    auto db = open_db(dir.path);
    // The jobs table as the first release created it.
    REQUIRE(db->exec("CREATE TABLE jobs(id TEXT PRIMARY KEY, user TEXT NOT NULL, os_account TEXT NOT NULL, "
                     "title TEXT NOT NULL, format TEXT NOT NULL, size_bytes INTEGER NOT NULL DEFAULT 0, "
                     "sha256 BLOB, copies INTEGER NOT NULL, sides TEXT NOT NULL, color TEXT NOT NULL, "
                     "pages INTEGER NOT NULL DEFAULT -1, submitted_ms INTEGER NOT NULL, state TEXT NOT NULL, "
                     "state_ms INTEGER NOT NULL, claim TEXT NOT NULL DEFAULT '', claim_printer TEXT NOT NULL "
                     "DEFAULT '', claim_expires_ms INTEGER NOT NULL DEFAULT 0, last_claim TEXT NOT NULL "
                     "DEFAULT '', last_outcome TEXT NOT NULL DEFAULT '')")
                .ok());
  }
  auto db = open_db(dir.path);
  auto store = open_store(db, dir.path);
  Job job = store_job(*store, kAlice, "document");
  int64_t now = wall_ms();
  auto grant = store->claim(job.id, kPrinter, now);
  REQUIRE(grant.ok());
  FinishReport aborted{job.id, grant->claim, kPrinter, proto::JobOutcome::aborted};
  REQUIRE(store->finish(aborted, now + 1, nullptr).ok());
  CHECK(store->get(job.id)->state == JobState::held);
  // Opening again finds the columns present and leaves them alone.
  auto again = open_store(db, dir.path);
  CHECK(again->get(job.id)->state == JobState::held);
}
