// The raw socket capture listener (DESIGN §4, issue 3) on <RawListen>, localhost:9168 by
// default, for single-owner setups (a "Standard TCP/IP port" or `nc`): one connection is one
// job. The owner is the OS account owning the peer socket (NETLINK_SOCK_DIAG, ipp_peer_owner.h)
// mapped through <IdentityBinding>; there is no requesting-user-name here, so root and lp count
// as themselves. An unbound account's connection is closed without storing anything (and
// logged). The format is sniffed from the first bytes (%PDF, %!, RaS2, UNIRAST; otherwise
// application/octet-stream), the title is "Raw print job", and the job is committed when the
// peer ends its half of the connection.
#pragma once

#include <uv.h>

#include <functional>
#include <memory>
#include <vector>

#include "ipp_listener.h"
#include "job_store.h"
#include "lpm/packaging/configuration.h"
#include "user_logins.h"

namespace lpm::agent {

inline constexpr const char *kRawJobTitle = "Raw print job";

struct RawCaptureOptions {
  proto::Endpoint listen{"127.0.0.1", 9168}; // <RawListen>; must be loopback
  std::vector<packaging::IdentityBind> bindings;
  std::shared_ptr<const LoginBindings> logins; // accounts bound by `lpm login` (may be null)
  // The profile's <DocumentFormat> list: a document sniffed as another known format is refused.
  std::vector<std::string> document_formats;
  CaptureLimits limits;
  // The uid owning a connection's peer socket; default: tcp_peer_uid (NETLINK_SOCK_DIAG).
  std::function<Result<int64_t>(const TcpEnds &)> peer_uid;
  // Called after each job is stored (tests wait on it).
  std::function<void(const Job &)> on_stored;
};

class RawCapture {
public:
  // bad_request naming <RawListen> for a non-loopback address; unavailable when the port is
  // taken.
  static Result<std::unique_ptr<RawCapture>> start(uv_loop_t *loop, std::shared_ptr<JobStore> store,
                                                   RawCaptureOptions options);
  ~RawCapture();
  RawCapture(const RawCapture &) = delete;
  RawCapture &operator=(const RawCapture &) = delete;

  uint16_t port() const;
  // Stops listening and closes the open connections (their documents are discarded).
  void stop();

private:
  RawCapture() = default;
  std::unique_ptr<CaptureListener> listener_;
};

} // namespace lpm::agent
