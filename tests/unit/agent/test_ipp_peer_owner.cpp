// Who is on the other end of a capture connection (issue 3): the kernel's answer through
// NETLINK_SOCK_DIAG for IPv4 and IPv6 loopback connections, and the owner rule (root and lp
// submit for requesting-user-name, everyone else as themselves).
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ipp_peer_owner.h"
#include "ipp_test_support.h"

using namespace lpm;
using namespace lpm::agent;
using namespace lpm::agent::test;

namespace {

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

// A connected pair on loopback; `ends` as the accepting side sees them.
struct LoopbackPair {
  Fd listener, client, accepted;
  TcpEnds ends;

  explicit LoopbackPair(int family) {
    listener.fd = ::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(listener.fd >= 0);
    sockaddr_storage addr{};
    socklen_t len;
    if (family == AF_INET) {
      auto *a = reinterpret_cast<sockaddr_in *>(&addr);
      a->sin_family = AF_INET;
      a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      len = sizeof(sockaddr_in);
    } else {
      auto *a = reinterpret_cast<sockaddr_in6 *>(&addr);
      a->sin6_family = AF_INET6;
      a->sin6_addr = in6addr_loopback;
      len = sizeof(sockaddr_in6);
    }
    REQUIRE(::bind(listener.fd, reinterpret_cast<sockaddr *>(&addr), len) == 0);
    REQUIRE(::listen(listener.fd, 4) == 0);
    REQUIRE(::getsockname(listener.fd, reinterpret_cast<sockaddr *>(&addr), &len) == 0);
    client.fd = ::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(::connect(client.fd, reinterpret_cast<sockaddr *>(&addr), len) == 0);
    accepted.fd = ::accept(listener.fd, nullptr, nullptr);
    REQUIRE(accepted.fd >= 0);
    socklen_t l = sizeof ends.local;
    REQUIRE(::getsockname(accepted.fd, reinterpret_cast<sockaddr *>(&ends.local), &l) == 0);
    l = sizeof ends.peer;
    REQUIRE(::getpeername(accepted.fd, reinterpret_cast<sockaddr *>(&ends.peer), &l) == 0);
  }
};

} // namespace

TEST_CASE("sock_diag finds the uid owning the peer socket of an IPv4 and of an IPv6 loopback connection",
          "[agent][ipp]") {
  for (int family : {AF_INET, AF_INET6}) {
    LoopbackPair pair(family);
    auto uid = tcp_peer_uid(pair.ends);
    REQUIRE(uid.ok());
    CHECK(*uid == static_cast<int64_t>(::geteuid()));
  }
}

TEST_CASE("sock_diag knows no connection once the client has gone, and the exact 4-tuple matters",
          "[agent][ipp]") {
  LoopbackPair pair(AF_INET);
  TcpEnds wrong = pair.ends;
  reinterpret_cast<sockaddr_in *>(&wrong.peer)->sin_port = htons(1); // nobody's port
  auto none = tcp_peer_uid(wrong);
  REQUIRE_FALSE(none.ok());
  CHECK(none.error().code == Errc::not_found);
}

TEST_CASE("the owner rule: root and the spooler account name the owner in requesting-user-name, any other "
          "account submits as itself",
          "[agent][ipp]") {
  int64_t lp = uid_of("lp");
  auto root = capture_owner(0, "alice", lp, kBindings);
  REQUIRE(root.ok());
  CHECK(root->user == kAlice);
  CHECK(root->account == "alice");
  auto spooler = capture_owner(lp, "bob", lp, kBindings);
  REQUIRE(spooler.ok());
  CHECK(spooler->user == kBob);
  auto nobody = capture_owner(uid_of("nobody"), "alice", lp, kBindings);
  REQUIRE(nobody.ok());
  CHECK(nobody->account == "nobody");
  CHECK(nobody->user == kBob);

  auto anonymous = capture_owner(0, "", lp, kBindings);
  REQUIRE_FALSE(anonymous.ok());
  CHECK(anonymous.error().code == Errc::forbidden);
  auto unbound = capture_owner(uid_of("daemon"), "alice", lp, kBindings);
  REQUIRE_FALSE(unbound.ok());
  CHECK_THAT(unbound.error().message, Catch::Contains("<Bind account=\"daemon\" user=\"UUID\"/>"));
  CHECK(lp_account_uid() == lp);
}
