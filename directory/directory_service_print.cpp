// The directory's Print Management ops (docs/protocol.md §5.1.1, "Print Management"): print
// groups (GR-6 ... GR-9) and Print Management's own user list (PM-2 ... PM-4, AMB-17, AMB-18).
// Changes need print_users_manage; the lists need users_read, so helpdesk roles can look (RL-9,
// RL-12). Each change commits in one transaction with its audit rows; batch ops give each item a
// transaction of its own (AMB-6). Quotas are stored and shown here; counting impressions against
// them is accounting's.
#include <algorithm>

#include "directory_service_private.h"
#include "lpm/ids.h"
#include "lpm/log.h"

namespace lpm::directory {
namespace {

proto::PrintGroupEntry group_entry(const PrintGroup &g, int64_t members) {
  return proto::PrintGroupEntry{
      g.id, g.name, g.quota, g.color_allowed, static_cast<uint64_t>(members), g.created_ms, g.deleted_ms};
}

std::string group_text(const PrintGroup &g) {
  return "print group " + g.id + " \"" + g.name + "\"";
}

std::string quota_text(std::optional<int64_t> quota, const char *none) {
  return quota ? "quota " + std::to_string(*quota) : none;
}

// The name as asked, without the white space sanitising trims: sanitising changed it when they
// differ (AMB-8, said in the answer and the audit).
std::string asked_name(std::string_view name) {
  constexpr std::string_view kSpaces = " \t\r\n\v\f";
  size_t first = name.find_first_not_of(kSpaces);
  if (first == std::string_view::npos) return {};
  return std::string(name.substr(first, name.find_last_not_of(kSpaces) - first + 1));
}

// The live print group a request names, its name sanitised before the lookup (AMB-8).
Result<PrintGroup> print_group_named(DirectoryStore &store, std::string_view name) {
  auto sanitised = group_name_sanitize(name);
  if (!sanitised.ok()) return sanitised.error();
  return store.print_group_by_name(*sanitised);
}

// The members an edit adds or removes, checked before anything changes: every e-mail a user of
// Print Management (PM-2), none both added and removed.
struct MemberChange {
  User user;
  PmUser before;
};
Result<std::vector<MemberChange>> member_changes(DirectoryStore &store,
                                                 const std::vector<std::string> &emails, const char *field) {
  std::vector<MemberChange> out;
  out.reserve(emails.size());
  for (const auto &email : emails) {
    auto user = store.user_by_email(email);
    if (!user.ok()) return make_error(user.error().code, std::string(field) + ": " + user.error().message);
    auto pm = store.pm_user(*user);
    if (!pm.ok()) return make_error(pm.error().code, std::string(field) + ": " + pm.error().message);
    bool repeated =
        std::any_of(out.begin(), out.end(), [&](const MemberChange &c) { return c.user.id == user->id; });
    if (!repeated) out.push_back(MemberChange{*user, *pm});
  }
  return out;
}

} // namespace

// ---------------------------------------------------------------------------------------------
// Print groups

void DirectoryService::Core::handle_print_groups_create(const CallPtr &call) {
  proto::PrintGroupsCreateRequest req;
  if (!read_args(call, req)) return;
  auto who = person(call, req.session, Permission::print_users_manage);
  if (!who.ok()) return call->fail(who.error());
  auto name = group_name_sanitize(req.name);
  if (!name.ok()) return call->fail(name.error());
  std::string asked = asked_name(req.name);
  std::string renamed = *name == asked ? "" : asked;
  int64_t now = wall_ms();
  auto tx = store->begin();
  if (!tx.begun().ok()) return call->fail(tx.begun().error());
  auto group = store->print_group_create(*name, req.quota, req.color_allowed, now);
  if (!group.ok()) return call->fail(group.error());
  Status s = store->audit(now, who->actor, "print-group-create",
                          group_text(*group) + ", " + quota_text(group->quota, "no quota") +
                              (group->color_allowed ? ", colour allowed" : ", colour not allowed") +
                              (renamed.empty() ? "" : " (renamed from \"" + renamed + "\", AMB-8)"));
  if (s.ok()) s = tx.commit();
  if (!s.ok()) return call->fail(s.error());
  LPM_INFO("%s created by %s", group_text(*group).c_str(), who->actor.c_str());
  proto::PrintGroupsChangeResult result;
  result.group = group_entry(*group, 0);
  result.renamed_from = renamed;
  reply_with(call, result);
}

void DirectoryService::Core::handle_print_groups_update(const CallPtr &call) {
  proto::PrintGroupsUpdateRequest req;
  if (!read_args(call, req)) return;
  auto who = person(call, req.session, Permission::print_users_manage);
  if (!who.ok()) return call->fail(who.error());
  auto group = print_group_named(*store, req.name);
  if (!group.ok()) return call->fail(group.error());

  PrintGroupEdit edit;
  proto::PrintGroupsChangeResult result;
  std::string said; // what the audit row says changed
  auto say = [&said](const std::string &part) { said += (said.empty() ? "" : ", ") + part; };
  if (!req.rename.empty()) {
    auto name = group_name_sanitize(req.rename);
    if (!name.ok()) return call->fail(name.error());
    std::string asked = asked_name(req.rename);
    if (*name != asked) result.renamed_from = asked;
    edit.name = *name;
    say("renamed from \"" + group->name + "\" to \"" + *name + "\"" +
        (result.renamed_from.empty() ? "" : " (asked \"" + asked + "\", AMB-8)"));
  }
  if (req.quota || req.clear_quota) {
    edit.quota = req.quota;
    say(quota_text(req.quota, "no quota"));
  }
  if (req.color_allowed) {
    edit.color_allowed = *req.color_allowed;
    say(*req.color_allowed ? "colour allowed" : "colour not allowed");
  }

  // GR-8: the edit is saved explicitly and whole: every member checked first, then one
  // transaction for the group, its members and the audit rows.
  int64_t now = wall_ms();
  auto tx = store->begin();
  if (!tx.begun().ok()) return call->fail(tx.begun().error());
  auto adding = member_changes(*store, req.add_members, "add_members");
  if (!adding.ok()) return call->fail(adding.error());
  auto removing = member_changes(*store, req.remove_members, "remove_members");
  if (!removing.ok()) return call->fail(removing.error());
  for (const auto &r : *removing)
    for (const auto &a : *adding)
      if (a.user.id == r.user.id)
        return call->fail(Errc::bad_request, a.user.email + " is both added and removed: name them once");

  Result<PrintGroup> updated = *group;
  if (edit.name || edit.quota || edit.color_allowed) updated = store->print_group_update(group->id, edit);
  if (!updated.ok()) return call->fail(updated.error());
  Status s;
  if (!said.empty())
    s = store->audit(now, who->actor, "print-group-update", group_text(*group) + ": " + said);
  for (const auto &a : *adding) {
    if (!s.ok() || a.before.print_group_id == group->id) continue; // already a member
    auto set = store->pm_user_group_set(a.user, group->id);
    if (!set.ok()) return call->fail(set.error());
    result.added++;
    // AMB-17: one print group per user; joining this one leaves the other, and the answer says so.
    if (!a.before.print_group_id.empty())
      result.moved.push_back(proto::PrintGroupsChangeResult::Move{a.user.email, a.before.print_group_name});
    s = store->audit(now, who->actor, "pm-user-group-set",
                     "user " + a.user.id + " " + a.user.email + " to " + group_text(*updated) +
                         (a.before.print_group_id.empty()
                              ? ""
                              : " (moved from print group " + a.before.print_group_id + " \"" +
                                    a.before.print_group_name + "\")"));
  }
  for (const auto &r : *removing) {
    if (!s.ok() || r.before.print_group_id != group->id) continue; // not a member: nothing to do
    auto set = store->pm_user_group_set(r.user, "");
    if (!set.ok()) return call->fail(set.error());
    result.removed++;
    s = store->audit(now, who->actor, "pm-user-group-set",
                     "user " + r.user.id + " " + r.user.email + " out of " + group_text(*updated));
  }
  auto members = store->pm_users_count(group->id);
  if (!members.ok()) return call->fail(members.error());
  if (s.ok()) s = tx.commit();
  if (!s.ok()) return call->fail(s.error());
  result.group = group_entry(*updated, *members);
  reply_with(call, result);
}

void DirectoryService::Core::handle_print_groups_delete(const CallPtr &call) {
  proto::PrintGroupsDeleteRequest req;
  if (!read_args(call, req)) return;
  auto who = person(call, req.session, Permission::print_users_manage);
  if (!who.ok()) return call->fail(who.error());
  DirectoryStore &s = *store;
  int64_t now = wall_ms();
  auto result = each_item(s, req.names, [&](const std::string &name, proto::ItemOutcome &o) -> Status {
    auto group = print_group_named(s, name);
    if (!group.ok()) return group.error();
    // GR-9, RP-11: the group stays for reports, marked deleted; its members are in none.
    auto members = s.print_group_delete(group->id, now);
    if (!members.ok()) return members.error();
    o.result = "deleted";
    o.reason = std::to_string(*members) + (*members == 1 ? " member" : " members") +
               " left in no print group; reports keep the group (GR-9)";
    return s.audit(now, who->actor, "print-group-delete",
                   group_text(*group) + ", " + std::to_string(*members) + " members left in no print group");
  });
  reply_with(call, result);
}

void DirectoryService::Core::handle_print_groups_list(const CallPtr &call) {
  proto::PrintGroupsListRequest req;
  if (!read_args(call, req)) return;
  auto who = person(call, req.session, Permission::users_read);
  if (!who.ok()) return call->fail(who.error());
  // One more than asked tells whether another page follows.
  auto groups = store->print_groups_list(req.after, req.after_id, req.limit + 1, req.include_deleted);
  if (!groups.ok()) return call->fail(groups.error());
  proto::PrintGroupsListResult result;
  for (const auto &g : *groups) {
    if (result.groups.size() == req.limit) {
      result.next = result.groups.back().name;
      result.next_id = result.groups.back().id;
      break;
    }
    result.groups.push_back(group_entry(g.group, g.members));
  }
  reply_with(call, result);
}

// ---------------------------------------------------------------------------------------------
// Print Management users

void DirectoryService::Core::handle_print_users_list(const CallPtr &call) {
  proto::PrintUsersListRequest req;
  if (!read_args(call, req)) return;
  auto who = person(call, req.session, Permission::users_read);
  if (!who.ok()) return call->fail(who.error());
  std::string group_id;
  if (!req.group.empty()) {
    auto group = print_group_named(*store, req.group);
    if (!group.ok()) return call->fail(group.error());
    group_id = group->id;
  }
  auto users = store->pm_users_list(req.page.after, req.page.limit + 1, group_id);
  if (!users.ok()) return call->fail(users.error());
  auto pm_users = store->pm_users_count();
  if (!pm_users.ok()) return call->fail(pm_users.error());
  auto enterprise_users = store->users_count();
  if (!enterprise_users.ok()) return call->fail(enterprise_users.error());
  auto month = current_quota_month(wall_ms());
  if (!month.ok()) return call->fail(month.error());
  proto::PrintUsersListResult result;
  for (const auto &u : *users) {
    if (result.users.size() == req.page.limit) {
      result.next = result.users.back().email;
      break;
    }
    // What settle-quota charged them this month (AMB-17).
    auto used = store->quota_used(u.user_id, *month);
    if (!used.ok()) return call->fail(used.error());
    result.users.push_back(proto::PrintUserEntry{u.user_id, u.email, u.display_name, u.print_group_name,
                                                 u.quota, u.group_quota, u.color_allowed, u.imported_ms,
                                                 *used});
  }
  result.pm_users = static_cast<uint64_t>(*pm_users);
  result.enterprise_users = static_cast<uint64_t>(*enterprise_users);
  reply_with(call, result);
}

void DirectoryService::Core::handle_print_users_set(const CallPtr &call) {
  proto::PrintUsersSetRequest req;
  if (!read_args(call, req)) return;
  auto who = person(call, req.session, Permission::print_users_manage);
  if (!who.ok()) return call->fail(who.error());
  std::optional<PrintGroup> group;
  if (!req.group.empty()) {
    auto named = print_group_named(*store, req.group);
    if (!named.ok()) return call->fail(named.error());
    group = *named;
  }
  DirectoryStore &s = *store;
  int64_t now = wall_ms();
  auto result = each_item(s, req.emails, [&](const std::string &email, proto::ItemOutcome &o) -> Status {
    auto user = s.user_by_email(email);
    if (!user.ok()) return user.error();
    // PM-2: only users imported into Print Management are managed here.
    auto before = s.pm_user(*user);
    if (!before.ok()) return before.error();
    bool changed = false;
    Status done;
    const std::string target = group ? group->id : std::string();
    if ((group || req.no_group) && before->print_group_id != target) {
      auto set = s.pm_user_group_set(*user, target);
      if (!set.ok()) return set.error();
      changed = true;
      if (group && !before->print_group_id.empty())
        o.reason = "moved from print group \"" + before->print_group_name +
                   "\": a user belongs to one print group (AMB-17)";
      else if (!group)
        o.reason = "out of print group \"" + before->print_group_name + "\"";
      done = s.audit(
          now, who->actor, "pm-user-group-set",
          "user " + user->id + " " + user->email +
              (group ? " to " + group_text(*group) : " out of print group " + before->print_group_id) +
              (group && !before->print_group_id.empty()
                   ? " (moved from print group " + before->print_group_id + ")"
                   : ""));
    }
    if (done.ok() && (req.quota || req.group_quota) && before->quota != req.quota) {
      auto set = s.pm_user_quota_set(*user, req.quota);
      if (!set.ok()) return set.error();
      changed = true;
      done =
          s.audit(now, who->actor, "pm-user-quota-set",
                  "user " + user->id + " " + user->email + " " + quota_text(req.quota, "the group's quota"));
    }
    if (!done.ok()) return done;
    o.result = changed ? "updated" : "unchanged";
    if (!changed) o.reason = "already so";
    return {};
  });
  reply_with(call, result);
}

void DirectoryService::Core::handle_print_users_remove(const CallPtr &call) {
  proto::PrintUsersRemoveRequest req;
  if (!read_args(call, req)) return;
  auto who = person(call, req.session, Permission::print_users_manage);
  if (!who.ok()) return call->fail(who.error());
  DirectoryStore &s = *store;
  int64_t now = wall_ms();
  auto result = each_item(s, req.emails, [&](const std::string &email, proto::ItemOutcome &o) -> Status {
    auto user = s.user_by_email(email);
    if (!user.ok()) return user.error();
    auto removed = s.pm_user_remove(user->id);
    if (!removed.ok()) return removed.error();
    if (!*removed) {
      o.result = "unchanged";
      o.reason = "not a Print Management user";
      return {};
    }
    o.result = "removed";
    o.reason = "Import from User Accounts brings them back while they hold " +
               std::string(role_name(Role::prm_user)) + " or " + role_name(Role::spm_user);
    return s.audit(now, who->actor, "pm-user-remove", "user " + user->id + " " + user->email);
  });
  reply_with(call, result);
}

void DirectoryService::Core::handle_print_users_sync(const CallPtr &call) {
  proto::PrintUsersSyncRequest req;
  if (!read_args(call, req)) return;
  auto who = person(call, req.session, Permission::print_users_manage);
  if (!who.ok()) return call->fail(who.error());
  int64_t now = wall_ms();
  auto tx = store->begin();
  if (!tx.begun().ok()) return call->fail(tx.begun().error());
  auto synced = store->pm_users_sync(now);
  if (!synced.ok()) return call->fail(synced.error());
  // A dry run computes the same change and rolls it back with the transaction.
  if (!req.dry_run) {
    Status s;
    for (const auto &u : synced->added) {
      if (!s.ok()) break;
      s = store->audit(now, who->actor, "pm-user-add",
                       "user " + u.id + " " + u.email + " (import from User Accounts)");
    }
    for (const auto &u : synced->removed) {
      if (!s.ok()) break;
      s = store->audit(now, who->actor, "pm-user-remove",
                       "user " + u.id + " " + u.email +
                           " (import from User Accounts: no print role any more)");
    }
    if (s.ok())
      s = store->audit(now, who->actor, "pm-sync",
                       "import from User Accounts: " + std::to_string(synced->added.size()) + " added, " +
                           std::to_string(synced->removed.size()) + " removed, " +
                           std::to_string(synced->pm_users) + " Print Management users of " +
                           std::to_string(synced->enterprise_users) + " users");
    if (s.ok()) s = tx.commit();
    if (!s.ok()) return call->fail(s.error());
    LPM_INFO(
        "import from User Accounts by %s: %zu added, %zu removed, %lld of %lld users in Print Management",
        who->actor.c_str(), synced->added.size(), synced->removed.size(),
        static_cast<long long>(synced->pm_users), static_cast<long long>(synced->enterprise_users));
  }
  proto::PrintUsersSyncResult result;
  result.added = synced->added.size();
  result.removed = synced->removed.size();
  result.pm_users = static_cast<uint64_t>(synced->pm_users);
  result.enterprise_users = static_cast<uint64_t>(synced->enterprise_users);
  for (const auto &u : synced->added)
    if (result.added_emails.size() < proto::kMaxBatch) result.added_emails.push_back(u.email);
  for (const auto &u : synced->removed)
    if (result.removed_emails.size() < proto::kMaxBatch) result.removed_emails.push_back(u.email);
  result.dry_run = req.dry_run;
  reply_with(call, result);
}

} // namespace lpm::directory
