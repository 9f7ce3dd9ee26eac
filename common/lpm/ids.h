// Random bytes, UUIDv7 ids, hex, and clocks.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace lpm {

// Fills buf from the kernel's CSPRNG (getrandom). Aborts if the kernel cannot provide entropy:
// every key and id depends on it.
void random_bytes(void *buf, size_t len);

// A new RFC 9562 UUIDv7 in canonical form (36 lower-case characters): 48-bit Unix milliseconds,
// then random bits. Ids made later by the same process sort after earlier ones.
std::string uuid_v7();
// True for any canonical 36-character UUID string (lower or upper case hex).
bool uuid_valid(std::string_view text);

std::string to_hex(std::span<const uint8_t> bytes);
// Decodes lower- or upper-case hex; false on odd length or a non-hex character.
bool from_hex(std::string_view hex, std::vector<uint8_t> &out);

// Wall-clock milliseconds since the Unix epoch (what tickets, leases and records store).
int64_t wall_ms();
// Monotonic milliseconds (for measuring durations).
int64_t mono_ms();
// Monotonic nanoseconds.
int64_t mono_ns();
// "2026-11-25 14:05 UTC": a wall-clock time as messages show it.
std::string utc_minute_text(int64_t ms);

} // namespace lpm
