#include "lpm/protocol/ops_admin.h"

#include <limits>

#include "detail/field_limits.h"

namespace lpm::proto {
namespace {
using detail::kEmail;
using detail::kGroupName;
using detail::kName;
using detail::kShort;
constexpr size_t kReason = 2048;
constexpr size_t kToken = 128;
constexpr size_t kJson = 96 * 1024; // 64 pairs of at most 64 + 1024 bytes, escaped
constexpr size_t kBadge = 256;      // what an administrator types; the directory keeps at most 128
constexpr size_t kText = 2048;      // descriptions, audit actors and details

void write_user(MapWriter &m, const UserEntry &u) {
  m.str("id", u.id)
      .str("email", u.email)
      .str("first_name", u.first_name)
      .str("last_name", u.last_name)
      .str("display_name", u.display_name)
      .str("short_name", u.short_name)
      .str("department", u.department)
      .str("cost_center", u.cost_center)
      .str("custom_attributes", u.custom_attributes)
      .boolean("has_password", u.has_password)
      .i64("created_ms", u.created_ms);
}
UserEntry read_user(MapReader &m) {
  UserEntry u;
  u.id = m.str("id", kShort);
  u.email = m.str("email", kEmail);
  u.first_name = m.str("first_name", kName);
  u.last_name = m.str("last_name", kName);
  u.display_name = m.str("display_name", kName);
  u.short_name = m.str("short_name", kName);
  u.department = m.str("department", kName);
  u.cost_center = m.str("cost_center", kName);
  u.custom_attributes = m.str("custom_attributes", kJson);
  u.has_password = m.boolean("has_password");
  u.created_ms = m.i64("created_ms");
  return u;
}

void write_badges(MapWriter &w, const std::vector<UserBadge> &badges) {
  std::vector<MapWriter> rows;
  rows.reserve(badges.size());
  for (const auto &b : badges) {
    MapWriter m;
    m.str("badge", b.badge)
        .boolean("temporary", b.temporary)
        .i64("created_ms", b.created_ms)
        .i64("expires_ms", b.expires_ms);
    rows.push_back(std::move(m));
  }
  w.map_array("badges", rows);
}
// A user has at most one permanent and one temporary badge; a few more are tolerated.
std::vector<UserBadge> read_badges(MapReader &r) {
  std::vector<UserBadge> out;
  for (auto &m : r.map_array("badges", 16))
    out.push_back(
        UserBadge{m.str("badge", kBadge), m.boolean("temporary"), m.i64("created_ms"), m.i64("expires_ms")});
  return out;
}

// A batch of 1 ... kMaxBatch names.
std::vector<std::string> read_batch(MapReader &r, const char *key, size_t max_len) {
  auto items = r.str_array(key, kMaxBatch, max_len);
  if (r.ok() && items.empty()) r.fail(std::string("args.") + key + " is empty");
  return items;
}
} // namespace

void LoginRequest::write(MapWriter &w) const {
  w.str("email", email).str("password", password).str("os_account", os_account);
}
void LoginRequest::read(MapReader &r) {
  email = r.str("email", kEmail);
  password = r.str("password", kMaxPasswordField);
  os_account = r.opt_str("os_account", "", kShort);
}

void SessionGrant::write(MapWriter &w) const {
  w.str("user", user)
      .str("email", email)
      .str("display_name", display_name)
      .str_array("roles", roles)
      .str("session", session)
      .i64("session_expires_ms", session_expires_ms)
      .str("refresh_token", refresh_token)
      .i64("refresh_expires_ms", refresh_expires_ms);
}
void SessionGrant::read(MapReader &r) {
  user = r.str("user", kShort);
  email = r.str("email", kEmail);
  display_name = r.opt_str("display_name", "", kName);
  roles = r.str_array("roles", kMaxRolesListed, 128);
  session = r.str("session", kMaxSessionText);
  session_expires_ms = r.i64("session_expires_ms");
  refresh_token = r.str("refresh_token", kToken);
  refresh_expires_ms = r.i64("refresh_expires_ms");
}

void RefreshRequest::write(MapWriter &w) const { w.str("refresh_token", refresh_token); }
void RefreshRequest::read(MapReader &r) { refresh_token = r.str("refresh_token", kToken); }

void SessionRequest::write(MapWriter &w) const { w.str("session", session); }
void SessionRequest::read(MapReader &r) { session = r.str("session", kMaxSessionText); }

void WhoamiResult::write(MapWriter &w) const { w.str("user", user).str("email", email).str_array("roles", roles); }
void WhoamiResult::read(MapReader &r) {
  user = r.str("user", kShort);
  email = r.str("email", kEmail);
  roles = r.str_array("roles", kMaxRolesListed, 128);
}

void AgentLoginRequest::write(MapWriter &w) const { w.str("email", email).str("password", password); }
void AgentLoginRequest::read(MapReader &r) {
  email = r.str("email", kEmail);
  password = r.str("password", kMaxPasswordField);
}

void AgentLoginResult::write(MapWriter &w) const {
  w.str("user", user)
      .str("email", email)
      .str("display_name", display_name)
      .str("os_account", os_account)
      .str_array("roles", roles);
}
void AgentLoginResult::read(MapReader &r) {
  user = r.str("user", kShort);
  email = r.str("email", kEmail);
  display_name = r.opt_str("display_name", "", kName);
  os_account = r.str("os_account", kShort);
  roles = r.str_array("roles", kMaxRolesListed, 128);
}

void ForwardRequest::write(MapWriter &w) const {
  w.str("op", op).map("args", args);
  if (size) w.u64("size", size);
}
void ForwardRequest::read(MapReader &r) {
  op = r.str("op", kShort);
  size = r.opt_u64("size");
  if (r.ok() && !r.has("args")) r.fail("args.args is missing");
}

void ImportStartRequest::write(MapWriter &w) const {
  w.str("session", session)
      .str("kind", kind)
      .str("file_name", file_name)
      .u64("size", size)
      .boolean("strict", strict)
      .boolean("password_links", password_links);
}
void ImportStartRequest::read(MapReader &r) {
  session = r.str("session", kMaxSessionText);
  kind = r.str("kind", kShort);
  file_name = r.str("file_name", kName);
  size = r.u64("size");
  strict = r.opt_bool("strict");
  password_links = r.opt_bool("password_links");
  if (r.ok() && kind != "users" && kind != "badges" && kind != "print-users")
    r.fail("args.kind must be users, badges or print-users");
}

void ImportStartResult::write(MapWriter &w) const { w.str("import", import).u64("records", records); }
void ImportStartResult::read(MapReader &r) {
  import = r.str("import", kShort);
  records = r.u64("records");
}

void ImportShowRequest::write(MapWriter &w) const {
  w.str("session", session).str("import", import);
  page.write(w);
}
void ImportShowRequest::read(MapReader &r) {
  session = r.str("session", kMaxSessionText);
  import = r.str("import", kShort);
  page.read(r);
}

void ImportShowResult::write(MapWriter &w) const {
  std::vector<MapWriter> rows;
  rows.reserve(log.size());
  for (const auto &e : log) {
    MapWriter row;
    row.i64("record", e.record).i64("line", e.line).str("key", e.key).str("result", e.result).str("reason", e.reason);
    rows.push_back(std::move(row));
  }
  w.str("import", import)
      .str("kind", kind)
      .str("actor", actor)
      .str("file_name", file_name)
      .u64("records", records)
      .u64("applied", applied)
      .u64("failed", failed)
      .u64("warnings", warnings)
      .str("state", state)
      .i64("started_ms", started_ms)
      .i64("finished_ms", finished_ms)
      .map_array("log", rows)
      .str("next", next);
}
void ImportShowResult::read(MapReader &r) {
  import = r.str("import", kShort);
  kind = r.str("kind", kShort);
  actor = r.str("actor", kName);
  file_name = r.str("file_name", kName);
  records = r.u64("records");
  applied = r.u64("applied");
  failed = r.u64("failed");
  warnings = r.u64("warnings");
  state = r.str("state", kShort);
  started_ms = r.i64("started_ms");
  finished_ms = r.i64("finished_ms");
  for (auto &m : r.map_array("log", kMaxPage))
    log.push_back(ImportLogEntry{m.i64("record"), m.i64("line"), m.str("key", kName), m.str("result", kShort),
                                 m.str("reason", kReason)});
  next = r.opt_str("next", "", kShort);
}

void UsersListRequest::write(MapWriter &w) const {
  w.str("session", session);
  page.write(w);
}
void UsersListRequest::read(MapReader &r) {
  session = r.str("session", kMaxSessionText);
  page.read(r);
}

void UsersListResult::write(MapWriter &w) const {
  std::vector<MapWriter> rows;
  rows.reserve(users.size());
  for (const auto &u : users) {
    MapWriter m;
    write_user(m, u);
    rows.push_back(std::move(m));
  }
  w.map_array("users", rows).str("next", next);
}
void UsersListResult::read(MapReader &r) {
  for (auto &m : r.map_array("users", kMaxPage))
    users.push_back(read_user(m));
  next = r.opt_str("next", "", kEmail);
}

// ---- administration ----

void BatchResult::write(MapWriter &w) const {
  std::vector<MapWriter> rows;
  rows.reserve(items.size());
  for (const auto &i : items) {
    MapWriter m;
    m.str("key", i.key).str("result", i.result).str("reason", i.reason);
    rows.push_back(std::move(m));
  }
  w.map_array("items", rows);
}
void BatchResult::read(MapReader &r) {
  for (auto &m : r.map_array("items", kMaxBatch))
    items.push_back(ItemOutcome{m.str("key", kGroupName), m.str("result", kShort), m.str("reason", kReason)});
}

void UsersShowRequest::write(MapWriter &w) const {
  w.str("session", session).str("email", email);
}
void UsersShowRequest::read(MapReader &r) {
  session = r.str("session", kMaxSessionText);
  email = r.str("email", kEmail);
}

void UsersShowResult::write(MapWriter &w) const {
  MapWriter u;
  write_user(u, user);
  w.map("user", u).str_array("groups", groups);
  write_badges(w, badges);
  w.str_array("roles", roles).str_array("effective_roles", effective_roles);
  w.boolean("federated", federated).boolean("pin_set", pin_set);
}
void UsersShowResult::read(MapReader &r) {
  MapReader u = r.map("user");
  user = read_user(u);
  groups = r.str_array("groups", kMaxGroupsOfUser, kGroupName);
  badges = read_badges(r);
  roles = r.str_array("roles", kMaxRolesListed, 128);
  effective_roles = r.str_array("effective_roles", kMaxRolesListed, 128);
  federated = r.opt_bool("federated");
  pin_set = r.opt_bool("pin_set");
}

void UsersAddRequest::write(MapWriter &w) const {
  w.str("session", session)
      .str("email", email)
      .str("first_name", first_name)
      .str("last_name", last_name)
      .str("display_name", display_name)
      .str("short_name", short_name)
      .str("department", department)
      .str("cost_center", cost_center);
  if (!password.empty()) w.str("password", password);
}
void UsersAddRequest::read(MapReader &r) {
  session = r.str("session", kMaxSessionText);
  email = r.str("email", kEmail);
  first_name = r.opt_str("first_name", "", kName);
  last_name = r.opt_str("last_name", "", kName);
  display_name = r.opt_str("display_name", "", kName);
  short_name = r.opt_str("short_name", "", kName);
  department = r.opt_str("department", "", kName);
  cost_center = r.opt_str("cost_center", "", kName);
  password = r.opt_str("password", "", kMaxPasswordField);
}

void UsersAddResult::write(MapWriter &w) const {
  MapWriter u;
  write_user(u, user);
  w.map("user", u);
  if (!password_link.empty()) w.str("password_link", password_link);
}
void UsersAddResult::read(MapReader &r) {
  MapReader u = r.map("user");
  user = read_user(u);
  password_link = r.opt_str("password_link", "", kShort);
}

void UsersPasswordLinkRequest::write(MapWriter &w) const { w.str("session", session).str("email", email); }
void UsersPasswordLinkRequest::read(MapReader &r) {
  session = r.str("session", kMaxSessionText);
  email = r.str("email", kEmail);
}

void UsersPasswordLinkResult::write(MapWriter &w) const {
  w.str("email", email).i64("expires_ms", expires_ms).boolean("mailed", mailed);
  if (!mail_error.empty()) w.str("mail_error", mail_error);
  if (!link.empty()) w.str("link", link);
}
void UsersPasswordLinkResult::read(MapReader &r) {
  email = r.str("email", kEmail);
  expires_ms = r.i64("expires_ms");
  mailed = r.boolean("mailed");
  mail_error = r.opt_str("mail_error", "", kReason);
  link = r.opt_str("link", "", kToken);
}

void PasswordLinkUseRequest::write(MapWriter &w) const { w.str("link", link).str("password", password); }
void PasswordLinkUseRequest::read(MapReader &r) {
  link = r.str("link", kToken);
  password = r.str("password", kMaxPasswordField);
}

void PasswordLinkUseResult::write(MapWriter &w) const { w.str("email", email); }
void PasswordLinkUseResult::read(MapReader &r) { email = r.str("email", kEmail); }

void UsersDeleteRequest::write(MapWriter &w) const {
  w.str("session", session).str_array("emails", emails);
}
void UsersDeleteRequest::read(MapReader &r) {
  session = r.str("session", kMaxSessionText);
  emails = read_batch(r, "emails", kEmail);
}

void BadgesAddRequest::write(MapWriter &w) const {
  w.str("session", session).str("badge", badge).str("email", email).boolean("temporary", temporary);
}
void BadgesAddRequest::read(MapReader &r) {
  session = r.str("session", kMaxSessionText);
  badge = r.str("badge", kBadge);
  email = r.str("email", kEmail);
  temporary = r.opt_bool("temporary");
}

void BadgesAddResult::write(MapWriter &w) const {
  w.str("badge", badge)
      .str("email", email)
      .boolean("temporary", temporary)
      .i64("expires_ms", expires_ms)
      .str("replaced", replaced);
}
void BadgesAddResult::read(MapReader &r) {
  badge = r.str("badge", kBadge);
  email = r.str("email", kEmail);
  temporary = r.boolean("temporary");
  expires_ms = r.i64("expires_ms");
  replaced = r.opt_str("replaced", "", kBadge);
}

void BadgesDeleteRequest::write(MapWriter &w) const {
  w.str("session", session).str_array("badges", badges);
}
void BadgesDeleteRequest::read(MapReader &r) {
  session = r.str("session", kMaxSessionText);
  badges = read_batch(r, "badges", kBadge);
}

void BadgesFindRequest::write(MapWriter &w) const {
  w.str("session", session).str("query", query);
}
void BadgesFindRequest::read(MapReader &r) {
  session = r.str("session", kMaxSessionText);
  query = r.str("query", kEmail);
}

void BadgesFindResult::write(MapWriter &w) const {
  w.str("user", user).str("email", email);
  write_badges(w, badges);
}
void BadgesFindResult::read(MapReader &r) {
  user = r.str("user", kShort);
  email = r.str("email", kEmail);
  badges = read_badges(r);
}

void RoleChangeRequest::write(MapWriter &w) const {
  w.str("session", session).str("role", role).str("scope", scope);
  if (!email.empty()) w.str("email", email);
  if (!group.empty()) w.str("group", group);
}
void RoleChangeRequest::read(MapReader &r) {
  session = r.str("session", kMaxSessionText);
  role = r.str("role", 128);
  scope = r.str("scope", kShort);
  email = r.opt_str("email", "", kEmail);
  group = r.opt_str("group", "", kGroupName);
}

void RoleChangeResult::write(MapWriter &w) const {
  w.str("role", role).str("scope", scope).str("subject", subject).boolean("changed", changed);
}
void RoleChangeResult::read(MapReader &r) {
  role = r.str("role", 128);
  scope = r.str("scope", kShort);
  subject = r.str("subject", kGroupName);
  changed = r.boolean("changed");
}

void RolesListRequest::write(MapWriter &w) const {
  w.str("session", session);
  if (!scope.empty()) w.str("scope", scope);
  if (!email.empty()) w.str("email", email);
  if (!group.empty()) w.str("group", group);
}
void RolesListRequest::read(MapReader &r) {
  session = r.str("session", kMaxSessionText);
  scope = r.opt_str("scope", "", kShort);
  email = r.opt_str("email", "", kEmail);
  group = r.opt_str("group", "", kGroupName);
}

void RolesListResult::write(MapWriter &w) const {
  std::vector<MapWriter> rows;
  rows.reserve(grants.size());
  for (const auto &g : grants) {
    MapWriter m;
    m.str("scope", g.scope)
        .str("subject", g.subject)
        .str("role", g.role)
        .str("alias", g.alias)
        .i64("granted_ms", g.granted_ms);
    rows.push_back(std::move(m));
  }
  w.map_array("grants", rows);
}
void RolesListResult::read(MapReader &r) {
  for (auto &m : r.map_array("grants", kMaxGrantsListed))
    grants.push_back(RoleGrantEntry{m.str("scope", kShort), m.str("subject", kGroupName), m.str("role", 128),
                                    m.str("alias", kShort), m.i64("granted_ms")});
}

void RolesDescribeResult::write(MapWriter &w) const {
  std::vector<MapWriter> rows;
  rows.reserve(roles.size());
  for (const auto &role : roles) {
    MapWriter m;
    m.str("name", role.name)
        .str("alias", role.alias)
        .str("description", role.description)
        .boolean("platform", role.platform);
    rows.push_back(std::move(m));
  }
  w.map_array("roles", rows);
}
void RolesDescribeResult::read(MapReader &r) {
  for (auto &m : r.map_array("roles", kMaxRolesListed))
    roles.push_back(RoleInfo{m.str("name", 128), m.str("alias", kShort), m.str("description", kText),
                             m.boolean("platform")});
}

void GroupsCreateRequest::write(MapWriter &w) const {
  w.str("session", session).str("name", name);
}
void GroupsCreateRequest::read(MapReader &r) {
  session = r.str("session", kMaxSessionText);
  name = r.str("name", kGroupName);
}

void GroupsCreateResult::write(MapWriter &w) const {
  w.str("id", id).str("name", name).str("renamed_from", renamed_from);
}
void GroupsCreateResult::read(MapReader &r) {
  id = r.str("id", kShort);
  name = r.str("name", kGroupName);
  renamed_from = r.opt_str("renamed_from", "", kGroupName);
}

void GroupsDeleteRequest::write(MapWriter &w) const {
  w.str("session", session).str_array("names", names);
}
void GroupsDeleteRequest::read(MapReader &r) {
  session = r.str("session", kMaxSessionText);
  names = read_batch(r, "names", kGroupName);
}

void GroupMembersRequest::write(MapWriter &w) const {
  w.str("session", session).str("name", name).str_array("emails", emails);
}
void GroupMembersRequest::read(MapReader &r) {
  session = r.str("session", kMaxSessionText);
  name = r.str("name", kGroupName);
  emails = read_batch(r, "emails", kEmail);
}

void GroupsListRequest::write(MapWriter &w) const {
  w.str("session", session).str("after", after).u64("limit", limit);
}
void GroupsListRequest::read(MapReader &r) {
  session = r.str("session", kMaxSessionText);
  after = r.opt_str("after", "", kGroupName);
  limit = r.opt_u64("limit", 100);
  if (limit == 0 || limit > kMaxPage) limit = kMaxPage;
}

void GroupsListResult::write(MapWriter &w) const {
  std::vector<MapWriter> rows;
  rows.reserve(groups.size());
  for (const auto &g : groups) {
    MapWriter m;
    m.str("id", g.id).str("name", g.name).u64("members", g.members).i64("created_ms", g.created_ms);
    rows.push_back(std::move(m));
  }
  w.map_array("groups", rows).str("next", next);
}
void GroupsListResult::read(MapReader &r) {
  for (auto &m : r.map_array("groups", kMaxPage))
    groups.push_back(
        GroupEntry{m.str("id", kShort), m.str("name", kGroupName), m.u64("members"), m.i64("created_ms")});
  next = r.opt_str("next", "", kGroupName);
}

namespace {
// The policy's values are small (password_policy_validate: at most 128); larger ones are refused
// here rather than cut to 32 bits.
uint32_t read_policy_value(MapReader &r, const char *key) {
  uint64_t value = r.u64(key);
  if (r.ok() && value > 1000000) r.fail(std::string("args.") + key + " is out of range");
  return static_cast<uint32_t>(value);
}
} // namespace

void PasswordPolicyResult::write(MapWriter &w) const {
  w.u64("min_length", min_length).u64("complexity", complexity).u64("history", history);
}
void PasswordPolicyResult::read(MapReader &r) {
  min_length = read_policy_value(r, "min_length");
  complexity = read_policy_value(r, "complexity");
  history = read_policy_value(r, "history");
}

void PasswordPolicySetRequest::write(MapWriter &w) const {
  w.str("session", session)
      .u64("min_length", min_length)
      .u64("complexity", complexity)
      .u64("history", history);
}
void PasswordPolicySetRequest::read(MapReader &r) {
  session = r.str("session", kMaxSessionText);
  min_length = read_policy_value(r, "min_length");
  complexity = read_policy_value(r, "complexity");
  history = read_policy_value(r, "history");
}

bool retention_choice_valid(uint32_t hours) {
  for (uint32_t choice : kRetentionChoicesHours)
    if (choice == hours) return true;
  return false;
}

namespace {
uint32_t read_retention_hours(MapReader &r, const char *key) {
  uint64_t hours = r.u64(key);
  if (r.ok() && (hours > std::numeric_limits<uint32_t>::max() || !retention_choice_valid(static_cast<uint32_t>(hours))))
    r.fail(std::string("args.") + key + " must be one of 0 (no limit), 1, 2, 4, 8, 12, 24, 48, 72, 168, 336, 720");
  return static_cast<uint32_t>(hours);
}
} // namespace

void RetentionPolicyResult::write(MapWriter &w) const {
  w.u64("released_hours", released_hours).u64("unreleased_hours", unreleased_hours);
}
void RetentionPolicyResult::read(MapReader &r) {
  released_hours = read_retention_hours(r, "released_hours");
  unreleased_hours = read_retention_hours(r, "unreleased_hours");
}
void RetentionSetRequest::write(MapWriter &w) const {
  w.str("session", session).u64("released_hours", released_hours).u64("unreleased_hours", unreleased_hours);
}
void RetentionSetRequest::read(MapReader &r) {
  session = r.str("session", kMaxSessionText);
  released_hours = read_retention_hours(r, "released_hours");
  unreleased_hours = read_retention_hours(r, "unreleased_hours");
}

void AuditListRequest::write(MapWriter &w) const {
  w.str("session", session).i64("after", after).u64("limit", limit);
}
void AuditListRequest::read(MapReader &r) {
  session = r.str("session", kMaxSessionText);
  after = r.opt_i64("after", -1);
  limit = r.opt_u64("limit", 100);
  if (limit == 0 || limit > kMaxPage) limit = kMaxPage;
}

void AuditListResult::write(MapWriter &w) const {
  std::vector<MapWriter> rows;
  rows.reserve(entries.size());
  for (const auto &e : entries) {
    MapWriter m;
    m.i64("id", e.id)
        .i64("at_ms", e.at_ms)
        .str("actor", e.actor)
        .str("action", e.action)
        .str("detail", e.detail);
    rows.push_back(std::move(m));
  }
  w.map_array("entries", rows).i64("next", next);
}
void AuditListResult::read(MapReader &r) {
  for (auto &m : r.map_array("entries", kMaxPage))
    entries.push_back(AuditRow{m.i64("id"), m.i64("at_ms"), m.str("actor", kText), m.str("action", kShort),
                               m.str("detail", kText)});
  next = r.opt_i64("next");
}

void WorkstationsResult::write(MapWriter &w) const {
  std::vector<MapWriter> rows;
  rows.reserve(workstations.size());
  for (const auto &ws : workstations) {
    std::vector<MapWriter> held_rows;
    held_rows.reserve(ws.held.size());
    for (const auto &h : ws.held) {
      MapWriter m;
      m.str("email", h.email).u64("jobs", h.jobs);
      held_rows.push_back(std::move(m));
    }
    MapWriter m;
    m.str("id", ws.id)
        .str("name", ws.name)
        .str("seen_address", ws.seen_address)
        .i64("last_seen_ms", ws.last_seen_ms)
        .u64("held_jobs", ws.held_jobs)
        .str_array("bound_users", ws.bound_users)
        .map_array("held", held_rows);
    rows.push_back(std::move(m));
  }
  w.map_array("workstations", rows);
}
void WorkstationsResult::read(MapReader &r) {
  for (auto &m : r.map_array("workstations", kMaxWorkstationsListed)) {
    WorkstationEntry ws;
    ws.id = m.str("id", kShort);
    ws.name = m.str("name", kName);
    ws.seen_address = m.str("seen_address", kShort);
    ws.last_seen_ms = m.i64("last_seen_ms");
    ws.held_jobs = m.u64("held_jobs");
    ws.bound_users = m.str_array("bound_users", kMaxBoundListed, kEmail + 16);
    for (auto &h : m.map_array("held", kMaxBoundListed))
      ws.held.push_back(WorkstationHeld{h.str("email", kEmail), h.u64("jobs")});
    workstations.push_back(std::move(ws));
  }
}

void WorkstationsShowRequest::write(MapWriter &w) const {
  w.str("session", session).str("workstation", workstation).str("email", email);
}
void WorkstationsShowRequest::read(MapReader &r) {
  session = r.str("session", kMaxSessionText);
  workstation = r.opt_str("workstation", "", kName);
  email = r.opt_str("email", "", kEmail);
  if (r.ok() && workstation.empty() == email.empty())
    r.fail("give exactly one of args.workstation and args.email");
}

void WorkstationChangeRequest::write(MapWriter &w) const {
  w.str("session", session).str("workstation", workstation).str("email", email);
}
void WorkstationChangeRequest::read(MapReader &r) {
  session = r.str("session", kMaxSessionText);
  workstation = r.str("workstation", kName);
  email = r.opt_str("email", "", kEmail);
}
void WorkstationChangeResult::write(MapWriter &w) const {
  w.str("id", id).str("name", name).str("email", email).boolean("changed", changed);
}
void WorkstationChangeResult::read(MapReader &r) {
  id = r.str("id", kShort);
  name = r.str("name", kName);
  email = r.opt_str("email", "", kEmail);
  changed = r.boolean("changed");
}

void TokensCreateRequest::write(MapWriter &w) const {
  w.str("session", session).str("kind", kind).i64("uses", uses).i64("ttl_hours", ttl_hours);
}
void TokensCreateRequest::read(MapReader &r) {
  session = r.str("session", kMaxSessionText);
  kind = r.str("kind", kShort);
  uses = r.i64("uses");
  ttl_hours = r.i64("ttl_hours");
  if (r.ok() && (uses < 1 || uses > 1000000)) r.fail("args.uses must be 1 to 1000000");
  if (r.ok() && (ttl_hours < 1 || ttl_hours > 24 * 3650)) r.fail("args.ttl_hours must be 1 to 87600");
}
void TokensCreateResult::write(MapWriter &w) const {
  w.str("token", token).str("kind", kind).i64("uses", uses).i64("expires_ms", expires_ms);
  w.str("id", id).str("directory_fingerprint", directory_fingerprint).str("directory_address", directory_address);
}
void TokensCreateResult::read(MapReader &r) {
  token = r.str("token", kToken);
  kind = r.str("kind", kShort);
  uses = r.i64("uses");
  expires_ms = r.i64("expires_ms");
  id = r.opt_str("id", {}, kShort);
  directory_fingerprint = r.opt_str("directory_fingerprint", {}, kShort);
  directory_address = r.opt_str("directory_address", {}, kName);
}

void TokensListRequest::write(MapWriter &w) const {
  w.str("session", session).boolean("all", all);
}
void TokensListRequest::read(MapReader &r) {
  session = r.str("session", kMaxSessionText);
  all = r.opt_bool("all");
}
void TokensListResult::write(MapWriter &w) const {
  std::vector<MapWriter> rows;
  rows.reserve(tokens.size());
  for (const auto &t : tokens) {
    MapWriter m;
    m.str("id", t.id).str("kind", t.kind).i64("uses", t.uses).i64("uses_left", t.uses_left);
    m.i64("created_ms", t.created_ms).i64("expires_ms", t.expires_ms).i64("revoked_ms", t.revoked_ms);
    m.str("created_by", t.created_by);
    rows.push_back(std::move(m));
  }
  w.map_array("tokens", rows);
}
void TokensListResult::read(MapReader &r) {
  for (auto &m : r.map_array("tokens", kMaxTokensListed))
    tokens.push_back(TokenEntry{m.str("id", kShort), m.str("kind", kShort), m.i64("uses"), m.i64("uses_left"),
                                m.i64("created_ms"), m.i64("expires_ms"), m.i64("revoked_ms"),
                                m.str("created_by", kName)});
}
void TokensRevokeRequest::write(MapWriter &w) const {
  w.str("session", session).str_array("tokens", tokens);
}
void TokensRevokeRequest::read(MapReader &r) {
  session = r.str("session", kMaxSessionText);
  tokens = read_batch(r, "tokens", kShort);
}

void PrintersListResult::write(MapWriter &w) const {
  std::vector<MapWriter> rows;
  rows.reserve(printers.size());
  for (const auto &p : printers) {
    MapWriter m;
    m.str("id", p.id).str("name", p.name).str("fingerprint", p.fingerprint).i64("enrolled_ms", p.enrolled_ms);
    rows.push_back(std::move(m));
  }
  w.map_array("printers", rows);
}
void PrintersListResult::read(MapReader &r) {
  for (auto &m : r.map_array("printers", kMaxPrintersListed))
    printers.push_back(
        PrinterEntry{m.str("id", kShort), m.str("name", kName), m.str("fingerprint", kName), m.i64("enrolled_ms")});
}

void PrintersRevokeRequest::write(MapWriter &w) const {
  w.str("session", session).str_array("printers", printers);
}
void PrintersRevokeRequest::read(MapReader &r) {
  session = r.str("session", kMaxSessionText);
  printers = read_batch(r, "printers", kName);
}

} // namespace lpm::proto
