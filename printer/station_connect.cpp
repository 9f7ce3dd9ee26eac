#include "station_connect.h"

#include "lpm/protocol/ops.h"

namespace lpm::printer {

proto::PeerPtr connect_pinned(uv_loop_t *loop, std::shared_ptr<proto::TlsContext> tls,
                              const proto::Endpoint &to, std::vector<proto::Fingerprint> pins,
                              const proto::StreamLimits &limits, const char *peer_role,
                              std::function<void()> on_ready, std::function<void(const Error &)> on_close) {
  proto::ConnectOptions options;
  options.pins = std::move(pins);
  options.limits = limits;
  auto stream = proto::tls_connect(loop, std::move(tls), to, options, {});
  proto::PeerOptions po;
  po.role = proto::role::printer;
  po.accept_roles = {peer_role};
  // The peer drops these after on_close, which ends any cycle through the callers' captures.
  po.on_ready = [on_ready = std::move(on_ready)](proto::Peer &) { on_ready(); };
  po.on_close = [on_close = std::move(on_close)](proto::Peer &, const Error &reason) { on_close(reason); };
  return proto::Peer::attach(stream, std::move(po));
}

} // namespace lpm::printer
