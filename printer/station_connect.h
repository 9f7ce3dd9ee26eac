// How the station opens every connection: TLS pinned to one key, hello role "printer".
#pragma once

#include <uv.h>

#include <functional>
#include <memory>
#include <vector>

#include "lpm/protocol/rpc.h"
#include "lpm/protocol/stream.h"

namespace lpm::printer {

// Connects to `to`, whose key must be `pin` and whose hello must say `peer_role`. `on_ready`
// runs once both hellos are exchanged; `on_close` runs once, after the connection's handles are
// freed, whether or not it ever opened. The returned peer holds both callbacks until then.
proto::PeerPtr connect_pinned(uv_loop_t *loop, std::shared_ptr<proto::TlsContext> tls,
                              const proto::Endpoint &to, std::vector<proto::Fingerprint> pins,
                              const proto::StreamLimits &limits, const char *peer_role,
                              std::function<void()> on_ready, std::function<void(const Error &)> on_close);

} // namespace lpm::printer
