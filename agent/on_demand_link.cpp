#include "on_demand_link.h"

namespace lpm::agent {

std::shared_ptr<OnDemandLink> OnDemandLink::create(uv_loop_t *loop, std::shared_ptr<proto::TlsContext> client_ctx,
                                                   ServiceLinkOptions options, uint64_t wait_ms) {
  auto self = std::make_shared<OnDemandLink>(loop, std::move(client_ctx), std::move(options), wait_ms);
  std::weak_ptr<OnDemandLink> weak = self;
  self->link_->on_up = [weak]() {
    auto me = weak.lock();
    if (!me) return;
    me->wait_timer_.stop();
    auto peer = me->link_->peer();
    while (peer && !me->waiting_.empty()) {
      PeerFn fn = std::move(me->waiting_.front());
      me->waiting_.pop_front();
      fn(peer);
    }
  };
  self->link_->on_down = [weak](const Error &why) {
    if (auto me = weak.lock()) me->fail_waiting(why);
  };
  return self;
}

OnDemandLink::OnDemandLink(uv_loop_t *loop, std::shared_ptr<proto::TlsContext> client_ctx, ServiceLinkOptions options,
                           uint64_t wait_ms)
    : name_(options.name), wait_ms_(wait_ms),
      link_(ServiceLink::create(loop, std::move(client_ctx), std::move(options))), wait_timer_(loop) {}

void OnDemandLink::stop() {
  stopped_ = true;
  fail_waiting(make_error(Errc::unavailable, "the agent is stopping"));
  wait_timer_.close();
  link_->close();
}

void OnDemandLink::fail_waiting(const Error &why) {
  wait_timer_.stop();
  std::deque<PeerFn> waiting;
  waiting.swap(waiting_);
  for (auto &fn : waiting)
    fn(make_error(Errc::unavailable, "the " + name_ + " cannot be reached: " + why.message));
  if (waiting_.empty()) link_->release();
}

void OnDemandLink::with_peer(PeerFn fn) {
  if (stopped_) return fn(make_error(Errc::unavailable, "the agent is stopping"));
  if (auto peer = link_->peer()) return fn(peer);
  waiting_.push_back(std::move(fn));
  link_->open();
  if (!wait_timer_.active()) {
    std::weak_ptr<OnDemandLink> weak = weak_from_this();
    wait_timer_.start(wait_ms_, 0, [weak]() {
      if (auto me = weak.lock())
        me->fail_waiting(make_error(Errc::timeout, "no answer in " + std::to_string(me->wait_ms_ / 1000) + " s"));
    });
  }
}

} // namespace lpm::agent
