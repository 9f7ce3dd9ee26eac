// Signs release tickets without holding up the loop (DESIGN §4, badge in).
//
// A ticket's ECDSA P-256 signature used to be most of a badge-in's CPU, nearly all of it in k·G
// for the signature's secret nonce k, which depends on no message. So workers (threads of their
// own in the SCHED_IDLE class, each with its own copy of the key) keep a reserve of
// presignatures (keys.h, protocol/presign_reserve.h), and the loop finishes a ticket's signature from one in a few modular
// operations (~3 µs). The reserve follows demand: its target grows by two for every ticket up to
// kMaxReserve and it is topped up as it is spent, so an idle directory computes nothing and a
// burst of badge-ins is answered from it. When it is empty (a host too busy to give the workers
// spare time, or with 0 threads) the loop signs the ticket whole: slower, never starved.
//
// Results come back on the loop thread in batches (loop_inbox.h): every signature's callback
// runs, then the batch hook once, which lets the service commit the batch's audit rows together
// before any of their answers leaves. A callback never runs inside sign().
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <memory>

#include "lpm/error.h"
#include "lpm/protocol/keys.h"
#include "lpm/protocol/ticket.h"

namespace lpm::directory {

class TicketSigner {
public:
  using Done = std::function<void(Result<proto::SignedTicket>)>;

  // Copies `key` into each of `threads` presigning workers (at most kMaxThreads) and the loop,
  // and starts the workers.
  static Result<std::unique_ptr<TicketSigner>> start(uv_loop_t *loop, const proto::KeyPair &key,
                                                     unsigned threads, std::function<void()> after_batch);
  // The default worker count: the machine's cores, at most 4 (the loop and the TLS work need
  // a share too).
  static unsigned default_threads();
  static constexpr unsigned kMaxThreads = 64;
  // Presignatures kept ready at most (each a few hundred bytes, as secret as the key).
  static constexpr size_t kMaxReserve = 512;

  // Stops: joins the workers, delivers the tickets signed but not delivered yet (without the batch
  // hook) and closes the wake-up handle (freed by its close callback, so the loop may still run).
  ~TicketSigner();
  TicketSigner(const TicketSigner &) = delete;
  TicketSigner &operator=(const TicketSigner &) = delete;

  // Signs a ticket (loop thread); `done` runs later on the loop thread with it or the error.
  void sign(proto::Ticket ticket, Done done);
  unsigned threads() const;
  // Tickets signed, not yet delivered.
  size_t pending() const;
  // Presignatures ready now, and tickets finished from one so far (loop thread).
  size_t reserve() const;
  uint64_t presigned_count() const;

  struct State; // shared with the workers and the async handle

private:
  TicketSigner() = default;
  std::shared_ptr<State> state_;
};

} // namespace lpm::directory
