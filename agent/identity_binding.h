// Who owns a job submitted on the control socket: the OS account of the peer's uid, mapped to
// a directory user through configuration.xml's IdentityBinding (DESIGN §3). An account with no
// directory user is refused with a message telling the administrator what to add.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "lpm/error.h"
#include "lpm/packaging/configuration.h"
#include "user_logins.h"

namespace lpm::agent {

struct JobOwner {
  std::string account; // OS login name
  std::string user;    // directory user UUID
};

// The login name of a uid (getpwuid_r); not_found when the uid has no passwd entry.
Result<std::string> os_account_name(int64_t uid);

// forbidden when the uid is unknown or its account is not bound. `logins` (may be null): accounts
// bound by `lpm login`, consulted after the configured bindings (an administrator's binding wins).
Result<JobOwner> job_owner_for_uid(int64_t uid, const std::vector<packaging::IdentityBind> &bindings,
                                   const LoginBindings *logins = nullptr);

// The directory user bound to an OS account name (the IPP capture printer learns the account
// from requesting-user-name when the CUPS backend submits). forbidden when it is not bound.
Result<JobOwner> job_owner_for_account(const std::string &account,
                                       const std::vector<packaging::IdentityBind> &bindings,
                                       const LoginBindings *logins = nullptr);

} // namespace lpm::agent
