// DirectoryStore: users, passwords, account groups, badges and enterprise settings.
#include <sqlite3.h>

#include "directory_store.h"
#include "directory_store_private.h"
#include "lpm/ids.h"

namespace lpm::directory {

using store_detail::is_control;
using store_detail::kUserColumns;
using store_detail::run_with;
using store_detail::user_field_check;
using store_detail::user_from_row;

namespace {

constexpr const char *kBadgeColumns = "SELECT badge, user_id, temporary, created_ms, expires_ms FROM badges ";
constexpr const char *kBadgeRulesSetting = "badge.strip_characters";

Badge badge_from_row(const Stmt &stmt) {
  Badge b;
  b.badge = stmt.col_text(0);
  b.user_id = stmt.col_text(1);
  b.temporary = stmt.col_int(2) != 0;
  b.created_ms = stmt.col_int(3);
  b.expires_ms = stmt.col_int(4);
  return b;
}

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

std::string_view trim_spaces(std::string_view text) {
  while (!text.empty() && is_space(text.front()))
    text.remove_prefix(1);
  while (!text.empty() && is_space(text.back()))
    text.remove_suffix(1);
  return text;
}

size_t utf8_chars(std::string_view text) {
  size_t n = 0;
  for (char c : text)
    if ((static_cast<unsigned char>(c) & 0xc0) != 0x80) n++;
  return n;
}

} // namespace

// ---------------------------------------------------------------------------------------------
// Shared helpers

namespace store_detail {

User user_from_row(const Stmt &stmt) {
  User u;
  u.id = stmt.col_text(0);
  u.email = stmt.col_text(1);
  u.first_name = stmt.col_text(2);
  u.last_name = stmt.col_text(3);
  u.display_name = stmt.col_text(4);
  u.short_name = stmt.col_text(5);
  u.department = stmt.col_text(6);
  u.cost_center = stmt.col_text(7);
  u.custom_attributes = stmt.col_text(8);
  u.created_ms = stmt.col_int(9);
  u.updated_ms = stmt.col_int(10);
  u.has_password = stmt.col_int(11) != 0;
  return u;
}

Status user_field_check(const char *name, std::string_view value) {
  if (value.size() > kMaxUserFieldBytes)
    return make_error(Errc::bad_request, std::string(name) + " is longer than " +
                                             std::to_string(kMaxUserFieldBytes) + " bytes");
  for (char ch : value)
    if (is_control(static_cast<unsigned char>(ch)))
      return make_error(Errc::bad_request, std::string(name) + " must not contain control characters");
  return {};
}

Status run_with(Db &db, const char *sql, std::string_view key) {
  auto stmt = db.prepare(sql);
  if (!stmt.ok()) return stmt.error();
  return stmt->bind(1, key).run();
}

} // namespace store_detail

const char *user_field_name(UserField field) {
  switch (field) {
  case UserField::first_name: return "first_name";
  case UserField::last_name: return "last_name";
  case UserField::display_name: return "display_name";
  case UserField::short_name: return "short_name";
  case UserField::department: return "department";
  case UserField::cost_center: return "cost_center";
  }
  return "?";
}

std::string &user_field(User &user, UserField field) {
  switch (field) {
  case UserField::first_name: return user.first_name;
  case UserField::last_name: return user.last_name;
  case UserField::display_name: return user.display_name;
  case UserField::short_name: return user.short_name;
  case UserField::department: return user.department;
  case UserField::cost_center: break;
  }
  return user.cost_center;
}

Result<std::string> badge_normalize(std::string_view badge, const BadgeRules &rules) {
  // The release station applies the same rules to the badges it resolves itself (issue 8).
  return proto::badge_normalize(badge, rules.strip_characters);
}

Result<std::string> group_name_sanitize(std::string_view name) {
  name = trim_spaces(name);
  if (name.empty()) return make_error(Errc::bad_request, "group name is empty");
  std::string out;
  out.reserve(name.size());
  for (char ch : name) {
    if (is_control(static_cast<unsigned char>(ch)))
      return make_error(Errc::bad_request, "group name must not contain control characters");
    if (ch == ',') return make_error(Errc::bad_request, "group name must not contain a comma");
    static constexpr std::string_view kReplaced = "!@#$%^&*;+?/\\[]";
    out.push_back(kReplaced.find(ch) == std::string_view::npos ? ch : '_');
  }
  if (utf8_chars(out) > kMaxGroupNameChars)
    return make_error(Errc::bad_request, "group name \"" + out + "\" is longer than " +
                                             std::to_string(kMaxGroupNameChars) + " characters");
  return out;
}

Status DirectoryStore::require_transaction(const char *what) {
  if (sqlite3_get_autocommit(db_->raw()) != 0)
    return make_error(Errc::internal, std::string(what) + " must run inside a transaction");
  return {};
}

// ---------------------------------------------------------------------------------------------
// Users

Result<User> DirectoryStore::user_where(const char *sql, std::string_view key) {
  auto stmt = db_->prepare(std::string(kUserColumns) + sql);
  if (!stmt.ok()) return stmt.error();
  stmt->bind(1, key);
  auto row = stmt->step();
  if (!row.ok()) return row.error();
  if (!*row) return make_error(Errc::not_found, "no such user");
  return user_from_row(*stmt);
}

Result<User> DirectoryStore::user_by_email(std::string_view email) {
  auto normal = email_normalize(email);
  if (!normal.ok()) return normal.error();
  auto u = user_where("WHERE u.email = ?", *normal);
  if (!u.ok() && u.error().code == Errc::not_found)
    return make_error(Errc::not_found, "no user has the e-mail address " + *normal);
  return u;
}

Result<User> DirectoryStore::user_by_id(std::string_view id) {
  return user_where("WHERE u.id = ?", id);
}

Result<std::vector<User>> DirectoryStore::users_list(std::string_view after_email, size_t limit) {
  auto stmt = db_->prepare(std::string(kUserColumns) + "WHERE u.email > ? ORDER BY u.email LIMIT ?");
  if (!stmt.ok()) return stmt.error();
  stmt->bind(1, after_email).bind(2, static_cast<int64_t>(limit));
  std::vector<User> out;
  for (;;) {
    auto row = stmt->step();
    if (!row.ok()) return row.error();
    if (!*row) break;
    out.push_back(user_from_row(*stmt));
  }
  return out;
}

Result<User> DirectoryStore::user_create(const User &fields, int64_t now_ms) {
  Status s = require_transaction("user_create");
  if (!s.ok()) return s.error();
  auto email = email_normalize(fields.email);
  if (!email.ok()) return email.error();
  User u = fields;
  u.email = *email;
  for (UserField f : kUserFields) {
    s = user_field_check(user_field_name(f), user_field(u, f));
    if (!s.ok()) return s.error();
  }
  if (u.custom_attributes.empty()) u.custom_attributes = "{}";
  auto existing = user_where("WHERE u.email = ?", u.email);
  if (existing.ok())
    return make_error(Errc::conflict, "a user with the e-mail address " + u.email + " already exists");
  if (existing.error().code != Errc::not_found) return existing.error();
  u.id = uuid_v7();
  u.created_ms = now_ms;
  u.updated_ms = now_ms;
  u.has_password = false;
  auto insert = db_->prepare("INSERT INTO users(id, email, first_name, last_name, display_name, short_name, "
                             "department, cost_center, custom_attributes, created_ms, updated_ms) "
                             "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
  if (!insert.ok()) return insert.error();
  s = insert->bind(1, u.id)
          .bind(2, u.email)
          .bind(3, u.first_name)
          .bind(4, u.last_name)
          .bind(5, u.display_name)
          .bind(6, u.short_name)
          .bind(7, u.department)
          .bind(8, u.cost_center)
          .bind(9, u.custom_attributes)
          .bind(10, now_ms)
          .bind(11, now_ms)
          .run();
  if (!s.ok()) return s.error();
  return u;
}

Status DirectoryStore::user_update(const User &user, int64_t now_ms) {
  Status s = require_transaction("user_update");
  if (!s.ok()) return s;
  User u = user;
  for (UserField f : kUserFields) {
    s = user_field_check(user_field_name(f), user_field(u, f));
    if (!s.ok()) return s;
  }
  auto update = db_->prepare("UPDATE users SET first_name = ?, last_name = ?, display_name = ?, short_name = ?, "
                             "department = ?, cost_center = ?, custom_attributes = ?, updated_ms = ? "
                             "WHERE id = ?");
  if (!update.ok()) return update.error();
  s = update->bind(1, u.first_name)
          .bind(2, u.last_name)
          .bind(3, u.display_name)
          .bind(4, u.short_name)
          .bind(5, u.department)
          .bind(6, u.cost_center)
          .bind(7, u.custom_attributes.empty() ? "{}" : u.custom_attributes)
          .bind(8, now_ms)
          .bind(9, u.id)
          .run();
  if (!s.ok()) return s;
  if (db_->changes() == 0) return make_error(Errc::not_found, "no user has the id " + u.id);
  return {};
}

Status DirectoryStore::user_delete(std::string_view user_id) {
  Status s = require_transaction("user_delete");
  if (!s.ok()) return s;
  // Badges, memberships, holdings and passwords go by foreign-key cascade; role grants name the
  // user only in text, so they are deleted here.
  s = run_with(*db_, "DELETE FROM role_grants WHERE scope = 'user' AND subject = ?", user_id);
  if (!s.ok()) return s;
  // Queued before the holdings and bindings that say where the jobs are go with the user. (The
  // command's time is informational: the wall clock here rather than a parameter.)
  auto queued = command_queue("purge-user", user_id, "", "user deleted", wall_ms());
  if (!queued.ok()) return queued.error();
  s = run_with(*db_, "DELETE FROM users WHERE id = ?", user_id);
  if (!s.ok()) return s;
  if (db_->changes() == 0) return make_error(Errc::not_found, "no user has the id " + std::string(user_id));
  return {};
}

Status DirectoryStore::password_set(std::string_view user_id, std::string_view hash, int64_t now_ms) {
  Status s = require_transaction("password_set");
  if (!s.ok()) return s;
  auto insert = db_->prepare("INSERT INTO passwords(user_id, set_ms, hash) VALUES (?, ?, ?)");
  if (!insert.ok()) return insert.error();
  s = insert->bind(1, user_id).bind(2, now_ms).bind(3, hash).run();
  if (!s.ok()) return s;
  // Only what a history check can need is kept (24 is the policy's maximum, plus the current).
  return run_with(*db_,
                  "DELETE FROM passwords WHERE user_id = ?1 AND rowid NOT IN "
                  "(SELECT rowid FROM passwords WHERE user_id = ?1 ORDER BY set_ms DESC, rowid DESC LIMIT 25)",
                  user_id);
}

Result<std::vector<std::string>> DirectoryStore::password_hashes(std::string_view user_id, size_t limit) {
  auto stmt =
      db_->prepare("SELECT hash FROM passwords WHERE user_id = ? ORDER BY set_ms DESC, rowid DESC LIMIT ?");
  if (!stmt.ok()) return stmt.error();
  stmt->bind(1, user_id).bind(2, static_cast<int64_t>(limit));
  std::vector<std::string> out;
  for (;;) {
    auto row = stmt->step();
    if (!row.ok()) return row.error();
    if (!*row) break;
    out.push_back(stmt->col_text(0));
  }
  return out;
}

Result<User> DirectoryStore::user_add(std::string_view email, std::string_view display_name, int64_t now_ms,
                                      std::string_view actor) {
  Transaction tx(*db_);
  if (!tx.begun().ok()) return tx.begun().error();
  User fields;
  fields.email = std::string(email);
  fields.display_name = std::string(display_name);
  auto u = user_create(fields, now_ms);
  if (!u.ok()) return u.error();
  Status s = audit(now_ms, actor, "user-add", "user " + u->id + " " + u->email);
  if (s.ok()) s = tx.commit();
  if (!s.ok()) return s.error();
  return u;
}

// ---------------------------------------------------------------------------------------------
// Account groups

Result<AccountGroup> DirectoryStore::group_by_name(std::string_view name) {
  auto stmt = db_->prepare("SELECT id, name, created_ms FROM account_groups WHERE name = ?");
  if (!stmt.ok()) return stmt.error();
  stmt->bind(1, name);
  auto row = stmt->step();
  if (!row.ok()) return row.error();
  if (!*row) return make_error(Errc::not_found, "no account group is named \"" + std::string(name) + "\"");
  return AccountGroup{stmt->col_text(0), stmt->col_text(1), stmt->col_int(2)};
}

Result<AccountGroup> DirectoryStore::group_create(std::string_view name, int64_t now_ms) {
  Status s = require_transaction("group_create");
  if (!s.ok()) return s.error();
  auto existing = group_by_name(name);
  if (existing.ok())
    return make_error(Errc::conflict, "an account group named \"" + existing->name + "\" already exists");
  if (existing.error().code != Errc::not_found) return existing.error();
  AccountGroup g{uuid_v7(), std::string(name), now_ms};
  auto insert = db_->prepare("INSERT INTO account_groups(id, name, created_ms) VALUES (?, ?, ?)");
  if (!insert.ok()) return insert.error();
  s = insert->bind(1, g.id).bind(2, g.name).bind(3, now_ms).run();
  if (!s.ok()) return s.error();
  return g;
}

Result<bool> DirectoryStore::group_member_add(std::string_view group_id, std::string_view user_id,
                                              int64_t now_ms) {
  Status s = require_transaction("group_member_add");
  if (!s.ok()) return s.error();
  auto insert =
      db_->prepare("INSERT OR IGNORE INTO group_members(group_id, user_id, added_ms) VALUES (?, ?, ?)");
  if (!insert.ok()) return insert.error();
  s = insert->bind(1, group_id).bind(2, user_id).bind(3, now_ms).run();
  if (!s.ok()) return s.error();
  return db_->changes() > 0;
}

Result<std::vector<std::string>> DirectoryStore::groups_of(std::string_view user_id) {
  auto stmt = db_->prepare("SELECT g.name FROM group_members m JOIN account_groups g ON g.id = m.group_id "
                           "WHERE m.user_id = ? ORDER BY g.name");
  if (!stmt.ok()) return stmt.error();
  stmt->bind(1, user_id);
  std::vector<std::string> out;
  for (;;) {
    auto row = stmt->step();
    if (!row.ok()) return row.error();
    if (!*row) break;
    out.push_back(stmt->col_text(0));
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Badges

BadgeRules DirectoryStore::badge_rules() {
  auto strip = setting(kBadgeRulesSetting, "");
  // An unreadable setting must not stop badge-ins: the rules then strip nothing extra.
  return BadgeRules{strip.ok() ? *strip : std::string()};
}

Status DirectoryStore::badge_rules_set(const BadgeRules &rules) {
  for (char c : rules.strip_characters)
    if (is_control(static_cast<unsigned char>(c)) || static_cast<unsigned char>(c) >= 0x80)
      return make_error(Errc::bad_request, "badge delimiters must be printable ASCII characters");
  return setting_set(kBadgeRulesSetting, rules.strip_characters);
}

Result<Badge> DirectoryStore::badge_find(std::string_view badge) {
  auto stmt = db_->prepare(std::string(kBadgeColumns) + "WHERE badge = ?");
  if (!stmt.ok()) return stmt.error();
  stmt->bind(1, badge);
  auto row = stmt->step();
  if (!row.ok()) return row.error();
  if (!*row) return make_error(Errc::not_found, "unknown badge");
  return badge_from_row(*stmt);
}

Result<std::string> DirectoryStore::badge_assign(std::string_view badge, std::string_view user_id,
                                                 bool temporary, int64_t now_ms) {
  Status s = require_transaction("badge_assign");
  if (!s.ok()) return s.error();
  auto current = badge_find(badge);
  if (current.ok() && current->user_id != user_id)
    return make_error(Errc::conflict, "badge is already given to another user");
  if (!current.ok() && current.error().code != Errc::not_found) return current.error();

  // The user's other badge of the same kind is replaced (BD-13, AMB-13).
  std::string replaced;
  auto previous = db_->prepare("SELECT badge FROM badges WHERE user_id = ? AND temporary = ? AND badge <> ?");
  if (!previous.ok()) return previous.error();
  previous->bind(1, user_id).bind(2, temporary ? 1 : 0).bind(3, badge);
  auto row = previous->step();
  if (!row.ok()) return row.error();
  if (*row) replaced = previous->col_text(0);
  previous->reset();
  if (!replaced.empty()) {
    s = run_with(*db_, "DELETE FROM badges WHERE badge = ?", replaced);
    if (!s.ok()) return s.error();
  }
  // The same badge given again (perhaps as the other kind) is registered anew: the kind and the
  // 24-hour clock of a temporary badge start from now.
  auto upsert = db_->prepare(
      "INSERT INTO badges(badge, user_id, temporary, created_ms, expires_ms) VALUES (?, ?, ?, ?, ?) "
      "ON CONFLICT(badge) DO UPDATE SET temporary = excluded.temporary, created_ms = excluded.created_ms, "
      "expires_ms = excluded.expires_ms");
  if (!upsert.ok()) return upsert.error();
  s = upsert->bind(1, badge)
          .bind(2, user_id)
          .bind(3, temporary ? 1 : 0)
          .bind(4, now_ms)
          .bind(5, temporary ? now_ms + kTemporaryBadgeMs : 0)
          .run();
  if (!s.ok()) return s.error();
  return replaced;
}

Status DirectoryStore::badge_delete(std::string_view badge) {
  Status s = require_transaction("badge_delete");
  if (!s.ok()) return s;
  s = run_with(*db_, "DELETE FROM badges WHERE badge = ?", badge);
  if (!s.ok()) return s;
  if (db_->changes() == 0) return make_error(Errc::not_found, "unknown badge");
  return {};
}

Result<std::vector<Badge>> DirectoryStore::badges_of(std::string_view user_id) {
  auto stmt = db_->prepare(std::string(kBadgeColumns) + "WHERE user_id = ? ORDER BY temporary, badge");
  if (!stmt.ok()) return stmt.error();
  stmt->bind(1, user_id);
  std::vector<Badge> out;
  for (;;) {
    auto row = stmt->step();
    if (!row.ok()) return row.error();
    if (!*row) break;
    out.push_back(badge_from_row(*stmt));
  }
  return out;
}

Result<std::vector<std::pair<int64_t, Badge>>> DirectoryStore::badges_page(int64_t after, size_t limit,
                                                                          int64_t now_ms) {
  auto stmt = db_->prepare("SELECT badge, user_id, temporary, created_ms, expires_ms, rowid FROM badges "
                           "WHERE rowid > ? AND (temporary = 0 OR expires_ms > ?) ORDER BY rowid LIMIT ?");
  if (!stmt.ok()) return stmt.error();
  stmt->bind(1, after).bind(2, now_ms).bind(3, static_cast<int64_t>(limit));
  std::vector<std::pair<int64_t, Badge>> out;
  for (;;) {
    auto row = stmt->step();
    if (!row.ok()) return row.error();
    if (!*row) break;
    out.emplace_back(stmt->col_int(5), badge_from_row(*stmt));
  }
  return out;
}

Result<int64_t> DirectoryStore::badges_purge_expired(int64_t now_ms) {
  Status s = require_transaction("badges_purge_expired");
  if (!s.ok()) return s.error();
  auto stmt = db_->prepare("DELETE FROM badges WHERE temporary = 1 AND expires_ms <= ?");
  if (!stmt.ok()) return stmt.error();
  s = stmt->bind(1, now_ms).run();
  if (!s.ok()) return s.error();
  return db_->changes();
}

Status DirectoryStore::badge_add(std::string_view badge, std::string_view email, int64_t now_ms,
                                 std::string_view actor) {
  auto normal = badge_normalize(badge, badge_rules());
  if (!normal.ok()) return normal.error();
  Transaction tx(*db_);
  if (!tx.begun().ok()) return tx.begun();
  auto user = user_by_email(email);
  if (!user.ok()) return user.error();
  auto owner = badge_find(*normal);
  if (owner.ok() && owner->user_id == user->id && !owner->temporary)
    return make_error(Errc::conflict, "badge is already given to " + user->email);
  auto replaced = badge_assign(*normal, user->id, false, now_ms);
  if (!replaced.ok()) return replaced.error();
  // The badge itself is a credential of sorts (it identifies): the audit names the user only.
  Status s = audit(now_ms, actor, "badge-add",
                   "user " + user->id + (replaced->empty() ? "" : " (replaces the previous badge)"));
  if (s.ok()) s = tx.commit();
  return s;
}

Result<User> DirectoryStore::user_by_badge(std::string_view badge, int64_t now_ms) {
  auto normal = badge_normalize(badge, badge_rules());
  if (!normal.ok()) return normal.error();
  auto found = badge_find(*normal);
  if (!found.ok()) return found.error();
  if (found->temporary && found->expires_ms <= now_ms)
    return make_error(Errc::expired, "badge expired (a temporary badge lasts 24 hours)");
  return user_by_id(found->user_id);
}

// ---------------------------------------------------------------------------------------------
// Settings

Result<std::string> DirectoryStore::setting(std::string_view name, std::string_view fallback) {
  auto stmt = db_->prepare("SELECT value FROM settings WHERE name = ?");
  if (!stmt.ok()) return stmt.error();
  stmt->bind(1, name);
  auto row = stmt->step();
  if (!row.ok()) return row.error();
  return *row ? stmt->col_text(0) : std::string(fallback);
}

Status DirectoryStore::setting_set(std::string_view name, std::string_view value) {
  Status s = require_transaction("setting_set");
  if (!s.ok()) return s;
  auto stmt = db_->prepare(
      "INSERT INTO settings(name, value) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value = excluded.value");
  if (!stmt.ok()) return stmt.error();
  return stmt->bind(1, name).bind(2, value).run();
}

Result<std::vector<proto::PersonFacts>> DirectoryStore::people_list(std::string_view after_id, size_t limit) {
  auto stmt = db_->prepare("SELECT u.id, CASE WHEN u.display_name <> '' THEN u.display_name "
                           "ELSE trim(u.first_name || ' ' || u.last_name) END, u.email, u.department, "
                           "coalesce(g.id, ''), coalesce(g.name, '') FROM users u "
                           "LEFT JOIN pm_users p ON p.user_id = u.id "
                           "LEFT JOIN print_groups g ON g.id = p.print_group_id AND g.deleted_ms = 0 "
                           "WHERE u.id > ? ORDER BY u.id LIMIT ?");
  if (!stmt.ok()) return stmt.error();
  stmt->bind(1, after_id).bind(2, static_cast<int64_t>(limit));
  std::vector<proto::PersonFacts> out;
  for (;;) {
    auto row = stmt->step();
    if (!row.ok()) return row.error();
    if (!*row) break;
    out.push_back(proto::PersonFacts{stmt->col_text(0), stmt->col_text(1), stmt->col_text(2),
                                     stmt->col_text(3), stmt->col_text(4), stmt->col_text(5)});
  }
  return out;
}

} // namespace lpm::directory
