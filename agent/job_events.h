// Events about stored jobs for the desktop notifier (`lpm notify`, DisplayNotifications): the
// store's on_job_stored hook publishes each job once it is held; the control socket's
// watch-events op (a long poll) hands each watcher the events of the directory user its OS
// account is bound to, and nobody else's.
//
// Publishing never waits for a watcher: each watcher has a queue of at most
// proto::kMaxWatchEvents events; a watcher that does not come back for them (stopped, busy, gone)
// loses the newer ones, counted, logged (the first of a backlog and every 100th), and told how
// many at its next answer.
// All calls run on the loop thread.
#pragma once

#include <uv.h>

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "job_store.h"
#include "lpm/protocol/loop_timer.h"
#include "lpm/protocol/ops.h"
#include "lpm/protocol/rpc.h"

namespace lpm::agent {

class JobEvents {
public:
  static constexpr size_t kMaxWatchers = 256;     // connections watching at once
  static constexpr size_t kMaxWatchersPerUid = 8; // so one local user cannot take every slot

  explicit JobEvents(uv_loop_t *loop) : loop_(loop) {}
  ~JobEvents();
  JobEvents(const JobEvents &) = delete;
  JobEvents &operator=(const JobEvents &) = delete;

  // A job was stored (held for release): queues its event for every watcher of its owner and
  // answers their waiting calls. Never blocks.
  void publish(const Job &job);
  // Serves one watch-events call from a connection whose caller is directory user `user`. The
  // first call makes the connection a watcher (until it closes) and is answered at once with no
  // events; events published from then on are kept for it. Later calls are answered as soon as
  // events are queued, else after wait_ms with none.
  // Fails with rate_limited past kMaxWatchers / kMaxWatchersPerUid, conflict when the
  // connection already has a call waiting.
  void watch(const proto::CallPtr &call, const std::string &user, uint64_t wait_ms);
  // Answers the waiting calls with unavailable and stops every timer (agent shutdown).
  void close();

  // Events dropped because a watcher's queue was full, since start.
  uint64_t dropped() const { return dropped_; }
  // Watchers whose connection is still open.
  size_t watchers();

private:
  struct Watcher {
    std::weak_ptr<proto::Peer> peer;
    int64_t uid = -1;
    std::string user;
    std::deque<proto::JobEventInfo> queue;
    uint64_t dropped = 0; // since the last answer
    proto::CallPtr waiting;
    std::unique_ptr<proto::LoopTimer> timer;
  };

  void forget_closed();
  static void answer(Watcher &w);

  uv_loop_t *loop_;
  std::vector<std::unique_ptr<Watcher>> watchers_;
  uint64_t dropped_ = 0;
  bool closed_ = false;
};

} // namespace lpm::agent
