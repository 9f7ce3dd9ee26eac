#include "ticket_signer.h"

#include <strings.h>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include "loop_inbox.h"

namespace lpm::directory {

namespace {

struct Job {
  proto::Ticket ticket;
  TicketSigner::Done done;
};

} // namespace

struct TicketSigner::State {
  std::unique_ptr<LoopInbox> inbox;
  // One key per worker (or one for the loop with no workers): mbedTLS contexts stay per thread.
  std::vector<std::unique_ptr<proto::KeyPair>> keys;
  std::vector<std::thread> workers;
  size_t in_flight = 0; // loop thread only: queued by sign(), not yet delivered

  std::mutex mu; // guards what follows
  std::condition_variable wake;
  std::deque<Job> queue;
  bool stopping = false;

  void work(size_t index) {
    const proto::KeyPair &key = *keys[index];
    for (;;) {
      Job job;
      {
        std::unique_lock lock(mu);
        wake.wait(lock, [this] { return stopping || !queue.empty(); });
        if (stopping) return;
        job = std::move(queue.front());
        queue.pop_front();
      }
      auto signed_ticket = std::make_shared<Result<proto::SignedTicket>>(
          proto::ticket_sign(std::move(job.ticket), key));
      inbox->post([this, done = std::move(job.done), signed_ticket] {
        in_flight--;
        done(std::move(*signed_ticket));
      });
    }
  }
};

Result<std::unique_ptr<TicketSigner>> TicketSigner::start(uv_loop_t *loop, const proto::KeyPair &key,
                                                          unsigned threads, std::function<void()> after_batch) {
  if (threads > kMaxThreads)
    return make_error(Errc::bad_request, "at most " + std::to_string(kMaxThreads) + " signing threads");
  auto state = std::make_shared<State>();
  std::string pem = key.private_pem();
  for (unsigned i = 0; i < std::max(threads, 1u); i++) {
    auto copy = proto::KeyPair::from_pem(pem);
    if (!copy.ok()) {
      ::explicit_bzero(pem.data(), pem.size());
      return copy.error();
    }
    state->keys.push_back(std::move(*copy));
  }
  ::explicit_bzero(pem.data(), pem.size());
  auto inbox = LoopInbox::open(loop, std::move(after_batch));
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
  // Signed but not delivered: delivered now, by the inbox's destructor (no batch hook).
  s.inbox.reset();
  std::deque<Job> unsigned_jobs;
  unsigned_jobs.swap(s.queue);
  s.in_flight = 0;
  for (auto &job : unsigned_jobs)
    job.done(make_error(Errc::unavailable, "the directory is shutting down"));
}

void TicketSigner::sign(proto::Ticket ticket, Done done) {
  State &s = *state_;
  s.in_flight++;
  if (s.workers.empty()) {
    // Signed on the loop, but in the inbox's batch: never inside the caller.
    auto job = std::make_shared<Job>(Job{std::move(ticket), std::move(done)});
    s.inbox->post([&s, job] {
      s.in_flight--;
      job->done(proto::ticket_sign(std::move(job->ticket), *s.keys[0]));
    });
    return;
  }
  {
    std::lock_guard lock(s.mu);
    s.queue.push_back(Job{std::move(ticket), std::move(done)});
  }
  s.wake.notify_one();
}

unsigned TicketSigner::threads() const {
  return static_cast<unsigned>(state_->workers.size());
}

size_t TicketSigner::pending() const {
  return state_->in_flight;
}

} // namespace lpm::directory
