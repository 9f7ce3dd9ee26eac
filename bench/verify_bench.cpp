// lpm_verify_bench: ECDSA P-256 verifications per second, PublicKey::verify (from a table of
// the key's multiples, protocol/verify_table.h) against mbedtls_pk_verify on the same key,
// message and signature, in the same run, on one thread. Every agent verifies the release
// ticket once per badge-in, and the accounting server each printed record's signed outcome
// (issue 6), so this is the cost both pay per signature. Prints one JSON line:
//
//   {"name":"ecdsa_verify","value":<verifications/s>,"unit":"verifications/s",
//    "us_per_verify":..,"peer":"mbedtls_pk_verify","peer_value":..,"ratio":..,"rounds":N}
//
// Usage: lpm_verify_bench [ROUNDS]   (default 2000)
#include <cstdio>
#include <cstdlib>
#include <string>

#include <mbedtls/pk.h>

#include "bench_support.h"
#include "lpm/protocol/keys.h"

using lpm::bench::now_ns;
using namespace lpm::proto;

int main(int argc, char **argv) {
  if (argc > 2 || (argc == 2 && (std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h"))) {
    std::fprintf(stderr, "usage: lpm_verify_bench [ROUNDS]   (default 2000)\n");
    return argc == 2 ? 0 : 2;
  }
  long rounds = argc == 2 ? std::strtol(argv[1], nullptr, 10) : 2000;
  if (rounds < 1 || rounds > 10'000'000) {
    std::fprintf(stderr, "lpm_verify_bench: ROUNDS must be 1..10000000\n");
    return 2;
  }
  auto key = KeyPair::generate();
  if (!key.ok()) {
    std::fprintf(stderr, "lpm_verify_bench: %s\n", key.error().to_string().c_str());
    return 1;
  }
  // About the size of a release ticket's signed body.
  Bytes message(420, 0x5a);
  auto sig = (*key)->sign(message);
  if (!sig.ok()) return 1;
  PublicKey pub = (*key)->public_key();
  // The first two calls, not timed: the second builds the key's table.
  if (!pub.verify(message, *sig).ok() || !pub.verify(message, *sig).ok()) {
    std::fprintf(stderr, "lpm_verify_bench: the signature does not verify\n");
    return 1;
  }
  int64_t t0 = now_ns();
  for (long i = 0; i < rounds; i++)
    if (!pub.verify(message, *sig).ok()) return 1;
  int64_t t1 = now_ns();
  Bytes hash = sha256(message);
  for (long i = 0; i < rounds; i++)
    if (mbedtls_pk_verify((*key)->pk(), MBEDTLS_MD_SHA256, hash.data(), hash.size(), sig->data(), sig->size()) != 0)
      return 1;
  int64_t t2 = now_ns();
  double ours = static_cast<double>(rounds) / (static_cast<double>(t1 - t0) / 1e9);
  double peer = static_cast<double>(rounds) / (static_cast<double>(t2 - t1) / 1e9);
  std::printf("{\"name\":\"ecdsa_verify\",\"value\":%.0f,\"unit\":\"verifications/s\",\"us_per_verify\":%.1f,"
              "\"peer\":\"mbedtls_pk_verify\",\"peer_value\":%.0f,\"peer_us_per_verify\":%.1f,\"ratio\":%.3f,"
              "\"rounds\":%ld}\n",
              ours, 1e6 / ours, peer, 1e6 / peer, ours / peer, rounds);
  return 0;
}
