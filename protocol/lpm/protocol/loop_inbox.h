// Work handed back to a libuv loop from other threads (the directory's ticket signer and audit
// writer, the release station's IPP device).
//
// Any thread posts a closure; the loop runs every posted closure in one batch (in posting order),
// then the batch hook once. One uv_async_t carries them all, so a burst of results costs one
// wake-up of the loop.
#pragma once

#include <uv.h>

#include <functional>
#include <memory>

#include "lpm/error.h"

namespace lpm::proto {

class LoopInbox {
public:
  static Result<std::unique_ptr<LoopInbox>> open(uv_loop_t *loop, std::function<void()> after_batch = {});
  // Closes the handle (freed by its close callback, so the loop may still be running). Closures
  // posted but not run yet run now, without the batch hook. Stop the threads that post first.
  ~LoopInbox();
  LoopInbox(const LoopInbox &) = delete;
  LoopInbox &operator=(const LoopInbox &) = delete;

  // From any thread.
  void post(std::function<void()> fn);

  struct State;

private:
  LoopInbox() = default;
  std::shared_ptr<State> state_;
};

} // namespace lpm::proto
