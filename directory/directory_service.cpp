#include "directory_service.h"
#include "directory_service_private.h"

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "lpm/ids.h"
#include "lpm/log.h"
#include "lpm/protocol/ops.h"
#include "lpm/protocol/rpc.h"
#include "lpm/protocol/ticket.h"

namespace lpm::directory {

namespace {

// "127.0.0.1:50412" -> "127.0.0.1", "[::1]:50412" -> "::1".
std::string address_host(const std::string &address) {
  if (!address.empty() && address.front() == '[') {
    size_t close = address.find(']');
    return close == std::string::npos ? address : address.substr(1, close - 1);
  }
  size_t colon = address.rfind(':');
  return colon == std::string::npos ? address : address.substr(0, colon);
}

bool ip_literal_valid(const std::string &text) {
  unsigned char buf[16];
  return uv_inet_pton(AF_INET, text.c_str(), buf) == 0 || uv_inet_pton(AF_INET6, text.c_str(), buf) == 0;
}

} // namespace

// ---------------------------------------------------------------------------------------------
// Connections

DirectoryService::DirectoryService(uv_loop_t *loop, DirectoryKeys keys, std::unique_ptr<DirectoryStore> store,
                                   const proto::StreamLimits &limits)
    : core_(std::make_shared<Core>()) {
  core_->loop = loop;
  core_->keys = std::move(keys);
  core_->store = std::move(store);
  core_->limits = limits;
  core_->db_path = core_->store->path();
  if (core_->keys.session_key) {
    auto signer = proto::PublicKey::from_der(core_->keys.session_key->public_der());
    if (signer.ok()) core_->session_signers.push_back(std::move(*signer));
  }

  auto dispatcher = std::make_shared<proto::Dispatcher>();
  std::weak_ptr<Core> weak = core_;
  auto route = [weak](void (Core::*handler)(const CallPtr &)) {
    return [weak, handler](CallPtr call) {
      auto core = weak.lock();
      if (!core || core->stopped) return call->fail(Errc::unavailable, "the directory is shutting down");
      ((*core).*handler)(call);
    };
  };
  dispatcher->on(proto::op::enroll, route(&Core::handle_enroll));
  dispatcher->on(proto::op::register_holdings, route(&Core::handle_register));
  dispatcher->on(proto::op::badge_in, route(&Core::handle_badge_in));
  dispatcher->on(proto::op::settle_quota, route(&Core::handle_settle_quota));
  dispatcher->on(proto::op::list_enrolled, route(&Core::handle_list_enrolled));
  dispatcher->on(proto::op::list_people, route(&Core::handle_list_people));
  dispatcher->on(proto::op::login, route(&Core::handle_login));
  dispatcher->on(proto::op::refresh_session, route(&Core::handle_refresh));
  dispatcher->on(proto::op::logout, route(&Core::handle_logout));
  dispatcher->on(proto::op::whoami, route(&Core::handle_whoami));
  dispatcher->on_upload(proto::op::import_start, route(&Core::handle_import_start));
  dispatcher->on(proto::op::import_show, route(&Core::handle_import_show));
  dispatcher->on(proto::op::users_list, route(&Core::handle_users_list));
  dispatcher->on(proto::op::users_show, route(&Core::handle_users_show));
  dispatcher->on(proto::op::users_add, route(&Core::handle_users_add));
  dispatcher->on(proto::op::users_delete, route(&Core::handle_users_delete));
  dispatcher->on(proto::op::badges_add, route(&Core::handle_badges_add));
  dispatcher->on(proto::op::badges_delete, route(&Core::handle_badges_delete));
  dispatcher->on(proto::op::badges_find, route(&Core::handle_badges_find));
  dispatcher->on(proto::op::roles_grant, route(&Core::handle_roles_grant));
  dispatcher->on(proto::op::roles_revoke, route(&Core::handle_roles_revoke));
  dispatcher->on(proto::op::roles_list, route(&Core::handle_roles_list));
  dispatcher->on(proto::op::roles_describe, route(&Core::handle_roles_describe));
  dispatcher->on(proto::op::groups_create, route(&Core::handle_groups_create));
  dispatcher->on(proto::op::groups_delete, route(&Core::handle_groups_delete));
  dispatcher->on(proto::op::groups_add_members, route(&Core::handle_groups_add_members));
  dispatcher->on(proto::op::groups_remove_members, route(&Core::handle_groups_remove_members));
  dispatcher->on(proto::op::groups_list, route(&Core::handle_groups_list));
  dispatcher->on(proto::op::password_policy_show, route(&Core::handle_password_policy_show));
  dispatcher->on(proto::op::password_policy_set, route(&Core::handle_password_policy_set));
  dispatcher->on(proto::op::retention_show, route(&Core::handle_retention_show));
  dispatcher->on(proto::op::retention_set, route(&Core::handle_retention_set));
  dispatcher->on(proto::op::audit_list, route(&Core::handle_audit_list));
  dispatcher->on(proto::op::workstations_list, route(&Core::handle_workstations_list));
  dispatcher->on(proto::op::workstations_show, route(&Core::handle_workstations_show));
  dispatcher->on(proto::op::workstations_bind, route(&Core::handle_workstations_bind));
  dispatcher->on(proto::op::workstations_unbind, route(&Core::handle_workstations_unbind));
  dispatcher->on(proto::op::workstations_deregister, route(&Core::handle_workstations_deregister));
  dispatcher->on(proto::op::tokens_create, route(&Core::handle_tokens_create));
  dispatcher->on(proto::op::tokens_list, route(&Core::handle_tokens_list));
  dispatcher->on(proto::op::tokens_revoke, route(&Core::handle_tokens_revoke));
  dispatcher->on(proto::op::printers_list, route(&Core::handle_printers_list));
  dispatcher->on(proto::op::printers_revoke, route(&Core::handle_printers_revoke));
  dispatcher->on(proto::op::badge_register, route(&Core::handle_badge_register));
  dispatcher->on(proto::op::printer_certificate, route(&Core::handle_printer_certificate));
  dispatcher->on(proto::op::offline_badges, route(&Core::handle_offline_badges));
  dispatcher->on(proto::op::offline_workstations, route(&Core::handle_offline_workstations));
  dispatcher->on(proto::op::delegates_add, route(&Core::handle_delegates_add));
  dispatcher->on(proto::op::delegates_remove, route(&Core::handle_delegates_remove));
  dispatcher->on(proto::op::delegates_list, route(&Core::handle_delegates_list));
  dispatcher->on(proto::op::pin_set, route(&Core::handle_pin_set));
  dispatcher->on(proto::op::pin_clear, route(&Core::handle_pin_clear));
  dispatcher->on(proto::op::badges_policy_show, route(&Core::handle_badges_policy_show));
  dispatcher->on(proto::op::badges_policy_set, route(&Core::handle_badges_policy_set));
  dispatcher->on(proto::op::users_set_federated, route(&Core::handle_users_set_federated));
  dispatcher->on(proto::op::print_groups_create, route(&Core::handle_print_groups_create));
  dispatcher->on(proto::op::print_groups_update, route(&Core::handle_print_groups_update));
  dispatcher->on(proto::op::print_groups_delete, route(&Core::handle_print_groups_delete));
  dispatcher->on(proto::op::print_groups_list, route(&Core::handle_print_groups_list));
  dispatcher->on(proto::op::print_users_list, route(&Core::handle_print_users_list));
  dispatcher->on(proto::op::print_users_set, route(&Core::handle_print_users_set));
  dispatcher->on(proto::op::print_policy_show, route(&Core::handle_print_policy_show));
  dispatcher->on(proto::op::print_policy_set, route(&Core::handle_print_policy_set));
  dispatcher->on(proto::op::quota_show, route(&Core::handle_quota_show));
  dispatcher->on(proto::op::print_users_remove, route(&Core::handle_print_users_remove));
  dispatcher->on(proto::op::print_users_sync, route(&Core::handle_print_users_sync));
  dispatcher->on(proto::op::users_password_link, route(&Core::handle_users_password_link));
  dispatcher->on(proto::op::password_link_use, route(&Core::handle_password_link_use));
  core_->dispatcher = std::move(dispatcher);
}

DirectoryService::~DirectoryService() {
  stop();
}

void DirectoryService::set_mail_command(std::string command) {
  core_->mail_command = std::move(command);
}

void DirectoryService::set_advertised_address(std::string host_port) {
  core_->advertised_address = std::move(host_port);
}

Result<uint16_t> DirectoryService::listen(const proto::Endpoint &at) {
  if (core_->listener) return make_error(Errc::conflict, "the directory is already listening");
  if (!core_->tls) {
    auto tls = proto::TlsContext::create(proto::TlsContext::Side::server, core_->keys.identity);
    if (!tls.ok()) return tls.error();
    core_->tls = std::move(*tls);
  }
  std::weak_ptr<Core> weak = core_;
  if (!core_->signer) {
    auto signer = TicketSigner::start(core_->loop, *core_->keys.ticket_key, core_->signing_threads, [weak] {
      if (auto core = weak.lock()) core->answer_tickets();
    });
    if (!signer.ok()) return signer.error();
    core_->signer = std::move(*signer);
  }
  if (!core_->audit_writer) {
    std::string path = core_->store->path();
    if (!path.empty() && path != ":memory:") {
      auto writer = AuditWriter::start(core_->loop, path);
      if (!writer.ok()) return writer.error();
      core_->audit_writer = std::move(*writer);
    }
  }
  auto listener = proto::Listener::listen_tls(
      core_->loop, core_->tls, at, core_->limits, [weak](proto::StreamPtr stream) {
        if (auto core = weak.lock())
          core->accept(core, std::move(stream));
        else
          stream->close(make_error(Errc::unavailable, "shutting down"));
      });
  if (!listener.ok()) return listener.error();
  core_->listener = std::move(*listener);
  core_->stopped = false;
  if (core_->advertised_address.empty() && at.host != "0.0.0.0" && at.host != "::")
    core_->advertised_address = (at.host.find(':') != std::string::npos ? "[" + at.host + "]" : at.host) + ":" +
                                std::to_string(core_->listener->port());
  core_->resume_imports(core_);
  LPM_INFO("listening on %s:%u, key %s", at.host.c_str(), core_->listener->port(),
           core_->keys.identity->fingerprint().c_str());
  return core_->listener->port();
}

void DirectoryService::Core::accept(const std::shared_ptr<Core> &self, proto::StreamPtr stream) {
  if (stopped) {
    stream->close(make_error(Errc::unavailable, "the directory is shutting down"));
    return;
  }
  proto::PeerOptions options;
  options.role = proto::role::directory;
  options.accept_roles = {proto::role::agent, proto::role::printer, proto::role::accounting,
                          proto::role::console};
  options.dispatcher = dispatcher;
  std::weak_ptr<Core> weak = self;
  options.on_close = [weak](proto::Peer &peer, const Error &reason) {
    if (reason.code != Errc::ok)
      LPM_DEBUG("connection %s closed: %s", peer.info().address.c_str(), reason.to_string().c_str());
    if (auto core = weak.lock()) core->peers.erase(&peer);
  };
  proto::PeerPtr peer = proto::Peer::attach(std::move(stream), std::move(options));
  // on_close always fires from a later loop iteration (handle close callbacks), so the entry
  // made here is the one it erases.
  peers[peer.get()] = peer;
}

void DirectoryService::stop() {
  Core &core = *core_;
  core.stopped = true;
  if (core.listener) {
    core.listener->close();
    core.listener.reset();
  }
  // Copy first: a close may (in future stream types) call on_close synchronously and erase.
  std::vector<std::weak_ptr<proto::Peer>> open;
  for (auto &[raw, weak] : core.peers)
    open.push_back(weak);
  for (auto &weak : open)
    if (auto peer = weak.lock()) peer->close();
  // Joins the presigning threads; tickets signed but not answered yet are answered `unavailable`.
  core.signer.reset();
  for (auto &answer : core.tickets_signed)
    answer.call->fail(Errc::unavailable, "the directory is shutting down");
  core.tickets_signed.clear();
  // Commits the rows it holds; their tickets are answered `unavailable` (stopped).
  core.audit_writer.reset();
}

void DirectoryService::set_signing_threads(unsigned threads) {
  core_->signing_threads = threads;
}

size_t DirectoryService::connection_count() const {
  return core_->peers.size();
}

const proto::Fingerprint &DirectoryService::fingerprint() const {
  return core_->keys.identity->fingerprint();
}

const proto::Bytes &DirectoryService::ticket_public_der() const {
  return core_->keys.ticket_key->public_der();
}

const proto::Bytes &DirectoryService::session_public_der() const {
  return core_->keys.session_key->public_der();
}

// ---------------------------------------------------------------------------------------------
// Ops

Result<EnrolledEntry> DirectoryService::Core::caller(const CallPtr &call, EnrollKind kind,
                                                     const char *op_text) {
  const proto::Fingerprint &fp = call->peer_info().fingerprint;
  if (fp.empty())
    return make_error(Errc::unauthenticated, std::string(op_text) + " needs a client certificate");
  auto entry = store->enrolled_by_fingerprint(fp);
  if (!entry.ok()) {
    if (entry.error().code == Errc::not_found)
      return make_error(Errc::unauthenticated,
                        "key " + short_key(fp) + "... is not enrolled with this directory");
    return entry.error();
  }
  if (entry->revoked) return make_error(Errc::unauthenticated, "key " + short_key(fp) + "... was revoked");
  if (entry->kind != kind)
    return make_error(Errc::forbidden, std::string("only enrolled ") + proto::enroll_kind_name(kind) +
                                           " keys may " + op_text + "; this key is enrolled as a " +
                                           proto::enroll_kind_name(entry->kind));
  return entry;
}

void DirectoryService::Core::handle_enroll(const CallPtr &call) {
  proto::EnrollRequest req;
  if (!read_args(call, req)) return;
  const proto::PeerInfo &peer = call->peer_info();
  if (peer.fingerprint.empty())
    return call->fail(Errc::unauthenticated,
                      "enroll needs a client certificate: its key is what gets enrolled");

  auto entry = store->enroll(req.token, req.kind, req.name, peer.fingerprint, wall_ms(), peer.address);
  if (!entry.ok()) {
    LPM_WARN("enroll refused for %s (key %s): %s", peer.address.c_str(), short_key(peer.fingerprint).c_str(),
             entry.error().to_string().c_str());
    return call->fail(entry.error());
  }
  LPM_INFO("enrolled %s %s \"%s\" key %s from %s", proto::enroll_kind_name(entry->kind), entry->id.c_str(),
           entry->name.c_str(), short_key(entry->fingerprint).c_str(), peer.address.c_str());
  proto::EnrollResult result;
  result.id = entry->id;
  result.ticket_key = keys.ticket_key->public_der();
  if (keys.session_key) result.session_key = keys.session_key->public_der();
  reply_with(call, result);
}

void DirectoryService::Core::handle_register(const CallPtr &call) {
  auto ws = caller(call, EnrollKind::workstation, "register");
  if (!ws.ok()) return call->fail(ws.error());
  proto::RegisterRequest req;
  if (!read_args(call, req)) return;

  WorkstationReport report;
  report.id = ws->id;
  report.port = req.port;
  // Reported addresses are hints (the seen one comes first anyway): what is not an IP literal
  // ("localhost", a host name) is dropped rather than failing the whole registration.
  for (auto &a : req.addresses) {
    if (ip_literal_valid(a))
      report.reported_addresses.push_back(std::move(a));
    else
      LPM_DEBUG("register %s: ignoring reported address \"%s\" (not an IP address)", ws->id.c_str(),
                a.c_str());
  }
  report.seen_address = address_host(call->peer_info().address);
  report.holdings = std::move(req.holdings);
  int64_t now = wall_ms();
  auto refused = store->workstation_register(report, now);
  if (!refused.ok()) {
    LPM_WARN("register from %s failed: %s", ws->id.c_str(), refused.error().to_string().c_str());
    return call->fail(refused.error());
  }
  proto::RegisterResult result;
  // Commands the agent carried out are forgotten; those still pending go back with the reply
  // (DESIGN §4: how administrators reach other users' queues).
  if (!req.done_commands.empty()) {
    auto tx = store->begin();
    Status s = tx.begun();
    if (s.ok()) s = store->commands_done(ws->id, req.done_commands);
    if (s.ok()) s = tx.commit();
    if (!s.ok()) return call->fail(s.error());
  }
  auto commands = store->commands_for(ws->id);
  if (!commands.ok()) return call->fail(commands.error());
  result.commands = std::move(*commands);
  // The revocation list (DESIGN §3), from the newest revocation the agent already has.
  auto revoked = store->revocations_since(req.revocations_after, proto::kMaxRevokedPerReply);
  if (!revoked.ok()) return call->fail(revoked.error());
  result.revoked = std::move(*revoked);
  auto retention = retention_policy(*store);
  if (!retention.ok()) return call->fail(retention.error());
  result.retention_released_hours = retention->released_hours;
  result.retention_unreleased_hours = retention->unreleased_hours;
  result.directory_keys = keys.announced;
  for (const auto &r : *refused) {
    LPM_WARN("register from %s \"%s\": holdings of user %s ignored (%s)", ws->id.c_str(), ws->name.c_str(),
             r.user.c_str(), r.reason.c_str());
    result.refused.push_back(proto::RefusedHoldingInfo{r.user, r.reason});
  }
  LPM_DEBUG("register %s port %u, %zu holding(s)", ws->id.c_str(), report.port, report.holdings.size());
  result.now_ms = now;
  result.heartbeat_s = kHeartbeatS;
  reply_with(call, result);
}

namespace {
// A page read with one row more than `limit` asked for: that extra row, if there, is dropped and
// says another page follows, from the last id kept.
template <class Page> void end_page(Page &page, size_t limit) {
  if (page.items.size() <= limit) return;
  page.items.resize(limit);
  page.next = page.items.back().id;
}
} // namespace

void DirectoryService::Core::handle_list_enrolled(const CallPtr &call) {
  auto service = caller(call, EnrollKind::accounting, "list enrolled keys");
  if (!service.ok()) return call->fail(service.error());
  proto::ListEnrolledRequest req;
  if (!read_args(call, req)) return;

  // One more than asked tells whether another page follows.
  auto rows = store->enrolled_list(req.page.after, req.page.limit + 1);
  if (!rows.ok()) return call->fail(rows.error());
  proto::ListEnrolledResult result;
  for (auto &e : *rows)
    result.items.push_back(proto::EnrolledKey{e.id, e.kind, e.name, e.fingerprint});
  end_page(result, req.page.limit);
  reply_with(call, result);
}

// Only an accounting server asks: it stamps records with the print group and department and keeps
// the names reports show. A user absent from the whole list was deleted (RP-10).
void DirectoryService::Core::handle_list_people(const CallPtr &call) {
  auto service = caller(call, EnrollKind::accounting, "list people");
  if (!service.ok()) return call->fail(service.error());
  proto::ListPeopleRequest req;
  if (!read_args(call, req)) return;
  auto rows = store->people_list(req.page.after, req.page.limit + 1);
  if (!rows.ok()) return call->fail(rows.error());
  proto::ListPeopleResult result;
  result.items = std::move(*rows);
  end_page(result, req.page.limit);
  reply_with(call, result);
}

} // namespace lpm::directory
