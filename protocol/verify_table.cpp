#include "verify_table.h"

#include <cstdlib>
#include <string_view>

#include <mbedtls/asn1.h>
#include <mbedtls/bignum.h>

namespace lpm::proto {

namespace {

// An mbedtls_mpi freed at scope exit.
struct Mpi {
  mbedtls_mpi m;
  Mpi() { mbedtls_mpi_init(&m); }
  ~Mpi() { mbedtls_mpi_free(&m); }
  Mpi(const Mpi &) = delete;
  Mpi &operator=(const Mpi &) = delete;
};

// r and s from a DER ECDSA-Sig-Value with nothing after it, read as
// mbedtls_ecdsa_read_signature reads them (which also refuses trailing bytes).
bool read_signature(std::span<const uint8_t> der, mbedtls_mpi &r, mbedtls_mpi &s) {
  unsigned char *p = const_cast<unsigned char *>(der.data());
  const unsigned char *end = p + der.size();
  size_t len = 0;
  if (mbedtls_asn1_get_tag(&p, end, &len, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE) != 0) return false;
  if (p + len != end) return false;
  return mbedtls_asn1_get_mpi(&p, end, &r) == 0 && mbedtls_asn1_get_mpi(&p, end, &s) == 0 && p == end;
}

// A number of at most 32 bytes, big-endian; false when it is longer (then at least 2^256: above n).
bool to_32(const mbedtls_mpi &m, std::array<uint8_t, 32> &out) {
  return mbedtls_mpi_write_binary(&m, out.data(), out.size()) == 0;
}

bool portable_chosen() {
  static const bool chosen = [] {
    const char *portable = std::getenv("LPM_P256_PORTABLE");
    return portable != nullptr && std::string_view(portable) == "1";
  }();
  return chosen;
}

} // namespace

VerifyTable::VerifyTable(const mbedtls_ecp_point &q) {
  if (portable_chosen()) return;
  // The point must be affine (Z = 1), as mbedTLS keeps a parsed public key.
  if (mbedtls_mpi_cmp_int(&q.Z, 1) != 0) return;
  std::array<uint8_t, 32> x{}, y{};
  if (!to_32(q.X, x) || !to_32(q.Y, y)) return;
  ready_ = detail::P256Key::load(x, y, key_);
}

VerifyTable::Verdict VerifyTable::verify(std::span<const uint8_t, 32> hash,
                                         std::span<const uint8_t> signature) const {
  if (!ready_) return Verdict::fallback;
  Mpi r, s;
  if (!read_signature(signature, r.m, s.m)) return Verdict::invalid;
  std::array<uint8_t, 32> r32{}, s32{};
  // Longer than 32 bytes: not below n, so invalid, as mbedTLS finds it.
  if (!to_32(r.m, r32) || !to_32(s.m, s32)) return Verdict::invalid;
  return key_.verify(hash, r32, s32) ? Verdict::valid : Verdict::invalid;
}

} // namespace lpm::proto
