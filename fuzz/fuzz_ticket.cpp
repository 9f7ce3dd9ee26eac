// Fuzz target: a release ticket body, as ticket_decode meets it before the fields are trusted
// (the signature is checked first in ticket_verify, but decoding must be safe on any bytes).
// Whatever it accepts must have the shape it promises.
#include <cstdint>
#include <cstdlib>

#include "lpm/ids.h"
#include "lpm/protocol/ticket.h"

using namespace lpm;
using namespace lpm::proto;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  auto t = ticket_decode(std::span<const uint8_t>(data, size));
  if (!t.ok()) {
    if (t.error().code != Errc::bad_request) std::abort();
    return 0;
  }
  if (t->nonce.size() != 16 || !fingerprint_valid(t->printer) || !fingerprint_valid(t->signer)) std::abort();
  for (const auto &u : t->users)
    if (!uuid_valid(u)) std::abort();
  for (const auto &w : t->workstations)
    if (w.empty() || w.size() > 128) std::abort();
  return 0;
}
