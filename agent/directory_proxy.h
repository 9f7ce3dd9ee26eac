// `lpm login` and the directory's person ops through the agent (DESIGN §3): the agent logs a
// local user in with the directory over its own enrolled TLS identity, keeps the login's refresh
// token for that OS account (user_logins.h), binds the account to the directory user, and relays
// the person ops `lpm` sends (users-list, import-start, ...) with a fresh session token added.
// Only the ops in proto::kPersonOps / kPersonUploadOps are relayed: a local user can never make
// the agent send the workstation's own ops (register, enroll, ...). The directory checks the
// session and the person's roles on every op; those of kPersonOpsWithoutSession (a password
// link's use) go without a session, and need no login here.
//
// Everything runs on the loop thread. The link to the directory is opened on demand
// (on_demand_link.h); a request that finds it down waits up to kDirectoryWaitMs for it.
#pragma once

#include <uv.h>

#include <deque>
#include <functional>
#include <memory>
#include <string>

#include "lpm/packaging/configuration.h"
#include "lpm/protocol/loop_timer.h"
#include "lpm/protocol/ops_admin.h"
#include "lpm/protocol/rpc.h"
#include "on_demand_link.h"
#include "service_link.h"
#include "user_logins.h"

namespace lpm::agent {

inline constexpr uint64_t kDirectoryWaitMs = 10 * 1000;
// A session token this close to its expiry is refreshed before it is used.
inline constexpr int64_t kSessionRefreshMarginMs = 60 * 1000;
// The largest upload relayed (an import file, UA-10).
inline constexpr uint64_t kMaxRelayedUploadBytes = proto::kMaxImportFileBytes;

class DirectoryProxy : public std::enable_shared_from_this<DirectoryProxy> {
public:
  static std::shared_ptr<DirectoryProxy> create(uv_loop_t *loop, std::shared_ptr<proto::TlsContext> client_ctx,
                                                const packaging::ServiceConfig &directory,
                                                std::shared_ptr<LoginStore> logins,
                                                std::shared_ptr<LoginBindings> bindings);

  // Binds the accounts of the stored logins (at start-up).
  Status load();

  // The control socket ops, for the caller's OS account (from the socket's peer credentials).
  void login(const proto::CallPtr &call, const std::string &account);
  void logout(const proto::CallPtr &call, const std::string &account);
  void forward(const proto::CallPtr &call, const std::string &account);
  void forward_upload(const proto::CallPtr &call, const std::string &account);

  // A valid session token of the account's login (refreshed first when close to its expiry), for
  // a service other than the directory that checks it offline (report_relay.h); unauthenticated,
  // telling to run `lpm login`, without one.
  using SessionFn = std::function<void(Result<std::string>)>;
  void session_for(const std::string &account, SessionFn fn);

  // Fails what waits and closes the link.
  void stop();

  DirectoryProxy(uv_loop_t *loop, std::shared_ptr<proto::TlsContext> client_ctx,
                 const packaging::ServiceConfig &directory, std::shared_ptr<LoginStore> logins,
                 std::shared_ptr<LoginBindings> bindings);

  // The directory keys accepted from the next connection on (DESIGN §3: rotation).
  void set_pins(std::vector<proto::Fingerprint> pins) { directory_->link().set_pins(std::move(pins)); }

private:
  using PeerFn = OnDemandLink::PeerFn;
  // Runs fn with the directory connection, opening it if needed.
  void with_directory(PeerFn fn);
  // Runs fn with a valid session token for the account (refreshed first when it is close to
  // expiry); unauthenticated, telling to run `lpm login`, when the account has no usable login.
  void with_session(const proto::PeerPtr &peer, const std::string &account, SessionFn fn);
  // Sends op with args (the caller's map, plus the session) and answers the call with the
  // directory's result as it came; `upload` streams that content after the request.
  void relay(const proto::CallPtr &call, const std::string &account, std::string op, const msgpack::object *args,
             std::shared_ptr<std::string> upload);

  std::shared_ptr<LoginStore> logins_;
  std::shared_ptr<LoginBindings> bindings_;
  std::shared_ptr<OnDemandLink> directory_;
};

} // namespace lpm::agent
