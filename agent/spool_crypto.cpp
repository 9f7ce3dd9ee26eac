// Encryption of the job store at rest: see spool_crypto.h for the formats.
#include "spool_crypto.h"

#include <mbedtls/md.h>
#include <mbedtls/platform_util.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include "detail/gcm.h"
#include "lpm/ids.h"

namespace lpm::agent {

namespace {

constexpr uint8_t kBlobVersion = 1;
constexpr uint8_t kSpoolVersion = 1;
constexpr uint8_t kCipherAes256Gcm = 1;
constexpr char kMagic[8] = {'L', 'P', 'M', 'S', 'P', 'O', 'O', 'L'};
constexpr uint64_t kTitleCounter = ~uint64_t{0};

void put_u64(uint8_t *out, uint64_t v) {
  for (int i = 7; i >= 0; i--) {
    out[i] = static_cast<uint8_t>(v & 0xff);
    v >>= 8;
  }
}

std::array<uint8_t, kNonceBytes> counter_nonce(const NoncePrefix &prefix, uint64_t counter) {
  std::array<uint8_t, kNonceBytes> nonce{};
  std::copy(prefix.begin(), prefix.end(), nonce.begin());
  put_u64(nonce.data() + kNoncePrefixBytes, counter);
  return nonce;
}

// "<label>" 0x00 <job id>: the AAD of the blobs kept in a job's row.
Bytes row_aad(const char *label, const std::string &job_id) {
  Bytes aad(label, label + std::strlen(label));
  aad.push_back(0);
  aad.insert(aad.end(), job_id.begin(), job_id.end());
  return aad;
}

// header | job id | index | final
Bytes chunk_aad(const std::array<uint8_t, kSpoolHeaderBytes> &header, const std::string &job_id,
                uint64_t index, bool final) {
  Bytes aad(header.begin(), header.end());
  aad.insert(aad.end(), job_id.begin(), job_id.end());
  uint8_t n[8];
  put_u64(n, index);
  aad.insert(aad.end(), n, n + 8);
  aad.push_back(final ? 1 : 0);
  return aad;
}

std::array<uint8_t, 32> hmac_sha256(std::span<const uint8_t> key, std::span<const uint8_t> message) {
  std::array<uint8_t, 32> out{};
  // Cannot fail for SHA-256 with valid buffers.
  (void)mbedtls_md_hmac(mbedtls_md_info_from_type(MBEDTLS_MD_SHA256), key.data(), key.size(), message.data(),
                        message.size(), out.data());
  return out;
}

std::span<const uint8_t> as_bytes(const std::string &s) {
  return {reinterpret_cast<const uint8_t *>(s.data()), s.size()};
}

} // namespace

SecretKey::~SecretKey() {
  mbedtls_platform_zeroize(bytes_.data(), bytes_.size());
}

SecretKey SecretKey::random() {
  SecretKey k;
  random_bytes(k.bytes_.data(), k.bytes_.size());
  return k;
}

bool SecretKey::from(std::span<const uint8_t> bytes, SecretKey &out) {
  if (bytes.size() != kKeyBytes) return false;
  std::copy(bytes.begin(), bytes.end(), out.bytes_.begin());
  return true;
}

// ---------------------------------------------------------------------------------------------
// Gcm: the accelerated path is gcm_x86.cpp's whole, but for the tag check; the portable path is
// mbedTLS's.

bool detail::GcmPath::accelerated_available() {
#ifdef LPM_GCM_X86
  return gcm_x86_supported();
#else
  return false;
#endif
}

bool detail::GcmPath::accelerated_chosen() {
  static const bool chosen = [] {
    const char *portable = std::getenv("LPM_GCM_PORTABLE");
    return accelerated_available() && !(portable != nullptr && std::string_view(portable) == "1");
  }();
  return chosen;
}

namespace {

// SP 800-38D's limit on the plaintext, 2^39 - 256 bits; mbedTLS refuses more.
constexpr uint64_t kMaxGcmBytes = (uint64_t{1} << 36) - 32;

void gcm_crypt_x86([[maybe_unused]] const detail::GcmX86Key &key, [[maybe_unused]] bool encrypt,
                   [[maybe_unused]] std::span<const uint8_t> nonce,
                   [[maybe_unused]] std::span<const uint8_t> aad, [[maybe_unused]] const uint8_t *in,
                   [[maybe_unused]] size_t length, [[maybe_unused]] uint8_t *out,
                   [[maybe_unused]] uint8_t tag[kTagBytes]) {
#ifdef LPM_GCM_X86
  detail::gcm_x86_crypt(key, encrypt, nonce.data(), nonce.size(), aad.data(), aad.size(), in, length, out,
                        tag);
#else
  // No Gcm is accelerated here.
  std::abort();
#endif
}

} // namespace

Gcm::Gcm(const SecretKey &key) : Gcm(key, detail::GcmPath::accelerated_chosen()) {}

Gcm::Gcm(const SecretKey &key, bool accelerated)
    : accelerated_(accelerated && detail::GcmPath::accelerated_available()) {
  mbedtls_gcm_init(&ctx_);
  if (accelerated_) {
#ifdef LPM_GCM_X86
    detail::gcm_x86_expand_key(key.bytes().data(), x86_);
#endif
    return;
  }
  // Only fails for a key length AES does not have.
  (void)mbedtls_gcm_setkey(&ctx_, MBEDTLS_CIPHER_ID_AES, key.bytes().data(), kKeyBytes * 8);
}

Gcm::~Gcm() {
  mbedtls_gcm_free(&ctx_);
  mbedtls_platform_zeroize(&x86_, sizeof x86_);
}

void Gcm::seal(std::span<const uint8_t> nonce, std::span<const uint8_t> aad,
               std::span<const uint8_t> plaintext, uint8_t *out) {
  // mbedTLS would return an error and leave out unwritten, and a record the store cannot open
  // later must not be written: a caller's bug, stopped here on both paths.
  if (nonce.empty() || plaintext.size() > kMaxGcmBytes) std::abort();
  if (!accelerated_) {
    (void)mbedtls_gcm_crypt_and_tag(&ctx_, MBEDTLS_GCM_ENCRYPT, plaintext.size(), nonce.data(), nonce.size(),
                                    aad.data(), aad.size(), plaintext.data(), out, kTagBytes,
                                    out + plaintext.size());
    return;
  }
  gcm_crypt_x86(x86_, true, nonce, aad, plaintext.data(), plaintext.size(), out, out + plaintext.size());
}

bool Gcm::open(std::span<const uint8_t> nonce, std::span<const uint8_t> aad, std::span<const uint8_t> sealed,
               uint8_t *out) {
  if (sealed.size() < kTagBytes || nonce.empty()) return false;
  size_t len = sealed.size() - kTagBytes;
  if (len > kMaxGcmBytes) return false;
  if (!accelerated_)
    return mbedtls_gcm_auth_decrypt(&ctx_, len, nonce.data(), nonce.size(), aad.data(), aad.size(),
                                    sealed.data() + len, kTagBytes, sealed.data(), out) == 0;
  uint8_t tag[kTagBytes];
  gcm_crypt_x86(x86_, false, nonce, aad, sealed.data(), len, out, tag);
  // Every byte compared whatever the first difference, so the time taken tells nothing of how
  // much of a forged tag was right.
  uint8_t difference = 0;
  for (size_t i = 0; i < kTagBytes; i++)
    difference |= static_cast<uint8_t>(tag[i] ^ sealed[len + i]);
  if (difference != 0) mbedtls_platform_zeroize(out, len);
  return difference == 0;
}

Bytes wrap_job_key(const SecretKey &storage_key, const std::string &job_id, const SecretKey &job_key) {
  Bytes out(kWrappedKeyBytes);
  out[0] = kBlobVersion;
  random_bytes(out.data() + 1, kNonceBytes);
  Gcm gcm(storage_key);
  gcm.seal({out.data() + 1, kNonceBytes}, row_aad("lpm job key", job_id), job_key.bytes(),
           out.data() + 1 + kNonceBytes);
  return out;
}

Result<SecretKey> unwrap_job_key(const SecretKey &storage_key, const std::string &job_id,
                                 std::span<const uint8_t> wrapped) {
  if (wrapped.size() != kWrappedKeyBytes || wrapped[0] != kBlobVersion)
    return make_error(Errc::checksum_mismatch, "the key of job " + job_id + " in state.db is malformed");
  SecretKey key;
  Gcm gcm(storage_key);
  if (!gcm.open(wrapped.subspan(1, kNonceBytes), row_aad("lpm job key", job_id),
                wrapped.subspan(1 + kNonceBytes), key.bytes().data()))
    return make_error(Errc::checksum_mismatch,
                      "the key of job " + job_id +
                          " does not unwrap with the storage key (state.db damaged)");
  return key;
}

Bytes seal_title(const SecretKey &job_key, const NoncePrefix &prefix, const std::string &job_id,
                 const std::string &title) {
  auto nonce = counter_nonce(prefix, kTitleCounter);
  Bytes out(1 + kNonceBytes + title.size() + kTagBytes);
  out[0] = kBlobVersion;
  std::copy(nonce.begin(), nonce.end(), out.begin() + 1);
  Gcm gcm(job_key);
  gcm.seal(nonce, row_aad("lpm job title", job_id), as_bytes(title), out.data() + 1 + kNonceBytes);
  return out;
}

Result<std::string> open_title(const SecretKey &job_key, const std::string &job_id,
                               std::span<const uint8_t> sealed) {
  if (sealed.size() < 1 + kNonceBytes + kTagBytes || sealed[0] != kBlobVersion)
    return make_error(Errc::checksum_mismatch, "the title of job " + job_id + " in state.db is malformed");
  std::string title(sealed.size() - 1 - kNonceBytes - kTagBytes, '\0');
  Gcm gcm(job_key);
  if (!gcm.open(sealed.subspan(1, kNonceBytes), row_aad("lpm job title", job_id),
                sealed.subspan(1 + kNonceBytes), reinterpret_cast<uint8_t *>(title.data())))
    return make_error(Errc::checksum_mismatch, "the title of job " + job_id + " does not authenticate");
  return title;
}

Bytes storage_key_check(const SecretKey &storage_key) {
  Bytes out(1 + kNonceBytes + kTagBytes);
  out[0] = kBlobVersion;
  random_bytes(out.data() + 1, kNonceBytes);
  Gcm gcm(storage_key);
  gcm.seal({out.data() + 1, kNonceBytes}, as_bytes("lpm storage key check"), {},
           out.data() + 1 + kNonceBytes);
  return out;
}

bool storage_key_matches(const SecretKey &storage_key, std::span<const uint8_t> check) {
  if (check.size() != 1 + kNonceBytes + kTagBytes || check[0] != kBlobVersion) return false;
  Gcm gcm(storage_key);
  uint8_t none[1];
  return gcm.open(check.subspan(1, kNonceBytes), as_bytes("lpm storage key check"),
                  check.subspan(1 + kNonceBytes), none);
}

std::string user_folder_name(const SecretKey &storage_key, const std::string &user) {
  auto folder_key = hmac_sha256(storage_key.bytes(), as_bytes("lpm user folder"));
  auto mac = hmac_sha256(folder_key, as_bytes(user));
  mbedtls_platform_zeroize(folder_key.data(), folder_key.size());
  return to_hex(std::span<const uint8_t>(mac.data(), 16));
}

uint64_t spool_file_bytes(uint64_t plaintext, uint32_t chunk_bytes) {
  uint64_t chunks = plaintext == 0 ? 1 : (plaintext + chunk_bytes - 1) / chunk_bytes;
  return kSpoolHeaderBytes + plaintext + chunks * kTagBytes;
}

std::array<uint8_t, kSpoolHeaderBytes> SpoolHeader::encode() const {
  std::array<uint8_t, kSpoolHeaderBytes> out{};
  std::memcpy(out.data(), kMagic, sizeof kMagic);
  out[8] = kSpoolVersion;
  out[9] = kCipherAes256Gcm;
  out[12] = static_cast<uint8_t>(chunk_bytes >> 24);
  out[13] = static_cast<uint8_t>(chunk_bytes >> 16);
  out[14] = static_cast<uint8_t>(chunk_bytes >> 8);
  out[15] = static_cast<uint8_t>(chunk_bytes);
  std::copy(prefix.begin(), prefix.end(), out.begin() + 16);
  return out;
}

Result<SpoolHeader> SpoolHeader::parse(std::span<const uint8_t> bytes, const std::string &job_id) {
  std::string where = "spool file of job " + job_id;
  if (bytes.size() < kSpoolHeaderBytes || std::memcmp(bytes.data(), kMagic, sizeof kMagic) != 0)
    return make_error(Errc::checksum_mismatch, where + " does not start with an LPM spool header");
  if (bytes[8] != kSpoolVersion)
    return make_error(Errc::checksum_mismatch, where + " has format version " + std::to_string(bytes[8]) +
                                                   ", this agent reads version " +
                                                   std::to_string(kSpoolVersion));
  if (bytes[9] != kCipherAes256Gcm || bytes[10] != 0 || bytes[11] != 0)
    return make_error(Errc::checksum_mismatch, where + " names an unknown cipher");
  SpoolHeader h;
  h.chunk_bytes = (uint32_t{bytes[12]} << 24) | (uint32_t{bytes[13]} << 16) | (uint32_t{bytes[14]} << 8) |
                  uint32_t{bytes[15]};
  if (h.chunk_bytes < kMinSpoolChunkBytes || h.chunk_bytes > kMaxSpoolChunkBytes)
    return make_error(Errc::checksum_mismatch,
                      where + " has an impossible chunk size " + std::to_string(h.chunk_bytes));
  std::copy(bytes.begin() + 16, bytes.begin() + 20, h.prefix.begin());
  return h;
}

SpoolSealer::SpoolSealer(const SecretKey &job_key, const SpoolHeader &header, std::string job_id)
    : gcm_(job_key), header_(header), header_bytes_(header.encode()), job_id_(std::move(job_id)) {
  buffer_.reserve(header_.chunk_bytes);
  record_.reserve(header_.chunk_bytes + kTagBytes);
}

Status SpoolSealer::add(std::span<const uint8_t> data, const Emit &emit) {
  const size_t chunk = header_.chunk_bytes;
  while (!data.empty()) {
    // A full buffer is sealed only now that more plaintext follows it: it is not the last.
    if (buffer_.size() == chunk) {
      Status s = seal_buffer(false, emit);
      if (!s.ok()) return s;
    }
    if (buffer_.empty() && data.size() > chunk) {
      // Whole chunks straight from the caller's data, without a copy.
      auto nonce = counter_nonce(header_.prefix, index_);
      record_.resize(chunk + kTagBytes);
      gcm_.seal(nonce, chunk_aad(header_bytes_, job_id_, index_, false), data.first(chunk), record_.data());
      Status s = emit(record_);
      if (!s.ok()) return s;
      index_++;
      data = data.subspan(chunk);
      continue;
    }
    size_t take = std::min(chunk - buffer_.size(), data.size());
    buffer_.insert(buffer_.end(), data.begin(), data.begin() + static_cast<std::ptrdiff_t>(take));
    data = data.subspan(take);
  }
  return {};
}

Status SpoolSealer::finish(const Emit &emit) {
  return seal_buffer(true, emit);
}

Status SpoolSealer::seal_buffer(bool final, const Emit &emit) {
  auto nonce = counter_nonce(header_.prefix, index_);
  record_.resize(buffer_.size() + kTagBytes);
  gcm_.seal(nonce, chunk_aad(header_bytes_, job_id_, index_, final), buffer_, record_.data());
  Status s = emit(record_);
  if (!s.ok()) return s;
  index_++;
  buffer_.clear();
  return {};
}

SpoolOpener::SpoolOpener(const SecretKey &job_key, const SpoolHeader &header, std::string job_id)
    : gcm_(job_key), header_(header), header_bytes_(header.encode()), job_id_(std::move(job_id)) {}

Status SpoolOpener::open(uint64_t index, bool final, std::span<const uint8_t> record, uint8_t *out) {
  auto nonce = counter_nonce(header_.prefix, index);
  if (!gcm_.open(nonce, chunk_aad(header_bytes_, job_id_, index, final), record, out))
    return make_error(Errc::checksum_mismatch, "spool file of job " + job_id_ + ": chunk " +
                                                   std::to_string(index) + (final ? " (the last)" : "") +
                                                   " does not authenticate; the file was damaged or tampered "
                                                   "with and is not served");
  return {};
}

} // namespace lpm::agent
