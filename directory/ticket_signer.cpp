#include "ticket_signer.h"

#include <pthread.h>
#include <sched.h>
#include <strings.h>

#include <algorithm>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "lpm/protocol/loop_inbox.h"
#include "lpm/log.h"

namespace lpm::directory {

struct TicketSigner::State {
  std::unique_ptr<proto::LoopInbox> inbox;
  // Each worker's copy of the key, and the loop's: mbedTLS contexts stay per thread.
  std::vector<std::unique_ptr<proto::KeyPair>> keys;
  std::unique_ptr<proto::KeyPair> loop_key;
  std::vector<std::thread> workers;
  size_t in_flight = 0;   // loop thread only: signed, not yet delivered
  uint64_t presigned = 0; // loop thread only: tickets finished from a presignature

  std::mutex mu; // guards what follows
  std::condition_variable wake;
  std::deque<proto::Presignature> ready;
  size_t reserve_target = 0; // grows with demand, up to kMaxReserve
  size_t presigning = 0;     // presignatures being made
  bool stopping = false;

  bool reserve_short() const { return ready.size() + presigning < reserve_target; }

  void work(size_t index) {
    // Spare-capacity work, in the SCHED_IDLE class: the loop thread (and everything else of
    // normal priority) takes a core from these at once when it wakes instead of waiting out their
    // time slice. (An unprivileged thread cannot leave that class again; it never needs to.)
    sched_param param{};
    param.sched_priority = 0;
    if (int rc = pthread_setschedparam(pthread_self(), SCHED_IDLE, &param); rc != 0)
      LPM_WARN("presigning thread %zu stays in the normal scheduling class: %s", index, std::strerror(rc));
    const proto::KeyPair &key = *keys[index];
    std::unique_lock lock(mu);
    for (;;) {
      wake.wait(lock, [this] { return stopping || reserve_short(); });
      if (stopping) return;
      presigning++;
      lock.unlock();
      auto pre = key.presign();
      lock.lock();
      presigning--;
      // A failure (the RNG) leaves the reserve short; tickets are then signed whole.
      if (pre.ok()) ready.push_back(std::move(*pre));
    }
  }
};

Result<std::unique_ptr<TicketSigner>> TicketSigner::start(uv_loop_t *loop, const proto::KeyPair &key,
                                                          unsigned threads,
                                                          std::function<void()> after_batch) {
  if (threads > kMaxThreads)
    return make_error(Errc::bad_request, "at most " + std::to_string(kMaxThreads) + " signing threads");
  auto state = std::make_shared<State>();
  std::string pem = key.private_pem();
  Status copied;
  for (unsigned i = 0; i <= threads && copied.ok(); i++) {
    auto copy = proto::KeyPair::from_pem(pem);
    if (!copy.ok())
      copied = copy.error();
    else if (i == threads)
      state->loop_key = std::move(*copy);
    else
      state->keys.push_back(std::move(*copy));
  }
  ::explicit_bzero(pem.data(), pem.size());
  if (!copied.ok()) return copied.error();
  auto inbox = proto::LoopInbox::open(loop, std::move(after_batch));
  if (!inbox.ok()) return inbox.error();
  state->inbox = std::move(*inbox);
  std::unique_ptr<TicketSigner> signer(new TicketSigner());
  signer->state_ = state;
  // Started last: every failure above leaves no thread behind.
  for (unsigned i = 0; i < threads; i++)
    state->workers.emplace_back([raw = state.get(), i] { raw->work(i); });
  return signer;
}

unsigned TicketSigner::default_threads() {
  unsigned cores = std::thread::hardware_concurrency();
  return std::clamp(cores, 1u, 4u);
}

TicketSigner::~TicketSigner() {
  State &s = *state_;
  {
    std::lock_guard lock(s.mu);
    s.stopping = true;
  }
  s.wake.notify_all();
  for (auto &worker : s.workers)
    worker.join();
  s.inbox.reset(); // delivers what was signed and not delivered yet (no batch hook)
  s.ready.clear(); // wiped
  s.in_flight = 0;
}

void TicketSigner::sign(proto::Ticket ticket, Done done) {
  State &s = *state_;
  std::optional<proto::Presignature> pre;
  if (!s.workers.empty()) {
    std::lock_guard lock(s.mu);
    s.reserve_target = std::min(kMaxReserve, s.reserve_target + 2);
    if (!s.ready.empty()) {
      pre.emplace(std::move(s.ready.front()));
      s.ready.pop_front();
    }
  }
  if (!s.workers.empty()) s.wake.notify_one();
  // From the reserve: a few modular operations. Without one: the whole signature, here.
  auto signed_ticket = std::make_shared<Result<proto::SignedTicket>>(
      pre ? proto::ticket_sign(std::move(ticket), *s.loop_key, std::move(*pre))
          : proto::ticket_sign(std::move(ticket), *s.loop_key));
  if (pre) s.presigned++;
  s.in_flight++;
  // Delivered with the batch, never inside the caller.
  s.inbox->post([&s, done = std::move(done), signed_ticket] {
    s.in_flight--;
    done(std::move(*signed_ticket));
  });
}

unsigned TicketSigner::threads() const {
  return static_cast<unsigned>(state_->workers.size());
}

size_t TicketSigner::pending() const {
  return state_->in_flight;
}

size_t TicketSigner::reserve() const {
  std::lock_guard lock(state_->mu);
  return state_->ready.size();
}

uint64_t TicketSigner::presigned_count() const {
  return state_->presigned;
}

} // namespace lpm::directory
