#include "lpm/protocol/ops_release.h"

#include "detail/field_limits.h"
#include "lpm/protocol/ops_admin.h"
#include "lpm/protocol/ops_offline.h"

namespace lpm::proto {
namespace {
using detail::kEmail;
using detail::kName;
using detail::kShort;
constexpr size_t kBadgeIn = 128; // what badge-in takes
constexpr size_t kActor = 512; // "user <uuid> <e-mail>"

void write_entries(MapWriter &w, const char *key, const std::vector<DelegateEntry> &entries) {
  std::vector<MapWriter> rows;
  rows.reserve(entries.size());
  for (const auto &e : entries) {
    MapWriter m;
    m.str("user", e.user)
        .str("email", e.email)
        .str("display_name", e.display_name)
        .str("actor", e.actor)
        .i64("created_ms", e.created_ms);
    rows.push_back(std::move(m));
  }
  w.map_array(key, rows);
}

std::vector<DelegateEntry> read_entries(MapReader &r, const char *key, size_t max_items) {
  std::vector<DelegateEntry> out;
  for (auto &m : r.map_array(key, max_items))
    out.push_back(DelegateEntry{m.str("user", kShort), m.str("email", kEmail), m.str("display_name", kName),
                                m.str("actor", kActor), m.i64("created_ms")});
  return out;
}

// "off"/"required", "on"/"off", or "" (leave it).
void check_choice(MapReader &r, const std::string &value, const char *a, const char *b, const char *field) {
  if (r.ok() && !value.empty() && value != a && value != b)
    r.fail(std::string("args.") + field + " must be \"" + a + "\" or \"" + b + "\"");
}
} // namespace

void BadgeRegisterRequest::write(MapWriter &w) const {
  w.str("badge", badge).str("email", email).str("password", password);
}
void BadgeRegisterRequest::read(MapReader &r) {
  badge = r.str("badge", kBadgeIn);
  email = r.str("email", kEmail);
  password = r.str("password", kMaxPasswordField);
  if (r.ok() && badge.empty()) r.fail("args.badge is empty");
}

void DelegateChangeRequest::write(MapWriter &w) const {
  w.str("session", session).str("delegate", delegate).str("delegator", delegator);
}
void DelegateChangeRequest::read(MapReader &r) {
  session = r.str("session", kMaxSessionText);
  delegate = r.str("delegate", kEmail);
  delegator = r.opt_str("delegator", "", kEmail);
}
void DelegateChangeResult::write(MapWriter &w) const {
  w.str("delegator", delegator).str("delegate", delegate).boolean("changed", changed);
}
void DelegateChangeResult::read(MapReader &r) {
  delegator = r.str("delegator", kEmail);
  delegate = r.str("delegate", kEmail);
  changed = r.boolean("changed");
}

void DelegatesListRequest::write(MapWriter &w) const {
  w.str("session", session).str("email", email);
}
void DelegatesListRequest::read(MapReader &r) {
  session = r.str("session", kMaxSessionText);
  email = r.opt_str("email", "", kEmail);
}
void DelegatesListResult::write(MapWriter &w) const {
  w.str("user", user).str("email", email);
  write_entries(w, "delegates", delegates);
  write_entries(w, "delegators", delegators);
}
void DelegatesListResult::read(MapReader &r) {
  user = r.str("user", kShort);
  email = r.str("email", kEmail);
  delegates = read_entries(r, "delegates", kMaxDelegatesPerUser);
  delegators = read_entries(r, "delegators", kMaxDelegatorsPerUser);
}

void PinSetRequest::write(MapWriter &w) const {
  w.str("session", session).str("pin", pin);
}
void PinSetRequest::read(MapReader &r) {
  session = r.str("session", kMaxSessionText);
  pin = r.str("pin", kShort);
}
void PinClearRequest::write(MapWriter &w) const {
  w.str("session", session).str("email", email);
}
void PinClearRequest::read(MapReader &r) {
  session = r.str("session", kMaxSessionText);
  email = r.opt_str("email", "", kEmail);
}
void PinChangeResult::write(MapWriter &w) const {
  w.str("email", email).boolean("changed", changed);
}
void PinChangeResult::read(MapReader &r) {
  email = r.str("email", kEmail);
  changed = r.boolean("changed");
}

void BadgesPolicyResult::write(MapWriter &w) const {
  w.str("pin", pin).str("self_register", self_register).i64("offline_hours", offline_hours);
}
void BadgesPolicyResult::read(MapReader &r) {
  pin = r.str("pin", kShort);
  self_register = r.str("self_register", kShort);
  offline_hours = r.opt_i64("offline_hours", 0);
}
void BadgesPolicySetRequest::write(MapWriter &w) const {
  w.str("session", session).str("pin", pin).str("self_register", self_register);
  if (offline_hours >= 0) w.i64("offline_hours", offline_hours);
}
void BadgesPolicySetRequest::read(MapReader &r) {
  session = r.str("session", kMaxSessionText);
  pin = r.opt_str("pin", "", kShort);
  self_register = r.opt_str("self_register", "", kShort);
  offline_hours = r.opt_i64("offline_hours", -1);
  if (r.ok() && (offline_hours < -1 || offline_hours > kMaxOfflineHours))
    r.fail("args.offline_hours must be 0 .. " + std::to_string(kMaxOfflineHours) + " (0: off)");
  check_choice(r, pin, "off", "required", "pin");
  check_choice(r, self_register, "on", "off", "self_register");
}

void UsersSetFederatedRequest::write(MapWriter &w) const {
  w.str("session", session).str("email", email).boolean("federated", federated);
}
void UsersSetFederatedRequest::read(MapReader &r) {
  session = r.str("session", kMaxSessionText);
  email = r.str("email", kEmail);
  federated = r.boolean("federated");
}
void UsersSetFederatedResult::write(MapWriter &w) const {
  w.str("email", email).boolean("federated", federated).boolean("changed", changed);
}
void UsersSetFederatedResult::read(MapReader &r) {
  email = r.str("email", kEmail);
  federated = r.boolean("federated");
  changed = r.boolean("changed");
}

} // namespace lpm::proto
