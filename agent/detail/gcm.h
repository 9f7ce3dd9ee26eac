// Internal to agent/: which implementation an agent::Gcm runs, and the x86 AES-NI + PCLMULQDQ
// functions behind the accelerated one (gcm_x86.cpp). Tests, fuzz_gcm and lpm_aead_bench make a
// Gcm on each path to compare both in one run; everything else takes Gcm(key).
#pragma once

#include <cstddef>
#include <cstdint>

#include "spool_crypto.h"

#if defined(__x86_64__) || defined(__i386__)
#define LPM_GCM_X86 1
#endif

namespace lpm::agent::detail {

struct GcmPath {
  // Whether this CPU runs the accelerated path: AES-NI, PCLMULQDQ, SSSE3 and SSE4.1 (cpuid,
  // checked once). Always false on other architectures.
  static bool accelerated_available();
  // The path Gcm(key) takes: accelerated_available(), unless LPM_GCM_PORTABLE=1 was in the
  // environment at the first call (read once).
  static bool accelerated_chosen();
  // A Gcm on the accelerated path when `accelerated` and accelerated_available(), on mbedTLS
  // otherwise.
  static Gcm make(const SecretKey &key, bool accelerated) { return Gcm(key, accelerated); }
  // Which path a Gcm runs.
  static bool accelerated(const Gcm &gcm) { return gcm.accelerated_; }
};

#ifdef LPM_GCM_X86
// cpuid leaf 1 (ECX: AES, PCLMULQDQ, SSSE3, SSE4.1), asked once.
bool gcm_x86_supported();
// Expands the 32-byte key into `out`. Only where gcm_x86_supported().
void gcm_x86_expand_key(const uint8_t key[32], GcmX86Key &out);
// AES-256-GCM over `length` bytes of `in` into `out` (the same pointer, or not overlapping),
// and the 16-byte tag over the ciphertext: `in` when decrypting, `out` when encrypting. The
// nonce is non-empty; length is within GCM's limit. The caller compares tags on decryption.
// Only where gcm_x86_supported().
void gcm_x86_crypt(const GcmX86Key &key, bool encrypt, const uint8_t *nonce, size_t nonce_bytes,
                   const uint8_t *aad, size_t aad_bytes, const uint8_t *in, size_t length, uint8_t *out,
                   uint8_t tag[16]);
#endif

} // namespace lpm::agent::detail
