// A card reader as a named input device (`lpm-release run --badge-device /dev/input/eventN`,
// Linux evdev): the station grabs it, so its keystrokes reach no console or other program, and
// turns its key presses into lines with a US keyboard map (the keys card readers send: digits,
// letters, shift, punctuation, the keypad; Enter ends a line). The device stays read while the
// station releases, so no keystroke waits in the kernel's small event buffer.
#pragma once

#include <linux/input.h>
#include <uv.h>

#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "badge_reader.h"
#include "lpm/error.h"

namespace lpm::printer {

// The character a key press makes on a US keyboard, or 0 for a key that makes none.
char us_key_char(uint16_t code, bool shift);

class BadgeDevice final : public LineSource {
public:
  // Lines waiting to be taken, at most; more are dropped (and reported once) until one is taken.
  static constexpr size_t kMaxQueuedLines = 16;

  // Opens the evdev device at `path` and grabs it (EVIOCGRAB). Errors: not_found (no such
  // file), forbidden (no permission: the station's user needs read access, usually the `input`
  // group), bad_request (not an input event device), conflict (another program grabbed it),
  // io_error otherwise.
  static Result<std::unique_ptr<BadgeDevice>> open(uv_loop_t *loop, const std::string &path);
  // Reads input_event records from `fd`, which it takes over (closed with the device), without
  // grabbing: a pipe in the tests, or a device already set up. `name` names it in messages.
  static Result<std::unique_ptr<BadgeDevice>> from_fd(uv_loop_t *loop, int fd, std::string name);

  BadgeDevice(uv_loop_t *loop, int fd, std::string name);
  // Stops reading and closes the fd; the poll handle is freed by the loop afterwards.
  ~BadgeDevice() override;
  BadgeDevice(const BadgeDevice &) = delete;
  BadgeDevice &operator=(const BadgeDevice &) = delete;

  std::optional<Result<std::string>> take_line() override;
  bool at_end() const override { return ended_ && lines_.empty(); }
  void fill(std::function<void(Status)> done) override;
  bool filling() const override { return static_cast<bool>(done_); }
  void scrub() override;

  // Feeds one event as if read from the device (the parsing, for tests and the reader itself).
  void feed(const input_event &event);

private:
  Status start();
  static void on_readable(uv_poll_t *poll, int status, int events);
  void read_events();
  void end_input(std::optional<Error> why);
  void finish_line();
  void notify();

  uv_loop_t *loop_;
  int fd_;
  std::string name_;
  uv_poll_t *poll_ = nullptr; // freed in its close callback
  // Bytes of a record split across reads (a pipe may; evdev itself returns whole records).
  unsigned char partial_[sizeof(input_event)]{};
  size_t partial_bytes_ = 0;
  std::string line_;          // the line being typed
  bool discarding_ = false;   // the line being typed is skipped whole (too long, events lost)
  std::optional<Error> skip_; // why, reported in its place once Enter ends it
  bool left_shift_ = false;
  bool right_shift_ = false;
  std::deque<Result<std::string>> lines_;
  bool overflow_reported_ = false;
  bool ended_ = false;
  std::optional<Error> read_error_;
  std::function<void(Status)> done_;
};

} // namespace lpm::printer
