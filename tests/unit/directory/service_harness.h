// A directory service on a real loop for the service tests: TLS on 127.0.0.1, clients with their
// own identities (SyncClient on the same loop), every op through the real RPC layer.
#pragma once

#include <catch2/catch.hpp>

#include <uv.h>

#include <set>
#include <string>
#include <vector>

#include "directory_folder.h"
#include "directory_service.h"
#include "directory_store.h"
#include "lpm/ids.h"
#include "lpm/protocol/ops.h"
#include "lpm/protocol/rpc.h"
#include "lpm/protocol/ticket.h"
#include "transport_support.h"

namespace lpm::directory::test {

using lpm::test::TempDir;
using lpm::test::TestLoop;
using proto::EnrollKind;
using proto::SyncClient;

// Remembers nonces in memory: enough to see that a ticket opens once.
class TestNonceStore final : public proto::NonceStore {
public:
  Result<bool> consume(std::span<const uint8_t> nonce, int64_t) override {
    return seen_.insert(proto::Bytes(nonce.begin(), nonce.end())).second;
  }

private:
  std::set<proto::Bytes> seen_;
};

// Sends a typed request and reads the typed result (or returns the error).
template <class Out, class In> Result<Out> rpc(SyncClient &client, const char *op, const In &in) {
  proto::MapWriter w;
  in.write(w);
  auto response = client.call(op, w, 5000);
  if (!response.ok()) return response.error();
  Out out;
  proto::MapReader reader = response->reader();
  out.read(reader);
  if (!reader.ok()) return reader.error();
  return out;
}

// A directory serving on 127.0.0.1:0 from a fresh data folder, plus an administrator's own
// connection to its database (what the command line would use while the service runs).
class Harness {
public:
  Harness() {
    std::string data = dir_.path + "/directory";
    REQUIRE(folder_init(data).ok());
    auto keys = folder_load_keys(data);
    REQUIRE(keys.ok());
    auto store = folder_open_store(data);
    REQUIRE(store.ok());
    auto admin = folder_open_store(data);
    REQUIRE(admin.ok());
    admin_ = std::move(*admin);
    service_ = std::make_unique<DirectoryService>(&loop_.loop, std::move(*keys), std::move(*store));
    auto port = service_->listen(proto::Endpoint{"127.0.0.1", 0});
    REQUIRE(port.ok());
    REQUIRE(*port != 0);
    port_ = *port;
  }

  DirectoryStore &admin() { return *admin_; }
  DirectoryService &service() { return *service_; }
  uint16_t port() const { return port_; }
  uv_loop_t *loop() { return &loop_.loop; }
  const proto::Bytes &session_public_der() { return service_->session_public_der(); }

  std::shared_ptr<proto::Identity> identity(const std::string &name) {
    return lpm::test::make_identity(dir_.path + "/" + name, "identity");
  }
  // The identity `name` made before (its keys, to check what the directory certified).
  std::shared_ptr<proto::Identity> identity_of(const std::string &name) {
    auto id = proto::Identity::load(dir_.path + "/" + name, "identity");
    REQUIRE(id.ok());
    return *id;
  }

  // Connects with `identity` (null: no client certificate), pinning the directory's key.
  Result<SyncClient *> try_connect(std::shared_ptr<proto::Identity> identity, const char *role) {
    auto ctx = proto::TlsContext::create(proto::TlsContext::Side::client, std::move(identity));
    REQUIRE(ctx.ok());
    proto::ConnectOptions options;
    options.pins = {service_->fingerprint()};
    auto client =
        SyncClient::connect_tls(&loop_.loop, *ctx, proto::Endpoint{"127.0.0.1", port_}, options, role, 5000);
    if (!client.ok()) return client.error();
    clients_.push_back(std::move(*client));
    return clients_.back().get();
  }
  SyncClient &connect(std::shared_ptr<proto::Identity> identity, const char *role) {
    auto client = try_connect(std::move(identity), role);
    REQUIRE(client.ok());
    return **client;
  }

  std::string token(EnrollKind kind, int64_t uses = 1, int64_t ttl_ms = 3600 * 1000) {
    auto t = admin_->token_create(kind, uses, wall_ms() + ttl_ms, wall_ms(), "test");
    INFO((t.ok() ? std::string() : t.error().to_string()));
    REQUIRE(t.ok());
    return *t;
  }

  Result<proto::EnrollResult> enroll(SyncClient &client, EnrollKind kind, const std::string &token,
                                     const std::string &name = "test") {
    proto::EnrollRequest req;
    req.token = token;
    req.kind = kind;
    req.name = name;
    return rpc<proto::EnrollResult>(client, proto::op::enroll, req);
  }

  // Enrolls a new key of `kind` and returns its connection and id.
  std::pair<SyncClient *, std::string> enrolled(const std::string &name, EnrollKind kind, const char *role) {
    SyncClient &client = connect(identity(name), role);
    auto result = enroll(client, kind, token(kind), name);
    REQUIRE(result.ok());
    return {&client, result->id};
  }

  // Closes every client, stops the service, runs the loop dry (under the watchdog) and closes it.
  void finish() {
    clients_.clear();
    service_->stop();
    service_.reset();
    loop_.run();
    loop_.finish();
  }

private:
  // Destroyed in reverse: clients, then the service, then the loop (abandoned after a failure).
  TempDir dir_;
  TestLoop loop_;
  std::unique_ptr<DirectoryStore> admin_;
  std::unique_ptr<DirectoryService> service_;
  std::vector<std::unique_ptr<SyncClient>> clients_;
  uint16_t port_ = 0;
};

} // namespace lpm::directory::test
