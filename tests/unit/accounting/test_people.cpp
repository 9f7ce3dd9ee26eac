// The people accounting knows from the directory's list-people (issue 6; SPEC RP-10, RP-11,
// RP-12): the store's copy (added, changed, deleted users anonymised, an empty list refused),
// search by name for reports, top users named, and PeopleFeed stamping records at ingest.
#include <catch2/catch.hpp>

#include "accounting/support.h"
#include "key_source.h"
#include "lpm/protocol/loop_timer.h"
#include "lpm/protocol/stream.h"
#include "people_feed.h"
#include "record_store.h"
#include "reports.h"

using namespace lpm;
using namespace lpm::accounting;
using lpm::accounting::test::open_store;
using lpm::accounting::test::printed_record;
using lpm::accounting::test::TempDir;
using lpm::accounting::test::TestLoop;

namespace {

proto::PersonFacts person(const char *id, const char *name, const char *email, const char *department = "",
                          const char *group = "", const char *group_name = "") {
  return proto::PersonFacts{id, name, email, department, group, group_name};
}

PeopleUpdate replace(RecordStore &store, const std::vector<proto::PersonFacts> &listed, int64_t now = 1000) {
  auto r = store.replace_people(listed, now);
  INFO((r.ok() ? std::string() : r.error().to_string()));
  REQUIRE(r.ok());
  return *r;
}

std::string resolved(RecordStore &store, ReportLevel level, const char *text) {
  auto r = resolve_report_entity(store, level, text);
  INFO((r.ok() ? std::string() : r.error().to_string()));
  REQUIRE(r.ok());
  return *r;
}

// Answers list-people with `people` on a later loop turn; keys are not its business here.
class PeopleSource final : public KeySource {
public:
  explicit PeopleSource(uv_loop_t *loop) : timer_(loop) {}
  std::vector<proto::PersonFacts> people;
  int fetches = 0;

  void fetch(FetchFn done) override { done(make_error(Errc::unavailable, "no keys here")); }
  void fetch_people(PeopleFn done) override {
    fetches++;
    pending_ = std::move(done);
    timer_.start(1, 0, [this] {
      PeopleFn answer = std::move(pending_);
      answer(people);
    });
  }
  void close() override { timer_.close(); }

private:
  proto::LoopTimer timer_;
  PeopleFn pending_;
};

} // namespace

TEST_CASE(
    "the people list: added, changed, and deleted users anonymised with their stamp kept [issue-6][RP-10]",
    "[accounting][people][issue-6]") {
  TempDir dir;
  auto store = open_store(dir);
  auto first =
      replace(*store, {person("u-1", "Alice Martin", "alice@example.com", "Sales", "g-1", "Paris floor 2"),
                       person("u-2", "Bob Durand", "bob@example.com", "R&D"),
                       person("u-3", "Carol Petit", "carol@example.com", "R&D", "g-1", "Paris floor 2")});
  CHECK(first.listed == 3);
  CHECK(first.added == 3);
  // The same list again changes nothing.
  auto same =
      replace(*store, {person("u-1", "Alice Martin", "alice@example.com", "Sales", "g-1", "Paris floor 2"),
                       person("u-2", "Bob Durand", "bob@example.com", "R&D"),
                       person("u-3", "Carol Petit", "carol@example.com", "R&D", "g-1", "Paris floor 2")});
  CHECK(same.added + same.changed + same.deleted == 0);
  // Bob joins a group, Carol is deleted upstream, the group is renamed.
  auto next = replace(*store,
                      {person("u-1", "Alice Martin", "alice@example.com", "Sales", "g-1", "Paris 2nd"),
                       person("u-2", "Bob Durand", "bob@example.com", "R&D", "g-2", "Lyon")},
                      2000);
  CHECK(next.changed == 1);
  CHECK(next.deleted == 1);
  auto carol = store->person("u-3");
  REQUIRE(carol.ok());
  CHECK(carol->name.empty());
  CHECK(carol->email.empty());
  CHECK(carol->deleted_ms == 2000);
  CHECK(carol->stamp.print_group == "g-1"); // her records still on their way count where she was
  auto bob = store->person("u-2");
  REQUIRE(bob.ok());
  CHECK(bob->stamp.print_group == "g-2");
  CHECK(bob->stamp.department == "R&D");
  CHECK(store->person("u-9").error().code == Errc::not_found);

  // A directory that lists nobody does not erase every name here.
  auto empty = store->replace_people({}, 3000);
  REQUIRE_FALSE(empty.ok());
  CHECK(empty.error().code == Errc::conflict);
  CHECK(store->person("u-1")->name == "Alice Martin");

  // The store keeps what it learnt across a reopen.
  store.reset();
  store = open_store(dir);
  auto all = store->people();
  REQUIRE(all.ok());
  CHECK(all->size() == 3);
}

TEST_CASE("report search by name: whole or part of a name, e-mail or id, and deleted users are not found "
          "[issue-6][RP-10][RP-12]",
          "[accounting][people][issue-6]") {
  TempDir dir;
  auto store = open_store(dir);
  replace(*store, {person("u-1", "Alice Martin", "alice@example.com", "Sales", "g-1", "Paris"),
                   person("u-2", "Alice Moreau", "alice.moreau@example.com"),
                   person("u-3", "Carol Petit", "carol@example.com", "", "g-9", "Lyon")});
  replace(*store,
          {person("u-1", "Alice Martin", "alice@example.com", "Sales", "g-1", "Paris"),
           person("u-2", "Alice Moreau", "alice.moreau@example.com")},
          2000); // Carol deleted; her group g-9 is not listed any more either

  CHECK(resolved(*store, ReportLevel::user, "alice martin") == "u-1");
  CHECK(resolved(*store, ReportLevel::user, "Moreau") == "u-2");
  CHECK(resolved(*store, ReportLevel::user, "ALICE@example.com") == "u-1");
  CHECK(resolved(*store, ReportLevel::user, "u-2") == "u-2");
  // Two people hold "alice": both named, nobody picked.
  auto both = resolve_report_entity(*store, ReportLevel::user, "alice");
  REQUIRE_FALSE(both.ok());
  CHECK(both.error().code == Errc::conflict);
  CHECK(both.error().message.find("Alice Martin <alice@example.com>") != std::string::npos);
  CHECK(both.error().message.find("Alice Moreau") != std::string::npos);
  // A deleted user is found neither by name nor by e-mail (the text stays as typed).
  CHECK(resolved(*store, ReportLevel::user, "Carol Petit") == "Carol Petit");
  CHECK(resolved(*store, ReportLevel::user, "carol@example.com") == "carol@example.com");
  // Groups by name, any case, a group no longer listed included (RP-11); departments as stamped.
  CHECK(resolved(*store, ReportLevel::group, "paris") == "g-1");
  CHECK(resolved(*store, ReportLevel::group, "Lyon") == "g-9");
  CHECK(resolved(*store, ReportLevel::group, "g-1") == "g-1");
  CHECK(resolved(*store, ReportLevel::department, "Sales") == "Sales");
}

TEST_CASE(
    "top users are named, and an anonymised user shows as a deleted user and still counts [issue-6][RP-10]",
    "[accounting][people][issue-6]") {
  TempDir dir;
  auto store = open_store(dir);
  replace(*store, {person("u-1", "Alice Martin", "alice@example.com"),
                   person("u-2", "Bob Durand", "bob@example.com")});
  int64_t t = 1767225600000; // 2026-01-01T00:00Z
  REQUIRE(store
              ->ingest({printed_record("u-1", t + 3600000, 5), printed_record("u-2", t + 7200000, 3)},
                       t + 7200000)
              .ok());
  replace(*store, {person("u-1", "Alice Martin", "alice@example.com")}, 2000); // Bob deleted
  ReportRequest req;
  req.type = ReportType::top_users;
  req.from = *parse_civil_date("2026-01-01");
  req.to = req.from;
  auto zone = TimeZone::load("UTC");
  REQUIRE(zone.ok());
  auto top = run_report(*store, *zone, req);
  REQUIRE(top.ok());
  REQUIRE(top->columns.size() > 3);
  CHECK(top->columns[2] == "name");
  REQUIRE(top->rows.size() == 2);
  CHECK(top->rows[0][1] == "u-1");
  CHECK(top->rows[0][2] == "Alice Martin");
  CHECK(top->rows[1][1] == "u-2");
  CHECK(top->rows[1][2] == "deleted user");
  CHECK(top->rows[1][3] != "0"); // activity retained
}

TEST_CASE(
    "PeopleFeed: records are stamped with the listed group and department, and an unknown user asks for a "
    "refresh [issue-6][RP-11]",
    "[accounting][people][issue-6]") {
  TempDir dir;
  auto store = open_store(dir);
  TestLoop loop;
  auto source = std::make_shared<PeopleSource>(&loop.loop);
  source->people = {person("u-1", "Alice Martin", "alice@example.com", "Sales", "g-1", "Paris")};
  PeopleFeedOptions o;
  o.min_refresh_interval_ms = 0;
  {
    PeopleFeed feed(&loop.loop, source, *store, o);
    REQUIRE(feed.load().ok());
    CHECK(feed.known() == 0);
    feed.start();
    // proto::run_until ticks every 20 ms: a timer that satisfies the condition at the top of a loop
    // turn would otherwise leave UV_RUN_ONCE polling until the next timer (the watchdog).
    REQUIRE(proto::run_until(
        &loop.loop, [&] { return feed.refreshes_done() == 1; }, 10000));
    Stamp alice = feed.stamp_of("u-1");
    CHECK(alice.print_group == "g-1");
    CHECK(alice.department == "Sales");
    // Bob was added upstream after the last list: his first record is not stamped, and asks.
    source->people.push_back(person("u-2", "Bob Durand", "bob@example.com", "R&D"));
    CHECK(feed.stamp_of("u-2").department.empty());
    REQUIRE(proto::run_until(
        &loop.loop, [&] { return feed.refreshes_done() == 2; }, 10000));
    CHECK(feed.stamp_of("u-2").department == "R&D");
    CHECK(source->fetches == 2);
    feed.close();
  }
  // A restart stamps from the store before the directory answers.
  {
    PeopleFeed feed(&loop.loop, source, *store, o);
    REQUIRE(feed.load().ok());
    CHECK(feed.known() == 2);
    CHECK(feed.stamp_of("u-1").print_group == "g-1");
    feed.close();
  }
  source->close();
  loop.finish();
}
