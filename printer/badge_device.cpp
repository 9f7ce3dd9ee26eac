#include "badge_device.h"

#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "lpm/files.h"
#include "lpm/log.h"

namespace lpm::printer {
namespace {

// The keys of a US keyboard's main block, in key-code order where the codes run in rows.
constexpr const char *kTopRow = "1234567890-="; // KEY_1 .. KEY_EQUAL
constexpr const char *kTopRowShift = "!@#$%^&*()_+";
constexpr const char *kQRow = "qwertyuiop[]"; // KEY_Q .. KEY_RIGHTBRACE
constexpr const char *kQRowShift = "QWERTYUIOP{}";
constexpr const char *kARow = "asdfghjkl;'`"; // KEY_A .. KEY_GRAVE
constexpr const char *kARowShift = "ASDFGHJKL:\"~";
constexpr const char *kZRow = "\\zxcvbnm,./"; // KEY_BACKSLASH .. KEY_SLASH
constexpr const char *kZRowShift = "|ZXCVBNM<>?";

Error skipped_line(const std::string &why) {
  return make_error(Errc::too_large, why);
}

} // namespace

char us_key_char(uint16_t code, bool shift) {
  if (code >= KEY_1 && code <= KEY_EQUAL) return (shift ? kTopRowShift : kTopRow)[code - KEY_1];
  if (code >= KEY_Q && code <= KEY_RIGHTBRACE) return (shift ? kQRowShift : kQRow)[code - KEY_Q];
  if (code >= KEY_A && code <= KEY_GRAVE) return (shift ? kARowShift : kARow)[code - KEY_A];
  if (code >= KEY_BACKSLASH && code <= KEY_SLASH) return (shift ? kZRowShift : kZRow)[code - KEY_BACKSLASH];
  // The keypad types the same with or without shift (num lock on, as card readers assume).
  switch (code) {
  case KEY_SPACE: return ' ';
  case KEY_KP0: return '0';
  case KEY_KP1: return '1';
  case KEY_KP2: return '2';
  case KEY_KP3: return '3';
  case KEY_KP4: return '4';
  case KEY_KP5: return '5';
  case KEY_KP6: return '6';
  case KEY_KP7: return '7';
  case KEY_KP8: return '8';
  case KEY_KP9: return '9';
  case KEY_KPMINUS: return '-';
  case KEY_KPPLUS: return '+';
  case KEY_KPDOT: return '.';
  case KEY_KPSLASH: return '/';
  case KEY_KPASTERISK: return '*';
  case KEY_KPCOMMA: return ',';
  case KEY_KPEQUAL: return '=';
  default: return 0;
  }
}

Result<std::unique_ptr<BadgeDevice>> BadgeDevice::open(uv_loop_t *loop, const std::string &path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    int e = errno;
    std::string what = "badge device " + path + ": ";
    if (e == ENOENT || e == ENXIO || e == ENODEV) return make_error(Errc::not_found, what + "no such device");
    if (e == EACCES || e == EPERM)
      return make_error(Errc::forbidden, what +
                                             "permission denied (the station's user needs read access to it, "
                                             "usually through the group `input`)");
    return make_error(Errc::io_error, what + ::strerror(e));
  }
  int version = 0;
  if (::ioctl(fd, EVIOCGVERSION, &version) != 0) {
    ::close(fd);
    return make_error(Errc::bad_request, "badge device " + path +
                                             ": not an input event device (give /dev/input/eventN or a "
                                             "/dev/input/by-id/...-event-kbd link)");
  }
  // Grabbed, the reader's keystrokes go to this station only: no console or desktop types them.
  if (::ioctl(fd, EVIOCGRAB, 1) != 0) {
    int e = errno;
    ::close(fd);
    if (e == EBUSY)
      return make_error(Errc::conflict, "badge device " + path + ": another program has grabbed it");
    return make_error(Errc::io_error, "badge device " + path + ": cannot grab it: " + ::strerror(e));
  }
  return from_fd(loop, fd, path);
}

Result<std::unique_ptr<BadgeDevice>> BadgeDevice::from_fd(uv_loop_t *loop, int fd, std::string name) {
  int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0 || ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0) {
    Error e = make_error(Errc::io_error, "badge device " + name + ": " + errno_text());
    ::close(fd);
    return e;
  }
  auto device = std::make_unique<BadgeDevice>(loop, fd, std::move(name));
  Status started = device->start();
  if (!started.ok()) return started.error();
  return device;
}

BadgeDevice::BadgeDevice(uv_loop_t *loop, int fd, std::string name)
    : loop_(loop), fd_(fd), name_(std::move(name)) {
  // Reserved once: a growing line would leave copies of what was typed in freed memory.
  line_.reserve(kMaxLineBytes);
}

BadgeDevice::~BadgeDevice() {
  if (poll_) {
    // uv_close stops the watcher at once; the fd may be closed after it.
    uv_close(reinterpret_cast<uv_handle_t *>(poll_),
             [](uv_handle_t *handle) { delete reinterpret_cast<uv_poll_t *>(handle); });
    poll_ = nullptr;
  }
  if (fd_ >= 0) ::close(fd_);
  ::explicit_bzero(line_.data(), line_.size());
}

Status BadgeDevice::start() {
  // The device is read from the start, not only while a line is awaited: the kernel keeps few
  // events per reader and drops the rest (SYN_DROPPED) while the station releases.
  poll_ = new uv_poll_t;
  int rc = uv_poll_init(loop_, poll_, fd_);
  if (rc != 0) {
    delete poll_;
    poll_ = nullptr;
    return make_error(Errc::io_error, "badge device " + name_ + ": " + uv_strerror(rc));
  }
  poll_->data = this;
  rc = uv_poll_start(poll_, UV_READABLE, on_readable);
  if (rc != 0) return make_error(Errc::io_error, "badge device " + name_ + ": " + uv_strerror(rc));
  return {};
}

void BadgeDevice::on_readable(uv_poll_t *poll, int status, int) {
  auto *self = static_cast<BadgeDevice *>(poll->data);
  if (status < 0) {
    self->end_input(make_error(Errc::io_error, "badge device " + self->name_ + ": " + uv_strerror(status)));
  } else {
    self->read_events();
  }
  self->notify();
}

void BadgeDevice::read_events() {
  input_event events[64];
  auto *bytes = reinterpret_cast<unsigned char *>(events);
  // A few reads per wake-up at most, so a device that never stops typing cannot starve the loop.
  for (int round = 0; round < 4 && !ended_; round++) {
    std::memcpy(bytes, partial_, partial_bytes_);
    ssize_t n = ::read(fd_, bytes + partial_bytes_, sizeof events - partial_bytes_);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    if (n < 0) {
      // ENODEV: the reader was unplugged.
      end_input(make_error(errno == ENODEV ? Errc::unavailable : Errc::io_error,
                           "badge device " + name_ + ": " +
                               (errno == ENODEV ? std::string("removed") : errno_text())));
      break;
    }
    if (n == 0) {
      end_input(std::nullopt);
      break;
    }
    size_t have = partial_bytes_ + static_cast<size_t>(n);
    size_t whole = have / sizeof(input_event);
    for (size_t i = 0; i < whole; i++)
      feed(events[i]);
    partial_bytes_ = have - whole * sizeof(input_event);
    std::memcpy(partial_, bytes + whole * sizeof(input_event), partial_bytes_);
  }
  // What was read may be a PIN's key codes.
  ::explicit_bzero(events, sizeof events);
}

void BadgeDevice::feed(const input_event &event) {
  if (event.type == EV_SYN && event.code == SYN_DROPPED) {
    // The kernel lost events: the line being typed may miss characters, so none of it counts.
    ::explicit_bzero(line_.data(), line_.size());
    line_.clear();
    discarding_ = true;
    skip_ = make_error(Errc::io_error, "badge device " + name_ + ": key presses were lost: line skipped");
    return;
  }
  if (event.type != EV_KEY) return; // scan codes (EV_MSC), LEDs, ... say nothing about the text
  if (event.code == KEY_LEFTSHIFT || event.code == KEY_RIGHTSHIFT) {
    bool down = event.value != 0; // 1 press, 2 repeat, 0 release
    (event.code == KEY_LEFTSHIFT ? left_shift_ : right_shift_) = down;
    return;
  }
  if (event.value != 1) return; // releases and auto-repeats type nothing
  if (event.code == KEY_ENTER || event.code == KEY_KPENTER) {
    finish_line();
    return;
  }
  if (discarding_) return;
  if (event.code == KEY_BACKSPACE) {
    if (!line_.empty()) {
      line_.back() = '\0';
      line_.pop_back();
    }
    return;
  }
  char c = us_key_char(event.code, left_shift_ || right_shift_);
  if (c == 0) return; // a key that types nothing here (function keys, Alt, Tab, ...)
  if (line_.size() == kMaxLineBytes) {
    // Never cut a long line into a shorter badge id: that could name somebody else's badge.
    ::explicit_bzero(line_.data(), line_.size());
    line_.clear();
    discarding_ = true;
    skip_ = skipped_line("input line longer than " + std::to_string(kMaxLineBytes) + " bytes skipped");
    return;
  }
  line_.push_back(c);
}

void BadgeDevice::finish_line() {
  Result<std::string> line =
      discarding_ ? Result<std::string>(*skip_) : Result<std::string>(std::move(line_));
  discarding_ = false;
  skip_.reset();
  line_ = std::string();
  line_.reserve(kMaxLineBytes);
  if (lines_.size() >= kMaxQueuedLines) {
    if (line.ok()) ::explicit_bzero(line.value().data(), line.value().size());
    if (!overflow_reported_) {
      // One entry past the cap says what happened; the rest are dropped silently.
      lines_.push_back(make_error(Errc::too_large, "badge device " + name_ + ": more than " +
                                                       std::to_string(kMaxQueuedLines) +
                                                       " lines waiting: lines dropped"));
      overflow_reported_ = true;
    }
    return;
  }
  lines_.push_back(std::move(line));
}

std::optional<Result<std::string>> BadgeDevice::take_line() {
  if (lines_.empty()) return std::nullopt;
  Result<std::string> line = std::move(lines_.front());
  lines_.pop_front();
  if (lines_.empty()) overflow_reported_ = false;
  return line;
}

void BadgeDevice::fill(std::function<void(Status)> done) {
  if (done_) return; // one fill at a time: the first one's callback reports
  done_ = std::move(done);
  notify();
}

void BadgeDevice::notify() {
  if (!done_ || (lines_.empty() && !ended_ && !read_error_)) return;
  auto done = std::move(done_);
  done_ = nullptr;
  Status status;
  if (read_error_) {
    status = *read_error_;
    read_error_.reset();
  }
  done(status);
}

void BadgeDevice::end_input(std::optional<Error> why) {
  if (ended_) return;
  ended_ = true;
  // A line cut off by the end is not a badge id.
  ::explicit_bzero(line_.data(), line_.size());
  line_.clear();
  if (why) {
    LPM_WARN("%s", why->to_string().c_str());
    read_error_ = std::move(why);
  }
  if (poll_) uv_poll_stop(poll_);
}

void BadgeDevice::scrub() {
  ::explicit_bzero(partial_, sizeof partial_);
}

} // namespace lpm::printer
