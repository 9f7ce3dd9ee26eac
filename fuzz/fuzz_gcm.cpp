// Fuzz target: the job store's AES-256-GCM (agent::Gcm), differential. Input: a nonce byte N
// (below 0x80: a 12-byte nonce, the store's; otherwise (N & 0x7f) + 1 bytes, which GCM hashes),
// an AAD length byte, a byte choosing the bit to flip, then the 32-byte key, the nonce, the AAD,
// and the rest as plaintext. The accelerated path (AES-NI + PCLMULQDQ, agent/gcm_x86.cpp) must
// seal to exactly the mbedTLS path's bytes, also in place; both must open them back, refuse
// them with one bit flipped (zeroing their output), and give the same verdict on the plaintext
// taken as a forged sealed input. Any disagreement aborts. On a CPU without the instructions
// both paths are mbedTLS.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "detail/gcm.h"
#include "spool_crypto.h"

using namespace lpm::agent;

namespace {

constexpr size_t kHeaderBytes = 3;

void check(bool condition) {
  if (!condition) std::abort();
}

bool all_zero(const Bytes &bytes, size_t size) {
  return std::all_of(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(size),
                     [](uint8_t b) { return b == 0; });
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < kHeaderBytes + kKeyBytes) return 0;
  const size_t nonce_bytes = data[0] < 0x80 ? kNonceBytes : size_t{data[0] & 0x7fu} + 1;
  const size_t aad_bytes = data[1];
  const uint8_t flip = data[2];
  std::span<const uint8_t> rest(data + kHeaderBytes, size - kHeaderBytes);
  if (rest.size() < kKeyBytes + nonce_bytes + aad_bytes) return 0;
  SecretKey key;
  check(SecretKey::from(rest.first(kKeyBytes), key));
  rest = rest.subspan(kKeyBytes);
  const std::span<const uint8_t> nonce = rest.first(nonce_bytes);
  const std::span<const uint8_t> aad = rest.subspan(nonce_bytes, aad_bytes);
  const std::span<const uint8_t> plaintext = rest.subspan(nonce_bytes + aad_bytes);

  Gcm fast = detail::GcmPath::make(key, true);
  Gcm portable = detail::GcmPath::make(key, false);
  const size_t sealed_bytes = plaintext.size() + kTagBytes;

  Bytes sealed(sealed_bytes), expected(sealed_bytes);
  fast.seal(nonce, aad, plaintext, sealed.data());
  portable.seal(nonce, aad, plaintext, expected.data());
  check(sealed == expected);
  Bytes in_place(plaintext.begin(), plaintext.end());
  in_place.resize(sealed_bytes);
  fast.seal(nonce, aad, std::span<const uint8_t>(in_place).first(plaintext.size()), in_place.data());
  check(in_place == expected);

  Bytes fast_out(sealed_bytes), portable_out(sealed_bytes);
  check(fast.open(nonce, aad, sealed, fast_out.data()));
  check(portable.open(nonce, aad, sealed, portable_out.data()));
  check(std::equal(plaintext.begin(), plaintext.end(), fast_out.begin()));
  check(std::equal(plaintext.begin(), plaintext.end(), portable_out.begin()));
  check(fast.open(nonce, aad, in_place, in_place.data()));
  check(std::equal(plaintext.begin(), plaintext.end(), in_place.begin()));

  Bytes changed = sealed;
  const size_t bit = (size_t{flip} * 131 + plaintext.size()) % (sealed_bytes * 8);
  changed[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
  check(!fast.open(nonce, aad, changed, fast_out.data()) && all_zero(fast_out, plaintext.size()));
  check(!portable.open(nonce, aad, changed, portable_out.data()) && all_zero(portable_out, plaintext.size()));

  // The plaintext as a sealed input of its own: a forgery, both paths must say the same.
  const bool fast_opens = fast.open(nonce, aad, plaintext, fast_out.data());
  const bool portable_opens = portable.open(nonce, aad, plaintext, portable_out.data());
  check(fast_opens == portable_opens);
  if (fast_opens && plaintext.size() >= kTagBytes)
    check(std::equal(fast_out.begin(),
                     fast_out.begin() + static_cast<std::ptrdiff_t>(plaintext.size() - kTagBytes),
                     portable_out.begin()));
  return 0;
}
