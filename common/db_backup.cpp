#include "lpm/db_backup.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "lpm/files.h"
#include "lpm/ids.h"
#include "lpm/sqlite.h"

namespace lpm {
namespace {

Status fsync_file(const std::string &path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return make_error(Errc::io_error, "open " + path + ": " + std::strerror(errno));
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) return make_error(Errc::io_error, "fsync " + path + ": " + std::strerror(err));
  return {};
}

std::string folder_of(const std::string &file) {
  size_t slash = file.find_last_of('/');
  return slash == std::string::npos ? "." : slash == 0 ? "/" : file.substr(0, slash);
}

// Creates `path` empty with mode 0600 (it must not exist).
Status create_private(const std::string &path) {
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return make_error(errno == EEXIST ? Errc::conflict : Errc::io_error, path + ": " + std::strerror(errno));
  ::close(fd);
  return {};
}

} // namespace

FolderLock::~FolderLock() {
  if (fd_ >= 0) ::close(fd_);
}

Result<FolderLock> folder_lock(const std::string &dir, const std::string &program) {
  std::string path = dir + "/serve.lock";
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return make_error(Errc::io_error, "open " + path + ": " + std::strerror(errno));
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int err = errno;
    ::close(fd);
    if (err == EWOULDBLOCK) return make_error(Errc::conflict, "another " + program + " serves " + dir);
    return make_error(Errc::io_error, "lock " + path + ": " + std::strerror(err));
  }
  return FolderLock(fd);
}

Status backup_database(const std::string &db_path, const std::string &file) {
  if (!file_exists(db_path)) return make_error(Errc::not_found, "no database " + db_path);
  if (file_exists(file)) return make_error(Errc::conflict, file + " exists: a backup never overwrites a file");
  auto db = Db::open(db_path);
  if (!db.ok()) return db.error();
  std::string partial = file + ".partial";
  ::unlink(partial.c_str()); // left by an interrupted backup
  Status s = create_private(partial);
  if (s.ok()) s = (*db)->backup_to(partial);
  if (s.ok()) s = fsync_file(partial);
  if (s.ok() && ::rename(partial.c_str(), file.c_str()) != 0)
    s = make_error(Errc::io_error, "rename " + partial + ": " + std::strerror(errno));
  if (s.ok()) s = fsync_dir(folder_of(file));
  if (!s.ok()) ::unlink(partial.c_str());
  return s;
}

Status require_tables(const std::string &path, const std::vector<std::string> &tables) {
  auto db = Db::open_readonly(path);
  if (!db.ok()) return db.error();
  auto stmt = (*db)->prepare("SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = ?");
  if (!stmt.ok()) return stmt.error();
  for (const std::string &table : tables) {
    stmt->bind(1, std::string_view(table));
    auto row = stmt->step();
    if (!row.ok()) return row.error();
    bool found = *row && stmt->col_int(0) > 0;
    stmt->reset();
    if (!found) return make_error(Errc::not_found, "it has no table " + table);
  }
  return {};
}

Result<std::string> restore_database(const std::string &dir, const std::string &program, const std::string &file,
                                     const DatabaseCheck &check) {
  std::string db_path = dir + "/state.db";
  if (!file_exists(db_path)) return make_error(Errc::not_found, "no database " + db_path);
  if (!file_exists(file)) return make_error(Errc::not_found, "no backup file " + file);
  auto lock = folder_lock(dir, program);
  if (!lock.ok()) return make_error(lock.error().code, lock.error().message + ": stop it before restoring");
  std::string incoming = db_path + ".restoring";
  for (const char *suffix : {"", "-wal", "-shm"}) // left by an interrupted restore
    ::unlink((incoming + suffix).c_str());
  Status s = create_private(incoming);
  if (!s.ok()) return s.error();
  {
    auto source = Db::open_readonly(file);
    if (!source.ok()) s = source.error();
    if (s.ok()) s = (*source)->backup_to(incoming);
  }
  if (s.ok()) {
    Status checked = check(incoming);
    if (!checked.ok())
      s = make_error(checked.error().code,
                     file + " is not a backup " + program + " can use: " + checked.error().message);
  }
  if (s.ok()) s = fsync_file(incoming);
  std::string kept = db_path + ".replaced-" + std::to_string(wall_ms());
  if (s.ok() && ::rename(db_path.c_str(), kept.c_str()) != 0)
    s = make_error(Errc::io_error, "rename " + db_path + ": " + std::strerror(errno));
  if (s.ok()) {
    // The old database's WAL goes with it (a checkpoint already ran when its last connection
    // closed; anything left there belongs to the replaced file, not to the restored one).
    for (const char *suffix : {"-wal", "-shm"}) {
      std::string from = db_path + suffix;
      if (file_exists(from)) (void)::rename(from.c_str(), (kept + suffix).c_str());
    }
    if (::rename(incoming.c_str(), db_path.c_str()) != 0)
      s = make_error(Errc::io_error, "rename " + incoming + ": " + std::strerror(errno));
    for (const char *suffix : {"-wal", "-shm"})
      ::unlink((incoming + suffix).c_str());
  }
  if (s.ok()) s = fsync_dir(dir);
  if (!s.ok()) {
    ::unlink(incoming.c_str());
    return s.error();
  }
  return kept;
}

} // namespace lpm
