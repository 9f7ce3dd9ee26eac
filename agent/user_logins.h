// Logins on this workstation (`lpm login`, DESIGN §3): for each OS account that logged in, the
// directory user it is bound to, the login's refresh token and the latest session token. Kept in
// state.db (0600, the agent's account), so a restarted agent keeps its users logged in.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "lpm/error.h"
#include "lpm/sqlite.h"

namespace lpm::agent {

struct UserLogin {
  std::string os_account;
  std::string user; // directory UUID
  std::string email;
  std::string display_name;
  std::string refresh_token;
  int64_t refresh_expires_ms = 0;
  std::string session; // text form (lpm/protocol/session.h)
  int64_t session_expires_ms = 0;
  int64_t logged_in_ms = 0;
};

// OS accounts bound to directory users by a login, consulted after configuration.xml's
// IdentityBinding (identity_binding.h). Changed on the loop thread only.
class LoginBindings {
public:
  std::optional<std::string> user_for(const std::string &account) const;
  void set(const std::string &account, const std::string &user) { users_[account] = user; }
  void remove(const std::string &account) { users_.erase(account); }

private:
  std::map<std::string, std::string> users_;
};

class LoginStore {
public:
  // Creates the logins table when missing.
  static Result<std::unique_ptr<LoginStore>> open(std::shared_ptr<Db> db);
  // Replaces the account's login.
  Status put(const UserLogin &login);
  // not_found when the account is not logged in.
  Result<UserLogin> get(const std::string &os_account);
  Status remove(const std::string &os_account);
  Result<std::vector<UserLogin>> all();

private:
  explicit LoginStore(std::shared_ptr<Db> db) : db_(std::move(db)) {}
  std::shared_ptr<Db> db_;
};

} // namespace lpm::agent
