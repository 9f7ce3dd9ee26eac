#include "lpm/protocol/loop_timer.h"

namespace lpm::proto {

LoopTimer::LoopTimer(uv_loop_t *loop) : handle_(new Handle) {
  uv_timer_init(loop, &handle_->timer);
  handle_->timer.data = handle_;
}

LoopTimer::~LoopTimer() {
  close();
}

void LoopTimer::start(uint64_t timeout_ms, uint64_t repeat_ms, std::function<void()> fn) {
  if (!handle_) return;
  handle_->fn = std::move(fn);
  uv_timer_start(
      &handle_->timer,
      [](uv_timer_t *t) {
        // A copy: the callback may restart or close this timer, replacing the stored one.
        auto callback = static_cast<Handle *>(t->data)->fn;
        if (callback) callback();
      },
      timeout_ms, repeat_ms);
}

void LoopTimer::stop() {
  if (handle_) uv_timer_stop(&handle_->timer);
}

bool LoopTimer::active() const {
  return handle_ && uv_is_active(reinterpret_cast<const uv_handle_t *>(&handle_->timer));
}

void LoopTimer::close() {
  if (!handle_) return;
  uv_timer_stop(&handle_->timer);
  handle_->fn = nullptr;
  uv_close(reinterpret_cast<uv_handle_t *>(&handle_->timer),
           [](uv_handle_t *h) { delete static_cast<Handle *>(h->data); });
  handle_ = nullptr;
}

} // namespace lpm::proto
