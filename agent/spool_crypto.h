// Encryption of the agent's job store at rest (DESIGN §6, issue 3): the spool file format, the
// job keys and their wrapping by the storage key, sealed titles, and user folder names. Pure
// crypto and byte layout on mbedTLS (AES-256-GCM, HMAC-SHA-256), AES-256-GCM on AES-NI where
// the CPU has it (gcm_x86.cpp, same bytes); no files, no SQLite.
//
// Keys
//   storage key  32 random bytes in DATA/storage.key (0600), created once. Wraps every job key;
//                a keyed hash of it names the user folders.
//   job key      32 random bytes per job, never stored in clear: the jobs row holds it wrapped
//                (column spool_key), so deleting the row (secure_delete) destroys the key.
//
// Wrapped job key (61 bytes, jobs.spool_key)
//   version 0x01 | nonce (12, random) | AES-256-GCM(storage key, job key) (32) | tag (16)
//   AAD = "lpm job key" 0x00 <job id>
//
// Sealed title (jobs.title_sealed; the clear column jobs.title is always '')
//   version 0x01 | nonce (12) | AES-256-GCM(job key, title) | tag (16)
//   nonce = the job's nonce prefix | FF FF FF FF FF FF FF FF: a counter value no chunk reaches,
//   so the title never shares a nonce with a chunk under the same key.
//   AAD = "lpm job title" 0x00 <job id>
//
// Spool file (DATA/spool/<user folder>/<job id>.spool, 0600)
//   header (20 bytes):
//     "LPMSPOOL" | version 0x01 | cipher 0x01 (AES-256-GCM) | 00 00 |
//     chunk size (u32 big-endian, plaintext bytes per chunk, 65536) | nonce prefix (4, random)
//   then N chunks, each the ciphertext of its plaintext followed by its 16-byte tag:
//     chunks 0..N-2 hold exactly `chunk size` plaintext bytes; the final chunk N-1 holds the
//     rest, 1..chunk size bytes, or 0 bytes only for an empty document (N = max(1, ceil(P/C))).
//     file size = 20 + P + 16 N.
//   nonce of chunk i = nonce prefix | i (u64 big-endian)
//   AAD of chunk i   = header (20 bytes) | <job id> | i (u64 big-endian) | final (0x01 or 0x00)
//   A flipped bit anywhere, a header edit, chunks swapped, reordered or taken from another job
//   (another key), a missing final chunk (truncation at a chunk boundary) and an appended chunk
//   all fail authentication; truncation and extension also change the size the row records.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include <mbedtls/gcm.h>

#include "lpm/error.h"

namespace lpm::agent {

inline constexpr size_t kKeyBytes = 32;
inline constexpr size_t kNonceBytes = 12;
inline constexpr size_t kTagBytes = 16;
inline constexpr size_t kNoncePrefixBytes = 4;
inline constexpr size_t kSpoolHeaderBytes = 20;
inline constexpr uint32_t kSpoolChunkBytes = 64 * 1024;
// Chunk sizes a reader accepts from a header (a cap before allocating the chunk buffer).
inline constexpr uint32_t kMinSpoolChunkBytes = 4 * 1024;
inline constexpr uint32_t kMaxSpoolChunkBytes = 1024 * 1024;
inline constexpr size_t kWrappedKeyBytes = 1 + kNonceBytes + kKeyBytes + kTagBytes;

using Bytes = std::vector<uint8_t>;
using NoncePrefix = std::array<uint8_t, kNoncePrefixBytes>;

// 32 key bytes, wiped when destroyed.
class SecretKey {
public:
  SecretKey() { bytes_.fill(0); }
  ~SecretKey();
  SecretKey(const SecretKey &other) = default;
  SecretKey &operator=(const SecretKey &other) = default;
  static SecretKey random();
  // From exactly kKeyBytes bytes; false otherwise.
  static bool from(std::span<const uint8_t> bytes, SecretKey &out);
  std::span<const uint8_t> bytes() const { return bytes_; }
  std::span<uint8_t> bytes() { return bytes_; }

private:
  std::array<uint8_t, kKeyBytes> bytes_;
};

namespace detail {
struct GcmPath; // detail/gcm.h: picks the implementation (tests, lpm_aead_bench)

// The accelerated path's key schedule (gcm_x86.cpp): the AES-256 round keys, and the powers of
// the GHASH key H in the byte-reversed form the carry-less multiplier takes, each with the XOR
// of its two halves (Karatsuba). As secret as the key.
struct GcmX86Key {
  uint8_t round_keys[15][16];
  uint8_t h_powers[8][16];     // H^1 .. H^8
  uint8_t h_powers_xor[8][16]; // per power: high half ^ low half, in both halves
};
} // namespace detail

// One AES-256-GCM key schedule; seal/open whole messages. Runs on x86 AES-NI and PCLMULQDQ,
// eight blocks at a time, when the CPU has them (about 18 times mbedTLS 2.28's one block at a
// time here, lpm_aead_bench); on mbedTLS otherwise. LPM_GCM_PORTABLE=1 in the environment, read once
// by the first Gcm, forces mbedTLS. Both give the same bytes: the stored format does not depend
// on the path.
// The nonce may be any non-empty length (the store's are 12 bytes). `out` may be exactly the
// input (in place), not otherwise overlap it.
class Gcm {
public:
  explicit Gcm(const SecretKey &key);
  ~Gcm();
  Gcm(const Gcm &) = delete;
  Gcm &operator=(const Gcm &) = delete;
  // out receives ciphertext (plaintext.size() bytes) then the tag: plaintext.size() + 16 bytes.
  // An empty nonce or a plaintext over GCM's limit (2^36 - 32 bytes) aborts: there is no
  // ciphertext to write for them.
  void seal(std::span<const uint8_t> nonce, std::span<const uint8_t> aad, std::span<const uint8_t> plaintext,
            uint8_t *out);
  // sealed = ciphertext | tag; out receives sealed.size() - 16 bytes. false when the tag does
  // not verify (out is then zeroed, as mbedTLS does), and, writing nothing, for an empty nonce
  // or an input shorter than a tag or over GCM's limit.
  bool open(std::span<const uint8_t> nonce, std::span<const uint8_t> aad, std::span<const uint8_t> sealed,
            uint8_t *out);

private:
  friend struct detail::GcmPath;
  // The accelerated path when asked and the CPU has it, mbedTLS otherwise.
  Gcm(const SecretKey &key, bool accelerated);

  bool accelerated_;
  mbedtls_gcm_context ctx_; // the mbedTLS path's
  detail::GcmX86Key x86_{}; // the accelerated path's; wiped on destruction
};

// The job key wrapped by the storage key, bound to the job id.
Bytes wrap_job_key(const SecretKey &storage_key, const std::string &job_id, const SecretKey &job_key);
// checksum_mismatch when the blob is damaged, belongs to another job, or another storage key
// wrapped it.
Result<SecretKey> unwrap_job_key(const SecretKey &storage_key, const std::string &job_id,
                                 std::span<const uint8_t> wrapped);

Bytes seal_title(const SecretKey &job_key, const NoncePrefix &prefix, const std::string &job_id,
                 const std::string &title);
Result<std::string> open_title(const SecretKey &job_key, const std::string &job_id,
                               std::span<const uint8_t> sealed);

// A value that proves which storage key is in use (table store_settings), so a replaced
// storage.key is reported as such at open instead of as every job being damaged.
Bytes storage_key_check(const SecretKey &storage_key);
bool storage_key_matches(const SecretKey &storage_key, std::span<const uint8_t> check);

// The folder of a user's spool files: hex of the first 16 bytes of
// HMAC-SHA-256(HMAC-SHA-256(storage key, "lpm user folder"), user). Opaque without the key.
std::string user_folder_name(const SecretKey &storage_key, const std::string &user);

// Size of the spool file of a document of `plaintext` bytes.
uint64_t spool_file_bytes(uint64_t plaintext, uint32_t chunk_bytes = kSpoolChunkBytes);

struct SpoolHeader {
  uint32_t chunk_bytes = kSpoolChunkBytes;
  NoncePrefix prefix{};
  std::array<uint8_t, kSpoolHeaderBytes> encode() const;
  // checksum_mismatch naming what is wrong (magic, version, cipher, chunk size).
  static Result<SpoolHeader> parse(std::span<const uint8_t> bytes, const std::string &job_id);
};

// Encrypts one document into the spool format as it arrives. Complete chunk records (and, at
// finish, the final one) go to `emit` as ciphertext | tag; the header is the caller's to write
// first.
class SpoolSealer {
public:
  using Emit = std::function<Status(std::span<const uint8_t> record)>;
  SpoolSealer(const SecretKey &job_key, const SpoolHeader &header, std::string job_id);
  const std::array<uint8_t, kSpoolHeaderBytes> &header_bytes() const { return header_bytes_; }
  // Buffers plaintext; a full chunk is sealed (non-final) once more plaintext follows it.
  Status add(std::span<const uint8_t> data, const Emit &emit);
  // Seals what is buffered as the final chunk.
  Status finish(const Emit &emit);
  uint64_t chunks_emitted() const { return index_; }

private:
  Status seal_buffer(bool final, const Emit &emit);

  Gcm gcm_;
  SpoolHeader header_;
  std::array<uint8_t, kSpoolHeaderBytes> header_bytes_;
  std::string job_id_;
  std::vector<uint8_t> buffer_; // plaintext not sealed yet
  std::vector<uint8_t> record_; // ciphertext | tag
  uint64_t index_ = 0;
};

// Authenticates and decrypts single chunks of one job's spool file.
class SpoolOpener {
public:
  SpoolOpener(const SecretKey &job_key, const SpoolHeader &header, std::string job_id);
  // record = ciphertext | tag of chunk `index`; out gets record.size() - 16 bytes.
  // checksum_mismatch when it does not authenticate.
  Status open(uint64_t index, bool final, std::span<const uint8_t> record, uint8_t *out);

private:
  Gcm gcm_;
  SpoolHeader header_;
  std::array<uint8_t, kSpoolHeaderBytes> header_bytes_;
  std::string job_id_;
};

} // namespace lpm::agent
