#include "lpm/protocol/ops_admin.h"

namespace lpm::proto {
namespace {
constexpr size_t kName = 256;
constexpr size_t kShort = 64;
constexpr size_t kReason = 2048;
constexpr size_t kEmail = 254;
constexpr size_t kToken = 128;
constexpr size_t kJson = 96 * 1024; // 64 pairs of at most 64 + 1024 bytes, escaped
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
  if (r.ok() && kind != "users" && kind != "badges") r.fail("args.kind must be users or badges");
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
    rows.push_back(std::move(m));
  }
  w.map_array("users", rows).str("next", next);
}
void UsersListResult::read(MapReader &r) {
  for (auto &m : r.map_array("users", kMaxPage)) {
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
    users.push_back(std::move(u));
  }
  next = r.opt_str("next", "", kEmail);
}

} // namespace lpm::proto
