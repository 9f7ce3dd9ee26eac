#include "directory_folder.h"

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

Result<FolderLock> folder_lock(const std::string &dir) {
  return lpm::folder_lock(dir, "lpm-directory");
}

Status folder_backup(const std::string &dir, const std::string &file) {
  if (!file_exists(db_path(dir))) return not_initialised(dir, "state.db");
  return backup_database(db_path(dir), file);
}

Result<std::string> folder_restore(const std::string &dir, const std::string &file) {
  if (!file_exists(db_path(dir))) return not_initialised(dir, "state.db");
  return restore_database(dir, "lpm-directory", file, [](const std::string &incoming) -> Status {
    Status tables = require_tables(incoming, {"users", "badges", "audit"});
    if (!tables.ok()) return tables;
    auto check = DirectoryStore::open(incoming);
    if (!check.ok()) return check.error();
    return {};
  });
}

} // namespace lpm::directory
