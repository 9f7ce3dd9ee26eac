// Stands in for systemd's end of $NOTIFY_SOCKET (sd_notify(3)) in integration/service_notify.sh.
//
//   lpm_test_notify_listener SOCKET_PATH [tcp:PORT | unix:PATH]...
//
// Binds a Unix datagram socket at SOCKET_PATH, prints "listening", then prints every message it
// receives on one line ("READY=1 STATUS=..."). When a message says READY=1 it tries, at that
// instant, to connect to each listed TCP port on 127.0.0.1 and Unix socket path, prints
// "tcp:PORT accepts" or "tcp:PORT refuses" for each, and exits 0. The test then knows whether the
// daemon's listeners were bound before it said it was ready. A message with STOPPING=1 also ends
// it (exit 0). Exits 2 after 30 s without either.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace {

bool connects_tcp(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = ::connect(fd, reinterpret_cast<sockaddr *>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

bool connects_unix(const std::string &path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  if (fd < 0) return false;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path.c_str());
  bool ok = ::connect(fd, reinterpret_cast<sockaddr *>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

} // namespace

int main(int argc, char **argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s SOCKET_PATH [tcp:PORT | unix:PATH]...\n", argv[0]);
    return 64;
  }
  int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (std::strlen(argv[1]) >= sizeof addr.sun_path) {
    std::fprintf(stderr, "socket path too long\n");
    return 64;
  }
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", argv[1]);
  ::unlink(argv[1]);
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr *>(&addr), sizeof addr) != 0) {
    std::perror("bind");
    return 1;
  }
  std::printf("listening\n");
  std::fflush(stdout);
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 30000) <= 0) {
      std::printf("no READY=1 within 30 s\n");
      return 2;
    }
    char buf[4096];
    ssize_t n = ::recv(fd, buf, sizeof buf - 1, 0);
    if (n < 0) continue;
    std::string message(buf, static_cast<size_t>(n));
    // Checked before anything is printed, so the test's reading cannot delay it.
    bool ready = ("\n" + message + "\n").find("\nREADY=1\n") != std::string::npos;
    bool stopping = ("\n" + message + "\n").find("\nSTOPPING=1\n") != std::string::npos;
    std::string verdicts;
    if (ready) {
      for (int i = 2; i < argc; i++) {
        std::string target = argv[i];
        bool ok = false;
        if (target.rfind("tcp:", 0) == 0)
          ok = connects_tcp(std::atoi(target.c_str() + 4));
        else if (target.rfind("unix:", 0) == 0)
          ok = connects_unix(target.substr(5));
        verdicts += target + (ok ? " accepts\n" : " refuses\n");
      }
    }
    for (char &c : message)
      if (c == '\n') c = ' ';
    std::printf("%s\n%s", message.c_str(), verdicts.c_str());
    std::fflush(stdout);
    if (ready || stopping) return 0;
  }
}
