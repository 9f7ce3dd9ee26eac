#include "lpm/protocol/session.h"

#include "detail/field_limits.h"
#include "detail/signed_envelope.h"
#include "lpm/ids.h"

namespace lpm::proto {

namespace {
using detail::kMaxFingerprintLen;
using detail::kMaxUuidLen;

constexpr uint64_t kSessionVersion = 1;
// An honest session (32 roles of 128 bytes, a 254-byte e-mail) has a body under 5 KiB and a text
// form under 7 KiB, so the caps below are never met by what the directory issues.
static_assert(kSessionMaxRoles * (kSessionMaxRoleBytes + 2) + kSessionMaxEmailBytes + 512 <=
              detail::kSignedBodyMaxBytes);

constexpr detail::SignedKind kSessionKind{"session", kSessionMaxLifetimeMs, kSessionMaxSkewMs};

Error session_bad(std::string message) {
  return detail::signed_bad(kSessionKind, std::move(message));
}

Error bad_text(std::string message) {
  return make_error(Errc::bad_request, "session token: " + std::move(message));
}

Status check_email(const std::string &email) {
  if (email.empty() || email.size() > kSessionMaxEmailBytes)
    return session_bad("e-mail address has an invalid length");
  for (char ch : email) {
    auto c = static_cast<unsigned char>(ch);
    if (c <= ' ' || c == 0x7f) return session_bad("e-mail address holds a space or control character");
    if (c >= 'A' && c <= 'Z') return session_bad("e-mail address is not lower case");
  }
  return {};
}

// What session_decode refuses; session_sign checks the same.
Status check_shape(const Session &s) {
  if (!uuid_valid(s.user)) return session_bad("user '" + s.user + "' is not a UUID");
  Status email = check_email(s.email);
  if (!email.ok()) return email;
  if (s.roles.size() > kSessionMaxRoles) return session_bad("too many roles");
  for (const auto &role : s.roles)
    if (role.empty() || role.size() > kSessionMaxRoleBytes)
      return session_bad("role name has an invalid length");
  if (!uuid_valid(s.session_id)) return session_bad("session id '" + s.session_id + "' is not a UUID");
  if (s.expires_ms <= s.issued_ms) return session_bad("expires is not after issued");
  if (!fingerprint_valid(s.signer)) return session_bad("signer is not a key fingerprint");
  return {};
}

Bytes encode_body(const Session &s) {
  // The key order is part of the format: the signature covers these exact bytes.
  MapWriter w;
  w.u64("v", kSessionVersion)
      .str("user", s.user)
      .str("email", s.email)
      .str_array("roles", s.roles)
      .str("sid", s.session_id)
      .i64("issued", s.issued_ms)
      .i64("expires", s.expires_ms)
      .str("signer", s.signer);
  return w.finish();
}

// RFC 4648 §5 (URL and file name safe), without padding.
constexpr char kBase64Url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

std::string base64url_encode(std::span<const uint8_t> bytes) {
  std::string out;
  out.reserve((bytes.size() * 4 + 2) / 3);
  size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    uint32_t group = uint32_t{bytes[i]} << 16 | uint32_t{bytes[i + 1]} << 8 | bytes[i + 2];
    for (int shift = 18; shift >= 0; shift -= 6)
      out.push_back(kBase64Url[(group >> shift) & 0x3f]);
  }
  size_t rest = bytes.size() - i;
  if (rest > 0) {
    uint32_t group = uint32_t{bytes[i]} << 16 | (rest == 2 ? uint32_t{bytes[i + 1]} << 8 : 0);
    // One byte makes two characters, two bytes make three.
    for (size_t c = 0; c <= rest; c++)
      out.push_back(kBase64Url[(group >> (18 - 6 * c)) & 0x3f]);
  }
  return out;
}

int base64url_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '-') return 62;
  if (c == '_') return 63;
  return -1;
}

// Accepts only what base64url_encode writes, so every token has exactly one text form: no
// padding, no white space, and the bits below the last byte are zero.
Result<Bytes> base64url_decode(std::string_view text) {
  if (text.size() % 4 == 1) return bad_text("text has an impossible base64url length");
  Bytes out;
  out.reserve(text.size() / 4 * 3 + 2);
  uint32_t bits = 0;
  int bit_count = 0;
  for (size_t i = 0; i < text.size(); i++) {
    int value = base64url_value(text[i]);
    if (value < 0) return bad_text("text holds a character outside base64url at offset " + std::to_string(i));
    bits = (bits << 6 | static_cast<uint32_t>(value)) & 0xffffff;
    bit_count += 6;
    if (bit_count >= 8) {
      bit_count -= 8;
      out.push_back(static_cast<uint8_t>(bits >> bit_count));
    }
  }
  if ((bits & ((1u << bit_count) - 1)) != 0) return bad_text("text does not end on a byte boundary");
  return out;
}

} // namespace

MapWriter SignedSession::to_map() const {
  return detail::signed_to_map(body, signature);
}

SignedSession SignedSession::from_map(MapReader &reader) {
  SignedSession s;
  detail::signed_from_map(reader, s.body, s.signature);
  return s;
}

Result<SignedSession> session_sign(Session session, const KeyPair &signer) {
  session.signer = signer.fingerprint();
  Status shape = check_shape(session);
  if (!shape.ok()) return shape.error();

  SignedSession out;
  Status sealed = detail::signed_seal(encode_body(session), signer, out.body, out.signature);
  if (!sealed.ok()) return sealed.error();
  return out;
}

Result<Session> session_decode(std::span<const uint8_t> body) {
  UnpackLimits limits;
  limits.max_depth = 2;
  limits.max_array = kSessionMaxRoles;
  limits.max_map = 16;
  limits.max_str = kSessionMaxEmailBytes; // the longest string field
  limits.max_bin = 0;                     // the body holds no binary field
  auto handle = detail::signed_unpack_body(kSessionKind, body, limits);
  if (!handle.ok()) return handle.error();

  MapReader r(handle->get(), "session");
  uint64_t version = r.u64("v");
  Session s;
  s.user = r.str("user", kMaxUuidLen);
  s.email = r.str("email", kSessionMaxEmailBytes);
  s.roles = r.str_array("roles", kSessionMaxRoles, kSessionMaxRoleBytes);
  s.session_id = r.str("sid", kMaxUuidLen);
  s.issued_ms = r.i64("issued");
  s.expires_ms = r.i64("expires");
  s.signer = r.str("signer", kMaxFingerprintLen);
  if (!r.ok()) return r.error();
  if (version != kSessionVersion) return session_bad("unsupported version " + std::to_string(version));
  Status shape = check_shape(s);
  if (!shape.ok()) return shape.error();
  return s;
}

Result<Session> session_verify(const SignedSession &session, const std::vector<PublicKey> &trusted_signers,
                               int64_t now_ms) {
  // The signature comes first so nothing below ever parses bytes an unknown party wrote.
  auto verified_by =
      detail::signed_find_signer(kSessionKind, session.body, session.signature, trusted_signers);
  if (!verified_by.ok()) return verified_by.error();

  auto decoded = session_decode(session.body);
  if (!decoded.ok()) return decoded.error();
  Session &s = *decoded;
  Status claims =
      detail::signed_check_claims(kSessionKind, s.signer, **verified_by, s.issued_ms, s.expires_ms, now_ms);
  if (!claims.ok()) return claims.error();
  return std::move(s);
}

std::string session_to_text(const SignedSession &session) {
  return base64url_encode(session.to_map().finish());
}

Result<SignedSession> session_from_text(std::string_view text) {
  if (text.size() > kSessionMaxTextBytes)
    return make_error(Errc::too_large, "session token: text is longer than " +
                                           std::to_string(kSessionMaxTextBytes) + " bytes");
  if (text.empty()) return bad_text("text is empty");
  auto wire = base64url_decode(text);
  if (!wire.ok()) return wire.error();

  UnpackLimits limits;
  limits.max_depth = 1;
  limits.max_array = 0;
  limits.max_map = 2; // exactly body and sig
  limits.max_str = 4; // the keys
  limits.max_bin = detail::kSignedBodyMaxBytes;
  auto handle = unpack_map(*wire, limits);
  if (!handle.ok()) return bad_text(handle.error().message);
  MapReader r(handle->get(), "session token");
  SignedSession out = SignedSession::from_map(r);
  if (!r.ok()) return r.error();
  return out;
}

} // namespace lpm::proto
