// Badge ids arrive on standard input, one per line (a badge reader in keyboard mode, or a
// script). LineReader reads them without blocking the loop: reads run on libuv's thread pool
// (uv_fs_read works the same on a terminal, a pipe or a file), lines are taken one at a time.
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

class LineReader {
public:
  static constexpr size_t kMaxLineBytes = 1024;

  LineReader(uv_loop_t *loop, int fd) : loop_(loop), fd_(fd) {}
  LineReader(const LineReader &) = delete;
  LineReader &operator=(const LineReader &) = delete;

  // The next complete line (without its newline; at the end of input, the unterminated rest);
  // too_large once for a line longer than kMaxLineBytes, which is then skipped whole; nullopt
  // when more input is needed (see fill) or the input has ended (see at_end).
  std::optional<Result<std::string>> take_line();
  // The input has ended and every line has been taken.
  bool at_end() const { return eof_ && buffer_.empty(); }
  // Reads more input. `done` runs once, on the loop, with ok (data or end of input) or the read
  // error. One fill at a time; the reader must outlive it.
  void fill(std::function<void(Status)> done);
  bool filling() const { return filling_; }

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
