// common/lpm/sqlite.h: the durable defaults every store relies on, and transactions that commit
// or roll back, including the deferred-sync kind the agent uses for its "receiving" rows.
#include <catch2/catch.hpp>

#include <sys/stat.h>

#include "lpm/sqlite.h"
#include "transport_support.h"

using namespace lpm;
using lpm::test::TempDir;

namespace {

int64_t pragma(Db &db, const char *name) {
  auto st = db.prepare(std::string("PRAGMA ") + name);
  REQUIRE(st.ok());
  int64_t value = -1;
  auto row = st->step();
  REQUIRE(row.ok());
  if (*row) value = st->col_int(0);
  return value;
}

int64_t count(Db &db) {
  auto st = db.prepare("SELECT COUNT(*) FROM t");
  REQUIRE(st.ok());
  auto row = st->step();
  REQUIRE(row.ok());
  return st->col_int(0);
}

} // namespace

TEST_CASE("sqlite: a database opens in WAL mode with synchronous=FULL and secure_delete, mode 0600",
          "[sqlite]") {
  TempDir dir;
  auto db = Db::open(dir.path + "/x.db");
  REQUIRE(db.ok());
  CHECK(pragma(**db, "synchronous") == 2); // FULL
  CHECK(pragma(**db, "secure_delete") == 1);
  auto mode = (*db)->prepare("PRAGMA journal_mode");
  REQUIRE(mode.ok());
  REQUIRE(*mode->step());
  CHECK(mode->col_text(0) == "wal");
  struct stat st {};
  REQUIRE(::stat((dir.path + "/x.db").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
}

TEST_CASE("sqlite: a deferred-sync transaction commits like any other and leaves synchronous=FULL behind",
          "[sqlite]") {
  TempDir dir;
  auto db = Db::open(dir.path + "/x.db");
  REQUIRE(db.ok());
  REQUIRE((*db)->exec("CREATE TABLE t(v INTEGER)").ok());
  {
    Transaction tx(**db, Transaction::Durability::deferred);
    REQUIRE(tx.begun().ok());
    CHECK(pragma(**db, "synchronous") == 1); // NORMAL, for this commit only
    REQUIRE((*db)->exec("INSERT INTO t VALUES(1)").ok());
    REQUIRE(tx.commit().ok());
  }
  CHECK(pragma(**db, "synchronous") == 2);
  CHECK(count(**db) == 1);
  {
    Transaction tx(**db, Transaction::Durability::deferred);
    REQUIRE((*db)->exec("INSERT INTO t VALUES(2)").ok());
    // not committed: rolled back when it goes away
  }
  CHECK(pragma(**db, "synchronous") == 2);
  CHECK(count(**db) == 1);
  {
    Transaction tx(**db);
    REQUIRE((*db)->exec("INSERT INTO t VALUES(3)").ok());
    REQUIRE(tx.commit().ok());
  }
  CHECK(count(**db) == 2);
}
