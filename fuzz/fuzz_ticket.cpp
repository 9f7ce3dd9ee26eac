// Fuzz target: a release ticket body, as ticket_decode meets it before the fields are trusted
// (the signature is checked first in ticket_verify, but decoding must be safe on any bytes).
// Whatever it accepts must have the shape it promises. The same bytes are also read as a printer
// certificate body (printer_certificate.h, issue 8), whose envelope is the ticket's.
#include <cstdint>
#include <cstdlib>

#include "lpm/ids.h"
#include "lpm/protocol/printer_certificate.h"
#include "lpm/protocol/ticket.h"

using namespace lpm;
using namespace lpm::proto;

namespace {

void certificate(const uint8_t *data, size_t size) {
  auto c = printer_certificate_decode(std::span<const uint8_t>(data, size));
  if (!c.ok()) {
    if (c.error().code != Errc::bad_request) std::abort();
    return;
  }
  if (!uuid_valid(c->printer_id) || !fingerprint_valid(c->printer) || !fingerprint_valid(c->signer))
    std::abort();
  auto key = PublicKey::from_der(c->key);
  if (!key.ok() || key->fingerprint() != c->printer) std::abort();
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  certificate(data, size);
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
