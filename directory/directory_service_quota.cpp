// The directory's side of quotas and colour at printers (AMB-17, DESIGN §4 steps 1 and 4):
// badge-in holds what each counted user may still print this month and says whether they may
// print in colour; settle-quota charges each printed job from the outcome the station signed;
// print-policy-show / print-policy-set are the enterprise's quota zone and colour rule.
#include "directory_service_private.h"
#include "lpm/ids.h"
#include "lpm/log.h"
#include "lpm/protocol/ops_print.h"
#include "lpm/protocol/outcome.h"

namespace lpm::directory {
namespace {

// A badge-in's hold lasts this long unless the station gives it back sooner (settle-quota with
// done, at the end of its release).
constexpr int64_t kQuotaHoldMs = 10LL * 60 * 1000;
// Charges are remembered this long, so a settle repeated within it is not charged again.
constexpr int64_t kChargesKeptMs = 62LL * 24 * 60 * 60 * 1000;

// What a user has used this month and what live reservations (but `except`) hold of their quota.
struct QuotaSpent {
  int64_t used = 0;
  int64_t held = 0;
  int64_t left_of(int64_t quota, int64_t also_held = 0) const {
    return std::max<int64_t>(0, quota - used - held - also_held);
  }
};
Result<QuotaSpent> quota_spent(DirectoryStore &store, const std::string &user_id, const std::string &month,
                               int64_t now_ms, std::string_view except = {}) {
  auto used = store.quota_used(user_id, month);
  if (!used.ok()) return used.error();
  auto held = store.quota_held(user_id, now_ms, except);
  if (!held.ok()) return held.error();
  return QuotaSpent{*used, *held};
}

proto::PrintPolicyResult policy_result(const PrintPolicy &policy) {
  proto::PrintPolicyResult out;
  out.quota_zone = policy.quota_zone;
  out.color_denied = policy.color_refused ? proto::kColorDeniedRefuse : proto::kColorDeniedMono;
  return out;
}

} // namespace

std::string quota_month(const TimeZone &zone, int64_t at_ms) {
  int64_t s = at_ms / 1000 - (at_ms % 1000 < 0 ? 1 : 0);
  int64_t local = s + zone.offset_at(s);
  int64_t days = local / 86400 - (local % 86400 < 0 ? 1 : 0);
  // The civil date of a count of days since 1970-01-01 (proleptic Gregorian), by eras of 400
  // years (146,097 days) starting on 0000-03-01.
  int64_t z = days + 719468;
  int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  int64_t doe = z - era * 146097;
  int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  int64_t mp = (5 * doy + 2) / 153;
  int64_t month = mp < 10 ? mp + 3 : mp - 9;
  int64_t year = yoe + era * 400 + (month <= 2 ? 1 : 0);
  std::string text = std::to_string(year);
  text.insert(0, text.size() < 4 ? 4 - text.size() : 0, '0');
  return text + (month < 10 ? "-0" : "-") + std::to_string(month);
}

Result<std::string> DirectoryService::Core::current_quota_month(int64_t now_ms) {
  auto policy = store->print_policy();
  if (!policy.ok()) return policy.error();
  if (!quota_zone || quota_zone->name() != policy->quota_zone) {
    auto zone = TimeZone::load(policy->quota_zone);
    if (!zone.ok()) {
      // A zone that no longer loads (the system's zoneinfo changed) must not stop printing.
      LPM_WARN("print policy: quota zone %s: %s; counting in UTC", policy->quota_zone.c_str(),
               zone.error().to_string().c_str());
      auto utc = TimeZone::from_rule("UTC0", policy->quota_zone);
      if (!utc.ok()) return utc.error();
      zone = std::move(utc);
    }
    quota_zone = std::move(*zone);
  }
  return quota_month(*quota_zone, now_ms);
}

Status DirectoryService::Core::user_limits(proto::BadgeUser &u, std::optional<std::string> &month, int64_t now_ms) {
  auto quota_limits = store->quota_limits(u.id);
  if (!quota_limits.ok()) return quota_limits.error();
  if (!quota_limits->counted) return {};
  u.counted = true;
  u.color_allowed = quota_limits->color_allowed;
  if (!quota_limits->quota) return {};
  if (!month) {
    auto m = current_quota_month(now_ms);
    if (!m.ok()) return m.error();
    month = std::move(*m);
  }
  auto spent = quota_spent(*store, u.id, *month, now_ms);
  if (!spent.ok()) return spent.error();
  auto pending = pending_holds.find(u.id);
  u.quota_left = spent->left_of(*quota_limits->quota, pending == pending_holds.end() ? 0 : pending->second);
  return {};
}

Status DirectoryService::Core::reserve_quotas(proto::BadgeInResult &result, const EnrolledEntry &printer,
                                              int64_t now_ms, std::vector<QuotaHoldRow> &holds) {
  std::optional<std::string> month;
  for (auto &u : result.users) {
    Status limited = user_limits(u, month, now_ms);
    if (!limited.ok()) return limited;
    if (!u.counted) continue;
    // Counted users without a quota get a hold of 0 too: the reservation is what lets the
    // station charge their jobs.
    holds.push_back(QuotaHoldRow{"", u.id, printer.id, std::max<int64_t>(u.quota_left, 0), now_ms + kQuotaHoldMs});
  }
  // Nobody counted (a user Print Management does not manage): no reservation, and the badge-in
  // costs no more than before.
  if (holds.empty()) return {};
  auto policy = store->print_policy();
  if (!policy.ok()) return policy.error();
  result.color_denied = policy->color_refused ? proto::kColorDeniedRefuse : proto::kColorDeniedMono;
  result.reservation = uuid_v7();
  for (auto &h : holds) {
    h.reservation = result.reservation;
    if (h.impressions > 0) pending_holds[h.user_id] += h.impressions;
  }
  return {};
}

void DirectoryService::Core::holds_settled(const std::vector<QuotaHoldRow> &holds) {
  for (const auto &h : holds) {
    if (h.impressions <= 0) continue;
    auto it = pending_holds.find(h.user_id);
    if (it == pending_holds.end()) continue;
    it->second -= h.impressions;
    if (it->second <= 0) pending_holds.erase(it);
  }
}

void DirectoryService::Core::handle_settle_quota(const CallPtr &call) {
  auto printer = caller(call, EnrollKind::printer, "settle a quota");
  if (!printer.ok()) return call->fail(printer.error());
  proto::SettleQuotaRequest req;
  if (!read_args(call, req)) return;
  int64_t now = wall_ms();
  proto::SettleQuotaResult result;
  std::optional<QuotaCharge> charge;
  if (req.outcome) {
    auto names = store->quota_reservation_names(req.reservation, printer->id, req.user);
    if (!names.ok()) return call->fail(names.error());
    if (!*names)
      return call->fail(Errc::not_found, "no quota reservation " + req.reservation +
                                             " of this printer names user " + req.user);
    // The station charges what it signed: its own key, this workstation, a completed outcome.
    Status checked =
        proto::check_reported_outcome(call->peer_info().fingerprint, req.workstation, *req.outcome);
    if (!checked.ok()) return call->fail(checked.error());
    if (req.outcome->signature.empty())
      return call->fail(Errc::invalid_signature, "settle-quota needs the outcome the station signed");
    if (req.outcome->outcome == proto::JobOutcome::completed) {
      auto month = current_quota_month(now);
      if (!month.ok()) return call->fail(month.error());
      charge = QuotaCharge{req.reservation,
                           req.user,
                           req.workstation,
                           req.outcome->job,
                           req.outcome->claim,
                           std::move(*month),
                           std::max<int64_t>(0, req.outcome->impressions),
                           now};
    }
  }
  auto tx = store->begin();
  Status s = tx.begun();
  if (s.ok() && charge) {
    auto charged = store->quota_charge(*charge);
    if (charged.ok())
      result.charged = *charged;
    else
      s = charged.error();
  }
  if (s.ok() && req.done) {
    auto released = store->quota_release(req.reservation, printer->id, now);
    if (!released.ok()) s = released.error();
    if (s.ok()) s = store->quota_purge(now, now - kChargesKeptMs);
  }
  if (s.ok()) s = tx.commit();
  if (!s.ok()) return call->fail(s.error());
  if (charge) {
    auto quota_limits = store->quota_limits(req.user);
    if (!quota_limits.ok()) return call->fail(quota_limits.error());
    if (quota_limits->quota) {
      auto spent = quota_spent(*store, req.user, charge->month, now, req.reservation);
      if (!spent.ok()) return call->fail(spent.error());
      result.quota_left = spent->left_of(*quota_limits->quota);
    }
    LPM_DEBUG("settle-quota from printer %s: user %s job %s charged %lld", printer->id.c_str(),
              req.user.c_str(), charge->job.c_str(), static_cast<long long>(result.charged));
  }
  reply_with(call, result);
}

void DirectoryService::Core::handle_quota_show(const CallPtr &call) {
  proto::QuotaShowRequest req;
  if (!read_args(call, req)) return;
  // One's own (any signed-in person), or another's for those who may read users.
  auto subject = person_for(*this, call, req.session, req.email, Permission::release, Permission::users_read);
  if (!subject.ok()) return call->fail(subject.error());
  const User &user = subject->user;
  int64_t now = wall_ms();
  auto policy = store->print_policy();
  if (!policy.ok()) return call->fail(policy.error());
  auto month = current_quota_month(now);
  if (!month.ok()) return call->fail(month.error());
  proto::QuotaShowResult result;
  result.email = user.email;
  result.month = *month;
  result.quota_zone = policy->quota_zone;
  result.color_denied = policy->color_refused ? proto::kColorDeniedRefuse : proto::kColorDeniedMono;
  auto pm = store->pm_user(user);
  if (!pm.ok() && pm.error().code != Errc::not_found) return call->fail(pm.error());
  auto spent = quota_spent(*store, user.id, *month, now);
  if (!spent.ok()) return call->fail(spent.error());
  result.used = spent->used;
  if (pm.ok()) {
    result.counted = true;
    result.group = pm->print_group_name;
    result.color_allowed = pm->color_allowed;
    result.own_quota = pm->quota.has_value();
    result.quota = pm->quota ? pm->quota : pm->group_quota;
    result.held = spent->held;
    if (result.quota) result.left = spent->left_of(*result.quota);
  }
  reply_with(call, result);
}

void DirectoryService::Core::handle_print_policy_show(const CallPtr &call) {
  proto::SessionRequest req;
  if (!read_args(call, req)) return;
  // Anyone signed in may see the rule their printing follows.
  auto who = person(call, req.session, std::nullopt);
  if (!who.ok()) return call->fail(who.error());
  auto policy = store->print_policy();
  if (!policy.ok()) return call->fail(policy.error());
  reply_with(call, policy_result(*policy));
}

void DirectoryService::Core::handle_print_policy_set(const CallPtr &call) {
  proto::PrintPolicySetRequest req;
  if (!read_args(call, req)) return;
  auto who = person(call, req.session, Permission::print_users_manage);
  if (!who.ok()) return call->fail(who.error());
  if (!req.quota_zone.empty()) {
    auto zone = TimeZone::load(req.quota_zone);
    if (!zone.ok())
      return call->fail(zone.error().code, "quota_zone " + req.quota_zone + ": " + zone.error().message);
  }
  auto tx = store->begin();
  if (!tx.begun().ok()) return call->fail(tx.begun().error());
  auto policy = store->print_policy();
  if (!policy.ok()) return call->fail(policy.error());
  if (!req.quota_zone.empty()) policy->quota_zone = req.quota_zone;
  if (!req.color_denied.empty()) policy->color_refused = req.color_denied == proto::kColorDeniedRefuse;
  proto::PrintPolicyResult saved = policy_result(*policy);
  Status s = store->print_policy_set(*policy);
  if (s.ok())
    s = store->audit(wall_ms(), who->actor, "print-policy-set",
                     "quota_zone " + saved.quota_zone + " color_denied " + saved.color_denied);
  if (s.ok()) s = tx.commit();
  if (!s.ok()) return call->fail(s.error());
  LPM_INFO("print policy set by %s: quotas in months of %s, colour when not allowed: %s", who->actor.c_str(),
           saved.quota_zone.c_str(), saved.color_denied.c_str());
  reply_with(call, saved);
}

} // namespace lpm::directory
