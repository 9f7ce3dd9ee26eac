// The administrative commands (admin_commands.cpp): `lpm users show|add|delete|password-link`,
// `password set` (a person without a login, with a password link),
// `badges add|delete|find`, `roles grant|revoke|list|describe`,
// `groups create|delete|add|remove|list`, `password-policy show|set` and `audit`. Each is a
// person op the local agent forwards to the directory with the caller's session (like
// `lpm users list`, directory_commands.h); the directory checks the caller's roles.
//
// Output: text for people by default, --json one object per line. Exit codes as every `lpm`
// command: 0; 1 after one line "lpm: <code>: <message>" on stderr (a batch command: when any
// item failed, after a line per item on stdout); 2 for usage errors.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "lpm/csv_export.h"
#include "lpm/error.h"
#include "lpm/protocol/ops_admin.h"

namespace CLI {
class App;
}

namespace lpm::cli {

struct UsersShowArgs {
  std::string socket;
  std::string email;
  bool json = false;
};
// One user: profile, groups, badges, roles granted to them and effective roles (users-show).
int command_users_show(const UsersShowArgs &args);

struct UsersAddArgs {
  std::string socket;
  proto::UsersAddRequest user; // without session
  bool password_stdin = false; // the password from the first line of stdin; else none is set
  bool json = false;
};
// Creates a user (users-add); prints "created user <email> (<id>)", and that a password-change
// link is due when no password was given.
int command_users_add(const UsersAddArgs &args);

struct UsersDeleteArgs {
  std::string socket;
  std::vector<std::string> emails;
  bool yes = false; // no confirmation asked
  bool json = false;
};
// Deletes users (users-delete) after "Delete N users? [y/N]" on the terminal; without a terminal
// only with --yes. A line per user: "deleted E" or "failed E: why".
int command_users_delete(const UsersDeleteArgs &args);

struct UsersPasswordLinkArgs {
  std::string socket;
  std::string email;
  bool json = false;
};
// (Re)issues a password link to a user (users-password-link, UA-4): says it was e-mailed to them,
// or, when the directory has no mail command, prints the link and the command the user runs,
// for the administrator to hand over.
int command_users_password_link(const UsersPasswordLinkArgs &args);

struct PasswordSetArgs {
  std::string socket;
  std::string link;            // the password link the user was sent
  bool password_stdin = false; // the new password from the first line of stdin; else asked twice
};
// `lpm password set --link L` (password-link-use): sets the password of the link's user. Needs
// no login: the agent relays it without a session. Prints "password set for <email>: ...".
int command_password_set(const PasswordSetArgs &args);

struct BadgesAddArgs {
  std::string socket;
  std::string badge;
  std::string email;
  bool temporary = false;
  bool json = false;
};
// Registers a badge for a user (badges-add); says which badge it replaced (AMB-13).
int command_badges_add(const BadgesAddArgs &args);

struct BadgesDeleteArgs {
  std::string socket;
  std::vector<std::string> badges;
  bool json = false;
};
// Deletes badges (badges-delete); a line per badge.
int command_badges_delete(const BadgesDeleteArgs &args);

struct BadgesFindArgs {
  std::string socket;
  std::string query; // a complete e-mail or a complete badge id (TS-4)
  bool json = false;
};
// The user and badges found (badges-find).
int command_badges_find(const BadgesFindArgs &args);

// Who a role command names: exactly one of these.
struct RoleSubjectArgs {
  std::string email;
  std::string group;
  bool enterprise = false;
};

struct RolesChangeArgs {
  std::string socket;
  std::string role;
  RoleSubjectArgs to;
  bool grant = true; // false: revoke
  bool json = false;
};
// roles-grant / roles-revoke; prints "granted <role> at <scope> scope to <subject>".
int command_roles_change(const RolesChangeArgs &args);

struct RolesListArgs {
  std::string socket;
  RoleSubjectArgs of; // none: every grant
  bool json = false;
};
// Role grants as a table: SCOPE, TO, ROLE (roles-list).
int command_roles_list(const RolesListArgs &args);

struct RolesDescribeArgs {
  std::string socket;
  std::string role; // a name or alias; empty: every role
  bool json = false;
};
// Every role (or one) with its alias and description (roles-describe, RL-2).
int command_roles_describe(const RolesDescribeArgs &args);

struct GroupsCreateArgs {
  std::string socket;
  std::string name;
  bool json = false;
};
// Creates an account group (groups-create); says when its name was sanitised (AMB-8).
int command_groups_create(const GroupsCreateArgs &args);

struct GroupsDeleteArgs {
  std::string socket;
  std::vector<std::string> names;
  bool json = false;
};
// Deletes account groups, never their users (groups-delete, GR-3); a line per group.
int command_groups_delete(const GroupsDeleteArgs &args);

struct GroupsMembersArgs {
  std::string socket;
  std::string name;
  std::vector<std::string> emails;
  bool add = true; // false: remove
  bool json = false;
};
// groups-add-members / groups-remove-members (GR-4); a line per e-mail.
int command_groups_members(const GroupsMembersArgs &args);

struct GroupsListArgs {
  std::string socket;
  bool json = false;
};
// Every account group: NAME, MEMBERS (groups-list, page after page).
int command_groups_list(const GroupsListArgs &args);

struct PasswordPolicyArgs {
  std::string socket;
  std::optional<proto::PasswordPolicySetRequest> set; // without session; nullopt: show
  bool json = false;
};
// password-policy-show or -set (UA-3): prints "min-length N", "complexity N", "history N".
int command_password_policy(const PasswordPolicyArgs &args);

struct AuditArgs {
  std::string socket;
  uint64_t limit = 0;           // 0: kAuditDefaultLimit newest, or every entry with --after/--all
  std::optional<int64_t> after; // entries after this id, oldest first
  bool all = false;             // every entry (as --after 0)
  std::string csv;              // a file to write instead of printing
  bool json = false;
};
inline constexpr uint64_t kAuditDefaultLimit = 20;
// The audit log (audit-list): ID, TIME (UTC), ACTOR, ACTION, DETAIL; by default the newest
// entries, oldest first. --csv FILE writes UTF-8 with a BOM, RFC 4180 quoting, cells that a
// spreadsheet would take for a formula neutralised (AMB-22); prints "wrote N entries to FILE".
int command_audit(const AuditArgs &args);

// The commands' place on the command line: added to `app` and to its `users` and `badges`
// commands (app.cpp makes those), then run() once parsing is done. The object holds the parsed
// values, so it lives as long as the parse.
class AdminCommands {
public:
  AdminCommands(CLI::App &app, CLI::App &users, CLI::App &badges, const std::string &socket_help);
  // The exit code of the command that was parsed, or nullopt when it was none of these.
  std::optional<int> run();

private:
  UsersShowArgs users_show_;
  UsersAddArgs users_add_;
  UsersDeleteArgs users_delete_;
  UsersPasswordLinkArgs users_password_link_;
  PasswordSetArgs password_set_;
  BadgesAddArgs badges_add_;
  BadgesDeleteArgs badges_delete_;
  BadgesFindArgs badges_find_;
  RolesChangeArgs roles_grant_, roles_revoke_;
  RolesListArgs roles_list_;
  RolesDescribeArgs roles_describe_;
  GroupsCreateArgs groups_create_;
  GroupsDeleteArgs groups_delete_;
  GroupsMembersArgs groups_add_, groups_remove_;
  GroupsListArgs groups_list_;
  PasswordPolicyArgs policy_show_, policy_set_;
  proto::PasswordPolicySetRequest policy_values_;
  AuditArgs audit_;
  int64_t audit_after_ = -1;
  std::vector<std::pair<CLI::App *, int (*)(AdminCommands &)>> commands_;
};

// ---- what the commands show (for tests) ----

// "2024-05-01 12:34:56 UTC"; "-" for 0.
std::string utc_text(int64_t ms);
// "1234 (permanent)", "T-9 (temporary, expires 2024-05-02 10:00:00 UTC)" or "..., expired ...".
std::string badge_text(const proto::UserBadge &badge, int64_t now_ms);
// The users show text: one "label: value" line each.
std::string user_show_text(const proto::UsersShowResult &shown, int64_t now_ms);
std::string user_show_json(const proto::UsersShowResult &shown);
// A batch command's line for one item: "deleted bob@example.com", "failed x: why",
// "unchanged bob@example.com: already a member".
std::string batch_line(const proto::ItemOutcome &item);
// Prints a batch's outcomes (batch_line each, or JSON lines: key, result, reason); returns 1
// after "lpm: N of M <items_name> failed" on stderr when any item failed, else 0.
int report_batch(const proto::BatchResult &result, bool json, const char *items_name);

// CSV export (AMB-22, DESIGN §6): lpm/csv_export.h, shared with the accounting reports.
using lpm::csv_cell;
using lpm::csv_record;
using lpm::kUtf8Bom;
std::string audit_csv_header();
std::string audit_csv_record(const proto::AuditRow &entry);

// Asks `prompt` on the terminal tty_fd; true for "y" or "yes" (any case), false for anything
// else. Errors as prompt_line (password_prompt.h).
Result<bool> confirm_on(int tty_fd, const std::string &prompt);

} // namespace lpm::cli
