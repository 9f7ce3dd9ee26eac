#include "lpm/protocol/keys.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <iterator>
#include <string_view>

#include <mbedtls/asn1write.h>
#include <mbedtls/bignum.h>
#include <mbedtls/ecdsa.h>
#include <mbedtls/ecp.h>
#include <mbedtls/error.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/x509_crt.h>

#include <mutex>

#include "detail/sha256.h"
#include "lpm/files.h"
#include "lpm/ids.h"
#include "lpm/log.h"
#include "verify_table.h"

namespace lpm::proto {

namespace {

// A P-256 SubjectPublicKeyInfo is 91 bytes; this leaves room without inviting abuse.
constexpr size_t kMaxPublicKeyDer = 512;
// Key and certificate files are a few hundred bytes; anything near this size is not ours.
constexpr size_t kMaxIdentityFile = 64 * 1024;
// Certificate serial length: 16 random bytes is what RFC 5280 asks for (at least 64 bits, at
// most 20 octets).
constexpr size_t kSerialBytes = 16;
constexpr time_t kCertBackdateSeconds = 24 * 3600;
constexpr int kCertValidityYears = 20;

// mbedTLS wants an RNG callback. getrandom() is a CSPRNG already, so no DRBG sits in between.
int rng(void *, unsigned char *out, size_t len) {
  random_bytes(out, len);
  return 0;
}

std::string mbed_error_text(int rc) {
  char buf[160];
  mbedtls_strerror(rc, buf, sizeof buf);
  char code[24];
  std::snprintf(code, sizeof code, " (-0x%04x)", static_cast<unsigned>(-rc));
  return std::string(buf) + code;
}

// The DER SubjectPublicKeyInfo of a key. mbedTLS writes it at the END of the buffer and returns
// its length.
Result<Bytes> public_key_der(mbedtls_pk_context *pk) {
  unsigned char buf[kMaxPublicKeyDer];
  int n = mbedtls_pk_write_pubkey_der(pk, buf, sizeof buf);
  if (n <= 0) return make_error(Errc::internal, "cannot encode public key: " + mbed_error_text(n));
  unsigned char *start = buf + sizeof buf - static_cast<size_t>(n);
  return Bytes(start, buf + sizeof buf);
}

// Only ECDSA P-256 keys are part of the protocol; anything else is refused on the way in.
Status check_p256(const mbedtls_pk_context &pk, const std::string &what) {
  if (mbedtls_pk_get_type(&pk) != MBEDTLS_PK_ECKEY)
    return make_error(Errc::bad_request, what + " is not an EC key");
  const mbedtls_ecp_keypair *ec = mbedtls_pk_ec(pk);
  if (ec == nullptr || ec->grp.id != MBEDTLS_ECP_DP_SECP256R1)
    return make_error(Errc::bad_request, what + " is not on curve P-256");
  return {};
}

// "YYYYMMDDhhmmss" in UTC, the form mbedtls_x509write_crt_set_validity expects.
std::string x509_time(time_t t) {
  struct tm parts {};
  gmtime_r(&t, &parts);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%d%H%M%S", &parts);
  return buf;
}

// mbedTLS parses the subject string as a DN list: a comma separates attributes unless escaped,
// and a backslash may only escape a comma. Anything unprintable is refused outright.
Result<std::string> subject_of(const std::string &common_name) {
  if (common_name.empty() || common_name.size() > 64)
    return make_error(Errc::bad_request, "certificate common name must be 1 to 64 characters");
  std::string out = "CN=";
  for (char c : common_name) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f || c == '\\')
      return make_error(Errc::bad_request, "certificate common name holds a character that is not allowed");
    if (c == ',') out += '\\';
    out += c;
  }
  return out;
}

// Holds what building a certificate allocates, so every early return frees it.
struct CertWriter {
  mbedtls_x509write_cert crt;
  mbedtls_mpi serial;
  CertWriter() {
    mbedtls_x509write_crt_init(&crt);
    mbedtls_mpi_init(&serial);
  }
  ~CertWriter() {
    mbedtls_x509write_crt_free(&crt);
    mbedtls_mpi_free(&serial);
  }
  CertWriter(const CertWriter &) = delete;
  CertWriter &operator=(const CertWriter &) = delete;
};

} // namespace

Result<std::string> self_signed_certificate_pem(const KeyPair &key, const std::string &common_name) {
  auto subject = subject_of(common_name);
  if (!subject.ok()) return subject.error();

  CertWriter w;
  mbedtls_x509write_crt_set_version(&w.crt, MBEDTLS_X509_CRT_VERSION_3);
  mbedtls_x509write_crt_set_md_alg(&w.crt, MBEDTLS_MD_SHA256);
  mbedtls_x509write_crt_set_subject_key(&w.crt, key.pk());
  mbedtls_x509write_crt_set_issuer_key(&w.crt, key.pk());

  // Random and positive: the top bit clear keeps the DER integer positive, the next bit set keeps
  // its length fixed (no leading zero octet to drop).
  uint8_t serial[kSerialBytes];
  random_bytes(serial, sizeof serial);
  serial[0] = static_cast<uint8_t>((serial[0] & 0x7f) | 0x40);
  int rc = mbedtls_mpi_read_binary(&w.serial, serial, sizeof serial);
  if (rc == 0) rc = mbedtls_x509write_crt_set_serial(&w.crt, &w.serial);
  if (rc != 0) return make_error(Errc::internal, "certificate serial: " + mbed_error_text(rc));

  rc = mbedtls_x509write_crt_set_subject_name(&w.crt, subject->c_str());
  if (rc == 0) rc = mbedtls_x509write_crt_set_issuer_name(&w.crt, subject->c_str());
  if (rc != 0) return make_error(Errc::bad_request, "certificate name: " + mbed_error_text(rc));

  // Backdated a day so a peer whose clock is a little behind still accepts it.
  time_t now = static_cast<time_t>(wall_ms() / 1000);
  struct tm end {};
  gmtime_r(&now, &end);
  end.tm_year += kCertValidityYears;
  time_t not_after = timegm(&end); // normalises 29 February in a non-leap year
  rc = mbedtls_x509write_crt_set_validity(&w.crt, x509_time(now - kCertBackdateSeconds).c_str(),
                                          x509_time(not_after).c_str());
  if (rc != 0) return make_error(Errc::internal, "certificate validity: " + mbed_error_text(rc));

  unsigned char pem[4096];
  rc = mbedtls_x509write_crt_pem(&w.crt, pem, sizeof pem, rng, nullptr);
  if (rc != 0) return make_error(Errc::internal, "cannot write certificate: " + mbed_error_text(rc));
  return std::string(reinterpret_cast<const char *>(pem));
}

namespace {

std::string identity_path(const std::string &dir, const std::string &name, const char *ext) {
  return dir + "/" + name + ext;
}

Status check_identity_name(const std::string &name) {
  if (name.empty() || name.find('/') != std::string::npos || name == "." || name == "..")
    return make_error(Errc::bad_request, "identity name '" + name + "' is not a plain file name");
  return {};
}

Result<std::string> read_identity_file(const std::string &path, const char *what) {
  auto text = read_file(path, kMaxIdentityFile);
  if (!text.ok() && text.error().code == Errc::not_found)
    return make_error(Errc::not_found, std::string("identity ") + what + " " + path + " does not exist");
  return text;
}

} // namespace

// ---------------------------------------------------------------------------------------------
// Hashes

Bytes sha256(std::span<const uint8_t> data) {
  Sha256 hash;
  hash.update(data);
  return hash.finish();
}

// ---------------------------------------------------------------------------------------------
// Sha256: the accelerated path keeps the state, the partial block and the length itself, and
// hands whole blocks to detail::sha256_compress_x86; the portable path is mbedTLS's whole.

namespace {

// FIPS 180-4, section 5.3.3.
constexpr uint32_t kSha256InitialState[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                             0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
constexpr size_t kSha256BlockBytes = 64;
// Where the padding's 64-bit message length (in bits) starts in the last block.
constexpr size_t kSha256LengthAt = kSha256BlockBytes - 8;

void store_big_endian_32(uint32_t value, uint8_t *out) {
  for (int i = 0; i < 4; i++)
    out[i] = static_cast<uint8_t>(value >> (24 - 8 * i));
}

} // namespace

bool detail::Sha256Path::accelerated_available() {
#ifdef LPM_SHA256_X86
  return sha256_x86_supported();
#else
  return false;
#endif
}

bool detail::Sha256Path::accelerated_chosen() {
  static const bool chosen = [] {
    const char *portable = std::getenv("LPM_SHA256_PORTABLE");
    return accelerated_available() && !(portable != nullptr && std::string_view(portable) == "1");
  }();
  return chosen;
}

Sha256::Sha256() : Sha256(detail::Sha256Path::accelerated_chosen()) {}

Sha256::Sha256(bool accelerated) : accelerated_(accelerated && detail::Sha256Path::accelerated_available()) {
  mbedtls_sha256_init(&ctx_);
  if (accelerated_)
    std::copy(std::begin(kSha256InitialState), std::end(kSha256InitialState), state_);
  else
    (void)mbedtls_sha256_starts_ret(&ctx_, 0);
}

Sha256::~Sha256() {
  mbedtls_sha256_free(&ctx_);
  mbedtls_platform_zeroize(state_, sizeof state_);
  mbedtls_platform_zeroize(block_, sizeof block_);
}

void Sha256::compress(const uint8_t *blocks, size_t count) {
#ifdef LPM_SHA256_X86
  detail::sha256_compress_x86(state_, blocks, count);
#else
  // accelerated_ is never true here.
  (void)blocks;
  (void)count;
  std::abort();
#endif
}

void Sha256::update(std::span<const uint8_t> data) {
  if (!accelerated_) {
    // The software SHA-256 only fails on invalid arguments, which these are not.
    (void)mbedtls_sha256_update_ret(&ctx_, data.data(), data.size());
    return;
  }
  if (data.empty()) return;
  const size_t buffered = length_bytes_ % kSha256BlockBytes;
  length_bytes_ += data.size();
  if (buffered > 0) {
    const size_t take = std::min(data.size(), kSha256BlockBytes - buffered);
    std::memcpy(block_ + buffered, data.data(), take);
    data = data.subspan(take);
    if (buffered + take < kSha256BlockBytes) return;
    compress(block_, 1);
  }
  const size_t whole_blocks = data.size() / kSha256BlockBytes;
  if (whole_blocks > 0) compress(data.data(), whole_blocks);
  data = data.subspan(whole_blocks * kSha256BlockBytes);
  if (!data.empty()) std::memcpy(block_, data.data(), data.size());
}

Bytes Sha256::finish() {
  Bytes out(32);
  if (!accelerated_) {
    (void)mbedtls_sha256_finish_ret(&ctx_, out.data());
    return out;
  }
  // FIPS 180-4, section 5.1.1: a 1 bit, zeros up to 8 bytes short of a block's end (a block of
  // its own when fewer than 9 bytes are left), then the length in bits, big-endian.
  size_t used = length_bytes_ % kSha256BlockBytes;
  block_[used++] = 0x80;
  if (used > kSha256LengthAt) {
    std::memset(block_ + used, 0, kSha256BlockBytes - used);
    compress(block_, 1);
    used = 0;
  }
  std::memset(block_ + used, 0, kSha256LengthAt - used);
  const uint64_t length_bits = length_bytes_ * 8;
  store_big_endian_32(static_cast<uint32_t>(length_bits >> 32), block_ + kSha256LengthAt);
  store_big_endian_32(static_cast<uint32_t>(length_bits), block_ + kSha256LengthAt + 4);
  compress(block_, 1);
  for (size_t i = 0; i < 8; i++)
    store_big_endian_32(state_[i], out.data() + 4 * i);
  return out;
}

Fingerprint fingerprint_of_der(std::span<const uint8_t> public_key_der) {
  return to_hex(sha256(public_key_der));
}

bool fingerprint_valid(std::string_view text) {
  if (text.size() != 64) return false;
  for (char c : text)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

Fingerprint fingerprint_of_cert(const mbedtls_x509_crt *crt) {
  if (crt == nullptr) return {};
  // mbedtls_pk_write_pubkey_der only reads the key, but 2.28 declares it non-const.
  auto der = public_key_der(const_cast<mbedtls_pk_context *>(&crt->pk));
  if (!der.ok()) return {};
  return fingerprint_of_der(*der);
}

// ---------------------------------------------------------------------------------------------
// PublicKey

struct PublicKey::VerifyCache {
  std::once_flag once;
  std::unique_ptr<VerifyTable> table;
};

PublicKey::PublicKey() : verify_cache_(std::make_unique<VerifyCache>()) {
  mbedtls_pk_init(&pk_);
}

PublicKey::~PublicKey() {
  mbedtls_pk_free(&pk_);
}

// mbedtls_pk_context is two pointers (info and key); taking them over and re-initialising the
// source is a complete move.
PublicKey::PublicKey(PublicKey &&other) noexcept
    : pk_(other.pk_), der_(std::move(other.der_)), fingerprint_(std::move(other.fingerprint_)),
      verify_cache_(std::move(other.verify_cache_)) {
  mbedtls_pk_init(&other.pk_);
}

PublicKey &PublicKey::operator=(PublicKey &&other) noexcept {
  if (this != &other) {
    mbedtls_pk_free(&pk_);
    pk_ = other.pk_;
    mbedtls_pk_init(&other.pk_);
    der_ = std::move(other.der_);
    fingerprint_ = std::move(other.fingerprint_);
    verify_cache_ = std::move(other.verify_cache_);
  }
  return *this;
}

// A copy builds its own table when it first verifies.
PublicKey::PublicKey(const PublicKey &other)
    : der_(other.der_), fingerprint_(other.fingerprint_), verify_cache_(std::make_unique<VerifyCache>()) {
  mbedtls_pk_init(&pk_);
  // These bytes were parsed once already, so only running out of memory can fail here. The key
  // then stays empty and every verify() fails: closed, not open.
  if (mbedtls_pk_parse_public_key(&pk_, der_.data(), der_.size()) != 0) {
    LPM_ERROR("cannot copy public key %s", fingerprint_.c_str());
    mbedtls_pk_free(&pk_);
    mbedtls_pk_init(&pk_);
  }
}

Result<PublicKey> PublicKey::from_der(std::span<const uint8_t> der) {
  if (der.empty() || der.size() > kMaxPublicKeyDer)
    return make_error(Errc::bad_request, "public key has an invalid size");
  PublicKey key;
  int rc = mbedtls_pk_parse_public_key(&key.pk_, der.data(), der.size());
  if (rc != 0) return make_error(Errc::bad_request, "invalid public key: " + mbed_error_text(rc));
  Status p256 = check_p256(key.pk_, "public key");
  if (!p256.ok()) return p256.error();
  auto canonical = public_key_der(&key.pk_);
  if (!canonical.ok()) return canonical.error();
  // The fingerprint is a hash of these exact bytes, so a second spelling of the same key (trailing
  // bytes, which mbedTLS ignores, or explicit curve parameters) would give it a second identity.
  if (!std::equal(canonical->begin(), canonical->end(), der.begin(), der.end()))
    return make_error(Errc::bad_request, "public key is not in canonical DER form");
  key.der_ = std::move(*canonical);
  key.fingerprint_ = fingerprint_of_der(key.der_);
  return key;
}

Status PublicKey::verify(std::span<const uint8_t> message, std::span<const uint8_t> signature) const {
  if (signature.empty()) return make_error(Errc::invalid_signature, "signature is empty");
  Bytes hash = sha256(message);
  // A moved-from key has no cache (and no key: mbedtls_pk_verify refuses below). The table (the
  // key's comb, verify_table.h) takes about 0.3 ms to make, a fifth of one mbedTLS verification,
  // and is kept for the key's next ones (45 us each).
  if (verify_cache_ && mbedtls_pk_get_type(&pk_) == MBEDTLS_PK_ECKEY) {
    std::call_once(verify_cache_->once, [this] {
      verify_cache_->table = std::make_unique<VerifyTable>(mbedtls_pk_ec(pk_)->Q);
    });
    auto verdict = verify_cache_->table->verify(std::span<const uint8_t, 32>(hash.data(), 32), signature);
    if (verdict == VerifyTable::Verdict::valid) return {};
    if (verdict == VerifyTable::Verdict::invalid)
      return make_error(Errc::invalid_signature, "signature does not verify with key " + fingerprint_);
  }
  int rc = mbedtls_pk_verify(&pk_, MBEDTLS_MD_SHA256, hash.data(), hash.size(), signature.data(),
                             signature.size());
  if (rc != 0)
    return make_error(Errc::invalid_signature, "signature does not verify with key " + fingerprint_);
  return {};
}

// ---------------------------------------------------------------------------------------------
// KeyPair

KeyPair::KeyPair() {
  mbedtls_pk_init(&pk_);
}

KeyPair::~KeyPair() {
  mbedtls_pk_free(&pk_);
}

Status KeyPair::init_public() {
  auto der = public_key_der(&pk_);
  if (!der.ok()) return der.error();
  public_der_ = std::move(*der);
  fingerprint_ = fingerprint_of_der(public_der_);
  // One multiplication by G now makes mbedTLS build and keep its table for G in this key's group
  // (MBEDTLS_ECP_FIXED_POINT_OPTIM): every later signature reads it and none writes it, so
  // signing on several threads at once stays safe, and each signature skips building it.
  auto warm = presign();
  if (!warm.ok()) return warm.error();
  return {};
}

Result<std::unique_ptr<KeyPair>> KeyPair::generate() {
  std::unique_ptr<KeyPair> key(new KeyPair());
  int rc = mbedtls_pk_setup(&key->pk_, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY));
  if (rc == 0) rc = mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(key->pk_), rng, nullptr);
  if (rc != 0) return make_error(Errc::internal, "cannot generate a key: " + mbed_error_text(rc));
  Status s = key->init_public();
  if (!s.ok()) return s.error();
  return key;
}

Result<std::unique_ptr<KeyPair>> KeyPair::from_pem(const std::string &pem) {
  std::unique_ptr<KeyPair> key(new KeyPair());
  // mbedTLS recognises PEM only when the terminating NUL is counted in the length.
  int rc = mbedtls_pk_parse_key(&key->pk_, reinterpret_cast<const unsigned char *>(pem.c_str()),
                                pem.size() + 1, nullptr, 0);
  if (rc != 0) return make_error(Errc::bad_request, "invalid private key: " + mbed_error_text(rc));
  Status p256 = check_p256(key->pk_, "private key");
  if (!p256.ok()) return p256.error();
  Status s = key->init_public();
  if (!s.ok()) return s.error();
  return key;
}

std::string KeyPair::private_pem() const {
  unsigned char buf[2048];
  int rc = mbedtls_pk_write_key_pem(&pk_, buf, sizeof buf);
  if (rc != 0) {
    // Cannot happen for a P-256 key and this buffer; an empty string makes the caller fail.
    LPM_ERROR("cannot encode private key: %s", mbed_error_text(rc).c_str());
    return {};
  }
  std::string out(reinterpret_cast<const char *>(buf));
  mbedtls_platform_zeroize(buf, sizeof buf);
  return out;
}

PublicKey KeyPair::public_key() const {
  auto key = PublicKey::from_der(public_der_);
  if (!key.ok()) {
    // public_der_ was written by mbedTLS from a P-256 key; failing to read it back is a bug.
    LPM_ERROR("cannot read back our own public key: %s", key.error().to_string().c_str());
    std::abort();
  }
  return std::move(key).value();
}

Result<Bytes> KeyPair::sign(std::span<const uint8_t> message) const {
  Bytes hash = sha256(message);
  unsigned char sig[MBEDTLS_PK_SIGNATURE_MAX_SIZE];
  size_t len = 0;
  // On the key's own group, not through mbedtls_pk_sign: that copies the key into a fresh context
  // for every signature and so rebuilds the table for G each time (twice the cost). Deterministic
  // ECDSA (RFC 6979) with the RNG for blinding, as mbedtls_pk_sign does.
  int rc = mbedtls_ecdsa_write_signature(mbedtls_pk_ec(pk_), MBEDTLS_MD_SHA256, hash.data(), hash.size(), sig,
                                         &len, rng, nullptr);
  if (rc != 0) return make_error(Errc::internal, "cannot sign: " + mbed_error_text(rc));
  return Bytes(sig, sig + len);
}

// ---------------------------------------------------------------------------------------------
// Presignatures (offline/online ECDSA): the same arithmetic as mbedTLS's ecdsa_sign, split where
// the message first enters.

struct Presignature::Parts {
  mbedtls_mpi r, k_inverse;
  Parts() {
    mbedtls_mpi_init(&r);
    mbedtls_mpi_init(&k_inverse);
  }
  ~Parts() { // mbedtls_mpi_free zeroes the limbs before freeing them
    mbedtls_mpi_free(&r);
    mbedtls_mpi_free(&k_inverse);
  }
  Parts(const Parts &) = delete;
  Parts &operator=(const Parts &) = delete;
};

Presignature::Presignature() = default;
Presignature::Presignature(Presignature &&other) noexcept = default;
Presignature &Presignature::operator=(Presignature &&other) noexcept = default;
Presignature::~Presignature() = default;

namespace {

// mbedtls_mpi values that are zeroed and freed on every path.
struct Mpis {
  mbedtls_mpi v[3];
  Mpis() {
    for (auto &x : v)
      mbedtls_mpi_init(&x);
  }
  ~Mpis() {
    for (auto &x : v)
      mbedtls_mpi_free(&x);
  }
  Mpis(const Mpis &) = delete;
  Mpis &operator=(const Mpis &) = delete;
};

} // namespace

Result<Presignature> KeyPair::presign() const {
  mbedtls_ecp_keypair *kp = mbedtls_pk_ec(pk_);
  mbedtls_ecp_group *grp = &kp->grp;
  Presignature out;
  out.parts_ = std::make_unique<Presignature::Parts>();
  out.key_fingerprint_ = fingerprint_;
  Mpis tmp;
  mbedtls_mpi &k = tmp.v[0], &t = tmp.v[1], &kt = tmp.v[2];
  mbedtls_ecp_point R;
  mbedtls_ecp_point_init(&R);
  mbedtls_mpi &r = out.parts_->r, &k_inverse = out.parts_->k_inverse;
  int rc = 0;
  // k uniform in [1, n-1]; R = k·G with randomised coordinates; r = R.x mod n, drawn again in the
  // (2^-256) case r = 0.
  for (int attempt = 0; attempt < 4; attempt++) {
    rc = mbedtls_ecp_gen_privkey(grp, &k, rng, nullptr);
    if (rc == 0) rc = mbedtls_ecp_mul(grp, &R, &k, &grp->G, rng, nullptr);
    if (rc == 0) rc = mbedtls_mpi_mod_mpi(&r, &R.X, &grp->N);
    if (rc != 0 || mbedtls_mpi_cmp_int(&r, 0) != 0) break;
  }
  if (rc == 0 && mbedtls_mpi_cmp_int(&r, 0) == 0) rc = MBEDTLS_ERR_ECP_RANDOM_FAILED;
  // k^-1 = (k·t)^-1 · t for a random t, so the inversion never works on k itself (mbedTLS blinds
  // its own the same way).
  if (rc == 0) rc = mbedtls_ecp_gen_privkey(grp, &t, rng, nullptr);
  if (rc == 0) rc = mbedtls_mpi_mul_mpi(&kt, &k, &t);
  if (rc == 0) rc = mbedtls_mpi_mod_mpi(&kt, &kt, &grp->N);
  if (rc == 0) rc = mbedtls_mpi_inv_mod(&k_inverse, &kt, &grp->N);
  if (rc == 0) rc = mbedtls_mpi_mul_mpi(&k_inverse, &k_inverse, &t);
  if (rc == 0) rc = mbedtls_mpi_mod_mpi(&k_inverse, &k_inverse, &grp->N);
  mbedtls_ecp_point_free(&R);
  if (rc != 0) return make_error(Errc::internal, "cannot presign: " + mbed_error_text(rc));
  return out;
}

Result<Bytes> KeyPair::sign(std::span<const uint8_t> message, Presignature presignature) const {
  Presignature used = std::move(presignature); // wiped when this returns, whatever happens
  if (!used.parts_) return make_error(Errc::bad_request, "this presignature was used already");
  if (used.key_fingerprint_ != fingerprint_)
    return make_error(Errc::bad_request, "a presignature of key " + used.key_fingerprint_.substr(0, 16) +
                                             " cannot finish a signature by key " + fingerprint_.substr(0, 16));
  const mbedtls_ecp_keypair *kp = mbedtls_pk_ec(pk_);
  const mbedtls_mpi &n = kp->grp.N, &r = used.parts_->r;
  Bytes hash = sha256(message);
  Mpis tmp;
  mbedtls_mpi &e = tmp.v[0], &s = tmp.v[1];
  // e: the 256-bit hash as an integer, reduced below n as mbedTLS does (n is 256 bits too).
  int rc = mbedtls_mpi_read_binary(&e, hash.data(), hash.size());
  if (rc == 0 && mbedtls_mpi_cmp_mpi(&e, &n) >= 0) rc = mbedtls_mpi_sub_mpi(&e, &e, &n);
  // s = k^-1 (e + r·d) mod n
  if (rc == 0) rc = mbedtls_mpi_mul_mpi(&s, &r, &kp->d);
  if (rc == 0) rc = mbedtls_mpi_add_mpi(&s, &s, &e);
  if (rc == 0) rc = mbedtls_mpi_mod_mpi(&s, &s, &n);
  if (rc == 0) rc = mbedtls_mpi_mul_mpi(&s, &s, &used.parts_->k_inverse);
  if (rc == 0) rc = mbedtls_mpi_mod_mpi(&s, &s, &n);
  if (rc != 0) return make_error(Errc::internal, "cannot sign: " + mbed_error_text(rc));
  // s = 0 has probability 2^-256; such a signature would not verify, so it is never sent.
  if (mbedtls_mpi_cmp_int(&s, 0) == 0) return make_error(Errc::internal, "cannot sign: s = 0, sign again");
  // DER: SEQUENCE { INTEGER r, INTEGER s }, written backwards from the end of the buffer.
  unsigned char der[MBEDTLS_ECDSA_MAX_LEN];
  unsigned char *p = der + sizeof der;
  size_t len = 0;
  for (int step = 0; step < 4 && rc == 0; step++) {
    int written = step == 0   ? mbedtls_asn1_write_mpi(&p, der, &s)
                  : step == 1 ? mbedtls_asn1_write_mpi(&p, der, &r)
                  : step == 2 ? mbedtls_asn1_write_len(&p, der, len)
                              : mbedtls_asn1_write_tag(&p, der, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE);
    if (written < 0)
      rc = written;
    else
      len += static_cast<size_t>(written);
  }
  if (rc != 0) return make_error(Errc::internal, "cannot encode the signature: " + mbed_error_text(rc));
  return Bytes(p, p + len);
}

// ---------------------------------------------------------------------------------------------
// Identity

Identity::Identity() {
  mbedtls_x509_crt_init(&cert_);
}

Identity::~Identity() {
  mbedtls_x509_crt_free(&cert_);
}

Result<std::shared_ptr<Identity>> Identity::load(const std::string &dir, const std::string &name) {
  Status named = check_identity_name(name);
  if (!named.ok()) return named.error();
  std::string key_path = identity_path(dir, name, ".key");
  std::string crt_path = identity_path(dir, name, ".crt");

  auto key_pem = read_identity_file(key_path, "key");
  if (!key_pem.ok()) return key_pem.error();
  auto crt_pem = read_identity_file(crt_path, "certificate");
  if (!crt_pem.ok()) return crt_pem.error();

  auto identity = parse_pem(*key_pem, *crt_pem, key_path, crt_path);
  mbedtls_platform_zeroize(key_pem->data(), key_pem->size());
  return identity;
}

Result<std::shared_ptr<Identity>> Identity::from_pem(const std::string &key_pem,
                                                     const std::string &cert_pem) {
  return parse_pem(key_pem, cert_pem, "the key text", "the certificate text");
}

Result<std::shared_ptr<Identity>> Identity::parse_pem(const std::string &key_pem, const std::string &cert_pem,
                                                      const std::string &key_origin,
                                                      const std::string &cert_origin) {
  auto key = KeyPair::from_pem(key_pem);
  if (!key.ok()) return make_error(key.error().code, key_origin + ": " + key.error().message);

  std::shared_ptr<Identity> identity(new Identity());
  // As for keys, PEM is only recognised with the NUL counted.
  int rc = mbedtls_x509_crt_parse(&identity->cert_, reinterpret_cast<const unsigned char *>(cert_pem.c_str()),
                                  cert_pem.size() + 1);
  if (rc != 0)
    return make_error(Errc::bad_request, cert_origin + ": invalid certificate: " + mbed_error_text(rc));
  if (mbedtls_pk_check_pair(&identity->cert_.pk, (*key)->pk()) != 0)
    return make_error(Errc::bad_request, "the certificate in " + cert_origin + " is not for the key in " +
                                             key_origin + " (they do not belong together)");
  identity->key_ = std::move(*key);
  return identity;
}

Result<std::shared_ptr<Identity>> Identity::create(const std::string &dir, const std::string &name,
                                                   const std::string &common_name) {
  Status named = check_identity_name(name);
  if (!named.ok()) return named.error();
  Status made = make_dirs(dir, 0700);
  if (!made.ok()) return made.error();
  std::string key_path = identity_path(dir, name, ".key");
  std::string crt_path = identity_path(dir, name, ".crt");
  if (file_exists(key_path))
    return make_error(Errc::conflict, "identity key " + key_path + " already exists");

  auto key = KeyPair::generate();
  if (!key.ok()) return key.error();
  auto crt_pem = self_signed_certificate_pem(**key, common_name);
  if (!crt_pem.ok()) return crt_pem.error();
  std::string key_pem = (*key)->private_pem();
  if (key_pem.empty()) return make_error(Errc::internal, "cannot encode the new private key");

  // The certificate goes first: the key file is what marks the identity as existing, so a crash
  // in between leaves a stray certificate that the next create simply replaces.
  Status s = write_file_atomic(crt_path, *crt_pem, 0644);
  if (s.ok()) s = write_file_atomic(key_path, key_pem, 0600);
  mbedtls_platform_zeroize(key_pem.data(), key_pem.size());
  if (!s.ok()) return s.error();

  std::shared_ptr<Identity> identity(new Identity());
  int rc = mbedtls_x509_crt_parse(&identity->cert_, reinterpret_cast<const unsigned char *>(crt_pem->c_str()),
                                  crt_pem->size() + 1);
  if (rc != 0)
    return make_error(Errc::internal, "cannot read back the new certificate: " + mbed_error_text(rc));
  identity->key_ = std::move(*key);
  return identity;
}

Result<std::shared_ptr<Identity>> Identity::load_or_create(const std::string &dir, const std::string &name,
                                                           const std::string &common_name) {
  Status named = check_identity_name(name);
  if (!named.ok()) return named.error();
  if (file_exists(identity_path(dir, name, ".key"))) return load(dir, name);
  return create(dir, name, common_name);
}

} // namespace lpm::proto
