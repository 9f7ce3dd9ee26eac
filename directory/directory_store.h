// The directory's durable state (DESIGN §3, §4): users, badges, enrollment tokens, enrolled keys,
// workstations and who holds jobs for whom, and the append-only audit log. SQLite today; the
// service and the command line only see this interface, so PostgreSQL can sit behind it later.
//
// Every call is synchronous and runs on the caller's thread. Times are passed in (now_ms) so the
// caller owns the clock and tests can move it.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "lpm/error.h"
#include "lpm/protocol/ops.h"
#include "lpm/sqlite.h"

namespace lpm::directory {

// A workstation's holdings count for badge-in only while it registered this recently.
inline constexpr int64_t kRegisterLeaseMs = 120 * 1000;
// What register replies tell the agent: heartbeat at half the lease, so one lost beat is harmless.
inline constexpr uint64_t kHeartbeatS = 60;
// Caps on what an administrator or a peer may store.
inline constexpr size_t kMaxEmailBytes = 254;
inline constexpr size_t kMaxDisplayNameBytes = 256;
inline constexpr size_t kMaxBadgeBytes = 128;
// A ticket names at most this many workstations (protocol/ticket.cpp refuses more).
inline constexpr size_t kMaxWorkstationsPerTicket = 256;

struct User {
  std::string id; // UUIDv7
  std::string email;
  std::string display_name;
  int64_t created_ms = 0;
};

struct EnrolledEntry {
  std::string id; // UUIDv7
  proto::EnrollKind kind = proto::EnrollKind::workstation;
  std::string name;
  proto::Fingerprint fingerprint;
  int64_t enrolled_ms = 0;
  bool revoked = false;
};

// What one register call reports, with the address the directory itself saw.
struct WorkstationReport {
  std::string id;
  uint16_t port = 0;
  std::vector<std::string> reported_addresses; // IP literals, as the agent sees itself
  std::string seen_address;                    // IP of the connection, no port
  std::vector<proto::Holding> holdings;        // the full set; unlisted users or jobs == 0: withdrawn
};

// A workstation holding jobs for a user, with a live lease.
struct Holder {
  std::string id;
  std::string name;
  proto::Fingerprint fingerprint;
  uint16_t port = 0;
  std::string seen_address;
  std::vector<std::string> reported_addresses;
  uint64_t jobs = 0;
  int64_t last_seen_ms = 0;
};

struct AuditEntry {
  int64_t id = 0;
  int64_t at_ms = 0;
  std::string actor;
  std::string action;
  std::string detail;
};

// Lower-cases and checks an e-mail address: exactly one '@' with text on both sides, no spaces or
// control characters, at most kMaxEmailBytes. bad_request otherwise.
Result<std::string> email_normalize(std::string_view email);
// Trims surrounding white space (reader delimiters); nothing else is changed. bad_request when
// nothing is left or it is longer than kMaxBadgeBytes.
Result<std::string> badge_normalize(std::string_view badge);
// Hex SHA-256 of an enrollment token: what the store keeps instead of the token.
std::string token_hash(std::string_view token);

class DirectoryStore {
public:
  // Opens (creating if needed) the database and brings its schema to the current version.
  // io_error when the file cannot be opened; internal when it was written by a newer program.
  static Result<std::unique_ptr<DirectoryStore>> open(const std::string &path);

  // ---- users and badges (administrator commands) ----
  // conflict when a user with that e-mail exists; bad_request for an invalid e-mail or name.
  // An empty display name becomes the e-mail.
  Result<User> user_add(std::string_view email, std::string_view display_name, int64_t now_ms,
                        std::string_view actor);
  Result<User> user_by_email(std::string_view email);
  Result<User> user_by_id(std::string_view id);
  // not_found when no user has that e-mail; conflict when the badge is already given.
  Status badge_add(std::string_view badge, std::string_view email, int64_t now_ms, std::string_view actor);
  // not_found "unknown badge".
  Result<User> user_by_badge(std::string_view badge);

  // ---- enrollment tokens and keys ----
  // A new random token (32 hex characters) good for `uses` enrollments until expires_ms. Only its
  // hash is stored, so the returned text is the one and only copy.
  Result<std::string> token_create(proto::EnrollKind kind, int64_t uses, int64_t expires_ms, int64_t now_ms,
                                   std::string_view actor);
  // Enrolls `fingerprint` (the TLS peer's key) as `kind`, spending one use of the token, all in
  // one transaction. Errors: unauthenticated (unknown token), expired (past its expiry or no uses
  // left), forbidden (token of another kind, or the key was revoked), conflict (the key is
  // enrolled as another kind). A key already enrolled as `kind` gets its id back without spending
  // a use, provided the token is one the directory issued for that kind: an agent whose reply was
  // lost can retry with its single-use token.
  Result<EnrolledEntry> enroll(std::string_view token, proto::EnrollKind kind, std::string_view name,
                               std::string_view fingerprint, int64_t now_ms, std::string_view address);
  // not_found when the key was never enrolled (revoked keys are returned, flagged).
  Result<EnrolledEntry> enrolled_by_fingerprint(std::string_view fingerprint);
  // Keys not revoked, ordered by id, starting after `after_id`; at most `limit`.
  Result<std::vector<EnrolledEntry>> enrolled_list(std::string_view after_id, size_t limit);
  Status revoke(std::string_view id, int64_t now_ms, std::string_view actor);

  // ---- workstations and holdings ----
  // Stores the workstation's port and addresses, renews its lease and replaces its holdings, in
  // one transaction: the holdings list is the full set; users not listed (or listed with 0) are
  // withdrawn. Holdings for users the directory does not know are skipped and returned: no badge
  // can lead to them, and refusing the whole report would hide every other user's jobs on that
  // workstation.
  Result<std::vector<std::string>> workstation_register(const WorkstationReport &report, int64_t now_ms);
  // Workstations holding jobs for user_id whose lease is live at now_ms, most recently seen
  // first, at most kMaxWorkstationsPerTicket.
  Result<std::vector<Holder>> holders_of(std::string_view user_id, int64_t now_ms);

  // ---- audit (append-only: the schema refuses UPDATE and DELETE) ----
  Status audit(int64_t at_ms, std::string_view actor, std::string_view action, std::string_view detail);
  Result<std::vector<AuditEntry>> audit_tail(size_t limit);

  Db &db() { return *db_; }

private:
  explicit DirectoryStore(std::unique_ptr<Db> db) : db_(std::move(db)) {}
  Status migrate();
  Result<User> user_where(const char *sql, std::string_view key);
  Result<EnrolledEntry> enrolled_where(const char *sql, std::string_view key);
  std::unique_ptr<Db> db_;
};

} // namespace lpm::directory
