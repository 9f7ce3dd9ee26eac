// A pseudo-terminal for the tests of what lpm asks and shows on a terminal (password prompts,
// confirmations): the test types on `master`, the code under test uses `slave`.
#pragma once

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <termios.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>

namespace lpm::cli::test {

struct Pty {
  int master = -1;
  int slave = -1;
  Pty() {
    master = ::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    REQUIRE(master >= 0);
    REQUIRE(::grantpt(master) == 0);
    REQUIRE(::unlockpt(master) == 0);
    slave = ::open(::ptsname(master), O_RDWR | O_NOCTTY | O_CLOEXEC);
    REQUIRE(slave >= 0);
  }
  ~Pty() {
    ::close(slave);
    ::close(master);
  }
  Pty(const Pty &) = delete;
  Pty &operator=(const Pty &) = delete;
  void type(const std::string &text) const {
    REQUIRE(::write(master, text.data(), text.size()) == static_cast<ssize_t>(text.size()));
  }
  // Plain checks, no REQUIRE: typist threads call these too.
  bool echo_on() const {
    termios t{};
    return ::tcgetattr(slave, &t) == 0 && (t.c_lflag & ECHO) != 0;
  }
  // Waits (up to 10 s) until the terminal's echo is `on`.
  bool wait_echo(bool on) const {
    for (int i = 0; i < 1000; i++) {
      if (echo_on() == on) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  }
  // What the terminal showed until `text` appeared (up to 10 s).
  std::string shown_until(const std::string &text) const {
    std::string out;
    pollfd p{master, POLLIN, 0};
    for (int i = 0; i < 100 && out.find(text) == std::string::npos; i++) {
      if (::poll(&p, 1, 100) <= 0 || !(p.revents & POLLIN)) continue;
      char buf[256];
      ssize_t n = ::read(master, buf, sizeof buf);
      if (n <= 0) break;
      out.append(buf, static_cast<size_t>(n));
    }
    return out;
  }
  // Everything the terminal showed until it stayed quiet for 200 ms.
  std::string shown() const {
    std::string out;
    pollfd p{master, POLLIN, 0};
    while (::poll(&p, 1, 200) > 0 && (p.revents & POLLIN)) {
      char buf[256];
      ssize_t n = ::read(master, buf, sizeof buf);
      if (n <= 0) break;
      out.append(buf, static_cast<size_t>(n));
    }
    return out;
  }
};

} // namespace lpm::cli::test
