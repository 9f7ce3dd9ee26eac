#include "prompts.h"

#include <signal.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <iterator>

namespace lpm::printer {
namespace {

// The terminal whose echo is off, and its settings before, for the signal handler: plain data
// set before the handler is installed. One terminal at a time (the station asks one question
// at a time).
volatile sig_atomic_t g_quiet_fd = -1;
termios g_saved_settings{};
constexpr int kEndingSignals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
struct sigaction g_previous_actions[std::size(kEndingSignals)]{};

// A signal that ends the station while a secret is typed must not leave the terminal without
// echo: restore it, then let the signal do what its sender meant. Only async-signal-safe calls.
void on_ending_signal(int signal_number) {
  int fd = g_quiet_fd;
  if (fd >= 0) ::tcsetattr(fd, TCSANOW, &g_saved_settings);
  struct sigaction default_action {};
  default_action.sa_handler = SIG_DFL;
  sigemptyset(&default_action.sa_mask);
  ::sigaction(signal_number, &default_action, nullptr);
  ::raise(signal_number);
}

bool terminal_echo_off(int fd) {
  termios settings{};
  if (g_quiet_fd >= 0 || ::tcgetattr(fd, &settings) != 0) return false;
  g_saved_settings = settings;
  struct sigaction action {};
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  action.sa_handler = on_ending_signal;
  for (size_t i = 0; i < std::size(kEndingSignals); i++)
    ::sigaction(kEndingSignals[i], &action, &g_previous_actions[i]);
  g_quiet_fd = fd;
  settings.c_lflag &= ~static_cast<tcflag_t>(ECHO | ECHONL);
  return ::tcsetattr(fd, TCSANOW, &settings) == 0;
}

// `drop_typed`: a question that timed out also forgets what was typed without Enter, so a
// half-typed secret is not read as the next badge.
void terminal_echo_on(bool drop_typed) {
  int fd = g_quiet_fd;
  if (fd < 0) return;
  ::tcsetattr(fd, drop_typed ? TCSAFLUSH : TCSANOW, &g_saved_settings);
  g_quiet_fd = -1;
  for (size_t i = 0; i < std::size(kEndingSignals); i++)
    ::sigaction(kEndingSignals[i], &g_previous_actions[i], nullptr);
  // The Enter that ended the line was not echoed: the next output starts on a fresh line.
  [[maybe_unused]] ssize_t ignored = ::write(fd, "\n", 1);
}

} // namespace

void wipe(std::string &secret) {
  ::explicit_bzero(secret.data(), secret.size());
  secret.clear();
}

std::shared_ptr<LineFeed> LineFeed::create(uv_loop_t *loop, LineSource &source) {
  return std::make_shared<LineFeed>(loop, source);
}

LineFeed::LineFeed(uv_loop_t *loop, LineSource &source) : loop_(loop), source_(source) {
  timer_ = new uv_timer_t;
  uv_timer_init(loop_, timer_);
  timer_->data = this;
}

LineFeed::~LineFeed() {
  close(nullptr);
}

void LineFeed::close(std::function<void()> done) {
  got_ = nullptr;
  if (echo_off_) {
    terminal_echo_on(false);
    echo_off_ = false;
  }
  if (!timer_) {
    if (done) done();
    return;
  }
  uv_timer_stop(timer_);
  // The callback owns what it frees: the feed may be gone by the time it runs.
  timer_->data = done ? new std::function<void()>(std::move(done)) : nullptr;
  uv_close(reinterpret_cast<uv_handle_t *>(timer_), [](uv_handle_t *handle) {
    auto *after = static_cast<std::function<void()> *>(handle->data);
    delete reinterpret_cast<uv_timer_t *>(handle);
    if (after) {
      (*after)();
      delete after;
    }
  });
  timer_ = nullptr;
}

void LineFeed::next_line(uint32_t deadline_ms, bool secret, std::function<void(InputLine &)> got) {
  if (got_ || !timer_) {
    InputLine refused;
    refused.kind = InputLine::Kind::error;
    refused.error = make_error(Errc::internal,
                               got_ ? "a question is already waiting for its answer" : "the input is closed");
    got(refused);
    return;
  }
  got_ = std::move(got);
  secret_ = secret;
  int terminal = secret ? source_.terminal_fd() : -1;
  if (terminal >= 0) echo_off_ = terminal_echo_off(terminal);
  if (deadline_ms > 0) {
    uv_timer_start(
        timer_,
        [](uv_timer_t *t) {
          auto *self = static_cast<LineFeed *>(t->data);
          InputLine late;
          late.kind = InputLine::Kind::timeout;
          self->deliver(late);
        },
        deadline_ms, 0);
  }
  pump();
}

void LineFeed::pump() {
  if (!got_) return;
  if (read_error_) {
    InputLine failed;
    failed.kind = InputLine::Kind::error;
    failed.error = std::move(*read_error_);
    read_error_.reset();
    deliver(failed);
    return;
  }
  if (auto line = source_.take_line()) {
    InputLine got;
    if (line->ok()) {
      got.kind = InputLine::Kind::line;
      // Copied, not moved: a short string's bytes would stay behind in the moved-from one.
      got.text = line->value();
      wipe(line->value());
    } else {
      got.kind = InputLine::Kind::error;
      got.error = line->error();
    }
    deliver(got);
    return;
  }
  if (source_.at_end()) {
    InputLine ended;
    deliver(ended);
    return;
  }
  // A fill started by an earlier wait (one that timed out) is still running: its callback
  // pumps for this wait.
  if (source_.filling()) return;
  auto self = shared_from_this();
  source_.fill([self](const Status &s) {
    if (!s.ok()) self->read_error_ = s.error();
    self->pump();
  });
}

void LineFeed::deliver(InputLine &line) {
  // `got` may drop the last other hold on this feed (the station's run ends).
  auto keep = shared_from_this();
  if (timer_) uv_timer_stop(timer_);
  if (echo_off_) {
    terminal_echo_on(line.kind == InputLine::Kind::timeout);
    echo_off_ = false;
  }
  if (secret_) source_.scrub();
  secret_ = false;
  auto got = std::move(got_);
  got_ = nullptr;
  got(line);
  wipe(line.text);
}

} // namespace lpm::printer
