// An AppSocket (port 9100) printer for integration tests: listens on 127.0.0.1, takes one job
// per connection and keeps it as DIR/<n>.bin once the sender half-closed; with --close-after N
// it hangs up on the first job after N bytes (a printer that fails mid-job) and behaves from
// then on; with --stall-ms N it waits N ms after accepting each job before it reads (a slow
// printer). Prints "ready <port>" once listening; runs until killed.
//
//   lpm_test_appsocket_printer DIR [--close-after N] [--stall-ms N]
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

int main(int argc, char **argv) {
  if (argc < 2 || argc % 2 != 0) {
    std::fprintf(stderr, "usage: %s DIR [--close-after N] [--stall-ms N]\n", argv[0]);
    return 2;
  }
  std::string dir = argv[1];
  long long close_after = -1;
  long long stall_ms = 0;
  for (int i = 2; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--close-after") == 0) {
      close_after = std::atoll(argv[i + 1]);
    } else if (std::strcmp(argv[i], "--stall-ms") == 0) {
      stall_ms = std::atoll(argv[i + 1]);
    } else {
      std::fprintf(stderr, "unknown option %s\n", argv[i]);
      return 2;
    }
  }
  int server = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  ::setsockopt(server, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(server, reinterpret_cast<sockaddr *>(&addr), sizeof addr) != 0 || ::listen(server, 8) != 0) {
    std::perror("listen");
    return 1;
  }
  socklen_t len = sizeof addr;
  ::getsockname(server, reinterpret_cast<sockaddr *>(&addr), &len);
  std::printf("ready %d\n", ntohs(addr.sin_port));
  std::fflush(stdout);
  for (int n = 1;; n++) {
    int conn = ::accept4(server, nullptr, nullptr, SOCK_CLOEXEC);
    if (conn < 0) continue;
    if (stall_ms > 0) ::usleep(static_cast<useconds_t>(stall_ms * 1000));
    std::string part = dir + "/" + std::to_string(n) + ".part";
    FILE *out = std::fopen(part.c_str(), "wb");
    long long got = 0;
    bool hung_up = false;
    char buf[65536];
    for (;;) {
      ssize_t r = ::read(conn, buf, sizeof buf);
      if (r <= 0) break;
      std::fwrite(buf, 1, static_cast<size_t>(r), out);
      got += r;
      if (close_after >= 0 && got >= close_after) {
        hung_up = true;
        break;
      }
    }
    std::fclose(out);
    ::close(conn); // unread bytes make this a reset, as a failing printer's would
    if (hung_up) {
      close_after = -1;
      std::remove(part.c_str());
      std::fprintf(stderr, "job %d: hung up after %lld bytes\n", n, got);
      continue;
    }
    std::string done = dir + "/" + std::to_string(n) + ".bin";
    std::rename(part.c_str(), done.c_str());
    std::fprintf(stderr, "job %d: %lld bytes\n", n, got);
  }
}
