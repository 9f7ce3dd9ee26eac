// The People fixture of the service tests for people's ops: a directory on a real loop, an
// enrolled workstation, users with passwords and roles, logins, and typed calls of the ops.
#pragma once

#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <initializer_list>
#include <thread>

#include "directory_import.h"
#include "lpm/protocol/ops_admin.h"
#include "lpm/protocol/session.h"
#include "passwords.h"
#include "roles.h"
#include "service_harness.h"

namespace lpm::directory::test {

const std::string kPassword = "Correct-Horse-7";
// The enterprise administrator the service tests sign in as.
const std::string kAdmin = "admin@example.com";

// Cheap Argon2 for these tests (the service's own hashing: decoy and imports).
struct FastHashing {
  FastHashing() { ::setenv(kFastPasswordHashingEnv, "1", 1); }
  ~FastHashing() { ::unsetenv(kFastPasswordHashingEnv); }
};

// Streams a string as an upload.
class StringSource final : public proto::ChunkSource {
public:
  explicit StringSource(std::string data) : data_(std::move(data)) {}
  Result<size_t> read(uint8_t *out, size_t max) override {
    size_t n = std::min(max, data_.size() - at_);
    std::copy_n(data_.data() + at_, n, out);
    at_ += n;
    return n;
  }

private:
  std::string data_;
  size_t at_ = 0;
};

struct People {
  FastHashing fast;
  Harness h;
  SyncClient *ws = nullptr;
  std::string ws_id;

  People() {
    auto [client, id] = h.enrolled("ws-1", EnrollKind::workstation, proto::role::agent);
    ws = client;
    ws_id = id;
  }

  // A user with a password and the given roles at user scope.
  User user(const std::string &email, std::initializer_list<Role> roles = {}) {
    auto u = h.admin().user_add(email, "", wall_ms(), "test");
    REQUIRE(u.ok());
    auto hash = password_hash(kPassword, Argon2Params{1, 64, 1});
    REQUIRE(hash.ok());
    auto tx = h.admin().begin();
    REQUIRE(h.admin().password_set(u->id, *hash, wall_ms()).ok());
    for (Role r : roles)
      REQUIRE(role_grant(h.admin(), RoleScope::user, u->id, r, wall_ms()).ok());
    REQUIRE(tx.commit().ok());
    return *u;
  }

  void grant(const User &u, Role role) {
    auto tx = h.admin().begin();
    REQUIRE(role_grant(h.admin(), RoleScope::user, u.id, role, wall_ms()).ok());
    REQUIRE(tx.commit().ok());
  }

  Result<proto::SessionGrant> login(SyncClient &client, const std::string &email,
                                    const std::string &password) {
    proto::LoginRequest req;
    req.email = email;
    req.password = password;
    req.os_account = "alice";
    return rpc<proto::SessionGrant>(client, proto::op::login, req);
  }
  std::string session(const std::string &email) {
    auto g = login(*ws, email, kPassword);
    REQUIRE(g.ok());
    return g->session;
  }

  Result<proto::ImportStartResult> import(const std::string &session, const std::string &kind,
                                          const std::string &content) {
    proto::ImportStartRequest req;
    req.session = session;
    req.kind = kind;
    req.file_name = kind + ".csv";
    req.size = content.size();
    proto::MapWriter w;
    req.write(w);
    auto response =
        ws->call_upload(proto::op::import_start, w, std::make_unique<StringSource>(content), 10000);
    if (!response.ok()) return response.error();
    proto::ImportStartResult out;
    auto reader = response->reader();
    out.read(reader);
    if (!reader.ok()) return reader.error();
    return out;
  }

  Result<proto::ImportShowResult> show(const std::string &session, const std::string &id,
                                       uint64_t limit = 100, const std::string &after = "") {
    proto::ImportShowRequest req;
    req.session = session;
    req.import = id;
    req.page.limit = limit;
    req.page.after = after;
    return rpc<proto::ImportShowResult>(*ws, proto::op::import_show, req);
  }

  // Polls import-show (the loop runs while each call waits) until the import is done.
  proto::ImportShowResult wait_done(const std::string &session, const std::string &id) {
    for (int i = 0; i < 500; i++) {
      auto shown = show(session, id);
      REQUIRE(shown.ok());
      if (shown->state == "done") return *shown;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    FAIL("import " << id << " did not finish");
    return {};
  }

  Result<proto::UsersListResult> users(const std::string &session, uint64_t limit = 100) {
    proto::UsersListRequest req;
    req.session = session;
    req.page.limit = limit;
    return rpc<proto::UsersListResult>(*ws, proto::op::users_list, req);
  }
};

} // namespace lpm::directory::test
