// A link to a pinned service opened when a request needs it, for requests a person at a terminal
// waits on (`lpm login`, the directory's person ops, `lpm report`): requests queue until the link
// is up; a failed connect fails them at once (the link keeps retrying behind them, service_link.h)
// and so does a link not up after `wait_ms`, so the person learns soon that the service cannot be
// reached. Once nothing waits the link is released (not re-made after it idles out).
//
// Everything runs on the loop thread.
#pragma once

#include <uv.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>

#include "lpm/protocol/loop_timer.h"
#include "lpm/protocol/rpc.h"
#include "service_link.h"

namespace lpm::agent {

class OnDemandLink : public std::enable_shared_from_this<OnDemandLink> {
public:
  using PeerFn = std::function<void(Result<proto::PeerPtr>)>;

  static std::shared_ptr<OnDemandLink> create(uv_loop_t *loop, std::shared_ptr<proto::TlsContext> client_ctx,
                                              ServiceLinkOptions options, uint64_t wait_ms);

  // Runs fn with the connection, opening it first if needed; or with unavailable / timeout.
  void with_peer(PeerFn fn);
  // Fails what waits and closes the link for good.
  void stop();
  ServiceLink &link() { return *link_; }

  OnDemandLink(uv_loop_t *loop, std::shared_ptr<proto::TlsContext> client_ctx, ServiceLinkOptions options,
               uint64_t wait_ms);

private:
  void fail_waiting(const Error &why);

  std::string name_;
  uint64_t wait_ms_;
  std::shared_ptr<ServiceLink> link_;
  std::deque<PeerFn> waiting_;
  proto::LoopTimer wait_timer_;
  bool stopped_ = false;
};

} // namespace lpm::agent
