// DirectoryStore: monthly quotas counted (AMB-17, DESIGN §4 steps 1 and 4). A badge-in holds what
// each counted user may still print this month; the release station charges every printed job
// of theirs from the outcome it signed (settle-quota), each claim once, and gives the rest of
// the hold back when its release is over. A hold that is never given back lapses.
#include "directory_store.h"
#include "directory_store_private.h"

namespace lpm::directory {
namespace {

constexpr const char *kQuotaZoneSetting = "print.quota_zone";
constexpr const char *kColorDeniedSetting = "print.color_denied";

} // namespace

Result<PrintPolicy> DirectoryStore::print_policy() {
  auto zone = setting(kQuotaZoneSetting, "UTC");
  if (!zone.ok()) return zone.error();
  auto color = setting(kColorDeniedSetting, "mono");
  if (!color.ok()) return color.error();
  PrintPolicy policy;
  policy.quota_zone = *zone;
  // A value this program does not know reads as the stricter choice.
  policy.color_refused = *color != "mono";
  return policy;
}

Status DirectoryStore::print_policy_set(const PrintPolicy &policy) {
  Status s = setting_set(kQuotaZoneSetting, policy.quota_zone);
  if (s.ok()) s = setting_set(kColorDeniedSetting, policy.color_refused ? "refuse" : "mono");
  return s;
}

Result<QuotaLimits> DirectoryStore::quota_limits(std::string_view user_id) {
  // A member's group is always live (deleting a group empties it); the join says so anyway.
  auto stmt = db_->prepare("SELECT p.quota, g.quota, coalesce(g.color_allowed, 0) FROM pm_users p "
                           "LEFT JOIN print_groups g ON g.id = p.print_group_id AND g.deleted_ms = 0 "
                           "WHERE p.user_id = ?");
  if (!stmt.ok()) return stmt.error();
  stmt->bind(1, user_id);
  auto row = stmt->step();
  if (!row.ok()) return row.error();
  QuotaLimits limits;
  if (!*row) return limits;
  limits.counted = true;
  // The user's own quota overrides the group's (AMB-17).
  if (!stmt->col_is_null(0))
    limits.quota = stmt->col_int(0);
  else if (!stmt->col_is_null(1))
    limits.quota = stmt->col_int(1);
  limits.color_allowed = stmt->col_int(2) != 0;
  return limits;
}

Result<int64_t> DirectoryStore::quota_used(std::string_view user_id, std::string_view month) {
  auto stmt = db_->prepare("SELECT impressions FROM quota_usage WHERE user_id = ? AND month = ?");
  if (!stmt.ok()) return stmt.error();
  stmt->bind(1, user_id).bind(2, month);
  auto row = stmt->step();
  if (!row.ok()) return row.error();
  return *row ? stmt->col_int(0) : 0;
}

Result<int64_t> DirectoryStore::quota_held(std::string_view user_id, int64_t now_ms,
                                           std::string_view except) {
  auto stmt = db_->prepare("SELECT coalesce(sum(impressions), 0) FROM quota_holds "
                           "WHERE user_id = ? AND expires_ms > ? AND reservation <> ?");
  if (!stmt.ok()) return stmt.error();
  stmt->bind(1, user_id).bind(2, now_ms).bind(3, except);
  auto row = stmt->step();
  if (!row.ok()) return row.error();
  return *row ? stmt->col_int(0) : 0;
}

Status DirectoryStore::quota_hold(std::string_view reservation, std::string_view user_id,
                                  std::string_view printer_id, int64_t impressions, int64_t expires_ms) {
  Status s = require_transaction("quota_hold");
  if (!s.ok()) return s;
  auto stmt =
      db_->prepare("INSERT INTO quota_holds(reservation, user_id, printer_id, impressions, expires_ms) "
                   "VALUES (?, ?, ?, ?, ?)");
  if (!stmt.ok()) return stmt.error();
  return stmt->bind(1, reservation)
      .bind(2, user_id)
      .bind(3, printer_id)
      .bind(4, impressions)
      .bind(5, expires_ms)
      .run();
}

Result<bool> DirectoryStore::quota_reservation_names(std::string_view reservation,
                                                     std::string_view printer_id, std::string_view user_id) {
  auto stmt =
      db_->prepare("SELECT 1 FROM quota_holds WHERE reservation = ? AND printer_id = ? AND user_id = ?");
  if (!stmt.ok()) return stmt.error();
  stmt->bind(1, reservation).bind(2, printer_id).bind(3, user_id);
  auto row = stmt->step();
  if (!row.ok()) return row.error();
  return *row;
}

Result<int64_t> DirectoryStore::quota_charge(const QuotaCharge &charge) {
  Status s = require_transaction("quota_charge");
  if (!s.ok()) return s.error();
  auto once = db_->prepare("INSERT INTO quota_charges(workstation, job, claim, user_id, month, impressions, "
                           "charged_ms) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING");
  if (!once.ok()) return once.error();
  s = once->bind(1, charge.workstation)
          .bind(2, charge.job)
          .bind(3, charge.claim)
          .bind(4, charge.user_id)
          .bind(5, charge.month)
          .bind(6, charge.impressions)
          .bind(7, charge.now_ms)
          .run();
  if (!s.ok()) return s.error();
  if (db_->changes() == 0) return int64_t{0}; // this claim was charged before
  if (charge.impressions <= 0) return int64_t{0};
  auto usage = db_->prepare(
      "INSERT INTO quota_usage(user_id, month, impressions) VALUES (?, ?, ?) "
      "ON CONFLICT(user_id, month) DO UPDATE SET impressions = impressions + excluded.impressions");
  if (!usage.ok()) return usage.error();
  s = usage->bind(1, charge.user_id).bind(2, charge.month).bind(3, charge.impressions).run();
  if (!s.ok()) return s.error();
  // What is charged no longer needs holding.
  auto hold = db_->prepare("UPDATE quota_holds SET impressions = max(impressions - ?, 0) "
                           "WHERE reservation = ? AND user_id = ?");
  if (!hold.ok()) return hold.error();
  s = hold->bind(1, charge.impressions).bind(2, charge.reservation).bind(3, charge.user_id).run();
  if (!s.ok()) return s.error();
  return charge.impressions;
}

Result<int64_t> DirectoryStore::quota_release(std::string_view reservation, std::string_view printer_id,
                                              int64_t now_ms) {
  Status s = require_transaction("quota_release");
  if (!s.ok()) return s.error();
  // The rows stay (lapsed now) so a settle arriving after `done` still finds the reservation.
  auto stmt = db_->prepare("UPDATE quota_holds SET impressions = 0, expires_ms = min(expires_ms, ?) "
                           "WHERE reservation = ? AND printer_id = ?");
  if (!stmt.ok()) return stmt.error();
  s = stmt->bind(1, now_ms).bind(2, reservation).bind(3, printer_id).run();
  if (!s.ok()) return s.error();
  return db_->changes();
}

Status DirectoryStore::quota_purge(int64_t now_ms, int64_t charges_before_ms) {
  Status s = require_transaction("quota_purge");
  if (!s.ok()) return s;
  // Lapsed holds are kept a day for late settles, then forgotten.
  constexpr int64_t kLapsedKeptMs = 24LL * 60 * 60 * 1000;
  auto holds = db_->prepare("DELETE FROM quota_holds WHERE expires_ms < ?");
  if (!holds.ok()) return holds.error();
  s = holds->bind(1, now_ms - kLapsedKeptMs).run();
  if (!s.ok()) return s;
  auto charges = db_->prepare("DELETE FROM quota_charges WHERE charged_ms < ?");
  if (!charges.ok()) return charges.error();
  return charges->bind(1, charges_before_ms).run();
}

} // namespace lpm::directory
