// SHA-256 blocks on the x86 SHA extensions (sha256rnds2, sha256msg1, sha256msg2), several times
// mbedTLS 2.28's portable code. Only the function below is compiled for those instructions (a
// target attribute), so the project keeps its default flags and the binary runs on any x86;
// proto::Sha256 calls it only once cpuid has said the CPU has them. Nothing here on other
// architectures: Sha256 is mbedTLS there.
#include "detail/sha256.h"

#ifdef LPM_SHA256_X86

#include <cpuid.h>
#include <immintrin.h>

namespace lpm::proto::detail {

namespace {

// FIPS 180-4, section 4.2.2: K[t], the first 32 bits of the fractional parts of the cube roots of
// the first 64 primes. Aligned: they are loaded four at a time, one group of four rounds each.
alignas(16) constexpr uint32_t kRoundConstants[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

constexpr unsigned kLeaf1EcxSsse3 = 1u << 9;
constexpr unsigned kLeaf1EcxSse41 = 1u << 19;
constexpr unsigned kLeaf7EbxSha = 1u << 29;

bool cpu_has_sha_extensions() {
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (__get_cpuid(1, &eax, &ebx, &ecx, &edx) == 0) return false;
  const bool ssse3_and_sse41 = (ecx & kLeaf1EcxSsse3) != 0 && (ecx & kLeaf1EcxSse41) != 0;
  // __get_cpuid_count checks the highest leaf first: 0 when leaf 7 does not exist.
  if (__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx) == 0) return false;
  return ssse3_and_sse41 && (ebx & kLeaf7EbxSha) != 0;
}

} // namespace

bool sha256_x86_supported() {
  static const bool supported = cpu_has_sha_extensions();
  return supported;
}

// sha256rnds2 runs two rounds on the state held as two halves, {a, b, e, f} and {c, d, g, h}
// (a and c in the top lanes), with W[t] + K[t] of both rounds in the low lanes of a third
// register; it returns the new {a, b, e, f}, and the old one is the new {c, d, g, h}. So the
// halves swap roles every two rounds and are back in place after four. The message schedule
// is made four words at a time from the four groups before (the words of group g in w[g % 4]).
__attribute__((target("sha,sse4.1,ssse3"))) void sha256_compress_x86(uint32_t state[8], const uint8_t *blocks,
                                                                     size_t count) {
  // Message words are big-endian: reverse the bytes of each 32-bit lane.
  const __m128i big_endian_words = _mm_set_epi64x(0x0c0d0e0f08090a0bLL, 0x0405060700010203LL);

  // {a, b, c, d} and {e, f, g, h} (a and e in the low lanes) into the two halves.
  const __m128i abcd = _mm_loadu_si128(reinterpret_cast<const __m128i *>(state));
  const __m128i efgh = _mm_loadu_si128(reinterpret_cast<const __m128i *>(state + 4));
  const __m128i badc = _mm_shuffle_epi32(abcd, 0xb1);
  const __m128i hgfe = _mm_shuffle_epi32(efgh, 0x1b);
  __m128i abef = _mm_alignr_epi8(badc, hgfe, 8);    // lanes, low first: f e b a
  __m128i cdgh = _mm_blend_epi16(hgfe, badc, 0xf0); // h g d c

  for (; count > 0; count--, blocks += 64) {
    const __m128i abef_before = abef;
    const __m128i cdgh_before = cdgh;
    __m128i w[4];
#pragma GCC unroll 16
    for (int group = 0; group < 16; group++) {
      __m128i &words = w[group % 4]; // W[4g .. 4g+3], once made; group g-4's until then
      if (group < 4) {
        words = _mm_shuffle_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i *>(blocks + 16 * group)),
                                 big_endian_words);
      } else {
        // W[t] = s1(W[t-2]) + W[t-7] + s0(W[t-15]) + W[t-16]: msg1 makes W[t-16] + s0(W[t-15])
        // from groups g-4 and g-3, W[t-7] is groups g-2 and g-1 shifted by a word, and msg2
        // adds s1 of W[t-2], which for the top two words are the two it has just made.
        const __m128i &before1 = w[(group + 3) % 4];
        const __m128i &before2 = w[(group + 2) % 4];
        const __m128i &before3 = w[(group + 1) % 4];
        const __m128i partial =
            _mm_add_epi32(_mm_sha256msg1_epu32(words, before3), _mm_alignr_epi8(before1, before2, 4));
        words = _mm_sha256msg2_epu32(partial, before1);
      }
      const __m128i words_plus_k = _mm_add_epi32(
          words, _mm_load_si128(reinterpret_cast<const __m128i *>(kRoundConstants + 4 * group)));
      cdgh = _mm_sha256rnds2_epu32(cdgh, abef, words_plus_k);
      abef = _mm_sha256rnds2_epu32(abef, cdgh, _mm_shuffle_epi32(words_plus_k, 0x0e));
    }
    abef = _mm_add_epi32(abef, abef_before);
    cdgh = _mm_add_epi32(cdgh, cdgh_before);
  }

  // Back to {a, b, c, d} and {e, f, g, h}.
  const __m128i abef_high_first = _mm_shuffle_epi32(abef, 0x1b); // a b e f
  const __m128i ghcd = _mm_shuffle_epi32(cdgh, 0xb1);            // g h c d
  _mm_storeu_si128(reinterpret_cast<__m128i *>(state), _mm_blend_epi16(abef_high_first, ghcd, 0xf0));
  _mm_storeu_si128(reinterpret_cast<__m128i *>(state + 4), _mm_alignr_epi8(ghcd, abef_high_first, 8));
}

} // namespace lpm::proto::detail

#endif // LPM_SHA256_X86
