// The directory's person ops for workstations, enrollment tokens and printers over TLS
// (directory_service_devices.cpp): the helpdesk view (counts and hosts only), binding,
// deregistering, tokens, printers; their errors, audit rows and role matrix.
#include <catch2/catch.hpp>

#include <algorithm>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "lpm/protocol/ops_admin.h"
#include "people_fixture.h"
#include "roles.h"
#include "service_harness.h"

using namespace lpm;
using namespace lpm::directory;
using namespace lpm::directory::test;
using proto::SyncClient;

namespace {

const std::string kJean = "jean@example.com";

// The People fixture with an enterprise administrator logged in, jean, and a second workstation
// (ws-2) holding jobs for jean, which an administrator bound to it.
struct Devices : People {
  User admin = user(kAdmin, {Role::enterprise_administrator});
  std::string admin_session = People::session(kAdmin);
  User jean = user(kJean, {Role::prm_user});
  SyncClient *ws2 = nullptr;
  std::string ws2_id;

  Devices() {
    auto [client, id] = h.enrolled("ws-2", EnrollKind::workstation, proto::role::agent);
    ws2 = client;
    ws2_id = id;
  }

  Result<proto::WorkstationChangeResult> change(const char *op, const std::string &workstation, const std::string &email,
                                                const std::string &as = "") {
    return rpc<proto::WorkstationChangeResult>(
        *this->ws, op, proto::WorkstationChangeRequest{as.empty() ? admin_session : as, workstation, email});
  }
  Result<proto::WorkstationsResult> list(const std::string &as = "") {
    return rpc<proto::WorkstationsResult>(*ws, proto::op::workstations_list,
                                          proto::SessionRequest{as.empty() ? admin_session : as});
  }
  Result<proto::WorkstationsResult> show(const std::string &ws_text, const std::string &email) {
    return rpc<proto::WorkstationsResult>(*ws, proto::op::workstations_show,
                                          proto::WorkstationsShowRequest{admin_session, ws_text, email});
  }
  // ws-2 reports `jobs` held for jean.
  void hold(uint64_t jobs) {
    proto::RegisterRequest reg;
    reg.port = 9443;
    reg.addresses = {"127.0.0.1"};
    reg.holdings = {{jean.id, jobs}};
    auto registered = rpc<proto::RegisterResult>(*ws2, proto::op::register_holdings, reg);
    REQUIRE(registered.ok());
    REQUIRE(registered->refused.empty());
  }
  int64_t audited(const std::string &action, const std::string &part = "") {
    auto stmt = h.admin().db().prepare(
        "SELECT count(*) FROM audit WHERE action = ? AND instr(detail, ?) > 0 AND actor = ?");
    REQUIRE(stmt.ok());
    stmt->bind(1, action).bind(2, part).bind(3, "user " + admin.id + " " + kAdmin);
    REQUIRE(*stmt->step());
    return stmt->col_int(0);
  }
};

const proto::WorkstationEntry *entry_named(const proto::WorkstationsResult &r, const std::string &name) {
  for (const auto &w : r.workstations)
    if (w.name == name) return &w;
  return nullptr;
}

} // namespace

TEST_CASE("directory devices: workstations-list and -show give counts and hosts per user, audited as helpdesk "
          "look-ups (RL-12)",
          "[directory][devices][RL-12]") {
  Devices d;
  REQUIRE(d.change(proto::op::workstations_bind, "ws-2", kJean).ok());
  d.hold(3);

  auto listed = d.list();
  REQUIRE(listed.ok());
  const auto *ws2 = entry_named(*listed, "ws-2");
  REQUIRE(ws2 != nullptr);
  CHECK(ws2->id == d.ws2_id);
  CHECK(ws2->held_jobs == 3);
  CHECK(ws2->seen_address == "127.0.0.1");
  CHECK(ws2->last_seen_ms > 0);
  REQUIRE(ws2->held.size() == 1);
  CHECK(ws2->held[0].email == kJean);
  CHECK(ws2->held[0].jobs == 3);
  CHECK(std::count(ws2->bound_users.begin(), ws2->bound_users.end(), kJean + " (admin)") == 1);
  CHECK(d.audited("helpdesk-lookup", "workstations") == 1);

  auto by_name = d.show("ws-2", "");
  REQUIRE(by_name.ok());
  REQUIRE(by_name->workstations.size() == 1);
  CHECK(by_name->workstations[0].held.at(0).jobs == 3);
  auto by_id = d.show(d.ws2_id, "");
  REQUIRE(by_id.ok());
  CHECK(by_id->workstations.at(0).name == "ws-2");
  CHECK(d.audited("helpdesk-lookup", "workstation " + d.ws2_id) == 2);

  // "Where are this user's jobs": only the workstation holding them.
  auto of_jean = d.show("", "Jean@Example.com");
  REQUIRE(of_jean.ok());
  REQUIRE(of_jean->workstations.size() == 1);
  CHECK(of_jean->workstations[0].id == d.ws2_id);
  CHECK(d.audited("helpdesk-lookup", "jobs of user " + d.jean.id) == 1);
  auto of_admin = d.show("", kAdmin);
  REQUIRE(of_admin.ok());
  CHECK(of_admin->workstations.empty());

  // Errors.
  auto unknown = d.show("no-such-host", "");
  REQUIRE_FALSE(unknown.ok());
  CHECK(unknown.error().code == Errc::not_found);
  auto both = d.show("ws-2", kJean);
  REQUIRE_FALSE(both.ok());
  CHECK(both.error().code == Errc::bad_request);
  auto neither = d.show("", "");
  REQUIRE_FALSE(neither.ok());
  CHECK(neither.error().code == Errc::bad_request);
  auto nobody = d.show("", "nobody@example.com");
  REQUIRE_FALSE(nobody.ok());
  CHECK(nobody.error().code == Errc::not_found);
  d.h.finish();
}

TEST_CASE("directory devices: workstations-bind and -unbind change the admin binding once, audited (RL-11)",
          "[directory][devices][RL-11]") {
  Devices d;
  auto bound = d.change(proto::op::workstations_bind, d.ws2_id, kJean);
  REQUIRE(bound.ok());
  CHECK(bound->changed);
  CHECK(bound->name == "ws-2");
  auto again = d.change(proto::op::workstations_bind, "ws-2", kJean);
  REQUIRE(again.ok());
  CHECK_FALSE(again->changed);
  CHECK(d.audited("workstation-bind", d.jean.id) == 1);

  auto unbound = d.change(proto::op::workstations_unbind, "ws-2", kJean);
  REQUIRE(unbound.ok());
  CHECK(unbound->changed);
  auto not_bound = d.change(proto::op::workstations_unbind, "ws-2", kJean);
  REQUIRE(not_bound.ok());
  CHECK_FALSE(not_bound->changed);
  CHECK(d.audited("workstation-unbind", d.jean.id) == 1);

  // Unbound: ws-2's holdings for jean are refused again.
  proto::RegisterRequest reg;
  reg.port = 9443;
  reg.holdings = {{d.jean.id, 1}};
  auto registered = rpc<proto::RegisterResult>(*d.ws2, proto::op::register_holdings, reg);
  REQUIRE(registered.ok());
  CHECK(registered->refused.size() == 1);

  auto no_user = d.change(proto::op::workstations_bind, "ws-2", "nobody@example.com");
  REQUIRE_FALSE(no_user.ok());
  CHECK(no_user.error().code == Errc::not_found);
  auto no_ws = d.change(proto::op::workstations_bind, "nowhere", kJean);
  REQUIRE_FALSE(no_ws.ok());
  CHECK(no_ws.error().code == Errc::not_found);
  auto no_email = d.change(proto::op::workstations_bind, "ws-2", "");
  REQUIRE_FALSE(no_email.ok());
  CHECK(no_email.error().code == Errc::bad_request);
  d.h.finish();
}

TEST_CASE("directory devices: a deregistered workstation's holdings no longer lead a badge-in to it (RL-11, "
          "TS-15)",
          "[directory][devices][RL-11][TS-15]") {
  Devices d;
  REQUIRE(d.change(proto::op::workstations_bind, "ws-2", kJean).ok());
  d.hold(2);
  REQUIRE(d.h.admin().badge_add("B-42", kJean, wall_ms(), "test").ok());
  auto [printer, printer_id] = d.h.enrolled("lobby", EnrollKind::printer, proto::role::printer);
  (void)printer_id;
  proto::BadgeInRequest badge;
  badge.badge = "B-42";
  auto before = rpc<proto::BadgeInResult>(*printer, proto::op::badge_in, badge);
  REQUIRE(before.ok());
  REQUIRE(before->workstations.size() == 1);
  CHECK(before->workstations[0].id == d.ws2_id);

  auto gone = d.change(proto::op::workstations_deregister, "ws-2", "");
  REQUIRE(gone.ok());
  CHECK(gone->id == d.ws2_id);
  CHECK(d.audited("revoke", d.ws2_id) == 1);

  auto after = rpc<proto::BadgeInResult>(*printer, proto::op::badge_in, badge);
  REQUIRE(after.ok());
  CHECK(after->workstations.empty());
  auto listed = d.list();
  REQUIRE(listed.ok());
  CHECK(entry_named(*listed, "ws-2") == nullptr);
  auto twice = d.change(proto::op::workstations_deregister, d.ws2_id, "");
  REQUIRE_FALSE(twice.ok());
  CHECK(twice.error().code == Errc::not_found);
  d.h.finish();
}

TEST_CASE("directory devices: tokens-create answers a token that enrolls its kind, printers-list and "
          "printers-revoke",
          "[directory][devices][RL-11]") {
  Devices d;
  auto token = rpc<proto::TokensCreateResult>(*d.ws, proto::op::tokens_create,
                                              proto::TokensCreateRequest{d.admin_session, "printer", 2, 1});
  REQUIRE(token.ok());
  CHECK(token->token.size() == 32);
  CHECK(token->kind == "printer");
  CHECK(token->uses == 2);
  CHECK(token->expires_ms > wall_ms());
  CHECK(token->id == token_hash(token->token).substr(0, 16));
  CHECK(token->directory_fingerprint == d.h.service().fingerprint());
  CHECK(token->directory_address == "127.0.0.1:" + std::to_string(d.h.port()));
  CHECK(d.audited("token-create", "kind printer") == 1);
  SyncClient &printer = d.h.connect(d.h.identity("p-1"), proto::role::printer);
  REQUIRE(d.h.enroll(printer, EnrollKind::printer, token->token, "lobby").ok());

  auto bad_kind = rpc<proto::TokensCreateResult>(*d.ws, proto::op::tokens_create,
                                                 proto::TokensCreateRequest{d.admin_session, "toaster", 1, 1});
  REQUIRE_FALSE(bad_kind.ok());
  CHECK(bad_kind.error().code == Errc::bad_request);
  auto no_uses = rpc<proto::TokensCreateResult>(*d.ws, proto::op::tokens_create,
                                                proto::TokensCreateRequest{d.admin_session, "printer", 0, 1});
  REQUIRE_FALSE(no_uses.ok());
  CHECK(no_uses.error().code == Errc::bad_request);

  auto printers = rpc<proto::PrintersListResult>(*d.ws, proto::op::printers_list,
                                                 proto::SessionRequest{d.admin_session});
  REQUIRE(printers.ok());
  REQUIRE(printers->printers.size() == 1);
  CHECK(printers->printers[0].name == "lobby");
  CHECK_FALSE(printers->printers[0].fingerprint.empty());

  auto revoked = rpc<proto::BatchResult>(*d.ws, proto::op::printers_revoke,
                                         proto::PrintersRevokeRequest{d.admin_session, {"lobby", "ws-2", "gone"}});
  REQUIRE(revoked.ok());
  REQUIRE(revoked->items.size() == 3);
  CHECK(revoked->items[0].result == "revoked");
  CHECK(revoked->items[1].result == "failed"); // a workstation is not a printer
  CHECK(revoked->items[2].result == "failed");
  auto none = rpc<proto::PrintersListResult>(*d.ws, proto::op::printers_list, proto::SessionRequest{d.admin_session});
  REQUIRE(none.ok());
  CHECK(none->printers.empty());
  d.h.finish();
}

TEST_CASE("directory devices: tokens-list shows ids and uses, never texts, tokens-revoke stops a token, once",
          "[directory][devices][tokens]") {
  Devices d;
  auto created = rpc<proto::TokensCreateResult>(*d.ws, proto::op::tokens_create,
                                                proto::TokensCreateRequest{d.admin_session, "workstation", 5, 2});
  REQUIRE(created.ok());
  auto listed = rpc<proto::TokensListResult>(*d.ws, proto::op::tokens_list,
                                             proto::TokensListRequest{d.admin_session, false});
  REQUIRE(listed.ok());
  auto mine = std::find_if(listed->tokens.begin(), listed->tokens.end(),
                           [&](const proto::TokenEntry &t) { return t.id == created->id; });
  REQUIRE(mine != listed->tokens.end());
  CHECK(mine->kind == "workstation");
  CHECK(mine->uses == 5);
  CHECK(mine->uses_left == 5);
  CHECK(mine->revoked_ms == 0);
  CHECK(mine->created_by.find("admin@example.com") != std::string::npos);

  auto revoked = rpc<proto::BatchResult>(*d.ws, proto::op::tokens_revoke,
                                         proto::TokensRevokeRequest{d.admin_session, {created->id, "0123456789abcdef"}});
  REQUIRE(revoked.ok());
  REQUIRE(revoked->items.size() == 2);
  CHECK(revoked->items[0].result == "revoked");
  CHECK(revoked->items[1].result == "failed");
  CHECK(revoked->items[1].reason.find("no enrollment token") != std::string::npos);
  CHECK(d.audited("token-revoke", created->id) == 1);
  auto again = rpc<proto::BatchResult>(*d.ws, proto::op::tokens_revoke,
                                       proto::TokensRevokeRequest{d.admin_session, {created->token}});
  REQUIRE(again.ok());
  CHECK(again->items[0].reason.find("already revoked") != std::string::npos);
  auto usable = rpc<proto::TokensListResult>(*d.ws, proto::op::tokens_list,
                                             proto::TokensListRequest{d.admin_session, false});
  REQUIRE(usable.ok());
  CHECK(std::none_of(usable->tokens.begin(), usable->tokens.end(),
                     [&](const proto::TokenEntry &t) { return t.id == created->id; }));
  SyncClient &ws = d.h.connect(d.h.identity("late"), proto::role::agent);
  auto refused = d.h.enroll(ws, EnrollKind::workstation, created->token, "late");
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code == Errc::forbidden);
  d.h.finish();
}

TEST_CASE("directory devices: the retention policy is saved whole and only from the list of durations (RT-1, "
          "RT-2, AMB-19)",
          "[directory][devices][RT-1][RT-2][AMB-19]") {
  Devices d;
  auto initial = rpc<proto::RetentionPolicyResult>(*d.ws, proto::op::retention_show,
                                                   proto::SessionRequest{d.admin_session});
  REQUIRE(initial.ok());
  CHECK(initial->released_hours == 0); // no enterprise limit until an administrator sets one
  CHECK(initial->unreleased_hours == 0);
  auto set = rpc<proto::RetentionPolicyResult>(*d.ws, proto::op::retention_set,
                                               proto::RetentionSetRequest{d.admin_session, 48, 8});
  REQUIRE(set.ok());
  CHECK(d.audited("retention-set", "released_hours 48 unreleased_hours 8") == 1);
  auto off_list = rpc<proto::RetentionPolicyResult>(*d.ws, proto::op::retention_set,
                                                    proto::RetentionSetRequest{d.admin_session, 5, 8});
  REQUIRE_FALSE(off_list.ok());
  CHECK(off_list.error().code == Errc::bad_request);
  CHECK(off_list.error().message.find("released_hours must be one of") != std::string::npos);
  auto shown = rpc<proto::RetentionPolicyResult>(*d.ws, proto::op::retention_show,
                                                 proto::SessionRequest{d.admin_session});
  REQUIRE(shown.ok());
  CHECK(shown->released_hours == 48); // the refused change touched nothing
  CHECK(shown->unreleased_hours == 8);
  // Agents get it with their register replies.
  auto [agent, agent_id] = d.h.enrolled("ws-retention", EnrollKind::workstation, proto::role::agent);
  proto::RegisterRequest reg;
  reg.port = 9443;
  auto registered = rpc<proto::RegisterResult>(*agent, proto::op::register_holdings, reg);
  REQUIRE(registered.ok());
  CHECK(registered->retention_released_hours == 48);
  CHECK(registered->retention_unreleased_hours == 8);
  (void)agent_id;
  d.h.finish();
}

TEST_CASE("directory devices: the role matrix of the workstation, token, printer and retention ops, and no "
          "credentials (RL-8, RL-11, RL-12, AMB-19)",
          "[directory][devices][RL-8][RL-11][RL-12][AMB-19]") {
  Devices d;
  enum Column { any, read, manage, devices, retention };
  struct Who {
    const char *email;
    Role role;
    std::set<Column> may;
  };
  const Who people[] = {
      {"user@example.com", Role::prm_user, {any}},
      {"prm-helpdesk@example.com", Role::prm_helpdesk, {any, read}},
      {"spm-helpdesk@example.com", Role::spm_helpdesk, {any, read}},
      {"pm-admin@example.com", Role::prm_administrator, {any, read, retention}},
      {"spm-admin@example.com", Role::spm_administrator, {any, read, manage}},
      {"ent-admin@example.com", Role::enterprise_administrator, {any, read, manage, devices, retention}},
  };
  auto status = [](auto result) -> Status { return result.ok() ? Status{} : Status(result.error()); };
  using Run = std::function<Status(SyncClient &, const std::string &, const std::string &)>;
  struct Op {
    const char *name;
    Column needs;
    Run run;
  };
  const std::vector<Op> ops = {
      {proto::op::workstations_list, read,
       [&](SyncClient &c, const std::string &s, const std::string &) {
         return status(rpc<proto::WorkstationsResult>(c, proto::op::workstations_list, proto::SessionRequest{s}));
       }},
      {proto::op::workstations_show, read,
       [&](SyncClient &c, const std::string &s, const std::string &) {
         return status(rpc<proto::WorkstationsResult>(c, proto::op::workstations_show,
                                                      proto::WorkstationsShowRequest{s, "", kJean}));
       }},
      {proto::op::workstations_bind, manage,
       [&](SyncClient &c, const std::string &s, const std::string &) {
         return status(rpc<proto::WorkstationChangeResult>(c, proto::op::workstations_bind,
                                                           proto::WorkstationChangeRequest{s, "ws-2", kJean}));
       }},
      {proto::op::workstations_unbind, manage,
       [&](SyncClient &c, const std::string &s, const std::string &) {
         return status(rpc<proto::WorkstationChangeResult>(c, proto::op::workstations_unbind,
                                                           proto::WorkstationChangeRequest{s, "ws-2", kJean}));
       }},
      {proto::op::workstations_deregister, manage,
       [&](SyncClient &c, const std::string &s, const std::string &n) {
         d.h.enrolled("dereg-" + n, EnrollKind::workstation, proto::role::agent);
         return status(rpc<proto::WorkstationChangeResult>(c, proto::op::workstations_deregister,
                                                           proto::WorkstationChangeRequest{s, "dereg-" + n, ""}));
       }},
      {"tokens-create (workstation)", manage,
       [&](SyncClient &c, const std::string &s, const std::string &) {
         return status(rpc<proto::TokensCreateResult>(c, proto::op::tokens_create,
                                                      proto::TokensCreateRequest{s, "workstation", 1, 1}));
       }},
      {proto::op::tokens_create, devices,
       [&](SyncClient &c, const std::string &s, const std::string &) {
         return status(rpc<proto::TokensCreateResult>(c, proto::op::tokens_create,
                                                      proto::TokensCreateRequest{s, "printer", 1, 1}));
       }},
      {proto::op::tokens_list, manage,
       [&](SyncClient &c, const std::string &s, const std::string &) {
         return status(rpc<proto::TokensListResult>(c, proto::op::tokens_list, proto::TokensListRequest{s, true}));
       }},
      {"tokens-revoke (workstation)", manage,
       [&](SyncClient &c, const std::string &s, const std::string &) {
         auto revoked = rpc<proto::BatchResult>(c, proto::op::tokens_revoke,
                                                proto::TokensRevokeRequest{s, {d.h.token(EnrollKind::workstation)}});
         if (!revoked.ok()) return Status(revoked.error());
         if (revoked->items.at(0).result == "revoked") return Status{};
         return Status(make_error(revoked->items[0].reason.find("needs the permission") != std::string::npos
                                      ? Errc::forbidden
                                      : Errc::internal,
                                  revoked->items[0].reason));
       }},
      {proto::op::tokens_revoke, devices,
       [&](SyncClient &c, const std::string &s, const std::string &) {
         auto revoked = rpc<proto::BatchResult>(c, proto::op::tokens_revoke,
                                                proto::TokensRevokeRequest{s, {d.h.token(EnrollKind::printer)}});
         if (!revoked.ok()) return Status(revoked.error());
         if (revoked->items.at(0).result == "revoked") return Status{};
         return Status(make_error(revoked->items[0].reason.find("needs the permission") != std::string::npos
                                      ? Errc::forbidden
                                      : Errc::internal,
                                  revoked->items[0].reason));
       }},
      {proto::op::retention_show, any,
       [&](SyncClient &c, const std::string &s, const std::string &) {
         return status(rpc<proto::RetentionPolicyResult>(c, proto::op::retention_show, proto::SessionRequest{s}));
       }},
      {proto::op::retention_set, retention,
       [&](SyncClient &c, const std::string &s, const std::string &) {
         return status(rpc<proto::RetentionPolicyResult>(c, proto::op::retention_set,
                                                         proto::RetentionSetRequest{s, 48, 24}));
       }},
      {proto::op::printers_list, devices,
       [&](SyncClient &c, const std::string &s, const std::string &) {
         return status(rpc<proto::PrintersListResult>(c, proto::op::printers_list, proto::SessionRequest{s}));
       }},
      {proto::op::printers_revoke, devices,
       [&](SyncClient &c, const std::string &s, const std::string &n) {
         d.h.enrolled("printer-" + n, EnrollKind::printer, proto::role::printer);
         auto r = rpc<proto::BatchResult>(c, proto::op::printers_revoke,
                                          proto::PrintersRevokeRequest{s, {"printer-" + n}});
         if (!r.ok()) return Status(r.error());
         if (r->items.size() != 1 || r->items[0].result != "revoked")
           return Status(make_error(Errc::internal, "not revoked: " + r->items.at(0).reason));
         return Status{};
       }},
  };

  for (const Who &who : people) {
    d.user(who.email, {who.role});
    std::string session = d.People::session(who.email);
    std::string n = std::string(who.email).substr(0, std::string(who.email).find('@'));
    for (const Op &op : ops) {
      INFO(who.email << " " << op.name);
      Status s = op.run(*d.ws, session, n);
      if (who.may.count(op.needs)) {
        INFO((s.ok() ? std::string() : s.error().to_string()));
        CHECK(s.ok());
      } else {
        REQUIRE_FALSE(s.ok());
        CHECK(s.error().code == Errc::forbidden);
      }
    }
  }
  // Refused deregistrations left the workstations enrolled.
  auto listed = d.h.admin().workstations_list();
  REQUIRE(listed.ok());
  CHECK(std::count_if(listed->begin(), listed->end(),
                      [](const WorkstationInfo &w) { return w.name == "dereg-prm-helpdesk"; }) == 1);

  for (const std::string &bad : {std::string(), std::string("not-a-session")}) {
    for (const Op &op : ops) {
      INFO(op.name << " with session \"" << bad << "\"");
      Status s = op.run(*d.ws, bad, "anonymous" + std::to_string(bad.size()));
      REQUIRE_FALSE(s.ok());
      CHECK(s.error().code == Errc::unauthenticated);
    }
  }
  d.h.finish();
}
