// Internal to protocol/: what every directory-signed token shares (release tickets, session
// tokens). A token travels as {"body": bin, "sig": bin}; the body is a msgpack map signed as
// bytes with ECDSA P-256, and carries `issued`, `expires` and the signer's fingerprint.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "lpm/error.h"
#include "lpm/protocol/keys.h"
#include "lpm/protocol/msg.h"

namespace lpm::proto::detail {

// Envelope caps, checked by the reader before the bytes are copied.
inline constexpr size_t kSignedBodyMaxBytes = 8192;
inline constexpr size_t kSignatureMaxBytes = 256;

// What a kind of token calls itself in messages ("ticket", "session") and the clock rules it
// is verified under.
struct SignedKind {
  std::string_view name;
  int64_t max_lifetime_ms;
  int64_t max_skew_ms; // how far in the future `issued` may be
};

// bad_request "<name>: <message>".
Error signed_bad(const SignedKind &kind, std::string message);

// Signs body with signer; the token's body and signature on success.
Status signed_seal(Bytes body, const KeyPair &signer, Bytes &body_out, Bytes &signature_out);

// Unpacks a body under limits: bad_request "<name>: ..." over the envelope cap or malformed.
Result<msgpack::object_handle> signed_unpack_body(const SignedKind &kind, std::span<const uint8_t> body,
                                                  const UnpackLimits &limits);

MapWriter signed_to_map(std::span<const uint8_t> body, std::span<const uint8_t> signature);
// Reads {"body", "sig"} within the envelope caps (the reader records the error).
void signed_from_map(MapReader &reader, Bytes &body, Bytes &signature);

// The trusted key whose signature over body verifies, else invalid_signature. Run before any
// byte of the body is parsed, so nothing an unknown party wrote reaches a decoder.
Result<const PublicKey *> signed_find_signer(const SignedKind &kind, std::span<const uint8_t> body,
                                             std::span<const uint8_t> signature,
                                             const std::vector<PublicKey> &trusted_signers);

// Checks, in this order, and stops at the first failure: the body's `signer` names the key that
// verified (bad_request); issued >= 0, expires > issued and expires - issued <= max lifetime
// (bad_request); issued no more than the skew ahead of now, and now < expires (expired).
Status signed_check_claims(const SignedKind &kind, const Fingerprint &named_signer,
                           const PublicKey &verified_by, int64_t issued_ms, int64_t expires_ms,
                           int64_t now_ms);

} // namespace lpm::proto::detail
