// Job events for desktop notifiers (job_events.h): per-connection queues with a cap, long-poll
// answers, and the timers that answer empty polls before the connection's idle deadline.
#include "job_events.h"

#include <algorithm>

#include "call_io.h"
#include "lpm/ids.h"
#include "lpm/log.h"

namespace lpm::agent {

namespace {

// Titles travel in full up to the protocol's cap; a longer one is cut at a UTF-8 boundary.
constexpr size_t kMaxTitleBytes = 1024;

std::string title_for_event(const std::string &title) {
  if (title.size() <= kMaxTitleBytes) return title;
  size_t end = kMaxTitleBytes;
  while (end > 0 && (static_cast<unsigned char>(title[end]) & 0xC0) == 0x80)
    end--;
  return title.substr(0, end);
}

} // namespace

JobEvents::~JobEvents() {
  close();
}

void JobEvents::forget_closed() {
  std::erase_if(watchers_, [](const std::unique_ptr<Watcher> &w) {
    auto peer = w->peer.lock();
    return !peer || peer->closed();
  });
}

size_t JobEvents::watchers() {
  forget_closed();
  return watchers_.size();
}

void JobEvents::answer(Watcher &w) {
  proto::WatchEventsResult result;
  result.events.assign(std::make_move_iterator(w.queue.begin()), std::make_move_iterator(w.queue.end()));
  result.dropped = w.dropped;
  w.queue.clear();
  w.dropped = 0;
  w.timer->stop();
  proto::CallPtr call = std::move(w.waiting);
  w.waiting.reset();
  reply_with(call, result);
}

void JobEvents::publish(const Job &job) {
  if (closed_) return;
  forget_closed();
  proto::JobEventInfo event;
  event.job = job.id;
  event.title = title_for_event(job.title);
  event.pages = job.pages;
  event.state = job_state_name(job.state);
  event.message = "held for release";
  event.time_ms = wall_ms();
  for (auto &w : watchers_) {
    if (w->user != job.user) continue;
    if (w->queue.size() >= proto::kMaxWatchEvents) {
      w->dropped++;
      dropped_++;
      // The first drop of a backlog, then every 100th: a stopped notifier must not flood the log.
      if (w->dropped == 1 || w->dropped % 100 == 0)
        LPM_WARN("a notifier of uid %lld is not keeping up: %llu event(s) for it dropped, the last of job %s "
                 "(%llu dropped since start)",
                 static_cast<long long>(w->uid), static_cast<unsigned long long>(w->dropped), job.id.c_str(),
                 static_cast<unsigned long long>(dropped_));
      continue;
    }
    w->queue.push_back(event);
    if (w->waiting) answer(*w);
  }
}

void JobEvents::watch(const proto::CallPtr &call, const std::string &user, uint64_t wait_ms) {
  if (closed_) return call->fail(Errc::unavailable, "the agent is stopping");
  proto::PeerPtr peer = call->peer();
  if (!peer) return; // the connection is gone; nobody is left to answer
  forget_closed();
  auto found = std::find_if(watchers_.begin(), watchers_.end(),
                            [&](const std::unique_ptr<Watcher> &w) { return w->peer.lock() == peer; });
  Watcher *w = found == watchers_.end() ? nullptr : found->get();
  if (!w) {
    int64_t uid = call->peer_info().uid;
    size_t of_uid =
        static_cast<size_t>(std::count_if(watchers_.begin(), watchers_.end(),
                                          [&](const std::unique_ptr<Watcher> &x) { return x->uid == uid; }));
    if (watchers_.size() >= kMaxWatchers)
      return call->fail(Errc::rate_limited,
                        "too many notifiers are connected (" + std::to_string(kMaxWatchers) + ")");
    if (of_uid >= kMaxWatchersPerUid)
      return call->fail(Errc::rate_limited, "this account already has " + std::to_string(kMaxWatchersPerUid) +
                                                " notifiers connected");
    auto fresh = std::make_unique<Watcher>();
    fresh->peer = peer;
    fresh->uid = uid;
    fresh->user = user;
    fresh->timer = std::make_unique<proto::LoopTimer>(loop_);
    w = fresh.get();
    watchers_.push_back(std::move(fresh));
    // The first answer comes at once, empty: the notifier then knows it is subscribed.
    w->waiting = call;
    return answer(*w);
  }
  if (w->waiting) return call->fail(Errc::conflict, "this connection already waits for events");
  w->waiting = call;
  if (!w->queue.empty() || w->dropped > 0) return answer(*w);
  // The timer belongs to the watcher: once the watcher goes, the timer never fires again.
  w->timer->start(wait_ms, 0, [w]() {
    if (w->waiting) answer(*w);
  });
}

void JobEvents::close() {
  if (closed_) return;
  closed_ = true;
  for (auto &w : watchers_) {
    w->timer->close();
    if (w->waiting) {
      proto::CallPtr call = std::move(w->waiting);
      w->waiting.reset();
      call->fail(Errc::unavailable, "the agent is stopping");
    }
  }
  watchers_.clear();
}

} // namespace lpm::agent
