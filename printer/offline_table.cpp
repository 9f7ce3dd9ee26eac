#include "offline_table.h"

#include <mbedtls/gcm.h>

#include <cstring>

#include "lpm/files.h"
#include "lpm/ids.h"

namespace lpm::printer {

namespace {

constexpr char kMagic[8] = {'L', 'P', 'M', 'O', 'F', 'F', '1', '\0'};
constexpr size_t kNonceBytes = 12;
constexpr size_t kTagBytes = 16;
constexpr size_t kKeyFileBytes = 64;
// Far above a large enterprise's table (100,000 badges of ~300 bytes).
constexpr size_t kMaxTableBytes = 256u << 20;
constexpr size_t kMaxTableBadges = 2'000'000;
constexpr size_t kMaxTableWorkstations = 500'000;

std::string key_path(const std::string &dir) {
  return dir + "/offline.key";
}
std::string table_path(const std::string &dir) {
  return dir + "/offline.table";
}

proto::Bytes encode(const OfflineTable &t) {
  std::vector<proto::MapWriter> badges;
  badges.reserve(t.badges.size());
  for (const auto &[key, b] : t.badges) {
    std::vector<proto::MapWriter> users;
    for (const auto &u : b.users)
      users.push_back(proto::badge_user_map(u));
    proto::MapWriter m;
    m.bin("key", b.key)
        .i64("expires", b.expires_ms)
        .map_array("users", users)
        .str_array("workstations", b.workstations);
    badges.push_back(std::move(m));
  }
  std::vector<proto::MapWriter> workstations;
  workstations.reserve(t.workstations.size());
  for (const auto &[id, w] : t.workstations)
    workstations.push_back(proto::workstation_ref_map(w));
  proto::MapWriter w;
  w.u64("v", 1)
      .i64("synced", t.synced_ms)
      .map("certificate", t.certificate.to_map())
      .i64("certificate_expires", t.certificate_expires_ms)
      .str("strip", t.strip)
      .str("color_denied", t.color_denied)
      .map_array("badges", badges)
      .map_array("workstations", workstations);
  return w.finish();
}

Result<OfflineTable> decode(std::span<const uint8_t> bytes) {
  proto::UnpackLimits limits;
  limits.max_array = kMaxTableBadges;
  limits.max_map = 32;
  limits.max_str = 4096;
  limits.max_bin = 8192;
  auto handle = proto::unpack_map(bytes, limits);
  if (!handle.ok()) return handle.error();
  proto::MapReader r(handle->get(), "offline table");
  OfflineTable t;
  if (r.u64("v") != 1 && r.ok()) r.fail("offline table: unknown version");
  t.synced_ms = r.i64("synced");
  proto::MapReader c = r.map("certificate");
  t.certificate = proto::SignedPrinterCertificate::from_map(c);
  t.certificate_expires_ms = r.i64("certificate_expires");
  t.strip = r.str("strip", 64);
  t.color_denied = r.str("color_denied", 64);
  for (auto &m : r.map_array("badges", kMaxTableBadges)) {
    proto::OfflineBadge b;
    b.key = m.bin("key", proto::kOfflineBadgeKeyBytes);
    b.expires_ms = m.i64("expires");
    for (auto &u : m.map_array("users", proto::kMaxTicketUsers))
      b.users.push_back(proto::badge_user_read(u, r));
    b.workstations = m.str_array("workstations", proto::kMaxTicketWorkstations, 64);
    if (!r.ok()) break;
    if (b.users.empty()) {
      r.fail("offline table: a badge without a user");
      break;
    }
    proto::Bytes key = b.key;
    t.badges.emplace(std::move(key), std::move(b));
  }
  for (auto &m : r.map_array("workstations", kMaxTableWorkstations)) {
    proto::WorkstationRef w = proto::workstation_ref_read(m, r);
    if (!r.ok()) break;
    std::string id = w.id;
    t.workstations.emplace(std::move(id), std::move(w));
  }
  if (!r.ok()) return r.error();
  return t;
}

} // namespace

Result<const proto::OfflineBadge *> OfflineTable::find(std::span<const uint8_t> secret,
                                                       std::string_view badge, int64_t now_ms) const {
  auto normal = proto::badge_normalize(badge, strip);
  if (!normal.ok()) return normal.error();
  auto it = badges.find(proto::offline_badge_key(secret, *normal));
  if (it == badges.end()) return make_error(Errc::not_found, "unknown badge");
  if (it->second.expires_ms != 0 && it->second.expires_ms <= now_ms)
    return make_error(Errc::expired, "badge expired (a temporary badge lasts 24 hours)");
  return &it->second;
}

Result<OfflineKeys> offline_keys_load_or_create(const std::string &data_dir) {
  auto read = read_file(key_path(data_dir), kKeyFileBytes + 1);
  std::string bytes;
  if (read.ok()) {
    bytes = std::move(*read);
  } else if (read.error().code == Errc::not_found) {
    bytes.resize(kKeyFileBytes);
    random_bytes(bytes.data(), bytes.size());
    Status written = write_file_atomic(key_path(data_dir), bytes, 0600);
    if (!written.ok()) return written.error();
  } else {
    return read.error();
  }
  if (bytes.size() != kKeyFileBytes)
    return make_error(Errc::io_error, key_path(data_dir) + " is not 64 bytes: delete it (and offline.table) "
                                                           "and let the station sync again");
  OfflineKeys keys;
  keys.table_key.assign(bytes.begin(), bytes.begin() + 32);
  keys.secret.assign(bytes.begin() + 32, bytes.end());
  explicit_bzero(bytes.data(), bytes.size());
  return keys;
}

Status offline_table_save(const std::string &data_dir, const OfflineKeys &keys, const OfflineTable &table) {
  proto::Bytes plain = encode(table);
  std::string out(kMagic, sizeof kMagic);
  out.resize(sizeof kMagic + kNonceBytes + plain.size() + kTagBytes);
  auto *nonce = reinterpret_cast<unsigned char *>(out.data() + sizeof kMagic);
  random_bytes(nonce, kNonceBytes);
  auto *cipher = nonce + kNonceBytes;
  mbedtls_gcm_context gcm;
  mbedtls_gcm_init(&gcm);
  int rc = mbedtls_gcm_setkey(&gcm, MBEDTLS_CIPHER_ID_AES, keys.table_key.data(), 256);
  if (rc == 0)
    rc = mbedtls_gcm_crypt_and_tag(&gcm, MBEDTLS_GCM_ENCRYPT, plain.size(), nonce, kNonceBytes,
                                   reinterpret_cast<const unsigned char *>(kMagic), sizeof kMagic,
                                   plain.data(), cipher, kTagBytes, cipher + plain.size());
  mbedtls_gcm_free(&gcm);
  explicit_bzero(plain.data(), plain.size());
  if (rc != 0)
    return make_error(Errc::internal,
                      "cannot encrypt the offline table (mbedTLS " + std::to_string(rc) + ")");
  return write_file_atomic(table_path(data_dir), out, 0600);
}

Result<std::optional<OfflineTable>> offline_table_load(const std::string &data_dir, const OfflineKeys &keys) {
  auto read = read_file(table_path(data_dir), kMaxTableBytes);
  if (!read.ok()) {
    if (read.error().code == Errc::not_found) return std::optional<OfflineTable>();
    return read.error();
  }
  const std::string &in = *read;
  std::string where = table_path(data_dir);
  if (in.size() < sizeof kMagic + kNonceBytes + kTagBytes ||
      std::memcmp(in.data(), kMagic, sizeof kMagic) != 0)
    return make_error(Errc::io_error, where + " is not an offline table");
  size_t body = in.size() - sizeof kMagic - kNonceBytes - kTagBytes;
  const auto *nonce = reinterpret_cast<const unsigned char *>(in.data() + sizeof kMagic);
  const auto *cipher = nonce + kNonceBytes;
  proto::Bytes plain(body);
  mbedtls_gcm_context gcm;
  mbedtls_gcm_init(&gcm);
  int rc = mbedtls_gcm_setkey(&gcm, MBEDTLS_CIPHER_ID_AES, keys.table_key.data(), 256);
  if (rc == 0)
    rc = mbedtls_gcm_auth_decrypt(&gcm, body, nonce, kNonceBytes,
                                  reinterpret_cast<const unsigned char *>(kMagic), sizeof kMagic,
                                  cipher + body, kTagBytes, cipher, plain.data());
  mbedtls_gcm_free(&gcm);
  if (rc != 0)
    return make_error(Errc::io_error, where + " does not decrypt with offline.key (damaged, or another "
                                              "station's): it is replaced at the next sync");
  auto table = decode(plain);
  explicit_bzero(plain.data(), plain.size());
  if (!table.ok()) return make_error(Errc::io_error, where + ": " + table.error().message);
  return std::optional<OfflineTable>(std::move(*table));
}

} // namespace lpm::printer
