// A thin, error-as-value wrapper over SQLite, opened the way every store of the project needs:
// WAL, synchronous=FULL, secure_delete, foreign keys, a busy timeout.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "lpm/error.h"

struct sqlite3;
struct sqlite3_stmt;

namespace lpm {

namespace detail {
struct StmtCache;
} // namespace detail

// A prepared statement. One that came from Db::prepare goes back to its Db's cache when
// destroyed (reset, bindings cleared), so the next prepare of the same SQL text skips SQLite's
// parser and planner.
class Stmt {
public:
  Stmt() = default;
  Stmt(Stmt &&other) noexcept;
  Stmt &operator=(Stmt &&other) noexcept;
  Stmt(const Stmt &) = delete;
  Stmt &operator=(const Stmt &) = delete;
  ~Stmt();

  // Parameters are 1-based, as in SQLite. Each returns *this so binds can chain.
  Stmt &bind(int index, int64_t value);
  Stmt &bind(int index, std::string_view text);
  Stmt &bind_blob(int index, std::span<const uint8_t> blob);
  Stmt &bind_null(int index);
  // Bind without a copy: the bytes must stay alive and unchanged until the statement is stepped
  // and reset, and every such parameter bound again before the next step (a hot insert whose
  // values live in the caller's records). Empty text or blob binds as empty, never NULL.
  Stmt &bind_static(int index, std::string_view text);
  Stmt &bind_blob_static(int index, std::span<const uint8_t> blob);

  // Steps once: true when a row is ready, false when done. Errors come back as values.
  Result<bool> step();
  // Steps to completion (for INSERT/UPDATE/DELETE); resets the statement afterwards.
  Status run();
  // run(), but the bindings stay: for a statement whose every parameter is bound again before its
  // next step (clearing hundreds of them costs as much as binding them). Static bindings then
  // point at the caller's bytes until that next bind.
  Status run_rebinding();
  void reset();

  int64_t col_int(int col) const;
  std::string col_text(int col) const;
  std::vector<uint8_t> col_blob(int col) const;
  bool col_is_null(int col) const;
  bool col_is_blob(int col) const;
  bool col_is_int(int col) const;

private:
  friend class Db;
  using Slot = std::vector<sqlite3_stmt *>;
  Stmt(sqlite3 *db, sqlite3_stmt *stmt, std::shared_ptr<detail::StmtCache> cache, Slot *slot)
      : db_(db), stmt_(stmt), cache_(std::move(cache)), slot_(slot) {}
  // Back to the cache, or finalized.
  void release();
  sqlite3 *db_ = nullptr;
  sqlite3_stmt *stmt_ = nullptr;
  std::shared_ptr<detail::StmtCache> cache_; // shared with the Db, so a Stmt may outlive it
  Slot *slot_ = nullptr;                     // the idle statements of its SQL text; null: not cached
};

class Db {
public:
  // Opens (creating if needed) a database file with mode 0600 and the durable pragmas.
  static Result<std::unique_ptr<Db>> open(const std::string &path);
  // Opens an existing database read-only, changing nothing in it (a backup being restored).
  static Result<std::unique_ptr<Db>> open_readonly(const std::string &path);
  ~Db();
  Db(const Db &) = delete;
  Db &operator=(const Db &) = delete;

  // Runs one or more statements without results (schema, pragmas).
  Status exec(std::string_view sql);
  // One statement; from the cache when the same text was prepared before and is not in use.
  Result<Stmt> prepare(std::string_view sql);
  // Number of rows changed by the last INSERT/UPDATE/DELETE.
  int64_t changes() const;
  // Online backup to another file through SQLite's backup API.
  Status backup_to(const std::string &path);

  sqlite3 *raw() const { return db_; }

private:
  explicit Db(sqlite3 *db);
  sqlite3 *db_;
  std::shared_ptr<detail::StmtCache> cache_;
};

// BEGIN IMMEDIATE on construction, ROLLBACK on destruction unless commit() succeeded.
//
// Durability::deferred commits without waiting for the disk (synchronous=NORMAL for this one
// commit): in WAL mode the commit is ordered and survives a crash of the process, and the next
// durable (FULL) commit on the connection makes it durable too, since syncing the WAL covers
// every earlier frame. Only for rows whose loss in a power cut is harmless and repaired at
// start-up (the agent's "receiving" row: its half-written spool file is removed as a stray).
class Transaction {
public:
  enum class Durability { full, deferred };
  explicit Transaction(Db &db, Durability durability = Durability::full);
  ~Transaction();
  Transaction(const Transaction &) = delete;
  Transaction &operator=(const Transaction &) = delete;
  const Status &begun() const { return begun_; }
  Status commit();

private:
  Db &db_;
  Durability durability_;
  Status begun_;
  bool done_ = false;
};

} // namespace lpm
