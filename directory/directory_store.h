// The directory's durable state (DESIGN §3, §4): users, badges, enrollment tokens, enrolled keys,
// workstations and who holds jobs for whom, and the append-only audit log. SQLite today; the
// service and the command line only see this interface, so PostgreSQL can sit behind it later.
//
// Every call is synchronous and runs on the caller's thread. Times are passed in (now_ms) so the
// caller owns the clock and tests can move it.
#pragma once

#include <string.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lpm/error.h"
#include "lpm/protocol/ops.h"
#include "lpm/protocol/ops_offline.h"
#include "passwords.h"
#include "lpm/sqlite.h"

namespace lpm::directory {

// A workstation's holdings count for badge-in only while it registered this recently.
inline constexpr int64_t kRegisterLeaseMs = 120 * 1000;
// What register replies tell the agent: heartbeat at half the lease, so one lost beat is harmless.
inline constexpr uint64_t kHeartbeatS = 60;
// Caps on what an administrator or a peer may store.
inline constexpr size_t kMaxEmailBytes = 254;
inline constexpr size_t kMaxDisplayNameBytes = 256;
inline constexpr size_t kMaxBadgeBytes = proto::kMaxBadgeBytes;
// A ticket names at most this many workstations (protocol/ticket.cpp refuses more).
inline constexpr size_t kMaxWorkstationsPerTicket = proto::kMaxTicketWorkstations;

// Caps on a user's free-text fields (first/last/display/short name, department, cost center).
inline constexpr size_t kMaxUserFieldBytes = 256;
// Account and print group names (GR-7, AMB-8).
inline constexpr size_t kMaxGroupNameChars = 80;
// Temporary badges expire this long after registration (BD-4).
inline constexpr int64_t kTemporaryBadgeMs = 24 * 60 * 60 * 1000;

// A person of the enterprise (UA-4, UA-16 ... UA-23). Text fields are empty when unset; the
// display name is never derived from the others (UA-17): who shows a user falls back to the e-mail.
struct User {
  std::string id; // UUIDv7
  std::string email;
  std::string first_name;
  std::string last_name;
  std::string display_name;
  std::string short_name;
  std::string department;
  std::string cost_center;
  std::string custom_attributes = "{}"; // canonical JSON object of strings (AMB-7)
  bool has_password = false;
  int64_t created_ms = 0;
  int64_t updated_ms = 0;
};

// The profile fields of a user, by position, so imports and commands can name and set them alike.
enum class UserField { first_name, last_name, display_name, short_name, department, cost_center };
inline constexpr UserField kUserFields[] = {UserField::first_name,   UserField::last_name,
                                            UserField::display_name, UserField::short_name,
                                            UserField::department,   UserField::cost_center};
const char *user_field_name(UserField field); // "first_name", ...
std::string &user_field(User &user, UserField field);

struct AccountGroup {
  std::string id; // UUIDv7
  std::string name;
  int64_t created_ms = 0;
};
// A group as groups_list shows it.
struct GroupSummary {
  AccountGroup group;
  int64_t members = 0;
};

// A badge as the reader delivers it, after the enterprise's rules (TS-3, AMB-15). A user has at
// most one permanent and one unexpired temporary badge (BD-13, AMB-13).
struct Badge {
  std::string badge;
  std::string user_id;
  bool temporary = false;
  int64_t created_ms = 0;
  int64_t expires_ms = 0; // temporary badges only; 0 for permanent ones
};

// The enterprise's badge normalisation (AMB-15): characters readers add around the id (start and
// end delimiters), removed from both ends, identically at registration and at badge-in. Hex
// letters always compare case-insensitively; hexadecimal and decimal are never converted.
struct BadgeRules {
  std::string strip_characters;
};

// An enrollment token as administrators list it (never its text: only the hash is kept).
struct TokenInfo {
  std::string id; // the first 16 hex digits of the token's SHA-256 (as the audit shows it)
  proto::EnrollKind kind = proto::EnrollKind::workstation;
  int64_t uses = 0; // granted at creation
  int64_t uses_left = 0;
  int64_t created_ms = 0;
  int64_t expires_ms = 0;
  int64_t revoked_ms = 0; // 0: not revoked
  std::string actor;      // who created it
};

struct EnrolledEntry {
  std::string id; // UUIDv7
  proto::EnrollKind kind = proto::EnrollKind::workstation;
  std::string name;
  proto::Fingerprint fingerprint;
  int64_t enrolled_ms = 0;
  bool revoked = false;
};

// What one register call reports, with the address the directory itself saw.
struct WorkstationReport {
  std::string id;
  uint16_t port = 0;
  std::vector<std::string> reported_addresses; // IP literals, as the agent sees itself
  std::string seen_address;                    // IP of the connection, no port
  std::vector<proto::Holding> holdings;        // the full set; unlisted users or jobs == 0: withdrawn
};

// A holding a register call named that the directory did not take.
struct RefusedHolding {
  std::string user;
  std::string reason; // "unknown user" or "not bound to this workstation"
};

// A workstation as administrators and helpdesk see it.
struct WorkstationInfo {
  std::string id;
  std::string name;
  std::string seen_address;
  int64_t last_seen_ms = 0; // 0: never registered
  uint64_t held_jobs = 0;   // over every user, as last registered
  std::vector<std::string> bound_users; // e-mail (how): "a@b.c (login)", "d@e.f (admin)"
};

// A workstation holding jobs for a user, with a live lease.
struct Holder {
  std::string id;
  std::string name;
  proto::Fingerprint fingerprint;
  uint16_t port = 0;
  std::string seen_address;
  std::vector<std::string> reported_addresses;
  uint64_t jobs = 0;
  int64_t last_seen_ms = 0;
};

// An import of users or badges from a CSV file (UA-7, BD-7): a job with an id, run record by
// record; its log has a row per record.
struct ImportInfo {
  std::string id; // UUIDv7
  std::string kind; // "users", "badges" or "print-users"
  std::string actor;
  std::string file_name;
  std::string options; // JSON object (directory_import.h)
  int64_t records = 0; // data records in the file (the header excluded)
  int64_t next_record = 0; // number of the next record to process (records are numbered from 2)
  int64_t applied = 0;
  int64_t failed = 0;
  int64_t warnings = 0;
  std::string state; // "running" or "done"
  int64_t started_ms = 0;
  int64_t finished_ms = 0;
};

struct ImportLogRow {
  int64_t record = 0; // the record's number in the file (the header is 1)
  int64_t line = 0;   // the physical line it starts on
  std::string key;    // e-mail or badge, as far as the record gave one
  std::string result; // "created", "updated", "deleted" or "failed"
  std::string reason; // why it failed, or the warnings of an applied record; may be empty
};

// A print group of Print Management (GR-6 ... GR-9, AMB-17): quotas and colour for many users,
// and the group reports know. Unrelated to account groups (GR-1): it grants no role.
struct PrintGroup {
  std::string id; // UUIDv7
  std::string name;
  std::optional<int64_t> quota; // impressions per calendar month; nullopt: no quota
  bool color_allowed = false;
  int64_t created_ms = 0;
  int64_t deleted_ms = 0; // 0: live; else deleted, kept for reports (GR-9, RP-11)
};
// A print group as print_groups_list shows it.
struct PrintGroupSummary {
  PrintGroup group;
  int64_t members = 0;
};
// What one edit of a print group changes (GR-8: saved explicitly, all of it or nothing); an
// unset member changes nothing.
struct PrintGroupEdit {
  std::optional<std::string> name;             // sanitised already (group_name_sanitize)
  std::optional<std::optional<int64_t>> quota; // a quota, or nullopt inside: no quota
  std::optional<bool> color_allowed;
};
// A user of Print Management's own list (PM-2), with their print group (at most one, AMB-17).
struct PmUser {
  std::string user_id;
  std::string email;
  std::string display_name;
  std::string print_group_id; // "" when in no print group
  std::string print_group_name;
  std::optional<int64_t> quota;       // the user's own (it overrides the group's); nullopt: the group's
  std::optional<int64_t> group_quota; // the print group's; nullopt: none (or no group)
  bool color_allowed = false;         // the print group's; false without one (AMB-17)
  int64_t imported_ms = 0;
};
// Who "Import from User Accounts" adds and removes (PM-3, AMB-18).
struct PmSyncResult {
  std::vector<User> added;      // qualifying users who were not in Print Management, by e-mail
  std::vector<User> removed;    // Print Management users who no longer qualify, by e-mail
  int64_t pm_users = 0;         // Print Management users afterwards
  int64_t enterprise_users = 0; // every user of User Accounts
};
// The largest quota a print group or a user may have (impressions per calendar month).
inline constexpr int64_t kMaxPrintQuota = 1'000'000'000;
// The enterprise's print policy (AMB-17): quotas run in calendar months of quota_zone; a colour
// job of a user who may not print in colour is printed in monochrome or refused.
struct PrintPolicy {
  std::string quota_zone = "UTC";
  bool color_refused = false; // false: printed in monochrome
};
// What Print Management says of one user at badge-in (AMB-17). A user it does not manage (not
// imported, PM-2) is not counted and has no limits.
struct QuotaLimits {
  bool counted = false;
  std::optional<int64_t> quota; // the user's own, else their print group's; nullopt: none
  bool color_allowed = true;    // counted users: their print group's (false in none)
};
// One claim of a printed job charged to its owner's month (settle-quota).
struct QuotaCharge {
  std::string reservation;
  std::string user_id;
  std::string workstation;
  std::string job;
  std::string claim;
  std::string month; // "YYYY-MM"
  int64_t impressions = 0;
  int64_t now_ms = 0;
};

// A password link (UA-4, UA-7, UA-15): a secret e-mailed to a user who has no password (or must
// set a new one), good once until it expires. The store keeps its SHA-256 only.
inline constexpr int64_t kPasswordLinkLifetimeMs = 72LL * 60 * 60 * 1000;
// A link's text: 32 random bytes as 64 lower-case hex digits (safe in URLs, mail and shells).
inline constexpr size_t kPasswordLinkChars = 64;
struct PasswordLink {
  std::string id; // the first 16 hex digits of the link's SHA-256 (as the audit names it)
  std::string user_id;
  int64_t created_ms = 0;
  int64_t expires_ms = 0;
};
// What password_link_create hands out: the link's text, its one and only copy.
struct NewPasswordLink {
  PasswordLink link;
  std::string text;
  int64_t voided = 0; // older unused links of the user that it replaced
  NewPasswordLink() = default;
  NewPasswordLink(const NewPasswordLink &) = delete;
  NewPasswordLink &operator=(const NewPasswordLink &) = delete;
  NewPasswordLink(NewPasswordLink &&) = default; // the moved-from text holds no copy to wipe
  NewPasswordLink &operator=(NewPasswordLink &&other) noexcept {
    ::explicit_bzero(text.data(), text.size());
    link = std::move(other.link);
    text = std::move(other.text);
    voided = other.voided;
    return *this;
  }
  ~NewPasswordLink() { ::explicit_bzero(text.data(), text.size()); }
};

// A login: what `lpm login` opened on one enrolled machine for one user (DESIGN §3).
struct LoginSession {
  std::string id; // UUIDv7; every session token of this login names it
  std::string user_id;
  std::string enrolled_id; // the machine key it was opened from; refreshes must come from it
  std::string os_account;
  int64_t created_ms = 0;
  int64_t refreshed_ms = 0;
  int64_t expires_ms = 0; // of the current refresh token
};
// A refresh token lives this long after it was issued; each refresh issues a new one.
inline constexpr int64_t kRefreshLifetimeMs = 30LL * 24 * 60 * 60 * 1000;

struct AuditEntry {
  int64_t id = 0;
  int64_t at_ms = 0;
  std::string actor;
  std::string action;
  std::string detail;
};

// Lower-cases and checks an e-mail address: exactly one '@' with text on both sides, no spaces or
// control characters, at most kMaxEmailBytes. bad_request otherwise.
Result<std::string> email_normalize(std::string_view email);
// Trims surrounding white space and the rules' delimiter characters from both ends; nothing else
// is changed. bad_request when nothing is left, it holds a control character or it is longer
// than kMaxBadgeBytes.
Result<std::string> badge_normalize(std::string_view badge, const BadgeRules &rules = {});
// UA-20, AMB-8: white space trimmed around the name, each of ! @ # $ % ^ & * ; + ? / \ [ ]
// replaced by '_'. bad_request when empty, longer than kMaxGroupNameChars characters, or holding
// a control character or a comma (the list separator).
Result<std::string> group_name_sanitize(std::string_view name);
// Hex SHA-256 of an enrollment token: what the store keeps instead of the token.
std::string token_hash(std::string_view token);

// Releasing (directory_store_release.cpp): one side of a delegation (PM-7), as lists show it.
struct Delegation {
  std::string user_id; // the other user: the delegate, or the delegator
  std::string email;
  std::string display_name;
  std::string actor; // who made the delegation (audit form)
  int64_t created_ms = 0;
};
// The enterprise's badge policy at printers (settings badge.pin_policy, badge.self_registration).
struct BadgePolicy {
  bool pin_required = false; // a PIN after the badge (DESIGN §4: a second factor by policy)
  bool self_register = true; // unknown badges may be registered at printers (BD-1)
  // Release without the directory (issue 8): printer certificates last this many hours
  // (1 .. proto::kMaxOfflineHours); 0: off, no certificate or offline table is given.
  int64_t offline_hours = 0;
};

class DirectoryStore {
public:
  // Opens (creating if needed) the database and brings its schema to the current version.
  // io_error when the file cannot be opened; internal when it was written by a newer program.
  static Result<std::unique_ptr<DirectoryStore>> open(const std::string &path);

  // Opens a write transaction (BEGIN IMMEDIATE). The mutators marked [tx] run inside the caller's
  // transaction, so an import record or an administrative op and its audit row and log line
  // commit together or not at all; they return internal when no transaction is open.
  Transaction begin() { return Transaction(*db_); }

  // ---- users ----
  // [tx] Creates a user with `fields` (id, created and updated times are set here; has_password
  // is ignored: see password_set). conflict when the e-mail is taken; bad_request for an invalid
  // e-mail or a field over kMaxUserFieldBytes or holding control characters.
  Result<User> user_create(const User &fields, int64_t now_ms);
  // [tx] Replaces the profile fields (not the e-mail, id or password) of user.id.
  Status user_update(const User &user, int64_t now_ms);
  // [tx] Deletes the user, their badges, memberships, role grants, holdings and password history
  // (UA-6, AMB-6), and queues a purge of their held jobs to every workstation that holds or may
  // hold some (delivered with the next register reply). not_found when there is no such user.
  Status user_delete(std::string_view user_id);
  // [tx] Sets the password hash (passwords.h) and keeps the previous one in the history.
  Status password_set(std::string_view user_id, std::string_view hash, int64_t now_ms);
  // The current hash first, then earlier ones, newest first; at most `limit`.
  Result<std::vector<std::string>> password_hashes(std::string_view user_id, size_t limit);
  Result<User> user_by_email(std::string_view email);
  Result<User> user_by_id(std::string_view id);
  // Users ordered by e-mail, starting after `after_email`, at most `limit`.
  Result<std::vector<User>> users_list(std::string_view after_email, size_t limit);
  // Creates a user with an e-mail and a display name in a transaction of its own, audited.
  Result<User> user_add(std::string_view email, std::string_view display_name, int64_t now_ms,
                        std::string_view actor);

  // ---- account groups (GR-1 ... GR-5) ----
  // Finds a group by name, case-insensitively (AMB-8). not_found when none.
  Result<AccountGroup> group_by_name(std::string_view name);
  // [tx] Creates the group (name already sanitised). conflict when the name is taken.
  Result<AccountGroup> group_create(std::string_view name, int64_t now_ms);
  // [tx] Adds a member; true when added, false when already a member.
  Result<bool> group_member_add(std::string_view group_id, std::string_view user_id, int64_t now_ms);
  // The names of the groups a user belongs to, sorted.
  Result<std::vector<std::string>> groups_of(std::string_view user_id);
  // (directory_store_groups.cpp) [tx] Deletes the group, its memberships and its role grants;
  // users stay (GR-3). Returns how many memberships went. not_found when there is no such group.
  Result<int64_t> group_delete(std::string_view group_id);
  // [tx] true when removed, false when the user was not a member.
  Result<bool> group_member_remove(std::string_view group_id, std::string_view user_id);
  // Groups ordered by name case-insensitively, after `after_name`, at most `limit`.
  Result<std::vector<GroupSummary>> groups_list(std::string_view after_name, size_t limit);

  // ---- badges (BD, AMB-13, AMB-15) ----
  BadgeRules badge_rules();
  // [tx] The enterprise's badge rules (AMB-15).
  Status badge_rules_set(const BadgeRules &rules);
  // The badge as stored (already normalised), matched case-insensitively. not_found when none.
  Result<Badge> badge_find(std::string_view badge);
  // [tx] Gives `badge` to the user: permanent, or temporary expiring kTemporaryBadgeMs from now.
  // The user's previous badge of the same kind is removed (BD-13, AMB-13: a temporary badge never
  // removes the permanent one); that removed badge is returned, or "" when none. conflict when
  // another user holds this badge.
  Result<std::string> badge_assign(std::string_view badge, std::string_view user_id, bool temporary,
                                   int64_t now_ms);
  // [tx] not_found when no such badge.
  Status badge_delete(std::string_view badge);
  // A user's badges, permanent first.
  Result<std::vector<Badge>> badges_of(std::string_view user_id);
  // Badges with their row numbers, in row order after row `after` (0 from the start), at most
  // `limit`, without the temporary ones expired at now_ms (the offline table, issue 8: the row
  // number is its page cursor, so a cursor never shows a badge).
  Result<std::vector<std::pair<int64_t, Badge>>> badges_page(int64_t after, size_t limit, int64_t now_ms);
  // [tx] Deletes temporary badges past their expiry (AMB-13); returns how many.
  Result<int64_t> badges_purge_expired(int64_t now_ms);
  // Gives a permanent badge to the user with that e-mail, in a transaction of its own, audited.
  Status badge_add(std::string_view badge, std::string_view email, int64_t now_ms, std::string_view actor);
  // The user a badge belongs to: not_found "unknown badge"; expired "badge expired" for a temporary
  // badge past its expiry.
  Result<User> user_by_badge(std::string_view badge, int64_t now_ms);

  // ---- Print Management (directory_store_print.cpp; PM-2 ... PM-5, GR-6 ... GR-9, AMB-16 ... AMB-18) ----
  // A live print group by name, case-insensitively (AMB-8; the name already sanitised).
  // not_found "print group not found: NAME", saying a deleted group is not found (TS-11).
  Result<PrintGroup> print_group_by_name(std::string_view name);
  // [tx] Creates a print group (name already sanitised; quota within 0 ... kMaxPrintQuota).
  // conflict when a live print group has the name (deleted ones free theirs).
  Result<PrintGroup> print_group_create(std::string_view name, std::optional<int64_t> quota,
                                        bool color_allowed, int64_t now_ms);
  // [tx] Applies the edit to the live group and returns it as it now is. not_found for no live
  // group with that id; conflict for a new name another live group has; bad_request for a quota
  // out of range.
  Result<PrintGroup> print_group_update(std::string_view group_id, const PrintGroupEdit &edit);
  // [tx] GR-9: marks the group deleted (the row stays for reports) and leaves its members in no
  // print group. Returns how many members it had. not_found for no live group with that id.
  Result<int64_t> print_group_delete(std::string_view group_id, int64_t now_ms);
  // Print groups ordered by name case-insensitively, then id, after (after_name, after_id), at
  // most `limit`, with their member counts; deleted groups only with include_deleted.
  Result<std::vector<PrintGroupSummary>> print_groups_list(std::string_view after_name,
                                                           std::string_view after_id, size_t limit,
                                                           bool include_deleted);
  // The user as Print Management knows them. not_found naming the e-mail, saying they must be
  // imported from User Accounts first (PM-2, TS-15), when they are not in its list.
  Result<PmUser> pm_user(const User &user);
  // Print Management users ordered by e-mail, after `after_email`, at most `limit`; only the
  // members of print group `group_id` unless it is empty.
  Result<std::vector<PmUser>> pm_users_list(std::string_view after_email, size_t limit,
                                            std::string_view group_id);
  // Print Management users (only the members of print group `group_id` unless it is empty), and
  // every user of User Accounts (AMB-18: both counts are shown).
  Result<int64_t> pm_users_count(std::string_view group_id = {});
  Result<int64_t> users_count();
  // [tx] Puts a Print Management user in print group `group_id` ("": in none); a user in
  // another group moves (AMB-17: at most one). Returns the user as they were before. not_found
  // when they are not a Print Management user (PM-2) or the group is not live.
  Result<PmUser> pm_user_group_set(const User &user, std::string_view group_id);
  // [tx] Sets the user's own quota (nullopt: the group's). Returns the user as they were before.
  // not_found when they are not a Print Management user; bad_request for a quota out of range.
  Result<PmUser> pm_user_quota_set(const User &user, std::optional<int64_t> quota);
  // [tx] Takes the user out of Print Management; false when they were not in it.
  Result<bool> pm_user_remove(std::string_view user_id);
  // [tx] "Import from User Accounts" (PM-3, AMB-18, TS-15, TS-16): adds every user holding an
  // effective Print Release Management User or Serverless Print Management User role (any
  // scope, RL-1) who is not yet a Print Management user, and removes those who no longer hold
  // either. Users deleted from User Accounts have already left with their user row (UA-6).
  Result<PmSyncResult> pm_users_sync(int64_t now_ms);

  // ---- password policy (UA-3) ----
  Result<PasswordPolicy> password_policy();
  // [tx] bad_request when out of range (password_policy_validate).
  Status password_policy_set(const PasswordPolicy &policy);

  // ---- imports (the engine is directory_import.h) ----
  // [tx] Records a new import, content included, state running.
  Status import_insert(const ImportInfo &info, std::string_view content);
  Result<ImportInfo> import_get(std::string_view id);
  // The file of a running import (empty once done: it may hold passwords).
  Result<std::string> import_content(std::string_view id);
  // [tx] Appends the log row of one record and moves the import past it, counting the result.
  Status import_log_append(std::string_view id, const ImportLogRow &row, bool warned);
  // [tx] Marks the import done and forgets its file.
  Status import_finish(std::string_view id, int64_t now_ms);
  // Ids of imports still running (to resume after a restart), oldest first.
  Result<std::vector<std::string>> imports_running();
  // Log rows after record `after_record`, at most `limit`, in file order.
  Result<std::vector<ImportLogRow>> import_log(std::string_view id, int64_t after_record, size_t limit);

  // ---- logins (sessions) ----
  // [tx] Opens a login session; returns the refresh token (64 hex characters), of which only the
  // SHA-256 is kept.
  Result<std::string> session_open(std::string_view user_id, std::string_view enrolled_id,
                                   std::string_view os_account, int64_t now_ms, LoginSession &out);
  // [tx] Exchanges a refresh token for a new one (the old one stops working), from the machine
  // the login was opened on. unauthenticated for an unknown token or another machine's; expired
  // past its lifetime (the session is then closed).
  Result<std::string> session_refresh(std::string_view refresh_token, std::string_view enrolled_id,
                                      int64_t now_ms, LoginSession &out);
  // [tx] Closes the login the refresh token belongs to; not_found when none.
  Result<LoginSession> session_close(std::string_view refresh_token);
  // not_found when the login was closed (or never opened).
  Result<LoginSession> session_get(std::string_view id);
  // [tx] Records that the user may have holdings on that workstation ("login" or "admin").
  Status workstation_user_add(std::string_view workstation_id, std::string_view user_id, std::string_view how,
                              int64_t now_ms);

  // ---- password links (directory_store_links.cpp; UA-4, UA-7, UA-15) ----
  // [tx] A new link for the user, good until now_ms + lifetime_ms; the user's older links not
  // yet used are voided (only the newest one mailed works). Links that expired more than 30 days
  // ago are forgotten. not_found when there is no such user.
  Result<NewPasswordLink> password_link_create(std::string_view user_id, int64_t now_ms,
                                               int64_t lifetime_ms = kPasswordLinkLifetimeMs);
  // The link with this text if it may still be used at now_ms; changes nothing. bad_request when
  // the text is not 64 hex digits; not_found, each with its own message, for a link the
  // directory never issued (or forgot), one already used, one a newer link replaced, and one
  // past its expiry.
  Result<PasswordLink> password_link_find(std::string_view text, int64_t now_ms);
  // [tx] As password_link_find, then marks the link used: in the caller's transaction, so it is
  // spent together with the password it set, or not at all.
  Result<PasswordLink> password_link_consume(std::string_view text, int64_t now_ms);

  // ---- settings ----
  // Enterprise-wide settings as text values, by name (password policy, badge rules, ...).
  Result<std::string> setting(std::string_view name, std::string_view fallback);
  // [tx]
  Status setting_set(std::string_view name, std::string_view value);

  // ---- enrollment tokens and keys ----
  // A new random token (32 hex characters) good for `uses` enrollments until expires_ms. Only its
  // hash is stored, so the returned text is the one and only copy.
  Result<std::string> token_create(proto::EnrollKind kind, int64_t uses, int64_t expires_ms, int64_t now_ms,
                                   std::string_view actor);
  // Tokens not yet expired, used up or revoked (or every token when `all`), newest first, at
  // most `limit`.
  Result<std::vector<TokenInfo>> tokens_list(bool all, int64_t now_ms, size_t limit);
  // A token by id or by its full text; not_found when none.
  Result<TokenInfo> token_find(std::string_view id_or_token);
  // Revokes a token by id (or by its full text): it enrolls nothing more. Audited. not_found for
  // no such token; conflict when it was already revoked.
  Result<TokenInfo> token_revoke(std::string_view id_or_token, int64_t now_ms, std::string_view actor);
  // Enrolls `fingerprint` (the TLS peer's key) as `kind`, spending one use of the token, all in
  // one transaction. Errors: unauthenticated (unknown token), expired (past its expiry or no uses
  // left), forbidden (token of another kind, or the key was revoked), conflict (the key is
  // enrolled as another kind). A key already enrolled as `kind` gets its id back without spending
  // a use, provided the token is one the directory issued for that kind: an agent whose reply was
  // lost can retry with its single-use token.
  Result<EnrolledEntry> enroll(std::string_view token, proto::EnrollKind kind, std::string_view name,
                               std::string_view fingerprint, int64_t now_ms, std::string_view address);
  // not_found when the key was never enrolled (revoked keys are returned, flagged).
  Result<EnrolledEntry> enrolled_by_fingerprint(std::string_view fingerprint);
  // Keys not revoked, ordered by id, starting after `after_id`; at most `limit`.
  Result<std::vector<EnrolledEntry>> enrolled_list(std::string_view after_id, size_t limit);
  // Every user with id > after_id, by id, at most `limit`: what accounting stamps and names
  // records with (list-people). The print group is the user's live one.
  Result<std::vector<proto::PersonFacts>> people_list(std::string_view after_id, size_t limit);
  // [tx-free] Marks the key revoked (now_ms recorded), audited. not_found for no such id;
  // conflict when it already was.
  Status revoke(std::string_view id, int64_t now_ms, std::string_view actor);
  // Printer and accounting keys revoked at or after after_ms, oldest first, at most `limit`: the
  // revocation list agents get with register replies (workstation keys concern no agent).
  Result<std::vector<proto::RevokedKey>> revocations_since(int64_t after_ms, size_t limit);

  // ---- workstations and holdings ----
  // Stores the workstation's port and addresses, renews its lease and replaces its holdings, in
  // one transaction: the holdings list is the full set; users not listed (or listed with 0) are
  // withdrawn. Holdings are accepted only for users who logged in on this workstation or whom an
  // administrator bound to it (DESIGN §4); the others, and users the directory does not know,
  // are skipped and returned: refusing the whole report would hide every other user's jobs on
  // that workstation.
  Result<std::vector<RefusedHolding>> workstation_register(const WorkstationReport &report, int64_t now_ms);
  // ---- commands for agents ----
  // [tx] Queues a command ("delete-job" or "purge-user") for every enrolled workstation that
  // holds jobs for the user or may (a login or a binding there); returns how many got one.
  Result<int64_t> command_queue(std::string_view kind, std::string_view user_id, std::string_view job_id,
                                std::string_view actor, int64_t now_ms);
  // The workstation's pending commands, oldest first, at most proto::kMaxCommandsPerReply.
  Result<std::vector<proto::AgentCommand>> commands_for(std::string_view workstation_id);
  // [tx] Forgets commands the workstation carried out (ids of other workstations are ignored).
  Status commands_done(std::string_view workstation_id, const std::vector<std::string> &ids);

  // [tx] Removes the user's binding of that kind ("login" or "admin"); false when there was none.
  Result<bool> workstation_user_remove(std::string_view workstation_id, std::string_view user_id,
                                       std::string_view how);
  // Workstations (enrolled, not revoked), most recently seen first, with their bound users.
  Result<std::vector<WorkstationInfo>> workstations_list();
  // Workstations holding jobs for user_id whose lease is live at now_ms, most recently seen
  // first, at most kMaxWorkstationsPerTicket.
  Result<std::vector<Holder>> holders_of(std::string_view user_id, int64_t now_ms);
  // Enrolled, unrevoked workstations that registered at least once, in id order after `after`,
  // at most `limit` (jobs 0): the key table of the offline table (issue 8).
  Result<std::vector<Holder>> workstations_page(std::string_view after, size_t limit);

  // ---- audit (append-only: the schema refuses UPDATE and DELETE) ----
  // [tx] when called inside one; on its own otherwise.
  Status audit(int64_t at_ms, std::string_view actor, std::string_view action, std::string_view detail);
  Result<std::vector<AuditEntry>> audit_tail(size_t limit);
  // Entries with an id above after_id, oldest first, at most `limit` (directory_store_groups.cpp).
  Result<std::vector<AuditEntry>> audit_page(int64_t after_id, size_t limit);

  // ---- releasing: delegates (PM-7), badge PINs, federated users (BD-5), the badge policy ----
  // (directory_store_release.cpp)
  // [tx] delegate_id may release delegator_id's jobs; `actor` is who said so. true when added,
  // false when it already could. bad_request for oneself; too_large past
  // proto::kMaxDelegatesPerUser delegates of the delegator or proto::kMaxDelegatorsPerUser
  // delegators of the delegate.
  Result<bool> delegate_add(std::string_view delegator_id, std::string_view delegate_id,
                            std::string_view actor, int64_t now_ms);
  // [tx] true when removed, false when it was no delegate.
  Result<bool> delegate_remove(std::string_view delegator_id, std::string_view delegate_id);
  // Who may release user_id's jobs, by e-mail.
  Result<std::vector<Delegation>> delegates_of(std::string_view user_id);
  // Whose jobs user_id may release: those holding jobs on a workstation with a live lease at
  // now_ms first, then the oldest delegations; at most `limit`.
  Result<std::vector<Delegation>> delegators_of(std::string_view user_id, int64_t now_ms, size_t limit);
  // Workstations holding jobs for any of user_ids (at most proto::kMaxTicketUsers) whose lease is
  // live at now_ms, each once (jobs summed), most recently seen first, at most
  // kMaxWorkstationsPerTicket.
  Result<std::vector<Holder>> holders_of_users(const std::vector<std::string> &user_ids, int64_t now_ms);
  // The user's badge PIN hash (passwords.h), or "" when none is set.
  Result<std::string> pin_hash(std::string_view user_id);
  // [tx]
  Status pin_set(std::string_view user_id, std::string_view hash, int64_t now_ms);
  // [tx] true when a PIN was removed.
  Result<bool> pin_clear(std::string_view user_id);
  // not_found when there is no such user.
  Result<bool> user_federated(std::string_view user_id);
  // [tx] true when it changed.
  Result<bool> user_federated_set(std::string_view user_id, bool federated);
  // Defaults (no PIN, self-registration on) when unset; a stored value this program does not know
  // reads as the stricter choice.
  Result<BadgePolicy> badge_policy();
  // [tx]
  Status badge_policy_set(const BadgePolicy &policy);

  // ---- Quotas counted (directory_store_quota.cpp; AMB-17, DESIGN §4 steps 1 and 4) ----
  // The print policy: quota zone "UTC" and colour "mono" when unset.
  Result<PrintPolicy> print_policy();
  // [tx] The zone name is checked by the caller (it must load).
  Status print_policy_set(const PrintPolicy &policy);
  // What Print Management sets for this user: not counted when they are not one of its users.
  Result<QuotaLimits> quota_limits(std::string_view user_id);
  // Impressions charged to the user in `month` ("YYYY-MM").
  Result<int64_t> quota_used(std::string_view user_id, std::string_view month);
  // Impressions held for the user by reservations live at now_ms, `except` left out.
  Result<int64_t> quota_held(std::string_view user_id, int64_t now_ms, std::string_view except = {});
  // [tx] Holds `impressions` of the user's quota for `reservation` (from printer_id) until
  // expires_ms.
  Status quota_hold(std::string_view reservation, std::string_view user_id, std::string_view printer_id,
                    int64_t impressions, int64_t expires_ms);
  // Whether `reservation` was made for printer_id and names the user (live or lapsed: a late
  // settle still counts).
  Result<bool> quota_reservation_names(std::string_view reservation, std::string_view printer_id,
                                       std::string_view user_id);
  // [tx] Charges one claim of a job to the user's month and takes it off the reservation's hold.
  // Returns the impressions charged: 0 when this claim was charged before.
  Result<int64_t> quota_charge(const QuotaCharge &charge);
  // [tx] The reservation's holds go back (the station's release is over). Returns how many users
  // it held for; 0 for a reservation of another printer or none.
  Result<int64_t> quota_release(std::string_view reservation, std::string_view printer_id, int64_t now_ms);
  // [tx] Forgets holds lapsed before now_ms and charges older than `charges_before_ms`.
  Status quota_purge(int64_t now_ms, int64_t charges_before_ms);

  Db &db() { return *db_; }
  // The database file (so another thread can open its own connection).
  std::string path() const;

private:
  explicit DirectoryStore(std::unique_ptr<Db> db) : db_(std::move(db)) {}
  Status migrate();
  Result<User> user_where(const char *sql, std::string_view key);
  Status require_transaction(const char *what);
  Result<EnrolledEntry> enrolled_where(const char *sql, std::string_view key);
  std::unique_ptr<Db> db_;
};

} // namespace lpm::directory
