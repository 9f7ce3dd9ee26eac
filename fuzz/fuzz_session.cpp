// Fuzz target: a session token as a service meets it, in its text form (session_from_text, then
// session_verify against a fixed directory key at a fixed clock), and the same bytes as a bare
// body (session_decode). Whatever is accepted must have the shape and claims promised, and the
// text form must read back as what it was made from.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "fuzz_session_key.h"
#include "lpm/ids.h"
#include "lpm/protocol/session.h"

using namespace lpm;
using namespace lpm::proto;

namespace {

const std::vector<PublicKey> &trusted_signers() {
  static const std::vector<PublicKey> keys = [] {
    auto key = KeyPair::from_pem(fuzz::kSessionSignerPem);
    if (!key.ok()) std::abort();
    std::vector<PublicKey> out;
    out.push_back((*key)->public_key());
    return out;
  }();
  return keys;
}

void check_shape(const Session &s) {
  if (!uuid_valid(s.user) || !uuid_valid(s.session_id) || !fingerprint_valid(s.signer)) std::abort();
  if (s.email.empty() || s.email.size() > kSessionMaxEmailBytes) std::abort();
  for (char c : s.email)
    if (static_cast<unsigned char>(c) <= ' ' || c == 0x7f || (c >= 'A' && c <= 'Z')) std::abort();
  if (s.roles.size() > kSessionMaxRoles) std::abort();
  for (const auto &role : s.roles)
    if (role.empty() || role.size() > kSessionMaxRoleBytes) std::abort();
  if (s.expires_ms <= s.issued_ms) std::abort();
}

void decode_body(std::span<const uint8_t> body) {
  auto s = session_decode(body);
  if (!s.ok()) {
    if (s.error().code != Errc::bad_request) std::abort();
    return;
  }
  check_shape(*s);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  decode_body(std::span<const uint8_t>(data, size));

  std::string_view text(reinterpret_cast<const char *>(data), size);
  auto token = session_from_text(text);
  if (!token.ok()) {
    Errc expected = size > kSessionMaxTextBytes ? Errc::too_large : Errc::bad_request;
    if (token.error().code != expected) std::abort();
    return 0;
  }
  auto again = session_from_text(session_to_text(*token));
  if (!again.ok() || again->body != token->body || again->signature != token->signature) std::abort();
  decode_body(token->body);

  auto verified = session_verify(*token, trusted_signers(), fuzz::kSessionNowMs);
  if (!verified.ok()) {
    Errc code = verified.error().code;
    if (code != Errc::invalid_signature && code != Errc::bad_request && code != Errc::expired) std::abort();
    return 0;
  }
  check_shape(*verified);
  if (verified->signer != trusted_signers().front().fingerprint()) std::abort();
  if (verified->issued_ms < 0 || verified->expires_ms - verified->issued_ms > kSessionMaxLifetimeMs ||
      verified->issued_ms - kSessionMaxSkewMs > fuzz::kSessionNowMs ||
      fuzz::kSessionNowMs >= verified->expires_ms)
    std::abort();
  auto decoded = session_decode(token->body);
  if (!decoded.ok() || decoded->user != verified->user || decoded->roles != verified->roles) std::abort();
  return 0;
}
