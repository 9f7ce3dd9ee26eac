// The directory's data folder (--data DIR): what `init` creates and what the other commands load.
//   DIR/identity.key, DIR/identity.crt   TLS identity (Identity name "identity")
//   DIR/identity-next.{key,crt}          the identity a rotation will switch to (when made)
//   DIR/identity-retired-<ms>.{key,crt}  identities rotated out
//   DIR/ticket.key                       ticket-signing key, PEM, mode 0600
//   DIR/session.key                      session-token signing key, PEM, mode 0600
//   DIR/state.db                         the DirectoryStore database
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "directory_store.h"
#include "lpm/db_backup.h"
#include "lpm/error.h"
#include "lpm/protocol/keys.h"

namespace lpm::directory {

struct DirectoryKeys {
  std::shared_ptr<proto::Identity> identity;  // TLS
  std::unique_ptr<proto::KeyPair> ticket_key; // signs release tickets
  std::unique_ptr<proto::KeyPair> session_key; // signs session tokens (lpm login)
  // What register replies announce: the identity's fingerprint, then the next identity's when
  // one was made (folder_identity_next), so agents pin it before the directory switches to it.
  std::vector<proto::Fingerprint> announced;
};

// Creates what is missing (the folder with mode 0700, the TLS identity, the ticket-signing key,
// the database) and keeps what exists, so running it twice is harmless. Returns the TLS key's
// fingerprint.
Result<proto::Fingerprint> folder_init(const std::string &dir);

// Loads the keys of an initialised folder; not_found (naming `init`) when it is not. A folder
// made before session tokens existed gets its session key here.
Result<DirectoryKeys> folder_load_keys(const std::string &dir);

// Loads the TLS identity only (for `fingerprint`). Finishes a rotation a crash interrupted.
Result<std::shared_ptr<proto::Identity>> folder_load_identity(const std::string &dir);

// Rotating the directory's TLS identity (DESIGN §3: packages and agents pin a set of keys).
//   1. folder_identity_next makes DIR/identity-next.{key,crt} once (later calls return the same
//      fingerprint); serve announces it with register replies, agents add it to their pins.
//   2. Once agents have it (one heartbeat, 60 s) and new packages pin it, folder_identity_rotate
//      (serve stopped: the caller holds folder_lock) makes it the identity; the old one is kept as
//      identity-retired-<ms>.{key,crt}. Each step is a rename, and a load finishes a rotation a
//      crash left half done, so the folder never ends with a key and a certificate that differ.
// The next identity's fingerprint, or not_found when none was made.
Result<proto::Fingerprint> folder_identity_next_fingerprint(const std::string &dir);
Result<proto::Fingerprint> folder_identity_next(const std::string &dir);
// Returns the new identity's fingerprint; not_found when there is no next identity.
Result<proto::Fingerprint> folder_identity_rotate(const std::string &dir);

// Held by `serve` (and `restore`) for as long as it runs (lpm/db_backup.h). conflict when another
// process holds it ("another lpm-directory serves DIR").
Result<FolderLock> folder_lock(const std::string &dir);

// Copies the database to `file` while the directory may be serving (lpm/db_backup.h); the file
// is 0600, as it holds password and token hashes. conflict when `file` exists.
Status folder_backup(const std::string &dir, const std::string &file);
// Replaces the folder's database with the backup in `file`, which is checked first (it must open
// as a directory database of this or an older schema, then brought to the current one). The
// database it replaces is kept beside as state.db.replaced-<ms>. conflict while the folder is
// served. Returns the kept file's name.
Result<std::string> folder_restore(const std::string &dir, const std::string &file);

// Opens the database of an initialised folder; not_found when `init` has not run, so a typo in
// --data does not silently create an empty directory somewhere else.
Result<std::unique_ptr<DirectoryStore>> folder_open_store(const std::string &dir);

} // namespace lpm::directory
