#include "revoked_keys.h"

#include <algorithm>

namespace lpm::agent {

Result<std::shared_ptr<RevokedKeys>> RevokedKeys::open(std::shared_ptr<Db> db) {
  Status s = db->exec("CREATE TABLE IF NOT EXISTS revoked_keys(fingerprint TEXT PRIMARY KEY, kind TEXT NOT NULL, "
                      "revoked_ms INTEGER NOT NULL)");
  if (!s.ok()) return s.error();
  std::shared_ptr<RevokedKeys> out(new RevokedKeys(db));
  auto stmt = db->prepare("SELECT fingerprint, revoked_ms FROM revoked_keys");
  if (!stmt.ok()) return stmt.error();
  for (;;) {
    auto row = stmt->step();
    if (!row.ok()) return row.error();
    if (!*row) break;
    out->keys_.insert(stmt->col_text(0));
    out->newest_ms_ = std::max(out->newest_ms_, stmt->col_int(1));
  }
  return out;
}

Result<size_t> RevokedKeys::add(const std::vector<proto::RevokedKey> &keys) {
  size_t fresh = 0;
  for (const auto &k : keys)
    if (!contains(k.fingerprint)) fresh++;
  if (fresh == 0) {
    for (const auto &k : keys)
      newest_ms_ = std::max(newest_ms_, k.revoked_ms);
    return fresh;
  }
  Transaction tx(*db_);
  if (!tx.begun().ok()) return tx.begun().error();
  auto insert = db_->prepare("INSERT OR IGNORE INTO revoked_keys(fingerprint, kind, revoked_ms) VALUES (?, ?, ?)");
  if (!insert.ok()) return insert.error();
  for (const auto &k : keys) {
    Status s = insert->bind(1, k.fingerprint).bind(2, proto::enroll_kind_name(k.kind)).bind(3, k.revoked_ms).run();
    if (!s.ok()) return s.error();
  }
  if (Status s = tx.commit(); !s.ok()) return s.error();
  // Only once durable: a crash before the commit asks the directory again from the older mark.
  for (const auto &k : keys) {
    keys_.insert(k.fingerprint);
    newest_ms_ = std::max(newest_ms_, k.revoked_ms);
  }
  return fresh;
}

} // namespace lpm::agent
