// ECDSA P-256 verification against one public key, kept ready for its next signatures
// (internal to protocol/).
//
// Verifying computes u1·G + u2·Q. VerifyTable does it in the project's own P-256 arithmetic
// (detail/p256.h: variable-time, for public values only), with the key's multiples 1·Q .. 15·Q
// computed once: about 10x faster than mbedtls_pk_verify. The keys this project verifies against
// are few and long-lived (the directory's ticket key, stations' outcome keys).
//
// The DER signature is read as mbedtls_ecdsa_read_signature reads it, and the verdict is
// mbedtls_ecdsa_verify's (tests/unit/test_keys.cpp and fuzz_signature compare the two). When the
// table could not be made, or LPM_P256_PORTABLE=1 is set, verify() answers `fallback` and the
// caller verifies with mbedTLS.
#pragma once

#include <span>

#include <mbedtls/ecp.h>

#include "detail/p256.h"

namespace lpm::proto {

class VerifyTable {
public:
  enum class Verdict { valid, invalid, fallback };

  // For the P-256 public point `q`; ready() is false when the table could not be built.
  explicit VerifyTable(const mbedtls_ecp_point &q);
  VerifyTable(const VerifyTable &) = delete;
  VerifyTable &operator=(const VerifyTable &) = delete;

  bool ready() const { return ready_; }
  // `hash`: SHA-256 of the message; `signature`: DER ECDSA-Sig-Value {r, s}. Safe on several
  // threads at once (the table is only read once built).
  Verdict verify(std::span<const uint8_t, 32> hash, std::span<const uint8_t> signature) const;

private:
  detail::P256Key key_;
  bool ready_ = false;
};

} // namespace lpm::proto
