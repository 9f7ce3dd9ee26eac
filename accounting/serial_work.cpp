#include "serial_work.h"

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
