// Session tokens (DESIGN §3, §6): who a person is, as the directory vouches for it when it issues
// the token. The agent keeps a refresh token and asks the directory for a fresh session token;
// other services (accounting reports) check the person's identity and roles from the token alone,
// against the directory's session-token key, without calling the directory back.
//
// Wire form, like release tickets: {"body": bin, "sig": bin}. `body` is the msgpack map below,
// signed as bytes, so the verifier checks the exact bytes the signer produced:
//   {"v": 1, "user": uuid, "email": str, "roles": [str], "sid": uuid, "issued": ms,
//    "expires": ms, "signer": fingerprint}
// Text form (a file, a command line): base64url without padding of the wire form's msgpack.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "lpm/error.h"
#include "lpm/protocol/keys.h"
#include "lpm/protocol/msg.h"

namespace lpm::proto {

inline constexpr int64_t kSessionLifetimeMs = 15 * 60 * 1000;    // what the directory issues
inline constexpr int64_t kSessionMaxLifetimeMs = 60 * 60 * 1000; // longer ones are refused
inline constexpr int64_t kSessionMaxSkewMs = 30 * 1000;          // issued may be this far ahead
inline constexpr size_t kSessionMaxRoles = 32;
inline constexpr size_t kSessionMaxRoleBytes = 128;
inline constexpr size_t kSessionMaxEmailBytes = 254;
inline constexpr size_t kSessionMaxTextBytes = 8192; // the text form

// Role names a session carries that other services act on (directory/roles.cpp uses these same
// constants in its table): the accounting server decides from them who sees which report.
namespace role_names {
inline constexpr const char *prm_administrator = "Print Release Management Administrator";
inline constexpr const char *prm_helpdesk = "Print Release Management Helpdesk";
inline constexpr const char *spm_helpdesk = "Serverless Print Management Helpdesk";
inline constexpr const char *enterprise_administrator = "Enterprise Administrator";
} // namespace role_names

// Who a person is, as the directory vouches for it at issue time.
struct Session {
  std::string user;               // directory user UUID
  std::string email;              // lower case, 1..254 bytes, no spaces or control characters
  std::vector<std::string> roles; // effective role names when issued (each 1..128 bytes)
  std::string session_id;         // UUID of the login this session belongs to (logout/revocation)
  int64_t issued_ms = 0;
  int64_t expires_ms = 0;
  Fingerprint signer; // the signing key (filled by session_sign)
};

struct SignedSession {
  Bytes body;
  Bytes signature;

  MapWriter to_map() const;
  // Reads {"body", "sig"} from a reader (the reader records the error).
  static SignedSession from_map(MapReader &reader);
};

// Signs a session; fills signer from the key. bad_request when the session has a shape
// session_decode would refuse (so a directory cannot issue a token every verifier turns down).
Result<SignedSession> session_sign(Session session, const KeyPair &signer);

// Decodes a session body and checks its shape only (bad_request): v = 1, user and session_id are
// UUIDs, the e-mail and role caps, signer is a fingerprint, expires > issued. No signature, no
// clock.
Result<Session> session_decode(std::span<const uint8_t> body);

// Verifies in this order and stops at the first failure: the signature by one of the trusted keys
// (invalid_signature, before any byte of the body is parsed); the shape (bad_request, as
// session_decode); `signer` names the key that verified (bad_request); issued >= 0 and a lifetime
// of at most kSessionMaxLifetimeMs (bad_request); issued at most kSessionMaxSkewMs ahead of now
// (expired, "session issued in the future (clock skew?)"); now < expires (expired).
Result<Session> session_verify(const SignedSession &session, const std::vector<PublicKey> &trusted_signers,
                               int64_t now_ms);

// The text form: base64url without padding of the msgpack {"body", "sig"} map.
std::string session_to_text(const SignedSession &session);
// Back from the text form, exactly as session_to_text writes it (no padding, no white space;
// callers strip a file's line end). too_large over kSessionMaxTextBytes, bad_request on anything
// else malformed. Checks nothing inside the body: session_verify does.
Result<SignedSession> session_from_text(std::string_view text);

} // namespace lpm::proto
