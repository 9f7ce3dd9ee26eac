// Badge ids arrive on standard input, one per line (a badge reader in keyboard mode, or a
// script), or from an input device (badge_device.h). LineReader reads them without blocking the loop: reads
// run on libuv's thread pool (uv_fs_read works the same on a terminal, a pipe or a file), lines are taken one
// at a time.
#pragma once

#include <uv.h>

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "lpm/error.h"

namespace lpm::printer {

// The badge id of an input line: surrounding whitespace (spaces, tabs, CR) removed. Empty means
// "skip this line".
std::string trim_badge_line(std::string_view line);

// Where the station reads lines from: badge ids, and the answers to its prompts (PIN, e-mail,
// password). LineReader reads a file descriptor (standard input); BadgeDevice (badge_device.h)
// a keyboard-like input device.
class LineSource {
public:
  static constexpr size_t kMaxLineBytes = 1024;

  virtual ~LineSource() = default;
  // The next complete line (without its newline; at the end of input, the unterminated rest);
  // too_large once for a line longer than kMaxLineBytes, which is then skipped whole; nullopt
  // when more input is needed (see fill) or the input has ended (see at_end).
  virtual std::optional<Result<std::string>> take_line() = 0;
  // The input has ended and every line has been taken.
  virtual bool at_end() const = 0;
  // Waits for more input. `done` runs once, on the loop, with ok (data or end of input) or the
  // read error. One fill at a time; the source must outlive it.
  virtual void fill(std::function<void(Status)> done) = 0;
  virtual bool filling() const = 0;
  // The terminal this source reads, whose echo is turned off while a secret is typed; -1 when
  // the source is not a terminal.
  virtual int terminal_fd() const { return -1; }
  // Overwrites the buffered bytes of lines already taken (a secret was among them).
  virtual void scrub() {}
};

class LineReader final : public LineSource {
public:
  LineReader(uv_loop_t *loop, int fd) : loop_(loop), fd_(fd) {}
  LineReader(const LineReader &) = delete;
  LineReader &operator=(const LineReader &) = delete;

  std::optional<Result<std::string>> take_line() override;
  bool at_end() const override { return eof_ && buffer_.empty(); }
  void fill(std::function<void(Status)> done) override;
  bool filling() const override { return filling_; }
  int terminal_fd() const override;
  void scrub() override;

private:
  static void on_read(uv_fs_t *req);

  uv_loop_t *loop_;
  int fd_;
  uv_fs_t req_{};
  char chunk_[4096];
  std::string buffer_;
  bool eof_ = false;
  bool discarding_ = false; // inside an over-long line, dropping bytes up to its newline
  bool filling_ = false;
  std::function<void(Status)> done_;
};

} // namespace lpm::printer
