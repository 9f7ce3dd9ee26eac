#include "directory_link.h"

#include "lpm/log.h"
#include "lpm/protocol/ops.h"
#include "station_connect.h"

namespace lpm::printer {

std::shared_ptr<DirectoryLink> DirectoryLink::create(uv_loop_t *loop, std::shared_ptr<proto::TlsContext> tls,
                                                     proto::Endpoint at, std::vector<proto::Fingerprint> pins,
                                                     uint32_t connect_timeout_ms) {
  return std::make_shared<DirectoryLink>(loop, std::move(tls), std::move(at), std::move(pins),
                                         connect_timeout_ms);
}

DirectoryLink::DirectoryLink(uv_loop_t *loop, std::shared_ptr<proto::TlsContext> tls, proto::Endpoint at,
                             std::vector<proto::Fingerprint> pins, uint32_t connect_timeout_ms)
    : loop_(loop), tls_(std::move(tls)), at_(std::move(at)), pins_(std::move(pins)),
      connect_timeout_ms_(connect_timeout_ms) {}

void DirectoryLink::connect(std::function<void(Status)> done) {
  switch (state_) {
  case State::ready:
    if (!peer_->closed()) {
      done(Status{});
      return;
    }
    // The connection is going away (its close callback has not run yet): wait for it, then
    // open a new one (on_closed sees the waiter).
    waiters_.push_back(std::move(done));
    return;
  case State::connecting: waiters_.push_back(std::move(done)); return;
  case State::idle:
    waiters_.push_back(std::move(done));
    start_connect();
    return;
  case State::closing:
  case State::closed: done(make_error(Errc::unavailable, "the directory connection is closed")); return;
  }
}

void DirectoryLink::start_connect() {
  state_ = State::connecting;
  proto::StreamLimits limits;
  limits.handshake_timeout_ms = connect_timeout_ms_;
  auto self = shared_from_this();
  // on_closed drops our hold on the peer, which ends the cycle through these captures.
  peer_ = connect_pinned(
      loop_, tls_, at_, pins_, limits, proto::role::directory, [self] { self->on_ready(); },
      [self](const Error &reason) { self->on_closed(reason); });
}

void DirectoryLink::on_ready() {
  if (state_ != State::connecting) return;
  state_ = State::ready;
  LPM_DEBUG("connected to the directory at %s", at_.to_string().c_str());
  auto waiters = std::move(waiters_);
  waiters_.clear();
  for (auto &w : waiters)
    w(Status{});
}

void DirectoryLink::on_closed(const Error &reason) {
  peer_.reset();
  State was = state_;
  if (was == State::closing) {
    state_ = State::closed;
    fail_waiters(make_error(Errc::unavailable, "the directory connection is closed"));
    auto done = std::move(close_done_);
    if (done) done();
    return;
  }
  state_ = State::idle;
  if (was == State::connecting) {
    Error e = reason.code == Errc::ok ? make_error(Errc::unavailable, reason.message) : reason;
    e.message = "directory " + at_.to_string() + ": " + e.message;
    fail_waiters(e);
    return;
  }
  LPM_DEBUG("directory connection closed: %s", reason.message.c_str());
  if (!waiters_.empty()) start_connect();
}

void DirectoryLink::fail_waiters(const Error &error) {
  auto waiters = std::move(waiters_);
  waiters_.clear();
  for (auto &w : waiters)
    w(error);
}

void DirectoryLink::call(std::string op, proto::MapWriter args, proto::ResponseFn done) {
  // Only a connection that was already open may have gone stale: a fresh one failing is a real
  // failure.
  bool kept_connection = state_ == State::ready && peer_ && !peer_->closed();
  send(std::move(op), std::move(args), std::move(done), kept_connection);
}

void DirectoryLink::send(std::string op, proto::MapWriter args, proto::ResponseFn done, bool may_retry) {
  auto self = shared_from_this();
  connect([self, op = std::move(op), args = std::move(args), done = std::move(done),
           may_retry](const Status &s) mutable {
    if (!s.ok()) {
      done(s.error());
      return;
    }
    proto::PeerPtr peer = self->peer_;
    peer->call(op, args,
               [self, peer, op, args, done = std::move(done), may_retry](Result<proto::Response> r) mutable {
                 if (!r.ok() && may_retry && peer->closed() && self->state_ != State::closing &&
                     self->state_ != State::closed) {
                   LPM_DEBUG("directory connection went away during %s; sending it again", op.c_str());
                   self->send(std::move(op), std::move(args), std::move(done), false);
                   return;
                 }
                 done(std::move(r));
               });
  });
}

void DirectoryLink::close(std::function<void()> done) {
  switch (state_) {
  case State::idle:
  case State::closed:
    state_ = State::closed;
    done();
    return;
  case State::closing: {
    // Chain both callers.
    auto first = std::move(close_done_);
    close_done_ = [first = std::move(first), done = std::move(done)]() {
      if (first) first();
      done();
    };
    return;
  }
  case State::connecting:
  case State::ready:
    state_ = State::closing;
    close_done_ = std::move(done);
    peer_->close();
    return;
  }
}

} // namespace lpm::printer
