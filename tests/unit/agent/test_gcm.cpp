// agent::Gcm, the job store's AES-256-GCM, on both of its paths, x86 AES-NI + PCLMULQDQ and
// mbedTLS: the McGrew-Viega test vectors with 96-bit IVs, random messages of every length up to
// 300 bytes with every AAD length up to 40 and large ones up to 1 MB against
// mbedtls_gcm_crypt_and_tag in both directions, other nonce lengths and a counter that wraps,
// in-place use, and open() refusing any change. The stored format must not depend on the path.
#include <catch2/catch.hpp>

#include <algorithm>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <mbedtls/aes.h>
#include <mbedtls/gcm.h>

#include "detail/gcm.h"
#include "lpm/ids.h"
#include "spool_crypto.h"

using namespace lpm;
using namespace lpm::agent;
using lpm::agent::detail::GcmPath;

namespace {

// The paths this CPU can run: mbedTLS always, the accelerated one where the CPU has it.
std::vector<bool> paths_to_test() {
  if (GcmPath::accelerated_available()) return {false, true};
  WARN("this CPU has no AES-NI and PCLMULQDQ: only the mbedTLS path is tested");
  return {false};
}

const char *path_name(bool accelerated) {
  return accelerated ? "accelerated" : "mbedTLS";
}

Bytes random_bytes_of(std::mt19937_64 &rng, size_t size) {
  Bytes bytes(size);
  for (uint8_t &byte : bytes)
    byte = static_cast<uint8_t>(rng());
  return bytes;
}

SecretKey key_of(const Bytes &bytes) {
  SecretKey key;
  REQUIRE(SecretKey::from(bytes, key));
  return key;
}

Bytes hex(std::string_view text) {
  Bytes out;
  REQUIRE(from_hex(text, out));
  return out;
}

// ciphertext | tag from mbedTLS itself, on a context of its own.
Bytes reference_seal(const SecretKey &key, const Bytes &nonce, const Bytes &aad, const Bytes &plaintext) {
  mbedtls_gcm_context ctx;
  mbedtls_gcm_init(&ctx);
  REQUIRE(mbedtls_gcm_setkey(&ctx, MBEDTLS_CIPHER_ID_AES, key.bytes().data(), 256) == 0);
  Bytes sealed(plaintext.size() + kTagBytes);
  const int rc = mbedtls_gcm_crypt_and_tag(&ctx, MBEDTLS_GCM_ENCRYPT, plaintext.size(), nonce.data(),
                                           nonce.size(), aad.data(), aad.size(), plaintext.data(),
                                           sealed.data(), kTagBytes, sealed.data() + plaintext.size());
  mbedtls_gcm_free(&ctx);
  REQUIRE(rc == 0);
  return sealed;
}

Bytes seal_on(Gcm &gcm, const Bytes &nonce, const Bytes &aad, const Bytes &plaintext) {
  Bytes sealed(plaintext.size() + kTagBytes);
  gcm.seal(nonce, aad, plaintext, sealed.data());
  return sealed;
}

std::optional<Bytes> open_on(Gcm &gcm, const Bytes &nonce, const Bytes &aad, const Bytes &sealed) {
  Bytes plaintext(sealed.size() >= kTagBytes ? sealed.size() - kTagBytes : 0);
  if (!gcm.open(nonce, aad, sealed, plaintext.data())) return std::nullopt;
  return plaintext;
}

// Seals on `gcm` and mbedTLS, and opens each's output on `gcm`.
void check_against_mbedtls(Gcm &gcm, const SecretKey &key, const Bytes &nonce, const Bytes &aad,
                           const Bytes &plaintext) {
  const Bytes expected = reference_seal(key, nonce, aad, plaintext);
  CHECK(seal_on(gcm, nonce, aad, plaintext) == expected);
  const std::optional<Bytes> opened = open_on(gcm, nonce, aad, expected);
  REQUIRE(opened.has_value());
  CHECK(*opened == plaintext);
}

} // namespace

TEST_CASE("gcm gives the McGrew-Viega AES-256 test vectors (96-bit IV) on both paths", "[gcm]") {
  struct Vector {
    const char *name;
    std::string key, nonce, aad, plaintext, ciphertext, tag;
  };
  const std::string zero_key(64, '0'), zero_nonce(24, '0');
  const std::string key_15 = "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308";
  const std::string plaintext_15 = "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
                                   "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255";
  const std::string ciphertext_15 = "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
                                    "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662898015ad";
  const Vector vectors[] = {
      {"test case 13", zero_key, zero_nonce, "", "", "", "530f8afbc74536b9a963b4f1c4cb738b"},
      {"test case 14", zero_key, zero_nonce, "", std::string(32, '0'), "cea7403d4d606b6e074ec5d3baf39d18",
       "d0d1c8a799996bf0265b98b5d48ab919"},
      {"test case 15", key_15, "cafebabefacedbaddecaf888", "", plaintext_15, ciphertext_15,
       "b094dac5d93471bdec1a502270e3cc6c"},
      // The first 60 bytes of test case 15's plaintext, with AAD.
      {"test case 16", key_15, "cafebabefacedbaddecaf888", "feedfacedeadbeeffeedfacedeadbeefabaddad2",
       plaintext_15.substr(0, 120), ciphertext_15.substr(0, 120), "76fc6ece0f4e1768cddf8853bb2d551b"},
  };
  for (bool accelerated : paths_to_test()) {
    for (const Vector &vector : vectors) {
      INFO(path_name(accelerated) << " path, " << vector.name);
      const SecretKey key = key_of(hex(vector.key));
      const Bytes nonce = hex(vector.nonce), aad = hex(vector.aad), plaintext = hex(vector.plaintext);
      const Bytes expected = hex(vector.ciphertext + vector.tag);
      Gcm gcm = GcmPath::make(key, accelerated);
      CHECK(GcmPath::accelerated(gcm) == accelerated);
      CHECK(to_hex(seal_on(gcm, nonce, aad, plaintext)) == to_hex(expected));
      const std::optional<Bytes> opened = open_on(gcm, nonce, aad, expected);
      REQUIRE(opened.has_value());
      CHECK(*opened == plaintext);
      // The vectors check the reference too.
      CHECK(reference_seal(key, nonce, aad, plaintext) == expected);
    }
  }
}

TEST_CASE("gcm agrees with mbedtls_gcm_crypt_and_tag on every length up to 300 and AAD up to 40", "[gcm]") {
  std::mt19937_64 rng(Catch::rngSeed());
  for (bool accelerated : paths_to_test()) {
    for (size_t size = 0; size <= 300; size++) {
      const SecretKey key = key_of(random_bytes_of(rng, kKeyBytes));
      Gcm gcm = GcmPath::make(key, accelerated);
      const Bytes plaintext = random_bytes_of(rng, size);
      for (size_t aad_size = 0; aad_size <= 40; aad_size++) {
        INFO(path_name(accelerated) << " path, " << size << " bytes, " << aad_size << " bytes of AAD");
        check_against_mbedtls(gcm, key, random_bytes_of(rng, kNonceBytes), random_bytes_of(rng, aad_size),
                              plaintext);
      }
    }
  }
}

TEST_CASE("gcm agrees with mbedtls_gcm_crypt_and_tag on large messages, the store's chunk among them",
          "[gcm]") {
  std::mt19937_64 rng(Catch::rngSeed() + 1);
  // 65,536: a whole chunk of the spool, sealed into a 65,552-byte record.
  const size_t sizes[] = {4096, 65'535, 65'536, 65'536 + 16, 65'537, 100'000, 1'048'575, 1'048'576};
  // The store's AAD: 20-byte header, 36-character job id, 8-byte index, final byte.
  const size_t aad_sizes[] = {0, kSpoolHeaderBytes + 36 + 8 + 1, 128, 1000};
  for (size_t size : sizes) {
    const SecretKey key = key_of(random_bytes_of(rng, kKeyBytes));
    const Bytes plaintext = random_bytes_of(rng, size);
    for (bool accelerated : paths_to_test()) {
      Gcm gcm = GcmPath::make(key, accelerated);
      for (size_t aad_size : aad_sizes) {
        INFO(path_name(accelerated) << " path, " << size << " bytes, " << aad_size << " bytes of AAD");
        check_against_mbedtls(gcm, key, random_bytes_of(rng, kNonceBytes), random_bytes_of(rng, aad_size),
                              plaintext);
      }
    }
  }
}

TEST_CASE("gcm agrees with mbedTLS on nonces of other lengths, which GCM hashes", "[gcm]") {
  std::mt19937_64 rng(Catch::rngSeed() + 2);
  const size_t nonce_sizes[] = {1, 8, 11, 13, 16, 17, 60, 64, 200};
  const size_t sizes[] = {0, 1, 16, 127, 128, 129, 1000};
  for (bool accelerated : paths_to_test()) {
    const SecretKey key = key_of(random_bytes_of(rng, kKeyBytes));
    Gcm gcm = GcmPath::make(key, accelerated);
    for (size_t nonce_size : nonce_sizes) {
      for (size_t size : sizes) {
        INFO(path_name(accelerated) << " path, a nonce of " << nonce_size << " bytes, " << size << " bytes");
        check_against_mbedtls(gcm, key, random_bytes_of(rng, nonce_size), random_bytes_of(rng, 13),
                              random_bytes_of(rng, size));
      }
    }
  }
}

TEST_CASE("gcm's 32-bit block counter wraps as mbedTLS's does", "[gcm]") {
  // A hashed nonce can start the counter anywhere: find one whose counter passes 2^32 - 1 within
  // a 1 MB message (one in 2^16), by reading each candidate's first counter block back out of
  // the key stream: mbedTLS's ciphertext of a zero block, AES-decrypted.
  std::mt19937_64 rng(Catch::rngSeed() + 3);
  const SecretKey key = key_of(random_bytes_of(rng, kKeyBytes));
  const size_t size = 1'048'576;
  mbedtls_aes_context aes;
  mbedtls_aes_init(&aes);
  REQUIRE(mbedtls_aes_setkey_dec(&aes, key.bytes().data(), 256) == 0);
  Gcm reference = GcmPath::make(key, false);
  const Bytes zeros(16, 0);
  Bytes nonce;
  for (int attempt = 0; attempt < 4'000'000; attempt++) {
    Bytes candidate = random_bytes_of(rng, 16);
    Bytes sealed = seal_on(reference, candidate, {}, zeros);
    uint8_t counter_block[16];
    REQUIRE(mbedtls_aes_crypt_ecb(&aes, MBEDTLS_AES_DECRYPT, sealed.data(), counter_block) == 0);
    const uint32_t counter = (uint32_t{counter_block[12]} << 24) | (uint32_t{counter_block[13]} << 16) |
                             (uint32_t{counter_block[14]} << 8) | uint32_t{counter_block[15]};
    // Past 2^32 - 1 after at least a few whole groups of eight blocks, before the last.
    if (counter > 0xffffffffu - size / 16 + 64 && counter < 0xffffffffu - 64) {
      nonce = candidate;
      break;
    }
  }
  mbedtls_aes_free(&aes);
  REQUIRE(!nonce.empty());
  const Bytes plaintext = random_bytes_of(rng, size + 5);
  for (bool accelerated : paths_to_test()) {
    INFO(path_name(accelerated) << " path");
    Gcm gcm = GcmPath::make(key, accelerated);
    check_against_mbedtls(gcm, key, nonce, random_bytes_of(rng, 7), plaintext);
  }
}

TEST_CASE("gcm seals and opens in place on both paths", "[gcm]") {
  std::mt19937_64 rng(Catch::rngSeed() + 4);
  const size_t sizes[] = {0, 1, 15, 16, 17, 127, 128, 129, 255, 256, 300, 4096 + 33, 65'536};
  for (bool accelerated : paths_to_test()) {
    const SecretKey key = key_of(random_bytes_of(rng, kKeyBytes));
    Gcm gcm = GcmPath::make(key, accelerated);
    for (size_t size : sizes) {
      INFO(path_name(accelerated) << " path, " << size << " bytes");
      const Bytes nonce = random_bytes_of(rng, kNonceBytes), aad = random_bytes_of(rng, 21);
      const Bytes plaintext = random_bytes_of(rng, size);
      Bytes buffer = plaintext;
      buffer.resize(size + kTagBytes);
      gcm.seal(nonce, aad, std::span<const uint8_t>(buffer.data(), size), buffer.data());
      CHECK(buffer == reference_seal(key, nonce, aad, plaintext));
      REQUIRE(gcm.open(nonce, aad, buffer, buffer.data()));
      CHECK(std::equal(plaintext.begin(), plaintext.end(), buffer.begin()));
    }
  }
}

TEST_CASE("gcm's open refuses any changed bit, a short input and an empty nonce, and zeroes its output",
          "[gcm]") {
  std::mt19937_64 rng(Catch::rngSeed() + 5);
  for (bool accelerated : paths_to_test()) {
    for (size_t size : {size_t{0}, size_t{1}, size_t{37}, size_t{200}}) {
      INFO(path_name(accelerated) << " path, " << size << " bytes");
      const SecretKey key = key_of(random_bytes_of(rng, kKeyBytes));
      Gcm gcm = GcmPath::make(key, accelerated);
      const Bytes nonce = random_bytes_of(rng, kNonceBytes), aad = random_bytes_of(rng, 23);
      const Bytes plaintext = random_bytes_of(rng, size);
      const Bytes sealed = seal_on(gcm, nonce, aad, plaintext);
      REQUIRE(open_on(gcm, nonce, aad, sealed) == plaintext);

      // Every bit of the ciphertext and the tag.
      for (size_t bit = 0; bit < sealed.size() * 8; bit++) {
        Bytes changed = sealed;
        changed[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
        Bytes out(size, 0xaa);
        INFO("bit " << bit << (bit / 8 >= size ? " (tag)" : " (ciphertext)"));
        CHECK_FALSE(gcm.open(nonce, aad, changed, out.data()));
        // mbedTLS wipes what it decrypted before saying no; so must the accelerated path.
        CHECK(std::all_of(out.begin(), out.end(), [](uint8_t b) { return b == 0; }));
      }
      for (size_t bit = 0; bit < aad.size() * 8; bit++) {
        Bytes changed = aad;
        changed[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
        INFO("AAD bit " << bit);
        CHECK_FALSE(open_on(gcm, nonce, changed, sealed).has_value());
      }
      for (size_t bit = 0; bit < nonce.size() * 8; bit++) {
        Bytes changed = nonce;
        changed[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
        INFO("nonce bit " << bit);
        CHECK_FALSE(open_on(gcm, changed, aad, sealed).has_value());
      }
      // AAD moved into the ciphertext or cut short, and the wrong key.
      CHECK_FALSE(open_on(gcm, nonce, Bytes(aad.begin(), aad.end() - 1), sealed).has_value());
      CHECK_FALSE(open_on(gcm, nonce, {}, sealed).has_value());
      Gcm other = GcmPath::make(key_of(random_bytes_of(rng, kKeyBytes)), accelerated);
      CHECK_FALSE(open_on(other, nonce, aad, sealed).has_value());
      // Truncated: shorter than a tag, or a byte short.
      for (size_t length = 0; length < kTagBytes; length++) {
        uint8_t out[1] = {0x55};
        INFO(length << " bytes");
        CHECK_FALSE(gcm.open(nonce, aad, std::span<const uint8_t>(sealed).first(length), out));
        CHECK(out[0] == 0x55);
      }
      CHECK_FALSE(open_on(gcm, nonce, aad, Bytes(sealed.begin(), sealed.end() - 1)).has_value());
      CHECK_FALSE(open_on(gcm, {}, aad, sealed).has_value());
    }
  }
}

TEST_CASE("Gcm(key) takes the chosen path and agrees with mbedTLS", "[gcm]") {
  // LPM_GCM_PORTABLE=1 in the test's environment turns the accelerated path off here.
  INFO("Gcm(key) runs the " << path_name(GcmPath::accelerated_chosen()) << " path");
  if (!GcmPath::accelerated_available()) CHECK_FALSE(GcmPath::accelerated_chosen());
  std::mt19937_64 rng(Catch::rngSeed() + 6);
  const SecretKey key = key_of(random_bytes_of(rng, kKeyBytes));
  Gcm gcm(key);
  CHECK(GcmPath::accelerated(gcm) == GcmPath::accelerated_chosen());
  // A path asked for on a CPU without it is mbedTLS.
  CHECK(GcmPath::accelerated(GcmPath::make(key, true)) == GcmPath::accelerated_available());
  check_against_mbedtls(gcm, key, random_bytes_of(rng, kNonceBytes), random_bytes_of(rng, 30),
                        random_bytes_of(rng, 100'000));
}
