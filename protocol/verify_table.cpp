#include "verify_table.h"

#include <mbedtls/asn1.h>
#include <mbedtls/bignum.h>

#include "lpm/ids.h"

namespace lpm::proto {

namespace {

int rng(void *, unsigned char *out, size_t len) {
  random_bytes(out, len);
  return 0;
}

// mbedtls_mpi values freed at scope exit.
struct Mpis {
  mbedtls_mpi r, s, e, w, u1, u2, one, v;
  Mpis() {
    for (mbedtls_mpi *m : {&r, &s, &e, &w, &u1, &u2, &one, &v})
      mbedtls_mpi_init(m);
  }
  ~Mpis() {
    for (mbedtls_mpi *m : {&r, &s, &e, &w, &u1, &u2, &one, &v})
      mbedtls_mpi_free(m);
  }
};

struct Points {
  mbedtls_ecp_point a, b, sum;
  Points() {
    mbedtls_ecp_point_init(&a);
    mbedtls_ecp_point_init(&b);
    mbedtls_ecp_point_init(&sum);
  }
  ~Points() {
    mbedtls_ecp_point_free(&a);
    mbedtls_ecp_point_free(&b);
    mbedtls_ecp_point_free(&sum);
  }
};

// r and s from a DER ECDSA-Sig-Value with nothing after it (mbedtls_ecdsa_read_signature's
// reading, which also refuses trailing bytes).
bool read_signature(std::span<const uint8_t> der, mbedtls_mpi &r, mbedtls_mpi &s) {
  unsigned char *p = const_cast<unsigned char *>(der.data());
  const unsigned char *end = p + der.size();
  size_t len = 0;
  if (mbedtls_asn1_get_tag(&p, end, &len, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE) != 0) return false;
  if (p + len != end) return false;
  return mbedtls_asn1_get_mpi(&p, end, &r) == 0 && mbedtls_asn1_get_mpi(&p, end, &s) == 0 && p == end;
}

} // namespace

VerifyTable::VerifyTable(const mbedtls_ecp_point &q) {
  mbedtls_ecp_group_init(&curve_);
  mbedtls_ecp_group_init(&keyed_);
  if (mbedtls_ecp_group_load(&curve_, MBEDTLS_ECP_DP_SECP256R1) != 0) return;
  // mbedtls_ecp_group_load points the curve's numbers at read-only data, so `keyed_` gets copies
  // it owns (the destructor frees them: mbedtls_ecp_group_free does not for these curves).
  keyed_.id = curve_.id;
  if (mbedtls_mpi_copy(&keyed_.P, &curve_.P) != 0 || mbedtls_mpi_copy(&keyed_.B, &curve_.B) != 0 ||
      mbedtls_mpi_copy(&keyed_.N, &curve_.N) != 0 || mbedtls_ecp_copy(&keyed_.G, &q) != 0)
    return;
  // P-256's A is -3, which mbedTLS marks by leaving A empty.
  if (curve_.A.p != nullptr && mbedtls_mpi_copy(&keyed_.A, &curve_.A) != 0) return;
  keyed_.pbits = curve_.pbits;
  keyed_.nbits = curve_.nbits;
  keyed_.h = curve_.h;
  keyed_.modp = curve_.modp;
  if (mbedtls_ecp_check_pubkey(&curve_, &q) != 0) return;
  // One multiplication by Q makes mbedTLS build and keep its table (1·Q is a valid scalar).
  mbedtls_mpi one;
  mbedtls_mpi_init(&one);
  mbedtls_ecp_point warm;
  mbedtls_ecp_point_init(&warm);
  // The same for G, in case this mbedTLS was built without its static table of G's multiples:
  // from here on verify() only reads both groups.
  ready_ = mbedtls_mpi_lset(&one, 1) == 0 && mbedtls_ecp_mul(&keyed_, &warm, &one, &keyed_.G, rng, nullptr) == 0 &&
           mbedtls_ecp_mul(&curve_, &warm, &one, &curve_.G, rng, nullptr) == 0 && keyed_.T != nullptr &&
           curve_.T != nullptr;
  mbedtls_ecp_point_free(&warm);
  mbedtls_mpi_free(&one);
}

VerifyTable::~VerifyTable() {
  for (mbedtls_mpi *m : {&keyed_.P, &keyed_.A, &keyed_.B, &keyed_.N})
    mbedtls_mpi_free(m);
  mbedtls_ecp_point_free(&keyed_.G);
  mbedtls_ecp_group_free(&keyed_); // the table of Q's multiples
  mbedtls_ecp_group_free(&curve_);
}

VerifyTable::Verdict VerifyTable::verify(std::span<const uint8_t, 32> hash,
                                         std::span<const uint8_t> signature) const {
  if (!ready_) return Verdict::fallback;
  Mpis m;
  if (!read_signature(signature, m.r, m.s)) return Verdict::invalid;
  const mbedtls_mpi &n = curve_.N;
  // 1 <= r, s < n
  if (mbedtls_mpi_cmp_int(&m.r, 1) < 0 || mbedtls_mpi_cmp_mpi(&m.r, &n) >= 0 || mbedtls_mpi_cmp_int(&m.s, 1) < 0 ||
      mbedtls_mpi_cmp_mpi(&m.s, &n) >= 0)
    return Verdict::invalid;
  // e: the hash as a number (n has 256 bits, as many as the hash: no truncation), then
  // w = s^-1, u1 = e·w, u2 = r·w (mod n).
  auto *curve = const_cast<mbedtls_ecp_group *>(&curve_);
  auto *keyed = const_cast<mbedtls_ecp_group *>(&keyed_);
  if (mbedtls_mpi_read_binary(&m.e, hash.data(), hash.size()) != 0 || mbedtls_mpi_inv_mod(&m.w, &m.s, &n) != 0 ||
      mbedtls_mpi_mul_mpi(&m.u1, &m.e, &m.w) != 0 || mbedtls_mpi_mod_mpi(&m.u1, &m.u1, &n) != 0 ||
      mbedtls_mpi_mul_mpi(&m.u2, &m.r, &m.w) != 0 || mbedtls_mpi_mod_mpi(&m.u2, &m.u2, &n) != 0 ||
      mbedtls_mpi_lset(&m.one, 1) != 0)
    return Verdict::fallback;
  // u1·G and u2·Q from the two tables (both read only: the tables exist already), then their sum.
  // A scalar of 0 (u1, when e = 0 mod n) is refused by ecp_mul: fallback.
  Points p;
  if (mbedtls_ecp_mul(curve, &p.a, &m.u1, &curve_.G, rng, nullptr) != 0 ||
      mbedtls_ecp_mul(keyed, &p.b, &m.u2, &keyed_.G, rng, nullptr) != 0 ||
      mbedtls_ecp_muladd(curve, &p.sum, &m.one, &p.a, &m.one, &p.b) != 0)
    return Verdict::fallback;
  if (mbedtls_ecp_is_zero(&p.sum)) return Verdict::invalid;
  // valid when x(sum) mod n = r
  if (mbedtls_mpi_mod_mpi(&m.v, &p.sum.X, &n) != 0) return Verdict::fallback;
  return mbedtls_mpi_cmp_mpi(&m.v, &m.r) == 0 ? Verdict::valid : Verdict::invalid;
}

} // namespace lpm::proto
