// AES-256-GCM on x86 AES-NI (aesenc) and PCLMULQDQ (GHASH's multiplications), eight counter
// blocks in flight with the GHASH of the eight before them, reduced once per eight: several
// times mbedTLS 2.28, which runs one block at a time and multiplies in GHASH by table. Only the
// functions below carrying LPM_GCM_TARGET are compiled for those instructions, so the project
// keeps its default flags and the binary runs on any x86; agent::Gcm calls them only once cpuid
// has said the CPU has them. Nothing here on other architectures: Gcm is mbedTLS there.
//
// GHASH works on byte-reversed blocks (NIST SP 800-38D numbers a block's bits from the most
// significant bit of its first byte, the coefficient of x^0; reversed, the coefficient of x^k is
// bit 127 - k of a 128-bit lane), so a carry-less multiply of two such lanes gives the product's
// coefficient of x^k at bit 254 - k: shifted left once, the high 128 bits are the product's
// x^0..x^127 in the same layout and the low 128 bits x^128..x^255, folded back into the high
// ones with x^128 = x^7 + x^2 + x + 1, by shifts and XORs (the reduction of Gueron and
// Kounavis's Intel white paper "Intel Carry-Less Multiplication Instruction and its Usage for
// Computing the GCM Mode").
#include "detail/gcm.h"

#ifdef LPM_GCM_X86

#include <cpuid.h>
#include <immintrin.h>

#include <mbedtls/platform_util.h>

#include <cstring>

#define LPM_GCM_TARGET __attribute__((target("aes,pclmul,sse4.1,ssse3")))

namespace lpm::agent::detail {

namespace {

constexpr unsigned kLeaf1EcxPclmul = 1u << 1;
constexpr unsigned kLeaf1EcxSsse3 = 1u << 9;
constexpr unsigned kLeaf1EcxSse41 = 1u << 19;
constexpr unsigned kLeaf1EcxAes = 1u << 25;

constexpr size_t kBlockBytes = 16;
// Counter blocks per iteration: enough for aesenc's latency to be hidden behind the other
// blocks', and GHASH's key powers H^1..H^8 fit GcmX86Key.
constexpr int kWide = 8;
constexpr size_t kWideBytes = kWide * kBlockBytes;
constexpr int kRounds = 14;

bool cpu_has_aes_and_pclmul() {
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (__get_cpuid(1, &eax, &ebx, &ecx, &edx) == 0) return false;
  const unsigned needed = kLeaf1EcxPclmul | kLeaf1EcxSsse3 | kLeaf1EcxSse41 | kLeaf1EcxAes;
  return (ecx & needed) == needed;
}

LPM_GCM_TARGET inline __m128i load(const uint8_t *bytes) {
  return _mm_loadu_si128(reinterpret_cast<const __m128i *>(bytes));
}

LPM_GCM_TARGET inline void store(uint8_t *bytes, __m128i value) {
  _mm_storeu_si128(reinterpret_cast<__m128i *>(bytes), value);
}

LPM_GCM_TARGET inline __m128i byte_reversed(__m128i value) {
  return _mm_shuffle_epi8(value, _mm_set_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
}

LPM_GCM_TARGET inline __m128i xor3(__m128i a, __m128i b, __m128i c) {
  return _mm_xor_si128(_mm_xor_si128(a, b), c);
}

// ---------------------------------------------------------------------------------------------
// AES-256 (FIPS 197)

// Each 32-bit lane i of the result: the XOR of lanes 0..i of `key`, which with the new word in
// every lane makes the next four words of the schedule, w[i] = w[i-8] ^ w[i-1], in one go.
LPM_GCM_TARGET inline __m128i running_xor(__m128i key) {
  return xor3(_mm_xor_si128(key, _mm_slli_si128(key, 4)), _mm_slli_si128(key, 8), _mm_slli_si128(key, 12));
}

// Round keys 2, 4, .., 14: the schedule's word after the one before is RotWord(SubWord(w)) ^
// Rcon. aeskeygenassist makes it from lane 3; Rcon has to be an immediate, hence the template.
template <int Rcon>
LPM_GCM_TARGET inline __m128i next_even_round_key(__m128i two_before, __m128i one_before) {
  const __m128i word = _mm_shuffle_epi32(_mm_aeskeygenassist_si128(one_before, Rcon), 0xff);
  return _mm_xor_si128(running_xor(two_before), word);
}

// Round keys 3, 5, .., 13: AES-256 puts SubWord alone (no rotation, no Rcon) halfway through its
// eight-word stride, lane 2 of aeskeygenassist.
LPM_GCM_TARGET inline __m128i next_odd_round_key(__m128i two_before, __m128i one_before) {
  const __m128i word = _mm_shuffle_epi32(_mm_aeskeygenassist_si128(one_before, 0), 0xaa);
  return _mm_xor_si128(running_xor(two_before), word);
}

LPM_GCM_TARGET inline __m128i round_key(const GcmX86Key &key, int round) {
  return load(key.round_keys[round]);
}

LPM_GCM_TARGET inline __m128i aes_encrypt(const GcmX86Key &key, __m128i block) {
  block = _mm_xor_si128(block, round_key(key, 0));
#pragma GCC unroll 16
  for (int round = 1; round < kRounds; round++)
    block = _mm_aesenc_si128(block, round_key(key, round));
  return _mm_aesenclast_si128(block, round_key(key, kRounds));
}

// ---------------------------------------------------------------------------------------------
// GHASH

// A sum of 256-bit carry-less products before reduction, kept as its Karatsuba parts (a0 b0,
// a1 b1, (a0 ^ a1)(b0 ^ b1), halves of 64 bits): products add part by part, so eight blocks
// share one recombination and one reduction.
struct Product {
  __m128i low;
  __m128i middle;
  __m128i high;
};

// Adds block * H^power to the sum; `block` is byte-reversed.
LPM_GCM_TARGET inline void multiply_add(Product &sum, const GcmX86Key &key, int power, __m128i block) {
  const __m128i h = load(key.h_powers[power - 1]);
  const __m128i h_xor = load(key.h_powers_xor[power - 1]);
  const __m128i block_xor = _mm_xor_si128(block, _mm_shuffle_epi32(block, 0x4e));
  sum.low = _mm_xor_si128(sum.low, _mm_clmulepi64_si128(block, h, 0x00));
  sum.high = _mm_xor_si128(sum.high, _mm_clmulepi64_si128(block, h, 0x11));
  sum.middle = _mm_xor_si128(sum.middle, _mm_clmulepi64_si128(block_xor, h_xor, 0x00));
}

LPM_GCM_TARGET inline Product first_product(const GcmX86Key &key, int power, __m128i block) {
  Product sum{_mm_setzero_si128(), _mm_setzero_si128(), _mm_setzero_si128()};
  multiply_add(sum, key, power, block);
  return sum;
}

// The sum reduced modulo x^128 + x^7 + x^2 + x + 1, byte-reversed like the blocks.
LPM_GCM_TARGET inline __m128i reduce(const Product &sum) {
  const __m128i middle = xor3(sum.middle, sum.low, sum.high);
  __m128i low = _mm_xor_si128(sum.low, _mm_slli_si128(middle, 8));
  __m128i high = _mm_xor_si128(sum.high, _mm_srli_si128(middle, 8));

  // The product is one bit short of the reversed layout (the file's comment): shift all 256
  // bits left once.
  const __m128i low_carries = _mm_srli_epi64(low, 63);
  const __m128i high_carries = _mm_srli_epi64(high, 63);
  low = _mm_or_si128(_mm_slli_epi64(low, 1), _mm_slli_si128(low_carries, 8));
  high = xor3(_mm_slli_epi64(high, 1), _mm_slli_si128(high_carries, 8), _mm_srli_si128(low_carries, 8));

  // low * (1 + x + x^2 + x^7): multiplying by x^n moves bits n places down, and the bits that
  // fall off the bottom (x^128 and up again) are the low word's lowest seven; folding them into
  // the top of the high word first leaves shifts that lose nothing.
  const __m128i fall_off = xor3(_mm_slli_epi64(low, 63), _mm_slli_epi64(low, 62), _mm_slli_epi64(low, 57));
  low = _mm_xor_si128(low, _mm_slli_si128(fall_off, 8));
  const __m128i shifted = xor3(_mm_srli_epi64(low, 1), _mm_srli_epi64(low, 2), _mm_srli_epi64(low, 7));
  const __m128i across =
      xor3(_mm_slli_epi64(low, 63), _mm_slli_epi64(low, 62), _mm_slli_epi64(low, 57)); // lane 1 into lane 0
  return xor3(high, low, _mm_xor_si128(shifted, _mm_srli_si128(across, 8)));
}

// (hash ^ block) * H; `block` as stored.
LPM_GCM_TARGET inline __m128i ghash_block(const GcmX86Key &key, __m128i hash, __m128i block) {
  return reduce(first_product(key, 1, _mm_xor_si128(hash, byte_reversed(block))));
}

// Eight blocks as one Horner step: ((((hash ^ b0) H ^ b1) H ..) ^ b7) H
// = (hash ^ b0) H^8 ^ b1 H^7 ^ .. ^ b7 H.
LPM_GCM_TARGET inline __m128i ghash_wide(const GcmX86Key &key, __m128i hash, const __m128i blocks[kWide]) {
  Product sum = first_product(key, kWide, _mm_xor_si128(hash, byte_reversed(blocks[0])));
#pragma GCC unroll 8
  for (int i = 1; i < kWide; i++)
    multiply_add(sum, key, kWide - i, byte_reversed(blocks[i]));
  return reduce(sum);
}

// GHASH over `bytes` bytes, the last block padded with zeros.
LPM_GCM_TARGET __m128i ghash(const GcmX86Key &key, __m128i hash, const uint8_t *data, size_t bytes) {
  for (; bytes >= kWideBytes; data += kWideBytes, bytes -= kWideBytes) {
    __m128i blocks[kWide];
#pragma GCC unroll 8
    for (int i = 0; i < kWide; i++)
      blocks[i] = load(data + i * kBlockBytes);
    hash = ghash_wide(key, hash, blocks);
  }
  for (; bytes >= kBlockBytes; data += kBlockBytes, bytes -= kBlockBytes)
    hash = ghash_block(key, hash, load(data));
  if (bytes > 0) {
    uint8_t last[kBlockBytes] = {};
    std::memcpy(last, data, bytes);
    hash = ghash_block(key, hash, load(last));
  }
  return hash;
}

// GHASH's final block: the bit lengths of the AAD and the ciphertext, 64 bits each, big-endian;
// byte-reversed, the AAD's is the high lane.
LPM_GCM_TARGET inline __m128i ghash_lengths(const GcmX86Key &key, __m128i hash, uint64_t first_bytes,
                                            uint64_t second_bytes) {
  const __m128i lengths =
      _mm_set_epi64x(static_cast<long long>(first_bytes * 8), static_cast<long long>(second_bytes * 8));
  return reduce(first_product(key, 1, _mm_xor_si128(hash, lengths)));
}

// The counter block `ahead` blocks after `counter`; both byte-reversed, so the 32-bit
// big-endian counter of SP 800-38D's inc32 is lane 0, which wraps on its own as inc32 does.
LPM_GCM_TARGET inline __m128i counter_plus(__m128i counter, int ahead) {
  return _mm_add_epi32(counter, _mm_set_epi32(0, 0, 0, ahead));
}

// Eight blocks of CTR from `counter` (byte-reversed), `in` to `out`, leaving their ciphertext
// (`in` when decrypting) in `ciphertext`. With Hash, GHASH takes in the eight ciphertext blocks
// there before, during the AES rounds: the two are independent, so the CPU overlaps them. Those
// blocks are kept in registers, not read back from `out`, since in place that memory then holds
// plaintext.
template <bool Hash>
LPM_GCM_TARGET inline void crypt_wide(const GcmX86Key &key, bool encrypt, __m128i counter, const uint8_t *in,
                                      uint8_t *out, __m128i ciphertext[kWide], __m128i &hash) {
  __m128i blocks[kWide];
#pragma GCC unroll 8
  for (int i = 0; i < kWide; i++)
    blocks[i] = _mm_xor_si128(byte_reversed(counter_plus(counter, i)), round_key(key, 0));
  Product sum{_mm_setzero_si128(), _mm_setzero_si128(), _mm_setzero_si128()};
#pragma GCC unroll 16
  for (int round = 1; round < kRounds; round++) {
    const __m128i keys = round_key(key, round);
#pragma GCC unroll 8
    for (int i = 0; i < kWide; i++)
      blocks[i] = _mm_aesenc_si128(blocks[i], keys);
    // One multiplication per round for the first eight rounds: ciphertext[0] carries the hash
    // so far, hence H^8, down to H^1 for the last.
    if constexpr (Hash) {
      if (round <= kWide) {
        const int at = round - 1;
        __m128i block = byte_reversed(ciphertext[at]);
        if (at == 0) block = _mm_xor_si128(block, hash);
        multiply_add(sum, key, kWide - at, block);
      }
    }
  }
  if constexpr (Hash) hash = reduce(sum);
  const __m128i last_key = round_key(key, kRounds);
#pragma GCC unroll 8
  for (int i = 0; i < kWide; i++) {
    const __m128i input = load(in + i * kBlockBytes);
    const __m128i output = _mm_xor_si128(_mm_aesenclast_si128(blocks[i], last_key), input);
    store(out + i * kBlockBytes, output);
    ciphertext[i] = encrypt ? output : input;
  }
}

} // namespace

bool gcm_x86_supported() {
  static const bool supported = cpu_has_aes_and_pclmul();
  return supported;
}

LPM_GCM_TARGET void gcm_x86_expand_key(const uint8_t key[32], GcmX86Key &out) {
  __m128i keys[kRounds + 1];
  keys[0] = load(key);
  keys[1] = load(key + 16);
  keys[2] = next_even_round_key<0x01>(keys[0], keys[1]);
  keys[3] = next_odd_round_key(keys[1], keys[2]);
  keys[4] = next_even_round_key<0x02>(keys[2], keys[3]);
  keys[5] = next_odd_round_key(keys[3], keys[4]);
  keys[6] = next_even_round_key<0x04>(keys[4], keys[5]);
  keys[7] = next_odd_round_key(keys[5], keys[6]);
  keys[8] = next_even_round_key<0x08>(keys[6], keys[7]);
  keys[9] = next_odd_round_key(keys[7], keys[8]);
  keys[10] = next_even_round_key<0x10>(keys[8], keys[9]);
  keys[11] = next_odd_round_key(keys[9], keys[10]);
  keys[12] = next_even_round_key<0x20>(keys[10], keys[11]);
  keys[13] = next_odd_round_key(keys[11], keys[12]);
  keys[14] = next_even_round_key<0x40>(keys[12], keys[13]);
  for (int round = 0; round <= kRounds; round++)
    store(out.round_keys[round], keys[round]);
  // The copy on the stack is as secret as the one in `out`, which Gcm wipes.
  mbedtls_platform_zeroize(keys, sizeof keys);

  // H = AES(K, 0^128), then H^2..H^8 by multiplying in the same field.
  const __m128i h = byte_reversed(aes_encrypt(out, _mm_setzero_si128()));
  __m128i power = h;
  for (int i = 0; i < kWide; i++) {
    if (i > 0) power = reduce(first_product(out, 1, power));
    store(out.h_powers[i], power);
    store(out.h_powers_xor[i], _mm_xor_si128(power, _mm_shuffle_epi32(power, 0x4e)));
  }
}

LPM_GCM_TARGET void gcm_x86_crypt(const GcmX86Key &key, bool encrypt, const uint8_t *nonce,
                                  size_t nonce_bytes, const uint8_t *aad, size_t aad_bytes, const uint8_t *in,
                                  size_t length, uint8_t *out, uint8_t tag[16]) {
  // J0: a 12-byte nonce followed by a counter of 1, or any other length hashed (SP 800-38D 7.1).
  __m128i first_counter;
  if (nonce_bytes == 12) {
    uint8_t block[kBlockBytes] = {};
    std::memcpy(block, nonce, 12);
    block[15] = 1;
    first_counter = load(block);
  } else {
    const __m128i hashed = ghash(key, _mm_setzero_si128(), nonce, nonce_bytes);
    first_counter = byte_reversed(ghash_lengths(key, hashed, 0, nonce_bytes));
  }
  const __m128i tag_mask = aes_encrypt(key, first_counter);
  __m128i counter = counter_plus(byte_reversed(first_counter), 1);

  __m128i hash = ghash(key, _mm_setzero_si128(), aad, aad_bytes);

  size_t done = 0;
  if (length >= kWideBytes) {
    __m128i ciphertext[kWide];
    crypt_wide<false>(key, encrypt, counter, in, out, ciphertext, hash);
    counter = counter_plus(counter, kWide);
    for (done = kWideBytes; length - done >= kWideBytes; done += kWideBytes) {
      crypt_wide<true>(key, encrypt, counter, in + done, out + done, ciphertext, hash);
      counter = counter_plus(counter, kWide);
    }
    hash = ghash_wide(key, hash, ciphertext);
  }

  for (; length - done >= kBlockBytes; done += kBlockBytes) {
    const __m128i input = load(in + done);
    const __m128i output = _mm_xor_si128(aes_encrypt(key, byte_reversed(counter)), input);
    counter = counter_plus(counter, 1);
    store(out + done, output);
    hash = ghash_block(key, hash, encrypt ? output : input);
  }
  if (done < length) {
    const size_t rest = length - done;
    uint8_t input[kBlockBytes] = {};
    uint8_t output[kBlockBytes];
    std::memcpy(input, in + done, rest);
    store(output, _mm_xor_si128(aes_encrypt(key, byte_reversed(counter)), load(input)));
    std::memcpy(out + done, output, rest);
    // GHASH pads the ciphertext with zeros, not with the rest of the key stream.
    std::memset(output + rest, 0, kBlockBytes - rest);
    hash = ghash_block(key, hash, load(encrypt ? output : input));
    // Plaintext and key stream, not to be left behind on the stack.
    mbedtls_platform_zeroize(input, sizeof input);
    mbedtls_platform_zeroize(output, sizeof output);
  }

  hash = ghash_lengths(key, hash, aad_bytes, length);
  store(tag, _mm_xor_si128(byte_reversed(hash), tag_mask));
}

} // namespace lpm::agent::detail

#endif // LPM_GCM_X86
