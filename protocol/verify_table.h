// ECDSA P-256 verification with the public key's precomputed multiples (internal to protocol/).
//
// Verifying computes u1·G + u2·Q. mbedTLS keeps a table of multiples of the generator G, but
// builds the table for the public key Q anew on every verification, which is about a third of
// its cost. The keys this project verifies against are few and long-lived (the directory's
// ticket key, stations' outcome keys), so VerifyTable keeps Q's table: a second P-256 group whose
// generator is Q, which mbedTLS then caches like G's (about 1.6x faster per verification).
//
// The arithmetic is mbedTLS's own (ecp_mul, ecp_muladd); only the sequence of ecdsa_verify is
// repeated here. Anything it cannot do (a scalar of 0, an allocation failure) answers
// `fallback`, and the caller then verifies the ordinary way: the answer never differs from
// mbedtls_pk_verify's.
#pragma once

#include <span>

#include <mbedtls/ecp.h>

namespace lpm::proto {

class VerifyTable {
public:
  enum class Verdict { valid, invalid, fallback };

  // For the P-256 public point `q`; ready() is false when the table could not be built.
  explicit VerifyTable(const mbedtls_ecp_point &q);
  ~VerifyTable();
  VerifyTable(const VerifyTable &) = delete;
  VerifyTable &operator=(const VerifyTable &) = delete;

  bool ready() const { return ready_; }
  // `hash`: SHA-256 of the message; `signature`: DER ECDSA-Sig-Value {r, s}. Safe on several
  // threads at once (the tables are only read once built).
  Verdict verify(std::span<const uint8_t, 32> hash, std::span<const uint8_t> signature) const;

private:
  mbedtls_ecp_group curve_; // P-256 as mbedTLS loads it (with its table of G's multiples)
  mbedtls_ecp_group keyed_; // P-256 again, with G replaced by Q (mbedTLS caches its table)
  bool ready_ = false;
};

} // namespace lpm::proto
