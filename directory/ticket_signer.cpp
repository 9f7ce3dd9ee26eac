#include "ticket_signer.h"

#include <strings.h>

#include <algorithm>
#include <optional>
#include <thread>

#include "lpm/protocol/loop_inbox.h"
#include "lpm/protocol/presign_reserve.h"

namespace lpm::directory {

struct TicketSigner::State {
  std::unique_ptr<proto::LoopInbox> inbox;
  std::unique_ptr<proto::PresignReserve> reserve; // the workers' presignatures
  std::unique_ptr<proto::KeyPair> loop_key;       // mbedTLS contexts stay per thread
  size_t in_flight = 0;                           // loop thread only: signed, not yet delivered
  uint64_t presigned = 0;                         // loop thread only: tickets finished from a presignature
};

Result<std::unique_ptr<TicketSigner>> TicketSigner::start(uv_loop_t *loop, const proto::KeyPair &key,
                                                          unsigned threads,
                                                          std::function<void()> after_batch) {
  if (threads > kMaxThreads)
    return make_error(Errc::bad_request, "at most " + std::to_string(kMaxThreads) + " signing threads");
  auto state = std::make_shared<State>();
  std::string pem = key.private_pem();
  auto loop_key = proto::KeyPair::from_pem(pem);
  ::explicit_bzero(pem.data(), pem.size());
  if (!loop_key.ok()) return loop_key.error();
  state->loop_key = std::move(*loop_key);
  auto inbox = proto::LoopInbox::open(loop, std::move(after_batch));
  if (!inbox.ok()) return inbox.error();
  state->inbox = std::move(*inbox);
  // Started last: every failure above leaves no thread behind. An idle directory computes
  // nothing: the reserve's target starts at 0 and grows with the tickets signed.
  proto::PresignReserve::Options options;
  options.threads = threads;
  options.initial = 0;
  options.grow_per_take = 2;
  options.max = kMaxReserve;
  auto reserve = proto::PresignReserve::start(key, options);
  if (!reserve.ok()) return reserve.error();
  state->reserve = std::move(*reserve);
  std::unique_ptr<TicketSigner> signer(new TicketSigner());
  signer->state_ = state;
  return signer;
}

unsigned TicketSigner::default_threads() {
  unsigned cores = std::thread::hardware_concurrency();
  return std::clamp(cores, 1u, 4u);
}

TicketSigner::~TicketSigner() {
  State &s = *state_;
  s.reserve.reset(); // joins the workers, wipes what is left
  s.inbox.reset();   // delivers what was signed and not delivered yet (no batch hook)
  s.in_flight = 0;
}

void TicketSigner::sign(proto::Ticket ticket, Done done) {
  State &s = *state_;
  // From the reserve: a few modular operations. Without one: the whole signature, here.
  std::optional<proto::Presignature> pre = s.reserve->take();
  if (pre) s.presigned++;
  auto signed_ticket = std::make_shared<Result<proto::SignedTicket>>(
      pre ? proto::ticket_sign(std::move(ticket), *s.loop_key, std::move(*pre))
          : proto::ticket_sign(std::move(ticket), *s.loop_key));
  s.in_flight++;
  // Delivered with the batch, never inside the caller.
  s.inbox->post([&s, done = std::move(done), signed_ticket] {
    s.in_flight--;
    done(std::move(*signed_ticket));
  });
}

unsigned TicketSigner::threads() const {
  return state_->reserve->threads();
}

size_t TicketSigner::pending() const {
  return state_->in_flight;
}

size_t TicketSigner::reserve() const {
  return state_->reserve->ready();
}

uint64_t TicketSigner::presigned_count() const {
  return state_->presigned;
}

} // namespace lpm::directory
