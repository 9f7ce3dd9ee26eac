// The directory's administrative ops for people (docs/protocol.md §5.1.1): users, badges, role
// grants, account groups, the password policy and the audit log. Each op checks the caller's
// session and one Permission (roles.h) with Core::person; every change commits in one transaction
// with its audit row, whose actor is that person. Batch ops give each item a transaction of its
// own, so one item that fails never undoes another (AMB-6), and answer an outcome per item.
#include <uv.h>

#include <cstdlib>
#include <cstring>

#include "directory_service_private.h"
#include "lpm/ids.h"
#include "lpm/log.h"
#include "passwords.h"

namespace lpm::directory {
namespace {

std::vector<proto::UserBadge> user_badges(const std::vector<Badge> &badges) {
  std::vector<proto::UserBadge> out;
  out.reserve(badges.size());
  for (const auto &b : badges)
    out.push_back(proto::UserBadge{b.badge, b.temporary, b.created_ms, b.expires_ms});
  return out;
}

const char *badge_kind(bool temporary) {
  return temporary ? "temporary" : "permanent";
}

std::string_view trim_spaces(std::string_view text) {
  constexpr std::string_view kSpaces = " \t\r\n\v\f";
  size_t first = text.find_first_not_of(kSpaces);
  if (first == std::string_view::npos) return {};
  return text.substr(first, text.find_last_not_of(kSpaces) - first + 1);
}


// Who a role grant names: the enterprise, a group (by name) or a user (by e-mail).

void role_change(DirectoryService::Core &core, const CallPtr &call, bool grant) {
  proto::RoleChangeRequest req;
  if (!read_args(call, req)) return;
  auto who = core.person(call, req.session, Permission::roles_write);
  if (!who.ok()) return call->fail(who.error());
  auto role = role_parse(req.role);
  if (!role.ok()) return call->fail(role.error());
  if (role_is_platform(*role))
    return call->fail(Errc::forbidden, std::string(role_name(*role)) +
                                           " is granted by the platform: lpm-directory role grant on the "
                                           "directory host (RL-15)");
  auto target = role_target(*core.store, req.scope, req.email, req.group);
  if (!target.ok()) return call->fail(target.error());
  int64_t now = wall_ms();
  auto tx = core.store->begin();
  if (!tx.begun().ok()) return call->fail(tx.begun().error());
  auto changed = grant ? role_grant(*core.store, target->scope, target->subject, *role, now)
                       : role_revoke(*core.store, target->scope, target->subject, *role);
  if (!changed.ok()) return call->fail(changed.error());
  std::string what = std::string(role_name(*role)) + " at " + role_scope_name(target->scope) + " scope" +
                     (target->subject_name.empty() ? "" : " to " + target->subject_name);
  Status s;
  if (*changed) s = core.store->audit(now, who->actor, grant ? "role-grant" : "role-revoke", what);
  if (s.ok()) s = tx.commit();
  if (!s.ok()) return call->fail(s.error());
  if (*changed) LPM_INFO("%s %s by %s", grant ? "granted" : "revoked", what.c_str(), who->actor.c_str());
  proto::RoleChangeResult result;
  result.role = role_name(*role);
  result.scope = role_scope_name(target->scope);
  result.subject = target->subject_name;
  result.changed = *changed;
  reply_with(call, result);
}

void members_change(DirectoryService::Core &core, const CallPtr &call, bool add) {
  proto::GroupMembersRequest req;
  if (!read_args(call, req)) return;
  auto who = core.person(call, req.session, Permission::users_write);
  if (!who.ok()) return call->fail(who.error());
  auto group = group_named(*core.store, req.name);
  if (!group.ok()) return call->fail(group.error());
  DirectoryStore &store = *core.store;
  const std::string group_text = "account group " + group->id + " \"" + group->name + "\"";
  int64_t now = wall_ms();
  auto result = each_item(store, req.emails, [&](const std::string &email, proto::ItemOutcome &o) -> Status {
    auto user = store.user_by_email(email);
    if (!user.ok()) return user.error();
    auto changed = add ? store.group_member_add(group->id, user->id, now)
                       : store.group_member_remove(group->id, user->id);
    if (!changed.ok()) return changed.error();
    if (!*changed) {
      o.result = "unchanged";
      o.reason = add ? "already a member" : "not a member";
      return {};
    }
    o.result = add ? "added" : "removed";
    return store.audit(now, who->actor, add ? "group-member-add" : "group-member-remove",
                       "user " + user->id + (add ? " to " : " from ") + group_text);
  });
  reply_with(call, result);
}

// users-add: hashing a password takes about 0.1 s and 64 MiB (Argon2id), so it runs on the
// libuv thread pool as a login's check does; the user is created back on the loop.
struct UserAddWork {
  uv_work_t req{};
  std::weak_ptr<DirectoryService::Core> core;
  CallPtr call;
  std::string actor;
  User fields;
  std::string password;
  Result<std::string> hash = std::string();
  UserAddWork() = default;
  UserAddWork(const UserAddWork &) = delete;
  UserAddWork &operator=(const UserAddWork &) = delete;
  ~UserAddWork() { ::explicit_bzero(password.data(), password.size()); }
};

// Creates the user with the password's hash, or without a password and with a password link
// (UA-4) e-mailed to them once committed, and answers.
void user_add_commit(DirectoryService::Core &core, const CallPtr &call, const std::string &actor,
                     const User &fields, const std::string &hash) {
  int64_t now = wall_ms();
  auto tx = core.store->begin();
  if (!tx.begun().ok()) return call->fail(tx.begun().error());
  auto user = core.store->user_create(fields, now);
  if (!user.ok()) return call->fail(user.error());
  Status s = core.store->audit(now, actor, "user-create", "user " + user->id + " " + user->email);
  std::optional<NewPasswordLink> link;
  if (s.ok() && !hash.empty()) {
    s = core.store->password_set(user->id, hash, now);
    if (s.ok()) s = core.store->audit(now, actor, "password-set", "user " + user->id);
    user->has_password = true;
  } else if (s.ok()) {
    auto issued = core.password_link_issue(*user, actor, now);
    if (issued.ok())
      link = std::move(*issued);
    else
      s = issued.error();
  }
  if (s.ok()) s = tx.commit();
  if (!s.ok()) return call->fail(s.error());
  LPM_INFO("user %s %s created by %s%s", user->id.c_str(), user->email.c_str(), actor.c_str(),
           hash.empty() ? " without a password (a password link is issued)" : "");
  proto::UsersAddResult result;
  result.user = user_entry(*user);
  if (link) {
    result.password_link = core.mail_command.empty() ? "unsent" : "mailing";
    core.password_link_mail(*user, std::move(*link), nullptr);
  }
  reply_with(call, result);
}

} // namespace

// ---------------------------------------------------------------------------------------------
// Users

void DirectoryService::Core::handle_users_show(const CallPtr &call) {
  proto::UsersShowRequest req;
  if (!read_args(call, req)) return;
  auto who = person(call, req.session, Permission::users_read);
  if (!who.ok()) return call->fail(who.error());
  auto user = store->user_by_email(req.email);
  if (!user.ok()) return call->fail(user.error());
  auto groups = store->groups_of(user->id);
  if (!groups.ok()) return call->fail(groups.error());
  auto badges = store->badges_of(user->id);
  if (!badges.ok()) return call->fail(badges.error());
  auto grants = role_grants(*store, RoleScope::user, user->id);
  if (!grants.ok()) return call->fail(grants.error());
  auto effective = effective_roles(*store, user->id);
  if (!effective.ok()) return call->fail(effective.error());
  proto::UsersShowResult result;
  result.user = user_entry(*user);
  result.groups = std::move(*groups);
  // What a reader takes (the list is for people; nobody reads a thousand group names).
  if (result.groups.size() > proto::kMaxGroupsOfUser) result.groups.resize(proto::kMaxGroupsOfUser);
  result.badges = user_badges(*badges);
  for (const auto &g : *grants)
    result.roles.push_back(role_name(g.role));
  result.effective_roles = effective->names();
  auto federated = store->user_federated(user->id);
  if (!federated.ok()) return call->fail(federated.error());
  result.federated = *federated;
  auto pin = store->pin_hash(user->id);
  if (!pin.ok()) return call->fail(pin.error());
  result.pin_set = !pin->empty();
  reply_with(call, result);
}

void DirectoryService::Core::handle_users_add(const CallPtr &call) {
  auto work = std::make_unique<UserAddWork>();
  proto::UsersAddRequest req;
  if (!read_args(call, req)) return;
  work->password = req.password;
  ::explicit_bzero(req.password.data(), req.password.size());
  auto who = person(call, req.session, Permission::users_write);
  if (!who.ok()) return call->fail(who.error());
  auto email = email_normalize(req.email);
  if (!email.ok()) return call->fail(email.error());
  // Refused before any hashing: an existing e-mail, a password the policy refuses (UA-3).
  auto existing = store->user_by_email(*email);
  if (existing.ok())
    return call->fail(Errc::conflict, "a user with the e-mail address " + *email + " already exists");
  if (existing.error().code != Errc::not_found) return call->fail(existing.error());
  work->fields.email = *email;
  work->fields.first_name = req.first_name;
  work->fields.last_name = req.last_name;
  work->fields.display_name = req.display_name;
  work->fields.short_name = req.short_name;
  work->fields.department = req.department;
  work->fields.cost_center = req.cost_center;
  if (work->password.empty()) return user_add_commit(*this, call, who->actor, work->fields, "");
  auto policy = store->password_policy();
  if (!policy.ok()) return call->fail(policy.error());
  Status acceptable = password_policy_check(*policy, work->password);
  if (!acceptable.ok()) return call->fail(acceptable.error());

  work->core = weak_from_this();
  work->call = call;
  work->actor = who->actor;
  work->req.data = work.get();
  int rc = uv_queue_work(
      loop, &work->req,
      [](uv_work_t *queued) {
        auto *w = static_cast<UserAddWork *>(queued->data);
        w->hash = password_hash(w->password, argon2_params_default());
      },
      [](uv_work_t *queued, int status) {
        std::unique_ptr<UserAddWork> w(static_cast<UserAddWork *>(queued->data));
        auto core = w->core.lock();
        if (!core || core->stopped || status != 0)
          return w->call->fail(Errc::unavailable, "the directory is shutting down");
        if (!w->hash.ok()) return w->call->fail(w->hash.error());
        user_add_commit(*core, w->call, w->actor, w->fields, *w->hash);
      });
  if (rc != 0)
    return call->fail(Errc::internal, std::string("cannot queue the password hashing: ") + uv_strerror(rc));
  work.release(); // owned by the queued request until its after-work callback
}

void DirectoryService::Core::handle_users_delete(const CallPtr &call) {
  proto::UsersDeleteRequest req;
  if (!read_args(call, req)) return;
  auto who = person(call, req.session, Permission::users_write);
  if (!who.ok()) return call->fail(who.error());
  DirectoryStore &s = *store;
  int64_t now = wall_ms();
  auto result = each_item(s, req.emails, [&](const std::string &email, proto::ItemOutcome &o) -> Status {
    auto user = s.user_by_email(email);
    if (!user.ok()) return user.error();
    // An administrator who deleted themselves would lose the session doing it; another does it.
    if (user->id == who->user.id)
      return make_error(Errc::forbidden, "you cannot delete your own user: ask another administrator");
    // UA-6, AMB-6: the user's badges, memberships, role grants, holdings and logins go with them.
    Status deleted = s.user_delete(user->id);
    if (!deleted.ok()) return deleted;
    o.result = "deleted";
    LPM_INFO("user %s %s deleted by %s", user->id.c_str(), user->email.c_str(), who->actor.c_str());
    return s.audit(now, who->actor, "user-delete", "user " + user->id + " " + user->email);
  });
  reply_with(call, result);
}

// ---------------------------------------------------------------------------------------------
// Badges

void DirectoryService::Core::handle_badges_add(const CallPtr &call) {
  proto::BadgesAddRequest req;
  if (!read_args(call, req)) return;
  auto who = person(call, req.session, Permission::badges_write);
  if (!who.ok()) return call->fail(who.error());
  // Normalised as a badge-in will be (AMB-15), so the stored id is the one readers deliver (TS-3).
  auto badge = badge_normalize(req.badge, store->badge_rules());
  if (!badge.ok()) return call->fail(badge.error());
  auto user = store->user_by_email(req.email);
  if (!user.ok()) return call->fail(user.error());
  int64_t now = wall_ms();
  auto tx = store->begin();
  if (!tx.begun().ok()) return call->fail(tx.begun().error());
  auto held = store->badge_find(*badge);
  if (held.ok() && held->user_id == user->id && !held->temporary && !req.temporary)
    return call->fail(Errc::conflict, "the badge is already " + user->email + "'s permanent badge");
  // A conflict names no owner: badges-find tells who holds it to those who may read users.
  auto replaced = store->badge_assign(*badge, user->id, req.temporary, now);
  if (!replaced.ok()) return call->fail(replaced.error());
  // The badge id identifies a person at a printer: the audit names the user only.
  std::string detail = std::string(badge_kind(req.temporary)) + " badge of user " + user->id;
  if (!replaced->empty())
    detail += " (replaces the previous " + std::string(badge_kind(req.temporary)) + " badge)";
  Status s = store->audit(now, who->actor, "badge-add", detail);
  if (s.ok()) s = tx.commit();
  if (!s.ok()) return call->fail(s.error());
  proto::BadgesAddResult result;
  result.badge = *badge;
  result.email = user->email;
  result.temporary = req.temporary;
  result.expires_ms = req.temporary ? now + kTemporaryBadgeMs : 0;
  result.replaced = *replaced;
  reply_with(call, result);
}

void DirectoryService::Core::handle_badges_delete(const CallPtr &call) {
  proto::BadgesDeleteRequest req;
  if (!read_args(call, req)) return;
  auto who = person(call, req.session, Permission::badges_write);
  if (!who.ok()) return call->fail(who.error());
  DirectoryStore &s = *store;
  BadgeRules rules = s.badge_rules();
  int64_t now = wall_ms();
  auto result = each_item(s, req.badges, [&](const std::string &given, proto::ItemOutcome &o) -> Status {
    auto badge = badge_normalize(given, rules);
    if (!badge.ok()) return badge.error();
    auto held = s.badge_find(*badge);
    if (!held.ok()) return held.error();
    Status deleted = s.badge_delete(held->badge);
    if (!deleted.ok()) return deleted;
    o.result = "deleted";
    return s.audit(now, who->actor, "badge-delete",
                   std::string(badge_kind(held->temporary)) + " badge of user " + held->user_id);
  });
  reply_with(call, result);
}

void DirectoryService::Core::handle_badges_find(const CallPtr &call) {
  proto::BadgesFindRequest req;
  if (!read_args(call, req)) return;
  auto who = person(call, req.session, Permission::users_read);
  if (!who.ok()) return call->fail(who.error());
  std::string query(trim_spaces(req.query));
  if (query.empty())
    return call->fail(Errc::bad_request, "give a complete e-mail address or a complete badge id");
  proto::BadgesFindResult result;
  // TS-4: only a complete e-mail or a complete badge id matches; nothing is searched by part.
  if (query.find('@') != std::string::npos) {
    auto user = store->user_by_email(query);
    if (user.ok()) {
      auto badges = store->badges_of(user->id);
      if (!badges.ok()) return call->fail(badges.error());
      result.user = user->id;
      result.email = user->email;
      result.badges = user_badges(*badges);
      return reply_with(call, result);
    }
    if (user.error().code != Errc::not_found && user.error().code != Errc::bad_request)
      return call->fail(user.error());
  }
  // Not a user's e-mail: perhaps a badge id (readers may deliver almost anything, AMB-15).
  auto badge = badge_normalize(query, store->badge_rules());
  Result<Badge> held = badge.ok() ? store->badge_find(*badge) : Result<Badge>(badge.error());
  if (!held.ok()) {
    if (held.error().code == Errc::not_found || held.error().code == Errc::bad_request)
      return call->fail(Errc::not_found, "no user has the e-mail address and no badge has the id \"" + query +
                                             "\" (a search takes a complete e-mail or badge id, BD-6)");
    return call->fail(held.error());
  }
  auto owner = store->user_by_id(held->user_id);
  if (!owner.ok()) return call->fail(owner.error());
  result.user = owner->id;
  result.email = owner->email;
  result.badges = user_badges({*held});
  reply_with(call, result);
}

// ---------------------------------------------------------------------------------------------
// Roles

void DirectoryService::Core::handle_roles_grant(const CallPtr &call) {
  role_change(*this, call, true);
}

void DirectoryService::Core::handle_roles_revoke(const CallPtr &call) {
  role_change(*this, call, false);
}

void DirectoryService::Core::handle_roles_list(const CallPtr &call) {
  proto::RolesListRequest req;
  if (!read_args(call, req)) return;
  auto who = person(call, req.session, Permission::users_read);
  if (!who.ok()) return call->fail(who.error());
  std::optional<RoleScope> scope;
  std::string subject;
  if (!req.scope.empty()) {
    auto target = role_target(*store, req.scope, req.email, req.group);
    if (!target.ok()) return call->fail(target.error());
    scope = target->scope;
    subject = target->subject;
  } else if (!req.email.empty() || !req.group.empty()) {
    return call->fail(Errc::bad_request, "an e-mail or a group needs its scope (user or group)");
  }
  auto grants = role_grants(*store, scope, subject);
  if (!grants.ok()) return call->fail(grants.error());
  if (grants->size() > proto::kMaxGrantsListed)
    return call->fail(Errc::too_large, "there are " + std::to_string(grants->size()) +
                                           " role grants, over the " +
                                           std::to_string(proto::kMaxGrantsListed) +
                                           " one answer holds: list one scope and subject at a time");
  proto::RolesListResult result;
  result.grants.reserve(grants->size());
  for (const auto &g : *grants)
    result.grants.push_back(proto::RoleGrantEntry{role_scope_name(g.scope), g.subject_name, role_name(g.role),
                                                  role_alias(g.role), g.granted_ms});
  reply_with(call, result);
}

void DirectoryService::Core::handle_roles_describe(const CallPtr &call) {
  proto::SessionRequest req;
  if (!read_args(call, req)) return;
  // RL-2: what each role is for, shown to anyone signed in.
  auto who = person(call, req.session, std::nullopt);
  if (!who.ok()) return call->fail(who.error());
  proto::RolesDescribeResult result;
  for (Role role : kRoles)
    result.roles.push_back(
        proto::RoleInfo{role_name(role), role_alias(role), role_description(role), role_is_platform(role)});
  reply_with(call, result);
}

// ---------------------------------------------------------------------------------------------
// Account groups

void DirectoryService::Core::handle_groups_create(const CallPtr &call) {
  proto::GroupsCreateRequest req;
  if (!read_args(call, req)) return;
  auto who = person(call, req.session, Permission::users_write);
  if (!who.ok()) return call->fail(who.error());
  auto name = group_name_sanitize(req.name);
  if (!name.ok()) return call->fail(name.error());
  // AMB-8: a name the sanitising changed is said in the answer and logged.
  std::string asked(trim_spaces(req.name));
  std::string renamed = *name == asked ? "" : asked;
  int64_t now = wall_ms();
  auto tx = store->begin();
  if (!tx.begun().ok()) return call->fail(tx.begun().error());
  auto group = store->group_create(*name, now);
  if (!group.ok()) return call->fail(group.error());
  Status s = store->audit(now, who->actor, "group-create",
                          "account group " + group->id + " \"" + group->name + "\"" +
                              (renamed.empty() ? "" : " (renamed from \"" + renamed + "\", AMB-8)"));
  if (s.ok()) s = tx.commit();
  if (!s.ok()) return call->fail(s.error());
  proto::GroupsCreateResult result;
  result.id = group->id;
  result.name = group->name;
  result.renamed_from = renamed;
  reply_with(call, result);
}

void DirectoryService::Core::handle_groups_delete(const CallPtr &call) {
  proto::GroupsDeleteRequest req;
  if (!read_args(call, req)) return;
  auto who = person(call, req.session, Permission::users_write);
  if (!who.ok()) return call->fail(who.error());
  DirectoryStore &s = *store;
  int64_t now = wall_ms();
  auto result = each_item(s, req.names, [&](const std::string &name, proto::ItemOutcome &o) -> Status {
    auto group = group_named(s, name);
    if (!group.ok()) return group.error();
    // GR-3: memberships and the group's role grants go; no user is deleted.
    auto memberships = s.group_delete(group->id);
    if (!memberships.ok()) return memberships.error();
    o.result = "deleted";
    o.reason =
        std::to_string(*memberships) + (*memberships == 1 ? " membership" : " memberships") + " removed";
    return s.audit(now, who->actor, "group-delete",
                   "account group " + group->id + " \"" + group->name + "\", " + o.reason);
  });
  reply_with(call, result);
}

void DirectoryService::Core::handle_groups_add_members(const CallPtr &call) {
  members_change(*this, call, true);
}

void DirectoryService::Core::handle_groups_remove_members(const CallPtr &call) {
  members_change(*this, call, false);
}

void DirectoryService::Core::handle_groups_list(const CallPtr &call) {
  proto::GroupsListRequest req;
  if (!read_args(call, req)) return;
  auto who = person(call, req.session, Permission::users_read);
  if (!who.ok()) return call->fail(who.error());
  auto groups = store->groups_list(req.after, req.limit + 1);
  if (!groups.ok()) return call->fail(groups.error());
  proto::GroupsListResult result;
  for (const auto &g : *groups) {
    if (result.groups.size() == req.limit) {
      result.next = result.groups.back().name;
      break;
    }
    result.groups.push_back(
        proto::GroupEntry{g.group.id, g.group.name, static_cast<uint64_t>(g.members), g.group.created_ms});
  }
  reply_with(call, result);
}

// ---------------------------------------------------------------------------------------------
// Password policy (UA-3)

namespace {
proto::PasswordPolicyResult policy_result(const PasswordPolicy &policy) {
  return proto::PasswordPolicyResult{policy.min_length, policy.complexity, policy.history};
}
} // namespace

void DirectoryService::Core::handle_password_policy_show(const CallPtr &call) {
  proto::SessionRequest req;
  if (!read_args(call, req)) return;
  auto who = person(call, req.session, Permission::users_read);
  if (!who.ok()) return call->fail(who.error());
  auto policy = store->password_policy();
  if (!policy.ok()) return call->fail(policy.error());
  reply_with(call, policy_result(*policy));
}

void DirectoryService::Core::handle_password_policy_set(const CallPtr &call) {
  proto::PasswordPolicySetRequest req;
  if (!read_args(call, req)) return;
  auto who = person(call, req.session, Permission::users_write);
  if (!who.ok()) return call->fail(who.error());
  PasswordPolicy policy{req.min_length, req.complexity, req.history};
  // UA-3: the three values are saved together, in one update.
  auto tx = store->begin();
  Status s = tx.begun();
  if (s.ok()) s = store->password_policy_set(policy);
  if (s.ok())
    s = store->audit(wall_ms(), who->actor, "password-policy-set",
                     "min_length " + std::to_string(policy.min_length) + " complexity " +
                         std::to_string(policy.complexity) + " history " + std::to_string(policy.history));
  if (s.ok()) s = tx.commit();
  if (!s.ok()) return call->fail(s.error());
  auto saved = store->password_policy();
  if (!saved.ok()) return call->fail(saved.error());
  reply_with(call, policy_result(*saved));
}

// ---------------------------------------------------------------------------------------------
// Document retention (RT-1, RT-2, AMB-19)

namespace {
constexpr const char *kRetentionReleased = "retention.released_hours";
constexpr const char *kRetentionUnreleased = "retention.unreleased_hours";

Result<uint32_t> retention_hours(DirectoryStore &store, const char *name) {
  auto text = store.setting(name, "0");
  if (!text.ok()) return text.error();
  char *end = nullptr;
  unsigned long hours = std::strtoul(text->c_str(), &end, 10);
  if (end == text->c_str() || *end != '\0' || hours > 8760)
    return make_error(Errc::internal, std::string("setting ") + name + " holds \"" + *text + "\"");
  return static_cast<uint32_t>(hours);
}
} // namespace

Result<proto::RetentionPolicyResult> retention_policy(DirectoryStore &store) {
  auto released = retention_hours(store, kRetentionReleased);
  if (!released.ok()) return released.error();
  auto unreleased = retention_hours(store, kRetentionUnreleased);
  if (!unreleased.ok()) return unreleased.error();
  return proto::RetentionPolicyResult{*released, *unreleased};
}

void DirectoryService::Core::handle_retention_show(const CallPtr &call) {
  proto::SessionRequest req;
  if (!read_args(call, req)) return;
  // Every signed-in person may read it: it says how long their own jobs stay.
  auto who = person(call, req.session, std::nullopt);
  if (!who.ok()) return call->fail(who.error());
  auto policy = retention_policy(*store);
  if (!policy.ok()) return call->fail(policy.error());
  reply_with(call, *policy);
}

void DirectoryService::Core::handle_retention_set(const CallPtr &call) {
  proto::RetentionSetRequest req;
  if (!read_args(call, req)) return; // the request checks each value is one of the choices
  auto who = person(call, req.session, Permission::retention_write);
  if (!who.ok()) return call->fail(who.error());
  // RT-1: one enterprise-wide setting, both durations saved together.
  auto tx = store->begin();
  Status s = tx.begun();
  if (s.ok()) s = store->setting_set(kRetentionReleased, std::to_string(req.released_hours));
  if (s.ok()) s = store->setting_set(kRetentionUnreleased, std::to_string(req.unreleased_hours));
  if (s.ok())
    s = store->audit(wall_ms(), who->actor, "retention-set",
                     "released_hours " + std::to_string(req.released_hours) + " unreleased_hours " +
                         std::to_string(req.unreleased_hours));
  if (s.ok()) s = tx.commit();
  if (!s.ok()) return call->fail(s.error());
  LPM_INFO("retention policy set by %s: released %u h, unreleased %u h (0: no limit)", who->actor.c_str(),
           req.released_hours, req.unreleased_hours);
  reply_with(call, proto::RetentionPolicyResult{req.released_hours, req.unreleased_hours});
}

// ---------------------------------------------------------------------------------------------
// Audit

void DirectoryService::Core::handle_audit_list(const CallPtr &call) {
  proto::AuditListRequest req;
  if (!read_args(call, req)) return;
  auto who = person(call, req.session, Permission::audit_read);
  if (!who.ok()) return call->fail(who.error());
  // One more than asked tells whether another page follows.
  auto entries = req.after < 0 ? store->audit_tail(req.limit) : store->audit_page(req.after, req.limit + 1);
  if (!entries.ok()) return call->fail(entries.error());
  proto::AuditListResult result;
  for (auto &e : *entries) {
    if (result.entries.size() == req.limit) {
      result.next = result.entries.back().id;
      break;
    }
    result.entries.push_back(
        proto::AuditRow{e.id, e.at_ms, std::move(e.actor), std::move(e.action), std::move(e.detail)});
  }
  reply_with(call, result);
}

} // namespace lpm::directory
