#include "identity_binding.h"

#include <pwd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

namespace lpm::agent {

Result<std::string> os_account_name(int64_t uid) {
  if (uid < 0) return make_error(Errc::not_found, "the peer's credentials are unknown");
  long suggested = ::sysconf(_SC_GETPW_R_SIZE_MAX);
  std::vector<char> buf(suggested > 0 ? static_cast<size_t>(suggested) : 16384);
  for (;;) {
    passwd entry{};
    passwd *found = nullptr;
    int rc = ::getpwuid_r(static_cast<uid_t>(uid), &entry, buf.data(), buf.size(), &found);
    if (rc == ERANGE && buf.size() < (1u << 20)) {
      buf.resize(buf.size() * 2);
      continue;
    }
    if (rc != 0)
      return make_error(Errc::io_error, "getpwuid_r(" + std::to_string(uid) + "): " + std::strerror(rc));
    if (!found) return make_error(Errc::not_found, "uid " + std::to_string(uid) + " has no OS account");
    return std::string(found->pw_name);
  }
}

Result<JobOwner> job_owner_for_uid(int64_t uid, const std::vector<packaging::IdentityBind> &bindings,
                                   const LoginBindings *logins) {
  auto account = os_account_name(uid);
  if (!account.ok()) return make_error(Errc::forbidden, account.error().message);
  return job_owner_for_account(*account, bindings, logins);
}

Result<JobOwner> job_owner_for_account(const std::string &account,
                                       const std::vector<packaging::IdentityBind> &bindings,
                                       const LoginBindings *logins) {
  for (const auto &b : bindings)
    if (b.account == account) return JobOwner{account, b.user};
  if (logins)
    if (auto user = logins->user_for(account)) return JobOwner{account, *user};
  return make_error(Errc::forbidden, "OS account '" + account +
                                         "' is not bound to a directory user: log in with `lpm login`, or add "
                                         "<Bind account=\"" +
                                         account + "\" user=\"UUID\"/> to IdentityBinding in configuration.xml");
}

} // namespace lpm::agent
