// DirectoryStore: users, badges, tokens, enrollment, holdings leases, audit, schema.
#include <catch2/catch.hpp>

#include <sys/stat.h>

#include <cstdio>
#include <filesystem>
#include <string>

#include "directory_folder.h"
#include "directory_store.h"
#include "lpm/ids.h"
#include "lpm/protocol/keys.h"
#include "transport_support.h"

using namespace lpm;
using namespace lpm::directory;
using lpm::test::kFixedNowMs;
using lpm::test::TempDir;
using proto::EnrollKind;

namespace {

constexpr int64_t kDayMs = 24 * 3600 * 1000;

std::unique_ptr<DirectoryStore> open_store(const TempDir &dir) {
  auto store = DirectoryStore::open(dir.path + "/state.db");
  REQUIRE(store.ok());
  return std::move(*store);
}

// A fingerprint-shaped string, different for each n (the store never needs the key itself).
std::string fake_fingerprint(int n) {
  std::string hex = to_hex(proto::sha256(std::vector<uint8_t>{static_cast<uint8_t>(n)}));
  REQUIRE(proto::fingerprint_valid(hex));
  return hex;
}

std::string make_token(DirectoryStore &store, EnrollKind kind, int64_t uses,
                       int64_t expires_ms = kFixedNowMs + kDayMs) {
  auto token = store.token_create(kind, uses, expires_ms, kFixedNowMs, "test");
  REQUIRE(token.ok());
  return *token;
}

// Binds users to a workstation, as an administrator would (holdings are taken only for them).
void bind_users(DirectoryStore &store, const std::string &workstation, std::initializer_list<std::string> users) {
  auto tx = store.begin();
  for (const auto &u : users)
    REQUIRE(store.workstation_user_add(workstation, u, "admin", kFixedNowMs).ok());
  REQUIRE(tx.commit().ok());
}

int64_t count_rows(DirectoryStore &store, const std::string &sql) {
  auto stmt = store.db().prepare(sql);
  REQUIRE(stmt.ok());
  auto row = stmt->step();
  REQUIRE(row.ok());
  REQUIRE(*row);
  return stmt->col_int(0);
}

} // namespace

TEST_CASE("directory store: the schema is created at the current version and reopening keeps the data",
          "[directory][store]") {
  TempDir dir;
  std::string id;
  {
    auto store = open_store(dir);
    CHECK(count_rows(*store, "PRAGMA user_version") == 6);
    auto user = store->user_add("a@example.com", "A", kFixedNowMs, "test");
    REQUIRE(user.ok());
    id = user->id;
  }
  auto store = open_store(dir);
  CHECK(count_rows(*store, "PRAGMA user_version") == 6);
  auto again = store->user_by_id(id);
  REQUIRE(again.ok());
  CHECK(again->email == "a@example.com");
}

TEST_CASE("directory store: a database from a newer program is refused", "[directory][store]") {
  TempDir dir;
  {
    auto store = open_store(dir);
    REQUIRE(store->db().exec("PRAGMA user_version = 99").ok());
  }
  auto store = DirectoryStore::open(dir.path + "/state.db");
  REQUIRE_FALSE(store.ok());
  CHECK(store.error().message.find("newer") != std::string::npos);
}

TEST_CASE("directory store: user add lower-cases the e-mail and refuses a duplicate with conflict",
          "[directory][store]") {
  TempDir dir;
  auto store = open_store(dir);
  auto alice = store->user_add("Alice@Example.COM", "Alice Liddell", kFixedNowMs, "test");
  REQUIRE(alice.ok());
  CHECK(uuid_valid(alice->id));
  CHECK(alice->email == "alice@example.com");
  CHECK(alice->display_name == "Alice Liddell");

  auto dup = store->user_add("alice@example.com", "", kFixedNowMs, "test");
  REQUIRE_FALSE(dup.ok());
  CHECK(dup.error().code == Errc::conflict);
  CHECK(count_rows(*store, "SELECT count(*) FROM users") == 1);

  auto bob = store->user_add("bob@example.com", "", kFixedNowMs, "test");
  REQUIRE(bob.ok());
  CHECK(bob->display_name.empty()); // never derived from anything else (UA-17)
  CHECK(bob->id != alice->id);

  auto found = store->user_by_email("ALICE@example.com");
  REQUIRE(found.ok());
  CHECK(found->id == alice->id);
}

TEST_CASE("directory store: invalid e-mail addresses are refused with bad_request", "[directory][store]") {
  TempDir dir;
  auto store = open_store(dir);
  for (const char *bad : {"", "alice", "a@b@c", "@example.com", "alice@", "al ice@example.com", "a\t@b"}) {
    auto r = store->user_add(bad, "", kFixedNowMs, "test");
    INFO("email: " << bad);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Errc::bad_request);
  }
  CHECK(email_normalize("X@Y").ok());
  CHECK(*email_normalize("X@Y") == "x@y");
}

TEST_CASE("directory store: badges are stored trimmed and found by the same rule, hex letters in any case "
          "(TS-3, AMB-15)",
          "[directory][store][TS-3][AMB-15]") {
  TempDir dir;
  auto store = open_store(dir);
  auto alice = store->user_add("alice@example.com", "Alice", kFixedNowMs, "test");
  REQUIRE(alice.ok());
  REQUIRE(store->badge_add("  04A1B2C3\r\n", "Alice@example.com", kFixedNowMs, "test").ok());

  auto found = store->user_by_badge("04A1B2C3", kFixedNowMs);
  REQUIRE(found.ok());
  CHECK(found->id == alice->id);
  CHECK(store->user_by_badge("\t04A1B2C3 ", kFixedNowMs).ok());
  // Stored as delivered; hex letters compare case-insensitively (AMB-15).
  CHECK(store->badge_find("04a1b2c3")->badge == "04A1B2C3");
  CHECK(store->user_by_badge("04a1b2c3", kFixedNowMs).ok());
  // Never converted between hexadecimal and decimal: 0x04A1B2C3 is 77705923.
  auto decimal = store->user_by_badge("77705923", kFixedNowMs);
  REQUIRE_FALSE(decimal.ok());
  CHECK(decimal.error().code == Errc::not_found);
  CHECK(decimal.error().message == "unknown badge");

  auto dup = store->badge_add("04a1b2c3", "alice@example.com", kFixedNowMs, "test");
  REQUIRE_FALSE(dup.ok());
  CHECK(dup.error().code == Errc::conflict);

  auto nobody = store->badge_add("777", "nobody@example.com", kFixedNowMs, "test");
  REQUIRE_FALSE(nobody.ok());
  CHECK(nobody.error().code == Errc::not_found);

  auto blank = store->badge_add("   ", "alice@example.com", kFixedNowMs, "test");
  REQUIRE_FALSE(blank.ok());
  CHECK(blank.error().code == Errc::bad_request);
}

TEST_CASE("directory store: the enterprise's delimiter rule applies alike at registration and badge-in "
          "(AMB-15, TS-3)",
          "[directory][store][AMB-15][TS-3]") {
  TempDir dir;
  auto store = open_store(dir);
  REQUIRE(store->user_add("alice@example.com", "Alice", kFixedNowMs, "test").ok());
  {
    auto tx = store->begin();
    REQUIRE(store->badge_rules_set(BadgeRules{";?%"}).ok());
    REQUIRE(tx.commit().ok());
  }
  REQUIRE(store->badge_add(";1234?", "alice@example.com", kFixedNowMs, "test").ok());
  CHECK(store->badge_find("1234").ok());
  CHECK(store->user_by_badge("%1234?", kFixedNowMs).ok());
  CHECK(store->user_by_badge("1234", kFixedNowMs).ok());
  // Only the ends: a delimiter inside the id is part of it.
  CHECK_FALSE(store->user_by_badge("12;34", kFixedNowMs).ok());
}

TEST_CASE("directory store: one permanent and one temporary badge per user, a temporary one expires after 24 h "
          "(BD-4, BD-13, AMB-13)",
          "[directory][store][BD-4][BD-13][AMB-13]") {
  TempDir dir;
  auto store = open_store(dir);
  auto alice = store->user_add("alice@example.com", "Alice", kFixedNowMs, "test");
  auto bob = store->user_add("bob@example.com", "Bob", kFixedNowMs, "test");
  REQUIRE(alice.ok());
  REQUIRE(bob.ok());
  auto assign = [&](const char *badge, const std::string &user, bool temporary, int64_t at) {
    auto tx = store->begin();
    auto replaced = store->badge_assign(badge, user, temporary, at);
    if (replaced.ok()) REQUIRE(tx.commit().ok());
    return replaced;
  };
  CHECK(*assign("P1", alice->id, false, kFixedNowMs) == "");
  CHECK(*assign("T1", alice->id, true, kFixedNowMs) == "");
  // A new permanent badge replaces the permanent one only; the temporary one stays.
  CHECK(*assign("P2", alice->id, false, kFixedNowMs) == "P1");
  auto badges = store->badges_of(alice->id);
  REQUIRE(badges.ok());
  REQUIRE(badges->size() == 2);
  CHECK((*badges)[0].badge == "P2");
  CHECK_FALSE((*badges)[0].temporary);
  CHECK((*badges)[1].badge == "T1");
  CHECK((*badges)[1].expires_ms == kFixedNowMs + kTemporaryBadgeMs);
  // A new temporary badge replaces the temporary one.
  CHECK(*assign("T2", alice->id, true, kFixedNowMs) == "T1");
  // Someone else's badge is refused.
  auto taken = assign("P2", bob->id, false, kFixedNowMs);
  REQUIRE_FALSE(taken.ok());
  CHECK(taken.error().code == Errc::conflict);

  CHECK(store->user_by_badge("T2", kFixedNowMs + kTemporaryBadgeMs - 1).ok());
  auto late = store->user_by_badge("T2", kFixedNowMs + kTemporaryBadgeMs);
  REQUIRE_FALSE(late.ok());
  CHECK(late.error().code == Errc::expired);
  {
    auto tx = store->begin();
    CHECK(*store->badges_purge_expired(kFixedNowMs + kTemporaryBadgeMs) == 1);
    REQUIRE(tx.commit().ok());
  }
  CHECK(store->badge_find("T2").error().code == Errc::not_found);
  CHECK(store->user_by_badge("P2", kFixedNowMs + 10 * kTemporaryBadgeMs).ok()); // permanent ones never expire
}

TEST_CASE("directory store: mutators refuse to run outside a transaction", "[directory][store]") {
  TempDir dir;
  auto store = open_store(dir);
  User fields;
  fields.email = "alice@example.com";
  auto outside = store->user_create(fields, kFixedNowMs);
  REQUIRE_FALSE(outside.ok());
  CHECK(outside.error().code == Errc::internal);
  CHECK(count_rows(*store, "SELECT count(*) FROM users") == 0);
}

TEST_CASE("directory store: deleting a user removes their badges, memberships, grants and holdings (UA-6, AMB-6)",
          "[directory][store][UA-6][AMB-6]") {
  TempDir dir;
  auto store = open_store(dir);
  auto alice = store->user_add("alice@example.com", "Alice", kFixedNowMs, "test");
  REQUIRE(alice.ok());
  REQUIRE(store->badge_add("B1", "alice@example.com", kFixedNowMs, "test").ok());
  {
    auto tx = store->begin();
    auto group = store->group_create("Group 1", kFixedNowMs);
    REQUIRE(group.ok());
    REQUIRE(*store->group_member_add(group->id, alice->id, kFixedNowMs));
    CHECK_FALSE(*store->group_member_add(group->id, alice->id, kFixedNowMs)); // already a member
    REQUIRE(store->password_set(alice->id, "$argon2id$placeholder", kFixedNowMs).ok());
    REQUIRE(tx.commit().ok());
  }
  REQUIRE(store->db()
              .exec("INSERT INTO role_grants(scope, subject, role, granted_ms) VALUES ('user', '" + alice->id +
                    "', 'Print Release Management User', 0)")
              .ok());
  CHECK(*store->groups_of(alice->id) == std::vector<std::string>{"Group 1"});
  CHECK(store->user_by_id(alice->id)->has_password);
  {
    auto tx = store->begin();
    REQUIRE(store->user_delete(alice->id).ok());
    REQUIRE(tx.commit().ok());
  }
  CHECK(count_rows(*store, "SELECT count(*) FROM badges") == 0);
  CHECK(count_rows(*store, "SELECT count(*) FROM group_members") == 0);
  CHECK(count_rows(*store, "SELECT count(*) FROM role_grants") == 0);
  CHECK(count_rows(*store, "SELECT count(*) FROM passwords") == 0);
  CHECK(count_rows(*store, "SELECT count(*) FROM account_groups") == 1); // groups stay (GR-3)
  auto tx = store->begin();
  CHECK(store->user_delete(alice->id).error().code == Errc::not_found);
}

TEST_CASE("directory store: group names are sanitised and matched case-insensitively (UA-20, AMB-8)",
          "[directory][store][UA-20][AMB-8]") {
  CHECK(*group_name_sanitize("  a#b  ") == "a_b");
  CHECK(*group_name_sanitize("!@#$%^&*;+?/\\[]") == "_______________");
  CHECK(*group_name_sanitize("Group 1") == "Group 1");
  CHECK(group_name_sanitize("").error().code == Errc::bad_request);
  CHECK(group_name_sanitize(std::string(81, 'g')).error().code == Errc::bad_request);
  CHECK(group_name_sanitize(std::string(80, 'g')).ok());
  CHECK(group_name_sanitize("a,b").error().code == Errc::bad_request);

  TempDir dir;
  auto store = open_store(dir);
  auto tx = store->begin();
  REQUIRE(store->group_create("Sales Team", kFixedNowMs).ok());
  CHECK(store->group_by_name("sales team")->name == "Sales Team");
  CHECK(store->group_create("SALES TEAM", kFixedNowMs).error().code == Errc::conflict);
}

TEST_CASE("directory store: tokens are random, stored only as their hash, and limited in uses",
          "[directory][store]") {
  TempDir dir;
  auto store = open_store(dir);
  std::string token = make_token(*store, EnrollKind::workstation, 2);
  CHECK(token.size() == 32);
  std::vector<uint8_t> raw;
  CHECK(from_hex(token, raw));
  CHECK(token != make_token(*store, EnrollKind::workstation, 1));

  // Neither the tokens table nor the audit log holds the token itself.
  CHECK(count_rows(*store, "SELECT count(*) FROM tokens WHERE token_hash = '" + token + "'") == 0);
  CHECK(count_rows(*store, "SELECT count(*) FROM tokens WHERE token_hash = '" + token_hash(token) + "'") ==
        1);
  CHECK(count_rows(*store, "SELECT count(*) FROM audit WHERE detail LIKE '%" + token + "%'") == 0);

  auto first =
      store->enroll(token, EnrollKind::workstation, "ws-1", fake_fingerprint(1), kFixedNowMs, "10.0.0.1:1");
  REQUIRE(first.ok());
  CHECK(uuid_valid(first->id));
  CHECK(first->fingerprint == fake_fingerprint(1));
  auto second =
      store->enroll(token, EnrollKind::workstation, "ws-2", fake_fingerprint(2), kFixedNowMs, "10.0.0.2:1");
  REQUIRE(second.ok());
  CHECK(second->id != first->id);

  auto third =
      store->enroll(token, EnrollKind::workstation, "ws-3", fake_fingerprint(3), kFixedNowMs, "10.0.0.3:1");
  REQUIRE_FALSE(third.ok());
  CHECK(third.error().code == Errc::expired);
  CHECK(third.error().message.find("no uses left") != std::string::npos);
  CHECK_FALSE(store->enrolled_by_fingerprint(fake_fingerprint(3)).ok());

  // The same key again gets the same id, even with the token used up, and spends nothing.
  auto again =
      store->enroll(token, EnrollKind::workstation, "ws-1", fake_fingerprint(1), kFixedNowMs, "10.0.0.1:1");
  REQUIRE(again.ok());
  CHECK(again->id == first->id);
  CHECK(count_rows(*store, "SELECT count(*) FROM enrolled") == 2);
}

TEST_CASE("directory store: expired, unknown and wrong-kind tokens are refused", "[directory][store]") {
  TempDir dir;
  auto store = open_store(dir);
  std::string expired = make_token(*store, EnrollKind::printer, 5, kFixedNowMs - 1);
  auto r = store->enroll(expired, EnrollKind::printer, "p", fake_fingerprint(1), kFixedNowMs, "x");
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == Errc::expired);

  auto unknown = store->enroll("00112233445566778899aabbccddeeff", EnrollKind::printer, "p",
                               fake_fingerprint(1), kFixedNowMs, "x");
  REQUIRE_FALSE(unknown.ok());
  CHECK(unknown.error().code == Errc::unauthenticated);

  std::string printer_token = make_token(*store, EnrollKind::printer, 5);
  auto wrong =
      store->enroll(printer_token, EnrollKind::workstation, "p", fake_fingerprint(1), kFixedNowMs, "x");
  REQUIRE_FALSE(wrong.ok());
  CHECK(wrong.error().code == Errc::forbidden);

  // A key enrolled as one kind cannot become another.
  REQUIRE(store->enroll(printer_token, EnrollKind::printer, "p", fake_fingerprint(1), kFixedNowMs, "x").ok());
  std::string ws_token = make_token(*store, EnrollKind::workstation, 5);
  auto other_kind =
      store->enroll(ws_token, EnrollKind::workstation, "p", fake_fingerprint(1), kFixedNowMs, "x");
  REQUIRE_FALSE(other_kind.ok());
  CHECK(other_kind.error().code == Errc::conflict);

  // A claimed key that is not a fingerprint never reaches the table.
  auto no_key = store->enroll(ws_token, EnrollKind::workstation, "p", "", kFixedNowMs, "x");
  REQUIRE_FALSE(no_key.ok());
  CHECK(no_key.error().code == Errc::unauthenticated);
  CHECK(count_rows(*store, "SELECT count(*) FROM enrolled") == 1);
}

TEST_CASE("directory store: tokens list by id (never their text) and a revoked token enrolls nothing more",
          "[directory][store][tokens]") {
  TempDir dir;
  auto store = open_store(dir);
  std::string used = make_token(*store, EnrollKind::printer, 1);
  std::string expired = make_token(*store, EnrollKind::printer, 5, kFixedNowMs - 1);
  std::string live = make_token(*store, EnrollKind::workstation, 3);
  REQUIRE(store->enroll(used, EnrollKind::printer, "p", fake_fingerprint(1), kFixedNowMs, "x").ok());

  auto usable = store->tokens_list(false, kFixedNowMs, 100);
  REQUIRE(usable.ok());
  REQUIRE(usable->size() == 1);
  const TokenInfo &t = usable->front();
  CHECK(t.id == token_hash(live).substr(0, 16));
  CHECK(t.id.find(live) == std::string::npos);
  CHECK(t.kind == EnrollKind::workstation);
  CHECK(t.uses == 3);
  CHECK(t.uses_left == 3);
  CHECK(t.expires_ms == kFixedNowMs + kDayMs);
  CHECK(t.actor == "test");
  auto all = store->tokens_list(true, kFixedNowMs, 100);
  REQUIRE(all.ok());
  CHECK(all->size() == 3);

  // By id, or by the text for whoever still has it.
  auto revoked = store->token_revoke(t.id, kFixedNowMs + 5, "admin");
  REQUIRE(revoked.ok());
  CHECK(revoked->revoked_ms == kFixedNowMs + 5);
  auto twice = store->token_revoke(live, kFixedNowMs + 6, "admin");
  REQUIRE_FALSE(twice.ok());
  CHECK(twice.error().code == Errc::conflict);
  auto unknown = store->token_revoke("0011223344556677", kFixedNowMs, "admin");
  REQUIRE_FALSE(unknown.ok());
  CHECK(unknown.error().code == Errc::not_found);
  auto refused =
      store->enroll(live, EnrollKind::workstation, "ws", fake_fingerprint(2), kFixedNowMs + 7, "x");
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code == Errc::forbidden);
  CHECK(refused.error().message.find("revoked") != std::string::npos);
  auto after = store->tokens_list(false, kFixedNowMs, 100);
  REQUIRE(after.ok());
  CHECK(after->empty());
  CHECK(count_rows(*store, "SELECT count(*) FROM audit WHERE action = 'token-revoke'") == 1);
}

TEST_CASE("directory store: revoking a key records when, revoking it again says it already is",
          "[directory][store][tokens]") {
  TempDir dir;
  auto store = open_store(dir);
  std::string token = make_token(*store, EnrollKind::printer, 1);
  auto e = store->enroll(token, EnrollKind::printer, "p", fake_fingerprint(1), kFixedNowMs, "x");
  REQUIRE(e.ok());
  REQUIRE(store->revoke(e->id, kFixedNowMs + 10, "test").ok());
  CHECK(count_rows(*store, "SELECT revoked_ms FROM enrolled") == kFixedNowMs + 10);
  Status again = store->revoke(e->id, kFixedNowMs + 20, "test");
  REQUIRE_FALSE(again.ok());
  CHECK(again.error().code == Errc::conflict);
  Status unknown = store->revoke("no-such-id", kFixedNowMs, "test");
  REQUIRE_FALSE(unknown.ok());
  CHECK(unknown.error().code == Errc::not_found);
}

TEST_CASE("directory store: holdings count only while the workstation's lease is live",
          "[directory][store]") {
  TempDir dir;
  auto store = open_store(dir);
  auto alice = store->user_add("alice@example.com", "Alice", kFixedNowMs, "test");
  auto bob = store->user_add("bob@example.com", "Bob", kFixedNowMs, "test");
  REQUIRE(alice.ok());
  REQUIRE(bob.ok());
  std::string token = make_token(*store, EnrollKind::workstation, 2);
  auto ws1 = store->enroll(token, EnrollKind::workstation, "ws-1", fake_fingerprint(1), kFixedNowMs, "x");
  auto ws2 = store->enroll(token, EnrollKind::workstation, "ws-2", fake_fingerprint(2), kFixedNowMs, "x");
  REQUIRE(ws1.ok());
  REQUIRE(ws2.ok());
  bind_users(*store, ws1->id, {alice->id, bob->id});
  bind_users(*store, ws2->id, {alice->id, bob->id});

  WorkstationReport report;
  report.id = ws1->id;
  report.port = 9443;
  report.reported_addresses = {"192.0.2.7"};
  report.seen_address = "198.51.100.1";
  report.holdings = {{alice->id, 3}, {bob->id, 1}};
  REQUIRE(store->workstation_register(report, kFixedNowMs).ok());

  auto live = store->holders_of(alice->id, kFixedNowMs + 1000);
  REQUIRE(live.ok());
  REQUIRE(live->size() == 1);
  const Holder &h = live->front();
  CHECK(h.id == ws1->id);
  CHECK(h.name == "ws-1");
  CHECK(h.fingerprint == fake_fingerprint(1));
  CHECK(h.port == 9443);
  CHECK(h.seen_address == "198.51.100.1");
  CHECK(h.reported_addresses == std::vector<std::string>{"192.0.2.7"});
  CHECK(h.jobs == 3);

  CHECK(store->holders_of(alice->id, kFixedNowMs + kRegisterLeaseMs - 1)->size() == 1);
  CHECK(store->holders_of(alice->id, kFixedNowMs + kRegisterLeaseMs)->empty());
  CHECK(store->holders_of(alice->id, kFixedNowMs + kRegisterLeaseMs + 60000)->empty());

  // A heartbeat renews the lease; counts replace, and 0 withdraws one user only.
  report.holdings = {{bob->id, 0}, {alice->id, 5}};
  REQUIRE(store->workstation_register(report, kFixedNowMs + 100000).ok());
  auto renewed = store->holders_of(alice->id, kFixedNowMs + kRegisterLeaseMs + 60000);
  REQUIRE(renewed.ok());
  REQUIRE(renewed->size() == 1);
  CHECK(renewed->front().jobs == 5);
  CHECK(store->holders_of(bob->id, kFixedNowMs + 100000)->empty());

  // Two workstations: the most recently seen comes first.
  WorkstationReport other;
  other.id = ws2->id;
  other.port = 9444;
  other.seen_address = "198.51.100.2";
  other.holdings = {{alice->id, 1}};
  REQUIRE(store->workstation_register(other, kFixedNowMs + 110000).ok());
  auto both = store->holders_of(alice->id, kFixedNowMs + 110000);
  REQUIRE(both.ok());
  REQUIRE(both->size() == 2);
  CHECK((*both)[0].id == ws2->id);
  CHECK((*both)[1].id == ws1->id);

  // Holdings for an unknown user are skipped (and named); the rest of the report applies.
  std::string stranger = uuid_v7();
  other.holdings = {{alice->id, 0}, {stranger, 1}};
  auto skipped = store->workstation_register(other, kFixedNowMs + 115000);
  REQUIRE(skipped.ok());
  REQUIRE(skipped->size() == 1);
  CHECK(skipped->front().user == stranger);
  CHECK(skipped->front().reason == "unknown user");
  auto after = store->holders_of(alice->id, kFixedNowMs + 115000);
  REQUIRE(after.ok());
  REQUIRE(after->size() == 1);
  CHECK(after->front().id == ws1->id);
  CHECK(store->holders_of(stranger, kFixedNowMs + 115000)->empty());
}

TEST_CASE("directory store: a register report is the full set of holdings, unlisted users are withdrawn",
          "[directory][store]") {
  TempDir dir;
  auto store = open_store(dir);
  auto alice = store->user_add("alice@example.com", "Alice", kFixedNowMs, "test");
  auto bob = store->user_add("bob@example.com", "Bob", kFixedNowMs, "test");
  REQUIRE(alice.ok());
  REQUIRE(bob.ok());
  std::string token = make_token(*store, EnrollKind::workstation, 2);
  auto ws1 = store->enroll(token, EnrollKind::workstation, "ws-1", fake_fingerprint(1), kFixedNowMs, "x");
  auto ws2 = store->enroll(token, EnrollKind::workstation, "ws-2", fake_fingerprint(2), kFixedNowMs, "x");
  REQUIRE(ws1.ok());
  REQUIRE(ws2.ok());
  bind_users(*store, ws1->id, {alice->id, bob->id});
  bind_users(*store, ws2->id, {alice->id, bob->id});

  WorkstationReport report;
  report.id = ws1->id;
  report.port = 9443;
  report.seen_address = "198.51.100.1";
  report.holdings = {{alice->id, 3}, {bob->id, 1}};
  REQUIRE(store->workstation_register(report, kFixedNowMs).ok());
  WorkstationReport other;
  other.id = ws2->id;
  other.port = 9444;
  other.seen_address = "198.51.100.2";
  other.holdings = {{bob->id, 2}};
  REQUIRE(store->workstation_register(other, kFixedNowMs).ok());
  REQUIRE(store->holders_of(bob->id, kFixedNowMs + 1000)->size() == 2);

  // The agent restarted while Bob's job was deleted: it no longer knows it had registered Bob,
  // so its report simply does not name him. That withdraws Bob from this workstation only.
  report.holdings = {{alice->id, 2}};
  REQUIRE(store->workstation_register(report, kFixedNowMs + 2000).ok());
  auto bob_holders = store->holders_of(bob->id, kFixedNowMs + 2000);
  REQUIRE(bob_holders.ok());
  REQUIRE(bob_holders->size() == 1);
  CHECK(bob_holders->front().id == ws2->id);
  auto alice_holders = store->holders_of(alice->id, kFixedNowMs + 2000);
  REQUIRE(alice_holders.ok());
  REQUIRE(alice_holders->size() == 1);
  CHECK(alice_holders->front().jobs == 2);

  // An empty report withdraws everyone, and still renews the lease.
  report.holdings = {};
  REQUIRE(store->workstation_register(report, kFixedNowMs + 3000).ok());
  CHECK(store->holders_of(alice->id, kFixedNowMs + 3000)->empty());
  CHECK(count_rows(*store, "SELECT count(*) FROM holdings WHERE workstation_id = '" + ws1->id + "'") == 0);
  CHECK(count_rows(*store, "SELECT last_seen_ms FROM workstations WHERE id = '" + ws1->id + "'") ==
        kFixedNowMs + 3000);
}

TEST_CASE("directory store: enrolled keys list in pages and revoked keys drop out", "[directory][store]") {
  TempDir dir;
  auto store = open_store(dir);
  std::string token = make_token(*store, EnrollKind::workstation, 3);
  std::vector<std::string> ids;
  for (int i = 1; i <= 3; i++) {
    auto e = store->enroll(token, EnrollKind::workstation, "ws", fake_fingerprint(i), kFixedNowMs, "x");
    REQUIRE(e.ok());
    ids.push_back(e->id);
  }
  auto page1 = store->enrolled_list("", 2);
  REQUIRE(page1.ok());
  REQUIRE(page1->size() == 2);
  auto page2 = store->enrolled_list(page1->back().id, 2);
  REQUIRE(page2.ok());
  REQUIRE(page2->size() == 1);
  CHECK(page2->front().id == ids[2]);

  REQUIRE(store->revoke(ids[1], kFixedNowMs, "test").ok());
  auto after = store->enrolled_list("", 10);
  REQUIRE(after.ok());
  CHECK(after->size() == 2);
  auto revoked = store->enrolled_by_fingerprint(fake_fingerprint(2));
  REQUIRE(revoked.ok());
  CHECK(revoked->revoked);
  auto again = store->enroll(token, EnrollKind::workstation, "ws", fake_fingerprint(2), kFixedNowMs, "x");
  REQUIRE_FALSE(again.ok());
  CHECK(again.error().code == Errc::forbidden);
}

TEST_CASE("directory store: the audit log records admin commands and enrollments and refuses changes",
          "[directory][store]") {
  TempDir dir;
  auto store = open_store(dir);
  REQUIRE(store->user_add("alice@example.com", "", kFixedNowMs, "admin uid 0").ok());
  REQUIRE(store->badge_add("BADGE-XYZZY", "alice@example.com", kFixedNowMs, "admin uid 0").ok());
  std::string token = make_token(*store, EnrollKind::printer, 1);
  REQUIRE(store->enroll(token, EnrollKind::printer, "lobby", fake_fingerprint(9), kFixedNowMs, "10.1.1.1:5")
              .ok());

  auto log = store->audit_tail(10);
  REQUIRE(log.ok());
  REQUIRE(log->size() == 4);
  CHECK((*log)[0].action == "user-add");
  CHECK((*log)[0].actor == "admin uid 0");
  CHECK((*log)[1].action == "badge-add");
  CHECK((*log)[1].detail.find("XYZZY") == std::string::npos); // the badge itself stays out of the log
  CHECK((*log)[2].action == "token-create");
  CHECK((*log)[3].action == "enroll");
  CHECK((*log)[3].actor == "key " + fake_fingerprint(9));

  CHECK_FALSE(store->db().exec("UPDATE audit SET actor = 'someone else'").ok());
  CHECK_FALSE(store->db().exec("DELETE FROM audit").ok());
  CHECK(count_rows(*store, "SELECT count(*) FROM audit WHERE actor = 'admin uid 0'") == 2);
}

TEST_CASE("directory store: init creates the folder, keys and database once and keeps them",
          "[directory][store]") {
  TempDir dir;
  std::string data = dir.path + "/data";
  auto fp = folder_init(data);
  REQUIRE(fp.ok());
  CHECK(proto::fingerprint_valid(*fp));
  auto keys = folder_load_keys(data);
  REQUIRE(keys.ok());
  CHECK(keys->identity->fingerprint() == *fp);
  CHECK(keys->ticket_key->fingerprint() != *fp); // the ticket key is its own key
  struct stat st {};
  REQUIRE(::stat((data + "/ticket.key").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  REQUIRE(::stat(data.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0700);

  auto again = folder_init(data);
  REQUIRE(again.ok());
  CHECK(*again == *fp);
  auto reloaded = folder_load_keys(data);
  REQUIRE(reloaded.ok());
  CHECK(reloaded->ticket_key->fingerprint() == keys->ticket_key->fingerprint());
  CHECK(folder_open_store(data).ok());

  auto missing = folder_open_store(dir.path + "/elsewhere");
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().code == Errc::not_found);
  CHECK_FALSE(folder_load_keys(dir.path + "/elsewhere").ok());
}

TEST_CASE("directory folder: identity rotation: the next key is made once and announced, rotate switches to "
          "it and keeps the old one",
          "[directory][store][rotation]") {
  TempDir dir;
  std::string data = dir.path + "/data";
  auto first = folder_init(data);
  REQUIRE(first.ok());
  auto keys = folder_load_keys(data);
  REQUIRE(keys.ok());
  CHECK(keys->announced == std::vector<proto::Fingerprint>{*first});
  auto none = folder_identity_next_fingerprint(data);
  REQUIRE_FALSE(none.ok());
  CHECK(none.error().code == Errc::not_found);
  auto no_next = folder_identity_rotate(data);
  REQUIRE_FALSE(no_next.ok());
  CHECK(no_next.error().code == Errc::not_found);

  auto next = folder_identity_next(data);
  REQUIRE(next.ok());
  CHECK(*next != *first);
  auto same = folder_identity_next(data);
  REQUIRE(same.ok());
  CHECK(*same == *next);
  auto announcing = folder_load_keys(data);
  REQUIRE(announcing.ok());
  CHECK(announcing->identity->fingerprint() == *first); // still answering with the current one
  CHECK(announcing->announced == std::vector<proto::Fingerprint>{*first, *next});

  auto rotated = folder_identity_rotate(data);
  REQUIRE(rotated.ok());
  CHECK(*rotated == *next);
  auto after = folder_load_keys(data);
  REQUIRE(after.ok());
  CHECK(after->identity->fingerprint() == *next);
  CHECK(after->announced == std::vector<proto::Fingerprint>{*next});
  CHECK(after->ticket_key->fingerprint() == keys->ticket_key->fingerprint()); // tickets unaffected
  // The old identity is kept.
  size_t retired = 0;
  for (const auto &entry : std::filesystem::directory_iterator(data))
    if (entry.path().filename().string().rfind("identity-retired-", 0) == 0) retired++;
  CHECK(retired == 2);
}

TEST_CASE("directory folder: a rotation a crash interrupted between its two renames is finished at the next load",
          "[directory][store][rotation]") {
  TempDir dir;
  std::string data = dir.path + "/data";
  REQUIRE(folder_init(data).ok());
  auto next = folder_identity_next(data);
  REQUIRE(next.ok());
  // The key was renamed, the certificate not yet: key and certificate of different identities.
  REQUIRE(::rename((data + "/identity-next.key").c_str(), (data + "/identity.key").c_str()) == 0);
  auto identity = folder_load_identity(data);
  REQUIRE(identity.ok());
  CHECK((*identity)->fingerprint() == *next);
  CHECK_FALSE(std::filesystem::exists(data + "/identity-next.crt"));
}

TEST_CASE("directory store: holdings are taken only for users who logged in on the workstation or were bound "
          "to it, unbinding withdraws them",
          "[directory][store]") {
  TempDir dir;
  auto store = open_store(dir);
  auto alice = store->user_add("alice@example.com", "Alice", kFixedNowMs, "test");
  auto bob = store->user_add("bob@example.com", "Bob", kFixedNowMs, "test");
  REQUIRE(alice.ok());
  REQUIRE(bob.ok());
  auto ws = store->enroll(make_token(*store, EnrollKind::workstation, 1), EnrollKind::workstation, "ws-1",
                          fake_fingerprint(1), kFixedNowMs, "x");
  REQUIRE(ws.ok());
  {
    auto tx = store->begin();
    REQUIRE(store->workstation_user_add(ws->id, alice->id, "login", kFixedNowMs).ok());
    REQUIRE(tx.commit().ok());
  }
  WorkstationReport report;
  report.id = ws->id;
  report.port = 9443;
  report.seen_address = "198.51.100.1";
  report.holdings = {{alice->id, 2}, {bob->id, 1}};
  auto refused = store->workstation_register(report, kFixedNowMs);
  REQUIRE(refused.ok());
  REQUIRE(refused->size() == 1);
  CHECK(refused->front().user == bob->id);
  CHECK(refused->front().reason == "not bound to this workstation");
  CHECK(store->holders_of(alice->id, kFixedNowMs)->size() == 1);
  CHECK(store->holders_of(bob->id, kFixedNowMs)->empty()); // bob's badge-in does not lead here

  bind_users(*store, ws->id, {bob->id});
  REQUIRE(store->workstation_register(report, kFixedNowMs + 1000)->empty());
  CHECK(store->holders_of(bob->id, kFixedNowMs + 1000)->size() == 1);
  auto listed = store->workstations_list();
  REQUIRE(listed.ok());
  REQUIRE(listed->size() == 1);
  CHECK(listed->front().held_jobs == 3);
  CHECK(listed->front().bound_users == std::vector<std::string>{"alice@example.com (login)", "bob@example.com (admin)"});

  {
    auto tx = store->begin();
    CHECK(*store->workstation_user_remove(ws->id, bob->id, "admin"));
    CHECK_FALSE(*store->workstation_user_remove(ws->id, bob->id, "admin"));
    REQUIRE(tx.commit().ok());
  }
  CHECK(store->holders_of(bob->id, kFixedNowMs + 1000)->empty()); // withdrawn at once
  CHECK(store->holders_of(alice->id, kFixedNowMs + 1000)->size() == 1);
}

TEST_CASE("directory store: commands for agents go to every workstation that holds or may hold the user's jobs, "
          "and deleting a user queues a purge there (UA-6, PM-6)",
          "[directory][store][UA-6][PM-6]") {
  TempDir dir;
  auto store = open_store(dir);
  auto alice = store->user_add("alice@example.com", "Alice", kFixedNowMs, "test");
  REQUIRE(alice.ok());
  std::string token = make_token(*store, EnrollKind::workstation, 3);
  auto ws1 = store->enroll(token, EnrollKind::workstation, "ws-1", fake_fingerprint(1), kFixedNowMs, "x");
  auto ws2 = store->enroll(token, EnrollKind::workstation, "ws-2", fake_fingerprint(2), kFixedNowMs, "x");
  auto ws3 = store->enroll(token, EnrollKind::workstation, "ws-3", fake_fingerprint(3), kFixedNowMs, "x");
  REQUIRE(ws3.ok());
  bind_users(*store, ws1->id, {alice->id}); // a binding
  {
    auto tx = store->begin();
    REQUIRE(store->workstation_user_add(ws2->id, alice->id, "login", kFixedNowMs).ok()); // a login
    REQUIRE(tx.commit().ok());
  }
  {
    auto tx = store->begin();
    CHECK(*store->command_queue("delete-job", alice->id, "job-1", "test", kFixedNowMs) == 2);
    CHECK(store->command_queue("delete-job", alice->id, "", "test", kFixedNowMs).error().code ==
          Errc::bad_request);
    CHECK(store->command_queue("reboot", alice->id, "", "test", kFixedNowMs).error().code ==
          Errc::bad_request);
    REQUIRE(tx.commit().ok());
  }
  auto for1 = store->commands_for(ws1->id);
  REQUIRE(for1.ok());
  REQUIRE(for1->size() == 1);
  CHECK((*for1)[0].kind == "delete-job");
  CHECK((*for1)[0].job == "job-1");
  CHECK(store->commands_for(ws3->id)->empty()); // alice's jobs cannot be there

  {
    auto tx = store->begin();
    REQUIRE(store->user_delete(alice->id).ok());
    // Another workstation's id does not clear ws-1's command.
    REQUIRE(store->commands_done(ws2->id, {(*for1)[0].id}).ok());
    REQUIRE(tx.commit().ok());
  }
  auto after = store->commands_for(ws1->id);
  REQUIRE(after->size() == 2);
  CHECK((*after)[1].kind == "purge-user");
  CHECK((*after)[1].user == alice->id);
  CHECK(store->commands_for(ws2->id)->size() == 2);
  {
    auto tx = store->begin();
    REQUIRE(store->commands_done(ws1->id, {(*after)[0].id, (*after)[1].id}).ok());
    REQUIRE(tx.commit().ok());
  }
  CHECK(store->commands_for(ws1->id)->empty());
}
