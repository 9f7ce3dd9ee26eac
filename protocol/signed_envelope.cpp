#include "detail/signed_envelope.h"

#include <string>

namespace lpm::proto::detail {

Error signed_bad(const SignedKind &kind, std::string message) {
  return make_error(Errc::bad_request, std::string(kind.name) + ": " + std::move(message));
}

Status signed_seal(Bytes body, const KeyPair &signer, Bytes &body_out, Bytes &signature_out) {
  auto sig = signer.sign(body);
  if (!sig.ok()) return sig.error();
  body_out = std::move(body);
  signature_out = std::move(*sig);
  return {};
}

Result<msgpack::object_handle> signed_unpack_body(const SignedKind &kind, std::span<const uint8_t> body,
                                                  const UnpackLimits &limits) {
  if (body.size() > kSignedBodyMaxBytes) return signed_bad(kind, "body is too large");
  auto handle = unpack_map(body, limits);
  if (!handle.ok()) return signed_bad(kind, handle.error().message);
  return handle;
}

MapWriter signed_to_map(std::span<const uint8_t> body, std::span<const uint8_t> signature) {
  MapWriter out;
  out.bin("body", body).bin("sig", signature);
  return out;
}

void signed_from_map(MapReader &reader, Bytes &body, Bytes &signature) {
  body = reader.bin("body", kSignedBodyMaxBytes);
  signature = reader.bin("sig", kSignatureMaxBytes);
}

Result<const PublicKey *> signed_find_signer(const SignedKind &kind, std::span<const uint8_t> body,
                                             std::span<const uint8_t> signature,
                                             const std::vector<PublicKey> &trusted_signers) {
  for (const auto &key : trusted_signers)
    if (key.verify(body, signature).ok()) return &key;
  return make_error(Errc::invalid_signature,
                    std::string(kind.name) + " signature does not verify with any trusted signer key");
}

Status signed_check_claims(const SignedKind &kind, const Fingerprint &named_signer,
                           const PublicKey &verified_by, int64_t issued_ms, int64_t expires_ms,
                           int64_t now_ms) {
  if (named_signer != verified_by.fingerprint())
    return signed_bad(kind,
                      "names signer " + named_signer + " but was signed by " + verified_by.fingerprint());

  // Differences are taken in unsigned arithmetic, exact because expires > issued.
  if (issued_ms < 0 || expires_ms <= issued_ms ||
      static_cast<uint64_t>(expires_ms) - static_cast<uint64_t>(issued_ms) >
          static_cast<uint64_t>(kind.max_lifetime_ms))
    return signed_bad(kind, "lifetime is invalid or longer than allowed");
  if (issued_ms - kind.max_skew_ms > now_ms)
    return make_error(Errc::expired, std::string(kind.name) + " issued in the future (clock skew?)");
  if (now_ms >= expires_ms) return make_error(Errc::expired, std::string(kind.name) + " has expired");
  return {};
}

} // namespace lpm::proto::detail
