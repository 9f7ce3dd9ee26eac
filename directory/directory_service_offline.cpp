// Release without the directory (issue 8, ops_offline.h): what a release station needs, while
// it can reach the directory, to release on its own when it cannot. A printer certificate of the
// station's key for the policy's hours, the table of badges (as keyed hashes, never as they are)
// with their users, delegators, limits and the workstations holding their jobs, and the key
// table of workstations. All three from enrolled printers only, and only when the enterprise
// turned it on (`lpm badges policy set --offline-hours N`).
#include <charconv>

#include "directory_service_private.h"
#include "lpm/ids.h"
#include "lpm/log.h"
#include "lpm/protocol/ops_offline.h"
#include "lpm/protocol/printer_certificate.h"

namespace lpm::directory {

Result<EnrolledEntry> DirectoryService::Core::offline_printer(const CallPtr &call, const char *op_text,
                                                              BadgePolicy &policy) {
  auto printer = caller(call, EnrollKind::printer, op_text);
  if (!printer.ok()) return printer.error();
  auto p = store->badge_policy();
  if (!p.ok()) return p.error();
  policy = *p;
  if (policy.offline_hours <= 0)
    return make_error(Errc::forbidden,
                      "release without the directory is off in this enterprise (an "
                      "administrator turns it on with `lpm badges policy set --offline-hours N`)");
  if (policy.pin_required)
    return make_error(Errc::forbidden,
                      "this enterprise asks for a PIN after the badge, which cannot be checked "
                      "without the directory: no release without it");
  return printer;
}

void DirectoryService::Core::handle_printer_certificate(const CallPtr &call) {
  BadgePolicy policy;
  auto printer = offline_printer(call, "get a printer certificate", policy);
  if (!printer.ok()) return call->fail(printer.error());
  proto::PrinterCertificateRequest req;
  if (!read_args(call, req)) return;
  // Certified only when it is the key of this connection (the enrolled one).
  if (proto::fingerprint_of_der(req.key) != printer->fingerprint)
    return call->fail(Errc::forbidden, "args.key is not the key of this connection");
  int64_t now = wall_ms();
  proto::PrinterCertificate cert;
  cert.printer_id = printer->id;
  cert.printer = printer->fingerprint;
  cert.key = req.key;
  cert.issued_ms = now;
  cert.expires_ms = now + policy.offline_hours * 3600 * 1000;
  auto signed_cert = proto::printer_certificate_sign(std::move(cert), *keys.ticket_key);
  if (!signed_cert.ok()) return call->fail(signed_cert.error());
  auto pp = store->print_policy();
  if (!pp.ok()) return call->fail(pp.error());
  Status audited = store->audit(now, "printer " + printer->id, "printer-certificate",
                                "valid " + std::to_string(policy.offline_hours) + " h");
  if (!audited.ok()) return call->fail(audited.error());
  LPM_INFO("printer certificate for %s \"%s\", valid %lld h", printer->id.c_str(), printer->name.c_str(),
           static_cast<long long>(policy.offline_hours));
  proto::PrinterCertificateResult result;
  result.certificate = std::move(*signed_cert);
  result.hours = policy.offline_hours;
  result.strip = store->badge_rules().strip_characters;
  result.color_denied = pp->color_refused ? proto::kColorDeniedRefuse : proto::kColorDeniedMono;
  reply_with(call, result);
}

void DirectoryService::Core::handle_offline_badges(const CallPtr &call) {
  BadgePolicy policy;
  auto printer = offline_printer(call, "get the offline table", policy);
  if (!printer.ok()) return call->fail(printer.error());
  proto::OfflineBadgesRequest req;
  if (!read_args(call, req)) return;
  int64_t now = wall_ms();
  size_t limit = std::min<size_t>(req.page.limit, proto::kMaxOfflinePage);
  int64_t after = 0;
  if (!req.page.after.empty()) {
    const std::string &a = req.page.after;
    auto [end, ec] = std::from_chars(a.data(), a.data() + a.size(), after);
    if (ec != std::errc() || end != a.data() + a.size() || after < 0)
      return call->fail(Errc::bad_request, "args.after is not a cursor this op gave");
  }
  auto badges = store->badges_page(after, limit, now);
  if (!badges.ok()) return call->fail(badges.error());
  std::string strip = store->badge_rules().strip_characters;
  std::optional<std::string> month;
  proto::OfflineBadgesResult result;
  for (const auto &[row, b] : *badges) {
    (void)row;
    auto user = store->user_by_id(b.user_id);
    if (!user.ok()) continue; // deleted meanwhile
    // Users who may not release are left out: at the printer their badge reads as unknown.
    if (!release_allowed(*store, *user).ok()) continue;
    auto normal = proto::badge_normalize(b.badge, strip);
    if (!normal.ok()) continue; // stored before the rules changed; badge-in would not match it either
    proto::OfflineBadge entry;
    entry.key = proto::offline_badge_key(req.secret, *normal);
    entry.expires_ms = b.temporary ? b.expires_ms : 0;
    entry.users.push_back(proto::BadgeUser{user->id, shown_name(user->display_name, user->email)});
    auto delegators = store->delegators_of(user->id, now, proto::kMaxTicketUsers - 1);
    if (!delegators.ok()) return call->fail(delegators.error());
    for (const auto &d : *delegators)
      entry.users.push_back(proto::BadgeUser{d.user_id, shown_name(d.display_name, d.email)});
    std::vector<std::string> ids;
    for (auto &u : entry.users) {
      ids.push_back(u.id);
      Status limited = user_limits(u, month, now);
      if (!limited.ok()) return call->fail(limited.error());
    }
    auto holders = store->holders_of_users(ids, now);
    if (!holders.ok()) return call->fail(holders.error());
    for (const auto &h : *holders)
      entry.workstations.push_back(h.id);
    result.items.push_back(std::move(entry));
  }
  if (badges->size() == limit) result.next = std::to_string(badges->back().first);
  reply_with(call, result);
}

void DirectoryService::Core::handle_offline_workstations(const CallPtr &call) {
  BadgePolicy policy;
  auto printer = offline_printer(call, "get the offline table", policy);
  if (!printer.ok()) return call->fail(printer.error());
  proto::OfflineWorkstationsRequest req;
  if (!read_args(call, req)) return;
  size_t limit = std::min<size_t>(req.page.limit, proto::kMaxOfflinePage);
  auto page = store->workstations_page(req.page.after, limit);
  if (!page.ok()) return call->fail(page.error());
  proto::OfflineWorkstationsResult result;
  for (const auto &h : *page)
    result.items.push_back(workstation_ref(h));
  if (page->size() == limit) result.next = page->back().id;
  reply_with(call, result);
}

} // namespace lpm::directory
