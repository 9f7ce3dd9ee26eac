// ECDSA P-256 verification in the project's own arithmetic (internal to protocol/; used by
// verify_table.h).
//
// mbedTLS 2.28 verifies with its general bignum code (heap-allocated numbers, a constant-time
// multiplication with blinding): about 0.6 ms per signature with a cached table of the key's
// multiples, 1.5 ms without. Each agent verifies a release ticket in the badge-in's window, and
// the accounting server verifies every printed record's outcome, so that cost is paid often.
//
// Verification handles public values only (a public key, a hash, a signature), so this code is
// variable-time by design: it branches on the data and must never be used with a secret (no
// signing, no key agreement: those stay with mbedTLS).
//
// The field elements are 4 x 64-bit limbs in Montgomery form (R = 2^256), multiplied with
// 128-bit products; points are Jacobian (a = -3). u1·G + u2·Q is one chain of 31 doublings,
// adding a column of each scalar from a comb table (Lim-Lee, 8 teeth of 32 bits: 255 affine sums
// per point, 16 KiB; G's made once per process, Q's when the key is loaded). The affine x is
// compared with r without an inversion: r·Z² = X (mod p), or (r + n)·Z² = X when r + n < p (an
// x between n and p: rare, but valid).
#pragma once

#include <array>
#include <cstdint>
#include <span>

namespace lpm::proto::detail {

using P256Bytes = std::span<const uint8_t, 32>; // a big-endian number of 256 bits

class P256Key {
public:
  // The public point (x, y), big-endian affine coordinates. False, and `out` unchanged, when
  // either is not below p or the point is not on the curve.
  static bool load(P256Bytes x, P256Bytes y, P256Key &out);

  // ECDSA verification of `hash` (SHA-256 of the message, taken as a number as FIPS 186-4 does
  // for a 256-bit curve) against (r, s): the verdict of mbedtls_ecdsa_verify. r or s outside
  // [1, n-1] is invalid.
  bool verify(P256Bytes hash, P256Bytes r, P256Bytes s) const;

  // u1·G + u2·Q as big-endian affine coordinates; false when the sum is the point at infinity
  // or a scalar is not below n. For the tests, which compare it with mbedTLS's.
  bool combine(P256Bytes u1, P256Bytes u2, std::array<uint8_t, 32> &x, std::array<uint8_t, 32> &y) const;

  struct Affine {
    uint64_t x[4]; // Montgomery form
    uint64_t y[4];
  };

private:
  std::array<Affine, 255> comb_{}; // the comb's sums of Q's teeth (p256.cpp)
};

// For the tests: whether the Jacobian point with coordinates X and Z (big-endian field
// elements, Z not 0) has an affine x equal to r modulo n.
bool p256_x_matches(P256Bytes X, P256Bytes Z, P256Bytes r);

} // namespace lpm::proto::detail
