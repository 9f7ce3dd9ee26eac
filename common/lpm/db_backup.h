// Backing up and restoring a server's SQLite database (DESIGN §7), shared by lpm-directory and
// lpm-accounting: a server folder holds state.db and serve.lock.
//
//   backup:  SQLite's online backup API, one read transaction, so the copy is consistent while
//            the server keeps writing (WAL: readers never block it). Written beside as
//            FILE.partial (0600: it may hold hashes of secrets), fsynced, renamed; an existing
//            FILE is never overwritten.
//   restore: only while no server holds the folder's lock, and held for the whole restore. The
//            backup is read through SQLite (never copied as bytes: it may have a WAL beside it)
//            into state.db.restoring, checked by the caller (it must open as this program's
//            database), then swapped in; the database it replaces is kept as
//            state.db.replaced-<ms> with its WAL. A failure at any step leaves state.db as it was.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "lpm/error.h"

namespace lpm {

// Held by `serve` (and `restore`) for as long as it runs: one process serves a folder at a time,
// and a restore never replaces the database under a running server. Closes its lock file.
class FolderLock {
public:
  explicit FolderLock(int fd) : fd_(fd) {}
  FolderLock(FolderLock &&other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  FolderLock &operator=(FolderLock &&) = delete;
  FolderLock(const FolderLock &) = delete;
  ~FolderLock();

private:
  int fd_;
};
// DIR/serve.lock, taken without waiting. conflict when another process holds it ("another
// `program` serves DIR").
Result<FolderLock> folder_lock(const std::string &dir, const std::string &program);

// Copies the database at `db_path` (which must exist) to `file`. conflict when `file` exists.
Status backup_database(const std::string &db_path, const std::string &file);

// What a restore checks the incoming copy with: ok when `path` opens as this program's database
// (brought to the current schema if older); the error otherwise.
using DatabaseCheck = std::function<Status(const std::string &path)>;
// A first check of a backup: not_found unless the database at `path` has every table named (a
// store's open would otherwise take another program's database, or an empty one, as new).
Status require_tables(const std::string &path, const std::vector<std::string> &tables);
// Replaces DIR/state.db with the backup in `file`, under DIR's lock (conflict, naming `program`,
// while it is served). Returns the name the replaced database is kept under.
Result<std::string> restore_database(const std::string &dir, const std::string &program, const std::string &file,
                                     const DatabaseCheck &check);

} // namespace lpm
