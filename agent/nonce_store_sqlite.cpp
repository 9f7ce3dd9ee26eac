#include "nonce_store_sqlite.h"

#include "lpm/ids.h"

namespace lpm::agent {

Result<std::unique_ptr<SqliteNonceStore>> SqliteNonceStore::open(std::shared_ptr<Db> db) {
  Status s =
      db->exec("CREATE TABLE IF NOT EXISTS nonces(nonce BLOB PRIMARY KEY, expires_ms INTEGER NOT NULL);"
               "CREATE INDEX IF NOT EXISTS nonces_by_expiry ON nonces(expires_ms);");
  if (!s.ok()) return s.error();
  return std::unique_ptr<SqliteNonceStore>(new SqliteNonceStore(std::move(db)));
}

Result<bool> SqliteNonceStore::consume(std::span<const uint8_t> nonce, int64_t expires_ms) {
  // Written without its own flush (synchronous=NORMAL: it survives the agent's crash, not yet a
  // power cut). state.db is one write-ahead log, flushed in order, so the next flushed commit
  // (the claim of acknowledge-job, before any document is served) makes this nonce durable too: a
  // power cut can at most forget a ticket under which nothing was claimed. This spares a disk
  // flush on the way from badge to paper.
  Transaction tx(*db_, Transaction::Durability::deferred);
  if (!tx.begun().ok()) return tx.begun().error();
  // Kept kTicketMaxSkewMs past their expiry: after a small backwards clock step a ticket just
  // expired looks valid again, and its nonce must still be here to refuse the replay.
  auto purge = db_->prepare("DELETE FROM nonces WHERE expires_ms < ?1");
  if (!purge.ok()) return purge.error();
  Status s = purge->bind(1, wall_ms() - proto::kTicketMaxSkewMs).run();
  if (!s.ok()) return s.error();
  auto insert = db_->prepare("INSERT OR IGNORE INTO nonces(nonce, expires_ms) VALUES(?1, ?2)");
  if (!insert.ok()) return insert.error();
  s = insert->bind_blob(1, nonce).bind(2, expires_ms).run();
  if (!s.ok()) return s.error();
  bool fresh = db_->changes() == 1;
  // Committed before the ticket is honoured: an agent crash after this cannot make it usable
  // again.
  s = tx.commit();
  if (!s.ok()) return s.error();
  return fresh;
}

} // namespace lpm::agent
