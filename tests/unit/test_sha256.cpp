// SHA-256 (proto::Sha256, proto::sha256) on both of its paths, the x86 SHA extensions and mbedTLS:
// the FIPS 180-4 example messages, and random messages of every length up to a few blocks and
// some large ones, split at random points, against mbedtls_sha256_ret.
#include <catch2/catch.hpp>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include <mbedtls/sha256.h>

#include "detail/sha256.h"
#include "lpm/ids.h"
#include "lpm/protocol/keys.h"

using namespace lpm;
using namespace lpm::proto;
using detail::Sha256Path;

namespace {

// The paths this CPU can run: mbedTLS always, the accelerated one where the CPU has it.
std::vector<bool> paths_to_test() {
  if (Sha256Path::accelerated_available()) return {false, true};
  WARN("this CPU has no SHA extensions: only the mbedTLS path is tested");
  return {false};
}

const char *path_name(bool accelerated) {
  return accelerated ? "accelerated" : "mbedTLS";
}

Bytes reference_sha256(std::span<const uint8_t> data) {
  Bytes out(32);
  REQUIRE(mbedtls_sha256_ret(data.data(), data.size(), out.data(), 0) == 0);
  return out;
}

// The message fed in pieces that end at `cuts` (ascending offsets into it).
Bytes sha256_in_pieces(bool accelerated, std::span<const uint8_t> message, const std::vector<size_t> &cuts) {
  Sha256 hash = Sha256Path::make(accelerated);
  size_t at = 0;
  for (size_t cut : cuts) {
    hash.update(message.subspan(at, cut - at));
    at = cut;
  }
  hash.update(message.subspan(at));
  return hash.finish();
}

// Up to `max_cuts` random cut points in 0..size (repeats allowed: empty updates).
std::vector<size_t> random_cuts(std::mt19937_64 &rng, size_t size, size_t max_cuts) {
  std::vector<size_t> cuts(std::uniform_int_distribution<size_t>(0, max_cuts)(rng));
  for (size_t &cut : cuts)
    cut = std::uniform_int_distribution<size_t>(0, size)(rng);
  std::sort(cuts.begin(), cuts.end());
  return cuts;
}

Bytes random_message(std::mt19937_64 &rng, size_t size) {
  Bytes message(size);
  for (uint8_t &byte : message)
    byte = static_cast<uint8_t>(rng());
  return message;
}

Bytes text_bytes(std::string_view s) {
  return Bytes(s.begin(), s.end());
}

} // namespace

TEST_CASE("sha256 gives the FIPS 180-4 example digests on both paths", "[sha256]") {
  struct Example {
    std::string message;
    const char *digest;
  };
  const Example examples[] = {
      {"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
      {"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
      {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
       "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
      {"abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnop"
       "qrstnopqrstu",
       "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1"},
      {std::string(1'000'000, 'a'), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"},
  };
  for (bool accelerated : paths_to_test()) {
    for (const Example &example : examples) {
      INFO(path_name(accelerated) << " path, a message of " << example.message.size() << " bytes");
      Bytes message = text_bytes(example.message);
      Sha256 whole = Sha256Path::make(accelerated);
      whole.update(message);
      CHECK(to_hex(whole.finish()) == example.digest);
      // A byte at a time: every offset in the block is where an update ends.
      if (message.size() <= 1000) {
        Sha256 bytewise = Sha256Path::make(accelerated);
        for (size_t i = 0; i < message.size(); i++)
          bytewise.update(std::span<const uint8_t>(message).subspan(i, 1));
        CHECK(to_hex(bytewise.finish()) == example.digest);
      }
    }
  }
}

TEST_CASE("sha256 agrees with mbedtls_sha256_ret on every length up to 300, split at random points",
          "[sha256]") {
  std::mt19937_64 rng(Catch::rngSeed());
  for (bool accelerated : paths_to_test()) {
    for (size_t size = 0; size <= 300; size++) {
      Bytes message = random_message(rng, size);
      Bytes expected = reference_sha256(message);
      INFO(path_name(accelerated) << " path, " << size << " bytes");
      CHECK(sha256_in_pieces(accelerated, message, {}) == expected);
      for (int split = 0; split < 8; split++) {
        std::vector<size_t> cuts = random_cuts(rng, size, 4);
        INFO("split " << split << " with " << cuts.size() << " cuts");
        CHECK(sha256_in_pieces(accelerated, message, cuts) == expected);
      }
    }
  }
}

TEST_CASE("sha256 agrees with mbedtls_sha256_ret on large messages, split at random points", "[sha256]") {
  std::mt19937_64 rng(Catch::rngSeed() + 1);
  const size_t sizes[] = {4096, 65'535, 65'536, 100'000, 100'001, 1'048'575, 1'048'576};
  for (size_t size : sizes) {
    Bytes message = random_message(rng, size);
    Bytes expected = reference_sha256(message);
    for (bool accelerated : paths_to_test()) {
      INFO(path_name(accelerated) << " path, " << size << " bytes");
      CHECK(sha256_in_pieces(accelerated, message, {}) == expected);
      CHECK(sha256_in_pieces(accelerated, message, random_cuts(rng, size, 64)) == expected);
    }
  }
}

TEST_CASE("Sha256() and sha256() take the chosen path and agree with mbedTLS", "[sha256]") {
  // LPM_SHA256_PORTABLE=1 in the test's environment turns the accelerated path off here.
  INFO("Sha256() runs the " << path_name(Sha256Path::accelerated_chosen()) << " path");
  if (!Sha256Path::accelerated_available()) CHECK_FALSE(Sha256Path::accelerated_chosen());
  std::mt19937_64 rng(Catch::rngSeed() + 2);
  Bytes message = random_message(rng, 100'000);
  Bytes expected = reference_sha256(message);
  CHECK(sha256(message) == expected);
  Sha256 hash;
  hash.update(std::span<const uint8_t>(message).first(33'333));
  hash.update(std::span<const uint8_t>(message).subspan(33'333));
  CHECK(hash.finish() == expected);
}
