// Registration of held-job counts with the directory, over a link that comes back by itself.
#include "directory_client.h"

#include <algorithm>

#include "lpm/ids.h"
#include "lpm/log.h"
#include "lpm/protocol/ops.h"

namespace lpm::agent {

std::vector<std::string> reported_addresses(const proto::Endpoint &release_listen) {
  const std::string &host = release_listen.host;
  // A wildcard says nothing about where we are; the directory uses the address it sees.
  if (host == "0.0.0.0" || host == "::" || host.empty()) return {};
  return {host};
}

std::shared_ptr<Registrar> Registrar::create(uv_loop_t *loop, std::shared_ptr<proto::TlsContext> client_ctx,
                                             std::shared_ptr<JobStore> store, RegistrarOptions options) {
  return std::make_shared<Registrar>(loop, std::move(client_ctx), std::move(store), std::move(options));
}

Registrar::Registrar(uv_loop_t *loop, std::shared_ptr<proto::TlsContext> client_ctx,
                     std::shared_ptr<JobStore> store, RegistrarOptions options)
    : store_(std::move(store)), options_(std::move(options)), heartbeat_(loop), debounce_(loop) {
  link_ = ServiceLink::create(loop, std::move(client_ctx),
                              service_link_options("directory", options_.directory, proto::role::directory));
}

void Registrar::start() {
  std::weak_ptr<Registrar> weak = shared_from_this();
  link_->on_up = [weak]() {
    if (auto self = weak.lock()) self->send_register();
  };
  link_->on_down = [weak](const Error &why) {
    auto self = weak.lock();
    if (!self) return;
    self->in_flight_ = false;
    self->status_.error = why.code == Errc::ok ? why.message : why.to_string();
    self->status_.error_ms = wall_ms();
  };
  heartbeat_.start(kHeartbeatMs, kHeartbeatMs, [weak]() {
    if (auto self = weak.lock()) self->send_register();
  });
  link_->open();
}

void Registrar::holdings_changed(HeldChange change) {
  if (stopped_) return;
  change_pending_ = true;
  if (change == HeldChange::fewer) {
    if (!debounce_.active()) send_register_in(kFewerDelayMs);
    return;
  }
  if (debounce_.active()) {
    if (debounce_due_ms_ - mono_ms() <= static_cast<int64_t>(kDebounceMs)) return; // due soon anyway
    debounce_.stop(); // a "fewer" wait: more jobs do not wait that long
  }
  int64_t since = last_sent_ms_ < 0 ? INT64_MAX : mono_ms() - last_sent_ms_;
  if (since >= static_cast<int64_t>(kDebounceMs)) {
    send_register();
    return;
  }
  send_register_in(kDebounceMs - static_cast<uint64_t>(since));
}

void Registrar::send_register_in(uint64_t delay_ms) {
  debounce_due_ms_ = mono_ms() + static_cast<int64_t>(delay_ms);
  std::weak_ptr<Registrar> weak = shared_from_this();
  debounce_.start(delay_ms, 0, [weak]() {
    if (auto self = weak.lock()) self->send_register();
  });
}

void Registrar::send_register() {
  proto::PeerPtr peer = link_->peer();
  if (stopped_ || !peer) return; // on_up registers once the link is back
  if (in_flight_) {
    dirty_ = true;
    return;
  }
  auto counts = store_->held_counts();
  if (!counts.ok()) {
    LPM_ERROR("cannot read held counts: %s", counts.error().to_string().c_str());
    return;
  }
  last_sent_ms_ = mono_ms();
  sent_wall_ms_ = wall_ms();
  proto::RegisterRequest req;
  req.port = options_.release_port;
  req.addresses = options_.addresses;
  std::map<std::string, uint64_t> sent;
  for (const auto &h : *counts)
    sent[h.user] = h.jobs;
  req.holdings = *counts;
  for (const auto &[user, jobs] : registered_)
    if (!sent.count(user)) req.holdings.push_back(proto::Holding{user, 0}); // withdraw
  req.done_commands = done_commands_;
  if (options_.revoked) req.revocations_after = options_.revoked->newest_ms();
  proto::MapWriter w;
  req.write(w);
  in_flight_ = true;
  dirty_ = false;
  bool for_change = change_pending_;
  change_pending_ = false;
  std::weak_ptr<Registrar> weak = shared_from_this();
  size_t acknowledged = req.done_commands.size();
  peer->call(proto::op::register_holdings, w, [weak, sent, acknowledged, for_change](Result<proto::Response> reply) {
    auto self = weak.lock();
    if (!self) return;
    // The directory forgets the commands this register named once it answered.
    if (reply.ok())
      self->done_commands_.erase(self->done_commands_.begin(),
                                 self->done_commands_.begin() +
                                     static_cast<std::ptrdiff_t>(std::min(acknowledged, self->done_commands_.size())));
    self->on_reply(std::move(reply), sent, for_change);
  });
}

void Registrar::on_reply(Result<proto::Response> reply, std::map<std::string, uint64_t> sent, bool for_change) {
  in_flight_ = false;
  if (stopped_) return;
  if (!reply.ok()) {
    // A refusal (not enrolled, revoked) or a broken connection: try again on a new connection.
    status_.error = reply.error().to_string();
    status_.error_ms = wall_ms();
    LPM_WARN("register refused by the directory: %s", reply.error().to_string().c_str());
    link_->retry_later(reply.error());
    return;
  }
  proto::RegisterResult result;
  proto::MapReader r = reply->reader();
  result.read(r);
  if (!r.ok()) LPM_WARN("unexpected register result: %s", r.error().to_string().c_str());
  link_->succeeded();
  int64_t answered = wall_ms();
  status_.ok_ms = answered;
  if (options_.on_heard) options_.on_heard(answered);
  if (r.ok() && result.now_ms > 0) {
    // The directory read its clock somewhere between our send and its answer: the midpoint.
    status_.skew_known = true;
    status_.skew_ms = result.now_ms - (sent_wall_ms_ + answered) / 2;
  }
  // Said once per user and reason: the heartbeat repeats the refusal every minute.
  std::map<std::string, std::string> refused;
  for (const auto &x : result.refused) {
    refused[x.user] = x.reason;
    auto before = refused_.find(x.user);
    if (before == refused_.end() || before->second != x.reason)
      LPM_WARN("the directory does not announce the jobs held here for user %s (%s): the user logs in here "
               "with `lpm login`, or an administrator binds them to this workstation",
               x.user.c_str(), x.reason.c_str());
  }
  refused_ = std::move(refused);
  // Said after each change of the held jobs (the integration tests wait for this line after a
  // job is stored), and whenever the counts the directory has moved; not at each heartbeat. Not
  // while a change made after this register was sent waits for the next one: the line would say
  // the directory knows a job it has not been told of yet.
  bool newer_change = change_pending_ || dirty_;
  if ((sent != registered_ || for_change) && !newer_change) {
    size_t users = sent.size();
    LPM_INFO("registered held jobs for %zu user(s) with the directory", users);
  }
  registered_ = std::move(sent);
  if (r.ok() && options_.on_directory_keys && !result.directory_keys.empty())
    options_.on_directory_keys(result.directory_keys);
  if (r.ok() && options_.on_retention)
    options_.on_retention(result.retention_released_hours, result.retention_unreleased_hours);
  if (options_.revoked && !result.revoked.empty()) {
    auto fresh = options_.revoked->add(result.revoked);
    if (!fresh.ok())
      LPM_ERROR("cannot store the directory's revocation list: %s", fresh.error().to_string().c_str());
    else if (*fresh > 0)
      LPM_INFO("the directory revoked %zu more key(s); release stations presenting them are refused", *fresh);
    // A full page may have more behind it.
    if (fresh.ok() && result.revoked.size() == proto::kMaxRevokedPerReply && *fresh > 0) dirty_ = true;
  }
  for (const auto &command : result.commands) {
    if (!options_.on_command) break;
    if (std::find(done_commands_.begin(), done_commands_.end(), command.id) != done_commands_.end()) continue;
    Status s = options_.on_command(command);
    if (!s.ok()) {
      LPM_WARN("command %s (%s) from the directory not carried out yet: %s", command.id.c_str(),
               command.kind.c_str(), s.error().to_string().c_str());
      continue;
    }
    done_commands_.push_back(command.id);
    dirty_ = true; // tell the directory (and the new held counts) at once
  }
  if (dirty_) send_register();
}

void Registrar::stop() {
  stopped_ = true;
  heartbeat_.close();
  debounce_.close();
  link_->close();
}

Registrar::LinkStatus Registrar::status() const {
  LinkStatus s = status_;
  s.up = link_->state() == ServiceLink::State::up;
  return s;
}

} // namespace lpm::agent
