// A reserve of ECDSA presignatures (keys.h) kept by background threads, for a loop that signs in
// bursts: the directory's tickets (directory/ticket_signer.h) and the release station's outcomes
// (printer/). Each worker has its own copy of the key (mbedTLS contexts stay per thread) and runs
// in the SCHED_IDLE class, so it only takes CPU nothing else wants: the loop and every other
// process of normal priority get a core back at once when they wake.
//
// The reserve's target starts at Options::initial and grows by Options::grow_per_take on every
// take(), up to Options::max; workers top it up as it is spent. An empty reserve is never waited
// for: take() answers nothing and the caller signs whole, as it would without one.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>

#include "lpm/error.h"
#include "lpm/protocol/keys.h"

namespace lpm::proto {

class PresignReserve {
public:
  struct Options {
    unsigned threads = 1;
    size_t initial = 0;       // presignatures made at once, before any take()
    size_t grow_per_take = 2; // the target grows this much with every take()
    size_t max = 512;         // kept ready at most (each a few hundred bytes, as secret as the key)
  };
  static constexpr unsigned kMaxThreads = 64;

  // Copies `key` into each worker and starts them. bad_request for more than kMaxThreads; with 0
  // threads the reserve stays empty.
  static Result<std::unique_ptr<PresignReserve>> start(const KeyPair &key, const Options &options);
  // Joins the workers; the presignatures left are wiped.
  ~PresignReserve();
  PresignReserve(const PresignReserve &) = delete;
  PresignReserve &operator=(const PresignReserve &) = delete;

  // One presignature of the key, if one is ready (any thread). Either way the target grows and a
  // worker is woken.
  std::optional<Presignature> take();
  // Presignatures ready now.
  size_t ready() const;
  unsigned threads() const;

  struct State; // shared with the workers

private:
  PresignReserve() = default;
  std::shared_ptr<State> state_;
};

// Signs `message` with `key`, from a presignature of `reserve` when one is ready (a few modular
// operations), whole otherwise. A null reserve signs whole.
Result<Bytes> sign_from_reserve(const KeyPair &key, PresignReserve *reserve, std::span<const uint8_t> message);

} // namespace lpm::proto
