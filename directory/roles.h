// Roles and permissions of the directory (SPEC §2.5 RL-1 ... RL-15, GR-5, AMB-14, §5.1).
//
// A role is granted at one of three scopes: the enterprise (every user inherits it), an account
// group (every member inherits it) or a user. A user's effective roles are the union of the three
// (RL-1, GR-5). Ops never test roles directly: each op names one Permission, and the fixed matrix
// in roles.cpp says which roles allow it.
//
// Storage: the role_grants table of DirectoryStore (schema version 2); the role column holds
// role_alias(), the scope column role_scope_name().
#pragma once

#include <bitset>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "directory_store.h"
#include "lpm/error.h"

namespace lpm::directory {

enum class Role : uint8_t {
  prm_document_accounting,    // RL-4
  prm_submission_email,       // RL-5
  prm_submission_mobile,      // RL-6
  prm_alternative_conversion, // RL-7
  prm_administrator,          // RL-8
  prm_helpdesk,               // RL-9
  prm_user,                   // RL-10
  spm_administrator,          // RL-11
  spm_helpdesk,               // RL-12
  spm_user,                   // RL-13
  enterprise_administrator,   // RL-15 (platform)
  user_administrator,         // AMB-14 (platform)
};
inline constexpr size_t kRoleCount = 12;
// Every role, in declaration order, for loops.
inline constexpr Role kRoles[kRoleCount] = {Role::prm_document_accounting,
                                            Role::prm_submission_email,
                                            Role::prm_submission_mobile,
                                            Role::prm_alternative_conversion,
                                            Role::prm_administrator,
                                            Role::prm_helpdesk,
                                            Role::prm_user,
                                            Role::spm_administrator,
                                            Role::spm_helpdesk,
                                            Role::spm_user,
                                            Role::enterprise_administrator,
                                            Role::user_administrator};

// The exact name of the guide ("Print Release Management User", ...); the two platform roles are
// "Enterprise Administrator" (RL-15) and "User Administrator" (AMB-14).
const char *role_name(Role role);
// The short, stable name used on command lines and in the database ("prm-user", "spm-admin", ...).
const char *role_alias(Role role);
// One sentence saying what the role is for (RL-2: shown on request).
const char *role_description(Role role);
// Matches the full name or the alias, case-insensitively, ignoring surrounding white space.
// bad_request listing the valid names otherwise.
Result<Role> role_parse(std::string_view text);
// RL-15: granted by the platform (the directory host's operator, `lpm-directory` on the data
// folder), never through an administrator's op. The ops that grant or revoke must refuse these.
bool role_is_platform(Role role);

enum class RoleScope { enterprise, group, user };
const char *role_scope_name(RoleScope scope); // "enterprise", "group", "user"
// Exact lower-case names only. bad_request otherwise.
Result<RoleScope> role_scope_parse(std::string_view text);
// Where a role may be granted: Alternative File Conversion only at enterprise scope (RL-7); the
// platform roles only to a user, so that no group or enterprise grant makes everyone an
// administrator. bad_request with the reason otherwise.
Status role_scope_check(Role role, RoleScope scope);

// A set of roles, such as a user's effective roles.
class RoleSet {
public:
  bool has(Role role) const { return bits_.test(static_cast<size_t>(role)); }
  void add(Role role) { bits_.set(static_cast<size_t>(role)); }
  void merge(const RoleSet &other) { bits_ |= other.bits_; }
  bool empty() const { return bits_.none(); }
  size_t size() const { return bits_.count(); }
  // The roles held, in declaration order.
  std::vector<Role> roles() const;
  // The full names of the roles held, sorted.
  std::vector<std::string> names() const;
  bool operator==(const RoleSet &other) const = default;

private:
  std::bitset<kRoleCount> bits_;
};

// What ops check. Each op of the directory names one.
enum class Permission : uint8_t {
  release,             // badge in and release one's own (and delegators') jobs (PM-11)
  users_read,          // list/show users, find badges, look at imports
  users_write,         // add/update/delete/import users; account groups and memberships; password policy
  badges_write,        // add/delete/import badges for others (BD-2)
  roles_write,         // grant/revoke roles (non-platform) at any scope
  print_users_manage,  // Print Management users, print groups, quotas (PM-2 ... PM-5)
  delegates_manage,    // assign delegates for other users (PM-7)
  jobs_manage_others,  // delete a job / purge a user's jobs on workstations (PM-6, RL-8, RL-11)
  workstations_read,   // helpdesk view: users with held jobs, workstations, counts (RL-12)
  workstations_manage, // bind/unbind users, deregister workstations, workstation enrollment tokens (RL-11)
  devices_manage,      // printers and accounting servers: enrollment tokens, revocation
  retention_write,     // document retention policy (RT-1, AMB-19)
  packages_build,      // custom client packages (RL-8, RL-11, PK-3)
  history_read,        // users' print-job history (RL-4)
  audit_read,          // the audit log
};
inline constexpr size_t kPermissionCount = 15;
inline constexpr Permission kPermissions[kPermissionCount] = {
    Permission::release,           Permission::users_read,
    Permission::users_write,       Permission::badges_write,
    Permission::roles_write,       Permission::print_users_manage,
    Permission::delegates_manage,  Permission::jobs_manage_others,
    Permission::workstations_read, Permission::workstations_manage,
    Permission::devices_manage,    Permission::retention_write,
    Permission::packages_build,    Permission::history_read,
    Permission::audit_read};

const char *permission_name(Permission permission); // "users_write", ...
bool role_allows(Role role, Permission permission);
bool roles_allow(const RoleSet &roles, Permission permission);

// One row of role_grants, with the subject's current name for display.
struct RoleGrant {
  RoleScope scope = RoleScope::enterprise;
  std::string subject;      // '' at enterprise scope, else a group id or a user id
  std::string subject_name; // '' at enterprise scope, else the group's name or the user's e-mail
                            // ('' too when the group or user is gone)
  Role role = Role::prm_user;
  int64_t granted_ms = 0;
};

// RL-1, GR-5: the union of the enterprise's grants, the grants of every account group the user
// belongs to and the user's own grants. Role names the program does not know (a newer program
// wrote them) are skipped. not_found when there is no such user.
Result<RoleSet> effective_roles(DirectoryStore &store, std::string_view user_id);

// [tx] Grants `role` at `scope` to `subject` ('' at enterprise scope, else a group id or a user
// id); true when added, false when it was already held there. bad_request when role_scope_check
// refuses or the subject does not fit the scope; not_found naming the group or user when it does
// not exist. Platform roles are not refused here: the caller decides who may grant them.
Result<bool> role_grant(DirectoryStore &store, RoleScope scope, std::string_view subject, Role role,
                        int64_t now_ms);
// [tx] true when removed, false when it was not granted there. bad_request when the subject does
// not fit the scope.
Result<bool> role_revoke(DirectoryStore &store, RoleScope scope, std::string_view subject, Role role);
// The grants at one scope to one subject (as for role_grant), or every grant when scope is
// nullopt (subject is then ignored), ordered by scope (enterprise, group, user), subject name,
// then role name. Unknown role names are skipped.
Result<std::vector<RoleGrant>> role_grants(DirectoryStore &store, std::optional<RoleScope> scope,
                                           std::string_view subject);

// The group a request or command names: its name sanitised before the lookup, as imports do
// (AMB-8). not_found when there is none.
Result<AccountGroup> group_named(DirectoryStore &store, const std::string &name);

// Who a grant or revocation names, from a scope's name and an e-mail or a group name (exactly
// the one the scope needs): bad_request for a mismatch, not_found for an unknown user or group.
struct RoleTarget {
  RoleScope scope = RoleScope::enterprise;
  std::string subject;      // '' at enterprise scope, else the group's or the user's id
  std::string subject_name; // '' at enterprise scope, else the group's name or the user's e-mail
};
Result<RoleTarget> role_target(DirectoryStore &store, const std::string &scope_text, const std::string &email,
                               const std::string &group);

} // namespace lpm::directory
