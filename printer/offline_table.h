// What a release station keeps to release while the directory is unreachable (issue 8,
// protocol/ops_offline.h): its printer certificate, the enterprise's badge rules, the badge
// table (badge keys -> users, delegators, limits, workstations holding their jobs) and the key
// table of workstations (id -> key fingerprint, port, last addresses).
//
// On disk, in the station's data folder:
//   offline.key    0600, 64 random bytes: an AES-256-GCM key, then the secret badges are keyed
//                  with (HMAC-SHA256; the directory computes the keys with it, ops_offline.h)
//   offline.table  0600, "LPMOFF1\0", a 12-byte nonce, the table (msgpack) encrypted under that
//                  key, the 16-byte tag. Replaced whole (written beside, synced, renamed).
// The table never holds a badge as the reader gives it, nor a PIN or password; a copy of the
// file without offline.key tells nothing but its size. docs/security.md says what it protects.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "lpm/error.h"
#include "lpm/protocol/ops_offline.h"

namespace lpm::printer {

struct OfflineTable {
  int64_t synced_ms = 0; // when the directory gave it
  proto::SignedPrinterCertificate certificate;
  int64_t certificate_expires_ms = 0;
  std::string strip;
  std::string color_denied = proto::kColorDeniedMono;
  std::map<proto::Bytes, proto::OfflineBadge> badges;        // by key
  std::map<std::string, proto::WorkstationRef> workstations; // by id

  // A badge as the reader gave it: its entry, or not_found ("unknown badge"), expired (a
  // temporary badge), bad_request (nothing left after the rules).
  Result<const proto::OfflineBadge *> find(std::span<const uint8_t> secret, std::string_view badge,
                                           int64_t now_ms) const;
};

// The station's offline keys (offline.key), created on first use.
struct OfflineKeys {
  proto::Bytes table_key; // 32 bytes
  proto::Bytes secret;    // 32 bytes
};
Result<OfflineKeys> offline_keys_load_or_create(const std::string &data_dir);

Status offline_table_save(const std::string &data_dir, const OfflineKeys &keys, const OfflineTable &table);
// nullopt when there is no table yet; an error when it is there but cannot be read (damaged,
// another key).
Result<std::optional<OfflineTable>> offline_table_load(const std::string &data_dir, const OfflineKeys &keys);

} // namespace lpm::printer
