// Enrollment with the directory (DESIGN §3): the one blocking exchange behind every component's
// `enroll` command. The key that enrolls is the TLS client certificate of the connection; the
// directory records that key, never a claimed one.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "lpm/error.h"
#include "lpm/protocol/keys.h"
#include "lpm/protocol/ops.h"
#include "lpm/protocol/stream.h"

namespace lpm::proto {

// How long the directory may take to answer enroll once connected (the connection itself is
// bounded by the stream's handshake limit).
inline constexpr uint32_t kEnrollTimeoutMs = 30000;

// Enrolls `identity`'s key as `kind` under `name` with the one-time `token`: connects to the
// directory over TLS (our identity as client certificate, the server's key pinned to one of
// `pins`) with hello role `hello_role`, calls op enroll and reads the EnrollResult. Blocking:
// runs a libuv loop of its own and closes it before returning.
//
// `directories` are tried in order: an address that cannot be reached (connect, handshake or pin
// failure) passes to the next one, and the last such error comes back as
// "directory HOST:PORT: <why>" with its code. The first directory that answers decides: its
// error (bad token, wrong kind, ...) comes back as it sent it. An answer that does not parse is
// protocol_error; a libuv handle left open is internal.
Result<EnrollResult> enroll_with_directory(std::shared_ptr<Identity> identity,
                                           const std::vector<Endpoint> &directories,
                                           const std::vector<Fingerprint> &pins, EnrollKind kind,
                                           const std::string &name, const std::string &token,
                                           const std::string &hello_role,
                                           uint32_t timeout_ms = kEnrollTimeoutMs);

// The same with one directory address and one pinned key.
Result<EnrollResult> enroll_with_directory(std::shared_ptr<Identity> identity, const Endpoint &directory,
                                           const Fingerprint &pin, EnrollKind kind, const std::string &name,
                                           const std::string &token, const std::string &hello_role,
                                           uint32_t timeout_ms = kEnrollTimeoutMs);

} // namespace lpm::proto
