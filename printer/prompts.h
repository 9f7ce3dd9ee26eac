// What the release station asks the person at the printer (issue 5): a PIN after the badge when
// the enterprise's policy says so, e-mail and password to register an unknown badge (BD-1,
// TS-2). LineFeed hands the lines of one LineSource to one question at a time, with a deadline
// (somebody who walked away must not leave the station stuck) and, for a secret typed on a
// terminal, the terminal's echo off until the line is in.
#pragma once

#include <uv.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "badge_reader.h"
#include "lpm/error.h"

namespace lpm::printer {

// What a wait for a line ended with.
struct InputLine {
  enum class Kind {
    line,    // `text` is the line (not trimmed)
    error,   // `error`: an over-long line (skipped whole) or a read error
    timeout, // the deadline passed first
    ended,   // the input has ended
  };
  Kind kind = Kind::ended;
  std::string text;
  Error error{Errc::ok, ""};
};

class LineFeed : public std::enable_shared_from_this<LineFeed> {
public:
  // `source` must outlive the feed and any fill it started (see close).
  static std::shared_ptr<LineFeed> create(uv_loop_t *loop, LineSource &source);
  LineFeed(uv_loop_t *loop, LineSource &source);
  ~LineFeed();
  LineFeed(const LineFeed &) = delete;
  LineFeed &operator=(const LineFeed &) = delete;

  // Calls `got` once, on the loop, with the next line of the source, or timeout once
  // `deadline_ms` pass first (0: no deadline), or ended. One wait at a time. With `secret`, the
  // source's terminal (if it is one) does not echo until the wait ends, and what the source
  // buffered is scrubbed after the line is taken. A wait that timed out leaves the read it
  // started going: its line is the next wait's. The line's text is wiped after `got` returns.
  void next_line(uint32_t deadline_ms, bool secret, std::function<void(InputLine &)> got);
  bool waiting() const { return static_cast<bool>(got_); }
  // Ends a wait without calling it (the terminal's echo comes back) and frees the timer;
  // `done` runs once its handle is closed. A fill still running belongs to the source.
  void close(std::function<void()> done);
  LineSource &source() { return source_; }

private:
  void pump();
  void deliver(InputLine &line);

  uv_loop_t *loop_;
  LineSource &source_;
  uv_timer_t *timer_ = nullptr; // freed in its close callback
  std::function<void(InputLine &)> got_;
  bool secret_ = false;
  bool echo_off_ = false;
  std::optional<Error> read_error_; // a failed fill, reported to the next wait
};

// Overwrites a secret (PIN, password) before its memory is released.
void wipe(std::string &secret);

} // namespace lpm::printer
