#include "lpm/protocol/ticket.h"

#include <algorithm>

#include "detail/field_limits.h"
#include "detail/signed_envelope.h"
#include "lpm/ids.h"

namespace lpm::proto {

namespace {
using detail::kMaxFingerprintLen;

constexpr uint64_t kTicketVersion = 1;
constexpr size_t kNonceBytes = 16;
// Wire caps. A ticket with 64 users and 256 workstations of 128 characters stays under the body
// cap (detail::kSignedBodyMaxBytes), so an honest directory never meets them.
constexpr size_t kMaxUsers = kMaxTicketUsers;
constexpr size_t kMaxWorkstations = kMaxTicketWorkstations;
constexpr size_t kMaxWorkstationIdLen = 128;
constexpr size_t kMaxUserLen = 36;

constexpr detail::SignedKind kTicketKind{"ticket", kTicketMaxLifetimeMs, kTicketMaxSkewMs};

Error ticket_bad(std::string message) {
  return detail::signed_bad(kTicketKind, std::move(message));
}

// What ticket_decode refuses; ticket_sign checks the same, so a directory cannot produce a ticket
// that every verifier would turn down as malformed.
Status check_shape(const Ticket &t) {
  if (t.users.size() > kMaxUsers) return ticket_bad("too many users");
  for (const auto &u : t.users)
    if (!uuid_valid(u)) return ticket_bad("user '" + u + "' is not a UUID");
  if (t.workstations.size() > kMaxWorkstations) return ticket_bad("too many workstations");
  for (const auto &w : t.workstations)
    if (w.empty() || w.size() > kMaxWorkstationIdLen)
      return ticket_bad("workstation id has an invalid length");
  if (!fingerprint_valid(t.printer)) return ticket_bad("printer is not a key fingerprint");
  if (!fingerprint_valid(t.signer)) return ticket_bad("signer is not a key fingerprint");
  if (t.nonce.size() != kNonceBytes) return ticket_bad("nonce must be 16 bytes");
  return {};
}

Bytes encode_body(const Ticket &t) {
  // The key order is part of the format: the signature covers these exact bytes.
  MapWriter w;
  w.u64("v", kTicketVersion)
      .str_array("users", t.users)
      .str("printer", t.printer)
      .str_array("workstations", t.workstations)
      .i64("issued", t.issued_ms)
      .i64("expires", t.expires_ms)
      .bin("nonce", t.nonce)
      .str("signer", t.signer);
  return w.finish();
}

} // namespace

MapWriter SignedTicket::to_map() const {
  return detail::signed_to_map(body, signature);
}

SignedTicket SignedTicket::from_map(MapReader &reader) {
  SignedTicket t;
  detail::signed_from_map(reader, t.body, t.signature);
  return t;
}

namespace {

// The ticket's body, nonce and signer filled in and its shape checked.
Result<Bytes> ticket_body(Ticket &ticket, const KeyPair &signer) {
  if (ticket.nonce.empty()) {
    ticket.nonce.resize(kNonceBytes);
    random_bytes(ticket.nonce.data(), ticket.nonce.size());
  }
  ticket.signer = signer.fingerprint();
  Status shape = check_shape(ticket);
  if (!shape.ok()) return shape.error();
  return encode_body(ticket);
}

} // namespace

Result<SignedTicket> ticket_sign(Ticket ticket, const KeyPair &signer) {
  auto body = ticket_body(ticket, signer);
  if (!body.ok()) return body.error();
  SignedTicket out;
  Status sealed = detail::signed_seal(std::move(*body), signer, out.body, out.signature);
  if (!sealed.ok()) return sealed.error();
  return out;
}

Result<SignedTicket> ticket_sign(Ticket ticket, const KeyPair &signer, Presignature presignature) {
  auto body = ticket_body(ticket, signer);
  if (!body.ok()) return body.error();
  auto sig = signer.sign(*body, std::move(presignature));
  if (!sig.ok()) return sig.error();
  SignedTicket out;
  out.body = std::move(*body);
  out.signature = std::move(*sig);
  return out;
}

Result<Ticket> ticket_decode(std::span<const uint8_t> body) {
  UnpackLimits limits;
  limits.max_depth = 2;
  limits.max_array = kMaxWorkstations;
  limits.max_map = 16;
  limits.max_str = kMaxWorkstationIdLen;
  limits.max_bin = kNonceBytes;
  auto handle = detail::signed_unpack_body(kTicketKind, body, limits);
  if (!handle.ok()) return handle.error();

  MapReader r(handle->get(), "ticket");
  uint64_t version = r.u64("v");
  Ticket t;
  t.users = r.str_array("users", kMaxUsers, kMaxUserLen);
  t.printer = r.str("printer", kMaxFingerprintLen);
  t.workstations = r.str_array("workstations", kMaxWorkstations, kMaxWorkstationIdLen);
  t.issued_ms = r.i64("issued");
  t.expires_ms = r.i64("expires");
  t.nonce = r.bin("nonce", kNonceBytes);
  t.signer = r.str("signer", kMaxFingerprintLen);
  if (!r.ok()) return r.error();
  if (version != kTicketVersion) return ticket_bad("unsupported version " + std::to_string(version));
  Status shape = check_shape(t);
  if (!shape.ok()) return shape.error();
  return t;
}

Result<Ticket> ticket_verify(const SignedTicket &ticket, const std::vector<PublicKey> &trusted_signers,
                             const TicketCheck &check, NonceStore &nonces) {
  // The signature comes first so nothing below ever parses bytes an unknown party wrote.
  auto verified_by = detail::signed_find_signer(kTicketKind, ticket.body, ticket.signature, trusted_signers);
  if (!verified_by.ok()) return verified_by.error();

  auto decoded = ticket_decode(ticket.body);
  if (!decoded.ok()) return decoded.error();
  Ticket &t = *decoded;
  Status claims = detail::signed_check_claims(kTicketKind, t.signer, **verified_by, t.issued_ms, t.expires_ms,
                                              check.now_ms);
  if (!claims.ok()) return claims.error();

  if (t.printer != check.presenting_printer)
    return make_error(Errc::forbidden, "ticket was issued to another printer");
  if (std::find(t.workstations.begin(), t.workstations.end(), check.workstation_id) == t.workstations.end())
    return make_error(Errc::forbidden, "ticket does not open this workstation");

  // Last, so a ticket refused for any other reason can still be used where it is valid.
  auto fresh = nonces.consume(t.nonce, t.expires_ms);
  if (!fresh.ok()) return fresh.error();
  if (!*fresh) return make_error(Errc::replayed, "ticket already used");
  return std::move(t);
}

} // namespace lpm::proto
