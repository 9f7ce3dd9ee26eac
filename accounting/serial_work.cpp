#include "serial_work.h"

#include <sys/resource.h>

#include <condition_variable>
#include <mutex>
#include <thread>

namespace lpm::accounting {

struct SerialWork::Job {
  uv_work_t req;
  Work work;
  Done done;
  std::weak_ptr<State> state; // expired once the queue is gone
};

struct SerialWork::State {
  uv_loop_t *loop;
  std::deque<std::unique_ptr<Job>> waiting;
  bool running = false;
  bool stopped = false;
};

SerialWork::SerialWork(uv_loop_t *loop) : state_(std::make_shared<State>()) {
  state_->loop = loop;
}

SerialWork::~SerialWork() {
  stop();
}

void SerialWork::push(Work work, Done done) {
  if (state_->stopped) return done(false);
  auto job = std::make_unique<Job>();
  job->work = std::move(work);
  job->done = std::move(done);
  job->state = state_;
  state_->waiting.push_back(std::move(job));
  start_next(state_);
}

void SerialWork::stop() {
  state_->stopped = true;
  auto waiting = std::move(state_->waiting);
  state_->waiting.clear();
  for (auto &job : waiting)
    job->done(false);
}

void SerialWork::start_next(const std::shared_ptr<State> &state) {
  if (state->running || state->waiting.empty() || state->stopped) return;
  Job *job = state->waiting.front().release();
  state->waiting.pop_front();
  state->running = true;
  job->req.data = job;
  auto work = [](uv_work_t *req) { static_cast<Job *>(req->data)->work(); };
  auto after = [](uv_work_t *req, int status) {
    std::unique_ptr<Job> done_job(static_cast<Job *>(req->data));
    auto owner = done_job->state.lock();
    if (!owner) return; // the queue is gone, and whoever pushed the job with it
    owner->running = false;
    done_job->done(status == 0);
    start_next(owner);
  };
  int rc = uv_queue_work(state->loop, &job->req, work, after);
  if (rc != 0) {
    std::unique_ptr<Job> failed(job);
    state->running = false;
    failed->done(false);
    start_next(state);
  }
}

} // namespace lpm::accounting

namespace lpm::accounting {

struct IdleWork::State {
  struct Job {
    Work work;
    Done done;
  };
  uv_loop_t *loop = nullptr;
  uv_async_t *wake_loop = nullptr; // null once stop() closed it
  std::mutex mutex;
  std::condition_variable wake_thread;
  std::deque<Job> waiting;   // guarded by mutex
  std::deque<Done> finished; // guarded by mutex: dones to run on the loop
  bool stopping = false;     // guarded by mutex
  std::thread thread;

  void run() {
    // On Linux a nice value belongs to a thread: this one's, not the process's. Best effort.
    (void)setpriority(PRIO_PROCESS, 0, kNice);
    std::unique_lock lock(mutex);
    for (;;) {
      wake_thread.wait(lock, [this] { return stopping || !waiting.empty(); });
      if (stopping) return;
      Job job = std::move(waiting.front());
      waiting.pop_front();
      lock.unlock();
      job.work();
      lock.lock();
      if (stopping) return;
      finished.push_back(std::move(job.done));
      uv_async_send(wake_loop);
    }
  }

  // On the loop: the dones of the jobs done since the last call, in order.
  static void on_finished(uv_async_t *handle) {
    auto *self = static_cast<State *>(handle->data);
    std::deque<Done> dones;
    {
      std::lock_guard lock(self->mutex);
      dones.swap(self->finished);
    }
    for (auto &done : dones)
      done(true);
  }
};

IdleWork::IdleWork(uv_loop_t *loop) : state_(std::make_shared<State>()) {
  state_->loop = loop;
  state_->wake_loop = new uv_async_t;
  uv_async_init(loop, state_->wake_loop, &State::on_finished);
  state_->wake_loop->data = state_.get();
  state_->thread = std::thread([state = state_] { state->run(); });
}

IdleWork::~IdleWork() {
  stop();
  if (state_->thread.joinable()) state_->thread.join();
}

void IdleWork::push(Work work, Done done) {
  {
    std::lock_guard lock(state_->mutex);
    if (!state_->stopping) {
      state_->waiting.push_back({std::move(work), std::move(done)});
      state_->wake_thread.notify_one();
      return;
    }
  }
  done(false);
}

void IdleWork::stop() {
  std::deque<State::Job> waiting;
  {
    std::lock_guard lock(state_->mutex);
    if (state_->stopping) return;
    state_->stopping = true;
    waiting.swap(state_->waiting);
    state_->finished.clear();
  }
  state_->wake_thread.notify_one();
  // The thread sends to the handle only while not stopping, under the mutex: it is free to close.
  uv_close(reinterpret_cast<uv_handle_t *>(state_->wake_loop),
           [](uv_handle_t *handle) { delete reinterpret_cast<uv_async_t *>(handle); });
  state_->wake_loop = nullptr;
  for (auto &job : waiting)
    job.done(false);
}

} // namespace lpm::accounting
