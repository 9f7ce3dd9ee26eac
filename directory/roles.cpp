// Roles, the permission matrix and role grants in the directory's database (roles.h).
#include "roles.h"

#include <algorithm>
#include <iterator>
#include <sqlite3.h>
#include <tuple>

#include "lpm/protocol/session.h"

namespace lpm::directory {

namespace {

struct RoleInfo {
  const char *name;
  const char *alias;
  const char *description;
};

// Indexed by Role.
constexpr RoleInfo kRoleInfo[kRoleCount] = {
    {"Print Release Management Document Accounting", "prm-document-accounting",
     "Views users' print-job history and takes part when print-release administrators change the "
     "document retention policy."},
    {"Print Release Management Document Submission E-Mail", "prm-email",
     "Lets the user submit print jobs by e-mail."},
    {"Print Release Management Document Submission Mobile", "prm-mobile",
     "Lets the user submit print jobs from a mobile device."},
    {"Print Release Management Alternative File Conversion", "prm-conversion",
     "Gives access to alternative document-conversion services; assignable only as an enterprise role."},
    {proto::role_names::prm_administrator, "prm-admin",
     "Administers print release: print-release users and their features, reports, user imports, other "
     "users' queues, delegates, user groups, quotas, document accounting, retention settings and custom "
     "client and driver packages."},
    {proto::role_names::prm_helpdesk, "prm-helpdesk", "Views user data to troubleshoot print release."},
    {"Print Release Management User", "prm-user",
     "Required for print release: manage one's own queue, delegate one's own jobs to other users, "
     "download the default driver packages and see one's own usage."},
    {"Serverless Print Management Administrator", "spm-admin",
     "Manages the users and workstations holding jobs for serverless printing and builds custom client "
     "and universal driver packages."},
    {proto::role_names::spm_helpdesk, "spm-helpdesk",
     "Views the users and workstations that have jobs ready to print."},
    {"Serverless Print Management User", "spm-user",
     "The default serverless role: basic rights such as managing one's own workstation."},
    {proto::role_names::enterprise_administrator, "enterprise-admin",
     "Granted by the platform: administers the whole enterprise (every permission but print release, "
     "which comes only with Print Release Management User)."},
    {"User Administrator", "user-admin",
     "Granted by the platform: administers User Accounts only (users, account groups and badges)."},
};

constexpr const char *kPermissionNames[kPermissionCount] = {
    "release",           "users_read",          "users_write",      "badges_write",
    "roles_write",       "print_users_manage",  "delegates_manage", "jobs_manage_others",
    "workstations_read", "workstations_manage", "devices_manage",   "retention_write",
    "packages_build",    "history_read",        "audit_read"};

using PermissionBits = uint16_t;
static_assert(kPermissionCount <= 16, "PermissionBits holds one bit per permission");

constexpr PermissionBits bit(Permission p) {
  return static_cast<PermissionBits>(1u << static_cast<unsigned>(p));
}

template <class... P> constexpr PermissionBits bits(P... p) {
  return static_cast<PermissionBits>((bit(p) | ...));
}

constexpr PermissionBits kAllPermissions = static_cast<PermissionBits>((1u << kPermissionCount) - 1);

// The permission matrix (x: allowed). Each op names one permission; nothing else is checked.
//
//                                   rel urd uwr bwr rwr pum dlg jmo wrd wmg dev ret pkg hst aud
// enterprise_administrator (RL-15)   .   x   x   x   x   x   x   x   x   x   x   x   x   x   x
// user_administrator (AMB-14)        .   x   x   x   .   .   .   .   .   .   .   .   .   .   .
// prm_administrator (RL-8)           .   x   .   .   .   x   x   x   x   .   .   x   x   x   .
// prm_helpdesk (RL-9)                .   x   .   .   .   .   .   .   x   .   .   .   .   .   .
// prm_user (RL-10)                   x   .   .   .   .   .   .   .   .   .   .   .   .   .   .
// spm_administrator (RL-11)          .   x   .   .   .   .   .   x   x   x   .   .   x   .   .
// spm_helpdesk (RL-12)               .   x   .   .   .   .   .   .   x   .   .   .   .   .   .
// spm_user (RL-13)                   .   .   .   .   .   .   .   .   .   .   .   .   .   .   .
// prm_document_accounting (RL-4)     .   .   .   .   .   .   .   .   .   .   .   .   .   x   .
// prm_submission_email (RL-5)        .   .   .   .   .   .   .   .   .   .   .   .   .   .   .
// prm_submission_mobile (RL-6)       .   .   .   .   .   .   .   .   .   .   .   .   .   .   .
// prm_alternative_conversion (RL-7)  .   .   .   .   .   .   .   .   .   .   .   .   .   .   .
//
// rel release, urd users_read, uwr users_write, bwr badges_write, rwr roles_write,
// pum print_users_manage, dlg delegates_manage, jmo jobs_manage_others, wrd workstations_read,
// wmg workstations_manage, dev devices_manage, ret retention_write, pkg packages_build,
// hst history_read, aud audit_read.
//
// Release comes only with prm_user, even for administrators (PM-11): an administrator who prints
// holds Print Release Management User like everyone else. spm_user needs nothing here: what it
// grants (one's own workstation) every signed-in user may do. The submission and conversion
// roles allow no directory op: their channels are deferred.
constexpr PermissionBits role_permissions(Role role) {
  using enum Permission;
  switch (role) {
  case Role::prm_document_accounting: return bits(history_read);
  case Role::prm_submission_email: return 0;
  case Role::prm_submission_mobile: return 0;
  case Role::prm_alternative_conversion: return 0;
  case Role::prm_administrator:
    return bits(users_read, print_users_manage, delegates_manage, jobs_manage_others, workstations_read,
                retention_write, packages_build, history_read);
  case Role::prm_helpdesk: return bits(users_read, workstations_read);
  case Role::prm_user: return bits(release);
  case Role::spm_administrator:
    return bits(users_read, jobs_manage_others, workstations_read, workstations_manage, packages_build);
  case Role::spm_helpdesk: return bits(users_read, workstations_read);
  case Role::spm_user: return 0;
  case Role::enterprise_administrator: return static_cast<PermissionBits>(kAllPermissions & ~bit(release));
  case Role::user_administrator: return bits(users_read, users_write, badges_write);
  }
  return 0;
}

// kRoles and kPermissions list every value in declaration order: the tables above are indexed so.
constexpr bool lists_in_order() {
  for (size_t i = 0; i < kRoleCount; ++i)
    if (static_cast<size_t>(kRoles[i]) != i) return false;
  for (size_t i = 0; i < kPermissionCount; ++i)
    if (static_cast<size_t>(kPermissions[i]) != i) return false;
  return static_cast<size_t>(Role::user_administrator) + 1 == kRoleCount &&
         static_cast<size_t>(Permission::audit_read) + 1 == kPermissionCount;
}
static_assert(lists_in_order());

const RoleInfo &info(Role role) {
  // A value cast from outside the enum reads as a role nobody holds, not past the table.
  static constexpr RoleInfo kUnknown{"unknown role", "unknown", ""};
  size_t index = static_cast<size_t>(role);
  return index < kRoleCount ? kRoleInfo[index] : kUnknown;
}

char ascii_lower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

bool equals_ignoring_case(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
  return true;
}

std::string_view trim_blanks(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t'))
    text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t'))
    text.remove_suffix(1);
  return text;
}

// Quotes what the caller sent in an error message, cut short: it comes from outside.
std::string quoted_excerpt(std::string_view text) {
  constexpr size_t kMaxQuotedBytes = 80;
  std::string out = "\"";
  for (char c : text.substr(0, kMaxQuotedBytes))
    out += (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) ? '?' : c;
  if (text.size() > kMaxQuotedBytes) out += "...";
  return out + "\"";
}

// The role stored under `alias` (role_grants.role); nullopt for a name this program does not know.
std::optional<Role> role_by_alias(std::string_view alias) {
  const Role *found = std::find_if(std::begin(kRoles), std::end(kRoles),
                                   [&](Role role) { return alias == info(role).alias; });
  return found != std::end(kRoles) ? std::optional<Role>(*found) : std::nullopt;
}

Status require_transaction(DirectoryStore &store, const char *what) {
  if (sqlite3_get_autocommit(store.db().raw()) != 0)
    return make_error(Errc::internal, std::string(what) + " must run inside a transaction");
  return {};
}

// The subject fits the scope: none at enterprise scope, an id otherwise.
Status subject_check(RoleScope scope, std::string_view subject) {
  if (scope == RoleScope::enterprise && !subject.empty())
    return make_error(Errc::bad_request, "enterprise roles have no subject, got " + quoted_excerpt(subject));
  if (scope != RoleScope::enterprise && subject.empty())
    return make_error(Errc::bad_request, std::string(role_scope_name(scope)) + " roles need a " +
                                             role_scope_name(scope) + " id");
  return {};
}

Status subject_exists(DirectoryStore &store, RoleScope scope, std::string_view subject) {
  if (scope == RoleScope::user) {
    auto user = store.user_by_id(subject);
    if (user.ok()) return {};
    if (user.error().code == Errc::not_found)
      return make_error(Errc::not_found, "no user has the id " + quoted_excerpt(subject));
    return user.error();
  }
  if (scope == RoleScope::group) {
    auto stmt = store.db().prepare("SELECT 1 FROM account_groups WHERE id = ?");
    if (!stmt.ok()) return stmt.error();
    stmt->bind(1, subject);
    auto row = stmt->step();
    if (!row.ok()) return row.error();
    if (!*row) return make_error(Errc::not_found, "no account group has the id " + quoted_excerpt(subject));
  }
  return {};
}

} // namespace

const char *role_name(Role role) {
  return info(role).name;
}
const char *role_alias(Role role) {
  return info(role).alias;
}
const char *role_description(Role role) {
  return info(role).description;
}

Result<Role> role_parse(std::string_view text) {
  std::string_view wanted = trim_blanks(text);
  const Role *found = std::find_if(std::begin(kRoles), std::end(kRoles), [&](Role role) {
    return equals_ignoring_case(wanted, info(role).name) || equals_ignoring_case(wanted, info(role).alias);
  });
  if (found != std::end(kRoles)) return *found;
  std::string message = "unknown role " + quoted_excerpt(wanted) + "; the roles are";
  for (Role role : kRoles)
    message += std::string(role == kRoles[0] ? " " : ", ") + info(role).alias + " (" + info(role).name + ")";
  return make_error(Errc::bad_request, message);
}

bool role_is_platform(Role role) {
  return role == Role::enterprise_administrator || role == Role::user_administrator;
}

const char *role_scope_name(RoleScope scope) {
  switch (scope) {
  case RoleScope::enterprise: return "enterprise";
  case RoleScope::group: return "group";
  case RoleScope::user: return "user";
  }
  return "unknown";
}

Result<RoleScope> role_scope_parse(std::string_view text) {
  constexpr RoleScope kScopes[] = {RoleScope::enterprise, RoleScope::group, RoleScope::user};
  const RoleScope *found = std::find_if(std::begin(kScopes), std::end(kScopes),
                                        [&](RoleScope scope) { return text == role_scope_name(scope); });
  if (found != std::end(kScopes)) return *found;
  return make_error(Errc::bad_request, "unknown role scope " + quoted_excerpt(text) +
                                           "; the scopes are enterprise, group, user");
}

Status role_scope_check(Role role, RoleScope scope) {
  if (role == Role::prm_alternative_conversion && scope != RoleScope::enterprise)
    return make_error(Errc::bad_request,
                      std::string(role_name(role)) + " can be granted only as an enterprise role (RL-7)");
  if (role_is_platform(role) && scope != RoleScope::user)
    return make_error(Errc::bad_request, std::string(role_name(role)) +
                                             " is a platform role and can be granted only to a user (RL-15)");
  return {};
}

std::vector<Role> RoleSet::roles() const {
  std::vector<Role> out;
  std::copy_if(std::begin(kRoles), std::end(kRoles), std::back_inserter(out),
               [&](Role role) { return has(role); });
  return out;
}

std::vector<std::string> RoleSet::names() const {
  std::vector<std::string> out;
  for (Role role : kRoles)
    if (has(role)) out.emplace_back(role_name(role));
  std::sort(out.begin(), out.end());
  return out;
}

const char *permission_name(Permission permission) {
  size_t index = static_cast<size_t>(permission);
  return index < kPermissionCount ? kPermissionNames[index] : "unknown";
}

bool role_allows(Role role, Permission permission) {
  return (role_permissions(role) & bit(permission)) != 0;
}

bool roles_allow(const RoleSet &roles, Permission permission) {
  return std::any_of(std::begin(kRoles), std::end(kRoles),
                     [&](Role role) { return roles.has(role) && role_allows(role, permission); });
}

Result<RoleSet> effective_roles(DirectoryStore &store, std::string_view user_id) {
  Status exists = subject_exists(store, RoleScope::user, user_id);
  if (!exists.ok()) return exists.error();
  auto stmt = store.db().prepare("SELECT role FROM role_grants WHERE (scope = 'enterprise' AND subject = '') "
                                 "OR (scope = 'user' AND subject = ?1) "
                                 "OR (scope = 'group' AND subject IN "
                                 "(SELECT group_id FROM group_members WHERE user_id = ?1))");
  if (!stmt.ok()) return stmt.error();
  stmt->bind(1, user_id);
  RoleSet roles;
  for (;;) {
    auto row = stmt->step();
    if (!row.ok()) return row.error();
    if (!*row) break;
    if (auto role = role_by_alias(stmt->col_text(0))) roles.add(*role);
  }
  return roles;
}

Result<bool> role_grant(DirectoryStore &store, RoleScope scope, std::string_view subject, Role role,
                        int64_t now_ms) {
  Status s = require_transaction(store, "role_grant");
  if (s.ok()) s = role_scope_check(role, scope);
  if (s.ok()) s = subject_check(scope, subject);
  if (s.ok()) s = subject_exists(store, scope, subject);
  if (!s.ok()) return s.error();
  auto insert = store.db().prepare(
      "INSERT OR IGNORE INTO role_grants(scope, subject, role, granted_ms) VALUES (?, ?, ?, ?)");
  if (!insert.ok()) return insert.error();
  s = insert->bind(1, std::string_view(role_scope_name(scope)))
          .bind(2, subject)
          .bind(3, std::string_view(role_alias(role)))
          .bind(4, now_ms)
          .run();
  if (!s.ok()) return s.error();
  return store.db().changes() > 0;
}

Result<bool> role_revoke(DirectoryStore &store, RoleScope scope, std::string_view subject, Role role) {
  Status s = require_transaction(store, "role_revoke");
  if (s.ok()) s = subject_check(scope, subject);
  if (!s.ok()) return s.error();
  auto remove = store.db().prepare("DELETE FROM role_grants WHERE scope = ? AND subject = ? AND role = ?");
  if (!remove.ok()) return remove.error();
  s = remove->bind(1, std::string_view(role_scope_name(scope)))
          .bind(2, subject)
          .bind(3, std::string_view(role_alias(role)))
          .run();
  if (!s.ok()) return s.error();
  return store.db().changes() > 0;
}

Result<std::vector<RoleGrant>> role_grants(DirectoryStore &store, std::optional<RoleScope> scope,
                                           std::string_view subject) {
  if (scope) {
    Status s = subject_check(*scope, subject);
    if (!s.ok()) return s.error();
  }
  // ?1 is NULL for every grant. The subject's name is looked up in the table of its scope only:
  // a group id and a user id never share a row.
  auto stmt = store.db().prepare(
      "SELECT r.scope, r.subject, r.role, r.granted_ms, "
      "CASE r.scope WHEN 'group' THEN (SELECT name FROM account_groups WHERE id = r.subject) "
      "WHEN 'user' THEN (SELECT email FROM users WHERE id = r.subject) END "
      "FROM role_grants r WHERE ?1 IS NULL OR (r.scope = ?1 AND r.subject = ?2)");
  if (!stmt.ok()) return stmt.error();
  if (scope)
    stmt->bind(1, std::string_view(role_scope_name(*scope)));
  else
    stmt->bind_null(1);
  stmt->bind(2, subject);
  std::vector<RoleGrant> out;
  for (;;) {
    auto row = stmt->step();
    if (!row.ok()) return row.error();
    if (!*row) break;
    auto row_scope = role_scope_parse(stmt->col_text(0));
    auto role = role_by_alias(stmt->col_text(2));
    if (!row_scope.ok() || !role) continue; // written by a newer program
    out.push_back(RoleGrant{*row_scope, stmt->col_text(1), stmt->col_text(4), *role, stmt->col_int(3)});
  }
  std::sort(out.begin(), out.end(), [](const RoleGrant &a, const RoleGrant &b) {
    return std::make_tuple(a.scope, std::string_view(a.subject_name), std::string_view(a.subject),
                           std::string_view(role_name(a.role))) <
           std::make_tuple(b.scope, std::string_view(b.subject_name), std::string_view(b.subject),
                           std::string_view(role_name(b.role)));
  });
  return out;
}

// The group a request names: its name sanitised before the lookup, as imports do (AMB-8).
Result<AccountGroup> group_named(DirectoryStore &store, const std::string &name) {
  auto sanitised = group_name_sanitize(name);
  if (!sanitised.ok()) return sanitised.error();
  return store.group_by_name(*sanitised);
}


Result<RoleTarget> role_target(DirectoryStore &store, const std::string &scope_text, const std::string &email,
                               const std::string &group) {
  auto scope = role_scope_parse(scope_text);
  if (!scope.ok()) return scope.error();
  RoleTarget target;
  target.scope = *scope;
  switch (*scope) {
  case RoleScope::enterprise:
    if (!email.empty() || !group.empty())
      return make_error(Errc::bad_request, "an enterprise role names no e-mail and no group");
    return target;
  case RoleScope::group: {
    if (group.empty() || !email.empty())
      return make_error(Errc::bad_request, "a group role names a group (and no e-mail)");
    auto g = group_named(store, group);
    if (!g.ok()) return g.error();
    target.subject = g->id;
    target.subject_name = g->name;
    return target;
  }
  case RoleScope::user: break;
  }
  if (email.empty() || !group.empty())
    return make_error(Errc::bad_request, "a user role names a user's e-mail (and no group)");
  auto u = store.user_by_email(email);
  if (!u.ok()) return u.error();
  target.subject = u->id;
  target.subject_name = u->email;
  return target;
}

} // namespace lpm::directory
