// common/lpm/sqlite.h: the durable defaults every store relies on, and transactions that commit
// or roll back, including the deferred-sync kind the agent uses for its "receiving" rows.
#include <catch2/catch.hpp>

#include <sys/stat.h>

#include <fstream>
#include <string>
#include <unistd.h>

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

// POSIX locks this process holds on the file at `path`, as /proc/locks lists them.
static int locks_held_on(const std::string &path) {
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  std::ifstream in("/proc/locks");
  REQUIRE(in.good());
  std::string inode = ":" + std::to_string(st.st_ino) + " ";
  std::string pid = " " + std::to_string(::getpid()) + " ";
  int n = 0;
  for (std::string line; std::getline(in, line);)
    if (line.find(inode) != std::string::npos && line.find(pid) != std::string::npos) n++;
  return n;
}

TEST_CASE("sqlite: opening a second connection keeps the first one's lock on the database, so another process "
          "never takes itself for the last one and deletes the WAL",
          "[sqlite]") {
  TempDir dir;
  std::string path = dir.path + "/x.db";
  auto first = Db::open(path);
  REQUIRE(first.ok());
  REQUIRE((*first)->exec("CREATE TABLE t(x INTEGER); INSERT INTO t VALUES (1)").ok());
  // In WAL mode a connection holds a shared lock on the database file while it is open: what
  // tells a closing connection of another process that it is not the last one.
  REQUIRE(locks_held_on(path) >= 1);
  {
    // A second connection of this process (a worker thread's, say), opened and closed. Closing
    // any descriptor of the file drops every POSIX lock the process holds on it, so Db::open must
    // not open and close the file itself when it exists.
    auto second = Db::open(path);
    REQUIRE(second.ok());
    CHECK(count(**second) == 1);
    CHECK(locks_held_on(path) >= 1);
  }
  CHECK(locks_held_on(path) >= 1);
}
