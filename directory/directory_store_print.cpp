// DirectoryStore: Print Management's own user list and its print groups (PM-2 ... PM-5,
// GR-6 ... GR-9, AMB-16 ... AMB-18). Print groups are unrelated to account groups (GR-1): they
// carry quotas and colour for their members and grant no role. Counting impressions against
// the quotas is directory_store_quota.cpp's.
#include "directory_store.h"
#include "directory_store_private.h"
#include "lpm/ids.h"
#include "roles.h"

namespace lpm::directory {

using store_detail::kUserColumns;
using store_detail::run_with;
using store_detail::user_from_row;

namespace {

// The columns print_group_from_row reads, in its order.
constexpr const char *kPrintGroupFields =
    "g.id, g.name, g.quota, g.color_allowed, g.created_ms, g.deleted_ms";
const std::string kPrintGroupColumns = std::string("SELECT ") + kPrintGroupFields + " FROM print_groups g ";

// The columns pm_user_from_row reads, in its order. A member's group is always live (deleting a
// group empties it), but the join says so anyway.
constexpr const char *kPmUserColumns =
    "SELECT u.id, u.email, u.display_name, coalesce(g.id, ''), coalesce(g.name, ''), p.quota, g.quota, "
    "coalesce(g.color_allowed, 0), p.imported_ms "
    "FROM pm_users p JOIN users u ON u.id = p.user_id "
    "LEFT JOIN print_groups g ON g.id = p.print_group_id AND g.deleted_ms = 0 ";

std::optional<int64_t> col_optional(const Stmt &stmt, int col) {
  if (stmt.col_is_null(col)) return std::nullopt;
  return stmt.col_int(col);
}

void bind_optional(Stmt &stmt, int index, std::optional<int64_t> value) {
  if (value)
    stmt.bind(index, *value);
  else
    stmt.bind_null(index);
}

PrintGroup print_group_from_row(const Stmt &stmt) {
  PrintGroup g;
  g.id = stmt.col_text(0);
  g.name = stmt.col_text(1);
  g.quota = col_optional(stmt, 2);
  g.color_allowed = stmt.col_int(3) != 0;
  g.created_ms = stmt.col_int(4);
  g.deleted_ms = stmt.col_int(5);
  return g;
}

PmUser pm_user_from_row(const Stmt &stmt) {
  PmUser p;
  p.user_id = stmt.col_text(0);
  p.email = stmt.col_text(1);
  p.display_name = stmt.col_text(2);
  p.print_group_id = stmt.col_text(3);
  p.print_group_name = stmt.col_text(4);
  p.quota = col_optional(stmt, 5);
  p.group_quota = col_optional(stmt, 6);
  p.color_allowed = stmt.col_int(7) != 0;
  p.imported_ms = stmt.col_int(8);
  return p;
}

Status quota_check(std::optional<int64_t> quota) {
  if (quota && (*quota < 0 || *quota > kMaxPrintQuota))
    return make_error(Errc::bad_request,
                      "a quota is a whole number of impressions per calendar month from 0 to " +
                          std::to_string(kMaxPrintQuota) + ", not " + std::to_string(*quota));
  return {};
}

Error print_group_not_found(std::string_view what) {
  return make_error(Errc::not_found,
                    "print group not found: " + std::string(what) +
                        " (a deleted print group is not found: `lpm print-groups list --all` "
                        "shows deleted ones, TS-11)");
}

Error not_pm_user(const User &user) {
  return make_error(Errc::not_found,
                    user.email +
                        " is not a Print Management user: users come in with Import from User Accounts "
                        "(`lpm print-users sync`), which takes those holding " +
                        role_name(Role::prm_user) + " or " + role_name(Role::spm_user) + " (PM-2, TS-15)");
}

Result<PrintGroup> live_group(Db &db, std::string_view group_id) {
  auto stmt = db.prepare(kPrintGroupColumns + "WHERE g.id = ? AND g.deleted_ms = 0");
  if (!stmt.ok()) return stmt.error();
  stmt->bind(1, group_id);
  auto row = stmt->step();
  if (!row.ok()) return row.error();
  if (!*row) return print_group_not_found("no live print group has the id " + std::string(group_id));
  return print_group_from_row(*stmt);
}

Result<std::vector<User>> users_where(Db &db, const std::string &sql) {
  auto stmt = db.prepare(sql);
  if (!stmt.ok()) return stmt.error();
  stmt->bind(1, std::string_view(role_alias(Role::prm_user)))
      .bind(2, std::string_view(role_alias(Role::spm_user)));
  std::vector<User> out;
  for (;;) {
    auto row = stmt->step();
    if (!row.ok()) return row.error();
    if (!*row) break;
    out.push_back(user_from_row(*stmt));
  }
  return out;
}

// Runs a count(*) query, with one text parameter when it has one.
Result<int64_t> count_of(Db &db, const char *sql, std::string_view key = {}) {
  auto stmt = db.prepare(sql);
  if (!stmt.ok()) return stmt.error();
  if (!key.empty()) stmt->bind(1, key);
  auto row = stmt->step();
  if (!row.ok()) return row.error();
  return *row ? stmt->col_int(0) : 0;
}

// The users who qualify for Print Management (AMB-18): an effective PRM User or Serverless
// Print Management User role (?1, ?2: their stored aliases) at any scope, as effective_roles
// (roles.h) computes it for one user, here for all at once.
constexpr const char *kQualified =
    "WITH qualified(id) AS (SELECT u.id FROM users u WHERE EXISTS (SELECT 1 FROM role_grants r "
    "WHERE r.role IN (?1, ?2) AND ((r.scope = 'enterprise' AND r.subject = '') "
    "OR (r.scope = 'user' AND r.subject = u.id) "
    "OR (r.scope = 'group' AND r.subject IN (SELECT m.group_id FROM group_members m WHERE m.user_id = "
    "u.id))))) ";

} // namespace

// ---------------------------------------------------------------------------------------------
// Print groups

Result<PrintGroup> DirectoryStore::print_group_by_name(std::string_view name) {
  // The name column collates NOCASE (AMB-8); at most one live group has a name.
  auto stmt = db_->prepare(kPrintGroupColumns + "WHERE g.name = ? AND g.deleted_ms = 0");
  if (!stmt.ok()) return stmt.error();
  stmt->bind(1, name);
  auto row = stmt->step();
  if (!row.ok()) return row.error();
  if (!*row) return print_group_not_found("\"" + std::string(name) + "\"");
  return print_group_from_row(*stmt);
}

Result<PrintGroup> DirectoryStore::print_group_create(std::string_view name, std::optional<int64_t> quota,
                                                      bool color_allowed, int64_t now_ms) {
  Status s = require_transaction("print_group_create");
  if (s.ok()) s = quota_check(quota);
  if (!s.ok()) return s.error();
  auto existing = print_group_by_name(name);
  if (existing.ok())
    return make_error(Errc::conflict, "a print group named \"" + existing->name + "\" already exists");
  if (existing.error().code != Errc::not_found) return existing.error();
  PrintGroup g{uuid_v7(), std::string(name), quota, color_allowed, now_ms, 0};
  auto insert = db_->prepare(
      "INSERT INTO print_groups(id, name, quota, color_allowed, created_ms) VALUES (?, ?, ?, ?, ?)");
  if (!insert.ok()) return insert.error();
  insert->bind(1, g.id).bind(2, g.name);
  bind_optional(*insert, 3, quota);
  s = insert->bind(4, color_allowed ? 1 : 0).bind(5, now_ms).run();
  if (!s.ok()) return s.error();
  return g;
}

Result<PrintGroup> DirectoryStore::print_group_update(std::string_view group_id, const PrintGroupEdit &edit) {
  Status s = require_transaction("print_group_update");
  if (!s.ok()) return s.error();
  auto group = live_group(*db_, group_id);
  if (!group.ok()) return group.error();
  PrintGroup g = *group;
  if (edit.name) {
    auto taken = print_group_by_name(*edit.name);
    // Another live group; the same group may change its name's case.
    if (taken.ok() && taken->id != g.id)
      return make_error(Errc::conflict, "a print group named \"" + taken->name + "\" already exists");
    if (!taken.ok() && taken.error().code != Errc::not_found) return taken.error();
    g.name = *edit.name;
  }
  if (edit.quota) {
    s = quota_check(*edit.quota);
    if (!s.ok()) return s.error();
    g.quota = *edit.quota;
  }
  if (edit.color_allowed) g.color_allowed = *edit.color_allowed;
  auto update = db_->prepare("UPDATE print_groups SET name = ?, quota = ?, color_allowed = ? WHERE id = ?");
  if (!update.ok()) return update.error();
  update->bind(1, g.name);
  bind_optional(*update, 2, g.quota);
  s = update->bind(3, g.color_allowed ? 1 : 0).bind(4, g.id).run();
  if (!s.ok()) return s.error();
  return g;
}

Result<int64_t> DirectoryStore::print_group_delete(std::string_view group_id, int64_t now_ms) {
  Status s = require_transaction("print_group_delete");
  if (!s.ok()) return s.error();
  // GR-9, RP-11: the row stays, marked, so reports can still select the group; its name is free.
  auto mark = db_->prepare("UPDATE print_groups SET deleted_ms = ? WHERE id = ? AND deleted_ms = 0");
  if (!mark.ok()) return mark.error();
  s = mark->bind(1, std::max<int64_t>(now_ms, 1)).bind(2, group_id).run();
  if (!s.ok()) return s.error();
  if (db_->changes() == 0)
    return print_group_not_found("no live print group has the id " + std::string(group_id));
  s = run_with(*db_, "UPDATE pm_users SET print_group_id = NULL WHERE print_group_id = ?", group_id);
  if (!s.ok()) return s.error();
  return db_->changes();
}

Result<std::vector<PrintGroupSummary>> DirectoryStore::print_groups_list(std::string_view after_name,
                                                                         std::string_view after_id,
                                                                         size_t limit, bool include_deleted) {
  // Deleted groups may share a name with each other and a live one: the id breaks ties, so the
  // cursor is the pair. The name column collates NOCASE, so order and cursor compare alike.
  auto stmt = db_->prepare(std::string("SELECT ") + kPrintGroupFields +
                           ", (SELECT count(*) FROM pm_users p WHERE p.print_group_id = g.id) "
                           "FROM print_groups g WHERE (?3 OR g.deleted_ms = 0) "
                           "AND (g.name > ?1 OR (g.name = ?1 AND g.id > ?2)) ORDER BY g.name, g.id LIMIT ?4");
  if (!stmt.ok()) return stmt.error();
  stmt->bind(1, after_name)
      .bind(2, after_id)
      .bind(3, include_deleted ? 1 : 0)
      .bind(4, static_cast<int64_t>(limit));
  std::vector<PrintGroupSummary> out;
  for (;;) {
    auto row = stmt->step();
    if (!row.ok()) return row.error();
    if (!*row) break;
    out.push_back(PrintGroupSummary{print_group_from_row(*stmt), stmt->col_int(6)});
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Print Management users

Result<PmUser> DirectoryStore::pm_user(const User &user) {
  auto stmt = db_->prepare(std::string(kPmUserColumns) + "WHERE p.user_id = ?");
  if (!stmt.ok()) return stmt.error();
  stmt->bind(1, user.id);
  auto row = stmt->step();
  if (!row.ok()) return row.error();
  if (!*row) return not_pm_user(user);
  return pm_user_from_row(*stmt);
}

Result<std::vector<PmUser>> DirectoryStore::pm_users_list(std::string_view after_email, size_t limit,
                                                          std::string_view group_id) {
  auto stmt =
      db_->prepare(std::string(kPmUserColumns) +
                   "WHERE u.email > ?1 AND (?2 = '' OR p.print_group_id = ?2) ORDER BY u.email LIMIT ?3");
  if (!stmt.ok()) return stmt.error();
  stmt->bind(1, after_email).bind(2, group_id).bind(3, static_cast<int64_t>(limit));
  std::vector<PmUser> out;
  for (;;) {
    auto row = stmt->step();
    if (!row.ok()) return row.error();
    if (!*row) break;
    out.push_back(pm_user_from_row(*stmt));
  }
  return out;
}

Result<int64_t> DirectoryStore::pm_users_count(std::string_view group_id) {
  if (group_id.empty()) return count_of(*db_, "SELECT count(*) FROM pm_users");
  return count_of(*db_, "SELECT count(*) FROM pm_users WHERE print_group_id = ?", group_id);
}

Result<int64_t> DirectoryStore::users_count() {
  return count_of(*db_, "SELECT count(*) FROM users");
}

Result<PmUser> DirectoryStore::pm_user_group_set(const User &user, std::string_view group_id) {
  Status s = require_transaction("pm_user_group_set");
  if (!s.ok()) return s.error();
  auto before = pm_user(user);
  if (!before.ok()) return before.error();
  if (!group_id.empty()) {
    auto group = live_group(*db_, group_id);
    if (!group.ok()) return group.error();
  }
  // One column holds the group: a user is in at most one print group (AMB-17), so setting it
  // moves them out of any other.
  auto update = db_->prepare("UPDATE pm_users SET print_group_id = ? WHERE user_id = ?");
  if (!update.ok()) return update.error();
  if (group_id.empty())
    update->bind_null(1);
  else
    update->bind(1, group_id);
  s = update->bind(2, user.id).run();
  if (!s.ok()) return s.error();
  return before;
}

Result<PmUser> DirectoryStore::pm_user_quota_set(const User &user, std::optional<int64_t> quota) {
  Status s = require_transaction("pm_user_quota_set");
  if (s.ok()) s = quota_check(quota);
  if (!s.ok()) return s.error();
  auto before = pm_user(user);
  if (!before.ok()) return before.error();
  auto update = db_->prepare("UPDATE pm_users SET quota = ? WHERE user_id = ?");
  if (!update.ok()) return update.error();
  bind_optional(*update, 1, quota);
  s = update->bind(2, user.id).run();
  if (!s.ok()) return s.error();
  return before;
}

Result<bool> DirectoryStore::pm_user_remove(std::string_view user_id) {
  Status s = require_transaction("pm_user_remove");
  if (!s.ok()) return s.error();
  s = run_with(*db_, "DELETE FROM pm_users WHERE user_id = ?", user_id);
  if (!s.ok()) return s.error();
  return db_->changes() > 0;
}

Result<PmSyncResult> DirectoryStore::pm_users_sync(int64_t now_ms) {
  Status s = require_transaction("pm_users_sync");
  if (!s.ok()) return s.error();
  PmSyncResult result;
  auto added = users_where(*db_, std::string(kQualified) + kUserColumns +
                                     "WHERE u.id IN (SELECT id FROM qualified) "
                                     "AND NOT EXISTS (SELECT 1 FROM pm_users p WHERE p.user_id = u.id) "
                                     "ORDER BY u.email");
  if (!added.ok()) return added.error();
  auto removed = users_where(*db_, std::string(kQualified) + kUserColumns +
                                       "WHERE u.id IN (SELECT user_id FROM pm_users) "
                                       "AND u.id NOT IN (SELECT id FROM qualified) ORDER BY u.email");
  if (!removed.ok()) return removed.error();
  auto insert = db_->prepare("INSERT INTO pm_users(user_id, imported_ms) VALUES (?, ?)");
  if (!insert.ok()) return insert.error();
  for (const User &u : *added) {
    s = insert->bind(1, u.id).bind(2, now_ms).run();
    if (!s.ok()) return s.error();
  }
  for (const User &u : *removed) {
    s = run_with(*db_, "DELETE FROM pm_users WHERE user_id = ?", u.id);
    if (!s.ok()) return s.error();
  }
  auto pm_users = pm_users_count();
  if (!pm_users.ok()) return pm_users.error();
  auto enterprise_users = users_count();
  if (!enterprise_users.ok()) return enterprise_users.error();
  result.added = std::move(*added);
  result.removed = std::move(*removed);
  result.pm_users = *pm_users;
  result.enterprise_users = *enterprise_users;
  return result;
}

} // namespace lpm::directory
