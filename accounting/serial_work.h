// Work for the libuv thread pool, one job at a time, in the order pushed; each job's `done` runs on
// the loop thread once its work has run. The accounting service keeps one per counts check lane
// and one for reports: none may hold the loop, and one at a time keeps what each job shares (the
// lane's station key cache, the report store) used by one thread.
#pragma once

#include <deque>
#include <functional>
#include <memory>

#include <uv.h>

namespace lpm::accounting {

class SerialWork {
public:
  using Work = std::function<void()>;         // on a pool thread: touches only what the job owns
  using Done = std::function<void(bool ran)>; // on the loop; ran is false for a job never started

  explicit SerialWork(uv_loop_t *loop);
  // Stops. A job whose work is running then finishes it, but its done is not called.
  ~SerialWork();
  SerialWork(const SerialWork &) = delete;
  SerialWork &operator=(const SerialWork &) = delete;

  void push(Work work, Done done);
  // Jobs waiting get done(false) now; nothing starts afterwards (the running one's done still runs).
  void stop();

private:
  struct Job;
  struct State;
  static void start_next(const std::shared_ptr<State> &state);
  std::shared_ptr<State> state_;
};

} // namespace lpm::accounting

namespace lpm::accounting {

// SerialWork's contract on a thread of its own at the lowest nice value (19): where the cores are
// all wanted its jobs get about 1.5 % of one (the kernel's weight 15 against 1,024 for nice 0), so
// work that may lag (the counts checks behind ingest) hardly slows the loop, its clients or the
// other processes of the machine, yet is never starved outright (SCHED_IDLE would give 0.3 %);
// under a sustained load it falls behind, and catches up when the load falls. One difference from
// SerialWork: once stopped, no done runs, not even the running job's.
class IdleWork {
public:
  static constexpr int kNice = 19;

  using Work = SerialWork::Work;
  using Done = SerialWork::Done;

  explicit IdleWork(uv_loop_t *loop);
  // Stops, then waits for a running job's work to end.
  ~IdleWork();
  IdleWork(const IdleWork &) = delete;
  IdleWork &operator=(const IdleWork &) = delete;

  void push(Work work, Done done);
  // Jobs waiting get done(false) now; nothing starts afterwards. On the loop thread, before the
  // loop's last run (it closes the handle that brings results back).
  void stop();

private:
  struct State;
  std::shared_ptr<State> state_;
};

} // namespace lpm::accounting
