// The job store's folders: start-up recovery over DATA/spool/<user folder>/<job-id>.spool, the
// one-time encryption of jobs an older agent stored in clear, and the per-user folders that
// DeleteEmptyUserFolders removes once they have been empty long enough.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <map>
#include <optional>
#include <set>

#include "job_store.h"
#include "lpm/files.h"
#include "lpm/ids.h"
#include "lpm/log.h"
#include "sqlite_rows.h"

namespace lpm::agent {

namespace {

constexpr const char *kSpoolSuffix = ".spool";

struct DirEntry {
  std::string name;
  bool is_dir = false;
};

Result<std::vector<DirEntry>> list_dir(const std::string &path) {
  DIR *dir = ::opendir(path.c_str());
  if (!dir) return make_error(Errc::io_error, "open " + path + ": " + errno_text());
  std::vector<DirEntry> out;
  while (dirent *entry = ::readdir(dir)) {
    std::string name = entry->d_name;
    if (name == "." || name == "..") continue;
    bool is_dir = entry->d_type == DT_DIR;
    if (entry->d_type == DT_UNKNOWN) {
      struct stat st {};
      is_dir = ::fstatat(::dirfd(dir), entry->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
    }
    out.push_back(DirEntry{std::move(name), is_dir});
  }
  ::closedir(dir);
  return out;
}

// Empties and removes a folder the store made (its entries are files, or strays).
void remove_folder(const std::string &path) {
  auto entries = list_dir(path);
  if (entries.ok())
    for (const auto &e : *entries)
      if (::unlink((path + "/" + e.name).c_str()) != 0 && e.is_dir) ::rmdir((path + "/" + e.name).c_str());
  if (::rmdir(path.c_str()) != 0 && errno != ENOENT)
    LPM_WARN("could not remove the folder %s: %s", path.c_str(), errno_text().c_str());
}

// The two text columns of every row of `sql` (?1 bound to `param` when the query has it).
Result<std::vector<std::pair<std::string, std::string>>> ids_and_users(Db &db, const char *sql,
                                                                       std::optional<int64_t> param = {}) {
  auto st = db.prepare(sql);
  if (!st.ok()) return st.error();
  if (param) st->bind(1, *param);
  std::vector<std::pair<std::string, std::string>> out;
  Status s = for_each_row(*st, [&]() -> Status {
    out.emplace_back(st->col_text(0), st->col_text(1));
    return {};
  });
  if (!s.ok()) return s.error();
  return out;
}

} // namespace

Status store_detail::make_user_folder(const std::string &spool_dir, const std::string &folder) {
  if (::mkdir(folder.c_str(), 0700) == 0) return fsync_dir(spool_dir);
  if (errno == EEXIST) return {};
  if (errno == ENOSPC || errno == EDQUOT) return disk_full("mkdir " + folder + ": " + errno_text());
  return make_error(Errc::io_error, "mkdir " + folder + ": " + errno_text());
}

Status JobStore::mark_emptied_folders(int64_t now_ms) {
  auto st = db_->prepare("UPDATE user_folders SET emptied_ms = ?1 WHERE emptied_ms = 0 AND NOT EXISTS "
                         "(SELECT 1 FROM jobs WHERE jobs.user = user_folders.user)");
  if (!st.ok()) return st.error();
  // 0 means "holds jobs": an injected clock at the epoch still marks the folder.
  return st->bind(1, now_ms > 0 ? now_ms : 1).run();
}

Status JobStore::recover() {
  int64_t now = wall_ms();
  // 1. Rows that never became visible: their documents are incomplete.
  auto unfinished = ids_and_users(*db_, "SELECT id, user FROM jobs WHERE state = 'receiving'");
  if (!unfinished.ok()) return unfinished.error();
  for (const auto &[id, user] : *unfinished) {
    LPM_WARN("removing job %s: its document was still arriving when the agent stopped", id.c_str());
    ::unlink(spool_path(user, id).c_str());
    ::unlink((spool_dir_ + "/" + id + kSpoolSuffix).c_str()); // an older agent's layout
  }
  Status s = db_->exec("DELETE FROM jobs WHERE state = 'receiving'");
  if (!s.ok()) return s;

  // 2. Jobs an older agent stored in clear are encrypted before anything else looks at them.
  s = encrypt_legacy_jobs();
  if (!s.ok()) return s;

  // 3. What is on disk: user folders and their files; anything else in spool/ is a stray.
  auto top = list_dir(spool_dir_);
  if (!top.ok()) return top.error();
  std::map<std::string, std::set<std::string>> files; // folder -> file names not yet claimed by a row
  std::vector<std::string> strays;                    // paths
  for (const auto &e : *top) {
    if (!e.is_dir) {
      strays.push_back(spool_dir_ + "/" + e.name);
      continue;
    }
    auto inner = list_dir(spool_dir_ + "/" + e.name);
    if (!inner.ok()) return inner.error();
    auto &names = files[e.name];
    for (const auto &f : *inner)
      names.insert(f.name);
  }

  // 4. Rows whose document is gone cannot be released.
  auto rows = ids_and_users(*db_, "SELECT id, user FROM jobs");
  if (!rows.ok()) return rows.error();
  std::set<std::string> owners;
  std::vector<std::string> missing;
  for (const auto &[id, user] : *rows) {
    auto folder = files.find(folder_of(user));
    if (folder != files.end() && folder->second.erase(id + kSpoolSuffix)) {
      owners.insert(user);
    } else {
      LPM_WARN("removing job %s: its spool file is missing", id.c_str());
      missing.push_back(id);
    }
  }
  {
    Transaction tx(*db_);
    if (!tx.begun().ok()) return tx.begun().error();
    for (const auto &id : missing) {
      auto del = db_->prepare("DELETE FROM jobs WHERE id = ?1");
      if (!del.ok()) return del.error();
      s = del->bind(1, id).run();
      if (!s.ok()) return s;
    }
    // 5. Every owner's folder has its row; rows naming a folder the key no longer gives (the
    // storage key changed while no job was encrypted) or a folder that is gone are dropped.
    for (const auto &user : owners) {
      auto up = db_->prepare("INSERT INTO user_folders(name, user, emptied_ms) VALUES(?1, ?2, 0) "
                             "ON CONFLICT(name) DO UPDATE SET user = excluded.user, emptied_ms = 0 "
                             "WHERE user_folders.user != excluded.user OR user_folders.emptied_ms != 0");
      if (!up.ok()) return up.error();
      s = up->bind(1, folder_of(user)).bind(2, user).run();
      if (!s.ok()) return s;
    }
    auto known = ids_and_users(*db_, "SELECT name, user FROM user_folders");
    if (!known.ok()) return known.error();
    for (const auto &[name, user] : *known) {
      if (files.count(name) && name == folder_of(user)) continue;
      auto del = db_->prepare("DELETE FROM user_folders WHERE name = ?1");
      if (!del.ok()) return del.error();
      s = del->bind(1, name).run();
      if (!s.ok()) return s;
    }
    s = mark_emptied_folders(now);
    if (s.ok()) s = tx.commit();
    if (!s.ok()) return s;
  }

  // 6. Files no row refers to, and folders no row names, are leftovers of a crash.
  auto known = ids_and_users(*db_, "SELECT name, user FROM user_folders");
  if (!known.ok()) return known.error();
  std::set<std::string> known_names;
  for (const auto &entry : *known)
    known_names.insert(entry.first);
  bool removed = !strays.empty() || !unfinished->empty();
  for (const auto &path : strays) {
    LPM_WARN("removing %s: no job refers to it", path.c_str());
    ::unlink(path.c_str());
  }
  for (const auto &[folder, names] : files) {
    std::string path = spool_dir_ + "/" + folder;
    if (!known_names.count(folder)) {
      LPM_WARN("removing the folder %s: no job or user refers to it", path.c_str());
      remove_folder(path);
      removed = true;
      continue;
    }
    for (const auto &name : names) {
      LPM_WARN("removing %s/%s: no job refers to it", path.c_str(), name.c_str());
      if (::unlink((path + "/" + name).c_str()) != 0) remove_folder(path + "/" + name);
    }
    if (!names.empty()) (void)fsync_dir(path);
  }
  if (removed) return fsync_dir(spool_dir_);
  return {};
}

Status JobStore::encrypt_legacy_jobs() {
  auto legacy = ids_and_users(*db_, "SELECT id, user FROM jobs WHERE spool_key IS NULL");
  if (!legacy.ok()) return legacy.error();
  for (const auto &[id, user] : *legacy) {
    std::string clear_path = spool_dir_ + "/" + id + kSpoolSuffix;
    if (!file_exists(clear_path)) continue; // recovery drops the row: its document is gone
    auto job = get(id);
    if (!job.ok()) return job.error();
    std::string folder = user_folder_path(user);
    Status s = store_detail::make_user_folder(spool_dir_, folder);
    if (!s.ok()) return s;

    SecretKey key = SecretKey::random();
    SpoolHeader header;
    random_bytes(header.prefix.data(), header.prefix.size());
    std::string tmp = spool_path(user, id) + ".tmp";
    int in = ::open(clear_path.c_str(), O_RDONLY | O_CLOEXEC);
    if (in < 0) return make_error(Errc::io_error, "open " + clear_path + ": " + errno_text());
    int out = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (out < 0) {
      ::close(in);
      return make_error(Errc::io_error, "create " + tmp + ": " + errno_text());
    }
    ::fchmod(out, 0600);
    SpoolSealer sealer(key, header, id);
    auto emit = [&](std::span<const uint8_t> record) { return store_detail::write_all(out, record, tmp); };
    s = emit(sealer.header_bytes());
    std::vector<uint8_t> buf(1 << 20);
    while (s.ok()) {
      ssize_t n = ::read(in, buf.data(), buf.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) s = make_error(Errc::io_error, "read " + clear_path + ": " + errno_text());
      if (n <= 0) break;
      s = sealer.add(std::span<const uint8_t>(buf.data(), static_cast<size_t>(n)), emit);
    }
    if (s.ok()) s = sealer.finish(emit);
    if (s.ok() && ::fsync(out) != 0) s = make_error(Errc::io_error, "fsync " + tmp + ": " + errno_text());
    ::close(in);
    ::close(out);
    if (s.ok() && ::rename(tmp.c_str(), spool_path(user, id).c_str()) != 0)
      s = make_error(Errc::io_error, "rename " + tmp + ": " + errno_text());
    if (s.ok()) s = fsync_dir(folder);
    if (!s.ok()) {
      ::unlink(tmp.c_str());
      return make_error(s.error().code,
                        "encrypting job " + id + ", stored in clear by an older agent: " + s.error().message);
    }
    // The row now points at the encrypted file; a crash before this leaves the clear file and
    // the work is done again at the next start.
    Transaction tx(*db_);
    if (!tx.begun().ok()) return tx.begun().error();
    auto st = db_->prepare("UPDATE jobs SET spool_key = ?1, title_sealed = ?2, title = '' WHERE id = ?3");
    if (!st.ok()) return st.error();
    st->bind_blob(1, wrap_job_key(storage_key_, id, key))
        .bind_blob(2, seal_title(key, header.prefix, id, job->title))
        .bind(3, id);
    s = st->run();
    if (s.ok()) s = tx.commit();
    if (!s.ok()) return s;
    ::unlink(clear_path.c_str());
    LPM_INFO("job %s, stored in clear by an older agent, is now encrypted", id.c_str());
  }
  if (!legacy->empty()) return fsync_dir(spool_dir_);
  return {};
}

Result<std::vector<UserFolder>> JobStore::user_folders() {
  auto st = db_->prepare(
      "SELECT f.name, f.user, f.emptied_ms, (SELECT COUNT(*) FROM jobs WHERE jobs.user = f.user) "
      "FROM user_folders f ORDER BY f.name");
  if (!st.ok()) return st.error();
  std::vector<UserFolder> out;
  Status s = for_each_row(*st, [&]() -> Status {
    UserFolder f;
    f.name = st->col_text(0);
    f.user = st->col_text(1);
    f.emptied_ms = st->col_int(2);
    f.jobs = static_cast<uint64_t>(st->col_int(3));
    f.empty = f.jobs == 0;
    out.push_back(std::move(f));
    return {};
  });
  if (!s.ok()) return s.error();
  return out;
}

Result<size_t> JobStore::remove_empty_user_folders(int64_t emptied_before_ms) {
  auto candidates =
      ids_and_users(*db_, "SELECT name, user FROM user_folders WHERE emptied_ms != 0 AND emptied_ms < ?1",
                    emptied_before_ms);
  if (!candidates.ok()) return candidates.error();
  size_t removed = 0;
  for (const auto &entry : *candidates) {
    const std::string &name = entry.first;
    Transaction tx(*db_);
    if (!tx.begun().ok()) return tx.begun().error();
    // Still empty now (a job may have arrived since the list was read).
    auto del = db_->prepare("DELETE FROM user_folders WHERE name = ?1 AND emptied_ms != 0 AND NOT EXISTS "
                            "(SELECT 1 FROM jobs WHERE jobs.user = user_folders.user)");
    if (!del.ok()) return del.error();
    Status s = del->bind(1, name).run();
    if (!s.ok()) return s.error();
    if (db_->changes() != 1) continue;
    s = tx.commit();
    if (!s.ok()) return s.error();
    // Row first: a crash before the folder goes leaves a folder no row names, which the next
    // start-up removes.
    remove_folder(spool_dir_ + "/" + name);
    removed++;
  }
  if (removed > 0) (void)fsync_dir(spool_dir_);
  return removed;
}

} // namespace lpm::agent
