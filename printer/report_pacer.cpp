#include "report_pacer.h"

#include <utility>

namespace lpm::printer {

ReportPacer::ReportPacer(uv_loop_t *loop, uint64_t max_delay_ms) : max_delay_ms_(max_delay_ms), timer_(loop) {}

std::shared_ptr<void> ReportPacer::transfer() {
  transfers_++;
  // The mark keeps the pacer alive, so a transfer may outlast the fan-out that started it.
  return std::shared_ptr<void>(nullptr, [self = shared_from_this()](void *) { self->ended(); });
}

void ReportPacer::after_transfers(std::function<void()> fn) {
  if (transfers_ == 0) return fn();
  waiting_.push_back(std::move(fn));
  if (!timer_.active()) {
    // The timer holds the pacer only weakly: a pacer nobody needs any more is simply gone.
    std::weak_ptr<ReportPacer> weak = weak_from_this();
    timer_.start(max_delay_ms_, 0, [weak] {
      if (auto self = weak.lock()) self->flush();
    });
  }
}

void ReportPacer::ended() {
  if (transfers_ > 0 && --transfers_ == 0) flush();
}

void ReportPacer::flush() {
  timer_.stop();
  std::vector<std::function<void()>> due;
  due.swap(waiting_);
  for (auto &fn : due)
    fn();
}

} // namespace lpm::printer
