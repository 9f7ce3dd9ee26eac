#include "directory_proxy.h"

#include <algorithm>
#include <cstring>
#include <span>

#include "call_io.h"
#include "directory_client.h"
#include "lpm/ids.h"
#include "lpm/log.h"
#include "lpm/protocol/ops_admin.h"

namespace lpm::agent {
namespace {

// Streams a string (a relayed upload).
class StringSource final : public proto::ChunkSource {
public:
  explicit StringSource(std::shared_ptr<std::string> data) : data_(std::move(data)) {}
  Result<size_t> read(uint8_t *out, size_t max) override {
    size_t n = std::min(max, data_->size() - at_);
    std::memcpy(out, data_->data() + at_, n);
    at_ += n;
    return n;
  }

private:
  std::shared_ptr<std::string> data_;
  size_t at_ = 0;
};

// Collects an upload from `lpm`, up to a cap.
class StringSink final : public proto::ChunkSink {
public:
  explicit StringSink(std::shared_ptr<std::string> data) : data_(std::move(data)) {}
  Status write(std::span<const uint8_t> data) override {
    if (data_->size() + data.size() > kMaxRelayedUploadBytes)
      return make_error(Errc::too_large, "the file is over 1,048,576 bytes (1 MB), the most the directory takes");
    data_->append(reinterpret_cast<const char *>(data.data()), data.size());
    return {};
  }
  Status finish(std::span<const uint8_t>, uint64_t) override { return {}; }

private:
  std::shared_ptr<std::string> data_;
};

bool listed(std::span<const char *const> ops, const std::string &op) {
  return std::any_of(ops.begin(), ops.end(), [&](const char *o) { return op == o; });
}

} // namespace

std::shared_ptr<DirectoryProxy> DirectoryProxy::create(uv_loop_t *loop, std::shared_ptr<proto::TlsContext> client_ctx,
                                                       const packaging::ServiceConfig &directory,
                                                       std::shared_ptr<LoginStore> logins,
                                                       std::shared_ptr<LoginBindings> bindings) {
  return std::make_shared<DirectoryProxy>(loop, std::move(client_ctx), directory, std::move(logins),
                                          std::move(bindings));
}

DirectoryProxy::DirectoryProxy(uv_loop_t *loop, std::shared_ptr<proto::TlsContext> client_ctx,
                               const packaging::ServiceConfig &directory, std::shared_ptr<LoginStore> logins,
                               std::shared_ptr<LoginBindings> bindings)
    : logins_(std::move(logins)), bindings_(std::move(bindings)),
      directory_(OnDemandLink::create(loop, std::move(client_ctx),
                                      service_link_options("directory", directory, proto::role::directory),
                                      kDirectoryWaitMs)) {}

Status DirectoryProxy::load() {
  auto all = logins_->all();
  if (!all.ok()) return all.error();
  for (const auto &l : *all)
    bindings_->set(l.os_account, l.user);
  if (!all->empty()) LPM_INFO("%zu OS account(s) logged in with the directory", all->size());
  return {};
}

void DirectoryProxy::stop() {
  directory_->stop();
}

void DirectoryProxy::with_directory(PeerFn fn) {
  directory_->with_peer(std::move(fn));
}

void DirectoryProxy::session_for(const std::string &account, SessionFn fn) {
  std::weak_ptr<DirectoryProxy> weak = weak_from_this();
  with_directory([weak, account, fn = std::move(fn)](Result<proto::PeerPtr> peer) {
    auto me = weak.lock();
    if (!me) return fn(make_error(Errc::unavailable, "the agent is stopping"));
    if (!peer.ok()) return fn(peer.error());
    me->with_session(*peer, account, fn);
  });
}

void DirectoryProxy::login(const proto::CallPtr &call, const std::string &account) {
  auto request = read_args<proto::AgentLoginRequest>(call);
  if (!request) return;
  proto::LoginRequest req;
  req.email = request->email;
  req.password = request->password;
  req.os_account = account;
  std::weak_ptr<DirectoryProxy> weak = weak_from_this();
  with_directory([weak, call, req, account](Result<proto::PeerPtr> peer) {
    if (!peer.ok()) return call->fail(peer.error());
    proto::MapWriter w;
    req.write(w);
    (*peer)->call(proto::op::login, w, [weak, call, account](Result<proto::Response> answer) {
      auto me = weak.lock();
      if (!me) return call->fail(Errc::unavailable, "the agent is stopping");
      if (!answer.ok()) return call->fail(answer.error());
      proto::SessionGrant grant;
      auto reader = answer->reader();
      grant.read(reader);
      if (!reader.ok()) return call->fail(reader.error());
      // A new login replaces the account's previous one (its refresh token is simply dropped
      // here; it expires unused at the directory).
      UserLogin login;
      login.os_account = account;
      login.user = grant.user;
      login.email = grant.email;
      login.display_name = grant.display_name;
      login.refresh_token = grant.refresh_token;
      login.refresh_expires_ms = grant.refresh_expires_ms;
      login.session = grant.session;
      login.session_expires_ms = grant.session_expires_ms;
      login.logged_in_ms = wall_ms();
      Status s = me->logins_->put(login);
      if (!s.ok()) return call->fail(s.error());
      me->bindings_->set(account, grant.user);
      LPM_INFO("OS account %s logged in as %s (%s)", account.c_str(), grant.email.c_str(), grant.user.c_str());
      proto::AgentLoginResult result;
      result.user = grant.user;
      result.email = grant.email;
      result.display_name = grant.display_name;
      result.os_account = account;
      result.roles = grant.roles;
      reply_with(call, result);
    });
  });
}

void DirectoryProxy::logout(const proto::CallPtr &call, const std::string &account) {
  auto login = logins_->get(account);
  if (!login.ok()) return call->fail(login.error());
  // Forgotten here first: logging out must work even when the directory cannot be reached.
  Status s = logins_->remove(account);
  if (!s.ok()) return call->fail(s.error());
  bindings_->remove(account);
  LPM_INFO("OS account %s logged out (%s)", account.c_str(), login->email.c_str());
  std::string refresh = login->refresh_token;
  with_directory([refresh](Result<proto::PeerPtr> peer) {
    if (!peer.ok()) return; // the refresh token expires unused at the directory
    proto::RefreshRequest req;
    req.refresh_token = refresh;
    proto::MapWriter w;
    req.write(w);
    (*peer)->call(proto::op::logout, w, [](Result<proto::Response>) {});
  });
  call->reply(proto::MapWriter());
}

void DirectoryProxy::with_session(const proto::PeerPtr &peer, const std::string &account, SessionFn fn) {
  auto login = logins_->get(account);
  if (!login.ok()) {
    if (login.error().code == Errc::not_found)
      return fn(make_error(Errc::unauthenticated, "you are not logged in on this workstation: run `lpm login`"));
    return fn(login.error());
  }
  if (login->session_expires_ms - wall_ms() > kSessionRefreshMarginMs) return fn(login->session);
  proto::RefreshRequest req;
  req.refresh_token = login->refresh_token;
  proto::MapWriter w;
  req.write(w);
  std::weak_ptr<DirectoryProxy> weak = weak_from_this();
  UserLogin current = *login;
  peer->call(proto::op::refresh_session, w, [weak, current, fn](Result<proto::Response> answer) {
    auto me = weak.lock();
    if (!me) return fn(make_error(Errc::unavailable, "the agent is stopping"));
    if (!answer.ok()) {
      if (answer.error().code == Errc::unauthenticated || answer.error().code == Errc::expired) {
        // The directory ended this login (expired, logged out elsewhere, user deleted).
        (void)me->logins_->remove(current.os_account);
        me->bindings_->remove(current.os_account);
        return fn(make_error(Errc::unauthenticated,
                             "your login has ended (" + answer.error().message + "): run `lpm login`"));
      }
      return fn(answer.error());
    }
    proto::SessionGrant grant;
    auto reader = answer->reader();
    grant.read(reader);
    if (!reader.ok()) return fn(reader.error());
    UserLogin updated = current;
    updated.refresh_token = grant.refresh_token;
    updated.refresh_expires_ms = grant.refresh_expires_ms;
    updated.session = grant.session;
    updated.session_expires_ms = grant.session_expires_ms;
    Status s = me->logins_->put(updated);
    if (!s.ok()) return fn(s.error());
    fn(grant.session);
  });
}

void DirectoryProxy::relay(const proto::CallPtr &call, const std::string &account, std::string op,
                           const msgpack::object *args, std::shared_ptr<std::string> upload) {
  // Copied now: the request's memory belongs to the call.
  proto::MapWriter base;
  base.pairs_of(*args, "session");
  std::weak_ptr<DirectoryProxy> weak = weak_from_this();
  with_directory([weak, call, account, op, base, upload](Result<proto::PeerPtr> peer) {
    auto me = weak.lock();
    if (!me) return call->fail(Errc::unavailable, "the agent is stopping");
    if (!peer.ok()) return call->fail(peer.error());
    proto::PeerPtr to = *peer;
    // An op the request itself authorises (a password link) goes as it came: whoever runs it
    // has no login yet, and a session of another user must not ride along.
    if (!upload && listed(proto::kPersonOpsWithoutSession, op))
      return to->call(op, base, [call](Result<proto::Response> answer) { reply_relayed(call, std::move(answer)); });
    me->with_session(to, account, [call, op, base, upload, to](Result<std::string> session) {
      if (!session.ok()) return call->fail(session.error());
      proto::MapWriter w = base;
      w.str("session", *session);
      auto done = [call](Result<proto::Response> answer) { reply_relayed(call, std::move(answer)); };
      if (upload)
        to->call_upload(op, w, std::make_unique<StringSource>(upload), done);
      else
        to->call(op, w, done);
    });
  });
}

void DirectoryProxy::forward(const proto::CallPtr &call, const std::string &account) {
  auto request = read_args<proto::ForwardRequest>(call);
  if (!request) return;
  if (!listed(proto::kPersonOps, request->op))
    return call->fail(Errc::bad_request, "\"" + request->op + "\" is not an op the agent relays to the directory");
  const msgpack::object *args = call->args().find("args");
  if (!args || args->type != msgpack::type::MAP) return call->fail(Errc::bad_request, "args.args must be a map");
  relay(call, account, request->op, args, nullptr);
}

void DirectoryProxy::forward_upload(const proto::CallPtr &call, const std::string &account) {
  auto request = read_args<proto::ForwardRequest>(call);
  if (!request) return;
  if (!listed(proto::kPersonUploadOps, request->op))
    return call->fail(Errc::bad_request,
                      "\"" + request->op + "\" is not an upload the agent relays to the directory");
  if (request->size > kMaxRelayedUploadBytes)
    return call->fail(Errc::too_large, "the file has " + std::to_string(request->size) +
                                           " bytes; the directory takes at most 1,048,576 (1 MB)");
  const msgpack::object *args = call->args().find("args");
  if (!args || args->type != msgpack::type::MAP) return call->fail(Errc::bad_request, "args.args must be a map");
  auto content = std::make_shared<std::string>();
  std::weak_ptr<DirectoryProxy> weak = weak_from_this();
  std::string op = request->op;
  call->receive_stream(std::make_unique<StringSink>(content),
                       [weak, account, op, content](proto::CallPtr done, Status s) {
                         if (!s.ok()) return; // the RPC layer answers with the error
                         auto me = weak.lock();
                         if (!me) return done->fail(Errc::unavailable, "the agent is stopping");
                         const msgpack::object *inner = done->args().find("args");
                         me->relay(done, account, op, inner, content);
                       });
}

} // namespace lpm::agent
