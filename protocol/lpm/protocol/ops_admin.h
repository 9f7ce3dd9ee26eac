// The directory's ops for people (docs/protocol.md, "Directory: logins and administration"):
// logging in and refreshing a session, and the administrative ops, each of which carries the
// caller's session token (lpm/protocol/session.h) in "session" and is checked against the
// caller's effective roles. Same conventions as ops.h.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "lpm/protocol/msg.h"
#include "lpm/protocol/ops.h"
#include "lpm/protocol/ops_print.h"
#include "lpm/protocol/ops_release.h"

namespace lpm::proto {

namespace op {
inline constexpr const char *login = "login";
inline constexpr const char *refresh_session = "refresh-session";
inline constexpr const char *logout = "logout";
inline constexpr const char *whoami = "whoami";
inline constexpr const char *import_start = "import-start"; // upload: the CSV file follows as a chunk stream
inline constexpr const char *import_show = "import-show";
inline constexpr const char *users_list = "users-list";
inline constexpr const char *users_show = "users-show";
inline constexpr const char *users_add = "users-add";
inline constexpr const char *users_delete = "users-delete";
inline constexpr const char *users_password_link = "users-password-link";
inline constexpr const char *password_link_use = "password-link-use"; // needs no session: the link authorises
inline constexpr const char *badges_add = "badges-add";
inline constexpr const char *badges_delete = "badges-delete";
inline constexpr const char *badges_find = "badges-find";
inline constexpr const char *roles_grant = "roles-grant";
inline constexpr const char *roles_revoke = "roles-revoke";
inline constexpr const char *roles_list = "roles-list";
inline constexpr const char *roles_describe = "roles-describe";
inline constexpr const char *groups_create = "groups-create";
inline constexpr const char *groups_delete = "groups-delete";
inline constexpr const char *groups_add_members = "groups-add-members";
inline constexpr const char *groups_remove_members = "groups-remove-members";
inline constexpr const char *groups_list = "groups-list";
inline constexpr const char *password_policy_show = "password-policy-show";
inline constexpr const char *password_policy_set = "password-policy-set";
inline constexpr const char *retention_show = "retention-show";
inline constexpr const char *retention_set = "retention-set";
inline constexpr const char *audit_list = "audit-list";
inline constexpr const char *workstations_list = "workstations-list";
inline constexpr const char *workstations_show = "workstations-show";
inline constexpr const char *workstations_bind = "workstations-bind";
inline constexpr const char *workstations_unbind = "workstations-unbind";
inline constexpr const char *workstations_deregister = "workstations-deregister";
inline constexpr const char *tokens_create = "tokens-create";
inline constexpr const char *tokens_list = "tokens-list";
inline constexpr const char *tokens_revoke = "tokens-revoke";
inline constexpr const char *printers_list = "printers-list";
inline constexpr const char *printers_revoke = "printers-revoke";
// The agent's control socket (lpm -> agent, Unix socket): `lpm login` through the agent, which
// keeps the login's refresh token for the caller's OS account and adds a fresh session to every
// person op it forwards to the directory.
inline constexpr const char *agent_login = "login";
inline constexpr const char *agent_logout = "logout";
inline constexpr const char *agent_forward = "directory";               // {op, args}: a person op
inline constexpr const char *agent_forward_upload = "directory-upload"; // same, with a chunk stream
} // namespace op

// The person ops an agent forwards for a local user (never the machine's own ops: register,
// enroll, badge-in ...). The directory checks the session and the roles of each.
inline constexpr const char *kPersonOps[] = {op::whoami,
                                             op::import_show,
                                             op::users_list,
                                             op::users_show,
                                             op::users_add,
                                             op::users_delete,
                                             op::badges_add,
                                             op::badges_delete,
                                             op::badges_find,
                                             op::roles_grant,
                                             op::roles_revoke,
                                             op::roles_list,
                                             op::roles_describe,
                                             op::groups_create,
                                             op::groups_delete,
                                             op::groups_add_members,
                                             op::groups_remove_members,
                                             op::groups_list,
                                             op::password_policy_show,
                                             op::password_policy_set,
                                             op::retention_show,
                                             op::retention_set,
                                             op::audit_list,
                                             op::workstations_list,
                                             op::workstations_show,
                                             op::workstations_bind,
                                             op::workstations_unbind,
                                             op::workstations_deregister,
                                             op::tokens_create,
                                             op::tokens_list,
                                             op::tokens_revoke,
                                             op::printers_list,
                                             op::printers_revoke,
                                             op::delegates_add,
                                             op::delegates_remove,
                                             op::delegates_list,
                                             op::pin_set,
                                             op::pin_clear,
                                             op::badges_policy_show,
                                             op::badges_policy_set,
                                             op::users_set_federated,
                                             op::print_groups_create,
                                             op::print_groups_update,
                                             op::print_groups_delete,
                                             op::print_groups_list,
                                             op::print_users_list,
                                             op::print_users_set,
                                             op::print_users_remove,
                                             op::print_users_sync,
                                             op::print_policy_show,
                                             op::print_policy_set,
                                             op::quota_show,
                                             op::users_password_link,
                                             op::password_link_use};
inline constexpr const char *kPersonUploadOps[] = {op::import_start};
// The person ops of kPersonOps that need no login: the agent relays them without a session (the
// request carries what authorises it: a password link for someone who has no password yet).
inline constexpr const char *kPersonOpsWithoutSession[] = {op::password_link_use};

// The largest import file (UA-10, AMB-10: 1 MB, inclusive): what `lpm` sends, the agent relays
// and the directory takes.
inline constexpr uint64_t kMaxImportFileBytes = 1048576;

// Caps of these messages.
inline constexpr size_t kMaxPasswordField = 1024; // bytes (the directory refuses longer passwords)
inline constexpr size_t kMaxSessionText = 8192;   // a session token's text form
inline constexpr size_t kMaxRolesListed = 32;
inline constexpr size_t kMaxBatch = 500;         // e-mails, badges or group names in one request
inline constexpr size_t kMaxGrantsListed = 2000; // role grants in one roles-list answer
inline constexpr size_t kMaxGroupsOfUser = 1000; // account groups shown with one user

// login: e-mail and password; from an enrolled workstation (`lpm login` through the agent) or
// console. os_account names the OS account the login binds on a workstation.
struct LoginRequest {
  std::string email;
  std::string password;
  std::string os_account;
  void write(MapWriter &w) const;
  void read(MapReader &r);
};
// What login and refresh-session answer: who, their roles now, a session token (text form) for
// the administrative ops, and the refresh token that gets the next one.
struct SessionGrant {
  std::string user; // UUID
  std::string email;
  std::string display_name;
  std::vector<std::string> roles;
  std::string session;
  int64_t session_expires_ms = 0;
  std::string refresh_token;
  int64_t refresh_expires_ms = 0;
  void write(MapWriter &w) const;
  void read(MapReader &r);
};
// refresh-session and logout.
struct RefreshRequest {
  std::string refresh_token;
  void write(MapWriter &w) const;
  void read(MapReader &r);
};

// Every administrative request carries the session.
struct SessionRequest {
  std::string session;
  void write(MapWriter &w) const;
  void read(MapReader &r);
};
struct WhoamiResult {
  std::string user;
  std::string email;
  std::vector<std::string> roles;
  void write(MapWriter &w) const;
  void read(MapReader &r);
};

// Control socket: login (the agent adds the caller's OS account) and what it answers.
struct AgentLoginRequest {
  std::string email;
  std::string password;
  void write(MapWriter &w) const;
  void read(MapReader &r);
};
struct AgentLoginResult {
  std::string user;
  std::string email;
  std::string display_name;
  std::string os_account; // the OS account now bound to this user on this workstation
  std::vector<std::string> roles;
  void write(MapWriter &w) const;
  void read(MapReader &r);
};
// Control socket: a person op for the directory. `args` is the op's request without "session"
// (the agent adds it); the reply is the directory's result, as it came.
struct ForwardRequest {
  std::string op;
  MapWriter args;
  uint64_t size = 0; // directory-upload: the stream's announced size
  void write(MapWriter &w) const;
  // Reads op and size; the args map itself is taken raw by the agent (MapReader::find("args")).
  void read(MapReader &r);
};

struct ImportStartRequest {
  std::string session;
  std::string kind; // "users", "badges" or "print-users"
  std::string file_name;
  uint64_t size = 0; // announced; the stream's end frame is what counts
  bool strict = false;
  bool password_links = false;
  void write(MapWriter &w) const;
  void read(MapReader &r);
};
struct ImportStartResult {
  std::string import; // id; the import runs on (import-show follows it)
  uint64_t records = 0;
  void write(MapWriter &w) const;
  void read(MapReader &r);
};

struct ImportShowRequest {
  std::string session;
  std::string import;
  PageRequest page; // after: a record number
  void write(MapWriter &w) const;
  void read(MapReader &r);
};
struct ImportLogEntry {
  int64_t record = 0;
  int64_t line = 0;
  std::string key;
  std::string result;
  std::string reason;
};
struct ImportShowResult {
  std::string import;
  std::string kind;
  std::string actor;
  std::string file_name;
  uint64_t records = 0;
  uint64_t applied = 0;
  uint64_t failed = 0;
  uint64_t warnings = 0;
  std::string state; // running, done
  int64_t started_ms = 0;
  int64_t finished_ms = 0;
  std::vector<ImportLogEntry> log;
  std::string next;
  void write(MapWriter &w) const;
  void read(MapReader &r);
};

struct UsersListRequest {
  std::string session;
  PageRequest page; // after: an e-mail
  void write(MapWriter &w) const;
  void read(MapReader &r);
};
struct UserEntry {
  std::string id;
  std::string email;
  std::string first_name;
  std::string last_name;
  std::string display_name;
  std::string short_name;
  std::string department;
  std::string cost_center;
  std::string custom_attributes; // canonical JSON object
  bool has_password = false;
  int64_t created_ms = 0;
};
struct UsersListResult {
  std::vector<UserEntry> users;
  std::string next;
  void write(MapWriter &w) const;
  void read(MapReader &r);
};

// ---- administration (docs/protocol.md §5.1.1; the directory's directory_service_admin.cpp) ----

// What a batch op did with each item it was given, in the request's order.
struct ItemOutcome {
  std::string key;    // the e-mail, badge or group name as given
  std::string result; // "deleted", "added", "removed", "unchanged" or "failed"
  std::string reason; // why it failed or changed nothing; may be empty
};
struct BatchResult {
  std::vector<ItemOutcome> items;
  void write(MapWriter &w) const;
  void read(MapReader &r);
};

// users-show: one user, by complete e-mail.
struct UsersShowRequest {
  std::string session;
  std::string email;
  void write(MapWriter &w) const;
  void read(MapReader &r);
};
struct UserBadge {
  std::string badge;
  bool temporary = false;
  int64_t created_ms = 0;
  int64_t expires_ms = 0; // temporary badges only
};
struct UsersShowResult {
  UserEntry user;
  std::vector<std::string> groups;          // account groups, sorted
  std::vector<UserBadge> badges;            // permanent first
  std::vector<std::string> roles;           // role names granted to the user itself
  std::vector<std::string> effective_roles; // with the enterprise's and the groups' (RL-1)
  bool federated = false;                   // badges and password from the corporate directory (BD-5)
  bool pin_set = false;                     // has a badge PIN (the second factor, when asked)
  void write(MapWriter &w) const;
  void read(MapReader &r);
};

// users-add (UA-4): without a password the user cannot log in until one is set.
struct UsersAddRequest {
  std::string session;
  std::string email;
  std::string first_name;
  std::string last_name;
  std::string display_name;
  std::string short_name;
  std::string department;
  std::string cost_center;
  std::string password; // optional; checked against the password policy (UA-3)
  void write(MapWriter &w) const;
  void read(MapReader &r);
};
struct UsersAddResult {
  UserEntry user;
  // Without a password: "mailing" (a password link is being e-mailed to the user) or "unsent"
  // (the directory has no mail command: users-password-link gives one). "" with a password.
  std::string password_link;
  void write(MapWriter &w) const;
  void read(MapReader &r);
};

// users-password-link (UA-4): (re)issues a password link to a user, voiding their older unused
// ones. With the directory's mail command the link is e-mailed to the user and only the outcome
// comes back; without one the answer carries the link, for the administrator to hand over.
struct UsersPasswordLinkRequest {
  std::string session;
  std::string email;
  void write(MapWriter &w) const;
  void read(MapReader &r);
};
struct UsersPasswordLinkResult {
  std::string email;
  int64_t expires_ms = 0;
  bool mailed = false;
  std::string mail_error; // why mailing failed; "" when mailed or when there is no mail command
  std::string link;       // the link's text, only when the directory has no mail command
  void write(MapWriter &w) const;
  void read(MapReader &r);
};

// password-link-use (UA-4, UA-7): sets the password of the link's user (checked against the
// password policy, history included) and spends the link. No session: the link authorises.
struct PasswordLinkUseRequest {
  std::string link;
  std::string password;
  void write(MapWriter &w) const;
  void read(MapReader &r);
};
struct PasswordLinkUseResult {
  std::string email; // whose password was set: they log in with it now
  void write(MapWriter &w) const;
  void read(MapReader &r);
};

// users-delete (UA-6): each user with their badges, memberships, role grants and holdings.
struct UsersDeleteRequest {
  std::string session;
  std::vector<std::string> emails; // 1 ... kMaxBatch
  void write(MapWriter &w) const;
  void read(MapReader &r);
};

// badges-add (BD-2, BD-3): the badge normalised as at badge-in (AMB-15).
struct BadgesAddRequest {
  std::string session;
  std::string badge;
  std::string email;
  bool temporary = false;
  void write(MapWriter &w) const;
  void read(MapReader &r);
};
struct BadgesAddResult {
  std::string badge; // as stored
  std::string email;
  bool temporary = false;
  int64_t expires_ms = 0;
  std::string replaced; // the user's badge of the same kind this one replaced (AMB-13), or ""
  void write(MapWriter &w) const;
  void read(MapReader &r);
};
struct BadgesDeleteRequest {
  std::string session;
  std::vector<std::string> badges; // 1 ... kMaxBatch
  void write(MapWriter &w) const;
  void read(MapReader &r);
};
// badges-find (BD-6, TS-4): a complete e-mail or a complete badge id, never a part of one.
struct BadgesFindRequest {
  std::string session;
  std::string query;
  void write(MapWriter &w) const;
  void read(MapReader &r);
};
struct BadgesFindResult {
  std::string user;
  std::string email;
  std::vector<UserBadge> badges;
  void write(MapWriter &w) const;
  void read(MapReader &r);
};

// roles-grant and roles-revoke: a role (name or alias) at a scope ("enterprise", "group",
// "user"); the subject is the group's name or the user's e-mail.
struct RoleChangeRequest {
  std::string session;
  std::string role;
  std::string scope;
  std::string email; // user scope
  std::string group; // group scope
  void write(MapWriter &w) const;
  void read(MapReader &r);
};
struct RoleChangeResult {
  std::string role; // full name
  std::string scope;
  std::string subject;  // e-mail, group name, or "" at enterprise scope
  bool changed = false; // false: it was already granted (or not granted, for a revoke)
  void write(MapWriter &w) const;
  void read(MapReader &r);
};
// roles-list: every grant, or those of one scope and subject (scope "" for every grant).
struct RolesListRequest {
  std::string session;
  std::string scope;
  std::string email;
  std::string group;
  void write(MapWriter &w) const;
  void read(MapReader &r);
};
struct RoleGrantEntry {
  std::string scope;
  std::string subject; // e-mail, group name, or "" at enterprise scope
  std::string role;    // full name
  std::string alias;
  int64_t granted_ms = 0;
};
struct RolesListResult {
  std::vector<RoleGrantEntry> grants;
  void write(MapWriter &w) const;
  void read(MapReader &r);
};
// roles-describe (RL-2): SessionRequest; every role the directory knows.
struct RoleInfo {
  std::string name;
  std::string alias;
  std::string description;
  bool platform = false; // granted only by the platform (RL-15)
};
struct RolesDescribeResult {
  std::vector<RoleInfo> roles;
  void write(MapWriter &w) const;
  void read(MapReader &r);
};

// groups-create (GR-2, AMB-8): the name sanitised as imports do.
struct GroupsCreateRequest {
  std::string session;
  std::string name;
  void write(MapWriter &w) const;
  void read(MapReader &r);
};
struct GroupsCreateResult {
  std::string id;
  std::string name;         // as created
  std::string renamed_from; // the name asked for when sanitising changed it, else ""
  void write(MapWriter &w) const;
  void read(MapReader &r);
};
// groups-delete (GR-3): memberships and the group's role grants go; users stay.
struct GroupsDeleteRequest {
  std::string session;
  std::vector<std::string> names; // 1 ... kMaxBatch
  void write(MapWriter &w) const;
  void read(MapReader &r);
};
// groups-add-members and groups-remove-members (GR-4).
struct GroupMembersRequest {
  std::string session;
  std::string name;
  std::vector<std::string> emails; // 1 ... kMaxBatch
  void write(MapWriter &w) const;
  void read(MapReader &r);
};
// groups-list: groups ordered by name (case-insensitively), paged by name.
struct GroupsListRequest {
  std::string session;
  std::string after;    // a group name (PageRequest's cursor is too short for one)
  uint64_t limit = 100; // 1 ... kMaxPage
  void write(MapWriter &w) const;
  void read(MapReader &r);
};
struct GroupEntry {
  std::string id;
  std::string name;
  uint64_t members = 0;
  int64_t created_ms = 0;
};
struct GroupsListResult {
  std::vector<GroupEntry> groups;
  std::string next;
  void write(MapWriter &w) const;
  void read(MapReader &r);
};

// password-policy-show (SessionRequest) and password-policy-set (UA-3): the three values
// together, saved in one update.
struct PasswordPolicyResult {
  uint32_t min_length = 0;
  uint32_t complexity = 0;
  uint32_t history = 0;
  void write(MapWriter &w) const;
  void read(MapReader &r);
};
struct PasswordPolicySetRequest {
  std::string session;
  uint32_t min_length = 0;
  uint32_t complexity = 0;
  uint32_t history = 0;
  void write(MapWriter &w) const;
  void read(MapReader &r);
};

// retention-show (SessionRequest) and retention-set: the enterprise's document retention policy
// (RT-1, RT-2, AMB-19): how long released and unreleased jobs stay, in hours, each one of
// kRetentionChoicesHours (0: no enterprise limit). Saved together, in one update. Agents get it
// with register replies and keep no job longer than it (docs/retention.md).
inline constexpr uint32_t kRetentionChoicesHours[] = {0, 1, 2, 4, 8, 12, 24, 48, 72, 168, 336, 720};
bool retention_choice_valid(uint32_t hours);
struct RetentionPolicyResult {
  uint32_t released_hours = 0;
  uint32_t unreleased_hours = 0;
  void write(MapWriter &w) const;
  void read(MapReader &r);
};
struct RetentionSetRequest {
  std::string session;
  uint32_t released_hours = 0;
  uint32_t unreleased_hours = 0;
  void write(MapWriter &w) const;
  void read(MapReader &r);
};

// audit-list: entries oldest first. after >= 0: those with an id above it; after < 0 (the
// default): the newest `limit`.
struct AuditListRequest {
  std::string session;
  int64_t after = -1;
  uint64_t limit = 100; // 1 ... kMaxPage
  void write(MapWriter &w) const;
  void read(MapReader &r);
};
struct AuditRow {
  int64_t id = 0;
  int64_t at_ms = 0;
  std::string actor;
  std::string action;
  std::string detail;
};
struct AuditListResult {
  std::vector<AuditRow> entries;
  int64_t next = 0; // the `after` of the next page, 0 when this one was the last
  void write(MapWriter &w) const;
  void read(MapReader &r);
};

// ---- workstations, enrollment tokens and printers (§5.1.1; directory_service_devices.cpp) ----

// A workstation in the helpdesk view (RL-12): counts and hosts only, never a job's title.
struct WorkstationHeld {
  std::string email;
  uint64_t jobs = 0;
};
struct WorkstationEntry {
  std::string id;
  std::string name;
  std::string seen_address;
  int64_t last_seen_ms = 0;             // 0: never registered
  uint64_t held_jobs = 0;               // over every user, as last registered
  std::vector<std::string> bound_users; // "e-mail (login|admin)"
  std::vector<WorkstationHeld> held;    // users with held jobs here (live lease), by count
};
// workstations-list (SessionRequest) and workstations-show answer this.
struct WorkstationsResult {
  std::vector<WorkstationEntry> workstations;
  void write(MapWriter &w) const;
  void read(MapReader &r);
};
inline constexpr size_t kMaxWorkstationsListed = 10000;
inline constexpr size_t kMaxBoundListed = 1000; // bound users or holders shown per workstation

// workstations-show: one workstation (id or name), or the workstations holding a user's jobs
// (email): exactly one of the two.
struct WorkstationsShowRequest {
  std::string session;
  std::string workstation;
  std::string email;
  void write(MapWriter &w) const;
  void read(MapReader &r);
};

// workstations-bind, workstations-unbind (binding "admin"), workstations-deregister (email "").
struct WorkstationChangeRequest {
  std::string session;
  std::string workstation; // id or name
  std::string email;
  void write(MapWriter &w) const;
  void read(MapReader &r);
};
struct WorkstationChangeResult {
  std::string id;
  std::string name;
  std::string email;
  bool changed = false; // false: already bound (or not bound, for an unbind)
  void write(MapWriter &w) const;
  void read(MapReader &r);
};

// tokens-create: the token's text is in this answer only (the directory keeps its hash).
struct TokensCreateRequest {
  std::string session;
  std::string kind; // workstation, printer, accounting, console
  int64_t uses = 1; // 1 ... 1000000
  int64_t ttl_hours = 24; // 1 ... 87600
  void write(MapWriter &w) const;
  void read(MapReader &r);
};
struct TokensCreateResult {
  std::string token;
  std::string kind;
  int64_t uses = 0;
  int64_t expires_ms = 0;
  std::string id;                    // what tokens-list and tokens-revoke call it
  std::string directory_fingerprint; // the directory's TLS key, which the device must pin
  std::string directory_address;     // HOST:PORT devices reach it at; "" when not configured
  void write(MapWriter &w) const;
  void read(MapReader &r);
};

// tokens-list: tokens still usable, or every token with `all`, newest first (never their text).
struct TokensListRequest {
  std::string session;
  bool all = false;
  void write(MapWriter &w) const;
  void read(MapReader &r);
};
struct TokenEntry {
  std::string id;
  std::string kind;
  int64_t uses = 0;
  int64_t uses_left = 0;
  int64_t created_ms = 0;
  int64_t expires_ms = 0;
  int64_t revoked_ms = 0;
  std::string created_by; // e-mail or actor of who created it
};
struct TokensListResult {
  std::vector<TokenEntry> tokens;
  void write(MapWriter &w) const;
  void read(MapReader &r);
};
inline constexpr size_t kMaxTokensListed = 1000;
// tokens-revoke: tokens by id (or by their text); answers a BatchResult ("revoked").
struct TokensRevokeRequest {
  std::string session;
  std::vector<std::string> tokens; // 1 ... kMaxBatch
  void write(MapWriter &w) const;
  void read(MapReader &r);
};

// printers-list (SessionRequest): enrolled release stations not revoked, by id.
struct PrinterEntry {
  std::string id;
  std::string name;
  std::string fingerprint;
  int64_t enrolled_ms = 0;
};
struct PrintersListResult {
  std::vector<PrinterEntry> printers;
  void write(MapWriter &w) const;
  void read(MapReader &r);
};
inline constexpr size_t kMaxPrintersListed = 10000;
// printers-revoke: printers by id or name; answers a BatchResult ("revoked").
struct PrintersRevokeRequest {
  std::string session;
  std::vector<std::string> printers; // 1 ... kMaxBatch
  void write(MapWriter &w) const;
  void read(MapReader &r);
};

} // namespace lpm::proto
