// Signs release tickets on threads of its own (DESIGN §4, badge in).
//
// A ticket's ECDSA P-256 signature is most of a badge-in's CPU (about 60 % with mbedTLS). On the
// loop thread it would serialise every badge-in behind one core and put the whole signature into
// every answer's queueing delay; here the loop does the lookups, the workers sign in parallel, and
// the loop gets the results back through one uv_async_t. Each worker has its own copy of the key,
// so no mbedTLS context is shared between threads.
//
// Results come back on the loop thread in batches: every finished signature's callback runs, then
// the batch hook once, which lets the service commit the batch's audit rows in one transaction
// (one disk sync for the batch instead of one per ticket) before any of their answers leaves.
//
// With 0 threads the loop signs itself, in the same batch callback (never inside sign(), so a
// caller holding a transaction is never re-entered).
#pragma once

#include <uv.h>

#include <functional>
#include <memory>

#include "lpm/error.h"
#include "lpm/protocol/keys.h"
#include "lpm/protocol/ticket.h"

namespace lpm::directory {

class TicketSigner {
public:
  using Done = std::function<void(Result<proto::SignedTicket>)>;

  // Copies `key` into each of `threads` workers (at most kMaxThreads) and starts them.
  static Result<std::unique_ptr<TicketSigner>> start(uv_loop_t *loop, const proto::KeyPair &key, unsigned threads,
                                                     std::function<void()> after_batch);
  // The default worker count: the machine's cores, at most 4 (the loop and the TLS work need
  // a share too).
  static unsigned default_threads();
  static constexpr unsigned kMaxThreads = 64;

  // Stops: joins the workers and closes the async handle (freed by its close callback, so the
  // loop may still be running). Tickets not yet delivered get `unavailable`.
  ~TicketSigner();
  TicketSigner(const TicketSigner &) = delete;
  TicketSigner &operator=(const TicketSigner &) = delete;

  // Queues a ticket; `done` runs later on the loop thread with the signed ticket or the error.
  void sign(proto::Ticket ticket, Done done);
  unsigned threads() const;
  // Tickets queued or being signed, not yet delivered.
  size_t pending() const;

  struct State; // shared with the workers and the async handle

private:
  TicketSigner() = default;
  std::shared_ptr<State> state_;
};

} // namespace lpm::directory
