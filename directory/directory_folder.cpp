#include "directory_folder.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "lpm/files.h"
#include "lpm/ids.h"
#include "lpm/log.h"

namespace lpm::directory {
namespace {

constexpr const char *kIdentityName = "identity";
constexpr const char *kIdentityCommonName = "lpm-directory";
constexpr size_t kMaxKeyFileBytes = 64 * 1024;

std::string key_path(const std::string &dir, const char *name) {
  return dir + "/" + name + ".key";
}
std::string db_path(const std::string &dir) {
  return dir + "/state.db";
}

Error not_initialised(const std::string &dir, const std::string &what) {
  return make_error(Errc::not_found,
                    dir + " has no " + what + "; run `lpm-directory init --data " + dir + "` first");
}

// Loads DIR/<name>.key, a signing key (PEM, 0600).
Result<std::unique_ptr<proto::KeyPair>> load_signing_key(const std::string &dir, const char *name) {
  std::string path = key_path(dir, name);
  if (!file_exists(path)) return not_initialised(dir, std::string(name) + ".key");
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && (st.st_mode & 077) != 0)
    LPM_WARN("%s is readable by other accounts (mode %03o); it should be 0600", path.c_str(),
             static_cast<unsigned>(st.st_mode & 0777));
  auto pem = read_file(path, kMaxKeyFileBytes);
  if (!pem.ok()) return pem.error();
  auto key = proto::KeyPair::from_pem(*pem);
  if (!key.ok()) return make_error(key.error().code, path + ": " + key.error().message);
  return std::move(*key);
}

// Creates DIR/<name>.key when missing; loads it when present, so a damaged key file is reported
// now rather than at its first use.
Status ensure_signing_key(const std::string &dir, const char *name, const char *what) {
  if (file_exists(key_path(dir, name))) {
    auto key = load_signing_key(dir, name);
    return key.ok() ? Status{} : Status{key.error()};
  }
  auto key = proto::KeyPair::generate();
  if (!key.ok()) return key.error();
  std::string pem = (*key)->private_pem();
  if (pem.empty()) return make_error(Errc::internal, std::string("cannot encode the new ") + what + " key");
  Status s = write_file_atomic(key_path(dir, name), pem, 0600);
  if (!s.ok()) return s;
  LPM_INFO("created %s key %s", what, (*key)->fingerprint().c_str());
  return {};
}

struct SigningKeyName {
  const char *name;
  const char *what;
};
constexpr SigningKeyName kSigningKeys[] = {{"ticket", "ticket-signing"}, {"session", "session-signing"}};

} // namespace

Result<proto::Fingerprint> folder_init(const std::string &dir) {
  Status made = make_dirs(dir, 0700);
  if (!made.ok()) return made.error();

  auto identity = proto::Identity::load_or_create(dir, kIdentityName, kIdentityCommonName);
  if (!identity.ok()) return identity.error();

  for (const auto &[name, what] : kSigningKeys) {
    Status s = ensure_signing_key(dir, name, what);
    if (!s.ok()) return s.error();
  }

  auto store = DirectoryStore::open(db_path(dir));
  if (!store.ok()) return store.error();
  return (*identity)->fingerprint();
}

namespace {
constexpr const char *kNextIdentityName = "identity-next";

std::string identity_file(const std::string &dir, const std::string &name, const char *ext) {
  return dir + "/" + name + ext;
}

Status rename_file(const std::string &from, const std::string &to) {
  if (::rename(from.c_str(), to.c_str()) != 0)
    return make_error(Errc::io_error, "rename " + from + " to " + to + ": " + std::strerror(errno));
  return {};
}

// A rotation renames the next key over the key, then the next certificate over the certificate.
// A crash between the two leaves identity-next.crt alone: its rename is what is left to do.
Status finish_rotation(const std::string &dir) {
  std::string next_key = identity_file(dir, kNextIdentityName, ".key");
  std::string next_crt = identity_file(dir, kNextIdentityName, ".crt");
  if (file_exists(next_key) || !file_exists(next_crt)) return {};
  LPM_WARN("finishing the rotation of the directory identity that was interrupted");
  Status s = rename_file(next_crt, identity_file(dir, kIdentityName, ".crt"));
  if (s.ok()) s = fsync_dir(dir);
  return s;
}
} // namespace

Result<std::shared_ptr<proto::Identity>> folder_load_identity(const std::string &dir) {
  if (Status s = finish_rotation(dir); !s.ok()) return s.error();
  if (!file_exists(dir + "/" + kIdentityName + ".key")) return not_initialised(dir, "identity.key");
  return proto::Identity::load(dir, kIdentityName);
}

Result<proto::Fingerprint> folder_identity_next_fingerprint(const std::string &dir) {
  if (Status s = finish_rotation(dir); !s.ok()) return s.error();
  if (!file_exists(identity_file(dir, kNextIdentityName, ".key")))
    return make_error(Errc::not_found, dir + " has no next identity; make one with `lpm-directory identity next`");
  auto next = proto::Identity::load(dir, kNextIdentityName);
  if (!next.ok()) return next.error();
  return (*next)->fingerprint();
}

Result<proto::Fingerprint> folder_identity_next(const std::string &dir) {
  auto current = folder_load_identity(dir);
  if (!current.ok()) return current.error();
  auto next = proto::Identity::load_or_create(dir, kNextIdentityName, kIdentityCommonName);
  if (!next.ok()) return next.error();
  if (Status s = fsync_dir(dir); !s.ok()) return s.error();
  return (*next)->fingerprint();
}

Result<proto::Fingerprint> folder_identity_rotate(const std::string &dir) {
  auto current = folder_load_identity(dir);
  if (!current.ok()) return current.error();
  auto next = folder_identity_next_fingerprint(dir);
  if (!next.ok()) return next.error();
  // The old identity stays as hard links first: until the renames below, nothing has changed.
  std::string retired = "identity-retired-" + std::to_string(wall_ms());
  for (const char *ext : {".key", ".crt"}) {
    std::string from = identity_file(dir, kIdentityName, ext);
    std::string to = identity_file(dir, retired, ext);
    if (::link(from.c_str(), to.c_str()) != 0)
      return make_error(Errc::io_error, "link " + from + " to " + to + ": " + std::strerror(errno));
  }
  Status s = rename_file(identity_file(dir, kNextIdentityName, ".key"), identity_file(dir, kIdentityName, ".key"));
  if (s.ok())
    s = rename_file(identity_file(dir, kNextIdentityName, ".crt"), identity_file(dir, kIdentityName, ".crt"));
  if (s.ok()) s = fsync_dir(dir);
  if (!s.ok()) return s.error();
  LPM_INFO("directory identity rotated: %s (was %s, kept as %s)", next->c_str(), (*current)->fingerprint().c_str(),
           retired.c_str());
  return *next;
}

Result<DirectoryKeys> folder_load_keys(const std::string &dir) {
  auto identity = folder_load_identity(dir);
  if (!identity.ok()) return identity.error();
  auto ticket = load_signing_key(dir, "ticket");
  if (!ticket.ok()) return ticket.error();
  Status made = ensure_signing_key(dir, "session", "session-signing");
  if (!made.ok()) return made.error();
  auto session = load_signing_key(dir, "session");
  if (!session.ok()) return session.error();
  DirectoryKeys keys;
  keys.announced.push_back((*identity)->fingerprint());
  auto next = folder_identity_next_fingerprint(dir);
  if (next.ok()) keys.announced.push_back(*next);
  else if (next.error().code != Errc::not_found) return next.error();
  keys.identity = std::move(*identity);
  keys.ticket_key = std::move(*ticket);
  keys.session_key = std::move(*session);
  return keys;
}

Result<std::unique_ptr<DirectoryStore>> folder_open_store(const std::string &dir) {
  if (!file_exists(db_path(dir))) return not_initialised(dir, "state.db");
  return DirectoryStore::open(db_path(dir));
}

FolderLock::~FolderLock() {
  if (fd_ >= 0) ::close(fd_);
}

Result<FolderLock> folder_lock(const std::string &dir) {
  std::string path = dir + "/serve.lock";
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return make_error(Errc::io_error, "open " + path + ": " + std::strerror(errno));
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int err = errno;
    ::close(fd);
    if (err == EWOULDBLOCK) return make_error(Errc::conflict, "another lpm-directory serves " + dir);
    return make_error(Errc::io_error, "lock " + path + ": " + std::strerror(err));
  }
  return FolderLock(fd);
}

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

Status folder_backup(const std::string &dir, const std::string &file) {
  auto store = folder_open_store(dir);
  if (!store.ok()) return store.error();
  if (file_exists(file)) return make_error(Errc::conflict, file + " exists: a backup never overwrites a file");
  std::string partial = file + ".partial";
  ::unlink(partial.c_str()); // left by an interrupted backup
  Status s = create_private(partial);
  if (s.ok()) s = (*store)->db().backup_to(partial);
  if (s.ok()) s = fsync_file(partial);
  if (s.ok() && ::rename(partial.c_str(), file.c_str()) != 0)
    s = make_error(Errc::io_error, "rename " + partial + ": " + std::strerror(errno));
  if (s.ok()) s = fsync_dir(folder_of(file));
  if (!s.ok()) ::unlink(partial.c_str());
  return s;
}

Result<std::string> folder_restore(const std::string &dir, const std::string &file) {
  if (!file_exists(db_path(dir))) return not_initialised(dir, "state.db");
  if (!file_exists(file)) return make_error(Errc::not_found, "no backup file " + file);
  auto lock = folder_lock(dir);
  if (!lock.ok()) return make_error(lock.error().code, lock.error().message + ": stop it before restoring");
  std::string incoming = db_path(dir) + ".restoring";
  ::unlink(incoming.c_str());
  Status s = create_private(incoming);
  if (!s.ok()) return s.error();
  {
    // Read through SQLite (never copied as bytes: the backup may have a WAL beside it), and
    // checked: it must be a directory database this program understands.
    auto source = Db::open_readonly(file);
    if (!source.ok()) s = source.error();
    if (s.ok()) s = (*source)->backup_to(incoming);
  }
  if (s.ok()) {
    auto check = DirectoryStore::open(incoming);
    if (!check.ok()) s = make_error(check.error().code, file + " is not a directory backup this program can use: " +
                                                           check.error().message);
  }
  if (s.ok()) s = fsync_file(incoming);
  std::string kept = db_path(dir) + ".replaced-" + std::to_string(wall_ms());
  if (s.ok() && ::rename(db_path(dir).c_str(), kept.c_str()) != 0)
    s = make_error(Errc::io_error, "rename " + db_path(dir) + ": " + std::strerror(errno));
  if (s.ok()) {
    // The old database's WAL goes with it (a checkpoint already ran when its last connection
    // closed; anything left there belongs to the replaced file, not to the restored one).
    for (const char *suffix : {"-wal", "-shm"}) {
      std::string from = db_path(dir) + suffix;
      if (file_exists(from)) (void)::rename(from.c_str(), (kept + suffix).c_str());
    }
    if (::rename(incoming.c_str(), db_path(dir).c_str()) != 0)
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

} // namespace lpm::directory
