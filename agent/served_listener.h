// A listening socket together with the connections it accepted, each served by one Peer with
// the same options; stop() closes the listener and every connection (service shutdown).
#pragma once

#include <uv.h>

#include <memory>
#include <string>
#include <vector>

#include "lpm/protocol/rpc.h"

namespace lpm::agent {

class ServedListener {
public:
  // TLS on `at` (port 0 picks a free one).
  static Result<std::unique_ptr<ServedListener>> tls(uv_loop_t *loop, std::shared_ptr<proto::TlsContext> ctx,
                                                     const proto::Endpoint &at,
                                                     const proto::StreamLimits &limits,
                                                     proto::PeerOptions peer_options);
  // A Unix socket at `path` with file mode `mode`; stop() removes the file.
  static Result<std::unique_ptr<ServedListener>> pipe(uv_loop_t *loop, const std::string &path, int mode,
                                                      const proto::StreamLimits &limits,
                                                      proto::PeerOptions peer_options);
  ~ServedListener();
  ServedListener(const ServedListener &) = delete;
  ServedListener &operator=(const ServedListener &) = delete;

  uint16_t port() const { return port_; }
  void stop();

private:
  struct Peers; // the accepted connections, shared with the accept callback
  ServedListener() = default;
  static proto::Listener::AcceptFn acceptor(const std::shared_ptr<Peers> &peers, proto::PeerOptions options);

  std::shared_ptr<proto::Listener> listener_;
  std::shared_ptr<Peers> peers_;
  std::string path_; // Unix socket file, removed by stop()
  uint16_t port_ = 0;
};

} // namespace lpm::agent
