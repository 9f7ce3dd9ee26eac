// Who submits on a capture listener (IPP 9167, raw 9168): the kernel knows which uid owns the
// other end of a loopback TCP connection; we ask it with NETLINK_SOCK_DIAG (an inet_diag
// lookup of the connection's exact 4-tuple, IPv4 or IPv6). The owner rule of DESIGN §4: a peer
// socket of root or of the `lp` account is the CUPS backend, which submits on behalf of the
// IPP requesting-user-name; any other peer submits as its own OS account. The account then maps
// to a directory user through <IdentityBinding> (identity_binding.h).
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <string>
#include <vector>

#include "identity_binding.h"
#include "lpm/error.h"
#include "lpm/packaging/configuration.h"

namespace lpm::agent {

// Both ends of an accepted TCP connection, as the listening side sees them.
struct TcpEnds {
  sockaddr_storage local{}; // our address and port
  sockaddr_storage peer{};  // the client's address and port
};

// The uid owning the peer's socket. not_found when the kernel knows no such connection (it
// closed, or it is not local), io_error when the netlink query fails.
Result<int64_t> tcp_peer_uid(const TcpEnds &ends);

// The uid of the `lp` account (the CUPS backend's), -1 when this system has none.
int64_t lp_account_uid();

// The owner of a capture by a peer socket owned by `peer_uid`: root and `spooler_uid` (lp)
// submit for `requesting_user` (forbidden when it is empty: the spooler must name the owner);
// any other uid for its own account. forbidden, with the <Bind .../> line to add, when the
// account is not bound; forbidden when the uid has no account.
Result<JobOwner> capture_owner(int64_t peer_uid, const std::string &requesting_user, int64_t spooler_uid,
                               const std::vector<packaging::IdentityBind> &bindings,
                               const LoginBindings *logins = nullptr);

} // namespace lpm::agent
