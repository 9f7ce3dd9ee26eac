// Caps on the string fields of the protocol's messages, in bytes, shared by the op codecs
// (ops*.cpp) and the signed tokens (session, ticket, printer certificate). A field over its cap
// is refused when decoded.
#pragma once

#include <cstddef>

namespace lpm::proto::detail {

inline constexpr size_t kName = 256;      // names and titles
inline constexpr size_t kShort = 64;      // ids, enums, formats
inline constexpr size_t kEmail = 254;     // RFC 5321's longest path
inline constexpr size_t kGroupName = 320; // 80 characters (GR-7, AMB-8) of up to 4 bytes each
inline constexpr size_t kMaxUuidLen = 36;
inline constexpr size_t kMaxFingerprintLen = 64;

} // namespace lpm::proto::detail
