#include "lpm/protocol/loop_inbox.h"

#include <mutex>
#include <vector>

namespace lpm::proto {

struct LoopInbox::State : std::enable_shared_from_this<LoopInbox::State> {
  uv_async_t *async = nullptr; // freed by its close callback
  std::function<void()> after_batch;
  std::mutex mu;
  std::vector<std::function<void()>> posted; // guarded by mu

  void deliver() {
    auto keep = shared_from_this(); // a closure may destroy the inbox
    std::vector<std::function<void()>> batch;
    {
      std::lock_guard lock(mu);
      batch.swap(posted);
    }
    if (batch.empty()) return;
    for (auto &fn : batch)
      fn();
    if (after_batch) after_batch();
  }
};

Result<std::unique_ptr<LoopInbox>> LoopInbox::open(uv_loop_t *loop, std::function<void()> after_batch) {
  auto state = std::make_shared<State>();
  state->after_batch = std::move(after_batch);
  state->async = new uv_async_t;
  int rc = uv_async_init(loop, state->async, [](uv_async_t *handle) {
    if (handle->data) static_cast<State *>(handle->data)->deliver();
  });
  if (rc != 0) {
    delete state->async;
    return make_error(Errc::internal, std::string("cannot create a loop wake-up handle: ") + uv_strerror(rc));
  }
  state->async->data = state.get();
  std::unique_ptr<LoopInbox> inbox(new LoopInbox());
  inbox->state_ = std::move(state);
  return inbox;
}

LoopInbox::~LoopInbox() {
  state_->async->data = nullptr;
  uv_close(reinterpret_cast<uv_handle_t *>(state_->async),
           [](uv_handle_t *handle) { delete reinterpret_cast<uv_async_t *>(handle); });
  std::vector<std::function<void()>> left;
  {
    std::lock_guard lock(state_->mu);
    left.swap(state_->posted);
  }
  for (auto &fn : left)
    fn();
}

void LoopInbox::post(std::function<void()> fn) {
  bool first;
  {
    std::lock_guard lock(state_->mu);
    first = state_->posted.empty();
    state_->posted.push_back(std::move(fn));
  }
  // Only the first closure of a batch wakes the loop: the loop takes the whole list at once, so
  // later ones ride on that wake-up. (Each uv_async_send is a write to an eventfd, and libuv's
  // loop spins while a sender is inside it.)
  if (first) uv_async_send(state_->async);
}

} // namespace lpm::proto
