// The directory's ops for people over TLS: login, sessions, refresh and logout, and the
// administrative ops checked against effective roles (the role matrix), imports uploaded as a
// chunk stream and applied on the thread pool.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <thread>

#include "directory_import.h"
#include "import_mail.h"
#include "lpm/files.h"
#include "lpm/protocol/ops_admin.h"
#include "lpm/protocol/session.h"
#include "lpm/protocol/stream.h"
#include "passwords.h"
#include "people_fixture.h"
#include "roles.h"
#include "service_harness.h"

using namespace lpm;
using namespace lpm::directory;
using namespace lpm::directory::test;
using proto::EnrollKind;
using proto::SyncClient;

namespace {

const std::string kUsersCsv = std::string(kUserImportHeader) +
                              "\n"
                              "new1@example.com,CREATE,Correct-Horse-8,Ada,,,,Team A,,,\n"
                              "new2@example.com,CREATE,short,,,,,,,,\n";

} // namespace

TEST_CASE("directory people: login gives a signed session and a refresh token, wrong e-mail or password read the "
          "same (UA-4)",
          "[directory][people][UA-4]") {
  People p;
  User alice = p.user("alice@example.com");

  auto wrong = p.login(*p.ws, "alice@example.com", "not the password");
  REQUIRE_FALSE(wrong.ok());
  CHECK(wrong.error().code == Errc::unauthenticated);
  auto unknown = p.login(*p.ws, "nobody@example.com", kPassword);
  REQUIRE_FALSE(unknown.ok());
  CHECK(unknown.error().message == wrong.error().message);

  auto granted = p.login(*p.ws, "Alice@Example.com", kPassword);
  REQUIRE(granted.ok());
  CHECK(granted->user == alice.id);
  CHECK(granted->email == "alice@example.com");
  CHECK(granted->refresh_token.size() == 64);
  auto text = proto::session_from_text(granted->session);
  REQUIRE(text.ok());
  auto signer = proto::PublicKey::from_der(p.h.session_public_der());
  REQUIRE(signer.ok());
  std::vector<proto::PublicKey> trusted{*signer};
  auto session = proto::session_verify(*text, trusted, wall_ms());
  REQUIRE(session.ok());
  CHECK(session->user == alice.id);
  CHECK(session->expires_ms - session->issued_ms == proto::kSessionLifetimeMs);

  {
    // The login lets this workstation hold jobs for alice (DESIGN §4). (Scoped: a statement left
    // open would pin this connection's snapshot and block its later writes.)
    auto stmt = p.h.admin().db().prepare("SELECT count(*) FROM workstation_users WHERE workstation_id = ? AND "
                                         "user_id = ? AND how = 'login'");
    REQUIRE(stmt.ok());
    stmt->bind(1, p.ws_id).bind(2, alice.id);
    REQUIRE(*stmt->step());
    CHECK(stmt->col_int(0) == 1);
  }

  proto::SessionRequest who;
  who.session = granted->session;
  auto me = rpc<proto::WhoamiResult>(*p.ws, proto::op::whoami, who);
  REQUIRE(me.ok());
  CHECK(me->email == "alice@example.com");
  CHECK(me->roles.empty());

  SECTION("refresh rotates the refresh token") {
    proto::RefreshRequest refresh;
    refresh.refresh_token = granted->refresh_token;
    auto again = rpc<proto::SessionGrant>(*p.ws, proto::op::refresh_session, refresh);
    REQUIRE(again.ok());
    CHECK(again->refresh_token != granted->refresh_token);
    auto reused = rpc<proto::SessionGrant>(*p.ws, proto::op::refresh_session, refresh);
    REQUIRE_FALSE(reused.ok());
    CHECK(reused.error().code == Errc::unauthenticated);
    // From another machine the token is useless.
    auto [other, other_id] = p.h.enrolled("ws-2", EnrollKind::workstation, proto::role::agent);
    refresh.refresh_token = again->refresh_token;
    auto elsewhere = rpc<proto::SessionGrant>(*other, proto::op::refresh_session, refresh);
    REQUIRE_FALSE(elsewhere.ok());
    CHECK(elsewhere.error().code == Errc::unauthenticated);
  }
  SECTION("logout closes the login: its sessions stop working at once") {
    proto::RefreshRequest logout;
    logout.refresh_token = granted->refresh_token;
    REQUIRE(p.ws->call(proto::op::logout, [&] {
                   proto::MapWriter w;
                   logout.write(w);
                   return w;
                 }(),
                 5000)
                .ok());
    auto after = rpc<proto::WhoamiResult>(*p.ws, proto::op::whoami, who);
    REQUIRE_FALSE(after.ok());
    CHECK(after.error().code == Errc::unauthenticated);
  }
  SECTION("a printer key may not log in; nor a client without a certificate") {
    auto [printer, printer_id] = p.h.enrolled("printer-1", EnrollKind::printer, proto::role::printer);
    auto refused = p.login(*printer, "alice@example.com", kPassword);
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.error().code == Errc::forbidden);
    SyncClient &anonymous = p.h.connect(nullptr, proto::role::agent);
    auto nameless = p.login(anonymous, "alice@example.com", kPassword);
    REQUIRE_FALSE(nameless.ok());
    CHECK(nameless.error().code == Errc::unauthenticated);
  }
  p.h.finish();
}

TEST_CASE("directory people: an account with 5 failed logins in 15 minutes is refused with rate_limited, known "
          "or not, before any password is checked",
          "[directory][people]") {
  People p;
  p.user("alice@example.com");
  for (int i = 0; i < 5; i++) {
    auto wrong = p.login(*p.ws, "alice@example.com", "not it " + std::to_string(i));
    REQUIRE_FALSE(wrong.ok());
    CHECK(wrong.error().code == Errc::unauthenticated);
  }
  auto throttled = p.login(*p.ws, "Alice@Example.com", kPassword); // even the right password, any case
  REQUIRE_FALSE(throttled.ok());
  CHECK(throttled.error().code == Errc::rate_limited);
  CHECK(throttled.error().message.find("try again in 15 minutes") != std::string::npos);
  // An unknown e-mail is throttled the same way (no account enumeration).
  for (int i = 0; i < 5; i++)
    CHECK(p.login(*p.ws, "nobody@example.com", "x").error().code == Errc::unauthenticated);
  CHECK(p.login(*p.ws, "nobody@example.com", "x").error().code == Errc::rate_limited);
  // Other accounts are not affected; a success clears the account's count.
  p.user("bob@example.com");
  for (int i = 0; i < 4; i++)
    REQUIRE_FALSE(p.login(*p.ws, "bob@example.com", "nope").ok());
  REQUIRE(p.login(*p.ws, "bob@example.com", kPassword).ok());
  for (int i = 0; i < 4; i++)
    CHECK(p.login(*p.ws, "bob@example.com", "nope").error().code == Errc::unauthenticated);
  CHECK(p.login(*p.ws, "bob@example.com", kPassword).ok());
  auto audit = p.h.admin().audit_tail(100);
  REQUIRE(audit.ok());
  int throttled_rows = 0;
  for (const auto &e : *audit)
    throttled_rows += e.action == "login-throttled" ? 1 : 0;
  CHECK(throttled_rows == 2);
  p.h.finish();
}

TEST_CASE("directory people: the role matrix of the administrative ops, and no credentials (RL-1, RL-8, RL-9, "
          "RL-11, RL-12, RL-14, RL-15, AMB-14)",
          "[directory][people][RL-1][RL-8][RL-9][RL-11][RL-12][RL-14][RL-15][AMB-14]") {
  People p;
  struct Who {
    const char *email;
    std::initializer_list<Role> roles;
    bool users_read, users_write, badges_write;
  };
  const Who people[] = {
      {"user@example.com", {Role::prm_user}, false, false, false},
      {"helpdesk@example.com", {Role::prm_helpdesk}, true, false, false},
      {"spm-helpdesk@example.com", {Role::spm_helpdesk}, true, false, false},
      {"pm-admin@example.com", {Role::prm_administrator}, true, false, false},
      {"spm-admin@example.com", {Role::spm_administrator}, true, false, false},
      {"user-admin@example.com", {Role::user_administrator}, true, true, true},
      {"admin@example.com", {Role::enterprise_administrator}, true, true, true},
  };
  for (const Who &who : people) {
    INFO(who.email);
    p.user(who.email, who.roles);
    std::string session = p.session(who.email);
    auto listed = p.users(session);
    CHECK(listed.ok() == who.users_read);
    if (!listed.ok()) {
      CHECK(listed.error().code == Errc::forbidden);
      CHECK(listed.error().message.find("users-list needs one of these roles") != std::string::npos);
    }
    auto users_import = p.import(session, "users", std::string(kUserImportHeader) + "\n");
    CHECK(users_import.ok() == who.users_write);
    if (!users_import.ok()) CHECK(users_import.error().code == Errc::forbidden);
    auto badges_import = p.import(session, "badges", "BADGE,OPERATION,EMAIL\n");
    CHECK(badges_import.ok() == who.badges_write);
  }
  // No credentials: no session, or a forged one.
  for (const std::string &bad : {std::string(), std::string("not-a-session"), std::string(200, 'A')}) {
    auto listed = p.users(bad);
    REQUIRE_FALSE(listed.ok());
    CHECK(listed.error().code == Errc::unauthenticated);
    auto imported = p.import(bad, "users", std::string(kUserImportHeader) + "\n");
    REQUIRE_FALSE(imported.ok());
    CHECK(imported.error().code == Errc::unauthenticated);
  }
  // Roles are read at each op: a role granted after login counts at once (RL-1, group scope included).
  User late = p.user("late@example.com");
  std::string session = p.session("late@example.com");
  CHECK(p.users(session).error().code == Errc::forbidden);
  {
    auto tx = p.h.admin().begin();
    auto group = p.h.admin().group_create("Helpdesk Team", wall_ms());
    REQUIRE(group.ok());
    REQUIRE(*p.h.admin().group_member_add(group->id, late.id, wall_ms()));
    REQUIRE(role_grant(p.h.admin(), RoleScope::group, group->id, Role::prm_helpdesk, wall_ms()).ok());
    REQUIRE(tx.commit().ok());
  }
  CHECK(p.users(session).ok());
  p.h.finish();
}

TEST_CASE("directory people: an import uploaded as a chunk stream runs on and is followed with import-show "
          "(UA-7, UA-10, UA-24)",
          "[directory][people][UA-7][UA-10][UA-24]") {
  People p;
  p.user("admin@example.com", {Role::enterprise_administrator});
  std::string session = p.session("admin@example.com");

  auto started = p.import(session, "users", kUsersCsv);
  REQUIRE(started.ok());
  CHECK(started->records == 2);
  auto done = p.wait_done(session, started->import);
  CHECK(done.applied == 1);
  CHECK(done.failed == 1); // the password policy refuses "short"
  REQUIRE(done.log.size() == 2);
  CHECK(done.log[0].key == "new1@example.com");
  CHECK(done.log[0].result == "created");
  CHECK(done.log[1].reason.find("PASSWORD:") == 0);
  CHECK(done.actor.find("admin@example.com") != std::string::npos);

  // Paged log.
  auto first = p.show(session, started->import, 1);
  REQUIRE(first.ok());
  REQUIRE(first->log.size() == 1);
  CHECK(first->next == "2");
  auto second = p.show(session, started->import, 1, first->next);
  REQUIRE(second.ok());
  REQUIRE(second->log.size() == 1);
  CHECK(second->log[0].record == 3);
  CHECK(second->next.empty());

  // The imported user can log in with the imported password.
  CHECK(p.login(*p.ws, "new1@example.com", "Correct-Horse-8").ok());

  // Whole-file errors come back at once and record nothing; so does a file over 1 MB.
  auto bad = p.import(session, "users", "EMAIL,OPERATION\n");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().code == Errc::bad_request);
  auto big = p.import(session, "users", std::string(kMaxImportBytes + 1, '\n'));
  REQUIRE_FALSE(big.ok());
  CHECK(big.error().code == Errc::too_large);

  auto listed = p.users(session, 1);
  REQUIRE(listed.ok());
  REQUIRE(listed->users.size() == 1);
  CHECK(listed->users[0].email == "admin@example.com");
  CHECK(listed->next == "admin@example.com");
  p.h.finish();
}

TEST_CASE("directory people: with a mail command, a finished import's log is mailed to the administrator who "
          "started it (UA-24)",
          "[directory][people][UA-24]") {
  People p;
  TempDir out;
  p.h.service().set_mail_command("cat > '" + out.path + "/body'; printf '%s|%s' \"$LPM_MAIL_TO\" "
                                 "\"$LPM_MAIL_SUBJECT\" > '" + out.path + "/meta'");
  p.user("admin@example.com", {Role::enterprise_administrator});
  std::string session = p.session("admin@example.com");
  auto started = p.import(session, "users", kUsersCsv);
  REQUIRE(started.ok());
  p.wait_done(session, started->import);
  auto meta = [&] { return read_file(out.path + "/meta", 4096); };
  REQUIRE(proto::run_until(
      p.h.loop(), [&] { return meta().ok() && !meta()->empty(); }, 10000));
  CHECK(*meta() == "admin@example.com|Import " + started->import + " finished");
  auto body = read_file(out.path + "/body", 1 << 20);
  REQUIRE(body.ok());
  CHECK(body->find("2 records, 1 applied, 1 failed") != std::string::npos);
  CHECK(body->find("new1@example.com\tcreated") != std::string::npos);
  CHECK(body->find("PASSWORD:") != std::string::npos);
  p.h.finish();
}

TEST_CASE("import mail: the recipient is the person who started it, a failing command is an error with its "
          "status",
          "[directory][people][UA-24]") {
  CHECK(actor_email("user 0190a1b2-c3d4-7e5f-8a9b-00000000aaaa ann@example.com") == "ann@example.com");
  CHECK(actor_email("local root").empty());
  CHECK(actor_email("printer 123").empty());
  CHECK(run_mail_command("cat >/dev/null", "a@b.c", "s", "body", 5000).ok());
  Status failed = run_mail_command("cat >/dev/null; exit 3", "a@b.c", "s", "body", 5000);
  REQUIRE_FALSE(failed.ok());
  CHECK(failed.error().message.find("status 3") != std::string::npos);
  Status slow = run_mail_command("sleep 5", "a@b.c", "s", "", 200);
  REQUIRE_FALSE(slow.ok());
  CHECK(slow.error().message.find("did not finish") != std::string::npos);
}

TEST_CASE("directory people: an import left unfinished resumes when the service starts", "[directory][people]") {
  FastHashing fast;
  TempDir dir;
  std::string data = dir.path + "/directory";
  REQUIRE(folder_init(data).ok());
  std::string id;
  {
    auto store = folder_open_store(data);
    REQUIRE(store.ok());
    auto info = import_start(**store, ImportKind::users, "u.csv", kUsersCsv, {}, "test", wall_ms());
    REQUIRE(info.ok());
    id = info->id;
  }
  TestLoop loop;
  {
    auto keys = folder_load_keys(data);
    REQUIRE(keys.ok());
    auto store = folder_open_store(data);
    REQUIRE(store.ok());
    DirectoryService service(&loop.loop, std::move(*keys), std::move(*store));
    REQUIRE(service.listen(proto::Endpoint{"127.0.0.1", 0}).ok());
    auto admin = folder_open_store(data);
    REQUIRE(admin.ok());
    for (int i = 0; i < 500 && (*admin)->import_get(id)->state != "done"; i++) {
      uv_run(&loop.loop, UV_RUN_NOWAIT);
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    CHECK((*admin)->import_get(id)->state == "done");
    CHECK((*admin)->user_by_email("new1@example.com").ok());
    service.stop();
    loop.run();
  }
  loop.finish();
}
