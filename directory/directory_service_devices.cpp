// The directory's person ops for workstations, enrollment tokens and printers (docs/protocol.md
// §5.1.1): the helpdesk view of who has jobs held where (RL-12: counts and hosts, never titles),
// binding users to workstations, deregistering one, enrollment tokens, and the release stations'
// keys. Each op checks the caller's session and one Permission (roles.h) with Core::person and
// is audited with that person as the actor; look-ups are audited too (issue 4: "helpdesk look-up").
#include <algorithm>

#include "directory_service_private.h"
#include "lpm/ids.h"
#include "lpm/log.h"

namespace lpm::directory {
namespace {

constexpr int64_t kHourMs = 3600 * 1000;

// The workstation an administrator names by id or by name; a name two share is a conflict.
Result<WorkstationInfo> workstation_named(DirectoryStore &store, const std::string &text) {
  auto listed = store.workstations_list();
  if (!listed.ok()) return listed.error();
  const WorkstationInfo *found = nullptr;
  for (const auto &w : *listed)
    if (w.id == text || w.name == text) {
      if (found && w.id != text)
        return make_error(Errc::conflict,
                          "several workstations are named \"" + text + "\": give its id (lpm workstations list)");
      found = &w;
      if (w.id == text) break;
    }
  if (!found) return make_error(Errc::not_found, "no enrolled workstation has the id or name \"" + text + "\"");
  return *found;
}

// The e-mail of a bound_users entry, "a@b.c (login)".
std::string bound_email(const std::string &bound) {
  return bound.substr(0, bound.rfind(" ("));
}

// The workstation with, per bound user, the jobs it holds for them under a live lease. Holdings
// are taken only for bound users, so these are every holder.
Result<proto::WorkstationEntry> workstation_entry(DirectoryStore &store, const WorkstationInfo &w, int64_t now) {
  proto::WorkstationEntry e{w.id, w.name, w.seen_address, w.last_seen_ms, w.held_jobs, w.bound_users, {}};
  if (e.bound_users.size() > proto::kMaxBoundListed) e.bound_users.resize(proto::kMaxBoundListed);
  std::vector<std::string> emails;
  for (const auto &b : w.bound_users)
    emails.push_back(bound_email(b));
  std::sort(emails.begin(), emails.end());
  emails.erase(std::unique(emails.begin(), emails.end()), emails.end());
  for (const auto &email : emails) {
    if (e.held.size() == proto::kMaxBoundListed) break;
    auto user = store.user_by_email(email);
    if (!user.ok()) continue; // deleted since: its bindings went with it
    auto holders = store.holders_of(user->id, now);
    if (!holders.ok()) return holders.error();
    for (const auto &h : *holders)
      if (h.id == w.id && h.jobs > 0) e.held.push_back(proto::WorkstationHeld{user->email, h.jobs});
  }
  std::stable_sort(e.held.begin(), e.held.end(),
                   [](const auto &a, const auto &b) { return a.jobs > b.jobs; });
  return e;
}

Status audit_one(DirectoryStore &store, const std::string &actor, const char *action, const std::string &detail) {
  auto tx = store.begin();
  if (!tx.begun().ok()) return tx.begun();
  Status s = store.audit(wall_ms(), actor, action, detail);
  if (s.ok()) s = tx.commit();
  return s;
}

// The enrolled printer an administrator names by id or name (not revoked).
Result<EnrolledEntry> printer_named(DirectoryStore &store, const std::string &text) {
  std::string after;
  std::optional<EnrolledEntry> found;
  for (;;) {
    auto page = store.enrolled_list(after, proto::kMaxPage);
    if (!page.ok()) return page.error();
    for (const auto &e : *page)
      if (e.kind == EnrollKind::printer && (e.id == text || e.name == text)) {
        if (found && e.id != text)
          return make_error(Errc::conflict,
                            "several printers are named \"" + text + "\": give its id (lpm printers list)");
        found = e;
      }
    if (page->size() < proto::kMaxPage) break;
    after = page->back().id;
  }
  if (!found) return make_error(Errc::not_found, "no enrolled printer has the id or name \"" + text + "\"");
  return *found;
}

} // namespace

void DirectoryService::Core::handle_workstations_list(const CallPtr &call) {
  proto::SessionRequest req;
  if (!read_args(call, req)) return;
  auto who = person(call, req.session, Permission::workstations_read);
  if (!who.ok()) return call->fail(who.error());
  auto listed = store->workstations_list();
  if (!listed.ok()) return call->fail(listed.error());
  int64_t now = wall_ms();
  proto::WorkstationsResult result;
  for (const auto &w : *listed) {
    if (result.workstations.size() == proto::kMaxWorkstationsListed) break;
    auto entry = workstation_entry(*store, w, now);
    if (!entry.ok()) return call->fail(entry.error());
    result.workstations.push_back(std::move(*entry));
  }
  if (Status s = audit_one(*store, who->actor, "helpdesk-lookup", "workstations"); !s.ok()) return call->fail(s.error());
  reply_with(call, result);
}

void DirectoryService::Core::handle_workstations_show(const CallPtr &call) {
  proto::WorkstationsShowRequest req;
  if (!read_args(call, req)) return;
  auto who = person(call, req.session, Permission::workstations_read);
  if (!who.ok()) return call->fail(who.error());
  int64_t now = wall_ms();
  proto::WorkstationsResult result;
  std::string detail;
  if (!req.workstation.empty()) {
    auto w = workstation_named(*store, req.workstation);
    if (!w.ok()) return call->fail(w.error());
    auto entry = workstation_entry(*store, *w, now);
    if (!entry.ok()) return call->fail(entry.error());
    result.workstations.push_back(std::move(*entry));
    detail = "workstation " + w->id;
  } else {
    // "Where are this user's jobs": the workstations holding them under a live lease.
    auto user = store->user_by_email(req.email);
    if (!user.ok()) return call->fail(user.error());
    auto holders = store->holders_of(user->id, now);
    if (!holders.ok()) return call->fail(holders.error());
    auto listed = store->workstations_list();
    if (!listed.ok()) return call->fail(listed.error());
    for (const auto &h : *holders)
      for (const auto &w : *listed)
        if (w.id == h.id) {
          auto entry = workstation_entry(*store, w, now);
          if (!entry.ok()) return call->fail(entry.error());
          result.workstations.push_back(std::move(*entry));
        }
    detail = "jobs of user " + user->id;
  }
  if (Status s = audit_one(*store, who->actor, "helpdesk-lookup", detail); !s.ok()) return call->fail(s.error());
  reply_with(call, result);
}

namespace {
void workstation_bind(DirectoryService::Core &core, const CallPtr &call, bool bind) {
  proto::WorkstationChangeRequest req;
  if (!read_args(call, req)) return;
  auto who = core.person(call, req.session, Permission::workstations_manage);
  if (!who.ok()) return call->fail(who.error());
  if (req.email.empty()) return call->fail(Errc::bad_request, "args.email is missing");
  DirectoryStore &store = *core.store;
  auto w = workstation_named(store, req.workstation);
  if (!w.ok()) return call->fail(w.error());
  auto user = store.user_by_email(req.email);
  if (!user.ok()) return call->fail(user.error());
  int64_t now = wall_ms();
  auto tx = store.begin();
  if (!tx.begun().ok()) return call->fail(tx.begun().error());
  bool changed = true;
  if (bind) {
    bool already = std::any_of(w->bound_users.begin(), w->bound_users.end(),
                               [&](const std::string &b) { return b == user->email + " (admin)"; });
    changed = !already;
    if (Status s = store.workstation_user_add(w->id, user->id, "admin", now); !s.ok()) return call->fail(s.error());
  } else {
    auto removed = store.workstation_user_remove(w->id, user->id, "admin");
    if (!removed.ok()) return call->fail(removed.error());
    changed = *removed;
  }
  Status s;
  if (changed)
    s = store.audit(now, who->actor, bind ? "workstation-bind" : "workstation-unbind",
                    "user " + user->id + " " + user->email + " workstation " + w->id);
  if (s.ok()) s = tx.commit();
  if (!s.ok()) return call->fail(s.error());
  if (changed)
    LPM_INFO("%s %s %s workstation %s by %s", bind ? "bound" : "unbound", user->email.c_str(), bind ? "to" : "from",
             w->id.c_str(), who->actor.c_str());
  reply_with(call, proto::WorkstationChangeResult{w->id, w->name, user->email, changed});
}
} // namespace

void DirectoryService::Core::handle_workstations_bind(const CallPtr &call) {
  workstation_bind(*this, call, true);
}
void DirectoryService::Core::handle_workstations_unbind(const CallPtr &call) {
  workstation_bind(*this, call, false);
}

void DirectoryService::Core::handle_workstations_deregister(const CallPtr &call) {
  proto::WorkstationChangeRequest req;
  if (!read_args(call, req)) return;
  auto who = person(call, req.session, Permission::workstations_manage);
  if (!who.ok()) return call->fail(who.error());
  auto w = workstation_named(*store, req.workstation);
  if (!w.ok()) return call->fail(w.error());
  // Its key stops working, and holders_of skips revoked keys: its holdings stop counting at once.
  if (Status s = store->revoke(w->id, wall_ms(), who->actor); !s.ok()) return call->fail(s.error());
  LPM_INFO("workstation %s (%s) deregistered by %s", w->id.c_str(), w->name.c_str(), who->actor.c_str());
  reply_with(call, proto::WorkstationChangeResult{w->id, w->name, "", true});
}

void DirectoryService::Core::handle_tokens_create(const CallPtr &call) {
  proto::TokensCreateRequest req;
  if (!read_args(call, req)) return;
  EnrollKind kind;
  if (!proto::enroll_kind_parse(req.kind, kind))
    return call->fail(Errc::bad_request, "args.kind must be workstation, printer, accounting or console");
  // Workstations are the serverless administrators' (RL-11); the other devices the enterprise's.
  auto who = person(call, req.session,
                    kind == EnrollKind::workstation ? Permission::workstations_manage : Permission::devices_manage);
  if (!who.ok()) return call->fail(who.error());
  int64_t now = wall_ms();
  int64_t expires = now + req.ttl_hours * kHourMs;
  auto token = store->token_create(kind, req.uses, expires, now, who->actor); // audited by the store
  if (!token.ok()) return call->fail(token.error());
  reply_with(call, proto::TokensCreateResult{*token, proto::enroll_kind_name(kind), req.uses, expires,
                                             token_hash(*token).substr(0, 16), keys.identity->fingerprint(),
                                             advertised_address});
}

void DirectoryService::Core::handle_tokens_list(const CallPtr &call) {
  proto::TokensListRequest req;
  if (!read_args(call, req)) return;
  // Workstation administrators see every kind: a token list holds no secrets, only ids and uses.
  auto who = person(call, req.session, Permission::workstations_manage);
  if (!who.ok()) return call->fail(who.error());
  auto tokens = store->tokens_list(req.all, wall_ms(), proto::kMaxTokensListed);
  if (!tokens.ok()) return call->fail(tokens.error());
  proto::TokensListResult result;
  for (const auto &t : *tokens)
    result.tokens.push_back(proto::TokenEntry{t.id, proto::enroll_kind_name(t.kind), t.uses, t.uses_left,
                                              t.created_ms, t.expires_ms, t.revoked_ms, t.actor});
  reply_with(call, result);
}

void DirectoryService::Core::handle_tokens_revoke(const CallPtr &call) {
  proto::TokensRevokeRequest req;
  if (!read_args(call, req)) return;
  auto who = person(call, req.session, std::nullopt);
  if (!who.ok()) return call->fail(who.error());
  proto::BatchResult result;
  for (const auto &key : req.tokens) {
    proto::ItemOutcome outcome{key, "revoked", ""};
    // Revoking follows creating: workstation tokens are the serverless administrators', the rest
    // the enterprise's. The kind is known only once the token is found.
    auto token = store->token_find(key);
    Status s = token.ok() ? Status{} : Status(token.error());
    if (s.ok()) {
      Permission needed =
          token->kind == EnrollKind::workstation ? Permission::workstations_manage : Permission::devices_manage;
      if (!roles_allow(who->roles, needed))
        s = make_error(Errc::forbidden, std::string("revoking a ") + proto::enroll_kind_name(token->kind) +
                                            " token needs the permission " + permission_name(needed));
    }
    if (s.ok()) {
      auto revoked = store->token_revoke(key, wall_ms(), who->actor);
      if (!revoked.ok()) s = revoked.error();
    }
    if (!s.ok()) {
      outcome.result = "failed";
      outcome.reason = s.error().message;
    }
    result.items.push_back(std::move(outcome));
  }
  reply_with(call, result);
}

void DirectoryService::Core::handle_printers_list(const CallPtr &call) {
  proto::SessionRequest req;
  if (!read_args(call, req)) return;
  auto who = person(call, req.session, Permission::devices_manage);
  if (!who.ok()) return call->fail(who.error());
  proto::PrintersListResult result;
  std::string after;
  for (;;) {
    auto page = store->enrolled_list(after, proto::kMaxPage);
    if (!page.ok()) return call->fail(page.error());
    for (const auto &e : *page)
      if (e.kind == EnrollKind::printer && result.printers.size() < proto::kMaxPrintersListed)
        result.printers.push_back(proto::PrinterEntry{e.id, e.name, e.fingerprint, e.enrolled_ms});
    if (page->size() < proto::kMaxPage) break;
    after = page->back().id;
  }
  reply_with(call, result);
}

void DirectoryService::Core::handle_printers_revoke(const CallPtr &call) {
  proto::PrintersRevokeRequest req;
  if (!read_args(call, req)) return;
  auto who = person(call, req.session, Permission::devices_manage);
  if (!who.ok()) return call->fail(who.error());
  proto::BatchResult result;
  // Each revocation commits on its own with its audit row (the store's), so one that fails never
  // undoes another (AMB-6).
  for (const auto &key : req.printers) {
    proto::ItemOutcome outcome{key, "revoked", ""};
    auto printer = printer_named(*store, key);
    Status s = printer.ok() ? store->revoke(printer->id, wall_ms(), who->actor) : Status(printer.error());
    if (!s.ok()) {
      outcome.result = "failed";
      outcome.reason = s.error().message;
    } else {
      LPM_INFO("printer %s (%s) revoked by %s", printer->id.c_str(), printer->name.c_str(), who->actor.c_str());
    }
    result.items.push_back(std::move(outcome));
  }
  reply_with(call, result);
}

} // namespace lpm::directory
