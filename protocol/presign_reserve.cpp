#include "lpm/protocol/presign_reserve.h"

#include <pthread.h>
#include <sched.h>
#include <strings.h>

#include <algorithm>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include "lpm/log.h"

namespace lpm::proto {

struct PresignReserve::State {
  std::vector<std::unique_ptr<KeyPair>> keys; // one per worker
  std::vector<std::thread> workers;
  Options options;

  mutable std::mutex mu; // guards what follows
  std::condition_variable wake;
  std::deque<Presignature> ready;
  size_t target = 0;     // grows with demand, up to options.max
  size_t presigning = 0; // presignatures being made
  bool stopping = false;

  bool short_of_target() const { return ready.size() + presigning < target; }

  void work(size_t index) {
    // Spare-capacity work: in the SCHED_IDLE class the loop thread (and everything else of normal
    // priority) takes a core from these at once when it wakes instead of waiting out their time
    // slice. (An unprivileged thread cannot leave that class again; it never needs to.)
    sched_param param{};
    param.sched_priority = 0;
    if (int rc = pthread_setschedparam(pthread_self(), SCHED_IDLE, &param); rc != 0)
      LPM_WARN("presigning thread %zu stays in the normal scheduling class: %s", index, std::strerror(rc));
    const KeyPair &key = *keys[index];
    std::unique_lock lock(mu);
    for (;;) {
      wake.wait(lock, [this] { return stopping || short_of_target(); });
      if (stopping) return;
      presigning++;
      lock.unlock();
      auto pre = key.presign();
      lock.lock();
      presigning--;
      // A failure (the RNG) leaves the reserve short; the caller then signs whole.
      if (pre.ok()) ready.push_back(std::move(*pre));
    }
  }
};

Result<std::unique_ptr<PresignReserve>> PresignReserve::start(const KeyPair &key, const Options &options) {
  if (options.threads > kMaxThreads)
    return make_error(Errc::bad_request, "at most " + std::to_string(kMaxThreads) + " presigning threads");
  auto state = std::make_shared<State>();
  state->options = options;
  state->target = std::min(options.initial, options.max);
  std::string pem = key.private_pem();
  Status copied;
  for (unsigned i = 0; i < options.threads && copied.ok(); i++) {
    auto copy = KeyPair::from_pem(pem);
    if (!copy.ok())
      copied = copy.error();
    else
      state->keys.push_back(std::move(*copy));
  }
  ::explicit_bzero(pem.data(), pem.size());
  if (!copied.ok()) return copied.error();
  std::unique_ptr<PresignReserve> reserve(new PresignReserve());
  reserve->state_ = state;
  // Started last: every failure above leaves no thread behind.
  for (unsigned i = 0; i < options.threads; i++)
    state->workers.emplace_back([raw = state.get(), i] { raw->work(i); });
  return reserve;
}

PresignReserve::~PresignReserve() {
  State &s = *state_;
  {
    std::lock_guard lock(s.mu);
    s.stopping = true;
  }
  s.wake.notify_all();
  for (auto &worker : s.workers)
    worker.join();
  s.ready.clear(); // wiped
}

std::optional<Presignature> PresignReserve::take() {
  State &s = *state_;
  if (s.workers.empty()) return std::nullopt;
  std::optional<Presignature> pre;
  {
    std::lock_guard lock(s.mu);
    s.target = std::min(s.options.max, s.target + s.options.grow_per_take);
    if (!s.ready.empty()) {
      pre.emplace(std::move(s.ready.front()));
      s.ready.pop_front();
    }
  }
  s.wake.notify_one();
  return pre;
}

size_t PresignReserve::ready() const {
  std::lock_guard lock(state_->mu);
  return state_->ready.size();
}

unsigned PresignReserve::threads() const {
  return static_cast<unsigned>(state_->workers.size());
}

Result<Bytes> sign_from_reserve(const KeyPair &key, PresignReserve *reserve, std::span<const uint8_t> message) {
  std::optional<Presignature> pre = reserve ? reserve->take() : std::nullopt;
  return pre ? key.sign(message, std::move(*pre)) : key.sign(message);
}

} // namespace lpm::proto
