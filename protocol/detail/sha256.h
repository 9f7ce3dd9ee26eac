// Internal to protocol/: which implementation a proto::Sha256 runs, and the x86 SHA extensions
// block function behind the accelerated one (sha256_x86.cpp). Tests and lpm_hash_bench make a
// hasher on each path to compare both in one run; everything else takes Sha256().
#pragma once

#include <cstddef>
#include <cstdint>

#include "lpm/protocol/keys.h"

#if defined(__x86_64__) || defined(__i386__)
#define LPM_SHA256_X86 1
#endif

namespace lpm::proto::detail {

struct Sha256Path {
  // Whether this CPU runs the accelerated path: the SHA extensions, SSSE3 and SSE4.1 (cpuid,
  // checked once). Always false on other architectures.
  static bool accelerated_available();
  // The path Sha256() takes: accelerated_available(), unless LPM_SHA256_PORTABLE=1 was in the
  // environment at the first call (read once).
  static bool accelerated_chosen();
  // A hasher on the accelerated path when `accelerated` and accelerated_available(), on mbedTLS
  // otherwise.
  static Sha256 make(bool accelerated) { return Sha256(accelerated); }
};

#ifdef LPM_SHA256_X86
// cpuid leaf 1 (ECX: SSSE3, SSE4.1) and leaf 7 subleaf 0 (EBX: SHA), asked once.
bool sha256_x86_supported();
// Runs the compression function over `count` whole 64-byte blocks, state being the eight words
// a..h (FIPS 180-4, section 6.2.2). Only where sha256_x86_supported().
void sha256_compress_x86(uint32_t state[8], const uint8_t *blocks, size_t count);
#endif

} // namespace lpm::proto::detail
