// A pseudo-terminal for the tests of what lpm asks and shows on a terminal (password prompts,
// confirmations): the test types on `master`, the code under test uses `slave`.
#pragma once

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

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

// A forked child that is killed if the test leaves before it was waited for (a failed REQUIRE
// must not leave a process behind).
struct ChildGuard {
  pid_t pid = -1;
  ~ChildGuard() {
    if (pid > 0) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
  }
};

// waitpid with a deadline: a test must fail, never hang, when a child does not end.
inline bool wait_child(pid_t child, int &status, int timeout_ms) {
  for (int waited = 0; waited < timeout_ms; waited += 10) {
    pid_t r = ::waitpid(child, &status, WNOHANG);
    if (r == child) return true;
    if (r < 0) return false;
    ::usleep(10 * 1000);
  }
  ::kill(child, SIGKILL);
  ::waitpid(child, &status, 0);
  return false;
}

// Starts the built `lpm` binary with `args` (argv[0] excluded) in a session of its own whose
// controlling terminal is the pty (so /dev/tty is that terminal, as for a person at it), with it
// as stdin, stdout and stderr. Returns the child's pid. The child execs at once: between fork and
// exec it only calls async-signal-safe functions, since the test process has threads (the fake
// agent's) whose locks a forked copy could find held; running lpm_main in the forked child
// deadlocked that way now and then under ASan.
// (Only in the cli tests, which define LPM_CLI_BINARY.)
#ifdef LPM_CLI_BINARY
inline pid_t spawn_on_terminal(const Pty &pty, const std::vector<std::string> &args) {
  std::string slave_name = ::ptsname(pty.master);
  std::string binary = LPM_CLI_BINARY;
  std::vector<char *> argv;
  argv.push_back(binary.data());
  std::vector<std::string> copies(args);
  for (auto &a : copies) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::fflush(stdout);
  std::fflush(stderr);
  pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    ::setsid();
    int tty = ::open(slave_name.c_str(), O_RDWR);
    if (tty < 0) ::_exit(90);
    ::dup2(tty, 0);
    ::dup2(tty, 1);
    ::dup2(tty, 2);
    ::execv(binary.c_str(), argv.data());
    ::_exit(127);
  }
  return child;
}
#endif

} // namespace lpm::cli::test
