// The directory's badge side (directory_service_badge.cpp, directory_service_release.cpp):
// delegates in tickets (PM-7), the PIN as second factor, self-registration at the printer (BD-1,
// TS-2), federated users (BD-5), the per-printer rate limit, and who may call what. Every op goes
// through a real directory on a real loop.
#include <catch2/catch.hpp>

#include <algorithm>

#include "lpm/protocol/ops_offline.h"
#include "lpm/protocol/ops_release.h"
#include "people_fixture.h"
#include "rate_limits.h"

namespace lpm::directory::test {
namespace {

using proto::BadgeInResult;

// A directory with a workstation (People), a printer, and helpers for the badge ops.
struct Badges : People {
  SyncClient *printer = nullptr;
  std::string printer_id;

  Badges() {
    auto [client, id] = h.enrolled("printer-1", EnrollKind::printer, proto::role::printer);
    printer = client;
    printer_id = id;
  }

  // A user who may release (Print Release Management User) with a permanent badge.
  User releaser(const std::string &email, const std::string &badge) {
    User u = user(email, {Role::prm_user});
    REQUIRE(h.admin().badge_add(badge, email, wall_ms(), "test").ok());
    return u;
  }

  Result<BadgeInResult> badge_in(const std::string &badge, const std::string &pin = "",
                                 SyncClient *from = nullptr) {
    proto::BadgeInRequest req;
    req.badge = badge;
    req.pin = pin;
    return rpc<BadgeInResult>(from ? *from : *printer, proto::op::badge_in, req);
  }

  Result<BadgeInResult> badge_register(const std::string &badge, const std::string &email,
                                       const std::string &password = kPassword) {
    return rpc<BadgeInResult>(*printer, proto::op::badge_register,
                              proto::BadgeRegisterRequest{badge, email, password});
  }

  // The workstation `ws_client` (enrolled as ws_id) announces held jobs for these users; each is
  // bound to it first, as an administrator would.
  void hold(SyncClient &ws_client, const std::string &workstation,
            const std::vector<proto::Holding> &holdings) {
    {
      auto tx = h.admin().begin();
      for (const auto &held : holdings)
        REQUIRE(h.admin().workstation_user_add(workstation, held.user, "admin", wall_ms()).ok());
      REQUIRE(tx.commit().ok());
    }
    proto::RegisterRequest reg;
    reg.port = 9443;
    reg.addresses = {"192.0.2.10"};
    reg.holdings = holdings;
    auto registered = rpc<proto::RegisterResult>(ws_client, proto::op::register_holdings, reg);
    REQUIRE(registered.ok());
    REQUIRE(registered->refused.empty());
  }

  Result<proto::DelegateChangeResult> delegate(const std::string &session, const std::string &delegate_email,
                                               const std::string &for_email = "", bool add = true) {
    return rpc<proto::DelegateChangeResult>(*ws, add ? proto::op::delegates_add : proto::op::delegates_remove,
                                            proto::DelegateChangeRequest{session, delegate_email, for_email});
  }

  Result<proto::BadgesPolicyResult> policy(const std::string &session, const std::string &pin,
                                           const std::string &self_register = "") {
    return rpc<proto::BadgesPolicyResult>(*ws, proto::op::badges_policy_set,
                                          proto::BadgesPolicySetRequest{session, pin, self_register});
  }

  Result<proto::PinChangeResult> pin_set(const std::string &session, const std::string &pin) {
    return rpc<proto::PinChangeResult>(*ws, proto::op::pin_set, proto::PinSetRequest{session, pin});
  }

  size_t audited(const std::string &action) {
    auto log = h.admin().audit_tail(1000);
    REQUIRE(log.ok());
    return static_cast<size_t>(
        std::count_if(log->begin(), log->end(), [&](const AuditEntry &e) { return e.action == action; }));
  }

  // Badge ops in these tests come faster than a printer's default 5/s: only the rate-limit test
  // keeps a limit.
  void no_rate_limit() { h.service().set_badge_rate_limit(BadgeRateLimit{0, 20}); }
};

std::vector<std::string> ticket_users(const BadgeInResult &result) {
  auto ticket = proto::ticket_decode(result.ticket.body);
  REQUIRE(ticket.ok());
  return ticket->users;
}

std::vector<std::string> ids_of(const std::vector<proto::WorkstationRef> &workstations) {
  std::vector<std::string> ids;
  for (const auto &w : workstations)
    ids.push_back(w.id);
  std::sort(ids.begin(), ids.end());
  return ids;
}

} // namespace

TEST_CASE("badge-in: the jobs of whoever delegated to the badge's user come with the ticket, until the "
          "delegation is removed (PM-7)",
          "[directory][badge][PM-7][PM-11]") {
  Badges b;
  b.no_rate_limit();
  User alice = b.releaser("alice@example.com", "B-ALICE");
  User bob = b.user("bob@example.com", {Role::prm_user});
  User carol = b.user("carol@example.com", {Role::prm_user});
  auto [ws2, ws2_id] = b.h.enrolled("ws-2", EnrollKind::workstation, proto::role::agent);
  // ws-1 holds jobs of alice and bob, ws-2 jobs of carol: three users, two workstations.
  b.hold(*b.ws, b.ws_id, {{alice.id, 1}, {bob.id, 2}});
  b.hold(*ws2, ws2_id, {{carol.id, 3}});

  auto before = b.badge_in("B-ALICE");
  REQUIRE(before.ok());
  CHECK(ticket_users(*before) == std::vector<std::string>{alice.id});
  CHECK(ids_of(before->workstations) == std::vector<std::string>{b.ws_id});

  // bob and carol let alice release their jobs.
  auto added = b.delegate(b.session("bob@example.com"), "alice@example.com");
  REQUIRE(added.ok());
  CHECK(added->changed);
  CHECK(added->delegator == "bob@example.com");
  std::string carol_session = b.session("carol@example.com");
  REQUIRE(b.delegate(carol_session, "alice@example.com").ok());
  auto again = b.delegate(carol_session, "alice@example.com");
  REQUIRE(again.ok());
  CHECK_FALSE(again->changed); // already a delegate

  auto with = b.badge_in("B-ALICE");
  REQUIRE(with.ok());
  std::vector<std::string> users = ticket_users(*with);
  REQUIRE(users.size() == 3);
  CHECK(users[0] == alice.id); // the badge's user first
  CHECK(std::is_permutation(users.begin(), users.end(),
                            std::vector<std::string>{alice.id, bob.id, carol.id}.begin()));
  // The answer names them too, with display names (the e-mail when none).
  REQUIRE(with->users.size() == 3);
  CHECK(with->users[0].id == alice.id);
  CHECK(with->users[0].display_name == "alice@example.com");
  // ws-1 once (alice's and bob's jobs), ws-2 for carol's.
  std::vector<std::string> both{b.ws_id, ws2_id};
  std::sort(both.begin(), both.end());
  CHECK(ids_of(with->workstations) == both);
  auto ticket = proto::ticket_decode(with->ticket.body);
  REQUIRE(ticket.ok());
  CHECK(ticket->workstations.size() == 2);

  // Delegation goes one way: bob's badge-in does not bring alice's jobs.
  REQUIRE(b.h.admin().badge_add("B-BOB", "bob@example.com", wall_ms(), "test").ok());
  auto bobs = b.badge_in("B-BOB");
  REQUIRE(bobs.ok());
  CHECK(ticket_users(*bobs) == std::vector<std::string>{bob.id});

  SECTION("removing the delegate removes the delegator's jobs from the next ticket") {
    auto removed = b.delegate(carol_session, "alice@example.com", "", false);
    REQUIRE(removed.ok());
    CHECK(removed->changed);
    auto after = b.badge_in("B-ALICE");
    REQUIRE(after.ok());
    CHECK(ticket_users(*after) == std::vector<std::string>{alice.id, bob.id});
    CHECK(ids_of(after->workstations) == std::vector<std::string>{b.ws_id});
    auto not_any_more = b.delegate(carol_session, "alice@example.com", "", false);
    REQUIRE(not_any_more.ok());
    CHECK_FALSE(not_any_more->changed);
    CHECK(b.audited("delegate-add") == 2);
    CHECK(b.audited("delegate-remove") == 1);
  }
  SECTION("delegates-list shows both directions") {
    auto listed = rpc<proto::DelegatesListResult>(
        *b.ws, proto::op::delegates_list, proto::DelegatesListRequest{b.session("alice@example.com"), ""});
    REQUIRE(listed.ok());
    CHECK(listed->email == "alice@example.com");
    CHECK(listed->delegates.empty());
    REQUIRE(listed->delegators.size() == 2);
    auto of_bob = rpc<proto::DelegatesListResult>(
        *b.ws, proto::op::delegates_list, proto::DelegatesListRequest{b.session("bob@example.com"), ""});
    REQUIRE(of_bob.ok());
    REQUIRE(of_bob->delegates.size() == 1);
    CHECK(of_bob->delegates[0].email == "alice@example.com");
    CHECK(of_bob->delegates[0].actor.find("bob@example.com") != std::string::npos);
  }
  SECTION("deleting the delegator ends the delegation") {
    auto tx = b.h.admin().begin();
    REQUIRE(b.h.admin().user_delete(carol.id).ok());
    REQUIRE(tx.commit().ok());
    auto after = b.badge_in("B-ALICE");
    REQUIRE(after.ok());
    CHECK(ticket_users(*after).size() == 2);
  }
  b.h.finish();
}

TEST_CASE("delegates ops: users manage their own delegates, administrators assign them for others (PM-7)",
          "[directory][badge][PM-7][RL-8]") {
  Badges b;
  b.no_rate_limit();
  b.user("alice@example.com", {Role::prm_user});
  b.user("bob@example.com", {Role::prm_user});
  b.user("nora@example.com"); // no role at all
  b.user("admin@example.com", {Role::prm_administrator});
  std::string alice = b.session("alice@example.com");
  std::string admin = b.session("admin@example.com");

  SECTION("a user for themselves") {
    auto mine = b.delegate(alice, "bob@example.com");
    REQUIRE(mine.ok());
    CHECK(mine->delegator == "alice@example.com");
    // Naming oneself with --for is still oneself.
    CHECK(b.delegate(alice, "bob@example.com", "Alice@Example.com").ok());
  }
  SECTION("a user for somebody else: forbidden, naming the roles that may") {
    auto refused = b.delegate(alice, "alice@example.com", "bob@example.com");
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.error().code == Errc::forbidden);
    CHECK(refused.error().message.find("delegates-add needs one of these roles") == 0);
    auto list = rpc<proto::DelegatesListResult>(*b.ws, proto::op::delegates_list,
                                                proto::DelegatesListRequest{alice, "bob@example.com"});
    REQUIRE_FALSE(list.ok());
    CHECK(list.error().code == Errc::forbidden);
  }
  SECTION("without the release role, not even for oneself (PM-11)") {
    auto refused = b.delegate(b.session("nora@example.com"), "bob@example.com");
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.error().code == Errc::forbidden);
  }
  SECTION("an administrator for others") {
    auto assigned = b.delegate(admin, "alice@example.com", "bob@example.com");
    REQUIRE(assigned.ok());
    CHECK(assigned->delegator == "bob@example.com");
    CHECK(assigned->delegate == "alice@example.com");
    auto listed = rpc<proto::DelegatesListResult>(*b.ws, proto::op::delegates_list,
                                                  proto::DelegatesListRequest{admin, "bob@example.com"});
    REQUIRE(listed.ok());
    REQUIRE(listed->delegates.size() == 1);
    CHECK(listed->delegates[0].actor.find("admin@example.com") != std::string::npos);
    CHECK(b.delegate(admin, "alice@example.com", "bob@example.com", false)->changed);
  }
  SECTION("no credentials: no session, or a printer's key") {
    auto unsigned_in = b.delegate("not a session", "bob@example.com");
    REQUIRE_FALSE(unsigned_in.ok());
    CHECK(unsigned_in.error().code == Errc::unauthenticated);
    auto from_printer = rpc<proto::DelegateChangeResult>(
        *b.printer, proto::op::delegates_add, proto::DelegateChangeRequest{alice, "bob@example.com", ""});
    REQUIRE_FALSE(from_printer.ok());
    CHECK(from_printer.error().code == Errc::forbidden);
  }
  SECTION("oneself or nobody cannot be a delegate") {
    auto self = b.delegate(alice, "alice@example.com");
    REQUIRE_FALSE(self.ok());
    CHECK(self.error().code == Errc::bad_request);
    auto nobody = b.delegate(alice, "nobody@example.com");
    REQUIRE_FALSE(nobody.ok());
    CHECK(nobody.error().code == Errc::not_found);
  }
  b.h.finish();
}

TEST_CASE("PIN policy: required asks for the PIN after the badge, checks it and throttles wrong ones",
          "[directory][badge][pin][PM-11]") {
  Badges b;
  b.no_rate_limit();
  User alice = b.releaser("alice@example.com", "B-ALICE");
  b.user("admin@example.com", {Role::user_administrator});
  std::string admin = b.session("admin@example.com");
  std::string alice_session = b.session("alice@example.com");

  // Off (the default): the badge alone gets the ticket.
  auto shown = rpc<proto::BadgesPolicyResult>(*b.ws, proto::op::badges_policy_show,
                                              proto::SessionRequest{alice_session});
  REQUIRE(shown.ok());
  CHECK(shown->pin == "off");
  CHECK(shown->self_register == "on");
  auto plain = b.badge_in("B-ALICE");
  REQUIRE(plain.ok());
  CHECK_FALSE(plain->pin_required);

  // Only badge administrators set the policy.
  auto refused = b.policy(alice_session, "required");
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code == Errc::forbidden);
  auto set = b.policy(admin, "required");
  REQUIRE(set.ok());
  CHECK(set->pin == "required");
  CHECK(set->self_register == "on");
  CHECK(b.audited("badge-policy-set") == 1);

  // Required, no PIN set: a precise refusal, before anyone is asked for a PIN.
  auto no_pin = b.badge_in("B-ALICE");
  REQUIRE_FALSE(no_pin.ok());
  CHECK(no_pin.error().code == Errc::forbidden);
  CHECK(no_pin.error().message.find("lpm pin set") != std::string::npos);

  auto malformed = b.pin_set(alice_session, "12a4");
  REQUIRE_FALSE(malformed.ok());
  CHECK(malformed.error().code == Errc::bad_request);
  CHECK_FALSE(b.pin_set(alice_session, "123").ok());
  CHECK_FALSE(b.pin_set(alice_session, "1234567890123").ok());
  auto pinned = b.pin_set(alice_session, "2468");
  REQUIRE(pinned.ok());
  CHECK(pinned->email == "alice@example.com");
  CHECK(b.audited("pin-set") == 1);

  // The badge alone: no ticket, no name; the station asks for the PIN.
  auto ask = b.badge_in("B-ALICE");
  REQUIRE(ask.ok());
  CHECK(ask->pin_required);
  CHECK(ask->user.empty());
  CHECK(ask->ticket.body.empty());
  // With the PIN: the ticket.
  auto with_pin = b.badge_in("B-ALICE", "2468");
  REQUIRE(with_pin.ok());
  CHECK_FALSE(with_pin->pin_required);
  CHECK(with_pin->user == alice.id);
  CHECK(ticket_users(*with_pin) == std::vector<std::string>{alice.id});

  SECTION("wrong PINs are refused, audited, and throttled after 5 in 15 minutes") {
    for (const char *wrong : {"1111", "2222", "abcd", "3333", "4444"}) {
      auto r = b.badge_in("B-ALICE", wrong);
      REQUIRE_FALSE(r.ok());
      CHECK(r.error().code == Errc::unauthenticated);
      CHECK(r.error().message == "wrong PIN");
    }
    CHECK(b.audited("pin-failed") == 5);
    auto throttled = b.badge_in("B-ALICE", "2468"); // even the right one, now
    REQUIRE_FALSE(throttled.ok());
    CHECK(throttled.error().code == Errc::rate_limited);
    CHECK(throttled.error().message.find("too many wrong PINs for this user: try again in 15 minutes") == 0);
    CHECK(b.audited("pin-throttled") == 1);
    // A new PIN starts afresh.
    REQUIRE(b.pin_set(alice_session, "97531").ok());
    CHECK(b.badge_in("B-ALICE", "97531").ok());
  }
  SECTION("an administrator clears a user's PIN; the user may clear their own") {
    auto cleared = rpc<proto::PinChangeResult>(*b.ws, proto::op::pin_clear,
                                               proto::PinClearRequest{admin, "alice@example.com"});
    REQUIRE(cleared.ok());
    CHECK(cleared->changed);
    auto none = b.badge_in("B-ALICE");
    REQUIRE_FALSE(none.ok());
    CHECK(none.error().message.find("lpm pin set") != std::string::npos);
    REQUIRE(b.pin_set(alice_session, "2468").ok());
    auto own =
        rpc<proto::PinChangeResult>(*b.ws, proto::op::pin_clear, proto::PinClearRequest{alice_session, ""});
    REQUIRE(own.ok());
    CHECK(own->changed);
    auto twice =
        rpc<proto::PinChangeResult>(*b.ws, proto::op::pin_clear, proto::PinClearRequest{alice_session, ""});
    REQUIRE(twice.ok());
    CHECK_FALSE(twice->changed);
    // Another user's PIN is an administrator's business.
    b.user("bob@example.com", {Role::prm_user});
    auto others = rpc<proto::PinChangeResult>(
        *b.ws, proto::op::pin_clear,
        proto::PinClearRequest{b.session("bob@example.com"), "alice@example.com"});
    REQUIRE_FALSE(others.ok());
    CHECK(others.error().code == Errc::forbidden);
  }
  SECTION("policy off again: the badge alone is enough") {
    REQUIRE(b.policy(admin, "off").ok());
    auto r = b.badge_in("B-ALICE");
    REQUIRE(r.ok());
    CHECK_FALSE(r->pin_required);
    CHECK(r->user == alice.id);
  }
  b.h.finish();
}

TEST_CASE("badge-register: an unknown badge becomes the user's permanent badge after they sign in at the "
          "printer, and the answer is a ticket (BD-1, TS-3)",
          "[directory][badge][BD-1][TS-3][AMB-15]") {
  Badges b;
  b.no_rate_limit();
  User alice = b.user("alice@example.com", {Role::prm_user});
  b.hold(*b.ws, b.ws_id, {{alice.id, 2}});

  auto unknown = b.badge_in(" 0451A ");
  REQUIRE_FALSE(unknown.ok());
  CHECK(unknown.error().code == Errc::not_found);
  CHECK(unknown.error().message.find("may register it at this printer") != std::string::npos);

  SECTION("a wrong password registers nothing and counts as a failed login") {
    auto wrong = b.badge_register(" 0451A ", "alice@example.com", "not the password");
    REQUIRE_FALSE(wrong.ok());
    CHECK(wrong.error().code == Errc::unauthenticated);
    CHECK(wrong.error().message == "wrong e-mail address or password");
    CHECK(b.audited("login-failed") == 1);
    auto still = b.badge_in("0451A");
    REQUIRE_FALSE(still.ok());
    CHECK(still.error().code == Errc::not_found);
    auto nobody = b.badge_register("0451A", "nobody@example.com", kPassword);
    REQUIRE_FALSE(nobody.ok());
    CHECK(nobody.error().message == "wrong e-mail address or password");
  }
  SECTION("registered as the reader delivers it, then a plain badge-in works") {
    auto registered = b.badge_register(" 0451A ", "Alice@example.com");
    REQUIRE(registered.ok());
    CHECK(registered->user == alice.id);
    CHECK(ticket_users(*registered) == std::vector<std::string>{alice.id});
    CHECK(ids_of(registered->workstations) == std::vector<std::string>{b.ws_id});
    auto badges = b.h.admin().badges_of(alice.id);
    REQUIRE(badges.ok());
    REQUIRE(badges->size() == 1);
    CHECK(badges->front().badge == "0451A"); // trimmed, otherwise as delivered (TS-3)
    CHECK_FALSE(badges->front().temporary);
    CHECK(b.audited("badge-register") == 1);
    auto later = b.badge_in("0451a"); // hex letters in any case (AMB-15)
    REQUIRE(later.ok());
    CHECK(later->user == alice.id);
    // Registering it again changes nothing and still answers a ticket.
    CHECK(b.badge_register("0451A", "alice@example.com").ok());
  }
  SECTION("without the release role nothing is registered (PM-11)") {
    b.user("nora@example.com");
    auto refused = b.badge_register("0451A", "nora@example.com");
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.error().code == Errc::forbidden);
    CHECK_FALSE(b.h.admin().badge_find("0451A").ok());
  }
  SECTION("the PIN policy does not apply: the password was just given") {
    b.user("admin@example.com", {Role::user_administrator});
    REQUIRE(b.policy(b.session("admin@example.com"), "required").ok());
    auto registered = b.badge_register("0451A", "alice@example.com");
    REQUIRE(registered.ok());
    CHECK_FALSE(registered->pin_required);
  }
  b.h.finish();
}

TEST_CASE("badge-register: a new badge replaces the stored one, which is then unknown (TS-2, BD-13)",
          "[directory][badge][TS-2][BD-13][BD-1]") {
  Badges b;
  b.no_rate_limit();
  User alice = b.releaser("alice@example.com", "OLD-1");
  {
    // A temporary badge stays: only the permanent one is replaced (AMB-13).
    auto tx = b.h.admin().begin();
    REQUIRE(b.h.admin().badge_assign("TEMP-1", alice.id, true, wall_ms()).ok());
    REQUIRE(tx.commit().ok());
  }
  REQUIRE(b.badge_in("OLD-1").ok());
  // A new card: unknown, so the station prompts and she signs in.
  REQUIRE(b.badge_in("NEW-2").error().code == Errc::not_found);
  auto registered = b.badge_register("NEW-2", "alice@example.com");
  REQUIRE(registered.ok());
  CHECK(registered->user == alice.id);
  auto old = b.badge_in("OLD-1");
  REQUIRE_FALSE(old.ok());
  CHECK(old.error().code == Errc::not_found);
  CHECK(b.badge_in("NEW-2").ok());
  CHECK(b.badge_in("TEMP-1").ok());
  auto log = b.h.admin().audit_tail(20);
  REQUIRE(log.ok());
  bool replaced = std::any_of(log->begin(), log->end(), [](const AuditEntry &e) {
    return e.action == "badge-register" &&
           e.detail.find("replaces the previous permanent badge") != std::string::npos;
  });
  CHECK(replaced);
  b.h.finish();
}

TEST_CASE("badge-register: another user's badge is a conflict and nothing changes (AMB-13)",
          "[directory][badge][AMB-13][BD-1]") {
  Badges b;
  b.no_rate_limit();
  User alice = b.releaser("alice@example.com", "B-ALICE");
  User bob = b.releaser("bob@example.com", "B-BOB");
  auto taken = b.badge_register("B-ALICE", "bob@example.com");
  REQUIRE_FALSE(taken.ok());
  CHECK(taken.error().code == Errc::conflict);
  CHECK(taken.error().message.find("another user") != std::string::npos);
  auto still_alice = b.badge_in("B-ALICE");
  REQUIRE(still_alice.ok());
  CHECK(still_alice->user == alice.id);
  auto still_bob = b.badge_in("B-BOB");
  REQUIRE(still_bob.ok());
  CHECK(still_bob->user == bob.id);
  b.h.finish();
}

TEST_CASE("federated users are never registered at a printer, with self-registration off nobody is prompted "
          "(BD-5)",
          "[directory][badge][BD-5][BD-1]") {
  Badges b;
  b.no_rate_limit();
  User fed = b.releaser("fed@example.com", "CORP-1");
  b.user("alice@example.com", {Role::prm_user});
  b.user("admin@example.com", {Role::user_administrator});
  std::string admin = b.session("admin@example.com");

  // Only user administrators mark users federated.
  auto refused = rpc<proto::UsersSetFederatedResult>(
      *b.ws, proto::op::users_set_federated,
      proto::UsersSetFederatedRequest{b.session("alice@example.com"), "fed@example.com", true});
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code == Errc::forbidden);
  auto marked = rpc<proto::UsersSetFederatedResult>(
      *b.ws, proto::op::users_set_federated, proto::UsersSetFederatedRequest{admin, "fed@example.com", true});
  REQUIRE(marked.ok());
  CHECK(marked->federated);
  CHECK(marked->changed);
  CHECK(*b.h.admin().user_federated(fed.id));
  CHECK(b.audited("user-federated") == 1);
  // `lpm users show` says so (and that no badge PIN is set).
  auto shown = rpc<proto::UsersShowResult>(*b.ws, proto::op::users_show,
                                           proto::UsersShowRequest{admin, "fed@example.com"});
  REQUIRE(shown.ok());
  CHECK(shown->federated);
  CHECK_FALSE(shown->pin_set);
  CHECK(rpc<proto::PinChangeResult>(*b.ws, proto::op::pin_set,
                                    proto::PinSetRequest{b.session("fed@example.com"), "8642"})
            .ok());
  shown = rpc<proto::UsersShowResult>(*b.ws, proto::op::users_show,
                                      proto::UsersShowRequest{admin, "fed@example.com"});
  REQUIRE(shown.ok());
  CHECK(shown->pin_set);

  // Their badge from the corporate directory works as any other.
  auto in = b.badge_in("CORP-1");
  REQUIRE(in.ok());
  CHECK(in->user == fed.id);
  // A card the corporate directory does not know is never registered at the printer.
  auto registered = b.badge_register("OTHER-9", "fed@example.com");
  REQUIRE_FALSE(registered.ok());
  CHECK(registered.error().code == Errc::forbidden);
  CHECK(registered.error().message.find("corporate directory") != std::string::npos);
  CHECK_FALSE(b.h.admin().badge_find("OTHER-9").ok());
  auto badges = b.h.admin().badges_of(fed.id);
  REQUIRE(badges.ok());
  CHECK(badges->size() == 1);

  SECTION("self-registration off: an unknown badge is forbidden, not not_found, so no station prompts") {
    auto off = b.policy(admin, "", "off");
    REQUIRE(off.ok());
    CHECK(off->pin == "off");
    CHECK(off->self_register == "off");
    auto unknown = b.badge_in("OTHER-9");
    REQUIRE_FALSE(unknown.ok());
    CHECK(unknown.error().code == Errc::forbidden);
    CHECK(unknown.error().message.find("self-registration is off") != std::string::npos);
    auto register_refused = b.badge_register("OTHER-9", "alice@example.com");
    REQUIRE_FALSE(register_refused.ok());
    CHECK(register_refused.error().code == Errc::forbidden);
  }
  SECTION("no longer federated: the user may register a card again") {
    auto unmarked =
        rpc<proto::UsersSetFederatedResult>(*b.ws, proto::op::users_set_federated,
                                            proto::UsersSetFederatedRequest{admin, "fed@example.com", false});
    REQUIRE(unmarked.ok());
    CHECK(unmarked->changed);
    CHECK(b.badge_register("OTHER-9", "fed@example.com").ok());
  }
  b.h.finish();
}

TEST_CASE(
    "badge rate limit: a printer's burst passes, then rate_limited with a retry hint, another printer is "
    "unaffected",
    "[directory][badge][rate]") {
  Badges b;
  b.releaser("alice@example.com", "B-ALICE");
  // The default is 5/s, burst 20; a slow refill keeps this test's timing out of it.
  CHECK(b.h.service().badge_rate_limit().per_second == 5);
  CHECK(b.h.service().badge_rate_limit().burst == 20);
  b.h.service().set_badge_rate_limit(BadgeRateLimit{0.01, 3});
  for (int i = 0; i < 3; i++)
    REQUIRE(b.badge_in("B-ALICE").ok());
  auto limited = b.badge_in("B-ALICE");
  REQUIRE_FALSE(limited.ok());
  CHECK(limited.error().code == Errc::rate_limited);
  CHECK(limited.error().message.find("try again in ") != std::string::npos);
  // badge-register spends the same bucket (and never reaches the password check).
  auto registering = b.badge_register("NEW-1", "alice@example.com", "guess");
  REQUIRE_FALSE(registering.ok());
  CHECK(registering.error().code == Errc::rate_limited);
  CHECK(b.audited("login-failed") == 0);
  // Audited once, however many refusals follow within the minute.
  CHECK(b.audited("badge-rate-limited") == 1);

  auto [other, other_id] = b.h.enrolled("printer-2", EnrollKind::printer, proto::role::printer);
  CHECK(b.badge_in("B-ALICE", "", other).ok());

  // Off: nothing is limited.
  b.h.service().set_badge_rate_limit(BadgeRateLimit{0, 1});
  for (int i = 0; i < 25; i++)
    REQUIRE(b.badge_in("B-ALICE").ok());
  (void)other_id;
  b.h.finish();
}

TEST_CASE("badge ops refuse a revoked printer key, and keys of other kinds", "[directory][badge]") {
  Badges b;
  b.no_rate_limit();
  b.releaser("alice@example.com", "B-ALICE");
  REQUIRE(b.badge_in("B-ALICE").ok());
  auto from_ws = rpc<BadgeInResult>(*b.ws, proto::op::badge_register,
                                    proto::BadgeRegisterRequest{"X-1", "alice@example.com", kPassword});
  REQUIRE_FALSE(from_ws.ok());
  CHECK(from_ws.error().code == Errc::forbidden);
  REQUIRE(b.h.admin().revoke(b.printer_id, wall_ms(), "test").ok());
  auto revoked = b.badge_in("B-ALICE");
  REQUIRE_FALSE(revoked.ok());
  CHECK(revoked.error().code == Errc::unauthenticated);
  CHECK(revoked.error().message.find("revoked") != std::string::npos);
  auto register_revoked = b.badge_register("X-1", "alice@example.com");
  REQUIRE_FALSE(register_revoked.ok());
  CHECK(register_revoked.error().code == Errc::unauthenticated);
  b.h.finish();
}

TEST_CASE("rate limits: token buckets refill at their rate, failure windows block and end",
          "[directory][rate]") {
  TokenBuckets buckets(BadgeRateLimit{2, 3}, 2);
  for (int i = 0; i < 3; i++)
    CHECK(buckets.take("p1", 1000) == 0);
  CHECK(buckets.take("p1", 1000) == 500); // half a second to the next token at 2/s
  CHECK(buckets.take("p1", 1250) == 250);
  CHECK(buckets.take("p1", 1500) == 0);
  CHECK(buckets.take("p2", 1500) == 0); // a bucket per key
  CHECK(buckets.report_due("p1", 1500, 60000));
  CHECK_FALSE(buckets.report_due("p1", 30000, 60000));
  CHECK(buckets.report_due("p1", 61500, 60000));
  // At most max_keys buckets: full ones make room first.
  CHECK(buckets.take("p3", 100000) == 0);
  CHECK(buckets.size() <= 2);
  buckets.configure(BadgeRateLimit{0, 1});
  for (int i = 0; i < 10; i++)
    CHECK(buckets.take("p1", 100000) == 0);
  CHECK(badge_rate_text(BadgeRateLimit{5, 20}) == "5/s, burst 20");
  CHECK(badge_rate_text(BadgeRateLimit{0, 20}) == "off");

  FailureThrottle throttle(2, 1000, 10);
  CHECK(throttle.blocked_for_ms("u", 0) == 0);
  throttle.failed("u", 100);
  CHECK(throttle.blocked_for_ms("u", 200) == 0);
  throttle.failed("u", 300);
  CHECK(throttle.blocked_for_ms("u", 400) == 700);
  CHECK(throttle.blocked_for_ms("v", 400) == 0);
  CHECK(throttle.blocked_for_ms("u", 1100) == 0); // the window ended
  throttle.failed("u", 1200);
  throttle.failed("u", 1300);
  CHECK(throttle.blocked_for_ms("u", 1400) > 0);
  throttle.clear("u");
  CHECK(throttle.blocked_for_ms("u", 1400) == 0);
  CHECK(minutes_text(60000) == "1 minute");
  CHECK(minutes_text(60001) == "2 minutes");
}


TEST_CASE("release without the directory: printer certificates and the offline table, only when the "
          "policy allows it (issue 8)",
          "[directory][badge][offline]") {
  Badges b;
  b.no_rate_limit();
  User alice = b.releaser("alice@example.com", "04:A2:b3");
  User bob = b.releaser("bob@example.com", "B-BOB");
  b.user("nora@example.com"); // no release role: left out of the table
  REQUIRE(b.h.admin().badge_add("B-NORA", "nora@example.com", wall_ms(), "test").ok());
  b.user("admin@example.com", {Role::user_administrator});
  std::string admin = b.session("admin@example.com");
  b.hold(*b.ws, b.ws_id, {proto::Holding{alice.id, 2}});
  auto printer_identity = b.h.identity_of("printer-1");
  proto::PrinterCertificateRequest cert_req{printer_identity->key().public_der()};
  proto::Bytes secret(proto::kOfflineSecretBytes, 0x42);
  auto table = [&](const std::string &after = "") {
    proto::OfflineBadgesRequest req;
    req.secret = secret;
    req.page.after = after;
    return rpc<proto::OfflineBadgesResult>(*b.printer, proto::op::offline_badges, req);
  };

  // Off by default: nothing leaves the directory.
  auto off = rpc<proto::PrinterCertificateResult>(*b.printer, proto::op::printer_certificate, cert_req);
  REQUIRE_FALSE(off.ok());
  CHECK(off.error().code == Errc::forbidden);
  CHECK_THAT(off.error().message, Catch::Contains("--offline-hours"));
  REQUIRE_FALSE(table().ok());

  auto set = rpc<proto::BadgesPolicyResult>(*b.ws, proto::op::badges_policy_set,
                                            proto::BadgesPolicySetRequest{admin, "", "", 4});
  REQUIRE(set.ok());
  CHECK(set->offline_hours == 4);
  // A PIN cannot be checked without the directory: the two do not go together.
  auto pin = rpc<proto::BadgesPolicyResult>(*b.ws, proto::op::badges_policy_set,
                                            proto::BadgesPolicySetRequest{admin, "required", "", -1});
  REQUIRE_FALSE(pin.ok());
  CHECK(pin.error().code == Errc::conflict);

  SECTION("the certificate vouches for the printer's key for the policy's hours") {
    auto got = rpc<proto::PrinterCertificateResult>(*b.printer, proto::op::printer_certificate, cert_req);
    REQUIRE(got.ok());
    CHECK(got->hours == 4);
    std::vector<proto::PublicKey> directory_keys;
    auto ticket_key = proto::PublicKey::from_der(b.h.service().ticket_public_der());
    REQUIRE(ticket_key.ok());
    directory_keys.push_back(std::move(*ticket_key));
    auto cert = proto::printer_certificate_verify(got->certificate, directory_keys, wall_ms());
    REQUIRE(cert.ok());
    CHECK(cert->printer == printer_identity->fingerprint());
    CHECK(cert->printer_id == b.printer_id);
    CHECK(cert->expires_ms - cert->issued_ms == 4 * 3600 * 1000LL);
    // Only for the key of the connection asking.
    auto other = rpc<proto::PrinterCertificateResult>(
        *b.printer, proto::op::printer_certificate,
        proto::PrinterCertificateRequest{b.h.identity("someone-else")->key().public_der()});
    REQUIRE_FALSE(other.ok());
    CHECK(other.error().code == Errc::forbidden);
    // A workstation is not a printer.
    REQUIRE_FALSE(rpc<proto::PrinterCertificateResult>(*b.ws, proto::op::printer_certificate, cert_req).ok());
  }
  SECTION("the badge table: keyed badges, users, delegators and holders; never a badge as it is") {
    REQUIRE(b.delegate(b.session("bob@example.com"), "alice@example.com").ok());
    auto page = table();
    REQUIRE(page.ok());
    REQUIRE(page->items.size() == 2); // alice and bob; nora may not release
    auto alice_key = proto::offline_badge_key(secret, "04:a2:B3"); // badges compare case-insensitively
    auto entry = std::find_if(page->items.begin(), page->items.end(),
                              [&](const proto::OfflineBadge &e) { return e.key == alice_key; });
    REQUIRE(entry != page->items.end());
    REQUIRE(entry->users.size() == 2);
    CHECK(entry->users[0].id == alice.id);
    CHECK(entry->users[1].id == bob.id); // bob delegated to alice
    CHECK(entry->workstations == std::vector<std::string>{b.ws_id});
    CHECK(page->next.empty());
    // Paged with an opaque cursor.
    proto::OfflineBadgesRequest one;
    one.secret = secret;
    one.page.limit = 1;
    auto first = rpc<proto::OfflineBadgesResult>(*b.printer, proto::op::offline_badges, one);
    REQUIRE(first.ok());
    REQUIRE(first->items.size() == 1);
    CHECK(first->next.find("B-") == std::string::npos);
    auto rest = table(first->next);
    REQUIRE(rest.ok());
    CHECK(rest->items.size() == 1);
    CHECK(rest->items[0].key != first->items[0].key);
    // The key table: the workstation with its key and port.
    auto keys = rpc<proto::OfflineWorkstationsResult>(*b.printer, proto::op::offline_workstations,
                                                       proto::OfflineWorkstationsRequest{});
    REQUIRE(keys.ok());
    REQUIRE(keys->items.size() == 1);
    CHECK(keys->items[0].id == b.ws_id);
    CHECK(keys->items[0].port == 9443);
    CHECK(keys->items[0].fingerprint == b.h.identity_of("ws-1")->fingerprint());
  }
  SECTION("off again: refused again") {
    REQUIRE(rpc<proto::BadgesPolicyResult>(*b.ws, proto::op::badges_policy_set,
                                           proto::BadgesPolicySetRequest{admin, "", "", 0})
                .ok());
    REQUIRE_FALSE(table().ok());
  }
  b.h.finish();
}

} // namespace lpm::directory::test
