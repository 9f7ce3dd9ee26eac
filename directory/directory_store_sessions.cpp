// DirectoryStore: login sessions (refresh tokens) and which users a workstation may hold jobs for.
#include "directory_store.h"
#include "directory_store_private.h"
#include "lpm/ids.h"

namespace lpm::directory {
namespace {

constexpr size_t kRefreshTokenBytes = 32; // 64 hex characters
constexpr const char *kSessionColumns =
    "SELECT id, user_id, enrolled_id, os_account, created_ms, refreshed_ms, expires_ms FROM sessions ";

LoginSession session_from_row(const Stmt &stmt) {
  LoginSession s;
  s.id = stmt.col_text(0);
  s.user_id = stmt.col_text(1);
  s.enrolled_id = stmt.col_text(2);
  s.os_account = stmt.col_text(3);
  s.created_ms = stmt.col_int(4);
  s.refreshed_ms = stmt.col_int(5);
  s.expires_ms = stmt.col_int(6);
  return s;
}

std::string new_refresh_token() {
  uint8_t raw[kRefreshTokenBytes];
  random_bytes(raw, sizeof raw);
  return to_hex(raw);
}

Result<LoginSession> session_where(Db &db, const char *where, std::string_view key) {
  auto stmt = db.prepare(std::string(kSessionColumns) + where);
  if (!stmt.ok()) return stmt.error();
  stmt->bind(1, key);
  auto row = stmt->step();
  if (!row.ok()) return row.error();
  if (!*row) return make_error(Errc::not_found, "no such login");
  return session_from_row(*stmt);
}

} // namespace

Result<std::string> DirectoryStore::session_open(std::string_view user_id, std::string_view enrolled_id,
                                                 std::string_view os_account, int64_t now_ms, LoginSession &out) {
  Status s = require_transaction("session_open");
  if (!s.ok()) return s.error();
  std::string token = new_refresh_token();
  out = LoginSession{uuid_v7(), std::string(user_id), std::string(enrolled_id), std::string(os_account),
                     now_ms,    now_ms,                now_ms + kRefreshLifetimeMs};
  auto insert = db_->prepare("INSERT INTO sessions(id, user_id, enrolled_id, os_account, refresh_hash, created_ms, "
                             "refreshed_ms, expires_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
  if (!insert.ok()) return insert.error();
  s = insert->bind(1, out.id)
          .bind(2, out.user_id)
          .bind(3, out.enrolled_id)
          .bind(4, out.os_account)
          .bind(5, token_hash(token))
          .bind(6, now_ms)
          .bind(7, now_ms)
          .bind(8, out.expires_ms)
          .run();
  if (!s.ok()) return s.error();
  return token;
}

Result<std::string> DirectoryStore::session_refresh(std::string_view refresh_token, std::string_view enrolled_id,
                                                    int64_t now_ms, LoginSession &out) {
  Status s = require_transaction("session_refresh");
  if (!s.ok()) return s.error();
  auto found = session_where(*db_, "WHERE refresh_hash = ?", token_hash(refresh_token));
  if (!found.ok()) {
    if (found.error().code == Errc::not_found)
      return make_error(Errc::unauthenticated, "unknown or already used refresh token: log in again");
    return found.error();
  }
  // A token copied to another machine is useless there: it names the machine it was issued to.
  if (found->enrolled_id != enrolled_id)
    return make_error(Errc::unauthenticated, "this refresh token belongs to another machine: log in again");
  if (found->expires_ms <= now_ms) {
    s = store_detail::run_with(*db_, "DELETE FROM sessions WHERE id = ?", found->id);
    if (!s.ok()) return s.error();
    return make_error(Errc::expired, "the login has expired: log in again");
  }
  std::string token = new_refresh_token();
  auto update =
      db_->prepare("UPDATE sessions SET refresh_hash = ?, refreshed_ms = ?, expires_ms = ? WHERE id = ?");
  if (!update.ok()) return update.error();
  s = update->bind(1, token_hash(token)).bind(2, now_ms).bind(3, now_ms + kRefreshLifetimeMs).bind(4, found->id).run();
  if (!s.ok()) return s.error();
  out = *found;
  out.refreshed_ms = now_ms;
  out.expires_ms = now_ms + kRefreshLifetimeMs;
  return token;
}

Result<LoginSession> DirectoryStore::session_close(std::string_view refresh_token) {
  Status s = require_transaction("session_close");
  if (!s.ok()) return s.error();
  auto found = session_where(*db_, "WHERE refresh_hash = ?", token_hash(refresh_token));
  if (!found.ok()) return found.error();
  s = store_detail::run_with(*db_, "DELETE FROM sessions WHERE id = ?", found->id);
  if (!s.ok()) return s.error();
  return found;
}

Result<LoginSession> DirectoryStore::session_get(std::string_view id) {
  return session_where(*db_, "WHERE id = ?", id);
}

Status DirectoryStore::workstation_user_add(std::string_view workstation_id, std::string_view user_id,
                                            std::string_view how, int64_t now_ms) {
  Status s = require_transaction("workstation_user_add");
  if (!s.ok()) return s;
  auto stmt = db_->prepare("INSERT INTO workstation_users(workstation_id, user_id, how, since_ms) VALUES (?, ?, ?, ?) "
                           "ON CONFLICT(workstation_id, user_id, how) DO NOTHING");
  if (!stmt.ok()) return stmt.error();
  return stmt->bind(1, workstation_id).bind(2, user_id).bind(3, how).bind(4, now_ms).run();
}

} // namespace lpm::directory
