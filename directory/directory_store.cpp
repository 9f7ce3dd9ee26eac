#include "directory_store.h"
#include "directory_store_private.h"

#include <algorithm>
#include <cstdint>
#include <iterator>
#include <limits>

#include <nlohmann/json.hpp>
#include <sqlite3.h>

#include "lpm/ids.h"
#include "lpm/protocol/keys.h"

namespace lpm::directory {
namespace {

// The schema, one entry per version: entry i brings a database from user_version i to i + 1.
// Entries are never edited once released; a change is a new entry.
const char *const kMigrations[] = {
    // Version 1: the first foundation.
    R"sql(
CREATE TABLE users(
  id TEXT PRIMARY KEY,
  email TEXT NOT NULL UNIQUE CHECK (email = lower(email)),
  display_name TEXT NOT NULL,
  created_ms INTEGER NOT NULL);
CREATE TABLE badges(
  badge TEXT PRIMARY KEY,
  user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  created_ms INTEGER NOT NULL);
CREATE INDEX badges_user ON badges(user_id);
-- Only the SHA-256 of a token is kept: a copy of the database does not let anyone enroll.
CREATE TABLE tokens(
  token_hash TEXT PRIMARY KEY,
  kind TEXT NOT NULL,
  uses_left INTEGER NOT NULL CHECK (uses_left >= 0),
  expires_ms INTEGER NOT NULL,
  created_ms INTEGER NOT NULL);
CREATE TABLE enrolled(
  id TEXT PRIMARY KEY,
  kind TEXT NOT NULL,
  name TEXT NOT NULL,
  fingerprint TEXT NOT NULL UNIQUE,
  enrolled_ms INTEGER NOT NULL,
  revoked INTEGER NOT NULL DEFAULT 0);
CREATE TABLE workstations(
  id TEXT PRIMARY KEY REFERENCES enrolled(id) ON DELETE CASCADE,
  port INTEGER NOT NULL,
  reported_addresses TEXT NOT NULL, -- JSON array of IP literals
  seen_address TEXT NOT NULL,
  last_seen_ms INTEGER NOT NULL);
CREATE TABLE holdings(
  workstation_id TEXT NOT NULL REFERENCES workstations(id) ON DELETE CASCADE,
  user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  jobs INTEGER NOT NULL CHECK (jobs > 0),
  updated_ms INTEGER NOT NULL,
  PRIMARY KEY (workstation_id, user_id));
CREATE INDEX holdings_user ON holdings(user_id);
CREATE TABLE audit(
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  at_ms INTEGER NOT NULL,
  actor TEXT NOT NULL,
  action TEXT NOT NULL,
  detail TEXT NOT NULL);
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END;
)sql",
    // Version 2: user profiles and passwords, account groups, role grants, badge kinds (compared
    // case-insensitively, AMB-15), enterprise settings, imports and their logs.
    R"sql(
ALTER TABLE users ADD COLUMN first_name TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN last_name TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN short_name TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN department TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN cost_center TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN custom_attributes TEXT NOT NULL DEFAULT '{}';
ALTER TABLE users ADD COLUMN updated_ms INTEGER NOT NULL DEFAULT 0;
-- Argon2id PHC strings, newest last; the newest is the current password.
CREATE TABLE passwords(
  user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  set_ms INTEGER NOT NULL,
  hash TEXT NOT NULL);
CREATE INDEX passwords_user ON passwords(user_id, set_ms);
CREATE TABLE account_groups(
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL UNIQUE COLLATE NOCASE,
  created_ms INTEGER NOT NULL);
CREATE TABLE group_members(
  group_id TEXT NOT NULL REFERENCES account_groups(id) ON DELETE CASCADE,
  user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  added_ms INTEGER NOT NULL,
  PRIMARY KEY (group_id, user_id));
CREATE INDEX group_members_user ON group_members(user_id);
-- subject: '' at enterprise scope, else a group or user id (deleted with them by the store).
CREATE TABLE role_grants(
  scope TEXT NOT NULL CHECK (scope IN ('enterprise', 'group', 'user')),
  subject TEXT NOT NULL,
  role TEXT NOT NULL,
  granted_ms INTEGER NOT NULL,
  PRIMARY KEY (scope, subject, role));
CREATE TABLE badges_v2(
  badge TEXT PRIMARY KEY COLLATE NOCASE,
  user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  temporary INTEGER NOT NULL DEFAULT 0 CHECK (temporary IN (0, 1)),
  created_ms INTEGER NOT NULL,
  expires_ms INTEGER NOT NULL DEFAULT 0);
INSERT INTO badges_v2(badge, user_id, temporary, created_ms) SELECT badge, user_id, 0, created_ms FROM badges;
DROP TABLE badges;
ALTER TABLE badges_v2 RENAME TO badges;
CREATE INDEX badges_user ON badges(user_id, temporary);
CREATE INDEX badges_expiry ON badges(expires_ms) WHERE temporary = 1;
CREATE TABLE settings(
  name TEXT PRIMARY KEY,
  value TEXT NOT NULL);
-- An import keeps its file until it is done, so one interrupted by a crash resumes at next_record.
CREATE TABLE imports(
  id TEXT PRIMARY KEY,
  kind TEXT NOT NULL,
  actor TEXT NOT NULL,
  file_name TEXT NOT NULL,
  options TEXT NOT NULL,
  content BLOB NOT NULL,
  records INTEGER NOT NULL,
  next_record INTEGER NOT NULL,
  applied INTEGER NOT NULL DEFAULT 0,
  failed INTEGER NOT NULL DEFAULT 0,
  warnings INTEGER NOT NULL DEFAULT 0,
  state TEXT NOT NULL CHECK (state IN ('running', 'done')),
  started_ms INTEGER NOT NULL,
  finished_ms INTEGER NOT NULL DEFAULT 0);
-- Logins (lpm login): a session per login, its refresh token kept as a SHA-256 only and
-- rotated at each refresh; usable only from the enrolled machine it was opened on.
CREATE TABLE sessions(
  id TEXT PRIMARY KEY,
  user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  enrolled_id TEXT NOT NULL REFERENCES enrolled(id) ON DELETE CASCADE,
  os_account TEXT NOT NULL,
  refresh_hash TEXT NOT NULL UNIQUE,
  created_ms INTEGER NOT NULL,
  refreshed_ms INTEGER NOT NULL,
  expires_ms INTEGER NOT NULL);
CREATE INDEX sessions_user ON sessions(user_id);
-- Users a workstation may register holdings for: who logged in there, whom an admin bound to it.
CREATE TABLE workstation_users(
  workstation_id TEXT NOT NULL REFERENCES enrolled(id) ON DELETE CASCADE,
  user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  how TEXT NOT NULL CHECK (how IN ('login', 'admin')),
  since_ms INTEGER NOT NULL,
  PRIMARY KEY (workstation_id, user_id, how));
CREATE INDEX workstation_users_user ON workstation_users(user_id);
CREATE TABLE import_log(
  import_id TEXT NOT NULL REFERENCES imports(id) ON DELETE CASCADE,
  record INTEGER NOT NULL,
  line INTEGER NOT NULL,
  key TEXT NOT NULL,
  result TEXT NOT NULL,
  reason TEXT NOT NULL,
  PRIMARY KEY (import_id, record));
)sql",
    // Version 3: commands for agents (delete a job, purge a user's jobs), delivered with register
    // replies until the agent says it carried them out. user_id has no foreign key: a deleted
    // user's jobs are purged after the user is gone.
    R"sql(
CREATE TABLE agent_commands(
  id TEXT PRIMARY KEY,
  workstation_id TEXT NOT NULL REFERENCES enrolled(id) ON DELETE CASCADE,
  kind TEXT NOT NULL CHECK (kind IN ('delete-job', 'purge-user')),
  user_id TEXT NOT NULL,
  job_id TEXT NOT NULL DEFAULT '',
  actor TEXT NOT NULL,
  created_ms INTEGER NOT NULL);
CREATE INDEX agent_commands_workstation ON agent_commands(workstation_id, id);
)sql",
    // Version 4: Print Management's own user list and print groups (PM-2 ... PM-4, GR-6 ... GR-9,
    // AMB-16 ... AMB-18), delegates (PM-7), badge PINs and federated users (BD-5), and ids and
    // revocation times for enrollment tokens and keys (listing, revoking, the revocation list).
    R"sql(
-- A deleted print group stays (deleted_ms > 0) so reports can still select it (GR-9, RP-11); its
-- name is free again for a new group.
CREATE TABLE print_groups(
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL COLLATE NOCASE,
  quota INTEGER CHECK (quota IS NULL OR quota >= 0), -- impressions per calendar month (AMB-17)
  color_allowed INTEGER NOT NULL DEFAULT 0 CHECK (color_allowed IN (0, 1)),
  created_ms INTEGER NOT NULL,
  deleted_ms INTEGER NOT NULL DEFAULT 0);
CREATE UNIQUE INDEX print_groups_live_name ON print_groups(name) WHERE deleted_ms = 0;
-- Users imported into Print Management (PM-2); at most one print group each (AMB-17); quota
-- NULL: the group's.
CREATE TABLE pm_users(
  user_id TEXT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
  print_group_id TEXT REFERENCES print_groups(id),
  quota INTEGER CHECK (quota IS NULL OR quota >= 0),
  imported_ms INTEGER NOT NULL);
CREATE INDEX pm_users_group ON pm_users(print_group_id);
-- delegator's jobs may be released by delegate (PM-7).
CREATE TABLE delegates(
  delegator_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  delegate_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  actor TEXT NOT NULL,
  created_ms INTEGER NOT NULL,
  PRIMARY KEY (delegator_id, delegate_id),
  CHECK (delegator_id <> delegate_id));
CREATE INDEX delegates_delegate ON delegates(delegate_id);
-- Argon2id hashes of badge PINs (the second factor at the printer when the policy asks for it).
CREATE TABLE badge_pins(
  user_id TEXT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
  hash TEXT NOT NULL,
  set_ms INTEGER NOT NULL);
-- Federated users' badges come from the corporate directory: never self-registered (BD-5).
ALTER TABLE users ADD COLUMN federated INTEGER NOT NULL DEFAULT 0 CHECK (federated IN (0, 1));
ALTER TABLE tokens ADD COLUMN id TEXT;
UPDATE tokens SET id = lower(hex(randomblob(8)));
CREATE UNIQUE INDEX tokens_id ON tokens(id);
ALTER TABLE tokens ADD COLUMN actor TEXT NOT NULL DEFAULT '';
ALTER TABLE tokens ADD COLUMN uses INTEGER NOT NULL DEFAULT 0;
ALTER TABLE tokens ADD COLUMN revoked_ms INTEGER NOT NULL DEFAULT 0;
ALTER TABLE enrolled ADD COLUMN revoked_ms INTEGER NOT NULL DEFAULT 0;
UPDATE enrolled SET revoked_ms = enrolled_ms WHERE revoked = 1;
CREATE INDEX enrolled_revoked ON enrolled(revoked_ms) WHERE revoked = 1;
)sql",
    // Version 5: password links (UA-4, UA-7, UA-15): what lets a user without a password set
    // one. Only the SHA-256 of a link is kept; a link is used once, and a newer one voids it.
    R"sql(
CREATE TABLE password_links(
  link_hash TEXT PRIMARY KEY,
  user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  created_ms INTEGER NOT NULL,
  expires_ms INTEGER NOT NULL,
  used_ms INTEGER NOT NULL DEFAULT 0,
  voided_ms INTEGER NOT NULL DEFAULT 0);
CREATE INDEX password_links_user ON password_links(user_id);
CREATE INDEX password_links_expiry ON password_links(expires_ms);
)sql",
    // Version 6: monthly quotas counted (AMB-17): impressions charged per user and calendar month
    // from release stations' signed outcomes (settle-quota), what badge-ins hold until they are
    // settled, and which claims were charged (each once).
    R"sql(
CREATE TABLE quota_usage(
  user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  month TEXT NOT NULL, -- "YYYY-MM" in the print policy's quota zone
  impressions INTEGER NOT NULL CHECK (impressions >= 0),
  PRIMARY KEY (user_id, month)) WITHOUT ROWID;
CREATE TABLE quota_holds(
  reservation TEXT NOT NULL,
  user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  printer_id TEXT NOT NULL,
  impressions INTEGER NOT NULL CHECK (impressions >= 0),
  expires_ms INTEGER NOT NULL,
  PRIMARY KEY (reservation, user_id)) WITHOUT ROWID;
CREATE INDEX quota_holds_user ON quota_holds(user_id, expires_ms);
CREATE INDEX quota_holds_expiry ON quota_holds(expires_ms);
CREATE TABLE quota_charges(
  workstation TEXT NOT NULL,
  job TEXT NOT NULL,
  claim TEXT NOT NULL,
  user_id TEXT NOT NULL,
  month TEXT NOT NULL,
  impressions INTEGER NOT NULL,
  charged_ms INTEGER NOT NULL,
  PRIMARY KEY (workstation, job, claim)) WITHOUT ROWID;
CREATE INDEX quota_charges_time ON quota_charges(charged_ms);
)sql",
};
constexpr int64_t kSchemaVersion = static_cast<int64_t>(std::size(kMigrations));

constexpr size_t kTokenBytes = 16; // 32 hex characters

bool is_control_or_space(unsigned char c) {
  return c <= 0x20 || c == 0x7f;
}

Result<int64_t> user_version(Db &db) {
  auto stmt = db.prepare("PRAGMA user_version");
  if (!stmt.ok()) return stmt.error();
  auto row = stmt->step();
  if (!row.ok()) return row.error();
  return *row ? stmt->col_int(0) : 0;
}

std::string addresses_to_json(const std::vector<std::string> &addresses) {
  return nlohmann::json(addresses).dump();
}

std::vector<std::string> addresses_from_json(const std::string &text) {
  // The column is written only by addresses_to_json; a damaged value yields no addresses rather
  // than failing a badge-in (the seen address still leads to the workstation).
  auto parsed = nlohmann::json::parse(text, nullptr, false);
  std::vector<std::string> out;
  if (!parsed.is_array()) return out;
  for (const auto &item : parsed)
    if (item.is_string()) out.push_back(item.get<std::string>());
  return out;
}

EnrolledEntry enrolled_from_row(const Stmt &stmt) {
  EnrolledEntry e;
  e.id = stmt.col_text(0);
  if (!proto::enroll_kind_parse(stmt.col_text(1), e.kind)) e.kind = proto::EnrollKind::workstation;
  e.name = stmt.col_text(2);
  e.fingerprint = stmt.col_text(3);
  e.enrolled_ms = stmt.col_int(4);
  e.revoked = stmt.col_int(5) != 0;
  return e;
}

constexpr const char *kEnrolledColumns =
    "SELECT id, kind, name, fingerprint, enrolled_ms, revoked FROM enrolled ";

} // namespace

Result<std::string> email_normalize(std::string_view email) {
  if (email.empty()) return make_error(Errc::bad_request, "e-mail address is empty");
  if (email.size() > kMaxEmailBytes)
    return make_error(Errc::bad_request,
                      "e-mail address is longer than " + std::to_string(kMaxEmailBytes) + " bytes");
  size_t at = email.find('@');
  if (at == std::string_view::npos || email.find('@', at + 1) != std::string_view::npos)
    return make_error(Errc::bad_request,
                      "e-mail address \"" + std::string(email) + "\" must contain exactly one @");
  if (at == 0 || at + 1 == email.size())
    return make_error(Errc::bad_request,
                      "e-mail address \"" + std::string(email) + "\" needs text on both sides of @");
  std::string out;
  out.reserve(email.size());
  for (char ch : email) {
    auto c = static_cast<unsigned char>(ch);
    if (is_control_or_space(c))
      return make_error(Errc::bad_request, "e-mail address must not contain spaces or control characters");
    // ASCII only: bytes of UTF-8 sequences pass through unchanged.
    out.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : ch);
  }
  return out;
}

std::string token_hash(std::string_view token) {
  auto bytes = std::span<const uint8_t>(reinterpret_cast<const uint8_t *>(token.data()), token.size());
  return to_hex(proto::sha256(bytes));
}

// ---------------------------------------------------------------------------------------------
// Opening and schema

Result<std::unique_ptr<DirectoryStore>> DirectoryStore::open(const std::string &path) {
  auto db = Db::open(path);
  if (!db.ok()) return db.error();
  std::unique_ptr<DirectoryStore> store(new DirectoryStore(std::move(*db)));
  Status s = store->migrate();
  if (!s.ok()) return make_error(s.error().code, path + ": " + s.error().message);
  return store;
}

std::string DirectoryStore::path() const {
  const char *name = sqlite3_db_filename(db_->raw(), "main");
  return name ? name : "";
}

Status DirectoryStore::migrate() {
  // Read the version inside the write transaction, so two processes opening a new database at
  // once cannot both apply the same step.
  Transaction tx(*db_);
  if (!tx.begun().ok()) return tx.begun();
  auto version = user_version(*db_);
  if (!version.ok()) return version.error();
  if (*version > kSchemaVersion)
    return make_error(Errc::internal, "database schema version " + std::to_string(*version) +
                                          " is newer than this program understands (" +
                                          std::to_string(kSchemaVersion) + ")");
  if (*version == kSchemaVersion) return {};
  for (int64_t v = *version; v < kSchemaVersion; v++) {
    Status s = db_->exec(kMigrations[v]);
    if (!s.ok())
      return make_error(s.error().code, "schema step " + std::to_string(v + 1) + ": " + s.error().message);
  }
  Status s = db_->exec("PRAGMA user_version = " + std::to_string(kSchemaVersion));
  if (!s.ok()) return s;
  return tx.commit();
}

// ---------------------------------------------------------------------------------------------
// Tokens and enrollment

Result<std::string> DirectoryStore::token_create(proto::EnrollKind kind, int64_t uses, int64_t expires_ms,
                                                 int64_t now_ms, std::string_view actor) {
  if (uses < 1) return make_error(Errc::bad_request, "a token needs at least one use");
  uint8_t raw[kTokenBytes];
  random_bytes(raw, sizeof raw);
  std::string token = to_hex(raw);
  std::string hash = token_hash(token);

  Transaction tx(*db_);
  if (!tx.begun().ok()) return tx.begun().error();
  auto insert = db_->prepare(
      "INSERT INTO tokens(token_hash, kind, uses_left, expires_ms, created_ms, id, actor, uses) "
      "VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
  if (!insert.ok()) return insert.error();
  // The id names the token in lists and revocations; it is the hash prefix the audit shows.
  Status s = insert->bind(1, hash)
                 .bind(2, proto::enroll_kind_name(kind))
                 .bind(3, uses)
                 .bind(4, expires_ms)
                 .bind(5, now_ms)
                 .bind(6, hash.substr(0, 16))
                 .bind(7, actor)
                 .bind(8, uses)
                 .run();
  // The hash prefix lets an administrator match audit rows to a token without storing it.
  if (s.ok())
    s = audit(now_ms, actor, "token-create",
              std::string("kind ") + proto::enroll_kind_name(kind) + " uses " + std::to_string(uses) +
                  " expires " + std::to_string(expires_ms) + " hash " + hash.substr(0, 16));
  if (s.ok()) s = tx.commit();
  if (!s.ok()) return s.error();
  return token;
}

namespace {
constexpr const char *kTokenColumns =
    "SELECT id, kind, uses, uses_left, created_ms, expires_ms, revoked_ms, actor FROM tokens ";

TokenInfo token_from_row(const Stmt &stmt) {
  TokenInfo t;
  t.id = stmt.col_text(0);
  if (!proto::enroll_kind_parse(stmt.col_text(1), t.kind)) t.kind = proto::EnrollKind::workstation;
  t.uses = stmt.col_int(2);
  t.uses_left = stmt.col_int(3);
  t.created_ms = stmt.col_int(4);
  t.expires_ms = stmt.col_int(5);
  t.revoked_ms = stmt.col_int(6);
  t.actor = stmt.col_text(7);
  return t;
}
} // namespace

Result<std::vector<TokenInfo>> DirectoryStore::tokens_list(bool all, int64_t now_ms, size_t limit) {
  auto stmt = db_->prepare(std::string(kTokenColumns) +
                           (all ? "WHERE ?1 = ?1 "
                                : "WHERE revoked_ms = 0 AND uses_left > 0 AND expires_ms > ?1 ") +
                           "ORDER BY created_ms DESC, id LIMIT ?2");
  if (!stmt.ok()) return stmt.error();
  stmt->bind(1, now_ms).bind(2, static_cast<int64_t>(limit));
  std::vector<TokenInfo> out;
  for (;;) {
    auto row = stmt->step();
    if (!row.ok()) return row.error();
    if (!*row) break;
    out.push_back(token_from_row(*stmt));
  }
  return out;
}

Result<TokenInfo> DirectoryStore::token_find(std::string_view id_or_token) {
  // A token's text is 32 hex digits, an id 16: whoever still has the text may name it by that.
  std::string id = id_or_token.size() == 2 * kTokenBytes ? token_hash(id_or_token).substr(0, 16)
                                                          : std::string(id_or_token);
  auto find = db_->prepare(std::string(kTokenColumns) + "WHERE id = ?");
  if (!find.ok()) return find.error();
  find->bind(1, id);
  auto row = find->step();
  if (!row.ok()) return row.error();
  if (!*row) return make_error(Errc::not_found, "no enrollment token has the id " + std::string(id_or_token));
  return token_from_row(*find);
}

Result<TokenInfo> DirectoryStore::token_revoke(std::string_view id_or_token, int64_t now_ms,
                                               std::string_view actor) {
  Transaction tx(*db_);
  if (!tx.begun().ok()) return tx.begun().error();
  auto found = token_find(id_or_token);
  if (!found.ok()) return found.error();
  TokenInfo t = std::move(*found);
  if (t.revoked_ms != 0) return make_error(Errc::conflict, "the token " + t.id + " is already revoked");
  auto update = db_->prepare("UPDATE tokens SET revoked_ms = ? WHERE id = ?");
  if (!update.ok()) return update.error();
  Status s = update->bind(1, now_ms).bind(2, t.id).run();
  if (s.ok()) s = audit(now_ms, actor, "token-revoke", std::string(proto::enroll_kind_name(t.kind)) + " token " + t.id);
  if (s.ok()) s = tx.commit();
  if (!s.ok()) return s.error();
  t.revoked_ms = now_ms;
  return t;
}

Result<EnrolledEntry> DirectoryStore::enrolled_where(const char *sql, std::string_view key) {
  auto stmt = db_->prepare(std::string(kEnrolledColumns) + sql);
  if (!stmt.ok()) return stmt.error();
  stmt->bind(1, key);
  auto row = stmt->step();
  if (!row.ok()) return row.error();
  if (!*row) return make_error(Errc::not_found, "key is not enrolled");
  return enrolled_from_row(*stmt);
}

Result<EnrolledEntry> DirectoryStore::enrolled_by_fingerprint(std::string_view fingerprint) {
  return enrolled_where("WHERE fingerprint = ?", fingerprint);
}

Result<EnrolledEntry> DirectoryStore::enroll(std::string_view token, proto::EnrollKind kind,
                                             std::string_view name, std::string_view fingerprint,
                                             int64_t now_ms, std::string_view address) {
  if (!proto::fingerprint_valid(fingerprint))
    return make_error(Errc::unauthenticated, "enrollment needs the key of a TLS client certificate");
  const char *kind_name = proto::enroll_kind_name(kind);

  Transaction tx(*db_);
  if (!tx.begun().ok()) return tx.begun().error();
  std::string hash = token_hash(token);
  auto tok = db_->prepare("SELECT kind, uses_left, expires_ms, revoked_ms FROM tokens WHERE token_hash = ?");
  if (!tok.ok()) return tok.error();
  tok->bind(1, hash);
  auto row = tok->step();
  if (!row.ok()) return row.error();
  if (!*row) return make_error(Errc::unauthenticated, "unknown enrollment token");
  std::string token_kind = tok->col_text(0);
  int64_t uses_left = tok->col_int(1);
  int64_t expires_ms = tok->col_int(2);
  int64_t revoked_ms = tok->col_int(3);
  if (token_kind != kind_name)
    return make_error(Errc::forbidden, "this token enrolls a " + token_kind + ", not a " + kind_name);

  auto existing = enrolled_by_fingerprint(fingerprint);
  if (existing.ok()) {
    if (existing->revoked) return make_error(Errc::forbidden, "this key was revoked; enroll a new key");
    if (existing->kind != kind)
      return make_error(Errc::conflict, std::string("this key is already enrolled as a ") +
                                            proto::enroll_kind_name(existing->kind));
    return existing; // idempotent: same key, same id, no use spent
  }
  if (existing.error().code != Errc::not_found) return existing.error();

  if (revoked_ms != 0) return make_error(Errc::forbidden, "enrollment token was revoked");
  if (now_ms >= expires_ms) return make_error(Errc::expired, "enrollment token has expired");
  if (uses_left <= 0) return make_error(Errc::expired, "enrollment token has no uses left");

  EnrolledEntry e;
  e.id = uuid_v7();
  e.kind = kind;
  e.name = std::string(name);
  e.fingerprint = std::string(fingerprint);
  e.enrolled_ms = now_ms;

  auto spend = db_->prepare("UPDATE tokens SET uses_left = uses_left - 1 WHERE token_hash = ?");
  if (!spend.ok()) return spend.error();
  Status s = spend->bind(1, hash).run();
  if (s.ok()) {
    auto insert = db_->prepare(
        "INSERT INTO enrolled(id, kind, name, fingerprint, enrolled_ms, revoked) VALUES (?, ?, ?, ?, ?, 0)");
    if (!insert.ok()) return insert.error();
    s = insert->bind(1, e.id).bind(2, kind_name).bind(3, e.name).bind(4, e.fingerprint).bind(5, now_ms).run();
  }
  if (s.ok())
    s = audit(now_ms, "key " + e.fingerprint, "enroll",
              std::string(kind_name) + " " + e.id + " name \"" + e.name + "\" from " + std::string(address) +
                  " token " + hash.substr(0, 16));
  if (s.ok()) s = tx.commit();
  if (!s.ok()) return s.error();
  return e;
}

Result<std::vector<EnrolledEntry>> DirectoryStore::enrolled_list(std::string_view after_id, size_t limit) {
  auto stmt =
      db_->prepare(std::string(kEnrolledColumns) + "WHERE revoked = 0 AND id > ? ORDER BY id LIMIT ?");
  if (!stmt.ok()) return stmt.error();
  stmt->bind(1, after_id).bind(2, static_cast<int64_t>(limit));
  std::vector<EnrolledEntry> out;
  for (;;) {
    auto row = stmt->step();
    if (!row.ok()) return row.error();
    if (!*row) break;
    out.push_back(enrolled_from_row(*stmt));
  }
  return out;
}

Status DirectoryStore::revoke(std::string_view id, int64_t now_ms, std::string_view actor) {
  Transaction tx(*db_);
  if (!tx.begun().ok()) return tx.begun();
  auto stmt = db_->prepare("UPDATE enrolled SET revoked = 1, revoked_ms = ? WHERE id = ? AND revoked = 0");
  if (!stmt.ok()) return stmt.error();
  Status s = stmt->bind(1, now_ms).bind(2, id).run();
  if (!s.ok()) return s;
  if (db_->changes() == 0) {
    auto known = enrolled_where("WHERE id = ?", id);
    if (known.ok()) return make_error(Errc::conflict, "the key " + std::string(id) + " is already revoked");
    return make_error(Errc::not_found, "no enrolled key has the id " + std::string(id));
  }
  s = audit(now_ms, actor, "revoke", std::string(id));
  if (s.ok()) s = tx.commit();
  return s;
}

Result<std::vector<proto::RevokedKey>> DirectoryStore::revocations_since(int64_t after_ms, size_t limit) {
  // At or after: keys revoked in the same millisecond as the newest one the agent has may not all
  // have fitted in its last reply. The agent ignores repeats.
  auto stmt = db_->prepare(
      "SELECT fingerprint, kind, revoked_ms FROM enrolled WHERE revoked = 1 AND revoked_ms >= ? "
      "AND kind IN ('printer', 'accounting') ORDER BY revoked_ms, id LIMIT ?");
  if (!stmt.ok()) return stmt.error();
  stmt->bind(1, after_ms).bind(2, static_cast<int64_t>(limit));
  std::vector<proto::RevokedKey> out;
  for (;;) {
    auto row = stmt->step();
    if (!row.ok()) return row.error();
    if (!*row) break;
    proto::RevokedKey k;
    k.fingerprint = stmt->col_text(0);
    if (!proto::enroll_kind_parse(stmt->col_text(1), k.kind)) continue;
    k.revoked_ms = stmt->col_int(2);
    out.push_back(std::move(k));
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Workstations and holdings

Result<std::vector<RefusedHolding>> DirectoryStore::workstation_register(const WorkstationReport &report,
                                                                      int64_t now_ms) {
  Transaction tx(*db_);
  if (!tx.begun().ok()) return tx.begun().error();
  auto upsert = db_->prepare(
      "INSERT INTO workstations(id, port, reported_addresses, seen_address, last_seen_ms) VALUES (?, ?, ?, "
      "?, ?) "
      "ON CONFLICT(id) DO UPDATE SET port = excluded.port, reported_addresses = excluded.reported_addresses, "
      "seen_address = excluded.seen_address, last_seen_ms = excluded.last_seen_ms");
  if (!upsert.ok()) return upsert.error();
  Status s = upsert->bind(1, report.id)
                 .bind(2, static_cast<int64_t>(report.port))
                 .bind(3, addresses_to_json(report.reported_addresses))
                 .bind(4, report.seen_address)
                 .bind(5, now_ms)
                 .run();
  if (!s.ok()) return s.error();

  auto known = db_->prepare("SELECT 1 FROM users WHERE id = ?");
  if (!known.ok()) return known.error();
  auto bound = db_->prepare("SELECT 1 FROM workstation_users WHERE workstation_id = ? AND user_id = ?");
  if (!bound.ok()) return bound.error();
  auto set =
      db_->prepare("INSERT INTO holdings(workstation_id, user_id, jobs, updated_ms) VALUES (?, ?, ?, ?) "
                   "ON CONFLICT(workstation_id, user_id) DO UPDATE SET jobs = excluded.jobs, updated_ms = "
                   "excluded.updated_ms");
  if (!set.ok()) return set.error();
  // The report is the workstation's full set: users it does not list (an agent that restarted
  // no longer knows whom it registered before) are withdrawn, in this same transaction.
  auto clear = db_->prepare("DELETE FROM holdings WHERE workstation_id = ?");
  if (!clear.ok()) return clear.error();
  s = clear->bind(1, report.id).run();
  if (!s.ok()) return s.error();
  std::vector<RefusedHolding> refused;
  for (const auto &h : report.holdings) {
    known->bind(1, h.user);
    auto row = known->step();
    known->reset();
    if (!row.ok()) return row.error();
    if (!*row) {
      refused.push_back(RefusedHolding{h.user, "unknown user"});
      continue;
    }
    if (h.jobs == 0) continue; // withdrawn: cleared above
    bound->bind(1, report.id).bind(2, h.user);
    row = bound->step();
    bound->reset();
    if (!row.ok()) return row.error();
    if (!*row) {
      // A workstation could otherwise make any user's badge-in lead to it (DESIGN §4).
      refused.push_back(RefusedHolding{h.user, "not bound to this workstation"});
      continue;
    }
    auto jobs = static_cast<int64_t>(std::min<uint64_t>(h.jobs, std::numeric_limits<int64_t>::max()));
    s = set->bind(1, report.id).bind(2, h.user).bind(3, jobs).bind(4, now_ms).run();
    if (!s.ok()) return s.error();
  }
  s = tx.commit();
  if (!s.ok()) return s.error();
  return refused;
}

namespace {

// The columns holder_rows reads, in its order (then h.jobs when asked for).
constexpr const char *kHolderColumns =
    "w.id, e.name, e.fingerprint, w.port, w.seen_address, w.reported_addresses, w.last_seen_ms";

// Every row of a statement selecting kHolderColumns, then the job count when `with_jobs`.
Result<std::vector<Holder>> holder_rows(Stmt &stmt, bool with_jobs) {
  std::vector<Holder> out;
  for (;;) {
    auto row = stmt.step();
    if (!row.ok()) return row.error();
    if (!*row) break;
    Holder h;
    h.id = stmt.col_text(0);
    h.name = stmt.col_text(1);
    h.fingerprint = stmt.col_text(2);
    h.port = static_cast<uint16_t>(stmt.col_int(3));
    h.seen_address = stmt.col_text(4);
    h.reported_addresses = addresses_from_json(stmt.col_text(5));
    h.last_seen_ms = stmt.col_int(6);
    if (with_jobs) h.jobs = static_cast<uint64_t>(stmt.col_int(7));
    out.push_back(std::move(h));
  }
  return out;
}

} // namespace

Result<std::vector<Holder>> DirectoryStore::holders_of(std::string_view user_id, int64_t now_ms) {
  auto stmt = db_->prepare(std::string("SELECT ") + kHolderColumns +
                           ", h.jobs FROM holdings h JOIN workstations w ON w.id = h.workstation_id "
                           "JOIN enrolled e ON e.id = w.id "
                           "WHERE h.user_id = ? AND e.revoked = 0 AND w.last_seen_ms > ? "
                           "ORDER BY w.last_seen_ms DESC, w.id LIMIT ?");
  if (!stmt.ok()) return stmt.error();
  stmt->bind(1, user_id)
      .bind(2, now_ms - kRegisterLeaseMs)
      .bind(3, static_cast<int64_t>(kMaxWorkstationsPerTicket));
  return holder_rows(*stmt, true);
}

Result<std::vector<Holder>> DirectoryStore::workstations_page(std::string_view after, size_t limit) {
  auto stmt = db_->prepare(std::string("SELECT ") + kHolderColumns +
                           " FROM workstations w JOIN enrolled e ON e.id = w.id "
                           "WHERE w.id > ? AND e.revoked = 0 AND w.port > 0 ORDER BY w.id LIMIT ?");
  if (!stmt.ok()) return stmt.error();
  stmt->bind(1, after).bind(2, static_cast<int64_t>(limit));
  return holder_rows(*stmt, false);
}

// ---------------------------------------------------------------------------------------------
// Audit

Status DirectoryStore::audit(int64_t at_ms, std::string_view actor, std::string_view action,
                             std::string_view detail) {
  auto stmt = db_->prepare("INSERT INTO audit(at_ms, actor, action, detail) VALUES (?, ?, ?, ?)");
  if (!stmt.ok()) return stmt.error();
  return stmt->bind(1, at_ms).bind(2, actor).bind(3, action).bind(4, detail).run();
}

Result<std::vector<AuditEntry>> DirectoryStore::audit_tail(size_t limit) {
  auto stmt = db_->prepare("SELECT id, at_ms, actor, action, detail FROM audit ORDER BY id DESC LIMIT ?");
  if (!stmt.ok()) return stmt.error();
  stmt->bind(1, static_cast<int64_t>(limit));
  std::vector<AuditEntry> out;
  for (;;) {
    auto row = stmt->step();
    if (!row.ok()) return row.error();
    if (!*row) break;
    out.push_back(AuditEntry{stmt->col_int(0), stmt->col_int(1), stmt->col_text(2), stmt->col_text(3),
                             stmt->col_text(4)});
  }
  std::reverse(out.begin(), out.end());
  return out;
}

} // namespace lpm::directory
