#include "lpm/protocol/ticket.h"

#include <algorithm>

#include "lpm/ids.h"

namespace lpm::proto {

namespace {

constexpr uint64_t kTicketVersion = 1;
constexpr size_t kNonceBytes = 16;
// Wire caps. A ticket with 64 users and 256 workstations of 128 characters stays under the body
// cap, so an honest directory never meets them.
constexpr size_t kMaxBodyBytes = 8192;
constexpr size_t kMaxSignatureBytes = 256;
constexpr size_t kMaxUsers = 64;
constexpr size_t kMaxWorkstations = 256;
constexpr size_t kMaxWorkstationIdLen = 128;
constexpr size_t kMaxUserLen = 36;
constexpr size_t kMaxFingerprintLen = 64;

Error bad(std::string message) {
  return make_error(Errc::bad_request, "ticket: " + std::move(message));
}

// What ticket_decode refuses; ticket_sign checks the same, so a directory cannot produce a ticket
// that every verifier would turn down as malformed.
Status check_shape(const Ticket &t) {
  if (t.users.size() > kMaxUsers) return bad("too many users");
  for (const auto &u : t.users)
    if (!uuid_valid(u)) return bad("user '" + u + "' is not a UUID");
  if (t.workstations.size() > kMaxWorkstations) return bad("too many workstations");
  for (const auto &w : t.workstations)
    if (w.empty() || w.size() > kMaxWorkstationIdLen) return bad("workstation id has an invalid length");
  if (!fingerprint_valid(t.printer)) return bad("printer is not a key fingerprint");
  if (!fingerprint_valid(t.signer)) return bad("signer is not a key fingerprint");
  if (t.nonce.size() != kNonceBytes) return bad("nonce must be 16 bytes");
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
  MapWriter out;
  out.bin("body", body).bin("sig", signature);
  return out;
}

SignedTicket SignedTicket::from_map(MapReader &reader) {
  SignedTicket t;
  t.body = reader.bin("body", kMaxBodyBytes);
  t.signature = reader.bin("sig", kMaxSignatureBytes);
  return t;
}

Result<SignedTicket> ticket_sign(Ticket ticket, const KeyPair &signer) {
  if (ticket.nonce.empty()) {
    ticket.nonce.resize(kNonceBytes);
    random_bytes(ticket.nonce.data(), ticket.nonce.size());
  }
  ticket.signer = signer.fingerprint();
  Status shape = check_shape(ticket);
  if (!shape.ok()) return shape.error();

  SignedTicket out;
  out.body = encode_body(ticket);
  auto sig = signer.sign(out.body);
  if (!sig.ok()) return sig.error();
  out.signature = std::move(*sig);
  return out;
}

Result<Ticket> ticket_decode(std::span<const uint8_t> body) {
  if (body.size() > kMaxBodyBytes) return bad("body is too large");
  UnpackLimits limits;
  limits.max_depth = 2;
  limits.max_array = kMaxWorkstations;
  limits.max_map = 16;
  limits.max_str = kMaxWorkstationIdLen;
  limits.max_bin = kNonceBytes;
  auto handle = unpack_map(body, limits);
  if (!handle.ok()) return bad(handle.error().message);

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
  if (version != kTicketVersion) return bad("unsupported version " + std::to_string(version));
  Status shape = check_shape(t);
  if (!shape.ok()) return shape.error();
  return t;
}

Result<Ticket> ticket_verify(const SignedTicket &ticket, const std::vector<PublicKey> &trusted_signers,
                             const TicketCheck &check, NonceStore &nonces) {
  // The signature comes first so nothing below ever parses bytes an unknown party wrote.
  const PublicKey *verified_by = nullptr;
  for (const auto &key : trusted_signers) {
    if (key.verify(ticket.body, ticket.signature).ok()) {
      verified_by = &key;
      break;
    }
  }
  if (verified_by == nullptr)
    return make_error(Errc::invalid_signature,
                      "ticket signature does not verify with any trusted signer key");

  auto decoded = ticket_decode(ticket.body);
  if (!decoded.ok()) return decoded.error();
  Ticket &t = *decoded;
  if (t.signer != verified_by->fingerprint())
    return bad("names signer " + t.signer + " but was signed by " + verified_by->fingerprint());

  // Differences are taken in unsigned arithmetic, exact because expires > issued.
  if (t.issued_ms < 0 || t.expires_ms <= t.issued_ms ||
      static_cast<uint64_t>(t.expires_ms) - static_cast<uint64_t>(t.issued_ms) >
          static_cast<uint64_t>(kTicketMaxLifetimeMs))
    return bad("lifetime is invalid or longer than allowed");
  if (t.issued_ms - kTicketMaxSkewMs > check.now_ms)
    return make_error(Errc::expired, "ticket issued in the future (clock skew?)");
  if (check.now_ms >= t.expires_ms) return make_error(Errc::expired, "ticket has expired");

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
