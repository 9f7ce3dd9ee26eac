// What an agent says about itself on the LAN (issue 8, DESIGN §9): the DNS-SD service type
// `_lpm-release._tcp` and its TXT record. The record names no person and no host: only the
// opaque workstation id the directory gave, the release key's fingerprint and the protocol
// version. It is a hint: a release station trusts an address only once the TLS key behind it is
// the one the directory vouched for.
//
//   TXT: "v=1" "id=<workstation id>" "fp=<64 hex digits>"
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "lpm/error.h"

namespace lpm::discovery {

inline constexpr const char *kServiceType = "_lpm-release._tcp";
inline constexpr int kTxtVersion = 1;
// A TXT record holds at most 255 bytes per string; ours is well under one 512-byte datagram.
inline constexpr size_t kMaxTxtBytes = 1300;

struct ReleaseAdvert {
  std::string workstation_id; // opaque (UUIDv7 text), from the directory's enrollment
  std::string fingerprint;    // SHA-256 of the release key, 64 lower-case hex digits
  int version = kTxtVersion;
};

// The TXT record's wire bytes (length-prefixed strings, RFC 6763 §6).
std::vector<uint8_t> encode_txt(const ReleaseAdvert &advert);

// Reads a TXT record from the network. bad_request when it is not one of ours: a malformed
// string, a missing or repeated key, an id that is not a plain token, a fingerprint that is not
// 64 hex digits, a version this build does not speak. Unknown keys are ignored (later versions
// may add some).
Result<ReleaseAdvert> decode_txt(const uint8_t *data, size_t size);

// The DNS-SD instance name an agent publishes: "lpm-" and its workstation id without the dashes
// (36 bytes for a UUID). Opaque, like the id; never a user or host name.
std::string instance_name(const std::string &workstation_id);

} // namespace lpm::discovery
