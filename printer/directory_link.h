// The station's one connection to the directory (TLS, pinned, role "printer"). It is opened at
// start-up and kept; when the directory or an idle deadline closes it, the next request opens
// it again.
#pragma once

#include <uv.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "lpm/protocol/rpc.h"
#include "lpm/protocol/stream.h"

namespace lpm::printer {

class DirectoryLink : public std::enable_shared_from_this<DirectoryLink> {
public:
  static std::shared_ptr<DirectoryLink> create(uv_loop_t *loop, std::shared_ptr<proto::TlsContext> tls,
                                               proto::Endpoint at, std::vector<proto::Fingerprint> pins,
                                               uint32_t connect_timeout_ms);

  // Opens the connection if it is not open; `done` runs once with ok or why it failed.
  void connect(std::function<void(Status)> done);
  // Sends a request, opening the connection first when needed. When a kept connection turns out
  // to have been closed under the request, it is sent once more on a fresh connection (the
  // directory's ops the station uses may be repeated).
  void call(std::string op, proto::MapWriter args, proto::ResponseFn done);
  // Closes the connection; `done` runs once no handle of it remains. Requests waiting for a
  // connection fail.
  void close(std::function<void()> done);

  DirectoryLink(uv_loop_t *loop, std::shared_ptr<proto::TlsContext> tls, proto::Endpoint at,
                std::vector<proto::Fingerprint> pins, uint32_t connect_timeout_ms);

private:
  enum class State { idle, connecting, ready, closing, closed };

  void start_connect();
  void on_ready();
  void on_closed(const Error &reason);
  void fail_waiters(const Error &error);
  void send(std::string op, proto::MapWriter args, proto::ResponseFn done, bool may_retry);

  uv_loop_t *loop_;
  std::shared_ptr<proto::TlsContext> tls_;
  proto::Endpoint at_;
  std::vector<proto::Fingerprint> pins_; // the directory's key must be one of these (rotation: DESIGN §3)
  uint32_t connect_timeout_ms_;
  State state_ = State::idle;
  proto::PeerPtr peer_;
  std::vector<std::function<void(Status)>> waiters_;
  std::function<void()> close_done_;
};

} // namespace lpm::printer
