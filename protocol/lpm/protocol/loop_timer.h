// Small loop helpers shared by the daemons: a timer whose handle is freed in its close
// callback (so its owner may go away at any time), and the reconnect backoff.
#pragma once

#include <uv.h>

#include <algorithm>
#include <cstdint>
#include <functional>

namespace lpm::proto {

class LoopTimer {
public:
  explicit LoopTimer(uv_loop_t *loop);
  // Closes the handle; it is freed once the loop runs its close callback.
  ~LoopTimer();
  LoopTimer(const LoopTimer &) = delete;
  LoopTimer &operator=(const LoopTimer &) = delete;

  // Calls fn after timeout_ms, then every repeat_ms (0: once). Replaces any earlier start.
  void start(uint64_t timeout_ms, uint64_t repeat_ms, std::function<void()> fn);
  void stop();
  bool active() const;
  // After close() the timer never fires again; start() does nothing.
  void close();

private:
  struct Handle {
    uv_timer_t timer;
    std::function<void()> fn;
  };
  Handle *handle_; // null once closed
};

// Reconnect delays: 1 s, doubling, at most 60 s; reset after a success.
class Backoff {
public:
  static constexpr uint64_t kFirstMs = 1000;
  static constexpr uint64_t kMaxMs = 60000;
  uint64_t next_delay_ms() {
    uint64_t delay = next_ms_;
    next_ms_ = std::min(next_ms_ * 2, kMaxMs);
    return delay;
  }
  void reset() { next_ms_ = kFirstMs; }

private:
  uint64_t next_ms_ = kFirstMs;
};

} // namespace lpm::proto
