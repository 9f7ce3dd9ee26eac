// NETLINK_SOCK_DIAG lookup of a TCP connection's owner, and the capture owner rule.
#include "ipp_peer_owner.h"

#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <pwd.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "lpm/files.h"

namespace lpm::agent {

namespace {

// Closes the netlink socket on every path.
struct Fd {
  int fd;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

constexpr size_t netlink_align(size_t n) {
  return (n + 3) & ~size_t{3};
} // NLMSG_ALIGN
constexpr size_t kNetlinkHeaderBytes = netlink_align(sizeof(nlmsghdr)); // NLMSG_HDRLEN

// Fills one end of the inet_diag socket id (the addresses in network byte order).
void set_end(const sockaddr_storage &ss, __be16 &port, __be32 (&addr)[4]) {
  if (ss.ss_family == AF_INET) {
    const auto *a = reinterpret_cast<const sockaddr_in *>(&ss);
    port = a->sin_port;
    std::memcpy(&addr[0], &a->sin_addr, sizeof a->sin_addr);
  } else {
    const auto *a = reinterpret_cast<const sockaddr_in6 *>(&ss);
    port = a->sin6_port;
    std::memcpy(addr, &a->sin6_addr, sizeof a->sin6_addr);
  }
}

} // namespace

Result<int64_t> tcp_peer_uid(const TcpEnds &ends) {
  int family = ends.peer.ss_family;
  if ((family != AF_INET && family != AF_INET6) || ends.local.ss_family != family)
    return make_error(Errc::bad_request, "the connection is not TCP over IPv4 or IPv6");

  Fd sock{::socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG)};
  if (sock.fd < 0) return make_error(Errc::io_error, "socket(NETLINK_SOCK_DIAG): " + errno_text());
  // The kernel answers while handling the request; the timeout only guards against a kernel
  // that never does.
  timeval timeout{1, 0};
  ::setsockopt(sock.fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);

  struct {
    nlmsghdr header;
    inet_diag_req_v2 body;
  } request{};
  request.header.nlmsg_len = sizeof request;
  request.header.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  request.header.nlmsg_flags = NLM_F_REQUEST;
  request.header.nlmsg_seq = 1;
  request.body.sdiag_family = static_cast<__u8>(family);
  request.body.sdiag_protocol = IPPROTO_TCP;
  request.body.idiag_states = ~0u;
  // The socket we look for is the client's: its source is the peer end, its destination ours.
  set_end(ends.peer, request.body.id.idiag_sport, request.body.id.idiag_src);
  set_end(ends.local, request.body.id.idiag_dport, request.body.id.idiag_dst);
  request.body.id.idiag_cookie[0] = INET_DIAG_NOCOOKIE;
  request.body.id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;

  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  if (::sendto(sock.fd, &request, sizeof request, 0, reinterpret_cast<sockaddr *>(&kernel), sizeof kernel) <
      0)
    return make_error(Errc::io_error, "sock_diag request: " + errno_text());

  alignas(nlmsghdr) uint8_t reply[8192];
  ssize_t n;
  do {
    n = ::recv(sock.fd, reply, sizeof reply, 0);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return make_error(Errc::io_error, "sock_diag reply: " + errno_text());
  // NLMSG_OK/NLMSG_NEXT spelled out: the macros use C casts.
  size_t at = 0;
  size_t total = static_cast<size_t>(n);
  while (at + sizeof(nlmsghdr) <= total) {
    nlmsghdr h;
    std::memcpy(&h, reply + at, sizeof h);
    if (h.nlmsg_len < sizeof(nlmsghdr) || at + h.nlmsg_len > total) break;
    const uint8_t *payload = reply + at + kNetlinkHeaderBytes;
    if (h.nlmsg_type == NLMSG_ERROR && h.nlmsg_len >= kNetlinkHeaderBytes + sizeof(nlmsgerr)) {
      nlmsgerr e;
      std::memcpy(&e, payload, sizeof e);
      if (e.error == -ENOENT) return make_error(Errc::not_found, "the kernel knows no such TCP connection");
      return make_error(Errc::io_error, std::string("sock_diag: ") + std::strerror(-e.error));
    }
    if (h.nlmsg_type == SOCK_DIAG_BY_FAMILY && h.nlmsg_len >= kNetlinkHeaderBytes + sizeof(inet_diag_msg)) {
      inet_diag_msg msg;
      std::memcpy(&msg, payload, sizeof msg);
      return static_cast<int64_t>(msg.idiag_uid);
    }
    at += netlink_align(h.nlmsg_len);
  }
  return make_error(Errc::io_error, "sock_diag: no answer for the connection");
}

int64_t lp_account_uid() {
  passwd entry{};
  passwd *found = nullptr;
  char buf[4096];
  if (::getpwnam_r("lp", &entry, buf, sizeof buf, &found) != 0 || found == nullptr) return -1;
  return static_cast<int64_t>(found->pw_uid);
}

Result<JobOwner> capture_owner(int64_t peer_uid, const std::string &requesting_user, int64_t spooler_uid,
                               const std::vector<packaging::IdentityBind> &bindings,
                               const LoginBindings *logins) {
  if (peer_uid == 0 || (spooler_uid >= 0 && peer_uid == spooler_uid)) {
    if (requesting_user.empty())
      return make_error(Errc::forbidden, "a job from the spooler (root or lp) must name its owner in "
                                         "requesting-user-name");
    return job_owner_for_account(requesting_user, bindings, logins);
  }
  return job_owner_for_uid(peer_uid, bindings, logins);
}

} // namespace lpm::agent
