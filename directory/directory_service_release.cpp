// The directory's person ops around releasing (docs/protocol.md §5.1.2): delegates (PM-7), badge
// PINs, the enterprise's badge policy and federated users (BD-5). A user manages their own
// delegates and PIN (Permission::release); doing so for another user needs delegates_manage
// (delegates), users_read (listing another's delegates) or badges_write (clearing another's PIN).
// Every change commits in one transaction with its audit row, whose actor is the caller.
#include <cstring>

#include "directory_service_private.h"
#include "lpm/ids.h"
#include "lpm/log.h"
#include "lpm/protocol/ops_release.h"
#include "passwords.h"

namespace lpm::directory {
namespace {

std::vector<proto::DelegateEntry> delegate_entries(const std::vector<Delegation> &rows) {
  std::vector<proto::DelegateEntry> out;
  out.reserve(rows.size());
  for (const auto &d : rows)
    out.push_back(proto::DelegateEntry{d.user_id, d.email, d.display_name, d.actor, d.created_ms});
  return out;
}

proto::BadgesPolicyResult policy_result(const BadgePolicy &policy) {
  return proto::BadgesPolicyResult{policy.pin_required ? "required" : "off",
                                   policy.self_register ? "on" : "off", policy.offline_hours};
}

void delegate_change(DirectoryService::Core &core, const CallPtr &call, bool add) {
  proto::DelegateChangeRequest req;
  if (!read_args(call, req)) return;
  auto subject =
      person_for(core, call, req.session, req.delegator, Permission::release, Permission::delegates_manage);
  if (!subject.ok()) return call->fail(subject.error());
  auto delegate = core.store->user_by_email(req.delegate);
  if (!delegate.ok()) return call->fail(delegate.error());
  const User &delegator = subject->user;
  int64_t now = wall_ms();
  auto tx = core.store->begin();
  if (!tx.begun().ok()) return call->fail(tx.begun().error());
  const std::string &actor = subject->who.actor;
  auto changed = add ? core.store->delegate_add(delegator.id, delegate->id, actor, now)
                     : core.store->delegate_remove(delegator.id, delegate->id);
  if (!changed.ok()) return call->fail(changed.error());
  Status s;
  if (*changed)
    s = core.store->audit(now, actor, add ? "delegate-add" : "delegate-remove",
                          "user " + delegate->id + (add ? " may release" : " may no longer release") +
                              " the jobs of user " + delegator.id);
  if (s.ok()) s = tx.commit();
  if (!s.ok()) return call->fail(s.error());
  if (*changed)
    LPM_INFO("%s %s as a delegate of %s (by %s)", add ? "added" : "removed", delegate->email.c_str(),
             delegator.email.c_str(), actor.c_str());
  proto::DelegateChangeResult result;
  result.delegator = delegator.email;
  result.delegate = delegate->email;
  result.changed = *changed;
  reply_with(call, result);
}

} // namespace

// The caller must be allowed `own` for themselves, `others` for anyone else.
Result<Subject> person_for(DirectoryService::Core &core, const CallPtr &call, const std::string &session,
                           const std::string &email, Permission own, Permission others) {
  auto who = core.person(call, session, std::nullopt);
  if (!who.ok()) return who.error();
  bool self = email.empty();
  if (!self) {
    auto normal = email_normalize(email);
    if (!normal.ok()) return normal.error();
    self = *normal == who->user.email;
  }
  Permission needed = self ? own : others;
  // person() words the refusal (the roles that would allow it, the roles held).
  if (!roles_allow(who->roles, needed)) {
    auto again = core.person(call, session, needed);
    if (!again.ok()) return again.error();
  }
  Subject s;
  s.who = std::move(*who);
  if (self) {
    s.user = s.who.user;
    return s;
  }
  auto user = core.store->user_by_email(email);
  if (!user.ok()) return user.error();
  s.user = std::move(*user);
  return s;
}

// ---------------------------------------------------------------------------------------------
// Delegates (PM-7)

void DirectoryService::Core::handle_delegates_add(const CallPtr &call) {
  delegate_change(*this, call, true);
}

void DirectoryService::Core::handle_delegates_remove(const CallPtr &call) {
  delegate_change(*this, call, false);
}

void DirectoryService::Core::handle_delegates_list(const CallPtr &call) {
  proto::DelegatesListRequest req;
  if (!read_args(call, req)) return;
  auto subject = person_for(*this, call, req.session, req.email, Permission::release, Permission::users_read);
  if (!subject.ok()) return call->fail(subject.error());
  auto delegates = store->delegates_of(subject->user.id);
  if (!delegates.ok()) return call->fail(delegates.error());
  auto delegators = store->delegators_of(subject->user.id, wall_ms(), proto::kMaxDelegatorsPerUser);
  if (!delegators.ok()) return call->fail(delegators.error());
  proto::DelegatesListResult result;
  result.user = subject->user.id;
  result.email = subject->user.email;
  result.delegates = delegate_entries(*delegates);
  result.delegators = delegate_entries(*delegators);
  reply_with(call, result);
}

// ---------------------------------------------------------------------------------------------
// Badge PINs

void DirectoryService::Core::handle_pin_set(const CallPtr &call) {
  proto::PinSetRequest req;
  if (!read_args(call, req)) return;
  // One's own PIN only: nobody else should know it, administrators included (they clear it).
  auto who = person(call, req.session, Permission::release);
  if (!who.ok()) return call->fail(who.error());
  bool digits = std::all_of(req.pin.begin(), req.pin.end(), [](char c) { return c >= '0' && c <= '9'; });
  if (!digits || req.pin.size() < proto::kMinPinDigits || req.pin.size() > proto::kMaxPinDigits)
    return call->fail(Errc::bad_request, "a PIN has " + std::to_string(proto::kMinPinDigits) + " to " +
                                             std::to_string(proto::kMaxPinDigits) + " digits (0-9)");
  struct PinHash {
    std::string pin;
    Result<std::string> hash = std::string();
    ~PinHash() { ::explicit_bzero(pin.data(), pin.size()); }
  };
  auto work = std::make_shared<PinHash>();
  work->pin = std::move(req.pin);
  ::explicit_bzero(req.pin.data(), req.pin.size());
  on_thread_pool(
      call, [work] { work->hash = password_hash(work->pin, argon2_params_default()); },
      [work, call, user = who->user, actor = who->actor](Core &core) {
        if (!work->hash.ok()) return call->fail(work->hash.error());
        int64_t now = wall_ms();
        auto tx = core.store->begin();
        Status s = tx.begun();
        if (s.ok()) s = core.store->pin_set(user.id, *work->hash, now);
        if (s.ok()) s = core.store->audit(now, actor, "pin-set", "user " + user.id);
        if (s.ok()) s = tx.commit();
        if (!s.ok()) return call->fail(s.error());
        // A new PIN starts with a clean slate of failures.
        core.failed_pins.clear(user.id);
        proto::PinChangeResult result;
        result.email = user.email;
        result.changed = true;
        reply_with(call, result);
      });
}

void DirectoryService::Core::handle_pin_clear(const CallPtr &call) {
  proto::PinClearRequest req;
  if (!read_args(call, req)) return;
  auto subject =
      person_for(*this, call, req.session, req.email, Permission::release, Permission::badges_write);
  if (!subject.ok()) return call->fail(subject.error());
  int64_t now = wall_ms();
  auto tx = store->begin();
  if (!tx.begun().ok()) return call->fail(tx.begun().error());
  auto cleared = store->pin_clear(subject->user.id);
  if (!cleared.ok()) return call->fail(cleared.error());
  Status s;
  if (*cleared) s = store->audit(now, subject->who.actor, "pin-clear", "user " + subject->user.id);
  if (s.ok()) s = tx.commit();
  if (!s.ok()) return call->fail(s.error());
  failed_pins.clear(subject->user.id);
  proto::PinChangeResult result;
  result.email = subject->user.email;
  result.changed = *cleared;
  reply_with(call, result);
}

// ---------------------------------------------------------------------------------------------
// Badge policy

void DirectoryService::Core::handle_badges_policy_show(const CallPtr &call) {
  proto::SessionRequest req;
  if (!read_args(call, req)) return;
  // Anyone signed in may see whether printers will ask them for a PIN.
  auto who = person(call, req.session, std::nullopt);
  if (!who.ok()) return call->fail(who.error());
  auto policy = store->badge_policy();
  if (!policy.ok()) return call->fail(policy.error());
  reply_with(call, policy_result(*policy));
}

void DirectoryService::Core::handle_badges_policy_set(const CallPtr &call) {
  proto::BadgesPolicySetRequest req;
  if (!read_args(call, req)) return;
  auto who = person(call, req.session, Permission::badges_write);
  if (!who.ok()) return call->fail(who.error());
  auto tx = store->begin();
  if (!tx.begun().ok()) return call->fail(tx.begun().error());
  auto policy = store->badge_policy();
  if (!policy.ok()) return call->fail(policy.error());
  if (!req.pin.empty()) policy->pin_required = req.pin == "required";
  if (!req.self_register.empty()) policy->self_register = req.self_register == "on";
  if (req.offline_hours >= 0) policy->offline_hours = req.offline_hours;
  if (policy->pin_required && policy->offline_hours > 0)
    return call->fail(Errc::conflict, "a PIN after the badge cannot be checked without the directory: release "
                                      "without the directory (--offline-hours) needs --pin off; nothing changed");
  proto::BadgesPolicyResult saved = policy_result(*policy);
  Status s = store->badge_policy_set(*policy);
  if (s.ok())
    s = store->audit(wall_ms(), who->actor, "badge-policy-set",
                     "pin " + saved.pin + " self_register " + saved.self_register + " offline_hours " +
                         std::to_string(saved.offline_hours));
  if (s.ok()) s = tx.commit();
  if (!s.ok()) return call->fail(s.error());
  LPM_INFO("badge policy set by %s: pin %s, self-registration %s, release without the directory %s",
           who->actor.c_str(), saved.pin.c_str(), saved.self_register.c_str(),
           saved.offline_hours ? ("on (certificates of " + std::to_string(saved.offline_hours) + " h)").c_str()
                               : "off");
  reply_with(call, saved);
}

// ---------------------------------------------------------------------------------------------
// Federated users (BD-5)

void DirectoryService::Core::handle_users_set_federated(const CallPtr &call) {
  proto::UsersSetFederatedRequest req;
  if (!read_args(call, req)) return;
  auto who = person(call, req.session, Permission::users_write);
  if (!who.ok()) return call->fail(who.error());
  auto user = store->user_by_email(req.email);
  if (!user.ok()) return call->fail(user.error());
  auto tx = store->begin();
  if (!tx.begun().ok()) return call->fail(tx.begun().error());
  auto changed = store->user_federated_set(user->id, req.federated);
  if (!changed.ok()) return call->fail(changed.error());
  Status s;
  if (*changed)
    s = store->audit(wall_ms(), who->actor, "user-federated",
                     "user " + user->id + (req.federated ? " federated" : " no longer federated"));
  if (s.ok()) s = tx.commit();
  if (!s.ok()) return call->fail(s.error());
  proto::UsersSetFederatedResult result;
  result.email = user->email;
  result.federated = req.federated;
  result.changed = *changed;
  reply_with(call, result);
}

} // namespace lpm::directory
