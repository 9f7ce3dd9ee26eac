// Keys, certificates, fingerprints, hashes and signatures (ECDSA P-256, SHA-256) on mbedTLS.
//
// A fingerprint is the lower-case hex SHA-256 of the DER SubjectPublicKeyInfo of a key: what
// packages pin, what the directory records at enrollment, what tickets name.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include <mbedtls/pk.h>
#include <mbedtls/sha256.h>
#include <mbedtls/x509_crt.h>

#include "lpm/error.h"
#include "lpm/protocol/msg.h"

namespace lpm::proto {

using Fingerprint = std::string;

Bytes sha256(std::span<const uint8_t> data);

namespace detail {
struct Sha256Path; // protocol/detail/sha256.h: picks the implementation (tests, lpm_hash_bench)
}

// Incremental SHA-256 for streams. Runs on the x86 SHA extensions when the CPU has them (several
// times mbedTLS 2.28's portable code: lpm_hash_bench), on mbedTLS otherwise. LPM_SHA256_PORTABLE=1
// in the environment, read once by the first Sha256(), forces mbedTLS (to compare, or to rule the
// accelerated code out). sha256() above is one Sha256.
class Sha256 {
public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256 &) = delete;
  Sha256 &operator=(const Sha256 &) = delete;
  void update(std::span<const uint8_t> data);
  Bytes finish(); // 32 bytes; the object may not be updated afterwards
private:
  friend struct detail::Sha256Path;
  // The accelerated path when asked and the CPU has it, mbedTLS otherwise.
  explicit Sha256(bool accelerated);
  void compress(const uint8_t *blocks, size_t count);

  bool accelerated_;
  // The accelerated path's state; the portable path's is ctx_.
  uint32_t state_[8];
  uint8_t block_[64]; // the partial block: length_bytes_ % 64 bytes of it
  uint64_t length_bytes_ = 0;
  mbedtls_sha256_context ctx_;
};

Fingerprint fingerprint_of_der(std::span<const uint8_t> public_key_der);

// A public key to verify signatures with.
class PublicKey {
public:
  static Result<PublicKey> from_der(std::span<const uint8_t> der);
  PublicKey(PublicKey &&) noexcept;
  PublicKey &operator=(PublicKey &&) noexcept;
  PublicKey(const PublicKey &other);
  ~PublicKey();
  // invalid_signature unless signature is a valid ECDSA-SHA256 (DER) signature of message.
  // The second call builds a table of the key's multiples (protocol/verify_table.h) that makes
  // it and the following ones about 2.4x faster (a key verified once pays nothing for it); safe on
  // several threads at once.
  Status verify(std::span<const uint8_t> message, std::span<const uint8_t> signature) const;
  const Bytes &der() const { return der_; }
  const Fingerprint &fingerprint() const { return fingerprint_; }

private:
  PublicKey();
  struct VerifyCache; // the table, built once on the second verification
  mutable mbedtls_pk_context pk_;
  Bytes der_;
  Fingerprint fingerprint_;
  std::unique_ptr<VerifyCache> verify_cache_;
};

// The message-independent half of one ECDSA P-256 signature ("offline/online" signing): for a
// fresh, uniformly random secret nonce k, r = (k·G).x mod n and k^-1 mod n. Computing k·G is
// nearly all of a signature's cost; KeyPair::presign does it ahead (on a background thread), and
// KeyPair::sign(message, presignature) finishes a signature with a few modular operations.
// As secret as the private key (it and the signature reveal the key): used at most once, never
// copied, wiped when destroyed or used.
class Presignature {
public:
  Presignature(Presignature &&other) noexcept;
  Presignature &operator=(Presignature &&other) noexcept;
  Presignature(const Presignature &) = delete;
  Presignature &operator=(const Presignature &) = delete;
  ~Presignature();
  // The key it was made for (a presignature finishes only that key's signatures).
  const Fingerprint &key_fingerprint() const { return key_fingerprint_; }

private:
  friend class KeyPair;
  Presignature();
  struct Parts; // r and k^-1 (mbedtls_mpi)
  std::unique_ptr<Parts> parts_;
  Fingerprint key_fingerprint_;
};

// An ECDSA P-256 private key.
class KeyPair {
public:
  static Result<std::unique_ptr<KeyPair>> generate();
  static Result<std::unique_ptr<KeyPair>> from_pem(const std::string &pem);
  ~KeyPair();
  KeyPair(const KeyPair &) = delete;
  KeyPair &operator=(const KeyPair &) = delete;

  std::string private_pem() const;
  const Bytes &public_der() const { return public_der_; }
  const Fingerprint &fingerprint() const { return fingerprint_; }
  PublicKey public_key() const;
  // ECDSA over SHA-256(message), DER-encoded signature.
  Result<Bytes> sign(std::span<const uint8_t> message) const;
  // A presignature for this key (see Presignature): the costly half of a signature, with a nonce
  // drawn from getrandom() as mbedTLS's randomised ECDSA draws it (not RFC 6979's derived one).
  // Safe on several threads at once only on distinct KeyPair objects (copies via from_pem).
  Result<Presignature> presign() const;
  // The same signature as sign(message), finished from a presignature of this key, which is
  // consumed whatever happens; bad_request for another key's presignature.
  Result<Bytes> sign(std::span<const uint8_t> message, Presignature presignature) const;
  mbedtls_pk_context *pk() const { return &pk_; }

private:
  KeyPair();
  Status init_public();
  mutable mbedtls_pk_context pk_;
  Bytes public_der_;
  Fingerprint fingerprint_;
};

// A daemon's TLS identity: its key and a self-signed certificate for that key.
// Stored as DIR/NAME.key (mode 0600) and DIR/NAME.crt (0644).
class Identity {
public:
  // Loads DIR/NAME.{key,crt}; not_found when they do not exist.
  static Result<std::shared_ptr<Identity>> load(const std::string &dir, const std::string &name);
  // Creates a new key and a self-signed certificate (subject CN=common_name, valid 20 years);
  // conflict when the files already exist.
  static Result<std::shared_ptr<Identity>> create(const std::string &dir, const std::string &name,
                                                  const std::string &common_name);
  static Result<std::shared_ptr<Identity>> load_or_create(const std::string &dir, const std::string &name,
                                                          const std::string &common_name);
  // From the PEM texts of a key and its certificate (what NAME.key and NAME.crt hold), without
  // files: bad_request when either does not parse, the key is not P-256 or the certificate is
  // not for that key. For tools that keep many identities in one file (bench/).
  static Result<std::shared_ptr<Identity>> from_pem(const std::string &key_pem, const std::string &cert_pem);
  ~Identity();
  Identity(const Identity &) = delete;
  Identity &operator=(const Identity &) = delete;

  const KeyPair &key() const { return *key_; }
  mbedtls_x509_crt *cert() { return &cert_; }
  const Fingerprint &fingerprint() const { return key_->fingerprint(); }

private:
  Identity();
  // from_pem, with where each text came from (a path) for the messages.
  static Result<std::shared_ptr<Identity>> parse_pem(const std::string &key_pem, const std::string &cert_pem,
                                                     const std::string &key_origin,
                                                     const std::string &cert_origin);
  std::unique_ptr<KeyPair> key_;
  mbedtls_x509_crt cert_;
};

// A self-signed X.509 v3 certificate for `key` in PEM (subject and issuer CN=common_name, a
// random serial, valid 20 years, backdated a day): what Identity::create writes beside the key.
// bad_request for a common name mbedTLS cannot hold (empty, over 64 characters, a control
// character or a backslash).
Result<std::string> self_signed_certificate_pem(const KeyPair &key, const std::string &common_name);

// Fingerprint of the public key inside a certificate.
Fingerprint fingerprint_of_cert(const mbedtls_x509_crt *crt);

// A fingerprint is 64 lower-case hex digits.
bool fingerprint_valid(std::string_view text);

} // namespace lpm::proto
