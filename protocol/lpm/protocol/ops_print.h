// The directory's Print Management ops (docs/protocol.md §5.1.1, "Print Management"; the
// directory's directory_service_print.cpp): print groups (GR-6 ... GR-9) and Print Management's
// own user list (PM-2 ... PM-4, AMB-16 ... AMB-18). Each request carries the caller's session
// (ops_admin.h, whose kPersonOps lists these ops); batch ops answer a BatchResult. Quotas are impressions per
// calendar month (AMB-17); an absent (or nil) quota is "none" for a group and "the group's" for a user.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "lpm/protocol/msg.h"
#include "lpm/protocol/ops.h"

namespace lpm::proto {

namespace op {
inline constexpr const char *print_groups_create = "print-groups-create";
inline constexpr const char *print_groups_update = "print-groups-update";
inline constexpr const char *print_groups_delete = "print-groups-delete";
inline constexpr const char *print_groups_list = "print-groups-list";
inline constexpr const char *print_users_list = "print-users-list";
inline constexpr const char *print_users_set = "print-users-set";
inline constexpr const char *print_users_remove = "print-users-remove";
inline constexpr const char *print_users_sync = "print-users-sync"; // "Import from User Accounts" (PM-3)
inline constexpr const char *print_policy_show = "print-policy-show"; // SessionRequest
inline constexpr const char *print_policy_set = "print-policy-set";
inline constexpr const char *quota_show = "quota-show";
} // namespace op

// The largest quota, in impressions per calendar month (the directory's kMaxPrintQuota).
inline constexpr int64_t kMaxQuota = 1'000'000'000;

struct PrintGroupEntry {
  std::string id;
  std::string name;
  std::optional<int64_t> quota; // none when absent
  bool color_allowed = false;
  uint64_t members = 0;
  int64_t created_ms = 0;
  int64_t deleted_ms = 0; // 0: live
};

// print-groups-create (GR-7): the name sanitised as account groups' are (AMB-8), at most 80
// characters, unique among live print groups case-insensitively.
struct PrintGroupsCreateRequest {
  std::string session;
  std::string name;
  std::optional<int64_t> quota; // 0 ... kMaxQuota; absent: no quota
  bool color_allowed = false;
  void write(MapWriter &w) const;
  void read(MapReader &r);
};
// print-groups-create and print-groups-update answer the group as it now is.
struct PrintGroupsChangeResult {
  PrintGroupEntry group;
  std::string renamed_from; // the name asked for when sanitising changed it, else ""
  uint64_t added = 0;       // update: members added (moved ones included)
  uint64_t removed = 0;     // update: members removed
  struct Move {
    std::string email;
    std::string from; // the print group the member left (AMB-17: one group per user)
  };
  std::vector<Move> moved;
  void write(MapWriter &w) const;
  void read(MapReader &r);
};

// print-groups-update (GR-8): one edit saved explicitly, applied whole or not at all: rename,
// quota, colour, members added and removed. At least one change; quota and clear_quota exclude
// each other; an e-mail both added and removed is refused.
struct PrintGroupsUpdateRequest {
  std::string session;
  std::string name;                        // the group as it is named now
  std::string rename;                      // "": keep the name
  std::optional<int64_t> quota;            // set this quota
  bool clear_quota = false;                // no quota
  std::optional<bool> color_allowed;       // absent: unchanged
  std::vector<std::string> add_members;    // e-mails of Print Management users, <= kMaxBatch
  std::vector<std::string> remove_members; // e-mails, <= kMaxBatch
  void write(MapWriter &w) const;
  void read(MapReader &r);
};

// print-groups-delete (GR-9): answers a BatchResult ("deleted", reason "N members ...").
struct PrintGroupsDeleteRequest {
  std::string session;
  std::vector<std::string> names; // 1 ... kMaxBatch
  void write(MapWriter &w) const;
  void read(MapReader &r);
};

// print-groups-list: by name case-insensitively, then id (deleted groups may share names).
struct PrintGroupsListRequest {
  std::string session;
  std::string after;    // name of the last group of the previous page
  std::string after_id; // its id
  uint64_t limit = 100; // 1 ... kMaxPage
  bool include_deleted = false;
  void write(MapWriter &w) const;
  void read(MapReader &r);
};
struct PrintGroupsListResult {
  std::vector<PrintGroupEntry> groups;
  std::string next; // "" when this page was the last
  std::string next_id;
  void write(MapWriter &w) const;
  void read(MapReader &r);
};

// print-users-list: Print Management's users by e-mail, with both counts (AMB-18).
struct PrintUsersListRequest {
  std::string session;
  PageRequest page;  // after: an e-mail
  std::string group; // "": every user; else only the members of this print group
  void write(MapWriter &w) const;
  void read(MapReader &r);
};
struct PrintUserEntry {
  std::string user;
  std::string email;
  std::string display_name;
  std::string group;                  // "" when in no print group
  std::optional<int64_t> quota;       // the user's own; absent: the group's
  std::optional<int64_t> group_quota; // the group's; absent: none
  bool color_allowed = false;         // the group's (false without one, AMB-17)
  int64_t imported_ms = 0;
  int64_t used = 0; // impressions charged this calendar month (settle-quota); optional on read
};
struct PrintUsersListResult {
  std::vector<PrintUserEntry> users;
  std::string next;
  uint64_t pm_users = 0;         // in Print Management
  uint64_t enterprise_users = 0; // in User Accounts
  void write(MapWriter &w) const;
  void read(MapReader &r);
};

// print-users-set: each user's print group and/or own quota; answers a BatchResult ("updated",
// "unchanged" or "failed"). At least one change; group and no_group, quota and group_quota
// exclude each other.
struct PrintUsersSetRequest {
  std::string session;
  std::vector<std::string> emails; // 1 ... kMaxBatch
  std::string group;               // "": unchanged; else move them into this print group
  bool no_group = false;           // take them out of their print group
  std::optional<int64_t> quota;    // their own quota
  bool group_quota = false;        // drop their own quota: the group's applies
  void write(MapWriter &w) const;
  void read(MapReader &r);
};

// print-users-remove: takes users out of Print Management; a BatchResult ("removed", "unchanged").
struct PrintUsersRemoveRequest {
  std::string session;
  std::vector<std::string> emails; // 1 ... kMaxBatch
  void write(MapWriter &w) const;
  void read(MapReader &r);
};

// print-users-sync: "Import from User Accounts" (PM-3, AMB-18, TS-15, TS-16). dry_run answers
// what it would do and changes nothing (what `lpm` shows before asking to confirm).
struct PrintUsersSyncRequest {
  std::string session;
  bool dry_run = false;
  void write(MapWriter &w) const;
  void read(MapReader &r);
};
struct PrintUsersSyncResult {
  uint64_t added = 0;
  uint64_t removed = 0;
  uint64_t pm_users = 0;                   // afterwards
  uint64_t enterprise_users = 0;           // every user of User Accounts
  std::vector<std::string> added_emails;   // the first kMaxBatch, by e-mail
  std::vector<std::string> removed_emails; // the first kMaxBatch, by e-mail
  bool dry_run = false;
  void write(MapWriter &w) const;
  void read(MapReader &r);
};

// The enterprise's print policy (AMB-17): the time zone whose calendar months quotas run in, and
// what a release station does with a colour job of a user who may not print in colour.
struct PrintPolicyResult {
  std::string quota_zone = "UTC";    // an IANA zone name
  std::string color_denied = "mono"; // kColorDeniedMono or kColorDeniedRefuse (ops.h)
  void write(MapWriter &w) const;
  void read(MapReader &r);
};
struct PrintPolicySetRequest {
  std::string session;
  std::string quota_zone;   // optional: "" leaves it
  std::string color_denied; // optional: "mono", "refuse", or "" to leave it
  void write(MapWriter &w) const;
  void read(MapReader &r);
};

// quota-show (AMB-17): what a user may still print this month and whether in colour; one's own,
// or another's with users_read.
struct QuotaShowRequest {
  std::string session;
  std::string email; // optional: "" for oneself
  void write(MapWriter &w) const;
  void read(MapReader &r);
};
struct QuotaShowResult {
  std::string email;
  bool counted = false;         // a Print Management user; false: no quota, colour allowed
  std::optional<int64_t> quota; // the user's own, else their print group's; absent: none
  bool own_quota = false;       // the quota is the user's own (else the group's)
  std::string group;            // their print group, "" for none
  bool color_allowed = true;
  std::string month; // "YYYY-MM" in the quota zone
  std::string quota_zone;
  int64_t used = 0;         // charged this month
  int64_t held = 0;         // held by badge-ins still releasing
  int64_t left = -1;        // quota - used - held, at least 0; -1: no quota
  std::string color_denied; // the enterprise's rule: "mono" or "refuse"
  void write(MapWriter &w) const;
  void read(MapReader &r);
};

} // namespace lpm::proto
