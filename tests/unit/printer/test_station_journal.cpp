// Issue 5: the station's journal of outcomes in its state.db (printer/station_journal.h):
// entries survive a reopen (a restart), done() removes one, bad entries are refused and change
// nothing, an older state.db gains the table. The late reports against a real agent are in
// tests/unit/agent/test_late_report.cpp.
#include <catch2/catch.hpp>

#include "lpm/ids.h"
#include "lpm/sqlite.h"
#include "station_journal.h"
#include "station_store.h"
#include "transport_support.h"

using namespace lpm;
using namespace lpm::printer;

namespace {

std::shared_ptr<StationJournal> open_journal(const std::string &dir) {
  auto store = StationStore::open(dir);
  REQUIRE(store.ok());
  return StationJournal::open(std::shared_ptr<StationStore>(std::move(*store)));
}

JournalEntry entry(const std::string &claim) {
  proto::WorkstationRef ws;
  ws.id = "ws-1";
  ws.name = "alice-laptop";
  ws.addresses = {"10.0.0.5", "fe80::1"};
  ws.port = 9443;
  ws.fingerprint = std::string(64, 'b');
  proto::JobInfo job;
  job.id = "0190f5e2-7c3a-7000-8000-000000000001";
  job.title = "report.pdf";
  proto::UpdateJobStatusRequest u;
  u.job = job.id;
  u.claim = claim;
  u.outcome = proto::JobOutcome::completed;
  u.pages = 2;
  u.copies = 3;
  u.signer_key = proto::Bytes(91, 1);
  u.signature = proto::Bytes(70, 2);
  return journal_entry(ws, job, u);
}

} // namespace

TEST_CASE("station journal: entries survive a restart until done [issue-5]", "[printer][journal][issue-5]") {
  lpm::test::TempDir dir;
  {
    auto journal = open_journal(dir.path);
    CHECK(journal->pending()->empty());
    REQUIRE(journal->record(entry("claim-1")).ok());
    REQUIRE(journal->record(entry("claim-2")).ok());
    REQUIRE(journal->record(entry("claim-2")).ok()); // the same (job, claim) again: one entry
  }
  auto journal = open_journal(dir.path); // the next start
  auto pending = journal->pending();
  REQUIRE(pending.ok());
  REQUIRE(pending->size() == 2);
  const JournalEntry &e = (*pending)[0];
  CHECK(e.claim == "claim-1");
  CHECK(e.title == "report.pdf");
  CHECK(e.workstation.name == "alice-laptop");
  CHECK(e.workstation.addresses == std::vector<std::string>{"10.0.0.5", "fe80::1"});
  CHECK(e.workstation.port == 9443);
  CHECK(e.workstation.fingerprint == std::string(64, 'b'));
  CHECK(e.report.copies == 3);
  CHECK(e.report.signature == proto::Bytes(70, 2));
  CHECK(e.recorded_ms > 0);

  REQUIRE(journal->done(e.job, "claim-1").ok());
  REQUIRE(journal->done(e.job, "no-such-claim").ok());
  pending = journal->pending();
  REQUIRE(pending->size() == 1);
  CHECK((*pending)[0].claim == "claim-2");
}

TEST_CASE("station journal: a quota charge is written with its entry and kept until the directory answered "
          "(AMB-17)",
          "[printer][journal][quota][AMB-17]") {
  lpm::test::TempDir dir;
  {
    auto journal = open_journal(dir.path);
    JournalEntry first = entry("claim-1");
    SettleEntry charge{"reservation-1", "0190f5e2-7c3a-7000-8000-0000000000aa", "ws-1", first.report, 0};
    REQUIRE(journal->record(first, &charge).ok());
    REQUIRE(journal->record(entry("claim-2")).ok()); // a user not counted: no charge
    // The workstation answered: the journal entry goes, the charge stays until settled.
    REQUIRE(journal->done(first.job, "claim-1").ok());
  }
  auto journal = open_journal(dir.path); // the next start
  auto settles = journal->pending_settles();
  REQUIRE(settles.ok());
  REQUIRE(settles->size() == 1);
  const SettleEntry &s = (*settles)[0];
  CHECK(s.reservation == "reservation-1");
  CHECK(s.user == "0190f5e2-7c3a-7000-8000-0000000000aa");
  CHECK(s.workstation == "ws-1");
  CHECK(s.report.claim == "claim-1");
  CHECK(s.report.signature == proto::Bytes(70, 2));
  CHECK(s.recorded_ms > 0);
  REQUIRE(journal->settle_done(s.report.job, "claim-1").ok());
  CHECK(journal->pending_settles()->empty());
  CHECK(journal->pending()->size() == 1); // claim-2's entry is the workstation report's business
}

TEST_CASE("station journal: an entry without job, claim or workstation is refused [issue-5]",
          "[printer][journal][issue-5]") {
  lpm::test::TempDir dir;
  auto journal = open_journal(dir.path);
  auto no_address = entry("c");
  no_address.workstation.addresses.clear();
  CHECK(journal->record(no_address).error().code == Errc::bad_request);
  auto bad_key = entry("c");
  bad_key.workstation.fingerprint = "short";
  CHECK(journal->record(bad_key).error().code == Errc::bad_request);
  auto mismatch = entry("c");
  mismatch.claim = "another";
  CHECK(journal->record(mismatch).error().code == Errc::bad_request);
  CHECK(journal->pending()->empty());
}

TEST_CASE("station journal: a state.db from before issue 5 gains the table, enrollment kept [issue-5]",
          "[printer][journal][issue-5]") {
  lpm::test::TempDir dir;
  {
    auto db = Db::open(dir.path + "/state.db");
    REQUIRE(db.ok());
    REQUIRE((*db)->exec("CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
                        "INSERT INTO settings VALUES ('printer_id', 'p-1'), ('name', 'Floor 2');")
                .ok());
  }
  auto store = StationStore::open(dir.path);
  REQUIRE(store.ok());
  auto enrollment = (*store)->enrollment();
  REQUIRE(enrollment.ok());
  REQUIRE(enrollment->has_value());
  CHECK((*enrollment)->name == "Floor 2");
  auto journal = StationJournal::open(std::shared_ptr<StationStore>(std::move(*store)));
  REQUIRE(journal->record(entry("claim-1")).ok());
  CHECK(journal->pending()->size() == 1);
}
