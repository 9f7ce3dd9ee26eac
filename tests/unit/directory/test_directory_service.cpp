// The directory service on a real loop: TLS on 127.0.0.1, clients with their own identities
// (SyncClient on the same loop), every op through the real RPC layer. Each test ends with
// uv_loop_close() returning 0.
#include <catch2/catch.hpp>

#include <uv.h>

#include <set>
#include <string>
#include <vector>

#include "directory_folder.h"
#include "directory_service.h"
#include "directory_store.h"
#include "lpm/ids.h"
#include "lpm/protocol/ops.h"
#include "lpm/protocol/rpc.h"
#include "lpm/protocol/ticket.h"
#include "roles.h"
#include "service_harness.h"
#include "transport_support.h"

using namespace lpm;
using namespace lpm::directory;
using lpm::test::TempDir;
using lpm::test::TestLoop;
using proto::EnrollKind;
using proto::SyncClient;
using namespace lpm::directory::test;

TEST_CASE("directory service: enroll records the TLS key, is idempotent per key, and refuses bad tokens",
          "[directory][service]") {
  Harness h;
  auto ws_identity = h.identity("ws-1");
  SyncClient &ws = h.connect(ws_identity, proto::role::agent);
  std::string token = h.token(EnrollKind::workstation, 1);

  auto first = h.enroll(ws, EnrollKind::workstation, token, "host-1");
  REQUIRE(first.ok());
  CHECK(uuid_valid(first->id));
  CHECK(first->ticket_key == h.service().ticket_public_der());
  CHECK(first->session_key == h.service().session_public_der()); // accounting servers check sessions with it
  auto recorded = h.admin().enrolled_by_fingerprint(ws_identity->fingerprint());
  REQUIRE(recorded.ok());
  CHECK(recorded->id == first->id);
  CHECK(recorded->name == "host-1");
  CHECK(recorded->kind == EnrollKind::workstation);

  SECTION("the same key again gets the same id") {
    auto again = h.enroll(ws, EnrollKind::workstation, token, "host-1");
    REQUIRE(again.ok());
    CHECK(again->id == first->id);
    // Also over a new connection.
    SyncClient &ws_again = h.connect(ws_identity, proto::role::agent);
    auto third = h.enroll(ws_again, EnrollKind::workstation, token, "host-1");
    REQUIRE(third.ok());
    CHECK(third->id == first->id);
  }
  SECTION("a used-up token is refused for another key") {
    SyncClient &other = h.connect(h.identity("ws-2"), proto::role::agent);
    auto refused = h.enroll(other, EnrollKind::workstation, token);
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.error().code == Errc::expired);
  }
  SECTION("an expired token is refused") {
    SyncClient &other = h.connect(h.identity("ws-2"), proto::role::agent);
    auto refused = h.enroll(other, EnrollKind::workstation, h.token(EnrollKind::workstation, 5, -1000));
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.error().code == Errc::expired);
  }
  SECTION("an unknown token is refused") {
    SyncClient &other = h.connect(h.identity("ws-2"), proto::role::agent);
    auto refused = h.enroll(other, EnrollKind::workstation, "0123456789abcdef0123456789abcdef");
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.error().code == Errc::unauthenticated);
  }
  SECTION("a token of another kind is refused") {
    SyncClient &other = h.connect(h.identity("p-1"), proto::role::printer);
    auto refused = h.enroll(other, EnrollKind::printer, h.token(EnrollKind::workstation));
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.error().code == Errc::forbidden);
  }
  SECTION("a client without a certificate cannot enroll") {
    SyncClient &anonymous = h.connect(nullptr, proto::role::agent);
    auto refused = h.enroll(anonymous, EnrollKind::workstation, h.token(EnrollKind::workstation));
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.error().code == Errc::unauthenticated);
  }
  h.finish();
}

TEST_CASE("directory service: register then badge-in returns the workstation and a ticket it accepts",
          "[directory][service][BD-4][PM-11][RL-3]") {
  Harness h;
  auto alice = h.admin().user_add("alice@example.com", "Alice Liddell", wall_ms(), "test");
  REQUIRE(alice.ok());
  REQUIRE(h.admin().badge_add("B-0001", "alice@example.com", wall_ms(), "test").ok());
  {
    // RL-3's example: Print Release Management User as an enterprise role lets everyone release.
    auto tx = h.admin().begin();
    REQUIRE(role_grant(h.admin(), RoleScope::enterprise, "", Role::prm_user, wall_ms()).ok());
    REQUIRE(tx.commit().ok());
  }

  auto ws_identity = h.identity("ws-1");
  SyncClient &ws = h.connect(ws_identity, proto::role::agent);
  auto ws_enrolled = h.enroll(ws, EnrollKind::workstation, h.token(EnrollKind::workstation), "host-1");
  REQUIRE(ws_enrolled.ok());
  auto printer_identity = h.identity("printer-1");
  SyncClient &printer = h.connect(printer_identity, proto::role::printer);
  REQUIRE(h.enroll(printer, EnrollKind::printer, h.token(EnrollKind::printer), "lobby").ok());

  proto::RegisterRequest reg;
  reg.port = 9443;
  reg.addresses = {"192.0.2.10", "localhost", "127.0.0.1", "host.example.com"};
  reg.holdings = {{alice->id, 2}};

  SECTION("a workstation's holdings for a user not bound to it are refused, and said so") {
    auto registered = rpc<proto::RegisterResult>(ws, proto::op::register_holdings, reg);
    REQUIRE(registered.ok());
    REQUIRE(registered->refused.size() == 1);
    CHECK(registered->refused[0].user == alice->id);
    CHECK(registered->refused[0].reason == "not bound to this workstation");
    proto::BadgeInRequest badge;
    badge.badge = "B-0001";
    auto found = rpc<proto::BadgeInResult>(printer, proto::op::badge_in, badge);
    REQUIRE(found.ok());
    CHECK(found->workstations.empty());
  }
  {
    // An administrator binds alice to the workstation (lpm workstations bind).
    auto tx = h.admin().begin();
    REQUIRE(h.admin().workstation_user_add(ws_enrolled->id, alice->id, "admin", wall_ms()).ok());
    REQUIRE(tx.commit().ok());
  }

  SECTION("an unenrolled key may not register") {
    SyncClient &stranger = h.connect(h.identity("stranger"), proto::role::agent);
    auto refused = rpc<proto::RegisterResult>(stranger, proto::op::register_holdings, reg);
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.error().code == Errc::unauthenticated);
  }
  SECTION("a printer key may not register") {
    auto refused = rpc<proto::RegisterResult>(printer, proto::op::register_holdings, reg);
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.error().code == Errc::forbidden);
  }
  SECTION("badge-in after register") {
    int64_t before_ms = wall_ms();
    auto registered = rpc<proto::RegisterResult>(ws, proto::op::register_holdings, reg);
    REQUIRE(registered.ok());
    CHECK(registered->heartbeat_s == 60);
    CHECK(registered->now_ms >= before_ms);

    proto::BadgeInRequest badge;
    badge.badge = "  B-0001\n"; // reader delimiters are trimmed
    auto found = rpc<proto::BadgeInResult>(printer, proto::op::badge_in, badge);
    REQUIRE(found.ok());
    CHECK(found->user == alice->id);
    CHECK(found->display_name == "Alice Liddell");
    REQUIRE(found->workstations.size() == 1);
    const proto::WorkstationRef &ref = found->workstations.front();
    CHECK(ref.id == ws_enrolled->id);
    CHECK(ref.name == "host-1");
    CHECK(ref.fingerprint == ws_identity->fingerprint());
    CHECK(ref.port == 9443);
    // The address seen on the connection first, then the reported IP addresses without repeats.
    CHECK(ref.addresses == std::vector<std::string>{"127.0.0.1", "192.0.2.10"});

    auto signer = proto::PublicKey::from_der(ws_enrolled->ticket_key);
    REQUIRE(signer.ok());
    std::vector<proto::PublicKey> trusted{*signer};
    TestNonceStore nonces;
    proto::TicketCheck check{printer_identity->fingerprint(), ws_enrolled->id, wall_ms()};
    auto ticket = proto::ticket_verify(found->ticket, trusted, check, nonces);
    REQUIRE(ticket.ok());
    CHECK(ticket->users == std::vector<std::string>{alice->id});
    CHECK(ticket->printer == printer_identity->fingerprint());
    CHECK(ticket->workstations == std::vector<std::string>{ws_enrolled->id});
    CHECK(ticket->expires_ms - ticket->issued_ms == proto::kTicketLifetimeMs);

    // Opened once only; and not for another printer or workstation.
    auto replay = proto::ticket_verify(found->ticket, trusted, check, nonces);
    REQUIRE_FALSE(replay.ok());
    CHECK(replay.error().code == Errc::replayed);
    TestNonceStore fresh;
    proto::TicketCheck other_printer{ws_identity->fingerprint(), ws_enrolled->id, wall_ms()};
    CHECK(proto::ticket_verify(found->ticket, trusted, other_printer, fresh).error().code == Errc::forbidden);
    proto::TicketCheck other_ws{printer_identity->fingerprint(), uuid_v7(), wall_ms()};
    CHECK(proto::ticket_verify(found->ticket, trusted, other_ws, fresh).error().code == Errc::forbidden);

    // Withdrawing the holdings empties the list (the ticket then opens nothing).
    reg.holdings = {{alice->id, 0}};
    REQUIRE(rpc<proto::RegisterResult>(ws, proto::op::register_holdings, reg).ok());
    auto empty = rpc<proto::BadgeInResult>(printer, proto::op::badge_in, badge);
    REQUIRE(empty.ok());
    CHECK(empty->workstations.empty());

    auto log = h.admin().audit_tail(50);
    REQUIRE(log.ok());
    size_t badge_ins = 0;
    for (const auto &entry : *log)
      badge_ins += entry.action == "badge-in" ? 1 : 0;
    CHECK(badge_ins == 2);
  }
  SECTION("an unknown badge is not_found") {
    proto::BadgeInRequest badge;
    badge.badge = "no-such-badge";
    auto refused = rpc<proto::BadgeInResult>(printer, proto::op::badge_in, badge);
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.error().code == Errc::not_found);
    // The station may offer self-registration on not_found (BD-1): the message says so.
    CHECK(refused.error().message.find("unknown badge: its holder may register it at this printer") == 0);
  }
  SECTION("an expired temporary badge is refused with expired (BD-4)") {
    auto bob = h.admin().user_add("bob@example.com", "", wall_ms(), "test");
    REQUIRE(bob.ok());
    {
      auto tx = h.admin().begin();
      REQUIRE(h.admin().badge_assign("T-0002", bob->id, true, wall_ms() - kTemporaryBadgeMs - 1).ok());
      REQUIRE(tx.commit().ok());
    }
    proto::BadgeInRequest badge;
    badge.badge = "t-0002"; // letters in any case (AMB-15)
    auto refused = rpc<proto::BadgeInResult>(printer, proto::op::badge_in, badge);
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.error().code == Errc::expired);
    {
      auto tx = h.admin().begin();
      REQUIRE(h.admin().badge_assign("T-0003", bob->id, true, wall_ms()).ok());
      REQUIRE(tx.commit().ok());
    }
    badge.badge = "T-0003";
    auto found = rpc<proto::BadgeInResult>(printer, proto::op::badge_in, badge);
    REQUIRE(found.ok());
    CHECK(found->user == bob->id);
    CHECK(found->display_name == "bob@example.com"); // no display name: the e-mail stands in (UA-17)
  }
  SECTION("a user without the release role is refused with forbidden (PM-11)") {
    {
      auto tx = h.admin().begin();
      REQUIRE(*role_revoke(h.admin(), RoleScope::enterprise, "", Role::prm_user));
      REQUIRE(tx.commit().ok());
    }
    proto::BadgeInRequest badge;
    badge.badge = "B-0001";
    auto refused = rpc<proto::BadgeInResult>(printer, proto::op::badge_in, badge);
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.error().code == Errc::forbidden);
    CHECK(refused.error().message.find("Print Release Management User") != std::string::npos);
    {
      auto tx = h.admin().begin();
      REQUIRE(*role_grant(h.admin(), RoleScope::user, alice->id, Role::prm_user, wall_ms()));
      REQUIRE(tx.commit().ok());
    }
    CHECK(rpc<proto::BadgeInResult>(printer, proto::op::badge_in, badge).ok());
  }
  SECTION("a workstation key may not badge in") {
    proto::BadgeInRequest badge;
    badge.badge = "B-0001";
    auto refused = rpc<proto::BadgeInResult>(ws, proto::op::badge_in, badge);
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.error().code == Errc::forbidden);
  }
  SECTION("an unenrolled key may not badge in") {
    SyncClient &stranger = h.connect(h.identity("stranger"), proto::role::printer);
    proto::BadgeInRequest badge;
    badge.badge = "B-0001";
    auto refused = rpc<proto::BadgeInResult>(stranger, proto::op::badge_in, badge);
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.error().code == Errc::unauthenticated);
  }
  h.finish();
}

TEST_CASE("directory service: list-enrolled pages through keys for accounting only", "[directory][service]") {
  Harness h;
  auto [ws1, ws1_id] = h.enrolled("ws-1", EnrollKind::workstation, proto::role::agent);
  auto [ws2, ws2_id] = h.enrolled("ws-2", EnrollKind::workstation, proto::role::agent);
  auto [accounting, accounting_id] = h.enrolled("acct", EnrollKind::accounting, proto::role::accounting);

  proto::ListEnrolledRequest req;
  req.page.limit = 2;
  auto page1 = rpc<proto::ListEnrolledResult>(*accounting, proto::op::list_enrolled, req);
  REQUIRE(page1.ok());
  REQUIRE(page1->items.size() == 2);
  REQUIRE_FALSE(page1->next.empty());
  req.page.after = page1->next;
  auto page2 = rpc<proto::ListEnrolledResult>(*accounting, proto::op::list_enrolled, req);
  REQUIRE(page2.ok());
  REQUIRE(page2->items.size() == 1);
  CHECK(page2->next.empty());

  std::set<std::string> ids;
  for (const auto &k : page1->items)
    ids.insert(k.id);
  for (const auto &k : page2->items)
    ids.insert(k.id);
  CHECK(ids == std::set<std::string>{ws1_id, ws2_id, accounting_id});
  for (const auto &k : page1->items)
    if (k.id == ws1_id) CHECK(k.kind == EnrollKind::workstation);

  proto::ListEnrolledRequest all;
  auto refused = rpc<proto::ListEnrolledResult>(*ws1, proto::op::list_enrolled, all);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code == Errc::forbidden);
  (void)ws2;
  h.finish();
}

TEST_CASE("directory service: list-people pages through every user for accounting only [issue-6][RP-11]",
          "[directory][service][issue-6]") {
  Harness h;
  auto [ws1, ws1_id] = h.enrolled("ws-1", EnrollKind::workstation, proto::role::agent);
  auto [accounting, accounting_id] = h.enrolled("acct", EnrollKind::accounting, proto::role::accounting);
  std::set<std::string> added;
  for (const char *email : {"p1@example.com", "p2@example.com", "p3@example.com"}) {
    auto u = h.admin().user_add(email, "Person", wall_ms(), "test");
    REQUIRE(u.ok());
    added.insert(u->id);
  }
  proto::ListPeopleRequest req;
  req.page.limit = 2;
  std::set<std::string> listed;
  for (int pages = 0;; pages++) {
    REQUIRE(pages < 10);
    auto page = rpc<proto::ListPeopleResult>(*accounting, proto::op::list_people, req);
    REQUIRE(page.ok());
    for (const auto &p : page->items) {
      listed.insert(p.id);
      if (added.count(p.id)) CHECK(p.name == "Person");
    }
    if (page->next.empty()) break;
    req.page.after = page->next;
  }
  for (const auto &id : added)
    CHECK(listed.count(id) == 1);

  auto refused = rpc<proto::ListPeopleResult>(*ws1, proto::op::list_people, proto::ListPeopleRequest{});
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code == Errc::forbidden);
  (void)ws1_id;
  (void)accounting_id;
  h.finish();
}

TEST_CASE("directory service: register replies carry the printer and accounting keys revoked since the agent's "
          "newest, and a revoked printer gets no ticket",
          "[directory][service][revocation]") {
  Harness h;
  auto [ws, ws_id] = h.enrolled("ws-1", EnrollKind::workstation, proto::role::agent);
  auto [p1, p1_id] = h.enrolled("printer-1", EnrollKind::printer, proto::role::printer);
  auto [p2, p2_id] = h.enrolled("printer-2", EnrollKind::printer, proto::role::printer);
  auto [ws2, ws2_id] = h.enrolled("ws-2", EnrollKind::workstation, proto::role::agent);

  proto::RegisterRequest reg;
  reg.port = 9443;
  auto none = rpc<proto::RegisterResult>(*ws, proto::op::register_holdings, reg);
  REQUIRE(none.ok());
  CHECK(none->revoked.empty());

  REQUIRE(h.admin().revoke(p1_id, 1000, "test").ok());
  REQUIRE(h.admin().revoke(ws2_id, 1500, "test").ok()); // a workstation key concerns no agent
  REQUIRE(h.admin().revoke(p2_id, 2000, "test").ok());
  auto all = rpc<proto::RegisterResult>(*ws, proto::op::register_holdings, reg);
  REQUIRE(all.ok());
  REQUIRE(all->revoked.size() == 2);
  CHECK(all->revoked[0].revoked_ms == 1000);
  CHECK(all->revoked[0].kind == EnrollKind::printer);
  CHECK(all->revoked[1].revoked_ms == 2000);
  reg.revocations_after = 2000;
  auto newest = rpc<proto::RegisterResult>(*ws, proto::op::register_holdings, reg);
  REQUIRE(newest.ok());
  REQUIRE(newest->revoked.size() == 1); // at or after: the same millisecond may have had more
  reg.revocations_after = 2001;
  auto after = rpc<proto::RegisterResult>(*ws, proto::op::register_holdings, reg);
  REQUIRE(after.ok());
  CHECK(after->revoked.empty());

  proto::BadgeInRequest badge;
  badge.badge = "B-0001";
  auto refused = rpc<proto::BadgeInResult>(*p1, proto::op::badge_in, badge);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code == Errc::unauthenticated);
  CHECK(refused.error().message.find("was revoked") != std::string::npos);
  (void)p2;
  (void)ws2;
  (void)ws_id;
  h.finish();
}

TEST_CASE("directory service: refuses roles it does not serve", "[directory][service]") {
  Harness h;
  // The refusal may arrive before or after our side saw the directory's hello: either the
  // connection fails or the first call does, with the directory's reason.
  auto client = h.try_connect(h.identity("cli"), proto::role::cli);
  Error error;
  if (!client.ok()) {
    error = client.error();
  } else {
    proto::BadgeInRequest badge;
    badge.badge = "x";
    auto r = rpc<proto::BadgeInResult>(**client, proto::op::badge_in, badge);
    REQUIRE_FALSE(r.ok());
    error = r.error();
  }
  CHECK(error.code == Errc::forbidden);
  h.finish();
}

TEST_CASE("directory service: stopping the service closes open connections and the loop ends",
          "[directory][service]") {
  Harness h;
  SyncClient *ws = h.enrolled("ws-1", EnrollKind::workstation, proto::role::agent).first;
  CHECK(h.service().connection_count() == 1);
  h.service().stop();
  // The client's peer sees the close; a call after it fails instead of hanging.
  REQUIRE(proto::run_until(
      h.loop(), [&] { return ws->peer()->closed(); }, 5000));
  CHECK(h.service().connection_count() == 0);
  proto::BadgeInRequest badge;
  badge.badge = "x";
  CHECK_FALSE(rpc<proto::BadgeInResult>(*ws, proto::op::badge_in, badge).ok());
  h.finish();
}
