// A libuv loop for one command: the sync clients run it; close() lets the last close callbacks
// run and checks that no handle was left behind.
#pragma once

#include <uv.h>

#include <cstdio>
#include <string>

#include "lpm/error.h"

namespace lpm::cli {

class CommandLoop {
public:
  CommandLoop() { uv_loop_init(&loop_); }
  ~CommandLoop() {
    // On an early return the command has already failed; a leak report would only add noise.
    [[maybe_unused]] Status ignored = close();
  }
  CommandLoop(const CommandLoop &) = delete;
  CommandLoop &operator=(const CommandLoop &) = delete;
  uv_loop_t *get() { return &loop_; }
  // Runs what is left and closes the loop; internal when a handle is still open.
  Status close() {
    if (closed_) return {};
    closed_ = true;
    uv_run(&loop_, UV_RUN_DEFAULT);
    int rc = uv_loop_close(&loop_);
    if (rc != 0)
      return make_error(Errc::internal, std::string("handles left open on the loop: ") + uv_strerror(rc));
    return {};
  }

private:
  uv_loop_t loop_;
  bool closed_ = false;
};

// Prints "lpm: <code>: <message>" on stderr; returns exit code 1.
inline int fail(const Error &error) {
  std::fprintf(stderr, "lpm: %s\n", error.to_string().c_str());
  return 1;
}

} // namespace lpm::cli
