// Ticket nonces remembered in state.db (table nonces) until their ticket expires, so a ticket
// replayed after an agent restart is refused too.
#pragma once

#include <memory>

#include "lpm/protocol/ticket.h"
#include "lpm/sqlite.h"

namespace lpm::agent {

class SqliteNonceStore final : public proto::NonceStore {
public:
  // Creates the table if needed.
  static Result<std::unique_ptr<SqliteNonceStore>> open(std::shared_ptr<Db> db);

  // True when the nonce was new (and is now recorded, durably), false for a replay. Rows of
  // tickets that expired more than kTicketMaxSkewMs ago are purged first: such tickets are
  // refused before their nonce is looked at, even if the wall clock stepped back a little.
  Result<bool> consume(std::span<const uint8_t> nonce, int64_t expires_ms) override;

private:
  explicit SqliteNonceStore(std::shared_ptr<Db> db) : db_(std::move(db)) {}
  std::shared_ptr<Db> db_;
};

} // namespace lpm::agent
