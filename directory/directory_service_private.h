// What the directory service's source files share: the Core every handler runs on, and small
// helpers. Nothing outside directory_service*.cpp includes this.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "audit_writer.h"
#include "directory_service.h"
#include "directory_store.h"
#include "lpm/protocol/ops_admin.h"
#include "lpm/protocol/rpc.h"
#include "lpm/timezone.h"
#include "rate_limits.h"
#include "roles.h"
#include "ticket_signer.h"

namespace lpm::directory {

using proto::CallPtr;
using proto::EnrollKind;
using proto::MapWriter;

// Who is asking, for an administrative op.
struct Person {
  User user;
  RoleSet roles;
  std::string actor; // for the audit log: "user <id> <email>"
};

inline proto::UserEntry user_entry(const User &u) {
  return proto::UserEntry{u.id,         u.email,      u.first_name,  u.last_name,         u.display_name,
                          u.short_name, u.department, u.cost_center, u.custom_attributes, u.has_password,
                          u.created_ms};
}

inline std::string short_key(const std::string &fingerprint) {
  return fingerprint.substr(0, 16);
}

// Reads the typed request; on a malformed one answers bad_request naming the field and returns
// false.
template <class Request> inline bool read_args(const CallPtr &call, Request &req) {
  req.read(call->args());
  if (call->args().ok()) return true;
  call->fail(call->args().error());
  return false;
}

template <class Reply> inline void reply_with(const CallPtr &call, const Reply &result) {
  MapWriter w;
  result.write(w);
  call->reply(w);
}

// Applies `one` to every item of a batch op, each in a transaction of its own with its audit
// rows, so one that fails undoes no other (AMB-6). `one` sets the outcome's result (and perhaps a
// note in reason); an error it returns rolls that item back and is reported as its failure.
template <class Fn>
proto::BatchResult each_item(DirectoryStore &store, const std::vector<std::string> &keys, Fn one) {
  proto::BatchResult result;
  result.items.reserve(keys.size());
  for (const auto &key : keys) {
    proto::ItemOutcome outcome{key, "", ""};
    auto tx = store.begin();
    Status s = tx.begun();
    if (s.ok()) s = one(key, outcome);
    if (s.ok()) s = tx.commit();
    if (!s.ok()) {
      outcome.result = "failed";
      outcome.reason = s.error().message;
    }
    result.items.push_back(std::move(outcome));
  }
  return result;
}


// The enrolled machine a person's request comes from: a workstation (through its agent) or an
// administrator's console. unauthenticated for no, an unknown or a revoked key; forbidden for a
// key of another kind. (directory_service_people.cpp)
Result<EnrolledEntry> person_machine(DirectoryStore &store, const CallPtr &call, const char *op_text);

// "YYYY-MM": the calendar month of the instant at_ms in `zone`, the month quotas count in
// (AMB-17). (directory_service_quota.cpp)
std::string quota_month(const TimeZone &zone, int64_t at_ms);
// PM-11: releasing needs Print Release Management User (any scope: RL-3's enterprise grant
// gives it to everyone); forbidden otherwise, saying so.
Status release_allowed(DirectoryStore &store, const User &user);
// The addresses a release station tries, best first: the one this directory saw (right even
// behind NAT), then the agent's own view, without repeats.
std::vector<std::string> release_addresses(const Holder &h);
// A holder as badge-in answers and the offline table give it (release_addresses, best first).
proto::WorkstationRef workstation_ref(const Holder &h);
// UA-17: the display name is the user's own; with none, the e-mail stands in.
std::string shown_name(const std::string &display_name, const std::string &email);

// Who asks, and the user the request is about: themselves when `email` is empty or their own.
struct Subject {
  Person who;
  User user;
};
// The caller must be allowed `own` for themselves, `others` for anyone else (directory_service_release.cpp).
Result<Subject> person_for(DirectoryService::Core &core, const CallPtr &call, const std::string &session,
                           const std::string &email, Permission own, Permission others);

// The enterprise's document retention policy (RT-1, RT-2), from the settings; 0: no limit.
Result<proto::RetentionPolicyResult> retention_policy(DirectoryStore &store);

// Shared with the accept callback, every connection's close callback and the op handlers, each
// of which holds it weakly: once the service is gone they find nothing and do nothing.
struct DirectoryService::Core : std::enable_shared_from_this<DirectoryService::Core> {
  uv_loop_t *loop = nullptr;
  DirectoryKeys keys;
  std::unique_ptr<DirectoryStore> store;
  proto::StreamLimits limits;
  std::shared_ptr<proto::TlsContext> tls;
  std::shared_ptr<proto::Listener> listener;
  std::shared_ptr<const proto::Dispatcher> dispatcher;
  std::map<proto::Peer *, std::weak_ptr<proto::Peer>> peers;
  bool stopped = false;
  std::string advertised_address; // HOST:PORT for devices; "" when unknown
  std::string mail_command;       // import logs by mail (import_mail.h); "" when none

  void accept(const std::shared_ptr<Core> &self, proto::StreamPtr stream);

  // The caller's enrolled key, which must be of `kind`: unauthenticated for no or an unknown
  // key, forbidden for a key of another kind.
  Result<EnrolledEntry> caller(const CallPtr &call, EnrollKind kind, const char *op_text);

  void handle_enroll(const CallPtr &call);
  void handle_register(const CallPtr &call);
  void handle_list_enrolled(const CallPtr &call);
  void handle_list_people(const CallPtr &call);

  // ---- badges at printers (directory_service_badge.cpp) ----
  TokenBuckets badge_rate;     // per printer id
  FailureThrottle failed_pins; // wrong PINs per user id
  void handle_badge_in(const CallPtr &call);
  void handle_badge_register(const CallPtr &call);
  // ---- release without the directory (directory_service_offline.cpp, issue 8) ----
  void handle_printer_certificate(const CallPtr &call);
  void handle_offline_badges(const CallPtr &call);
  void handle_offline_workstations(const CallPtr &call);
  // The calling printer, when the badge policy allows release without the directory.
  Result<EnrolledEntry> offline_printer(const CallPtr &call, const char *op_text, BadgePolicy &policy);
  // The printer behind a badge op (as caller()), which then spends a token of its bucket:
  // rate_limited with a retry hint when it has none (audited at most once a minute per printer).
  Result<EnrolledEntry> badge_printer(const CallPtr &call, const char *op_text);
  // Answers with a ticket for `user` and those who delegated to them (PM-7), for the calling
  // printer, audited as `action` before the answer leaves.
  void issue_ticket(const CallPtr &call, const EnrolledEntry &printer, const User &user, const char *action,
                    const std::string &note);
  // Tickets are signed off the loop (ticket_signer.h), started by listen() with signing_threads.
  unsigned signing_threads = TicketSigner::default_threads();
  std::unique_ptr<TicketSigner> signer;
  // Ticket audit rows are committed off the loop in batches (audit_writer.h); started by listen()
  // unless the store has no file.
  std::unique_ptr<AuditWriter> audit_writer;
  // A signed ticket waiting for its audit row to be committed before it is answered.
  struct TicketAnswer {
    CallPtr call;
    proto::BadgeInResult result;
    AuditRow audit;
    std::vector<QuotaHoldRow> holds; // committed with the audit row (AMB-17)
    std::string log;                 // the log line once answered
  };
  std::vector<TicketAnswer> tickets_signed;
  // After each batch of signatures: their audit rows in one transaction, then their answers.
  void answer_tickets();

  // ---- delegates, PINs, badge policy, federated users (directory_service_release.cpp) ----
  void handle_delegates_add(const CallPtr &call);
  void handle_delegates_remove(const CallPtr &call);
  void handle_delegates_list(const CallPtr &call);
  void handle_pin_set(const CallPtr &call);
  void handle_pin_clear(const CallPtr &call);
  void handle_badges_policy_show(const CallPtr &call);
  void handle_badges_policy_set(const CallPtr &call);
  void handle_users_set_federated(const CallPtr &call);

  // ---- people (directory_service_people.cpp) ----
  std::string db_path;                    // for the connections imports run on (worker threads)
  std::set<std::string> imports_running;  // imports being applied by this process
  std::vector<proto::PublicKey> session_signers; // keys whose session tokens are accepted
  // Login throttling (each check costs an Argon2id hash: ~0.1 s and 64 MiB of the thread pool):
  // failed logins per account (lower-cased e-mail) in the current window, and password or PIN
  // checks queued or running.
  FailureThrottle failed_logins;
  size_t secret_checks_pending = 0;
  // rate_limited when the account's failures in the window reached the limit (the error says
  // when to try again); also forgets windows that ended.
  Status login_allowed(const std::string &email_key, int64_t now_ms);
  // Runs `work` (an Argon2id hash or verification) on the libuv thread pool, then `done` on the
  // loop. `work` must touch nothing but what it owns. When the service stopped meanwhile, `done`
  // does not run and the call fails with unavailable. rate_limited (answered here, nothing queued)
  // when too many checks wait already.
  void on_thread_pool(const CallPtr &call, std::function<void()> work, std::function<void(Core &)> done);
  // Checks an e-mail and password as a login does, for `login` and `badge-register`: throttled per
  // account, verified on the thread pool (an unknown e-mail against a decoy, so both failures cost
  // and read the same), failures audited as login-failed by `from`. On success `signed_in` runs on
  // the loop with the user; every failure is answered on the call.
  void sign_in(const CallPtr &call, const std::string &email, std::string password, const std::string &from,
               std::function<void(Core &, const User &)> signed_in);

  // The person behind an administrative request: its session token checked (signature, expiry,
  // login still open), their effective roles now allowing `permission`. unauthenticated without
  // a valid session; forbidden when the roles do not allow it. No permission (nullopt): any
  // signed-in person.
  Result<Person> person(const CallPtr &call, const std::string &session_text,
                        std::optional<Permission> permission);
  // Signs a session token for the login and fills the grant (roles as of now).
  Result<proto::SessionGrant> grant(const User &user, const LoginSession &login, std::string refresh_token,
                                    int64_t now_ms);
  // Applies an import on the libuv thread pool, a few records per step, until it is done.
  void run_import(const std::shared_ptr<Core> &self, const std::string &import_id);
  // Resumes the imports a previous run left unfinished.
  void resume_imports(const std::shared_ptr<Core> &self);

  void handle_login(const CallPtr &call);
  void handle_refresh(const CallPtr &call);
  void handle_logout(const CallPtr &call);
  void handle_whoami(const CallPtr &call);
  void handle_import_start(const CallPtr &call);
  void handle_import_show(const CallPtr &call);
  void handle_users_list(const CallPtr &call);

  // ---- password links (directory_service_links.cpp; UA-4, UA-7, UA-15) ----
  // Failed uses per link (the SHA-256 of the text given), throttled as logins are.
  FailureThrottle failed_links;
  // [tx] A new password link for `user` (their older unused links voided), audited as
  // password-link-create by `actor` with the link's id, never its text.
  Result<NewPasswordLink> password_link_issue(const User &user, const std::string &actor, int64_t now_ms);
  // E-mails the link to the user with the mail command on the libuv thread pool, audited as
  // password-link-mailed or password-link-mail-failed. Without a mail command nothing is sent:
  // a warning is logged and password-link-unsent audited. `sent`, when given, runs on the loop
  // with the outcome (unavailable without a mail command) and the core, or null when the service
  // stopped meanwhile.
  void password_link_mail(const User &user, NewPasswordLink link, std::function<void(Core *, Status)> sent);
  // A link for each user an import created without a password (its own transaction), mailed.
  void password_links_for_import(const std::vector<User> &users, const std::string &import_id,
                                 const std::string &actor);
  void handle_users_password_link(const CallPtr &call);
  void handle_password_link_use(const CallPtr &call);

  // ---- administration (directory_service_admin.cpp) ----
  void handle_users_show(const CallPtr &call);
  void handle_users_add(const CallPtr &call);
  void handle_users_delete(const CallPtr &call);
  void handle_badges_add(const CallPtr &call);
  void handle_badges_delete(const CallPtr &call);
  void handle_badges_find(const CallPtr &call);
  void handle_roles_grant(const CallPtr &call);
  void handle_roles_revoke(const CallPtr &call);
  void handle_roles_list(const CallPtr &call);
  void handle_roles_describe(const CallPtr &call);
  void handle_groups_create(const CallPtr &call);
  void handle_groups_delete(const CallPtr &call);
  void handle_groups_add_members(const CallPtr &call);
  void handle_groups_remove_members(const CallPtr &call);
  void handle_groups_list(const CallPtr &call);
  void handle_password_policy_show(const CallPtr &call);
  void handle_password_policy_set(const CallPtr &call);
  void handle_retention_show(const CallPtr &call);
  void handle_retention_set(const CallPtr &call);
  void handle_audit_list(const CallPtr &call);

  // ---- workstations, enrollment tokens, printers (directory_service_devices.cpp) ----
  void handle_workstations_list(const CallPtr &call);
  void handle_workstations_show(const CallPtr &call);
  void handle_workstations_bind(const CallPtr &call);
  void handle_workstations_unbind(const CallPtr &call);
  void handle_workstations_deregister(const CallPtr &call);
  void handle_tokens_create(const CallPtr &call);
  void handle_tokens_list(const CallPtr &call);
  void handle_tokens_revoke(const CallPtr &call);
  void handle_printers_list(const CallPtr &call);
  void handle_printers_revoke(const CallPtr &call);

  // ---- Print Management (directory_service_print.cpp) ----
  void handle_print_groups_create(const CallPtr &call);
  void handle_print_groups_update(const CallPtr &call);
  void handle_print_groups_delete(const CallPtr &call);
  void handle_print_groups_list(const CallPtr &call);
  void handle_print_users_list(const CallPtr &call);
  void handle_print_users_set(const CallPtr &call);
  void handle_print_users_remove(const CallPtr &call);
  void handle_print_users_sync(const CallPtr &call);

  // ---- quotas and colour at printers (directory_service_quota.cpp; AMB-17) ----
  std::optional<TimeZone> quota_zone; // the print policy's, loaded when first needed
  // The month quotas count in at now_ms, in the print policy's zone.
  Result<std::string> current_quota_month(int64_t now_ms);
  // Print Management's limits of one user (counted, colour, what the month's quota leaves), as
  // badge-in and the offline table give them; `month` is filled on first need.
  Status user_limits(proto::BadgeUser &u, std::optional<std::string> &month, int64_t now_ms);
  // Fills the counted users' limits and the colour rule into a badge-in answer, and holds each
  // counted user's remaining quota under a new reservation: `holds` are committed with the
  // ticket's audit row, and counted in pending_holds until then.
  Status reserve_quotas(proto::BadgeInResult &result, const EnrolledEntry &printer, int64_t now_ms,
                        std::vector<QuotaHoldRow> &holds);
  // Impressions held by badge-ins whose holds are not committed yet, per user id: a second
  // badge-in meanwhile must not find them free.
  std::map<std::string, int64_t> pending_holds;
  void holds_settled(const std::vector<QuotaHoldRow> &holds);
  void handle_settle_quota(const CallPtr &call);
  void handle_quota_show(const CallPtr &call);
  void handle_print_policy_show(const CallPtr &call);
  void handle_print_policy_set(const CallPtr &call);
};

} // namespace lpm::directory
