#include "enrollment.h"

#include <algorithm>
#include <charconv>
#include <cstdint>

namespace lpm::agent {

namespace {
constexpr const char *kWorkstationId = "workstation_id";
constexpr const char *kTicketKey = "ticket_key";

Status put(Db &db, const char *name, std::span<const uint8_t> value) {
  auto st = db.prepare("INSERT OR REPLACE INTO settings(name, value) VALUES(?1, ?2)");
  if (!st.ok()) return st.error();
  return st->bind(1, name).bind_blob(2, value).run();
}

Result<std::optional<proto::Bytes>> get(Db &db, const char *name) {
  auto st = db.prepare("SELECT value FROM settings WHERE name = ?1");
  if (!st.ok()) return st.error();
  st->bind(1, name);
  auto row = st->step();
  if (!row.ok()) return row.error();
  if (!*row) return std::optional<proto::Bytes>();
  return std::optional<proto::Bytes>(st->col_blob(0));
}
} // namespace

Status enrollment_prepare(Db &db) {
  return db.exec("CREATE TABLE IF NOT EXISTS settings(name TEXT PRIMARY KEY, value BLOB NOT NULL);");
}

Status enrollment_save(Db &db, const Enrollment &enrollment) {
  Status s = enrollment_prepare(db);
  if (!s.ok()) return s;
  Transaction tx(db);
  if (!tx.begun().ok()) return tx.begun();
  const auto &id = enrollment.workstation_id;
  s = put(db, kWorkstationId,
          std::span<const uint8_t>(reinterpret_cast<const uint8_t *>(id.data()), id.size()));
  if (s.ok()) s = put(db, kTicketKey, enrollment.ticket_key_der);
  if (s.ok()) s = tx.commit();
  return s;
}

Result<std::optional<Enrollment>> enrollment_load(Db &db) {
  Status s = enrollment_prepare(db);
  if (!s.ok()) return s.error();
  auto id = get(db, kWorkstationId);
  if (!id.ok()) return id.error();
  auto key = get(db, kTicketKey);
  if (!key.ok()) return key.error();
  if (!*id || !*key) return std::optional<Enrollment>();
  Enrollment e;
  e.workstation_id.assign((*id)->begin(), (*id)->end());
  e.ticket_key_der = std::move(**key);
  return std::optional<Enrollment>(std::move(e));
}

namespace {
constexpr const char *kAnnouncedKeys = "directory_keys";
}

Result<std::vector<proto::Fingerprint>> announced_directory_keys_load(Db &db) {
  Status s = enrollment_prepare(db);
  if (!s.ok()) return s.error();
  auto stored = get(db, kAnnouncedKeys);
  if (!stored.ok()) return stored.error();
  std::vector<proto::Fingerprint> keys;
  if (!*stored) return keys;
  std::string text((*stored)->begin(), (*stored)->end());
  size_t at = 0;
  while (at < text.size()) {
    size_t end = text.find('\n', at);
    if (end == std::string::npos) end = text.size();
    std::string key = text.substr(at, end - at);
    // What this agent wrote, but a bit flip must not become a pin.
    if (proto::fingerprint_valid(key)) keys.push_back(std::move(key));
    at = end + 1;
  }
  return keys;
}

Status announced_directory_keys_save(Db &db, const std::vector<proto::Fingerprint> &keys) {
  Status s = enrollment_prepare(db);
  if (!s.ok()) return s;
  std::string text;
  for (const auto &key : keys)
    text += (text.empty() ? "" : "\n") + key;
  return put(db, kAnnouncedKeys,
             std::span<const uint8_t>(reinterpret_cast<const uint8_t *>(text.data()), text.size()));
}

namespace {
constexpr const char *kDirectoryHeard = "directory_heard_ms";
}

Result<int64_t> directory_heard_load(Db &db) {
  Status s = enrollment_prepare(db);
  if (!s.ok()) return s.error();
  auto stored = get(db, kDirectoryHeard);
  if (!stored.ok()) return stored.error();
  if (!*stored) return int64_t{0};
  std::string text((*stored)->begin(), (*stored)->end());
  int64_t at = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), at);
  if (ec != std::errc() || end != text.data() + text.size() || at < 0)
    return int64_t{0}; // damaged: never heard
  return at;
}

Status directory_heard_save(Db &db, int64_t at_ms) {
  Status s = enrollment_prepare(db);
  if (!s.ok()) return s;
  std::string text = std::to_string(at_ms);
  return put(db, kDirectoryHeard,
             std::span<const uint8_t>(reinterpret_cast<const uint8_t *>(text.data()), text.size()));
}

std::vector<proto::Fingerprint> directory_pins(const std::vector<proto::Fingerprint> &configured,
                                               const std::vector<proto::Fingerprint> &announced) {
  std::vector<proto::Fingerprint> pins = configured;
  for (const auto &key : announced)
    if (std::find(pins.begin(), pins.end(), key) == pins.end()) pins.push_back(key);
  return pins;
}

} // namespace lpm::agent
