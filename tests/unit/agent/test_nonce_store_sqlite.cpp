// Ticket nonces persist in state.db: a replay is refused even after the agent restarted.
#include <catch2/catch.hpp>

#include "agent_test_support.h"
#include "lpm/ids.h"
#include "nonce_store_sqlite.h"

using namespace lpm;
using namespace lpm::agent;
using namespace lpm::agent::test;

TEST_CASE("sqlite nonce store: a replay is refused after reopening", "[agent][nonces]") {
  TempDir dir;
  proto::Bytes nonce(16);
  random_bytes(nonce.data(), nonce.size());
  int64_t expires = wall_ms() + 60000;
  {
    auto store = SqliteNonceStore::open(open_db(dir.path));
    REQUIRE(store.ok());
    auto first = (*store)->consume(nonce, expires);
    REQUIRE(first.ok());
    CHECK(*first);
    auto again = (*store)->consume(nonce, expires);
    REQUIRE(again.ok());
    CHECK_FALSE(*again);
  }
  auto store = SqliteNonceStore::open(open_db(dir.path));
  REQUIRE(store.ok());
  auto after_restart = (*store)->consume(nonce, expires);
  REQUIRE(after_restart.ok());
  CHECK_FALSE(*after_restart);

  proto::Bytes other(16, 0x42);
  auto fresh = (*store)->consume(other, expires);
  REQUIRE(fresh.ok());
  CHECK(*fresh);
}

TEST_CASE("sqlite nonce store: entries are forgotten once their ticket expired", "[agent][nonces]") {
  TempDir dir;
  auto store = SqliteNonceStore::open(open_db(dir.path));
  REQUIRE(store.ok());
  proto::Bytes nonce(16, 0x01);
  REQUIRE(*(*store)->consume(nonce, wall_ms() - proto::kTicketMaxSkewMs - 1));
  // The purge at the next call removed it (a ticket that old is refused before its nonce, even
  // after a backwards clock step within the skew).
  auto again = (*store)->consume(nonce, wall_ms() + 60000);
  REQUIRE(again.ok());
  CHECK(*again);
}

TEST_CASE("sqlite nonce store: a nonce is kept for the clock skew past its ticket's expiry",
          "[agent][nonces]") {
  TempDir dir;
  auto store = SqliteNonceStore::open(open_db(dir.path));
  REQUIRE(store.ok());
  // Expired a moment ago: if the wall clock steps back a few seconds the ticket verifies again,
  // so a replay must still find its nonce.
  proto::Bytes just_expired(16, 0x02);
  REQUIRE(*(*store)->consume(just_expired, wall_ms() - 1));
  proto::Bytes near_skew(16, 0x03);
  REQUIRE(*(*store)->consume(near_skew, wall_ms() - proto::kTicketMaxSkewMs + 5000));
  // Each call purges first; neither entry may go.
  auto replay = (*store)->consume(just_expired, wall_ms() + 60000);
  REQUIRE(replay.ok());
  CHECK_FALSE(*replay);
  auto replay_near = (*store)->consume(near_skew, wall_ms() + 60000);
  REQUIRE(replay_near.ok());
  CHECK_FALSE(*replay_near);
}
