// The directory's badge ops for release stations (DESIGN §4, "Badge in and release", step 1):
// badge-in, with a PIN as second factor when the enterprise's policy asks for one, and
// badge-register, by which a user who signs in at the printer makes an unknown badge their
// permanent badge (BD-1, TS-2). Both come from enrolled printer keys, spend a token of the
// printer's bucket (rate limit), and answer with a ticket naming the badge's user and those who
// delegated to them (PM-7). PIN and password checks run on the libuv thread pool (Argon2id).
#include <cstring>

#include "directory_service_private.h"
#include "lpm/ids.h"
#include "lpm/log.h"
#include "lpm/protocol/ops_release.h"
#include "lpm/protocol/ticket.h"
#include "passwords.h"

namespace lpm::directory {
namespace {

// A printer over its limit is audited once in this interval, however often it asks.
constexpr int64_t kRateReportIntervalMs = 60 * 1000;

bool pin_well_formed(std::string_view pin) {
  if (pin.size() < proto::kMinPinDigits || pin.size() > proto::kMaxPinDigits) return false;
  return std::all_of(pin.begin(), pin.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// A PIN being checked; wiped when the check is done with.
struct PinCheck {
  std::string pin;
  std::string hash;
  bool verified = false;
  PinCheck() = default;
  PinCheck(const PinCheck &) = delete;
  PinCheck &operator=(const PinCheck &) = delete;
  ~PinCheck() { ::explicit_bzero(pin.data(), pin.size()); }
};

} // namespace

std::string shown_name(const std::string &display_name, const std::string &email) {
  return display_name.empty() ? email : display_name;
}

std::vector<std::string> release_addresses(const Holder &h) {
  std::vector<std::string> out;
  auto add = [&out](const std::string &a) {
    if (a.empty() || out.size() >= proto::kMaxAddresses) return;
    if (std::find(out.begin(), out.end(), a) == out.end()) out.push_back(a);
  };
  add(h.seen_address);
  for (const auto &a : h.reported_addresses)
    add(a);
  return out;
}

proto::WorkstationRef workstation_ref(const Holder &h) {
  proto::WorkstationRef ref;
  ref.id = h.id;
  ref.name = h.name;
  ref.addresses = release_addresses(h);
  ref.port = h.port;
  ref.fingerprint = h.fingerprint;
  return ref;
}

Status release_allowed(DirectoryStore &store, const User &user) {
  auto roles = effective_roles(store, user.id);
  if (!roles.ok()) return roles.error();
  if (roles_allow(*roles, Permission::release)) return {};
  return make_error(Errc::forbidden, std::string("this user may not release jobs: the role ") +
                                         role_name(Role::prm_user) + " is missing (PM-11)");
}

void DirectoryService::set_badge_rate_limit(const BadgeRateLimit &limit) {
  core_->badge_rate.configure(limit);
  LPM_INFO("badge rate limit per printer: %s", badge_rate_text(core_->badge_rate.limit()).c_str());
}

const BadgeRateLimit &DirectoryService::badge_rate_limit() const {
  return core_->badge_rate.limit();
}

Result<EnrolledEntry> DirectoryService::Core::badge_printer(const CallPtr &call, const char *op_text) {
  auto printer = caller(call, EnrollKind::printer, op_text);
  if (!printer.ok()) return printer.error();
  // Monotonic: a wall clock set back would otherwise starve every bucket.
  int64_t now = mono_ms();
  int64_t wait_ms = badge_rate.take(printer->id, now);
  if (wait_ms == 0) return printer;
  std::string limit = badge_rate_text(badge_rate.limit());
  if (badge_rate.report_due(printer->id, now, kRateReportIntervalMs)) {
    (void)store->audit(wall_ms(), "printer " + printer->id, "badge-rate-limited",
                       "over " + limit + " (further refusals within a minute are not logged)");
    LPM_WARN("printer %s \"%s\" is over its badge rate limit (%s)", printer->id.c_str(),
             printer->name.c_str(), limit.c_str());
  }
  return make_error(Errc::rate_limited, "too many badge operations from this printer (" + limit +
                                            "): try again in " + std::to_string(wait_ms) + " ms");
}

void DirectoryService::Core::issue_ticket(const CallPtr &call, const EnrolledEntry &printer, const User &user,
                                          const char *action, const std::string &note) {
  int64_t now = wall_ms();
  // PM-7: the ticket also covers the users who delegated to this one, as many as a ticket names.
  auto delegators = store->delegators_of(user.id, now, proto::kMaxTicketUsers - 1);
  if (!delegators.ok()) return call->fail(delegators.error());
  proto::BadgeInResult result;
  result.user = user.id;
  result.display_name = shown_name(user.display_name, user.email);
  result.users.push_back(proto::BadgeUser{user.id, result.display_name});
  std::vector<std::string> user_ids{user.id};
  for (const auto &d : *delegators) {
    user_ids.push_back(d.user_id);
    result.users.push_back(proto::BadgeUser{d.user_id, shown_name(d.display_name, d.email)});
  }
  auto holders = store->holders_of_users(user_ids, now);
  if (!holders.ok()) return call->fail(holders.error());
  // AMB-17: what each counted user may still print, held until the station settles it (the holds
  // are committed with the audit row, below).
  std::vector<QuotaHoldRow> holds;
  if (Status reserved = reserve_quotas(result, printer, now, holds); !reserved.ok())
    return call->fail(reserved.error());

  proto::Ticket ticket;
  ticket.users = std::move(user_ids);
  ticket.printer = call->peer_info().fingerprint;
  ticket.issued_ms = now;
  ticket.expires_ms = now + proto::kTicketLifetimeMs;
  for (const auto &h : *holders) {
    result.workstations.push_back(workstation_ref(h));
    ticket.workstations.push_back(h.id);
  }
  if (!signer) {
    holds_settled(holds);
    return call->fail(Errc::unavailable, "the directory is not serving");
  }

  // Audited before the answer leaves, so no ticket exists that the log does not know about:
  // answer_tickets() commits the row, then answers.
  TicketAnswer answer;
  answer.call = call;
  answer.audit.at_ms = now;
  answer.audit.actor = "printer " + printer.id;
  answer.audit.action = action;
  answer.audit.detail = "user " + user.id + " workstations " + std::to_string(result.workstations.size());
  if (!delegators->empty()) answer.audit.detail += " delegators " + std::to_string(delegators->size());
  if (!result.reservation.empty()) answer.audit.detail += " quota reservation " + result.reservation;
  if (!note.empty()) answer.audit.detail += " (" + note + ")";
  answer.log = std::string(action) + " at " + printer.id + " \"" + printer.name + "\": user " + user.id +
               ", " + std::to_string(delegators->size()) + " delegator(s), " +
               std::to_string(result.workstations.size()) + " workstation(s)";
  answer.result = std::move(result);
  answer.holds = std::move(holds);
  signer->sign(std::move(ticket), [weak = weak_from_this(), answer = std::move(answer)](
                                      Result<proto::SignedTicket> signed_ticket) mutable {
    auto core = weak.lock();
    if (!core || core->stopped) return answer.call->fail(Errc::unavailable, "the directory is shutting down");
    if (!signed_ticket.ok()) {
      core->holds_settled(answer.holds);
      return answer.call->fail(signed_ticket.error());
    }
    answer.result.ticket = std::move(*signed_ticket);
    core->tickets_signed.push_back(std::move(answer));
  });
}

void DirectoryService::Core::answer_tickets() {
  if (tickets_signed.empty()) return;
  auto batch = std::make_shared<std::vector<TicketAnswer>>();
  batch->swap(tickets_signed);
  std::vector<AuditRow> rows;
  std::vector<QuotaHoldRow> holds;
  rows.reserve(batch->size());
  for (const auto &answer : *batch) {
    rows.push_back(answer.audit);
    holds.insert(holds.end(), answer.holds.begin(), answer.holds.end());
  }
  // Answered only once every row of the batch is on disk.
  auto answer_all = [weak = weak_from_this(), batch](Status logged) {
    auto core = weak.lock();
    // Committed (or not): either way no longer pending.
    if (core)
      for (const auto &answer : *batch)
        core->holds_settled(answer.holds);
    if (!logged.ok())
      LPM_ERROR("cannot record %zu ticket(s) in the audit log: %s", batch->size(),
                logged.error().to_string().c_str());
    for (auto &answer : *batch) {
      if (!core || core->stopped) {
        answer.call->fail(Errc::unavailable, "the directory is shutting down");
      } else if (!logged.ok()) {
        answer.call->fail(logged.error());
      } else {
        LPM_INFO("%s", answer.log.c_str());
        reply_with(answer.call, answer.result);
      }
    }
  };
  if (audit_writer) return audit_writer->write(std::move(rows), std::move(holds), std::move(answer_all));
  // No writer (a store without a file): one transaction on the loop.
  Status logged;
  {
    auto tx = store->begin();
    logged = tx.begun();
    for (size_t i = 0; logged.ok() && i < rows.size(); i++)
      logged = store->audit(rows[i].at_ms, rows[i].actor, rows[i].action, rows[i].detail);
    for (size_t i = 0; logged.ok() && i < holds.size(); i++)
      logged = store->quota_hold(holds[i].reservation, holds[i].user_id, holds[i].printer_id,
                                 holds[i].impressions, holds[i].expires_ms);
    if (logged.ok()) logged = tx.commit();
  }
  answer_all(logged);
}

void DirectoryService::Core::handle_badge_in(const CallPtr &call) {
  auto printer = badge_printer(call, "badge in");
  if (!printer.ok()) return call->fail(printer.error());
  proto::BadgeInRequest req;
  if (!read_args(call, req)) return;

  int64_t now = wall_ms();
  std::string actor = "printer " + printer->id;
  auto policy = store->badge_policy();
  if (!policy.ok()) return call->fail(policy.error());
  auto user = store->user_by_badge(req.badge, now);
  if (!user.ok()) {
    if (user.error().code == Errc::not_found) {
      (void)store->audit(now, actor, "badge-in", "unknown badge");
      // The station offers self-registration on not_found only (docs/protocol.md §5.1.2).
      if (!policy->self_register)
        return call->fail(Errc::forbidden, "unknown badge; in this enterprise administrators register badges "
                                           "(self-registration is off): ask one to register it");
      return call->fail(Errc::not_found, "unknown badge: its holder may register it at this printer by "
                                         "signing in with e-mail address and password");
    }
    if (user.error().code == Errc::expired) (void)store->audit(now, actor, "badge-in", "expired badge");
    return call->fail(user.error());
  }
  if (Status may = release_allowed(*store, *user); !may.ok()) {
    if (may.error().code == Errc::forbidden)
      (void)store->audit(now, actor, "badge-in", "user " + user->id + " refused: no release role");
    return call->fail(may.error());
  }
  if (!policy->pin_required) return issue_ticket(call, *printer, *user, "badge-in", "");

  // The enterprise asks for a PIN after the badge.
  auto hash = store->pin_hash(user->id);
  if (!hash.ok()) return call->fail(hash.error());
  if (hash->empty()) {
    (void)store->audit(now, actor, "badge-in", "user " + user->id + " refused: no PIN set");
    return call->fail(Errc::forbidden, "this enterprise asks for a PIN after the badge and this user has "
                                       "none: set one with `lpm pin set`");
  }
  if (req.pin.empty()) {
    proto::BadgeInResult ask;
    ask.pin_required = true;
    return reply_with(call, ask);
  }
  if (int64_t blocked_ms = failed_pins.blocked_for_ms(user->id, now); blocked_ms > 0) {
    (void)store->audit(now, actor, "pin-throttled", "user " + user->id);
    return call->fail(Errc::rate_limited,
                      "too many wrong PINs for this user: try again in " + minutes_text(blocked_ms));
  }
  auto refuse = [call, actor](Core &core, const std::string &user_id) {
    int64_t at = wall_ms();
    core.failed_pins.failed(user_id, at);
    (void)core.store->audit(at, actor, "pin-failed", "user " + user_id);
    call->fail(Errc::unauthenticated, "wrong PIN");
  };
  // A PIN that cannot be one counts as a wrong one, without costing a hash.
  if (!pin_well_formed(req.pin)) return refuse(*this, user->id);
  auto check = std::make_shared<PinCheck>();
  check->pin = std::move(req.pin);
  check->hash = std::move(*hash);
  on_thread_pool(
      call,
      [check] {
        auto ok = password_verify(check->hash, check->pin);
        check->verified = ok.ok() && *ok;
      },
      [check, call, refuse, printer = *printer, user = *user](Core &core) {
        if (!check->verified) return refuse(core, user.id);
        core.failed_pins.clear(user.id);
        core.issue_ticket(call, printer, user, "badge-in", "with PIN");
      });
}

void DirectoryService::Core::handle_badge_register(const CallPtr &call) {
  auto printer = badge_printer(call, "register a badge");
  if (!printer.ok()) return call->fail(printer.error());
  proto::BadgeRegisterRequest req;
  if (!read_args(call, req)) return;
  auto policy = store->badge_policy();
  if (!policy.ok()) return call->fail(policy.error());
  if (!policy->self_register)
    return call->fail(Errc::forbidden, "in this enterprise administrators register badges (self-registration "
                                       "is off): ask one to register this badge");
  // Normalised as at badge-in (AMB-15), so the stored id is the one the reader delivers (TS-3).
  auto badge = badge_normalize(req.badge, store->badge_rules());
  if (!badge.ok()) return call->fail(badge.error());
  std::string from = "printer " + printer->id;
  std::string email = req.email;
  sign_in(call, email, std::move(req.password), from,
          [call, printer = *printer, badge = *badge, from](Core &core, const User &user) {
            DirectoryStore &db = *core.store;
            int64_t now = wall_ms();
            std::string who = "user " + user.id + " " + user.email;
            // BD-5: a federated user's badges come from the corporate directory.
            auto federated = db.user_federated(user.id);
            if (!federated.ok()) return call->fail(federated.error());
            if (*federated) {
              (void)db.audit(now, who, "badge-register", "refused at " + from + ": federated user (BD-5)");
              return call->fail(Errc::forbidden,
                                "your badges come from the corporate directory (federated user, BD-5): they "
                                "are not registered at a printer; ask an administrator");
            }
            if (Status may = release_allowed(db, user); !may.ok()) return call->fail(may.error());
            auto tx = db.begin();
            if (!tx.begun().ok()) return call->fail(tx.begun().error());
            auto held = db.badge_find(badge);
            if (held.ok() && held->user_id != user.id) {
              // Nothing changes but the audit row.
              if (db.audit(now, who, "badge-register", "refused at " + from + ": another user's badge").ok())
                (void)tx.commit();
              return call->fail(Errc::conflict,
                                "this badge is registered to another user; nothing was changed "
                                "(ask an administrator)");
            }
            if (!held.ok() && held.error().code != Errc::not_found) return call->fail(held.error());
            std::string detail = "permanent badge of user " + user.id + " at " + from;
            if (held.ok() && !held->temporary) {
              detail += " (already registered)";
            } else {
              // BD-13, TS-2: the new badge replaces the user's previous permanent one.
              auto replaced = db.badge_assign(badge, user.id, false, now);
              if (!replaced.ok()) return call->fail(replaced.error());
              if (!replaced->empty()) detail += " (replaces the previous permanent badge)";
            }
            Status s = db.audit(now, who, "badge-register", detail);
            if (s.ok()) s = tx.commit();
            if (!s.ok()) return call->fail(s.error());
            LPM_INFO("badge registered by %s at %s", user.email.c_str(), from.c_str());
            // The user just gave their password: no PIN is asked on top of it.
            core.issue_ticket(call, printer, user, "badge-in", "after badge-register");
          });
}

} // namespace lpm::directory
