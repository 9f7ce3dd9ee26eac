// A client connection from the agent to a pinned service (the directory, the accounting server)
// that comes back by itself: while the link is wanted, a failed connect or a lost connection is
// retried after a backoff (1 s doubling to 60 s), rotating through the configured addresses.
//
//   down --open()--> connecting --hellos--> up --closed/failed--> waiting --timer--> connecting
//   any --release()--> no reconnect once the current connection ends; any --close()--> closed
//
// Callbacks run on the loop thread.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "lpm/protocol/loop_timer.h"
#include "lpm/packaging/configuration.h"
#include "lpm/protocol/rpc.h"

namespace lpm::agent {

struct ServiceLinkOptions {
  std::string name;                       // for log lines: "directory", "accounting"
  std::vector<proto::Endpoint> addresses; // tried in turn
  std::vector<proto::Fingerprint> pins;   // the service's key must be one of these
  std::vector<std::string> accept_roles;  // its hello role
};

// Options for a configured service (<Directory>, <Accounting>) whose hello role is `role`.
ServiceLinkOptions service_link_options(std::string name, const packaging::ServiceConfig &service,
                                        const char *role);

class ServiceLink : public std::enable_shared_from_this<ServiceLink> {
public:
  enum class State { down, connecting, up, waiting, closed };

  static std::shared_ptr<ServiceLink> create(uv_loop_t *loop, std::shared_ptr<proto::TlsContext> client_ctx,
                                             ServiceLinkOptions options);

  std::function<void()> on_up;                // connected, hellos exchanged
  std::function<void(const Error &)> on_down; // the connection ended or could not be made

  // Wants the link up: connects now unless connecting, up, or waiting out a backoff.
  void open();
  // No longer wants the link: the current connection may stay until it idles out, but is not
  // re-made.
  void release();
  // The exchange on the current connection failed in a way a new connection may fix: drop it
  // and reconnect after the backoff.
  void retry_later(const Error &why);
  // An exchange succeeded: the next failure waits the shortest delay again.
  void succeeded() { backoff_.reset(); }
  // Stops for good (closes the connection and the timer).
  void close();

  // Replaces the keys the service may present, from the next connection on (a directory's key
  // rotation: DESIGN §3).
  void set_pins(std::vector<proto::Fingerprint> pins) { options_.pins = std::move(pins); }
  const std::vector<proto::Fingerprint> &pins() const { return options_.pins; }

  State state() const { return state_; }
  // The connection when up, else null.
  proto::PeerPtr peer() const { return state_ == State::up ? peer_ : nullptr; }

  ServiceLink(uv_loop_t *loop, std::shared_ptr<proto::TlsContext> client_ctx, ServiceLinkOptions options);

private:
  void connect();
  void on_ready();
  void on_closed(const Error &reason);
  void schedule_retry();

  uv_loop_t *loop_;
  std::shared_ptr<proto::TlsContext> ctx_;
  ServiceLinkOptions options_;
  State state_ = State::down;
  bool wanted_ = false;
  size_t attempt_ = 0;
  proto::Backoff backoff_;
  proto::LoopTimer retry_timer_;
  proto::PeerPtr peer_;
};

} // namespace lpm::agent
