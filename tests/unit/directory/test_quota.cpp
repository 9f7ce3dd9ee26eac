// Quotas and colour at printers (AMB-17, PM-5, issue 6): the month a quota counts in, the
// store's holds and charges, and the ops over a real directory on a real loop: badge-in holds
// what each Print Management user may still print and says whether they may print in colour,
// settle-quota charges each printed claim once from the station's signed outcome,
// print-policy-show / -set.
#include <catch2/catch.hpp>

#include "directory_service_private.h"
#include "lpm/ids.h"
#include "lpm/protocol/ops_print.h"
#include "lpm/protocol/outcome.h"
#include "people_fixture.h"

namespace lpm::directory::test {
namespace {

// 2026-03-31T22:30:00Z: still March in UTC, already April in Paris (UTC+2 since 03-29).
constexpr int64_t kMarchEndUtcMs = 1'774'996'200'000;

TimeZone zone(const char *name) {
  auto z = TimeZone::load(name);
  REQUIRE(z.ok());
  return std::move(*z);
}

// A directory with a workstation, a release station whose key the test holds (to sign outcomes
// as the station does), and Print Management set up through the store.
struct Quotas : People {
  std::shared_ptr<proto::Identity> station_identity = h.identity("station-1");
  SyncClient *printer = nullptr;
  std::string printer_id;
  std::vector<std::string> unmanaged; // users kept out of Print Management

  Quotas() {
    printer = &h.connect(station_identity, proto::role::printer);
    auto enrolled = h.enroll(*printer, EnrollKind::printer, h.token(EnrollKind::printer), "station-1");
    REQUIRE(enrolled.ok());
    printer_id = enrolled->id;
    h.service().set_badge_rate_limit(BadgeRateLimit{0, 20});
  }

  // A user who may release, with a badge, imported into Print Management unless `managed` is
  // false; in print group `group` (created with group_quota and colour when new) or none.
  User member(const std::string &email, const std::string &badge, bool managed = true,
              const std::string &group = "", std::optional<int64_t> group_quota = {}, bool color = false,
              std::optional<int64_t> own_quota = {}) {
    User u = user(email, {Role::prm_user});
    REQUIRE(h.admin().badge_add(badge, email, wall_ms(), "test").ok());
    if (!managed) {
      unmanaged.push_back(u.id);
      return u;
    }
    auto tx = h.admin().begin();
    REQUIRE(h.admin().pm_users_sync(wall_ms()).ok());
    // Import from User Accounts takes every releaser: those meant to stay outside leave again.
    for (const auto &id : unmanaged)
      REQUIRE(h.admin().pm_user_remove(id).ok());
    if (!group.empty()) {
      auto g = h.admin().print_group_by_name(group);
      std::string id;
      if (g.ok()) {
        id = g->id;
      } else {
        auto created = h.admin().print_group_create(group, group_quota, color, wall_ms());
        REQUIRE(created.ok());
        id = created->id;
      }
      REQUIRE(h.admin().pm_user_group_set(u, id).ok());
    }
    if (own_quota) REQUIRE(h.admin().pm_user_quota_set(u, own_quota).ok());
    REQUIRE(tx.commit().ok());
    return u;
  }

  Result<proto::BadgeInResult> badge_in(const std::string &badge) {
    proto::BadgeInRequest req;
    req.badge = badge;
    return rpc<proto::BadgeInResult>(*printer, proto::op::badge_in, req);
  }

  // A completed outcome as the station signs it: `impressions` printed of job `job` (claim
  // `claim`) reported to workstation ws_id.
  proto::UpdateJobStatusRequest outcome(const std::string &job, const std::string &claim, int64_t impressions,
                                        const proto::KeyPair *key = nullptr) {
    proto::UpdateJobStatusRequest req;
    req.job = job;
    req.claim = claim;
    req.outcome = proto::JobOutcome::completed;
    req.pages = impressions;
    req.impressions = impressions;
    req.sheets = impressions;
    req.counts_source = "device";
    req.printer_name = "station-1";
    req.finished_ms = wall_ms();
    REQUIRE(proto::sign_outcome(key ? *key : station_identity->key(), ws_id, req).ok());
    return req;
  }

  Result<proto::SettleQuotaResult> settle(const std::string &reservation, const std::string &user_id,
                                          std::optional<proto::UpdateJobStatusRequest> signed_outcome,
                                          bool done = false, SyncClient *from = nullptr) {
    proto::SettleQuotaRequest req;
    req.reservation = reservation;
    req.user = signed_outcome ? user_id : "";
    req.workstation = signed_outcome ? ws_id : "";
    req.outcome = std::move(signed_outcome);
    req.done = done;
    return rpc<proto::SettleQuotaResult>(from ? *from : *printer, proto::op::settle_quota, req);
  }

  int64_t used(const User &u) {
    auto month = quota_month(zone("UTC"), wall_ms());
    auto n = h.admin().quota_used(u.id, month);
    REQUIRE(n.ok());
    return *n;
  }
};

const proto::BadgeUser &badge_user(const proto::BadgeInResult &r, const std::string &id) {
  for (const auto &u : r.users)
    if (u.id == id) return u;
  FAIL("user " << id << " is not in the answer");
  return r.users.front();
}

} // namespace

TEST_CASE("quota months are calendar months of the policy's zone (AMB-17)", "[directory][quota][AMB-17]") {
  CHECK(quota_month(zone("UTC"), kMarchEndUtcMs) == "2026-03");
  CHECK(quota_month(zone("Europe/Paris"), kMarchEndUtcMs) == "2026-04");
  CHECK(quota_month(zone("America/New_York"), kMarchEndUtcMs) == "2026-03");
  // +05:45: 2026-12-31T18:15Z is already 2027 in Kathmandu.
  CHECK(quota_month(zone("Asia/Kathmandu"), 1'798'740'900'000) == "2027-01");
  CHECK(quota_month(zone("Asia/Kathmandu"), 1'798'740'899'999) == "2026-12");
  CHECK(quota_month(zone("UTC"), 0) == "1970-01");
  CHECK(quota_month(zone("UTC"), -1) == "1969-12");
  CHECK(quota_month(zone("UTC"), 951'782'400'000) == "2000-02"); // 2000-02-29, a leap day
}

TEST_CASE("quota store: limits from Print Management, holds, each claim charged once, the hold given back "
          "(AMB-17, PM-5)",
          "[directory][quota][AMB-17][PM-5]") {
  Quotas q;
  DirectoryStore &db = q.h.admin();
  User outsider = q.member("out@example.com", "B-OUT", false);
  User grouped = q.member("ann@example.com", "B-ANN", true, "Floor 1", 100, true);
  User own = q.member("bob@example.com", "B-BOB", true, "Floor 1", {}, false, 30);
  User none = q.member("cid@example.com", "B-CID", true);

  auto limits = db.quota_limits(outsider.id);
  REQUIRE(limits.ok());
  CHECK_FALSE(limits->counted); // not in Print Management: not managed (PM-2)
  CHECK(limits->color_allowed);
  limits = db.quota_limits(grouped.id);
  REQUIRE(limits.ok());
  CHECK(limits->counted);
  CHECK(limits->quota == 100); // the group's
  CHECK(limits->color_allowed);
  limits = db.quota_limits(own.id);
  REQUIRE(limits.ok());
  CHECK(limits->quota == 30); // the user's own overrides the group's
  limits = db.quota_limits(none.id);
  REQUIRE(limits.ok());
  CHECK(limits->counted);
  CHECK_FALSE(limits->quota);
  CHECK_FALSE(limits->color_allowed); // in no print group: no group allows colour (AMB-17)

  int64_t now = wall_ms();
  {
    auto tx = db.begin();
    REQUIRE(db.quota_hold("r1", grouped.id, q.printer_id, 40, now + 60'000).ok());
    REQUIRE(db.quota_hold("r2", grouped.id, q.printer_id, 25, now + 60'000).ok());
    REQUIRE(db.quota_hold("old", grouped.id, q.printer_id, 99, now - 1).ok()); // lapsed
    REQUIRE(tx.commit().ok());
  }
  CHECK(*db.quota_held(grouped.id, now) == 65);
  CHECK(*db.quota_held(grouped.id, now, "r1") == 25);
  CHECK(*db.quota_reservation_names("r1", q.printer_id, grouped.id));
  CHECK_FALSE(*db.quota_reservation_names("r1", "another-printer", grouped.id));
  CHECK_FALSE(*db.quota_reservation_names("r1", q.printer_id, own.id));

  QuotaCharge charge{"r1", grouped.id, "ws", "job-1", "claim-1", "2026-11", 12, now};
  {
    auto tx = db.begin();
    auto charged = db.quota_charge(charge);
    REQUIRE(charged.ok());
    CHECK(*charged == 12);
    auto again = db.quota_charge(charge); // the same claim
    REQUIRE(again.ok());
    CHECK(*again == 0);
    charge.claim = "claim-2"; // the job printed again (a reprint): charged again
    CHECK(*db.quota_charge(charge) == 12);
    REQUIRE(tx.commit().ok());
  }
  CHECK(*db.quota_used(grouped.id, "2026-11") == 24);
  CHECK(*db.quota_used(grouped.id, "2026-10") == 0);
  CHECK(*db.quota_held(grouped.id, now) == 16 + 25); // r1's hold shrank by what it charged
  {
    auto tx = db.begin();
    CHECK(*db.quota_release("r1", "another-printer", now) == 0);
    CHECK(*db.quota_release("r1", q.printer_id, now) == 1);
    REQUIRE(db.quota_purge(now, now - 1000).ok());
    REQUIRE(tx.commit().ok());
  }
  CHECK(*db.quota_held(grouped.id, now) == 25);
  // Given back, the reservation is still known for a settle that arrives late.
  CHECK(*db.quota_reservation_names("r1", q.printer_id, grouped.id));
  q.h.finish();
}

TEST_CASE("badge-in holds what each Print Management user may still print and says whether they may print in "
          "colour, settle-quota charges printed jobs once (AMB-17, PM-5)",
          "[directory][quota][badge][AMB-17][PM-5]") {
  Quotas q;
  User ann = q.member("ann@example.com", "B-ANN", true, "Colour", 10, true);
  User bob = q.member("bob@example.com", "B-BOB", true, "Mono", {}, false);
  User out = q.member("out@example.com", "B-OUT", false);

  // Nobody counted: no reservation, nothing written beyond what older answers had.
  auto plain = q.badge_in("B-OUT");
  REQUIRE(plain.ok());
  CHECK(plain->reservation.empty());
  CHECK_FALSE(plain->users[0].counted);
  CHECK(plain->users[0].quota_left == -1);
  CHECK(plain->users[0].color_allowed);

  auto first = q.badge_in("B-ANN");
  REQUIRE(first.ok());
  REQUIRE_FALSE(first->reservation.empty());
  CHECK(first->color_denied == proto::kColorDeniedMono); // the default rule
  const proto::BadgeUser &a = badge_user(*first, ann.id);
  CHECK(a.counted);
  CHECK(a.quota_left == 10);
  CHECK(a.color_allowed);

  // While the first reservation holds all 10, a second badge-in elsewhere finds none left.
  auto second = q.badge_in("B-ANN");
  REQUIRE(second.ok());
  CHECK(badge_user(*second, ann.id).quota_left == 0);
  auto back = q.settle(second->reservation, "", std::nullopt, true);
  REQUIRE(back.ok());

  std::string job = uuid_v7();
  auto charged = q.settle(first->reservation, ann.id, q.outcome(job, "c1", 4));
  INFO((charged.ok() ? std::string() : charged.error().to_string()));
  REQUIRE(charged.ok());
  CHECK(charged->charged == 4);
  CHECK(charged->quota_left == 6);
  CHECK(q.used(ann) == 4);
  // The same claim again (a retry) is not charged twice.
  auto repeated = q.settle(first->reservation, ann.id, q.outcome(job, "c1", 4));
  REQUIRE(repeated.ok());
  CHECK(repeated->charged == 0);
  CHECK(q.used(ann) == 4);

  SECTION("the release over, the rest is free again; the next badge-in sees what is left") {
    REQUIRE(q.settle(first->reservation, "", std::nullopt, true).ok());
    auto next = q.badge_in("B-ANN");
    REQUIRE(next.ok());
    CHECK(badge_user(*next, ann.id).quota_left == 6);
  }
  SECTION(
      "a user in a group without colour, no quota: counted, colour not allowed; the enterprise may refuse "
      "colour jobs") {
    auto bobs = q.badge_in("B-BOB");
    REQUIRE(bobs.ok());
    const proto::BadgeUser &b = badge_user(*bobs, bob.id);
    CHECK(b.counted);
    CHECK(b.quota_left == -1);
    CHECK_FALSE(b.color_allowed);
    REQUIRE_FALSE(bobs->reservation.empty()); // so the station can charge bob's jobs
    auto settled = q.settle(bobs->reservation, bob.id, q.outcome(uuid_v7(), "c9", 7));
    REQUIRE(settled.ok());
    CHECK(settled->charged == 7);
    CHECK(settled->quota_left == -1);
    CHECK(q.used(bob) == 7);
  }
  SECTION("refusals: another printer's reservation, a user it does not name, an outcome not signed by the "
          "caller, an aborted outcome charges nothing") {
    auto [other, other_id] = q.h.enrolled("station-2", EnrollKind::printer, proto::role::printer);
    (void)other_id;
    auto foreign = q.settle(first->reservation, ann.id, q.outcome(uuid_v7(), "c2", 1), false, other);
    REQUIRE_FALSE(foreign.ok());
    CHECK(foreign.error().code == Errc::not_found);
    auto not_named = q.settle(first->reservation, out.id, q.outcome(uuid_v7(), "c3", 1));
    REQUIRE_FALSE(not_named.ok());
    CHECK(not_named.error().code == Errc::not_found);
    auto stranger_key = q.h.identity("stranger");
    auto forged = q.settle(first->reservation, ann.id, q.outcome(uuid_v7(), "c4", 1, &stranger_key->key()));
    REQUIRE_FALSE(forged.ok());
    CHECK(forged.error().code == Errc::invalid_signature);
    auto unsigned_outcome = q.outcome(uuid_v7(), "c5", 1);
    unsigned_outcome.signature.clear();
    unsigned_outcome.signer_key.clear();
    auto bare = q.settle(first->reservation, ann.id, unsigned_outcome);
    REQUIRE_FALSE(bare.ok());
    CHECK(bare.error().code == Errc::invalid_signature);
    proto::UpdateJobStatusRequest aborted = q.outcome(uuid_v7(), "c6", 0);
    aborted.outcome = proto::JobOutcome::aborted;
    aborted.impressions = 3;
    REQUIRE(proto::sign_outcome(q.station_identity->key(), q.ws_id, aborted).ok());
    auto nothing = q.settle(first->reservation, ann.id, aborted);
    REQUIRE(nothing.ok());
    CHECK(nothing->charged == 0);
    CHECK(q.used(ann) == 4);
  }
  q.h.finish();
}

TEST_CASE(
    "quota-show: one's own quota, used, held and left this month, another's only with a role that reads "
    "users (AMB-17)",
    "[directory][quota][AMB-17]") {
  Quotas q;
  User ann = q.member("ann@example.com", "B-ANN", true, "Floor 1", 20, false);
  q.member("out@example.com", "B-OUT", false);
  q.user("helpdesk@example.com", {Role::prm_helpdesk});
  auto show = [&](const std::string &who, const std::string &email = "") {
    return rpc<proto::QuotaShowResult>(*q.ws, proto::op::quota_show,
                                       proto::QuotaShowRequest{q.session(who), email});
  };
  auto mine = show("ann@example.com");
  REQUIRE(mine.ok());
  CHECK(mine->email == "ann@example.com");
  CHECK(mine->counted);
  CHECK(mine->quota == 20);
  CHECK_FALSE(mine->own_quota);
  CHECK(mine->group == "Floor 1");
  CHECK_FALSE(mine->color_allowed);
  CHECK(mine->quota_zone == "UTC");
  CHECK(mine->month == quota_month(zone("UTC"), wall_ms()));
  CHECK(mine->used == 0);
  CHECK(mine->left == 20);

  // A release in progress holds what is left; a printed job is charged.
  auto badge = q.badge_in("B-ANN");
  REQUIRE(badge.ok());
  REQUIRE(q.settle(badge->reservation, ann.id, q.outcome(uuid_v7(), "c1", 5)).ok());
  mine = show("ann@example.com");
  REQUIRE(mine.ok());
  CHECK(mine->used == 5);
  CHECK(mine->held == 15);
  CHECK(mine->left == 0);
  REQUIRE(q.settle(badge->reservation, "", std::nullopt, true).ok());
  mine = show("ann@example.com");
  CHECK(mine->held == 0);
  CHECK(mine->left == 15);

  auto outsider = show("out@example.com");
  REQUIRE(outsider.ok());
  CHECK_FALSE(outsider->counted);
  CHECK_FALSE(outsider->quota);
  CHECK(outsider->left == -1);
  CHECK(outsider->color_allowed);

  // Another's: the helpdesk may look, a plain user may not.
  auto looked = show("helpdesk@example.com", "ann@example.com");
  REQUIRE(looked.ok());
  CHECK(looked->used == 5);
  auto refused = show("out@example.com", "ann@example.com");
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code == Errc::forbidden);
  q.h.finish();
}

TEST_CASE("print-policy: shown to anyone signed in, set by Print Management administrators, the zone checked "
          "(AMB-17)",
          "[directory][quota][AMB-17]") {
  Quotas q;
  q.user("pm-admin@example.com", {Role::prm_administrator});
  std::string admin = q.session("pm-admin@example.com");
  auto shown =
      rpc<proto::PrintPolicyResult>(*q.ws, proto::op::print_policy_show, proto::SessionRequest{admin});
  REQUIRE(shown.ok());
  CHECK(shown->quota_zone == "UTC");
  CHECK(shown->color_denied == proto::kColorDeniedMono);

  auto bad_zone = rpc<proto::PrintPolicyResult>(*q.ws, proto::op::print_policy_set,
                                                proto::PrintPolicySetRequest{admin, "Mars/Olympus", ""});
  REQUIRE_FALSE(bad_zone.ok());
  CHECK(bad_zone.error().code == Errc::not_found);
  CHECK(bad_zone.error().message.find("quota_zone Mars/Olympus") == 0);

  auto set = rpc<proto::PrintPolicyResult>(
      *q.ws, proto::op::print_policy_set,
      proto::PrintPolicySetRequest{admin, "Asia/Kathmandu", proto::kColorDeniedRefuse});
  REQUIRE(set.ok());
  CHECK(set->quota_zone == "Asia/Kathmandu");
  CHECK(set->color_denied == proto::kColorDeniedRefuse);
  // One field at a time leaves the other.
  auto mono = rpc<proto::PrintPolicyResult>(*q.ws, proto::op::print_policy_set,
                                            proto::PrintPolicySetRequest{admin, "", proto::kColorDeniedMono});
  REQUIRE(mono.ok());
  CHECK(mono->quota_zone == "Asia/Kathmandu");

  // Badge-ins follow it: the rule comes with the answer.
  q.member("ann@example.com", "B-ANN", true, "Floor", 5, false);
  REQUIRE(rpc<proto::PrintPolicyResult>(*q.ws, proto::op::print_policy_set,
                                        proto::PrintPolicySetRequest{admin, "", proto::kColorDeniedRefuse})
              .ok());
  auto answer = q.badge_in("B-ANN");
  REQUIRE(answer.ok());
  CHECK(answer->color_denied == proto::kColorDeniedRefuse);
  auto log = q.h.admin().audit_tail(100);
  REQUIRE(log.ok());
  CHECK(std::count_if(log->begin(), log->end(),
                      [](const AuditEntry &e) { return e.action == "print-policy-set"; }) == 3);
  q.h.finish();
}

} // namespace lpm::directory::test
