#include "service_link.h"

#include "lpm/log.h"
#include "lpm/protocol/ops.h"

namespace lpm::agent {

ServiceLinkOptions service_link_options(std::string name, const packaging::ServiceConfig &service,
                                        const char *role) {
  ServiceLinkOptions o;
  o.name = std::move(name);
  o.addresses = service.addresses;
  o.pins = service.fingerprints;
  o.accept_roles = {role};
  return o;
}

std::shared_ptr<ServiceLink> ServiceLink::create(uv_loop_t *loop,
                                                 std::shared_ptr<proto::TlsContext> client_ctx,
                                                 ServiceLinkOptions options) {
  return std::make_shared<ServiceLink>(loop, std::move(client_ctx), std::move(options));
}

ServiceLink::ServiceLink(uv_loop_t *loop, std::shared_ptr<proto::TlsContext> client_ctx,
                         ServiceLinkOptions options)
    : loop_(loop), ctx_(std::move(client_ctx)), options_(std::move(options)), retry_timer_(loop) {}

void ServiceLink::open() {
  wanted_ = true;
  if (state_ == State::down) connect();
}

void ServiceLink::release() {
  wanted_ = false;
}

void ServiceLink::connect() {
  if (options_.addresses.empty()) {
    state_ = State::closed;
    LPM_ERROR("no %s address is configured", options_.name.c_str());
    return;
  }
  const proto::Endpoint &to = options_.addresses[attempt_ % options_.addresses.size()];
  state_ = State::connecting;
  proto::ConnectOptions co;
  co.pins = options_.pins;
  proto::StreamPtr stream = proto::tls_connect(loop_, ctx_, to, co, proto::Stream::Handlers{});
  proto::PeerOptions po;
  po.role = proto::role::agent;
  po.accept_roles = options_.accept_roles;
  std::weak_ptr<ServiceLink> weak = shared_from_this();
  po.on_ready = [weak](proto::Peer &) {
    if (auto self = weak.lock()) self->on_ready();
  };
  po.on_close = [weak](proto::Peer &, const Error &reason) {
    if (auto self = weak.lock()) self->on_closed(reason);
  };
  peer_ = proto::Peer::attach(stream, std::move(po));
}

void ServiceLink::on_ready() {
  if (state_ != State::connecting) return;
  state_ = State::up;
  LPM_INFO("connected to the %s at %s", options_.name.c_str(), peer_->info().address.c_str());
  if (on_up) on_up();
}

void ServiceLink::on_closed(const Error &reason) {
  peer_.reset();
  if (state_ == State::closed) return;
  bool was_up = state_ == State::up;
  attempt_++;
  if (was_up)
    LPM_INFO("connection to the %s ended: %s", options_.name.c_str(), reason.to_string().c_str());
  else
    LPM_WARN("cannot reach the %s: %s", options_.name.c_str(), reason.to_string().c_str());
  state_ = State::down;
  // The retry is scheduled before on_down runs, so an open() from there waits its turn.
  if (wanted_) schedule_retry();
  if (on_down) on_down(reason);
}

void ServiceLink::schedule_retry() {
  state_ = State::waiting;
  uint64_t delay_ms = backoff_.next_delay_ms();
  LPM_INFO("next attempt to reach the %s in %llu ms", options_.name.c_str(),
           static_cast<unsigned long long>(delay_ms));
  std::weak_ptr<ServiceLink> weak = shared_from_this();
  retry_timer_.start(delay_ms, 0, [weak]() {
    auto self = weak.lock();
    if (!self || self->state_ != State::waiting) return;
    self->state_ = State::down;
    if (self->wanted_) self->connect();
  });
}

void ServiceLink::retry_later(const Error &why) {
  if (state_ == State::closed) return;
  if (peer_) {
    // on_closed follows and schedules the retry.
    LPM_WARN("dropping the connection to the %s: %s", options_.name.c_str(), why.to_string().c_str());
    peer_->close(why);
    return;
  }
  if (state_ == State::down && wanted_) schedule_retry();
}

void ServiceLink::close() {
  state_ = State::closed;
  wanted_ = false;
  retry_timer_.close();
  on_up = nullptr;
  on_down = nullptr;
  if (peer_) peer_->close();
}

} // namespace lpm::agent
