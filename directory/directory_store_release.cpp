// DirectoryStore: what releasing needs beyond badges: delegates (PM-7), badge PINs, federated users
// (BD-5), the badge policy, and the workstations holding jobs for a ticket's users.
#include <algorithm>
#include <charconv>

#include "directory_store.h"
#include "directory_store_private.h"
#include "lpm/protocol/ops_release.h"

namespace lpm::directory {

using store_detail::run_with;

namespace {

constexpr const char *kPinPolicySetting = "badge.pin_policy";           // "off" or "required"
constexpr const char *kSelfRegisterSetting = "badge.self_registration"; // "on" or "off"
constexpr const char *kOfflineHoursSetting = "badge.offline_hours";     // hours a printer certificate lasts; "0": off

Result<int64_t> count_where(Db &db, const char *sql, std::string_view key) {
  auto stmt = db.prepare(sql);
  if (!stmt.ok()) return stmt.error();
  stmt->bind(1, key);
  auto row = stmt->step();
  if (!row.ok()) return row.error();
  return *row ? stmt->col_int(0) : 0;
}

Result<std::vector<Delegation>> delegations(Stmt &stmt) {
  std::vector<Delegation> out;
  for (;;) {
    auto row = stmt.step();
    if (!row.ok()) return row.error();
    if (!*row) break;
    out.push_back(
        Delegation{stmt.col_text(0), stmt.col_text(1), stmt.col_text(2), stmt.col_text(3), stmt.col_int(4)});
  }
  return out;
}

} // namespace

// ---------------------------------------------------------------------------------------------
// Delegates

Result<bool> DirectoryStore::delegate_add(std::string_view delegator_id, std::string_view delegate_id,
                                          std::string_view actor, int64_t now_ms) {
  Status s = require_transaction("delegate_add");
  if (!s.ok()) return s.error();
  if (delegator_id == delegate_id)
    return make_error(Errc::bad_request, "a user cannot be their own delegate");
  auto existing = db_->prepare("SELECT 1 FROM delegates WHERE delegator_id = ? AND delegate_id = ?");
  if (!existing.ok()) return existing.error();
  existing->bind(1, delegator_id).bind(2, delegate_id);
  auto row = existing->step();
  if (!row.ok()) return row.error();
  if (*row) return false;
  // Both caps are checked before the row is added: a ticket names at most 64 users, and lists of
  // either side stay readable.
  auto delegates = count_where(*db_, "SELECT count(*) FROM delegates WHERE delegator_id = ?", delegator_id);
  if (!delegates.ok()) return delegates.error();
  if (static_cast<size_t>(*delegates) >= proto::kMaxDelegatesPerUser)
    return make_error(Errc::too_large, "a user may name at most " +
                                           std::to_string(proto::kMaxDelegatesPerUser) +
                                           " delegates: remove one first");
  auto delegators = count_where(*db_, "SELECT count(*) FROM delegates WHERE delegate_id = ?", delegate_id);
  if (!delegators.ok()) return delegators.error();
  if (static_cast<size_t>(*delegators) >= proto::kMaxDelegatorsPerUser)
    return make_error(Errc::too_large, "this delegate already releases the jobs of " +
                                           std::to_string(proto::kMaxDelegatorsPerUser) +
                                           " users, the most allowed");
  auto insert =
      db_->prepare("INSERT INTO delegates(delegator_id, delegate_id, actor, created_ms) VALUES (?, ?, ?, ?)");
  if (!insert.ok()) return insert.error();
  s = insert->bind(1, delegator_id).bind(2, delegate_id).bind(3, actor).bind(4, now_ms).run();
  if (!s.ok()) return s.error();
  return true;
}

Result<bool> DirectoryStore::delegate_remove(std::string_view delegator_id, std::string_view delegate_id) {
  Status s = require_transaction("delegate_remove");
  if (!s.ok()) return s.error();
  auto remove = db_->prepare("DELETE FROM delegates WHERE delegator_id = ? AND delegate_id = ?");
  if (!remove.ok()) return remove.error();
  s = remove->bind(1, delegator_id).bind(2, delegate_id).run();
  if (!s.ok()) return s.error();
  return db_->changes() > 0;
}

Result<std::vector<Delegation>> DirectoryStore::delegates_of(std::string_view user_id) {
  auto stmt = db_->prepare("SELECT u.id, u.email, u.display_name, d.actor, d.created_ms "
                           "FROM delegates d JOIN users u ON u.id = d.delegate_id "
                           "WHERE d.delegator_id = ? ORDER BY u.email LIMIT ?");
  if (!stmt.ok()) return stmt.error();
  stmt->bind(1, user_id).bind(2, static_cast<int64_t>(proto::kMaxDelegatesPerUser));
  return delegations(*stmt);
}

Result<std::vector<Delegation>> DirectoryStore::delegators_of(std::string_view user_id, int64_t now_ms,
                                                              size_t limit) {
  // A ticket names few users: the delegators who have jobs waiting somewhere come first.
  auto stmt =
      db_->prepare("SELECT u.id, u.email, u.display_name, d.actor, d.created_ms "
                   "FROM delegates d JOIN users u ON u.id = d.delegator_id "
                   "WHERE d.delegate_id = ? "
                   "ORDER BY EXISTS (SELECT 1 FROM holdings h JOIN workstations w ON w.id = h.workstation_id "
                   "JOIN enrolled e ON e.id = w.id "
                   "WHERE h.user_id = d.delegator_id AND e.revoked = 0 AND w.last_seen_ms > ?) DESC, "
                   "d.created_ms, u.email LIMIT ?");
  if (!stmt.ok()) return stmt.error();
  stmt->bind(1, user_id).bind(2, now_ms - kRegisterLeaseMs).bind(3, static_cast<int64_t>(limit));
  return delegations(*stmt);
}

Result<std::vector<Holder>> DirectoryStore::holders_of_users(const std::vector<std::string> &user_ids,
                                                             int64_t now_ms) {
  if (user_ids.size() > proto::kMaxTicketUsers)
    return make_error(Errc::too_large,
                      "a ticket names at most " + std::to_string(proto::kMaxTicketUsers) + " users");
  // One indexed look-up per user (most badge-ins have no delegator), merged here.
  std::vector<Holder> out;
  for (const auto &user_id : user_ids) {
    auto holders = holders_of(user_id, now_ms);
    if (!holders.ok()) return holders.error();
    for (auto &h : *holders) {
      auto same = std::find_if(out.begin(), out.end(), [&h](const Holder &o) { return o.id == h.id; });
      if (same == out.end())
        out.push_back(std::move(h));
      else
        same->jobs += h.jobs;
    }
  }
  std::sort(out.begin(), out.end(), [](const Holder &a, const Holder &b) {
    return a.last_seen_ms != b.last_seen_ms ? a.last_seen_ms > b.last_seen_ms : a.id < b.id;
  });
  if (out.size() > kMaxWorkstationsPerTicket) out.resize(kMaxWorkstationsPerTicket);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Badge PINs

Result<std::string> DirectoryStore::pin_hash(std::string_view user_id) {
  auto stmt = db_->prepare("SELECT hash FROM badge_pins WHERE user_id = ?");
  if (!stmt.ok()) return stmt.error();
  stmt->bind(1, user_id);
  auto row = stmt->step();
  if (!row.ok()) return row.error();
  return *row ? stmt->col_text(0) : std::string();
}

Status DirectoryStore::pin_set(std::string_view user_id, std::string_view hash, int64_t now_ms) {
  Status s = require_transaction("pin_set");
  if (!s.ok()) return s;
  auto stmt =
      db_->prepare("INSERT INTO badge_pins(user_id, hash, set_ms) VALUES (?, ?, ?) "
                   "ON CONFLICT(user_id) DO UPDATE SET hash = excluded.hash, set_ms = excluded.set_ms");
  if (!stmt.ok()) return stmt.error();
  return stmt->bind(1, user_id).bind(2, hash).bind(3, now_ms).run();
}

Result<bool> DirectoryStore::pin_clear(std::string_view user_id) {
  Status s = require_transaction("pin_clear");
  if (!s.ok()) return s.error();
  s = run_with(*db_, "DELETE FROM badge_pins WHERE user_id = ?", user_id);
  if (!s.ok()) return s.error();
  return db_->changes() > 0;
}

// ---------------------------------------------------------------------------------------------
// Federated users

Result<bool> DirectoryStore::user_federated(std::string_view user_id) {
  auto stmt = db_->prepare("SELECT federated FROM users WHERE id = ?");
  if (!stmt.ok()) return stmt.error();
  stmt->bind(1, user_id);
  auto row = stmt->step();
  if (!row.ok()) return row.error();
  if (!*row) return make_error(Errc::not_found, "no user has the id " + std::string(user_id));
  return stmt->col_int(0) != 0;
}

Result<bool> DirectoryStore::user_federated_set(std::string_view user_id, bool federated) {
  Status s = require_transaction("user_federated_set");
  if (!s.ok()) return s.error();
  auto current = user_federated(user_id);
  if (!current.ok()) return current.error();
  if (*current == federated) return false;
  auto stmt = db_->prepare("UPDATE users SET federated = ? WHERE id = ?");
  if (!stmt.ok()) return stmt.error();
  s = stmt->bind(1, federated ? 1 : 0).bind(2, user_id).run();
  if (!s.ok()) return s.error();
  return true;
}

// ---------------------------------------------------------------------------------------------
// Badge policy

Result<BadgePolicy> DirectoryStore::badge_policy() {
  auto pin = setting(kPinPolicySetting, "off");
  if (!pin.ok()) return pin.error();
  auto self_register = setting(kSelfRegisterSetting, "on");
  if (!self_register.ok()) return self_register.error();
  auto offline = setting(kOfflineHoursSetting, "0");
  if (!offline.ok()) return offline.error();
  BadgePolicy policy;
  policy.pin_required = *pin != "off";
  policy.self_register = *self_register == "on";
  // Anything but a number of hours in range reads as off (the stricter choice).
  int64_t hours = 0;
  auto [end, ec] = std::from_chars(offline->data(), offline->data() + offline->size(), hours);
  bool whole = ec == std::errc() && end == offline->data() + offline->size();
  policy.offline_hours = whole && hours >= 0 && hours <= proto::kMaxOfflineHours ? hours : 0;
  return policy;
}

Status DirectoryStore::badge_policy_set(const BadgePolicy &policy) {
  Status s = setting_set(kPinPolicySetting, policy.pin_required ? "required" : "off");
  if (s.ok()) s = setting_set(kSelfRegisterSetting, policy.self_register ? "on" : "off");
  if (s.ok()) s = setting_set(kOfflineHoursSetting, std::to_string(policy.offline_hours));
  return s;
}

} // namespace lpm::directory
