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

namespace lpm::directory {

Result<bool> DirectoryStore::workstation_user_remove(std::string_view workstation_id, std::string_view user_id,
                                                     std::string_view how) {
  Status s = require_transaction("workstation_user_remove");
  if (!s.ok()) return s.error();
  auto stmt = db_->prepare("DELETE FROM workstation_users WHERE workstation_id = ? AND user_id = ? AND how = ?");
  if (!stmt.ok()) return stmt.error();
  s = stmt->bind(1, workstation_id).bind(2, user_id).bind(3, how).run();
  if (!s.ok()) return s.error();
  bool removed = db_->changes() > 0;
  // Jobs held there for a user no longer bound stop leading to this workstation at once.
  auto left = db_->prepare("SELECT 1 FROM workstation_users WHERE workstation_id = ? AND user_id = ?");
  if (!left.ok()) return left.error();
  left->bind(1, workstation_id).bind(2, user_id);
  auto row = left->step();
  if (!row.ok()) return row.error();
  if (!*row) {
    auto drop = db_->prepare("DELETE FROM holdings WHERE workstation_id = ? AND user_id = ?");
    if (!drop.ok()) return drop.error();
    left->reset();
    s = drop->bind(1, workstation_id).bind(2, user_id).run();
    if (!s.ok()) return s.error();
  }
  return removed;
}

Result<std::vector<WorkstationInfo>> DirectoryStore::workstations_list() {
  auto stmt = db_->prepare(
      "SELECT e.id, e.name, coalesce(w.seen_address, ''), coalesce(w.last_seen_ms, 0), "
      "coalesce((SELECT sum(h.jobs) FROM holdings h WHERE h.workstation_id = e.id), 0) "
      "FROM enrolled e LEFT JOIN workstations w ON w.id = e.id "
      "WHERE e.kind = 'workstation' AND e.revoked = 0 ORDER BY coalesce(w.last_seen_ms, 0) DESC, e.id");
  if (!stmt.ok()) return stmt.error();
  auto users = db_->prepare("SELECT u.email, wu.how FROM workstation_users wu JOIN users u ON u.id = wu.user_id "
                            "WHERE wu.workstation_id = ? ORDER BY u.email, wu.how");
  if (!users.ok()) return users.error();
  std::vector<WorkstationInfo> out;
  for (;;) {
    auto row = stmt->step();
    if (!row.ok()) return row.error();
    if (!*row) break;
    WorkstationInfo w;
    w.id = stmt->col_text(0);
    w.name = stmt->col_text(1);
    w.seen_address = stmt->col_text(2);
    w.last_seen_ms = stmt->col_int(3);
    w.held_jobs = static_cast<uint64_t>(stmt->col_int(4));
    users->bind(1, w.id);
    for (;;) {
      auto u = users->step();
      if (!u.ok()) return u.error();
      if (!*u) break;
      w.bound_users.push_back(users->col_text(0) + " (" + users->col_text(1) + ")");
    }
    users->reset();
    out.push_back(std::move(w));
  }
  return out;
}

} // namespace lpm::directory

namespace lpm::directory {

Result<int64_t> DirectoryStore::command_queue(std::string_view kind, std::string_view user_id,
                                              std::string_view job_id, std::string_view actor, int64_t now_ms) {
  Status s = require_transaction("command_queue");
  if (!s.ok()) return s.error();
  if (kind != "delete-job" && kind != "purge-user")
    return make_error(Errc::bad_request, "unknown agent command \"" + std::string(kind) + "\"");
  if (kind == "delete-job" && job_id.empty()) return make_error(Errc::bad_request, "delete-job names a job");
  // Where the user's jobs are or may be: live or stale holdings, logins and bindings.
  auto where = db_->prepare("SELECT workstation_id FROM holdings WHERE user_id = ?1 UNION "
                            "SELECT workstation_id FROM workstation_users WHERE user_id = ?1");
  if (!where.ok()) return where.error();
  where->bind(1, user_id);
  std::vector<std::string> workstations;
  for (;;) {
    auto row = where->step();
    if (!row.ok()) return row.error();
    if (!*row) break;
    workstations.push_back(where->col_text(0));
  }
  auto insert = db_->prepare("INSERT INTO agent_commands(id, workstation_id, kind, user_id, job_id, actor, created_ms) "
                             "VALUES (?, ?, ?, ?, ?, ?, ?)");
  if (!insert.ok()) return insert.error();
  for (const auto &ws : workstations) {
    s = insert->bind(1, uuid_v7())
            .bind(2, ws)
            .bind(3, kind)
            .bind(4, user_id)
            .bind(5, job_id)
            .bind(6, actor)
            .bind(7, now_ms)
            .run();
    if (!s.ok()) return s.error();
  }
  return static_cast<int64_t>(workstations.size());
}

Result<std::vector<proto::AgentCommand>> DirectoryStore::commands_for(std::string_view workstation_id) {
  auto stmt = db_->prepare("SELECT id, kind, user_id, job_id FROM agent_commands WHERE workstation_id = ? "
                           "ORDER BY id LIMIT ?");
  if (!stmt.ok()) return stmt.error();
  stmt->bind(1, workstation_id).bind(2, static_cast<int64_t>(proto::kMaxCommandsPerReply));
  std::vector<proto::AgentCommand> out;
  for (;;) {
    auto row = stmt->step();
    if (!row.ok()) return row.error();
    if (!*row) break;
    out.push_back(proto::AgentCommand{stmt->col_text(0), stmt->col_text(1), stmt->col_text(2), stmt->col_text(3)});
  }
  return out;
}

Status DirectoryStore::commands_done(std::string_view workstation_id, const std::vector<std::string> &ids) {
  Status s = require_transaction("commands_done");
  if (!s.ok()) return s;
  auto stmt = db_->prepare("DELETE FROM agent_commands WHERE id = ? AND workstation_id = ?");
  if (!stmt.ok()) return stmt.error();
  for (const auto &id : ids) {
    s = stmt->bind(1, id).bind(2, workstation_id).run();
    if (!s.ok()) return s;
  }
  return {};
}

} // namespace lpm::directory
