#include "lpm/protocol/ops_print.h"

#include "detail/field_limits.h"
#include "lpm/protocol/ops_admin.h"

namespace lpm::proto {
namespace {
using detail::kEmail;
using detail::kGroupName;
using detail::kName;
using detail::kShort;

// An optional quota: absent (or nil) is none; present, 0 ... kMaxQuota.
void write_quota(MapWriter &w, const char *key, const std::optional<int64_t> &quota) {
  if (quota)
    w.i64(key, *quota);
  else
    w.nil(key);
}
std::optional<int64_t> read_quota(MapReader &r, const char *key) {
  if (!r.has(key)) return std::nullopt;
  int64_t quota = r.i64(key);
  if (r.ok() && (quota < 0 || quota > kMaxQuota))
    r.fail(std::string("args.") + key + " must be from 0 to " + std::to_string(kMaxQuota) +
           " (impressions per calendar month)");
  return quota;
}

// E-mails of a batch: 1 ... kMaxBatch when required, else 0 ... kMaxBatch (absent: none).
std::vector<std::string> read_emails(MapReader &r, const char *key, bool required) {
  if (!required && !r.has(key)) return {};
  auto items = r.str_array(key, kMaxBatch, kEmail);
  if (required && r.ok() && items.empty()) r.fail(std::string("args.") + key + " is empty");
  return items;
}

void write_group(MapWriter &m, const PrintGroupEntry &g) {
  m.str("id", g.id).str("name", g.name);
  write_quota(m, "quota", g.quota);
  m.boolean("color_allowed", g.color_allowed)
      .u64("members", g.members)
      .i64("created_ms", g.created_ms)
      .i64("deleted_ms", g.deleted_ms);
}
PrintGroupEntry read_group(MapReader &m) {
  PrintGroupEntry g;
  g.id = m.str("id", kShort);
  g.name = m.str("name", kGroupName);
  g.quota = read_quota(m, "quota");
  g.color_allowed = m.boolean("color_allowed");
  g.members = m.u64("members");
  g.created_ms = m.i64("created_ms");
  g.deleted_ms = m.opt_i64("deleted_ms");
  return g;
}
} // namespace

void PrintGroupsCreateRequest::write(MapWriter &w) const {
  w.str("session", session).str("name", name);
  if (quota) w.i64("quota", *quota);
  w.boolean("color_allowed", color_allowed);
}
void PrintGroupsCreateRequest::read(MapReader &r) {
  session = r.str("session", kMaxSessionText);
  name = r.str("name", kGroupName);
  quota = read_quota(r, "quota");
  color_allowed = r.opt_bool("color_allowed");
}

void PrintGroupsChangeResult::write(MapWriter &w) const {
  MapWriter g;
  write_group(g, group);
  std::vector<MapWriter> rows;
  rows.reserve(moved.size());
  for (const auto &m : moved) {
    MapWriter row;
    row.str("email", m.email).str("from", m.from);
    rows.push_back(std::move(row));
  }
  w.map("group", g)
      .str("renamed_from", renamed_from)
      .u64("added", added)
      .u64("removed", removed)
      .map_array("moved", rows);
}
void PrintGroupsChangeResult::read(MapReader &r) {
  MapReader g = r.map("group");
  group = read_group(g);
  renamed_from = r.opt_str("renamed_from", "", kGroupName);
  added = r.opt_u64("added");
  removed = r.opt_u64("removed");
  if (r.has("moved"))
    for (auto &m : r.map_array("moved", kMaxBatch))
      moved.push_back(Move{m.str("email", kEmail), m.str("from", kGroupName)});
}

void PrintGroupsUpdateRequest::write(MapWriter &w) const {
  w.str("session", session).str("name", name);
  if (!rename.empty()) w.str("rename", rename);
  if (quota) w.i64("quota", *quota);
  if (clear_quota) w.boolean("clear_quota", true);
  if (color_allowed) w.boolean("color_allowed", *color_allowed);
  if (!add_members.empty()) w.str_array("add_members", add_members);
  if (!remove_members.empty()) w.str_array("remove_members", remove_members);
}
void PrintGroupsUpdateRequest::read(MapReader &r) {
  session = r.str("session", kMaxSessionText);
  name = r.str("name", kGroupName);
  rename = r.opt_str("rename", "", kGroupName);
  quota = read_quota(r, "quota");
  clear_quota = r.opt_bool("clear_quota");
  if (r.has("color_allowed")) color_allowed = r.boolean("color_allowed");
  add_members = read_emails(r, "add_members", false);
  remove_members = read_emails(r, "remove_members", false);
  if (!r.ok()) return;
  if (quota && clear_quota) r.fail("args.quota and args.clear_quota exclude each other");
  if (rename.empty() && !quota && !clear_quota && !color_allowed && add_members.empty() &&
      remove_members.empty())
    r.fail(
        "args: nothing to change (rename, quota, clear_quota, color_allowed, add_members or remove_members)");
}

void PrintGroupsDeleteRequest::write(MapWriter &w) const {
  w.str("session", session).str_array("names", names);
}
void PrintGroupsDeleteRequest::read(MapReader &r) {
  session = r.str("session", kMaxSessionText);
  names = r.str_array("names", kMaxBatch, kGroupName);
  if (r.ok() && names.empty()) r.fail("args.names is empty");
}

void PrintGroupsListRequest::write(MapWriter &w) const {
  w.str("session", session);
  if (!after.empty()) w.str("after", after).str("after_id", after_id);
  w.u64("limit", limit).boolean("include_deleted", include_deleted);
}
void PrintGroupsListRequest::read(MapReader &r) {
  session = r.str("session", kMaxSessionText);
  after = r.opt_str("after", "", kGroupName);
  after_id = r.opt_str("after_id", "", kShort);
  limit = r.opt_u64("limit", 100);
  if (limit == 0 || limit > kMaxPage) limit = kMaxPage;
  include_deleted = r.opt_bool("include_deleted");
}

void PrintGroupsListResult::write(MapWriter &w) const {
  std::vector<MapWriter> rows;
  rows.reserve(groups.size());
  for (const auto &g : groups) {
    MapWriter m;
    write_group(m, g);
    rows.push_back(std::move(m));
  }
  w.map_array("groups", rows).str("next", next).str("next_id", next_id);
}
void PrintGroupsListResult::read(MapReader &r) {
  for (auto &m : r.map_array("groups", kMaxPage))
    groups.push_back(read_group(m));
  next = r.opt_str("next", "", kGroupName);
  next_id = r.opt_str("next_id", "", kShort);
}

void PrintUsersListRequest::write(MapWriter &w) const {
  w.str("session", session);
  page.write(w);
  if (!group.empty()) w.str("group", group);
}
void PrintUsersListRequest::read(MapReader &r) {
  session = r.str("session", kMaxSessionText);
  page.read(r);
  group = r.opt_str("group", "", kGroupName);
}

void PrintUsersListResult::write(MapWriter &w) const {
  std::vector<MapWriter> rows;
  rows.reserve(users.size());
  for (const auto &u : users) {
    MapWriter m;
    m.str("user", u.user).str("email", u.email).str("display_name", u.display_name).str("group", u.group);
    write_quota(m, "quota", u.quota);
    write_quota(m, "group_quota", u.group_quota);
    m.boolean("color_allowed", u.color_allowed).i64("imported_ms", u.imported_ms).i64("used", u.used);
    rows.push_back(std::move(m));
  }
  w.map_array("users", rows)
      .str("next", next)
      .u64("pm_users", pm_users)
      .u64("enterprise_users", enterprise_users);
}
void PrintUsersListResult::read(MapReader &r) {
  for (auto &m : r.map_array("users", kMaxPage)) {
    PrintUserEntry u;
    u.user = m.str("user", kShort);
    u.email = m.str("email", kEmail);
    u.display_name = m.opt_str("display_name", "", kName);
    u.group = m.opt_str("group", "", kGroupName);
    u.quota = read_quota(m, "quota");
    u.group_quota = read_quota(m, "group_quota");
    u.color_allowed = m.boolean("color_allowed");
    u.imported_ms = m.i64("imported_ms");
    u.used = m.opt_i64("used", 0);
    if (r.ok() && u.used < 0) r.fail("result.users.used must not be negative");
    users.push_back(std::move(u));
  }
  next = r.opt_str("next", "", kEmail);
  pm_users = r.u64("pm_users");
  enterprise_users = r.u64("enterprise_users");
}

void PrintUsersSetRequest::write(MapWriter &w) const {
  w.str("session", session).str_array("emails", emails);
  if (!group.empty()) w.str("group", group);
  if (no_group) w.boolean("no_group", true);
  if (quota) w.i64("quota", *quota);
  if (group_quota) w.boolean("group_quota", true);
}
void PrintUsersSetRequest::read(MapReader &r) {
  session = r.str("session", kMaxSessionText);
  emails = read_emails(r, "emails", true);
  group = r.opt_str("group", "", kGroupName);
  no_group = r.opt_bool("no_group");
  quota = read_quota(r, "quota");
  group_quota = r.opt_bool("group_quota");
  if (!r.ok()) return;
  if (!group.empty() && no_group) r.fail("args.group and args.no_group exclude each other");
  if (quota && group_quota) r.fail("args.quota and args.group_quota exclude each other");
  if (r.ok() && group.empty() && !no_group && !quota && !group_quota)
    r.fail("args: nothing to change (group, no_group, quota or group_quota)");
}

void PrintUsersRemoveRequest::write(MapWriter &w) const {
  w.str("session", session).str_array("emails", emails);
}
void PrintUsersRemoveRequest::read(MapReader &r) {
  session = r.str("session", kMaxSessionText);
  emails = read_emails(r, "emails", true);
}

void PrintUsersSyncRequest::write(MapWriter &w) const {
  w.str("session", session).boolean("dry_run", dry_run);
}
void PrintUsersSyncRequest::read(MapReader &r) {
  session = r.str("session", kMaxSessionText);
  dry_run = r.opt_bool("dry_run");
}

void PrintUsersSyncResult::write(MapWriter &w) const {
  w.u64("added", added)
      .u64("removed", removed)
      .u64("pm_users", pm_users)
      .u64("enterprise_users", enterprise_users)
      .str_array("added_emails", added_emails)
      .str_array("removed_emails", removed_emails)
      .boolean("dry_run", dry_run);
}
void PrintUsersSyncResult::read(MapReader &r) {
  added = r.u64("added");
  removed = r.u64("removed");
  pm_users = r.u64("pm_users");
  enterprise_users = r.u64("enterprise_users");
  added_emails = r.str_array("added_emails", kMaxBatch, kEmail);
  removed_emails = r.str_array("removed_emails", kMaxBatch, kEmail);
  dry_run = r.opt_bool("dry_run");
}

void PrintPolicyResult::write(MapWriter &w) const {
  w.str("quota_zone", quota_zone).str("color_denied", color_denied);
}
void PrintPolicyResult::read(MapReader &r) {
  quota_zone = r.str("quota_zone", kShort);
  color_denied = r.str("color_denied", kShort);
  if (r.ok() && color_denied != kColorDeniedMono && color_denied != kColorDeniedRefuse)
    r.fail("result.color_denied must be mono or refuse");
}
void PrintPolicySetRequest::write(MapWriter &w) const {
  w.str("session", session);
  if (!quota_zone.empty()) w.str("quota_zone", quota_zone);
  if (!color_denied.empty()) w.str("color_denied", color_denied);
}
void PrintPolicySetRequest::read(MapReader &r) {
  session = r.str("session", kMaxSessionText);
  quota_zone = r.opt_str("quota_zone", "", kShort);
  color_denied = r.opt_str("color_denied", "", kShort);
  if (r.ok() && !color_denied.empty() && color_denied != kColorDeniedMono &&
      color_denied != kColorDeniedRefuse)
    r.fail("args.color_denied must be mono or refuse");
  if (r.ok() && quota_zone.empty() && color_denied.empty())
    r.fail("args: print-policy-set needs quota_zone, color_denied or both");
}

void QuotaShowRequest::write(MapWriter &w) const {
  w.str("session", session);
  if (!email.empty()) w.str("email", email);
}
void QuotaShowRequest::read(MapReader &r) {
  session = r.str("session", kMaxSessionText);
  email = r.opt_str("email", "", kEmail);
}
void QuotaShowResult::write(MapWriter &w) const {
  w.str("email", email).boolean("counted", counted);
  write_quota(w, "quota", quota);
  w.boolean("own_quota", own_quota).str("group", group).boolean("color_allowed", color_allowed);
  w.str("month", month).str("quota_zone", quota_zone).i64("used", used).i64("held", held).i64("left", left);
  w.str("color_denied", color_denied);
}
void QuotaShowResult::read(MapReader &r) {
  email = r.str("email", kEmail);
  counted = r.boolean("counted");
  quota = read_quota(r, "quota");
  own_quota = r.opt_bool("own_quota");
  group = r.opt_str("group", "", kGroupName);
  color_allowed = r.boolean("color_allowed");
  month = r.str("month", kShort);
  quota_zone = r.str("quota_zone", kShort);
  used = r.i64("used");
  held = r.i64("held");
  left = r.i64("left");
  color_denied = r.str("color_denied", kShort);
  if (r.ok() && (used < 0 || held < 0 || left < -1)) r.fail("result: used and held must be >= 0, left >= -1");
}

} // namespace lpm::proto
