#include "password_prompt.h"

#include <signal.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <iterator>
#include <optional>

#include "lpm/files.h"

namespace lpm::cli {
namespace {

// What the signal handlers read: set before any handler can run, and only plain data.
volatile sig_atomic_t g_quiet_fd = -1;
termios g_saved_settings{};
termios g_quiet_settings{};

// Signals whose default action ends the process: the terminal must get its echo back first.
constexpr int kEndingSignals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};

// The handlers call only async-signal-safe functions (tcsetattr, write, sigaction, raise,
// sigprocmask).
void restore_quiet_terminal() {
  int fd = g_quiet_fd;
  if (fd >= 0) ::tcsetattr(fd, TCSANOW, &g_saved_settings);
}

void on_ending_signal(int signal_number) {
  restore_quiet_terminal();
  int fd = g_quiet_fd;
  // The user's line was not echoed: end it so the shell's prompt starts on a fresh line.
  if (fd >= 0) {
    [[maybe_unused]] ssize_t ignored = ::write(fd, "\n", 1);
  }
  struct sigaction default_action {};
  default_action.sa_handler = SIG_DFL;
  sigemptyset(&default_action.sa_mask);
  ::sigaction(signal_number, &default_action, nullptr);
  // Blocked while this handler runs, so it is delivered (with the default action: the process
  // ends as the sender meant) as soon as the handler returns.
  ::raise(signal_number);
}

// Ctrl-Z: the shell must not get a terminal without echo; echo goes off again on SIGCONT.
void on_stop_signal(int) {
  int saved_errno = errno;
  restore_quiet_terminal();
  struct sigaction default_action {};
  struct sigaction ours {};
  default_action.sa_handler = SIG_DFL;
  sigemptyset(&default_action.sa_mask);
  ::sigaction(SIGTSTP, &default_action, &ours);
  ::raise(SIGTSTP);
  sigset_t stop_set;
  sigemptyset(&stop_set);
  sigaddset(&stop_set, SIGTSTP);
  // The pending SIGTSTP stops the process here; it goes on from here after SIGCONT.
  ::sigprocmask(SIG_UNBLOCK, &stop_set, nullptr);
  ::sigaction(SIGTSTP, &ours, nullptr);
  int fd = g_quiet_fd;
  if (fd >= 0) ::tcsetattr(fd, TCSAFLUSH, &g_quiet_settings);
  errno = saved_errno;
}

// Echo off on a terminal for its lifetime, with the handlers above installed meanwhile.
class QuietTerminal {
public:
  QuietTerminal(int fd, const termios &saved) : fd_(fd) {
    g_saved_settings = saved;
    g_quiet_settings = saved;
    g_quiet_settings.c_lflag &= ~static_cast<tcflag_t>(ECHO | ECHONL);
    struct sigaction action {};
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESTART;
    action.sa_handler = on_ending_signal;
    for (size_t i = 0; i < std::size(kEndingSignals); i++)
      ::sigaction(kEndingSignals[i], &action, &previous_ending_[i]);
    action.sa_handler = on_stop_signal;
    ::sigaction(SIGTSTP, &action, &previous_stop_);
    // Handlers first, then the fd they act on, then echo off: a signal at any point finds the
    // terminal either untouched or restorable.
    g_quiet_fd = fd;
    // TCSAFLUSH drops what was typed before the prompt (it was shown on screen anyway).
    if (::tcsetattr(fd, TCSAFLUSH, &g_quiet_settings) != 0)
      failure_ = make_error(Errc::io_error, "cannot turn the terminal's echo off: " + errno_text());
  }
  ~QuietTerminal() {
    ::tcsetattr(fd_, TCSANOW, &g_saved_settings);
    g_quiet_fd = -1;
    for (size_t i = 0; i < std::size(kEndingSignals); i++)
      ::sigaction(kEndingSignals[i], &previous_ending_[i], nullptr);
    ::sigaction(SIGTSTP, &previous_stop_, nullptr);
    // The Enter that ended the line was not echoed either.
    [[maybe_unused]] ssize_t ignored = ::write(fd_, "\n", 1);
  }
  QuietTerminal(const QuietTerminal &) = delete;
  QuietTerminal &operator=(const QuietTerminal &) = delete;
  const std::optional<Error> &failure() const { return failure_; }

private:
  int fd_;
  struct sigaction previous_ending_[std::size(kEndingSignals)]{};
  struct sigaction previous_stop_ {};
  std::optional<Error> failure_;
};

Status write_all(int fd, std::string_view text) {
  while (!text.empty()) {
    ssize_t n = ::write(fd, text.data(), text.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return make_error(Errc::io_error, "cannot write to the terminal: " + errno_text());
    text.remove_prefix(static_cast<size_t>(n));
  }
  return {};
}

} // namespace

Result<std::string> read_line(int fd, size_t max_bytes) {
  std::string line;
  // Reserved once so a growing secret leaves no stale copies behind in freed memory.
  line.reserve(max_bytes);
  bool too_long = false;
  for (;;) {
    char c = 0;
    ssize_t n = ::read(fd, &c, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      wipe(line);
      return make_error(Errc::io_error, "cannot read a line: " + errno_text());
    }
    if (n == 0 || c == '\n') break;
    if (line.size() == max_bytes) too_long = true;
    if (!too_long) line.push_back(c);
  }
  if (too_long) {
    wipe(line);
    return make_error(Errc::too_large, "the line is longer than " + std::to_string(max_bytes) + " bytes");
  }
  return line;
}

Result<std::string> prompt_line(int tty_fd, std::string_view prompt, size_t max_bytes, bool echo_off) {
  termios saved{};
  if (::tcgetattr(tty_fd, &saved) != 0)
    return make_error(Errc::unavailable, "not a terminal: " + errno_text());
  std::optional<QuietTerminal> quiet;
  if (echo_off) {
    quiet.emplace(tty_fd, saved);
    if (quiet->failure()) return *quiet->failure();
  }
  Status shown = write_all(tty_fd, prompt);
  if (!shown.ok()) return shown.error();
  return read_line(tty_fd, max_bytes);
}

void wipe(std::string &secret) {
  ::explicit_bzero(secret.data(), secret.size());
  secret.clear();
}

} // namespace lpm::cli
