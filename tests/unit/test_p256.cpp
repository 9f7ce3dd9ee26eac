// The project's own P-256 arithmetic for ECDSA verification (protocol/detail/p256.h), against
// mbedTLS: u1·G + u2·Q against mbedtls_ecp_muladd (random scalars, 0, 1, n - 1, and the sums
// that make the additions meet equal and opposite points), verification of hashes mbedTLS signed
// (also a hash of 0 and one of n), a signature whose sum is the point at infinity, an x between
// n and p, and points that are not on the curve. test_keys.cpp compares whole verifications of
// altered signatures through PublicKey::verify; fuzz_signature does so on any input.
#include <catch2/catch.hpp>

#include <array>
#include <memory>
#include <random>
#include <vector>

#include <mbedtls/ecdsa.h>
#include <mbedtls/ecp.h>

#include "detail/p256.h"
#include "lpm/ids.h"
#include "lpm/protocol/keys.h"

using namespace lpm;
using namespace lpm::proto;
using detail::P256Key;
using Bytes32 = std::array<uint8_t, 32>;

namespace {

int rng(void *, unsigned char *out, size_t len) {
  random_bytes(out, len);
  return 0;
}

// mbedTLS's P-256 and a few numbers, freed at the end.
struct Curve {
  mbedtls_ecp_group grp;
  Curve() {
    mbedtls_ecp_group_init(&grp);
    REQUIRE(mbedtls_ecp_group_load(&grp, MBEDTLS_ECP_DP_SECP256R1) == 0);
  }
  ~Curve() { mbedtls_ecp_group_free(&grp); }
};

struct Mpi {
  mbedtls_mpi m;
  Mpi() { mbedtls_mpi_init(&m); }
  explicit Mpi(const Bytes32 &b) : Mpi() { REQUIRE(mbedtls_mpi_read_binary(&m, b.data(), b.size()) == 0); }
  ~Mpi() { mbedtls_mpi_free(&m); }
  Bytes32 bytes() const {
    Bytes32 out{};
    REQUIRE(mbedtls_mpi_write_binary(&m, out.data(), out.size()) == 0);
    return out;
  }
};

struct Point {
  mbedtls_ecp_point p;
  Point() { mbedtls_ecp_point_init(&p); }
  ~Point() { mbedtls_ecp_point_free(&p); }
};

// (a·b + c) mod n
Bytes32 mul_add_mod_n(const Curve &c, const Bytes32 &a, const Bytes32 &b, const Bytes32 &add) {
  Mpi ma(a), mb(b), mc(add), prod, out;
  REQUIRE(mbedtls_mpi_mul_mpi(&prod.m, &ma.m, &mb.m) == 0);
  REQUIRE(mbedtls_mpi_add_mpi(&prod.m, &prod.m, &mc.m) == 0);
  REQUIRE(mbedtls_mpi_mod_mpi(&out.m, &prod.m, &c.grp.N) == 0);
  return out.bytes();
}

Bytes32 random_scalar(const Curve &c) {
  Bytes32 b{};
  random_bytes(b.data(), b.size());
  Mpi m(b), out;
  REQUIRE(mbedtls_mpi_mod_mpi(&out.m, &m.m, &c.grp.N) == 0);
  return out.bytes();
}

Bytes32 small(uint8_t v) {
  Bytes32 b{};
  b[31] = v;
  return b;
}

Bytes32 order(const Curve &c) {
  Mpi n;
  REQUIRE(mbedtls_mpi_copy(&n.m, &c.grp.N) == 0);
  return n.bytes();
}

Bytes32 minus(const Curve &c, const Bytes32 &a) { // n - a, for a in [1, n)
  Mpi ma(a), out;
  REQUIRE(mbedtls_mpi_sub_mpi(&out.m, &c.grp.N, &ma.m) == 0);
  return out.bytes();
}

// A key pair as mbedTLS holds it: the secret d and Q = d·G, and the same Q loaded by us.
struct TestKey {
  Bytes32 d{};
  Bytes32 qx{}, qy{};
  P256Key ours;
};

TestKey key_of(const Curve &c, const Bytes32 &d) {
  TestKey k;
  k.d = d;
  Mpi md(d);
  Point q;
  REQUIRE(mbedtls_ecp_mul(const_cast<mbedtls_ecp_group *>(&c.grp), &q.p, &md.m, &c.grp.G, rng, nullptr) == 0);
  Mpi x, y;
  REQUIRE(mbedtls_mpi_copy(&x.m, &q.p.X) == 0);
  REQUIRE(mbedtls_mpi_copy(&y.m, &q.p.Y) == 0);
  k.qx = x.bytes();
  k.qy = y.bytes();
  REQUIRE(P256Key::load(k.qx, k.qy, k.ours));
  return k;
}

// mbedTLS's u1·G + u2·Q: false for the point at infinity.
bool reference_combine(const Curve &c, const TestKey &k, const Bytes32 &u1, const Bytes32 &u2, Bytes32 &x,
                       Bytes32 &y) {
  Mpi m1(u1), m2(u2), qx(k.qx), qy(k.qy);
  Point q, sum;
  REQUIRE(mbedtls_mpi_copy(&q.p.X, &qx.m) == 0);
  REQUIRE(mbedtls_mpi_copy(&q.p.Y, &qy.m) == 0);
  REQUIRE(mbedtls_mpi_lset(&q.p.Z, 1) == 0);
  REQUIRE(mbedtls_ecp_muladd(const_cast<mbedtls_ecp_group *>(&c.grp), &sum.p, &m1.m, &c.grp.G, &m2.m, &q.p) ==
          0);
  if (mbedtls_ecp_is_zero(&sum.p)) return false;
  Mpi sx, sy;
  REQUIRE(mbedtls_mpi_copy(&sx.m, &sum.p.X) == 0);
  REQUIRE(mbedtls_mpi_copy(&sy.m, &sum.p.Y) == 0);
  x = sx.bytes();
  y = sy.bytes();
  return true;
}

void check_combine(const Curve &c, const TestKey &k, const Bytes32 &u1, const Bytes32 &u2) {
  Bytes32 x{}, y{}, rx{}, ry{};
  bool ours = k.ours.combine(u1, u2, x, y);
  bool theirs = reference_combine(c, k, u1, u2, rx, ry);
  REQUIRE(ours == theirs);
  if (ours) {
    CHECK(x == rx);
    CHECK(y == ry);
  }
}

// An ECDSA signature of `hash` (taken as is: no hashing here) by mbedTLS.
void sign_hash(const Curve &c, const TestKey &k, const Bytes32 &hash, Bytes32 &r, Bytes32 &s) {
  Mpi d(k.d), mr, ms;
  REQUIRE(mbedtls_ecdsa_sign(const_cast<mbedtls_ecp_group *>(&c.grp), &mr.m, &ms.m, &d.m, hash.data(),
                             hash.size(), rng, nullptr) == 0);
  r = mr.bytes();
  s = ms.bytes();
}

bool reference_verify(const Curve &c, const TestKey &k, const Bytes32 &hash, const Bytes32 &r,
                      const Bytes32 &s) {
  Mpi mr(r), ms(s), qx(k.qx), qy(k.qy);
  Point q;
  REQUIRE(mbedtls_mpi_copy(&q.p.X, &qx.m) == 0);
  REQUIRE(mbedtls_mpi_copy(&q.p.Y, &qy.m) == 0);
  REQUIRE(mbedtls_mpi_lset(&q.p.Z, 1) == 0);
  return mbedtls_ecdsa_verify(const_cast<mbedtls_ecp_group *>(&c.grp), hash.data(), hash.size(), &q.p, &mr.m,
                              &ms.m) == 0;
}

} // namespace

TEST_CASE("u1 G + u2 Q is mbedTLS's for random keys and scalars and at the scalars' ends", "[p256]") {
  Curve c;
  Bytes32 n_minus_1 = minus(c, small(1));
  for (int round = 0; round < 12; round++) {
    TestKey k = key_of(c, random_scalar(c));
    for (int i = 0; i < 8; i++)
      check_combine(c, k, random_scalar(c), random_scalar(c));
    check_combine(c, k, small(0), random_scalar(c));
    check_combine(c, k, random_scalar(c), small(0));
    check_combine(c, k, small(1), small(1));
    check_combine(c, k, n_minus_1, n_minus_1);
    check_combine(c, k, n_minus_1, small(1));
    // u1 = u2·d: both halves are the same point, so the sum is a doubling.
    Bytes32 u2 = random_scalar(c);
    check_combine(c, k, mul_add_mod_n(c, u2, k.d, small(0)), u2);
    // u1 = -u2·d: the halves cancel (the point at infinity).
    Bytes32 cancel = minus(c, mul_add_mod_n(c, u2, k.d, small(0)));
    Bytes32 x{}, y{};
    CHECK_FALSE(k.ours.combine(cancel, u2, x, y));
    check_combine(c, k, cancel, u2);
  }
  SECTION("scalars not below n are refused") {
    TestKey k = key_of(c, random_scalar(c));
    Bytes32 x{}, y{};
    CHECK_FALSE(k.ours.combine(order(c), small(1), x, y));
    CHECK_FALSE(k.ours.combine(small(1), order(c), x, y));
  }
}

TEST_CASE("the additions meet equal and opposite points: Q = G and Q = -G", "[p256]") {
  // With Q = G and u1 = u2, each column adds G's comb entry to itself once the sum starts: the
  // doubling branch. With Q = -G, the entries are opposite: the infinity branch, then a restart.
  Curve c;
  TestKey g = key_of(c, small(1));
  TestKey minus_g = key_of(c, minus(c, small(1)));
  for (int i = 0; i < 16; i++) {
    Bytes32 u = random_scalar(c);
    check_combine(c, g, u, u);
    Bytes32 x{}, y{};
    CHECK_FALSE(minus_g.ours.combine(u, u, x, y));
    check_combine(c, minus_g, u, random_scalar(c));
    check_combine(c, g, u, minus(c, u));
  }
}

TEST_CASE("verification agrees with mbedtls_ecdsa_verify on its signatures, altered ones and odd hashes",
          "[p256]") {
  Curve c;
  for (int round = 0; round < 8; round++) {
    TestKey k = key_of(c, random_scalar(c));
    TestKey other = key_of(c, random_scalar(c));
    std::vector<Bytes32> hashes{small(0), order(c), Bytes32{}};
    hashes[2].fill(0xff); // above n: taken mod n
    for (int i = 0; i < 5; i++) {
      Bytes32 h{};
      random_bytes(h.data(), h.size());
      hashes.push_back(h);
    }
    for (const Bytes32 &h : hashes) {
      Bytes32 r{}, s{};
      sign_hash(c, k, h, r, s);
      REQUIRE(reference_verify(c, k, h, r, s));
      CHECK(k.ours.verify(h, r, s));
      CHECK_FALSE(other.ours.verify(h, r, s));
      Bytes32 h2 = h;
      h2[static_cast<size_t>(round) % 32] ^= 0x10;
      CHECK(k.ours.verify(h2, r, s) == reference_verify(c, k, h2, r, s));
      Bytes32 s2 = s;
      s2[31 - static_cast<size_t>(round)] ^= 0x01;
      CHECK(k.ours.verify(h, r, s2) == reference_verify(c, k, h, r, s2));
      // (r, n - s) verifies too: it gives -R, whose x is R's.
      CHECK(k.ours.verify(h, r, minus(c, s)) == reference_verify(c, k, h, r, minus(c, s)));
    }
  }
  SECTION("r and s out of [1, n - 1]") {
    TestKey k = key_of(c, random_scalar(c));
    Bytes32 h = small(7);
    for (const auto &[r, s] : std::vector<std::pair<Bytes32, Bytes32>>{
             {small(0), small(1)}, {small(1), small(0)}, {order(c), small(1)}, {small(1), order(c)}}) {
      CHECK_FALSE(k.ours.verify(h, r, s));
      CHECK_FALSE(reference_verify(c, k, h, r, s));
    }
  }
  SECTION("a signature whose sum is the point at infinity") {
    // e = -r·d (mod n) makes u1·G + u2·Q = (e + r·d)·s^-1·G = 0 for any s.
    TestKey k = key_of(c, random_scalar(c));
    Bytes32 r = random_scalar(c), s = random_scalar(c);
    Bytes32 e = minus(c, mul_add_mod_n(c, r, k.d, small(0)));
    CHECK_FALSE(k.ours.verify(e, r, s));
    CHECK_FALSE(reference_verify(c, k, e, r, s));
  }
}

TEST_CASE("an x between n and p matches r = x - n", "[p256]") {
  // x = n + t for small t. The comparison reads X and Z only, so x need not be on the curve.
  // Z = 1, and Z = 2 (X = x·Z²).
  Curve c;
  Mpi n, p;
  REQUIRE(mbedtls_mpi_copy(&n.m, &c.grp.N) == 0);
  REQUIRE(mbedtls_mpi_copy(&p.m, &c.grp.P) == 0);
  for (uint8_t t = 1; t < 5; t++) {
    Mpi x, r;
    REQUIRE(mbedtls_mpi_add_int(&x.m, &n.m, t) == 0);
    REQUIRE(mbedtls_mpi_lset(&r.m, t) == 0);
    CHECK(detail::p256_x_matches(x.bytes(), small(1), r.bytes()));
    CHECK_FALSE(detail::p256_x_matches(x.bytes(), small(1), small(static_cast<uint8_t>(t + 1))));
    Mpi x4; // x·2² mod p
    REQUIRE(mbedtls_mpi_mul_int(&x4.m, &x.m, 4) == 0);
    REQUIRE(mbedtls_mpi_mod_mpi(&x4.m, &x4.m, &p.m) == 0);
    CHECK(detail::p256_x_matches(x4.bytes(), small(2), r.bytes()));
  }
  // x below n: r = x, and r + n does not match.
  CHECK(detail::p256_x_matches(small(9), small(1), small(9)));
  CHECK_FALSE(detail::p256_x_matches(small(9), small(1), small(8)));
}

TEST_CASE("points off the curve or with coordinates not below p are not loaded", "[p256]") {
  Curve c;
  TestKey k = key_of(c, random_scalar(c));
  P256Key loaded;
  Bytes32 y = k.qy;
  y[31] ^= 0x01;
  CHECK_FALSE(P256Key::load(k.qx, y, loaded));
  Mpi p;
  REQUIRE(mbedtls_mpi_copy(&p.m, &c.grp.P) == 0);
  CHECK_FALSE(P256Key::load(p.bytes(), k.qy, loaded));
  CHECK_FALSE(P256Key::load(k.qx, p.bytes(), loaded));
  CHECK_FALSE(P256Key::load(small(0), small(0), loaded));
  // y and p - y are both on the curve.
  Mpi my(k.qy), neg;
  REQUIRE(mbedtls_mpi_sub_mpi(&neg.m, &p.m, &my.m) == 0);
  CHECK(P256Key::load(k.qx, neg.bytes(), loaded));
}
