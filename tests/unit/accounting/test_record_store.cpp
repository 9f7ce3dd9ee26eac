// The SQLite record store through the RecordStore interface.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <filesystem>
#include <thread>

#include "accounting/support.h"
#include "lpm/ids.h"
#include "lpm/sqlite.h"
#include "record_store.h"

using namespace lpm;
using namespace lpm::accounting;
using lpm::accounting::test::open_store;
using lpm::accounting::test::printed_record;
using lpm::accounting::test::TempDir;

namespace {

constexpr int64_t kNow = 1'750'000'000'000; // a fixed wall-clock time (June 2025)

const proto::UserTotals *find_user(const std::vector<proto::UserTotals> &rows, const std::string &user) {
  for (const auto &r : rows)
    if (r.user == user) return &r;
  return nullptr;
}

// The 16 bytes of a canonical UUID, as the store keeps record ids (schema 9).
std::vector<uint8_t> id_bytes(std::string uuid) {
  std::erase(uuid, '-');
  std::vector<uint8_t> out;
  REQUIRE(from_hex(uuid, out));
  REQUIRE(out.size() == 16);
  return out;
}

} // namespace

TEST_CASE("the same batch posted twice is stored once", "[accounting][store]") {
  TempDir dir;
  auto store = open_store(dir);
  std::string user = uuid_v7();
  std::vector<proto::JobRecord> batch = {printed_record(user, kNow - 3000), printed_record(user, kNow - 2000),
                                         printed_record(user, kNow - 1000)};

  auto first = store->ingest(batch, kNow);
  REQUIRE(first.ok());
  CHECK(first->stored == 3);
  CHECK(first->duplicates == 0);

  auto second = store->ingest(batch, kNow + 10);
  REQUIRE(second.ok());
  CHECK(second->stored == 0);
  CHECK(second->duplicates == 3);

  auto rows = store->totals(0, kNow + 1);
  REQUIRE(rows.ok());
  REQUIRE(rows->size() == 1);
  CHECK((*rows)[0].jobs == 3);

  SECTION("an id repeated inside one batch counts once, the copy as a duplicate") {
    auto r = printed_record(user, kNow);
    auto again = store->ingest({r, r}, kNow);
    REQUIRE(again.ok());
    CHECK(again->stored == 1);
    CHECK(again->duplicates == 1);
  }
  SECTION("a batch mixing new and known records stores only the new ones") {
    auto mixed = store->ingest({batch[0], printed_record(user, kNow)}, kNow);
    REQUIRE(mixed.ok());
    CHECK(mixed->stored == 1);
    CHECK(mixed->duplicates == 1);
  }
}

TEST_CASE("a batch longer than a statement's records: records stored already, or twice in it, count once "
          "[issue-6]",
          "[accounting][store][issue-6]") {
  TempDir dir;
  auto store = open_store(dir);
  std::string user = uuid_v7();
  std::string workstation = uuid_v7(); // one workstation: the statements bind the shared columns once
  constexpr int N = static_cast<int>(kIngestStatementRows);
  auto record = [&](int64_t event_ms, int64_t pages) {
    proto::JobRecord r = printed_record(user, event_ms, pages);
    r.workstation = workstation;
    return r;
  };
  std::vector<proto::JobRecord> batch;
  for (int i = 0; i < 2 * N + 5; i++) // two statements of N records, then 5 one at a time
    batch.push_back(record(kNow - 200000 + i * 1000, 1));
  // Known before: one in each statement's records; and one sent twice inside the first statement's.
  auto known = store->ingest({batch[5], batch[N + 10]}, kNow);
  REQUIRE(known.ok());
  CHECK(known->stored == 2);
  std::vector<proto::JobRecord> sent = batch;
  sent.insert(sent.begin() + 13, batch[12]);
  auto mixed = store->ingest(sent, kNow);
  REQUIRE(mixed.ok());
  CHECK(mixed->stored == 2 * N + 3);
  CHECK(mixed->duplicates == 3);
  CHECK(mixed->in_statements == 0); // both statements met a known record: all one at a time
  auto rows = store->totals(0, kNow);
  REQUIRE(rows.ok());
  REQUIRE(rows->size() == 1);
  CHECK((*rows)[0].jobs == 2 * N + 5);
  CHECK((*rows)[0].pages == 2 * N + 5);
  auto checks = store->counts_checks();
  REQUIRE(checks.ok());
  CHECK(*checks == std::vector<std::pair<std::string, uint64_t>>{{"unsigned", 2 * N + 5}});
  // All of them again: none stored, nothing added.
  auto again = store->ingest(sent, kNow);
  REQUIRE(again.ok());
  CHECK(again->stored == 0);
  CHECK(again->duplicates == 2 * N + 6);
  rows = store->totals(0, kNow);
  REQUIRE(rows.ok());
  CHECK((*rows)[0].pages == 2 * N + 5);
  // A new batch of exactly two statements' records, all stored N at a time.
  std::vector<proto::JobRecord> fresh;
  for (int i = 0; i < 2 * N; i++)
    fresh.push_back(record(kNow - 100000 + i * 1000, 2));
  auto whole = store->ingest(fresh, kNow);
  REQUIRE(whole.ok());
  CHECK(whole->stored == 2 * N);
  CHECK(whole->duplicates == 0);
  CHECK(whole->in_statements == 2 * N);
  CHECK(whole->in_shared_statements == 2 * N);
  rows = store->totals(0, kNow);
  REQUIRE(rows.ok());
  CHECK((*rows)[0].jobs == 4 * N + 5);
  CHECK((*rows)[0].pages == 6 * N + 5);
}

TEST_CASE("records survive closing and reopening the store", "[accounting][store]") {
  TempDir dir;
  std::string user = uuid_v7();
  std::vector<proto::JobRecord> batch = {printed_record(user, kNow - 1000, 4, 4096)};
  {
    auto store = open_store(dir);
    auto r = store->ingest(batch, kNow);
    REQUIRE(r.ok());
    CHECK(r->stored == 1);
  }
  auto reopened = open_store(dir);
  auto rows = reopened->totals(0, kNow);
  REQUIRE(rows.ok());
  REQUIRE(rows->size() == 1);
  CHECK((*rows)[0].user == user);
  CHECK((*rows)[0].jobs == 1);
  CHECK((*rows)[0].pages == 4);
  CHECK((*rows)[0].bytes == 4096);
  // The dedup key survived too.
  auto again = reopened->ingest(batch, kNow);
  REQUIRE(again.ok());
  CHECK(again->stored == 0);
  CHECK(again->duplicates == 1);
}

TEST_CASE(
    "totals count printed records per user in the 15-minute buckets from the one holding `from` up to `to`",
    "[accounting][store]") {
  TempDir dir;
  auto store = open_store(dir);
  std::string alice = "00000000-0000-7000-8000-00000000000a";
  std::string bob = "00000000-0000-7000-8000-00000000000b";
  constexpr int64_t Q = kQuarterMs;
  proto::JobRecord deleted = printed_record(alice, 1 * Q + 500, 50, 50000);
  deleted.event = "deleted";
  deleted.reason = "expired";
  proto::JobRecord unknown_pages = printed_record(bob, 1 * Q + 500, -1, 10);
  unknown_pages.impressions = -1;
  auto r = store->ingest({printed_record(alice, 1 * Q, 2, 100), printed_record(alice, 2 * Q - 1, 3, 200),
                          printed_record(alice, 2 * Q, 5, 400), printed_record(bob, 1 * Q - 1, 7, 800),
                          unknown_pages, deleted},
                         kNow);
  REQUIRE(r.ok());
  CHECK(r->stored == 6);

  // [Q, 2Q): the second bucket, whole; a window inside it counts it whole too.
  for (auto [from, to] : {std::pair{Q, 2 * Q}, std::pair{Q + 1, Q + 2}, std::pair{Q + 1, 2 * Q}}) {
    CAPTURE(from, to);
    auto rows = store->totals(from, to);
    REQUIRE(rows.ok());
    REQUIRE(rows->size() == 2);
    CHECK((*rows)[0].user == alice); // ordered by user
    const auto *a = find_user(*rows, alice);
    REQUIRE(a != nullptr);
    CHECK(a->jobs == 2); // Q and 2Q - 1; 2Q is the next bucket; the deleted record is not a job
    CHECK(a->pages == 5);
    CHECK(a->impressions == 5);
    CHECK(a->bytes == 300);
    const auto *b = find_user(*rows, bob);
    REQUIRE(b != nullptr);
    CHECK(b->jobs == 1);  // Q - 1 is in the first bucket
    CHECK(b->pages == 0); // unknown counts add nothing
    CHECK(b->impressions == 0);
    CHECK(b->bytes == 10);
  }

  auto empty = store->totals(3 * Q, 4 * Q);
  REQUIRE(empty.ok());
  CHECK(empty->empty());
  auto all = store->totals(0, 2 * Q + 1);
  REQUIRE(all.ok());
  CHECK(find_user(*all, alice)->jobs == 3);
  CHECK(find_user(*all, bob)->jobs == 2);
  // A window of days reads the day rollups and the quarters at its edges: the same totals.
  auto days = store->totals(-kDayMs - Q, 3 * kDayMs + Q);
  REQUIRE(days.ok());
  CHECK(find_user(*days, alice)->jobs == 3);
  CHECK(find_user(*days, alice)->bytes == 700);
  auto everything = store->totals(std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max());
  REQUIRE(everything.ok());
  CHECK(find_user(*everything, bob)->jobs == 2);

  // Pages: users after one id, at most a limit, in user order.
  auto first = store->totals(0, 2 * Q + 1, "", 1);
  REQUIRE(first.ok());
  REQUIRE(first->size() == 1);
  CHECK((*first)[0].user == alice);
  auto second = store->totals(0, 2 * Q + 1, alice, 1);
  REQUIRE(second.ok());
  REQUIRE(second->size() == 1);
  CHECK((*second)[0].user == bob);
  CHECK(store->totals(0, 2 * Q + 1, bob, 1)->empty());
}

TEST_CASE("records far from the receipt time are stored with the skew flag", "[accounting][store]") {
  TempDir dir;
  auto store = open_store(dir);
  std::string user = uuid_v7();
  proto::JobRecord on_time = printed_record(user, kNow - kClockSkewLimitMs);
  proto::JobRecord late = printed_record(user, kNow - kClockSkewLimitMs - 1);
  proto::JobRecord ahead = printed_record(user, kNow + kClockSkewLimitMs + 1);
  proto::JobRecord absurd = printed_record(user, std::numeric_limits<int64_t>::min());
  auto r = store->ingest({on_time, late, ahead, absurd}, kNow);
  REQUIRE(r.ok());
  CHECK(r->stored == 4);
  CHECK(r->skewed == 3);

  // The flag is a column of the row (read here with SQL: the interface does not expose it).
  auto db = Db::open(dir.path + "/state.db");
  REQUIRE(db.ok());
  auto stmt = (*db)->prepare("SELECT clock_skew, receipt_ms FROM records WHERE id = ?1");
  REQUIRE(stmt.ok());
  for (const auto *rec : {&on_time, &late, &ahead}) {
    stmt->bind_blob(1, id_bytes(rec->id)); // schema 9 keeps a canonical UUID in 16 bytes
    auto row = stmt->step();
    REQUIRE(row.ok());
    REQUIRE(*row);
    CHECK(stmt->col_int(0) == (rec == &on_time ? 0 : 1));
    CHECK(stmt->col_int(1) == kNow);
    stmt->reset();
  }
}

TEST_CASE("a record with a size SQLite cannot hold fails the whole batch", "[accounting][store]") {
  TempDir dir;
  auto store = open_store(dir);
  std::string user = uuid_v7();
  proto::JobRecord huge = printed_record(user, kNow);
  huge.size = std::numeric_limits<uint64_t>::max();
  auto r = store->ingest({printed_record(user, kNow), huge}, kNow);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == Errc::bad_request);
  auto rows = store->totals(0, kNow + 1);
  REQUIRE(rows.ok());
  CHECK(rows->empty());
}

TEST_CASE("each record keeps what the server concluded of its counts [issue-6]", "[accounting][store][issue-6]") {
  TempDir dir;
  auto store = open_store(dir);
  std::string user = uuid_v7();
  std::vector<proto::JobRecord> batch = {printed_record(user, kNow - 3000), printed_record(user, kNow - 2000),
                                         printed_record(user, kNow - 1000)};
  using proto::CountsCheck;
  SECTION("one check per record, stored with it") {
    auto r = store->ingest(batch, {CountsCheck::device, CountsCheck::estimated, CountsCheck::invalid}, kNow);
    REQUIRE(r.ok());
    CHECK(r->stored == 3);
    auto checks = store->counts_checks();
    REQUIRE(checks.ok());
    CHECK(*checks == std::vector<std::pair<std::string, uint64_t>>{{"device", 1}, {"estimated", 1}, {"invalid", 1}});
  }
  SECTION("a count of checks that is not one per record stores nothing") {
    auto r = store->ingest(batch, {CountsCheck::device}, kNow);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Errc::internal);
    auto checks = store->counts_checks();
    REQUIRE(checks.ok());
    CHECK(checks->empty());
  }
  SECTION("without checks from the server, unsigned printed counts are marked unsigned") {
    REQUIRE(store->ingest(batch, kNow).ok());
    auto checks = store->counts_checks();
    REQUIRE(checks.ok());
    CHECK(*checks == std::vector<std::pair<std::string, uint64_t>>{{"unsigned", 3}});
  }
}

TEST_CASE("a version 1 store gains the counts check, its old records marked unchecked [issue-6]",
          "[accounting][store][issue-6]") {
  TempDir dir;
  {
    auto db = Db::open(dir.path + "/state.db");
    REQUIRE(db.ok());
    REQUIRE((*db)->exec("CREATE TABLE records (id TEXT PRIMARY KEY NOT NULL, event TEXT NOT NULL, reason TEXT "
                        "NOT NULL, job TEXT NOT NULL, user_id TEXT NOT NULL, workstation TEXT NOT NULL, site TEXT "
                        "NOT NULL, printer TEXT NOT NULL, submitted_ms INTEGER NOT NULL, event_ms INTEGER NOT NULL, "
                        "format TEXT NOT NULL, size_bytes INTEGER NOT NULL, pages INTEGER NOT NULL, impressions "
                        "INTEGER NOT NULL, sheets INTEGER NOT NULL, copies INTEGER NOT NULL, color_impressions "
                        "INTEGER NOT NULL, duplex INTEGER NOT NULL, counts_source TEXT NOT NULL, receipt_ms INTEGER "
                        "NOT NULL, clock_skew INTEGER NOT NULL) WITHOUT ROWID;"
                        "INSERT INTO records VALUES ('00000000-0000-7000-8000-000000000001', 'printed', 'released', "
                        "'j', 'u', 'w', 's', 'p', 1, 1000, 'application/pdf', 10, 1, 1, 1, 1, 0, 0, 'device', 1, 0);"
                        "PRAGMA user_version = 1;")
                .ok());
  }
  auto store = open_store(dir);
  auto checks = store->counts_checks();
  REQUIRE(checks.ok());
  CHECK(*checks == std::vector<std::pair<std::string, uint64_t>>{{"unchecked", 1}});
  auto rows = store->totals(0, kNow);
  REQUIRE(rows.ok());
  REQUIRE(rows->size() == 1);
  CHECK((*rows)[0].pages == 1);
  // New records go in beside the old one.
  REQUIRE(store->ingest({printed_record(uuid_v7(), 2000)}, kNow).ok());
  checks = store->counts_checks();
  REQUIRE(checks.ok());
  CHECK(checks->size() == 2);
  // Its rollups were built from the records when the store was opened (schema 3): 1 + 2 impressions.
  auto day = store->rollup_sums(Granularity::day, 'e', "", '\0', 0, 1, GroupBy::item_key);
  REQUIRE(day.ok());
  REQUIRE(day->size() == 1);
  CHECK((*day)[0].usage.impressions == 3);
  CHECK((*day)[0].usage.printed_jobs == 2);
  auto by_printer = store->rollup_sums(Granularity::quarter, 'e', "", 'p', 0, 1, GroupBy::item_key);
  REQUIRE(by_printer.ok());
  REQUIRE(by_printer->size() == 2);
  CHECK((*by_printer)[0].item_key == "Printer 2nd floor");
  CHECK((*by_printer)[1].item_key == "p");
}

namespace {

// A printed record with signature parts of the right shapes (the store checks none of them).
proto::JobRecord pending_record(const std::string &user, int64_t event_ms) {
  proto::JobRecord r = printed_record(user, event_ms, 3);
  r.counts_source = "device";
  r.signed_outcome = {0x81, 0xa3, 'j', 'o', 'b', 0x01};
  r.signature = {0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01};
  r.signer_key = {0x30, 0x59, 0x30, 0x13};
  r.signed_by = std::string(64, 'a');
  return r;
}

// Stores `r` with its counts check pending in the store at `dir`, and closes the store.
void store_pending(const TempDir &dir, const proto::JobRecord &r) {
  auto store = open_store(dir);
  IngestFacts pending;
  pending.pending = true;
  REQUIRE(store->ingest_with({r}, {pending}, kNow).ok());
}

// The first column of the first row of `sql` on the store's file, through a connection of its
// own, as an integer or as text.
template <class Read> auto query_first(const TempDir &dir, const char *sql, Read read) {
  auto db = Db::open(dir.path + "/state.db");
  REQUIRE(db.ok());
  auto q = (*db)->prepare(sql);
  REQUIRE(q.ok());
  auto row = q->step();
  REQUIRE(row.ok());
  REQUIRE(*row);
  return read(*q);
}
int64_t query_int(const TempDir &dir, const char *sql) {
  return query_first(dir, sql, [](const Stmt &q) { return q.col_int(0); });
}
std::string query_text(const TempDir &dir, const char *sql) {
  return query_first(dir, sql, [](const Stmt &q) { return q.col_text(0); });
}

TEST_CASE("a statement's records that share user and workstation and site and printer and stamp bind them "
          "once and the others each their own [issue-6]",
          "[accounting][store][issue-6]") {
  TempDir dir;
  constexpr size_t N = kIngestStatementRows;
  const std::string u1 = "00000000-0000-7000-8000-000000000001";
  const std::string u2 = "00000000-0000-7000-8000-000000000002";
  IngestFacts stamped;
  stamped.stamp = {"00000000-0000-7000-8000-0000000000aa", "Sales"};
  auto make = [&](size_t count, auto shape) {
    std::vector<proto::JobRecord> records;
    std::vector<IngestFacts> facts;
    for (size_t i = 0; i < count; i++) {
      proto::JobRecord r = printed_record(u1, kNow - 100000 + static_cast<int64_t>(i) * 100);
      r.workstation = "ws-a";
      IngestFacts f = stamped;
      shape(i, r, f);
      records.push_back(r);
      facts.push_back(f);
    }
    return std::make_pair(records, facts);
  };
  {
    auto store = open_store(dir);
    // All agree: one statement binding the shared columns once.
    auto [same, same_facts] = make(N, [](size_t, proto::JobRecord &, IngestFacts &) {});
    auto stored = store->ingest_with(same, same_facts, kNow);
    REQUIRE(stored.ok());
    CHECK(stored->in_shared_statements == N);
    // Alternating users and workstations: every record binds its own.
    auto [mixed, mixed_facts] = make(N, [&](size_t i, proto::JobRecord &r, IngestFacts &) {
      r.user = i % 2 ? u2 : u1;
      r.workstation = i % 2 ? "ws-c" : "ws-b";
    });
    stored = store->ingest_with(mixed, mixed_facts, kNow + 1);
    REQUIRE(stored.ok());
    CHECK(stored->in_statements == N);
    CHECK(stored->in_shared_statements == 0);
    // The last record of a statement differs in one shared column each time.
    for (int column = 0; column < 6; column++) {
      auto [odd, odd_facts] = make(N, [&](size_t i, proto::JobRecord &r, IngestFacts &f) {
        if (i + 1 < N) return;
        if (column == 0) r.site = "Annex";
        if (column == 1) r.printer = "Printer basement";
        if (column == 2) f.stamp.print_group = "";
        if (column == 3) f.stamp.department = "Legal";
        if (column == 4) r.user = u2;
        if (column == 5) r.workstation = "ws-z";
      });
      stored = store->ingest_with(odd, odd_facts, kNow + 2);
      REQUIRE(stored.ok());
      CHECK(stored->in_statements == N);
      CHECK(stored->in_shared_statements == 0);
    }
  }
  auto count = [&](const std::string &where) {
    return query_int(dir, ("SELECT count(*) FROM records_as_text WHERE " + where).c_str());
  };
  CHECK(count("1") == static_cast<int64_t>(8 * N));
  CHECK(count("user_id = '" + u1 + "' AND workstation = 'ws-a' AND receipt_ms = " + std::to_string(kNow)) ==
        static_cast<int64_t>(N));
  CHECK(count("user_id = '" + u1 + "' AND workstation = 'ws-b' AND receipt_ms = " +
              std::to_string(kNow + 1)) == static_cast<int64_t>(N / 2));
  CHECK(count("user_id = '" + u2 + "' AND workstation = 'ws-c' AND receipt_ms = " +
              std::to_string(kNow + 1)) == static_cast<int64_t>(N / 2));
  CHECK(count("site = 'Annex'") == 1);
  CHECK(count("printer = 'Printer basement'") == 1);
  CHECK(count("print_group = ''") == 1);
  CHECK(count("department = 'Legal'") == 1);
  CHECK(count("user_id = '" + u2 + "' AND workstation = 'ws-a'") == 1);
  CHECK(count("workstation = 'ws-z' AND user_id = '" + u1 + "'") == 1);
  CHECK(count("department = 'Sales' AND print_group = '00000000-0000-7000-8000-0000000000aa'") ==
        static_cast<int64_t>(8 * N - 2));
}

void check_same_for_the_check(const proto::JobRecord &got, const proto::JobRecord &sent) {
  CHECK(got.id == sent.id);
  CHECK(got.event == sent.event);
  CHECK(got.reason == sent.reason);
  CHECK(got.job == sent.job);
  CHECK(got.user == sent.user);
  CHECK(got.workstation == sent.workstation);
  CHECK(got.printer == sent.printer);
  CHECK(got.event_ms == sent.event_ms);
  CHECK(got.pages == sent.pages);
  CHECK(got.impressions == sent.impressions);
  CHECK(got.sheets == sent.sheets);
  CHECK(got.color_impressions == sent.color_impressions);
  CHECK(got.counts_source == sent.counts_source);
  CHECK(got.signed_outcome == sent.signed_outcome);
  CHECK(got.signature == sent.signature);
  CHECK(got.signer_key == sent.signer_key);
  CHECK(got.signed_by == sent.signed_by);
}

// The check of the store's only pending record, after checking it came back as `sent`.
proto::CountsCheck only_pending_check(RecordStore &store, const proto::JobRecord &sent) {
  auto kept = store.pending_checks(10);
  REQUIRE(kept.ok());
  REQUIRE(kept->records.size() == 1);
  check_same_for_the_check(kept->records[0], sent);
  return proto::check_record_counts(kept->records[0], [](const proto::Fingerprint &) { return true; });
}

// A pending_batches row written by hand, as an older or a damaged store holds it (every part under
// 128 bytes, so each length is one byte).
struct HandRow {
  proto::Bytes bytes;
  HandRow &byte(uint8_t b) {
    bytes.push_back(b);
    return *this;
  }
  HandRow &part(std::span<const uint8_t> b) {
    bytes.push_back(static_cast<uint8_t>(b.size()));
    bytes.insert(bytes.end(), b.begin(), b.end());
    return *this;
  }
  HandRow &part(const std::string &s) {
    return part(std::span(reinterpret_cast<const uint8_t *>(s.data()), s.size()));
  }
  // In place of the only pending row of the store at `dir`.
  void replace_row(const TempDir &dir) const {
    auto db = Db::open(dir.path + "/state.db");
    REQUIRE(db.ok());
    auto set = (*db)->prepare("UPDATE pending_batches SET parts = ?1");
    REQUIRE(set.ok());
    REQUIRE(set->bind_blob(1, bytes).run().ok());
  }
};

} // namespace

TEST_CASE("a record whose check runs behind ingest comes back with everything the check reads [issue-6]",
          "[accounting][store][issue-6]") {
  TempDir dir;
  auto store = open_store(dir);
  proto::JobRecord sent = pending_record("u1", kNow - 1000);
  IngestFacts pending;
  pending.pending = true;
  REQUIRE(store->ingest_with({sent, printed_record("u2", kNow - 500)}, {pending, IngestFacts{}}, kNow).ok());
  auto kept = store->pending_checks(10);
  REQUIRE(kept.ok());
  REQUIRE(kept->records.size() == 1); // only the pending one
  check_same_for_the_check(kept->records[0], sent);
  // Posted again: still one pending, and settled once it is gone.
  REQUIRE(store->ingest_with({sent}, {pending}, kNow).ok());
  kept = store->pending_checks(10);
  REQUIRE(kept.ok());
  CHECK(kept->records.size() == 1);
  REQUIRE(kept->rows.size() == 1); // the first batch's row
  REQUIRE(store->settle_checks(kept->rows, {{sent.id, proto::CountsCheck::device}}).ok());
  kept = store->pending_checks(10);
  REQUIRE(kept.ok());
  CHECK(kept->records.empty());
  CHECK(kept->rows.empty());
  auto checks = store->counts_checks();
  REQUIRE(checks.ok());
  CHECK(*checks == std::vector<std::pair<std::string, uint64_t>>{{"device", 1}, {"none", 1}});
  // Settled again (a page checked twice): counted once.
  REQUIRE(store->settle_checks({}, {{sent.id, proto::CountsCheck::invalid}}).ok());
  CHECK(*store->counts_checks() == *checks);
}

TEST_CASE(
    "a record signed but without a signer key or signed outcome is kept pending, for its check to refuse "
    "[issue-6]",
    "[accounting][store][issue-6]") {
  // The service marks pending every record that carries a signature; the check (not the store)
  // then finds it invalid. Empty parts are stored empty, not NULL, so the batch is not refused.
  TempDir dir;
  auto store = open_store(dir);
  proto::JobRecord sent = pending_record("u1", kNow - 1000);
  sent.signer_key.clear();
  sent.signed_outcome.clear();
  IngestFacts pending;
  pending.pending = true;
  auto stored = store->ingest_with({sent}, {pending}, kNow);
  REQUIRE(stored.ok());
  CHECK(stored->stored == 1);
  CHECK(only_pending_check(*store, sent) == proto::CountsCheck::invalid);
}

TEST_CASE("a version 5 store's pending records move to pending_signatures [issue-6]",
          "[accounting][store][issue-6]") {
  TempDir dir;
  proto::JobRecord sent = pending_record("u1", kNow - 1000);
  store_pending(dir, sent);
  {
    // As schema 5 kept it: the whole record, msgpack, in pending_checks.
    auto db = Db::open(dir.path + "/state.db");
    REQUIRE(db.ok());
    REQUIRE((*db)
                ->exec("DROP TABLE pending_batches;"
                       "CREATE TABLE pending_checks (id TEXT PRIMARY KEY NOT NULL, record BLOB NOT NULL) "
                       "WITHOUT ROWID;"
                       "PRAGMA user_version = 5;")
                .ok());
    proto::MapWriter whole;
    sent.write(whole);
    proto::Bytes bytes = whole.finish();
    auto insert = (*db)->prepare("INSERT INTO pending_checks (id, record) VALUES (?1, ?2)");
    REQUIRE(insert.ok());
    REQUIRE(insert->bind(1, sent.id).bind_blob(2, bytes).run().ok());
  }
  auto store = open_store(dir);
  auto kept = store->pending_checks(10);
  REQUIRE(kept.ok());
  REQUIRE(kept->records.size() == 1);
  check_same_for_the_check(kept->records[0], sent);
  CHECK(query_int(dir, "SELECT COUNT(*) FROM sqlite_schema WHERE name = 'pending_checks'") == 0);
}

TEST_CASE("a version 5 store with a damaged pending record is refused and left as it was [issue-6]",
          "[accounting][store][issue-6]") {
  TempDir dir;
  { auto store = open_store(dir); }
  {
    auto db = Db::open(dir.path + "/state.db");
    REQUIRE(db.ok());
    REQUIRE((*db)
                ->exec("DROP TABLE pending_batches;"
                       "CREATE TABLE pending_checks (id TEXT PRIMARY KEY NOT NULL, record BLOB NOT NULL) "
                       "WITHOUT ROWID;"
                       "INSERT INTO pending_checks VALUES ('x', x'c1');"
                       "PRAGMA user_version = 5;")
                .ok());
  }
  auto store = open_sqlite_record_store(dir.path + "/state.db");
  REQUIRE_FALSE(store.ok());
  CHECK(store.error().message.find("pending_checks") != std::string::npos);
  CHECK(query_int(dir, "PRAGMA user_version") == 5);
  CHECK(query_int(dir, "SELECT COUNT(*) FROM pending_checks") == 1);
}

TEST_CASE("the WAL is copied into the database file while the store stays open [issue-6]",
          "[accounting][store][issue-6]") {
  // The checkpoints run on a thread of the store's own (off the commits); without any the
  // database file would keep the size it had before the first batch until the store closed.
  TempDir dir;
  auto store = open_store(dir);
  std::string db_path = dir.path + "/state.db";
  auto size_now = [&] { return std::filesystem::file_size(db_path); };
  uintmax_t before = size_now();
  std::vector<proto::JobRecord> batch;
  int64_t t = kNow - 3'600'000;
  // 40 batches of 500 records: well over the 1,000 pages (4 MB) that start a checkpoint.
  for (int b = 0; b < 40; b++) {
    batch.clear();
    for (int i = 0; i < 500; i++)
      batch.push_back(printed_record("user-" + std::to_string(i % 7), t++));
    REQUIRE(store->ingest(batch, kNow).ok());
  }
  bool grew = false;
  for (int i = 0; i < 500 && !grew; i++) {
    grew = size_now() > before + 4 * 1024 * 1024;
    if (!grew) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  CHECK(grew);
  auto rows = store->totals(0, kNow);
  REQUIRE(rows.ok());
  CHECK(rows->size() == 7);
}

TEST_CASE("batches stored together: one result each, an id repeated in a later batch is its duplicate, and a "
          "failure stores nothing [issue-6]",
          "[accounting][store][issue-6]") {
  TempDir dir;
  auto store = open_store(dir);
  std::vector<proto::JobRecord> a = {printed_record("u1", kNow - 3000), printed_record("u1", kNow - 2000)};
  std::vector<proto::JobRecord> b = {a[1], printed_record("u2", kNow - 1000)};
  std::vector<IngestFacts> facts_a(a.size()), facts_b(b.size());
  auto results = store->ingest_group({IngestBatch{&a, &facts_a}, IngestBatch{&b, &facts_b}}, kNow);
  REQUIRE(results.ok());
  REQUIRE(results->size() == 2);
  CHECK((*results)[0].stored == 2);
  CHECK((*results)[0].duplicates == 0);
  CHECK((*results)[1].stored == 1);
  CHECK((*results)[1].duplicates == 1);
  auto day = store->rollup_sums(Granularity::day, 'e', "", '\0', 0, kNow / kDayMs + 1, GroupBy::item_key);
  REQUIRE(day.ok());
  REQUIRE(day->size() == 1);
  CHECK((*day)[0].usage.printed_jobs == 3); // the repeated record counted once

  // A value SQLite cannot hold in any batch: the group fails, nothing of it is stored.
  std::vector<proto::JobRecord> c = {printed_record("u3", kNow - 500)};
  std::vector<proto::JobRecord> d = {printed_record("u3", kNow - 400)};
  d[0].size = std::numeric_limits<uint64_t>::max();
  std::vector<IngestFacts> facts_c(1), facts_d(1);
  auto failed = store->ingest_group({IngestBatch{&c, &facts_c}, IngestBatch{&d, &facts_d}}, kNow);
  REQUIRE_FALSE(failed.ok());
  CHECK(failed.error().code == Errc::bad_request);
  auto rows = store->totals(0, kNow + 1);
  REQUIRE(rows.ok());
  CHECK(rows->size() == 2);
  CHECK(find_user(*rows, "u3") == nullptr);
}

TEST_CASE(
    "a version 6 store loses its record indexes and gains the user rollups, printed bytes and check counts "
    "[issue-6]",
    "[accounting][store][issue-6]") {
  TempDir dir;
  std::string alice = "00000000-0000-7000-8000-00000000000a";
  std::string bob = "00000000-0000-7000-8000-00000000000b";
  proto::JobRecord deleted = printed_record(bob, kNow - 3000, 9, 900);
  deleted.event = "deleted";
  deleted.reason = "expired";
  {
    auto store = open_store(dir);
    REQUIRE(
        store
            ->ingest({printed_record(alice, kNow - 2000, 2, 100), printed_record(alice, kNow - 1000, 3, 200),
                      printed_record(bob, kNow - 500, 4, 400), deleted},
                     {proto::CountsCheck::device, proto::CountsCheck::estimated, proto::CountsCheck::device,
                      proto::CountsCheck::none},
                     kNow)
            .ok());
  }
  {
    // As schema 6 had it: both indexes, no check_counts, rollups without the user scope or bytes.
    auto db = Db::open(dir.path + "/state.db");
    REQUIRE(db.ok());
    REQUIRE(
        (*db)
            ->exec("CREATE INDEX records_by_event_time ON records(event, event_ms);"
                   "CREATE INDEX records_by_user ON records(user_id, event_ms);"
                   "DROP TABLE check_counts;"
                   "DELETE FROM rollup_quarter WHERE scope = 'u'; DELETE FROM rollup_day WHERE scope = 'u';"
                   "ALTER TABLE rollup_quarter DROP COLUMN printed_bytes;"
                   "ALTER TABLE rollup_day DROP COLUMN printed_bytes;"
                   "PRAGMA user_version = 6;")
            .ok());
  }
  auto store = open_store(dir);
  CHECK(query_int(dir, "PRAGMA user_version") == 10);
  CHECK(query_int(dir, "SELECT COUNT(*) FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'records' "
                       "AND name NOT LIKE 'sqlite_autoindex%'") == 0);
  auto checks = store->counts_checks();
  REQUIRE(checks.ok());
  CHECK(*checks == std::vector<std::pair<std::string, uint64_t>>{{"device", 2}, {"estimated", 1}});
  auto rows = store->totals(0, kNow + 1);
  REQUIRE(rows.ok());
  REQUIRE(rows->size() == 2);
  CHECK((*rows)[0].bytes == 300);
  CHECK((*rows)[1].bytes == 400);
  // The user scope, rebuilt from the records: a user's own report reads it.
  auto quarter = bucket_of(kNow, kQuarterMs);
  auto mine =
      store->rollup_sums(Granularity::quarter, 'u', alice, 'p', quarter - 1, quarter + 1, GroupBy::item_key);
  REQUIRE(mine.ok());
  REQUIRE(mine->size() == 1);
  CHECK((*mine)[0].usage.printed_jobs == 2);
  auto theirs = store->rollup_sums(Granularity::day, 'u', bob, '\0', 0, quarter, GroupBy::item_key);
  REQUIRE(theirs.ok());
  REQUIRE(theirs->size() == 1);
  CHECK((*theirs)[0].usage.deleted_jobs == 1);
  CHECK((*theirs)[0].usage.deleted_pages == 9);
  // The rollups were rebuilt, not added to: the enterprise's total counts each record once.
  auto all = store->rollup_sums(Granularity::day, 'e', "", '\0', 0, quarter, GroupBy::item_key);
  REQUIRE(all.ok());
  REQUIRE(all->size() == 1);
  CHECK((*all)[0].usage.printed_jobs == 3);
  CHECK((*all)[0].usage.printed_bytes == 700);
}

TEST_CASE("a version 7 store's pending rows are packed into pending_batches, 500 a row [issue-6]",
          "[accounting][store][issue-6]") {
  TempDir dir;
  std::vector<proto::JobRecord> sent;
  for (int i = 0; i < 501; i++) {
    sent.push_back(pending_record("u1", kNow - 1000 + i));
    if (i % 2) sent.back().signer_key = {0x30, 0x59, 0x30, 0x14}; // a second station
  }
  {
    auto store = open_store(dir);
    IngestFacts pending;
    pending.pending = true;
    for (const auto &r : sent)
      REQUIRE(store->ingest_with({r}, {pending}, kNow).ok());
  }
  {
    // As schema 7 kept them: a row each in pending_signatures.
    auto db = Db::open(dir.path + "/state.db");
    REQUIRE(db.ok());
    REQUIRE(
        (*db)
            ->exec(
                "DROP TABLE pending_batches;"
                "CREATE TABLE pending_signatures (id TEXT PRIMARY KEY NOT NULL, signed_outcome BLOB NOT "
                "NULL, "
                "signature BLOB NOT NULL, signer_key BLOB NOT NULL, signed_by TEXT NOT NULL) WITHOUT ROWID;"
                "PRAGMA user_version = 7;")
            .ok());
    auto insert = (*db)->prepare("INSERT INTO pending_signatures VALUES (?1, ?2, ?3, ?4, ?5)");
    REQUIRE(insert.ok());
    for (const auto &r : sent)
      REQUIRE(insert->bind(1, r.id)
                  .bind_blob(2, r.signed_outcome)
                  .bind_blob(3, r.signature)
                  .bind_blob(4, r.signer_key)
                  .bind(5, r.signed_by)
                  .run()
                  .ok());
  }
  auto store = open_store(dir);
  CHECK(query_int(dir, "SELECT COUNT(*) FROM sqlite_schema WHERE name = 'pending_signatures'") == 0);
  CHECK(query_int(dir, "SELECT COUNT(*) FROM pending_batches") == 2);
  auto kept = store->pending_checks(1000);
  REQUIRE(kept.ok());
  REQUIRE(kept->records.size() == sent.size());
  for (size_t i = 0; i < sent.size(); i++)
    check_same_for_the_check(kept->records[i], sent[i]); // in id order
  // A page is whole rows: the first row's 500 records, though 10 were asked for.
  auto page = store->pending_checks(10);
  REQUIRE(page.ok());
  CHECK(page->records.size() == 500);
  CHECK(page->rows.size() == 1);
}

TEST_CASE("a version 8 store's ids move to 16 bytes where they are canonical UUIDs, and read back the same "
          "[issue-6]",
          "[accounting][store][issue-6]") {
  TempDir dir;
  proto::JobRecord sent = pending_record(uuid_v7(), kNow - 1000);
  proto::JobRecord other = printed_record("u1", kNow - 900); // a user id that is no UUID
  other.id = "0190A6B2-0000-7000-8000-00000000000A";         // upper case: not canonical
  {
    auto store = open_store(dir);
    IngestFacts pending;
    pending.pending = true;
    REQUIRE(store->ingest_with({sent, other}, {pending, IngestFacts{}}, kNow).ok());
  }
  {
    // As schema 8 kept records: every id and name as text, as records_as_text shows them.
    auto db = Db::open(dir.path + "/state.db");
    REQUIRE(db.ok());
    REQUIRE(
        (*db)
            ->exec(
                "CREATE TABLE old (id TEXT PRIMARY KEY NOT NULL, event TEXT NOT NULL, reason TEXT NOT NULL, "
                "job TEXT NOT NULL, user_id TEXT NOT NULL, workstation TEXT NOT NULL, site TEXT NOT NULL, "
                "printer TEXT NOT NULL, submitted_ms INTEGER NOT NULL, event_ms INTEGER NOT NULL, format "
                "TEXT "
                "NOT NULL, size_bytes INTEGER NOT NULL, pages INTEGER NOT NULL, impressions INTEGER NOT "
                "NULL, "
                "sheets INTEGER NOT NULL, copies INTEGER NOT NULL, color_impressions INTEGER NOT NULL, "
                "duplex "
                "INTEGER NOT NULL, counts_source TEXT NOT NULL, receipt_ms INTEGER NOT NULL, clock_skew "
                "INTEGER NOT NULL, counts_check TEXT NOT NULL DEFAULT 'unchecked', print_group TEXT NOT NULL "
                "DEFAULT '', department TEXT NOT NULL DEFAULT '') WITHOUT ROWID;"
                "INSERT INTO old SELECT * FROM records_as_text; DROP VIEW records_as_text;"
                "DROP TABLE records; ALTER TABLE old RENAME TO records; PRAGMA user_version = 8;")
            .ok());
  }
  CHECK(query_int(dir, "SELECT COUNT(*) FROM records WHERE typeof(id) = 'text'") == 2);
  auto store = open_store(dir);
  CHECK(query_int(dir, "PRAGMA user_version") == 10);
  CHECK(query_int(dir, "SELECT COUNT(*) FROM records WHERE typeof(id) = 'blob' AND length(id) = 16") == 1);
  CHECK(query_int(dir, "SELECT COUNT(*) FROM records WHERE typeof(job) = 'blob'") == 2);
  CHECK(query_int(dir, "SELECT COUNT(*) FROM records WHERE typeof(user_id) = 'blob'") == 1);
  CHECK(query_int(dir, "SELECT COUNT(*) FROM records WHERE user_id = 'u1' AND typeof(id) = 'text'") == 1);
  CHECK(query_int(dir, "SELECT COUNT(*) FROM sqlite_schema WHERE name = 'records_packed'") == 0);
  // The pending record comes back for its check with the same texts.
  auto kept = store->pending_checks(10);
  REQUIRE(kept.ok());
  REQUIRE(kept->records.size() == 1);
  check_same_for_the_check(kept->records[0], sent);
  // Both are still known by their ids: posted again, they are duplicates.
  auto again = store->ingest({sent, other}, kNow);
  REQUIRE(again.ok());
  CHECK(again->duplicates == 2);
  // An id is the text that was sent: the lower-case form of the upper-case id is another record,
  // as it was before schema 9.
  proto::JobRecord lower = other;
  std::transform(lower.id.begin(), lower.id.end(), lower.id.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  auto third = store->ingest({lower}, kNow);
  REQUIRE(third.ok());
  CHECK(third->stored == 1);
  REQUIRE(store->settle_checks(kept->rows, {{sent.id, proto::CountsCheck::device}}).ok());
  auto checks = store->counts_checks();
  REQUIRE(checks.ok());
  CHECK(*checks ==
        std::vector<std::pair<std::string, uint64_t>>{{"device", 1}, {"none", 1}, {"unsigned", 1}});
}

TEST_CASE(
    "ids that are not canonical lower-case UUIDs are kept as they came and read back the same [issue-6]",
    "[accounting][store][issue-6]") {
  TempDir dir;
  auto store = open_store(dir);
  const std::string canonical = "0190a6b2-3c4d-7e5f-8a9b-0c1d2e3f4a5b";
  // Each differs from a canonical UUID in one way: a digit that is no hex digit, upper case, a
  // dash out of place, one character short or long, empty.
  const std::vector<std::string> others = {"0190a6b2-3c4d-7e5f-8a9b-0c1d2e3f4a5g",
                                           "0190A6B2-3C4D-7E5F-8A9B-0C1D2E3F4A5B",
                                           "0190a6b23-c4d-7e5f-8a9b-0c1d2e3f4a5b",
                                           "0190a6b2-3c4d-7e5f-8a9b-0c1d2e3f4a5",
                                           "0190a6b2-3c4d-7e5f-8a9b-0c1d2e3f4a5b0",
                                           "0190a6b2-3c4d-7e5f-8a9b-0c1d2e3f4a-b",
                                           ""};
  IngestFacts pending;
  pending.pending = true;
  std::vector<proto::JobRecord> sent;
  for (const std::string &id : others) {
    proto::JobRecord r = pending_record(id, kNow - 1000 + static_cast<int64_t>(sent.size()));
    r.id = id;
    r.job = id;
    sent.push_back(r);
  }
  proto::JobRecord packed = pending_record(canonical, kNow);
  packed.id = canonical;
  packed.job = canonical;
  sent.push_back(packed);
  std::vector<IngestFacts> facts(sent.size(), pending);
  auto stored = store->ingest_with(sent, facts, kNow);
  REQUIRE(stored.ok());
  CHECK(stored->stored == sent.size());
  CHECK(query_int(dir, "SELECT COUNT(*) FROM records WHERE typeof(id) = 'blob'") == 1);
  CHECK(query_int(dir,
                  "SELECT COUNT(*) FROM records WHERE typeof(user_id) = 'text' AND typeof(job) = 'text'") ==
        static_cast<int64_t>(others.size()));
  auto kept = store->pending_checks(100);
  REQUIRE(kept.ok());
  REQUIRE(kept->records.size() == sent.size());
  for (const proto::JobRecord &r : sent) {
    auto got = std::find_if(kept->records.begin(), kept->records.end(),
                            [&](const proto::JobRecord &k) { return k.id == r.id; });
    REQUIRE(got != kept->records.end());
    check_same_for_the_check(*got, r);
  }
}

TEST_CASE("a version 9 store's event, reason, counts source and check move to codes and read back the same "
          "[issue-6]",
          "[accounting][store][issue-6]") {
  TempDir dir;
  proto::JobRecord sent = pending_record(uuid_v7(), kNow - 1000); // counts source "device"
  proto::JobRecord expired = printed_record(uuid_v7(), kNow - 900);
  expired.event = "deleted";
  expired.reason = "expired";
  expired.pages = expired.impressions = expired.sheets = -1;
  expired.counts_source = "";
  proto::JobRecord odd = printed_record(uuid_v7(), kNow - 800); // a counts source no station sends
  odd.reason = "failed";
  odd.counts_source = "1";
  {
    auto store = open_store(dir);
    IngestFacts pending;
    pending.pending = true;
    REQUIRE(store->ingest_with({sent, expired, odd}, {pending, IngestFacts{}, IngestFacts{}}, kNow).ok());
  }
  // Stored as codes; a value outside the names as its text, which looks like a code but is not one.
  CHECK(query_int(dir, "SELECT COUNT(*) FROM records WHERE typeof(event) = 'integer' AND typeof(reason) = "
                       "'integer' AND typeof(counts_check) = 'integer'") == 3);
  CHECK(query_int(dir, "SELECT COUNT(*) FROM records WHERE typeof(counts_source) = 'text'") == 1);
  CHECK(query_text(dir, "SELECT group_concat(event || '/' || reason || '/' || counts_source || '/' || "
                        "counts_check, ' ') FROM (SELECT * FROM records_as_text ORDER BY event_ms)") ==
        "printed/released/device/pending deleted/expired//none printed/failed/1/none");
  {
    // As schema 9 kept them: names as text (the codes are the stored format: 0 printed, 1 deleted;
    // reasons released 0 ... failed 4; counts sources "" 0, device 1, estimated 2; checks none 0 ...
    // pending 5, unchecked 6).
    auto db = Db::open(dir.path + "/state.db");
    REQUIRE(db.ok());
    REQUIRE(
        (*db)
            ->exec(
                "UPDATE records SET event = CASE event WHEN 0 THEN 'printed' WHEN 1 THEN 'deleted' END, "
                "reason = CASE reason WHEN 0 THEN 'released' WHEN 1 THEN 'expired' WHEN 4 THEN 'failed' END, "
                "counts_source = CASE counts_source WHEN 0 THEN '' WHEN 1 THEN 'device' ELSE counts_source "
                "END, "
                "counts_check = CASE counts_check WHEN 0 THEN 'none' WHEN 5 THEN 'pending' END;"
                "DROP VIEW records_as_text; PRAGMA user_version = 9;")
            .ok());
  }
  CHECK(query_int(dir,
                  "SELECT COUNT(*) FROM records WHERE typeof(event) = 'text' AND typeof(reason) = 'text' "
                  "AND typeof(counts_source) = 'text' AND typeof(counts_check) = 'text'") == 3);
  auto store = open_store(dir);
  CHECK(query_int(dir, "PRAGMA user_version") == 10);
  CHECK(query_int(dir, "SELECT COUNT(*) FROM records WHERE typeof(event) = 'integer' AND typeof(reason) = "
                       "'integer' AND typeof(counts_check) = 'integer'") == 3);
  CHECK(query_int(dir, "SELECT COUNT(*) FROM records WHERE typeof(counts_source) = 'text'") == 1);
  CHECK(query_int(dir, "SELECT COUNT(*) FROM records WHERE typeof(id) = 'blob'") == 3);
  CHECK(query_text(dir, "SELECT group_concat(event || '/' || reason || '/' || counts_source || '/' || "
                        "counts_check, ' ') FROM (SELECT * FROM records_as_text ORDER BY event_ms)") ==
        "printed/released/device/pending deleted/expired//none printed/failed/1/none");
  CHECK(query_text(dir, "SELECT job FROM records_as_text WHERE reason = 'expired'") == expired.job);
  // The pending record comes back for its check as it was sent, and settles.
  auto kept = store->pending_checks(10);
  REQUIRE(kept.ok());
  REQUIRE(kept->records.size() == 1);
  check_same_for_the_check(kept->records[0], sent);
  REQUIRE(store->settle_checks(kept->rows, {{sent.id, proto::CountsCheck::device}}).ok());
  CHECK(query_text(dir, "SELECT counts_check FROM records_as_text WHERE counts_source = 'device'") ==
        "device");
  auto again = store->ingest({sent, expired, odd}, kNow);
  REQUIRE(again.ok());
  CHECK(again->duplicates == 3);
  auto checks = store->counts_checks();
  REQUIRE(checks.ok());
  CHECK(*checks == std::vector<std::pair<std::string, uint64_t>>{{"device", 1}, {"none", 1}});
}

TEST_CASE("a damaged pending row is reported, not half read [issue-6]", "[accounting][store][issue-6]") {
  TempDir dir;
  proto::JobRecord sent = pending_record("u1", kNow - 1000);
  store_pending(dir, sent);
  auto db = Db::open(dir.path + "/state.db");
  REQUIRE(db.ok());
  auto saved = (*db)->prepare("SELECT parts FROM pending_batches");
  REQUIRE(saved.ok());
  REQUIRE(*saved->step());
  proto::Bytes parts = saved->col_blob(0);
  saved->reset();
  auto restore = (*db)->prepare("UPDATE pending_batches SET parts = ?1");
  REQUIRE(restore.ok());
  auto store = open_store(dir);
  for (const char *damage :
       {"UPDATE pending_batches SET parts = substr(parts, 1, length(parts) - 1)",
        "UPDATE pending_batches SET parts = parts || x'00'", "UPDATE pending_batches SET parts = x'03'",
        "UPDATE pending_batches SET parts = x'02'",
        "UPDATE pending_batches SET parts = x'01ffffffffffffffffff7f'"}) {
    CAPTURE(damage);
    REQUIRE((*db)->exec(damage).ok());
    auto kept = store->pending_checks(10);
    REQUIRE_FALSE(kept.ok());
    CHECK(kept.error().message.find("pending_batches row") != std::string::npos);
    REQUIRE(restore->bind_blob(1, parts).run().ok());
  }
  auto kept = store->pending_checks(10);
  REQUIRE(kept.ok());
  REQUIRE(kept->records.size() == 1);
  check_same_for_the_check(kept->records[0], sent);
}

namespace {

// A printed record signed by release station `station`, as the agent posts it.
proto::JobRecord station_signed_record(const proto::KeyPair &station, int64_t event_ms) {
  proto::JobRecord r = printed_record(uuid_v7(), event_ms, 3);
  r.counts_source = "device";
  lpm::accounting::test::sign_record(r, station);
  REQUIRE_FALSE(r.signature.empty());
  return r;
}

// The size of the store's only pending_batches row.
int64_t pending_row_size(const TempDir &dir) {
  return query_int(dir, "SELECT length(parts) FROM pending_batches");
}

} // namespace

TEST_CASE("a station's signed outcomes are kept without their keys and come back byte for byte [issue-6]",
          "[accounting][store][issue-6]") {
  TempDir dir;
  auto station = lpm::test::new_key();
  std::vector<proto::JobRecord> sent;
  size_t outcome_bytes = 0;
  for (int i = 0; i < 20; i++) {
    sent.push_back(station_signed_record(*station, kNow - 1000 + i));
    outcome_bytes += sent.back().signed_outcome.size();
  }
  {
    auto store = open_store(dir);
    IngestFacts pending;
    pending.pending = true;
    REQUIRE(store->ingest_with(sent, std::vector<IngestFacts>(sent.size(), pending), kNow).ok());
  }
  // The whole row (the station's key and fingerprint once, then each record's id, signature and
  // what its outcome does not share) is smaller than the signed outcomes alone.
  CHECK(pending_row_size(dir) < static_cast<int64_t>(outcome_bytes));
  auto store = open_store(dir);
  auto kept = store->pending_checks(100);
  REQUIRE(kept.ok());
  REQUIRE(kept->records.size() == sent.size());
  for (size_t i = 0; i < sent.size(); i++) {
    check_same_for_the_check(kept->records[i], sent[i]);
    CHECK(proto::check_record_counts(kept->records[i], [](const proto::Fingerprint &) { return true; }) ==
          proto::CountsCheck::device);
  }
}

TEST_CASE(
    "a signed outcome that is not its record's comes back byte for byte, and is still refused [issue-6]",
    "[accounting][store][issue-6]") {
  // Values that differ from the record's are kept, so the check sees what the station signed.
  TempDir dir;
  proto::JobRecord sent = station_signed_record(*lpm::test::new_key(), kNow - 1000);
  sent.workstation = uuid_v7(); // signed for another workstation
  sent.pages = 1;               // and other counts
  store_pending(dir, sent);
  auto store = open_store(dir);
  CHECK(only_pending_check(*store, sent) == proto::CountsCheck::invalid);
}

TEST_CASE("a pending row in the first format (schema 8's) is still read [issue-6]",
          "[accounting][store][issue-6]") {
  TempDir dir;
  proto::JobRecord sent = pending_record("u1", kNow - 1000);
  store_pending(dir, sent);
  // Format 1: the signer keys, then id, signed outcome, signature, key index and fingerprint.
  HandRow{}
      .byte(1)
      .byte(1)
      .part(sent.signer_key)
      .byte(1)
      .part(sent.id)
      .part(sent.signed_outcome)
      .part(sent.signature)
      .byte(0)
      .part(sent.signed_by)
      .replace_row(dir);
  auto store = open_store(dir);
  CHECK(only_pending_check(*store, sent) == proto::CountsCheck::invalid); // its parts are not a real outcome
}

TEST_CASE("a pending row whose stripped outcome does not rebuild is reported, not half read [issue-6]",
          "[accounting][store][issue-6]") {
  TempDir dir;
  proto::JobRecord sent = pending_record("u1", kNow - 1000);
  store_pending(dir, sent);
  // Format 2: the stations (key, fingerprint), then id, form (1: stripped), outcome, signature and
  // station index. Each stripped outcome here is wrong in one way.
  for (const proto::Bytes &stripped : {proto::Bytes{0x00}, proto::Bytes{0x80}, proto::Bytes{0xff, 0xff, 0x03},
                                       proto::Bytes{0x00, 0xa1, 'x'}}) {
    CAPTURE(stripped);
    HandRow{}
        .byte(2)
        .byte(1)
        .part(sent.signer_key)
        .part(sent.signed_by)
        .byte(1)
        .part(sent.id)
        .byte(1)
        .part(stripped)
        .part(sent.signature)
        .byte(0)
        .replace_row(dir);
    auto store = open_store(dir);
    auto kept = store->pending_checks(10);
    REQUIRE_FALSE(kept.ok());
    CHECK_THAT(kept.error().message, Catch::Contains("a pending row is damaged") &&
                                         Catch::Contains("pending_batches row") && Catch::Contains(sent.id));
  }
}
