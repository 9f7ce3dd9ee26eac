#include "user_logins.h"

namespace lpm::agent {
namespace {

constexpr const char *kColumns = "SELECT os_account, user, email, display_name, refresh_token, refresh_expires_ms, "
                                 "session, session_expires_ms, logged_in_ms FROM logins ";

UserLogin login_from_row(const Stmt &stmt) {
  UserLogin l;
  l.os_account = stmt.col_text(0);
  l.user = stmt.col_text(1);
  l.email = stmt.col_text(2);
  l.display_name = stmt.col_text(3);
  l.refresh_token = stmt.col_text(4);
  l.refresh_expires_ms = stmt.col_int(5);
  l.session = stmt.col_text(6);
  l.session_expires_ms = stmt.col_int(7);
  l.logged_in_ms = stmt.col_int(8);
  return l;
}

} // namespace

std::optional<std::string> LoginBindings::user_for(const std::string &account) const {
  auto it = users_.find(account);
  if (it == users_.end()) return std::nullopt;
  return it->second;
}

Result<std::unique_ptr<LoginStore>> LoginStore::open(std::shared_ptr<Db> db) {
  Status s = db->exec("CREATE TABLE IF NOT EXISTS logins("
                      "os_account TEXT PRIMARY KEY, user TEXT NOT NULL, email TEXT NOT NULL, "
                      "display_name TEXT NOT NULL, refresh_token TEXT NOT NULL, refresh_expires_ms INTEGER NOT NULL, "
                      "session TEXT NOT NULL, session_expires_ms INTEGER NOT NULL, logged_in_ms INTEGER NOT NULL)");
  if (!s.ok()) return s.error();
  return std::unique_ptr<LoginStore>(new LoginStore(std::move(db)));
}

Status LoginStore::put(const UserLogin &l) {
  auto stmt = db_->prepare("INSERT OR REPLACE INTO logins(os_account, user, email, display_name, refresh_token, "
                           "refresh_expires_ms, session, session_expires_ms, logged_in_ms) "
                           "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)");
  if (!stmt.ok()) return stmt.error();
  return stmt->bind(1, l.os_account)
      .bind(2, l.user)
      .bind(3, l.email)
      .bind(4, l.display_name)
      .bind(5, l.refresh_token)
      .bind(6, l.refresh_expires_ms)
      .bind(7, l.session)
      .bind(8, l.session_expires_ms)
      .bind(9, l.logged_in_ms)
      .run();
}

Result<UserLogin> LoginStore::get(const std::string &os_account) {
  auto stmt = db_->prepare(std::string(kColumns) + "WHERE os_account = ?");
  if (!stmt.ok()) return stmt.error();
  stmt->bind(1, os_account);
  auto row = stmt->step();
  if (!row.ok()) return row.error();
  if (!*row)
    return make_error(Errc::not_found, "OS account '" + os_account + "' is not logged in here: run `lpm login`");
  return login_from_row(*stmt);
}

Status LoginStore::remove(const std::string &os_account) {
  auto stmt = db_->prepare("DELETE FROM logins WHERE os_account = ?");
  if (!stmt.ok()) return stmt.error();
  return stmt->bind(1, os_account).run();
}

Result<std::vector<UserLogin>> LoginStore::all() {
  auto stmt = db_->prepare(std::string(kColumns) + "ORDER BY os_account");
  if (!stmt.ok()) return stmt.error();
  std::vector<UserLogin> out;
  for (;;) {
    auto row = stmt->step();
    if (!row.ok()) return row.error();
    if (!*row) break;
    out.push_back(login_from_row(*stmt));
  }
  return out;
}

} // namespace lpm::agent
