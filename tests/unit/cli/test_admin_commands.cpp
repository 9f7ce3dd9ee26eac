// The administrative commands (admin_commands.h): what they show (text, JSON, the audit CSV with
// its BOM, quoting and formula neutralising), the confirmation before deleting users, usage
// errors, and each command against a stand-in for the agent's control socket that answers the
// forwarded person ops from a script and records what it was sent. The commands against the
// real agent and directory are in tests/integration/login_admin.sh.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "pty_support.h"
#include "admin_commands.h"
#include "app.h"
#include "control_socket_server.h"
#include "lpm/files.h"
#include "lpm/protocol/ops_admin.h"
#include "lpm/protocol/rpc.h"
#include "run_lpm.h"
#include "transport_support.h"

using namespace lpm;
using namespace lpm::cli;
using lpm::test::Outcome;
using lpm::test::run_lpm;
using lpm::test::TempDir;

using lpm::cli::test::ChildGuard;
using lpm::cli::test::spawn_on_terminal;
using lpm::cli::test::Pty;
using lpm::cli::test::wait_child;

namespace {

// What the stand-in saw of one forwarded op.
struct Forwarded {
  std::string op;
  nlohmann::json args; // the inner args, as JSON
};

// Answers the agent's "directory" op from a script: op name -> answer (or error).
class ScriptedAgent {
public:
  using Answer = std::function<Result<proto::MapWriter>(const nlohmann::json &args)>;

  explicit ScriptedAgent(const std::string &path) : server_(path, dispatcher()) {}

  void answer(const std::string &op, Answer answer) {
    std::lock_guard<std::mutex> lock(mutex_);
    script_[op] = std::move(answer);
  }
  template <class Reply> void answer_with(const std::string &op, Reply result) {
    answer(op, [result](const nlohmann::json &) -> Result<proto::MapWriter> {
      proto::MapWriter w;
      result.write(w);
      return w;
    });
  }
  std::vector<Forwarded> seen() {
    std::lock_guard<std::mutex> lock(mutex_);
    return seen_;
  }

private:
  std::shared_ptr<proto::Dispatcher> dispatcher() {
    auto routes = std::make_shared<proto::Dispatcher>();
    routes->on(proto::op::agent_forward, [this](proto::CallPtr call) { forward(call); });
    return routes;
  }

  void forward(const proto::CallPtr &call) {
    proto::ForwardRequest request;
    request.read(call->args());
    const msgpack::object *args = call->args().find("args");
    if (!call->args().ok() || !args || args->type != msgpack::type::MAP)
      return call->fail(Errc::bad_request, "args.args must be a map");
    // msgpack -> JSON through msgpack's own text form is lossy; the fields are re-read here.
    nlohmann::json inner = nlohmann::json::object();
    for (uint32_t i = 0; i < args->via.map.size; i++) {
      const auto &kv = args->via.map.ptr[i];
      std::string key(kv.key.via.str.ptr, kv.key.via.str.size);
      const msgpack::object &v = kv.val;
      if (v.type == msgpack::type::STR)
        inner[key] = std::string(v.via.str.ptr, v.via.str.size);
      else if (v.type == msgpack::type::POSITIVE_INTEGER)
        inner[key] = v.via.u64;
      else if (v.type == msgpack::type::NEGATIVE_INTEGER)
        inner[key] = v.via.i64;
      else if (v.type == msgpack::type::BOOLEAN)
        inner[key] = v.via.boolean;
      else if (v.type == msgpack::type::ARRAY) {
        nlohmann::json items = nlohmann::json::array();
        for (uint32_t j = 0; j < v.via.array.size; j++)
          if (v.via.array.ptr[j].type == msgpack::type::STR)
            items.push_back(std::string(v.via.array.ptr[j].via.str.ptr, v.via.array.ptr[j].via.str.size));
        inner[key] = items;
      }
    }
    Answer answer;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      seen_.push_back({request.op, inner});
      auto it = script_.find(request.op);
      if (it == script_.end()) return call->fail(Errc::bad_request, "not scripted: " + request.op);
      answer = it->second;
    }
    auto reply = answer(inner);
    if (!reply.ok()) return call->fail(reply.error());
    call->reply(*reply);
  }

  std::mutex mutex_;
  std::map<std::string, Answer> script_;
  std::vector<Forwarded> seen_;
  // Last: it stops serving (and so calling forward) before the script goes.
  lpm::test::ControlSocketServer server_;
};

struct AgentFixture {
  TempDir dir;
  std::string socket = dir.path + "/agent.sock";
  ScriptedAgent agent{socket};
  Outcome run(std::vector<std::string> args, const std::optional<std::string> &input = std::string()) {
    args.push_back("--socket");
    args.push_back(socket);
    return run_lpm(args, input);
  }
};

proto::BatchResult batch(std::vector<proto::ItemOutcome> items) {
  proto::BatchResult r;
  r.items = std::move(items);
  return r;
}


} // namespace

// ---- what is shown ----------------------------------------------------------------------------

TEST_CASE("audit CSV: UTF-8 BOM, RFC 4180 quoting, CRLF, and formula cells neutralised (AMB-22)",
          "[cli][admin][AMB-22]") {
  CHECK(kUtf8Bom == "\xEF\xBB\xBF");
  CHECK(csv_cell("plain") == "plain");
  CHECK(csv_cell("") == "");
  CHECK(csv_cell("a,b") == "\"a,b\"");
  CHECK(csv_cell("say \"hi\"") == "\"say \"\"hi\"\"\"");
  CHECK(csv_cell("two\nlines") == "\"two\nlines\"");
  CHECK(csv_cell("cr\rhere") == "\"cr\rhere\"");
  for (const std::string formula : {"=1+1", "+1", "-1", "@SUM(A1)", "\tx"}) {
    INFO(formula);
    CHECK(csv_cell(formula) == "'" + formula);
  }
  CHECK(csv_cell("=HYPERLINK(\"x\",\"y\")") == "\"'=HYPERLINK(\"\"x\"\",\"\"y\"\")\"");
  CHECK(csv_cell("\r=1") == "\"'\r=1\"");
  CHECK(csv_cell("a=b") == "a=b"); // only a first character counts
  CHECK(csv_cell("Zoë") == "Zoë");

  CHECK(audit_csv_header() == "ID,TIME_UTC,ACTOR,ACTION,DETAIL\r\n");
  proto::AuditRow row{42, 1700000000123, "user 1 a@example.com", "group-create",
                      "account group 9 \"Sales, EU\""};
  CHECK(audit_csv_record(row) ==
        "42,2023-11-14 22:13:20,user 1 a@example.com,group-create,\"account group 9 \"\"Sales, EU\"\"\"\r\n");
  proto::AuditRow hostile{7, 0, "=cmd|' /C calc'!A0", "-", "@x"};
  CHECK(audit_csv_record(hostile) == "7,,'=cmd|' /C calc'!A0,'-,'@x\r\n");
}

TEST_CASE("what people read: times, badges, a user shown, batch outcomes", "[cli][admin][TS-2]") {
  CHECK(utc_text(0) == "-");
  CHECK(utc_text(1700000000123) == "2023-11-14 22:13:20 UTC");
  int64_t now = 1700000000000;
  CHECK(badge_text({"1234", false, now, 0}, now) == "1234 (permanent)");
  CHECK(badge_text({"T-1", true, now, now + 1000}, now) ==
        "T-1 (temporary, expires 2023-11-14 22:13:21 UTC)");
  CHECK(badge_text({"T-1", true, now, now - 1000}, now) ==
        "T-1 (temporary, expired 2023-11-14 22:13:19 UTC)");
  CHECK(badge_text({"a\x1b[2Jb", false, now, 0}, now) == "a?[2Jb (permanent)");

  proto::UsersShowResult shown;
  shown.user.id = "u-1";
  shown.user.email = "carol@example.com";
  shown.user.first_name = "Carol";
  shown.user.custom_attributes = R"({"floor":"3"})";
  shown.user.has_password = true;
  shown.user.created_ms = now;
  shown.groups = {"Helpdesk", "Sales"};
  shown.badges = {{"1234", false, now, 0}};
  shown.effective_roles = {"Print Release Management User"};
  std::string text = user_show_text(shown, now);
  CHECK(text.find("e-mail:          carol@example.com\n") == 0);
  CHECK(text.find("groups:          Helpdesk, Sales\n") != std::string::npos);
  CHECK(text.find("badges:          1234 (permanent)\n") != std::string::npos);
  CHECK(text.find("user roles:      none\n") != std::string::npos);
  CHECK(text.find("effective roles: Print Release Management User\n") != std::string::npos);
  CHECK(text.find("password:        set\n") != std::string::npos);
  CHECK(text.find("federated:       no\n") != std::string::npos);
  CHECK(text.find("badge PIN:       none\n") != std::string::npos);
  shown.federated = true;
  shown.pin_set = true;
  text = user_show_text(shown, now);
  CHECK(text.find("federated:       yes") != std::string::npos);
  CHECK(text.find("badge PIN:       set\n") != std::string::npos);
  auto json = nlohmann::json::parse(user_show_json(shown));
  CHECK(json["federated"] == true);
  CHECK(json["pin_set"] == true);
  CHECK(json["email"] == "carol@example.com");
  CHECK(json["custom_attributes"]["floor"] == "3");
  CHECK(json["groups"].size() == 2);
  CHECK(json["badges"][0]["badge"] == "1234");
  CHECK(json["effective_roles"][0] == "Print Release Management User");

  CHECK(batch_line({"bob@example.com", "deleted", ""}) == "deleted bob@example.com");
  CHECK(batch_line({"x@example.com", "failed", "no user has the e-mail address x@example.com"}) ==
        "failed x@example.com: no user has the e-mail address x@example.com");
  CHECK(batch_line({"bob@example.com", "unchanged", "already a member"}) ==
        "unchanged bob@example.com: already a member");
  CHECK(batch_line({"Sales", "deleted", "2 memberships removed"}) == "deleted Sales (2 memberships removed)");
}

TEST_CASE("the confirmation takes y or yes, anything else, an empty line included, is no (UA-6)",
          "[cli][admin][UA-6]") {
  for (const auto &[typed, yes] : std::vector<std::pair<std::string, bool>>{{"y\n", true},
                                                                            {"YES\n", true},
                                                                            {" y \n", true},
                                                                            {"n\n", false},
                                                                            {"\n", false},
                                                                            {"yess\n", false}}) {
    INFO(typed);
    Pty pty;
    pty.type(typed);
    auto answer = confirm_on(pty.slave, "Delete 2 users? [y/N] ");
    REQUIRE(answer.ok());
    CHECK(*answer == yes);
    CHECK(pty.shown().find("Delete 2 users? [y/N] ") != std::string::npos);
  }
  CHECK(confirm_on(-1, "?").error().code == Errc::unavailable);
}

// ---- the commands against a stand-in agent --------------------------------------------------------

TEST_CASE("lpm users delete asks first: without a terminal it needs --yes, and then each outcome is a line "
          "(UA-6, AMB-6)",
          "[cli][admin][UA-6][AMB-6]") {
  AgentFixture f;
  f.agent.answer_with(proto::op::users_delete, batch({{"bob@example.com", "deleted", ""},
                                                      {"ghost@example.com", "failed",
                                                       "no user has the e-mail address ghost@example.com"}}));
  Outcome refused = f.run({"users", "delete", "bob@example.com", "ghost@example.com"});
  CHECK(refused.code == 1);
  CHECK(refused.err == "lpm: bad_request: deleting 2 users needs a confirmation and standard input is not a "
                       "terminal: add --yes\n");
  CHECK(f.agent.seen().empty());

  Outcome done = f.run({"users", "delete", "bob@example.com", "ghost@example.com", "--yes"});
  CHECK(done.code == 1); // one of them failed
  CHECK(done.out == "deleted bob@example.com\nfailed ghost@example.com: no user has the e-mail address "
                    "ghost@example.com\n");
  CHECK(done.err == "lpm: 1 of 2 users failed\n");
  auto seen = f.agent.seen();
  REQUIRE(seen.size() == 1);
  CHECK(seen[0].op == "users-delete");
  CHECK(seen[0].args == nlohmann::json{{"emails", {"bob@example.com", "ghost@example.com"}}});

  f.agent.answer_with(proto::op::users_delete, batch({{"bob@example.com", "deleted", ""}}));
  Outcome json = f.run({"users", "delete", "bob@example.com", "--yes", "--json"});
  CHECK(json.code == 0);
  CHECK(nlohmann::json::parse(json.out) ==
        nlohmann::json{{"key", "bob@example.com"}, {"result", "deleted"}, {"reason", ""}});
}

TEST_CASE("lpm users add forwards the profile and the password from stdin, never a session (UA-4)",
          "[cli][admin][UA-4]") {
  AgentFixture f;
  proto::UsersAddResult added;
  added.user.id = "u-9";
  added.user.email = "new@example.com";
  added.user.has_password = true;
  f.agent.answer_with(proto::op::users_add, added);
  Outcome o = f.run({"users", "add", "--email", "New@Example.com", "--first-name", "Ada", "--department",
                     "IT", "--password-stdin"},
                    std::string("Correct-Horse-9\nrest"));
  CHECK(o.code == 0);
  CHECK(o.out == "created user new@example.com (u-9)\n");
  auto seen = f.agent.seen();
  REQUIRE(seen.size() == 1);
  CHECK(seen[0].args["email"] == "New@Example.com");
  CHECK(seen[0].args["first_name"] == "Ada");
  CHECK(seen[0].args["department"] == "IT");
  CHECK(seen[0].args["password"] == "Correct-Horse-9");
  CHECK_FALSE(seen[0].args.contains("session"));

  added.user.has_password = false;
  f.agent.answer_with(proto::op::users_add, added);
  Outcome linkless = f.run({"users", "add", "--email", "new@example.com"});
  CHECK(linkless.out ==
        "created user new@example.com (u-9); no password yet: a password-change link is due\n");
  CHECK_FALSE(f.agent.seen().back().args.contains("password"));

  f.agent.answer(proto::op::users_add, [](const nlohmann::json &) -> Result<proto::MapWriter> {
    return make_error(Errc::forbidden, "users-add needs one of these roles: Enterprise Administrator");
  });
  Outcome refused = f.run({"users", "add", "--email", "x@example.com"});
  CHECK(refused.code == 1);
  CHECK(refused.err == "lpm: forbidden: users-add needs one of these roles: Enterprise Administrator\n");
}

TEST_CASE("lpm users show, badges add|find|delete: text and JSON (UA-5, BD-3, BD-6, AMB-13, TS-4)",
          "[cli][admin][UA-5][BD-3][BD-6][AMB-13][TS-4]") {
  AgentFixture f;
  proto::UsersShowResult shown;
  shown.user.id = "u-1";
  shown.user.email = "carol@example.com";
  f.agent.answer_with(proto::op::users_show, shown);
  Outcome show = f.run({"users", "show", "carol@example.com"});
  CHECK(show.code == 0);
  CHECK(show.out.find("e-mail:          carol@example.com\n") == 0);
  CHECK(f.agent.seen().back().args == nlohmann::json{{"email", "carol@example.com"}});
  Outcome show_json = f.run({"users", "show", "carol@example.com", "--json"});
  CHECK(nlohmann::json::parse(show_json.out)["id"] == "u-1");

  proto::BadgesAddResult added{"00C3", "bob@example.com", false, 0, "00A1"};
  f.agent.answer_with(proto::op::badges_add, added);
  Outcome add = f.run({"badges", "add", "00C3", "--email", "bob@example.com"});
  CHECK(add.code == 0);
  CHECK(add.out ==
        "badge 00C3 registered for bob@example.com (permanent); it replaces the permanent badge 00A1\n");
  CHECK(f.agent.seen().back().args ==
        nlohmann::json{{"badge", "00C3"}, {"email", "bob@example.com"}, {"temporary", false}});
  f.run({"badges", "add", "T-1", "--email", "bob@example.com", "--temporary"});
  CHECK(f.agent.seen().back().args["temporary"] == true);

  proto::BadgesFindResult found;
  found.user = "u-2";
  found.email = "bob@example.com";
  found.badges = {{"00C3", false, 1, 0}};
  f.agent.answer_with(proto::op::badges_find, found);
  Outcome find = f.run({"badges", "find", "bob@example.com"});
  CHECK(find.code == 0);
  CHECK(find.out == "user bob@example.com (u-2)\nBADGE  KIND       EXPIRES\n00C3   permanent  -\n");
  CHECK(f.agent.seen().back().args == nlohmann::json{{"query", "bob@example.com"}});

  f.agent.answer_with(proto::op::badges_delete, batch({{"00C3", "deleted", ""}, {"T-1", "deleted", ""}}));
  Outcome del = f.run({"badges", "delete", "00C3", "T-1"});
  CHECK(del.code == 0);
  CHECK(del.out == "deleted 00C3\ndeleted T-1\n");
}

TEST_CASE(
    "lpm roles: exactly one of --email, --group, --enterprise, grant, revoke, list, describe (RL-2, RL-3)",
    "[cli][admin][RL-2][RL-3]") {
  AgentFixture f;
  CHECK(f.run({"roles", "grant", "prm-user"}).code == 2);
  CHECK(f.run({"roles", "grant", "prm-user", "--email", "a@example.com", "--enterprise"}).code == 2);
  CHECK(f.agent.seen().empty());

  f.agent.answer_with(proto::op::roles_grant, proto::RoleChangeResult{"Print Release Management Helpdesk",
                                                                      "group", "Helpdesk", true});
  Outcome grant = f.run({"roles", "grant", "prm-helpdesk", "--group", "Helpdesk"});
  CHECK(grant.code == 0);
  CHECK(grant.out == "granted Print Release Management Helpdesk at group scope to Helpdesk\n");
  CHECK(f.agent.seen().back().args ==
        nlohmann::json{{"role", "prm-helpdesk"}, {"scope", "group"}, {"group", "Helpdesk"}});
  f.agent.answer_with(proto::op::roles_revoke,
                      proto::RoleChangeResult{"Print Release Management User", "enterprise", "", false});
  Outcome revoke = f.run({"roles", "revoke", "prm-user", "--enterprise"});
  CHECK(revoke.out == "revoked Print Release Management User at enterprise scope (it was not granted)\n");

  proto::RolesListResult listed;
  listed.grants = {{"enterprise", "", "Print Release Management User", "prm-user", 1},
                   {"user", "a@example.com", "Enterprise Administrator", "enterprise-admin", 2}};
  f.agent.answer_with(proto::op::roles_list, listed);
  Outcome list = f.run({"roles", "list"});
  CHECK(list.out == "SCOPE       TO             ROLE\n"
                    "enterprise  -              Print Release Management User (prm-user)\n"
                    "user        a@example.com  Enterprise Administrator (enterprise-admin)\n");
  CHECK(f.agent.seen().back().args == nlohmann::json::object());
  f.run({"roles", "list", "--email", "a@example.com"});
  CHECK(f.agent.seen().back().args == nlohmann::json{{"scope", "user"}, {"email", "a@example.com"}});

  proto::RolesDescribeResult described;
  described.roles = {{"Print Release Management User", "prm-user", "Required for print release.", false},
                     {"Enterprise Administrator", "enterprise-admin", "Granted by the platform.", true}};
  f.agent.answer_with(proto::op::roles_describe, described);
  Outcome all = f.run({"roles", "describe"});
  CHECK(all.out ==
        "Print Release Management User (prm-user)\n  Required for print release.\n\n"
        "Enterprise Administrator (enterprise-admin), granted by the platform\n  Granted by the platform.\n");
  Outcome one = f.run({"roles", "describe", "PRM-USER", "--json"});
  CHECK(nlohmann::json::parse(one.out)["name"] == "Print Release Management User");
  Outcome none = f.run({"roles", "describe", "nope"});
  CHECK(none.code == 1);
}

TEST_CASE("lpm groups and password-policy (GR-2, GR-3, GR-4, AMB-8, UA-3)",
          "[cli][admin][GR-2][GR-3][GR-4][AMB-8][UA-3]") {
  AgentFixture f;
  f.agent.answer_with(proto::op::groups_create, proto::GroupsCreateResult{"g-1", "Sales_EU", "Sales#EU"});
  Outcome create = f.run({"groups", "create", "Sales#EU"});
  CHECK(create.code == 0);
  CHECK(create.out.find("created account group \"Sales_EU\" (renamed from \"Sales#EU\"") == 0);

  f.agent.answer_with(
      proto::op::groups_add_members,
      batch({{"a@example.com", "added", ""}, {"b@example.com", "unchanged", "already a member"}}));
  Outcome add = f.run({"groups", "add", "Sales_EU", "a@example.com", "b@example.com"});
  CHECK(add.code == 0);
  CHECK(add.out == "added a@example.com\nunchanged b@example.com: already a member\n");
  CHECK(f.agent.seen().back().args ==
        nlohmann::json{{"name", "Sales_EU"}, {"emails", {"a@example.com", "b@example.com"}}});
  f.agent.answer_with(proto::op::groups_remove_members, batch({{"a@example.com", "removed", ""}}));
  CHECK(f.run({"groups", "remove", "Sales_EU", "a@example.com"}).out == "removed a@example.com\n");
  f.agent.answer_with(proto::op::groups_delete, batch({{"Sales_EU", "deleted", "1 membership removed"}}));
  CHECK(f.run({"groups", "delete", "Sales_EU"}).out == "deleted Sales_EU (1 membership removed)\n");

  // Listing pages through every group.
  f.agent.answer(proto::op::groups_list, [](const nlohmann::json &args) -> Result<proto::MapWriter> {
    proto::GroupsListResult page;
    if (args.value("after", "").empty()) {
      page.groups = {{"g-1", "Alpha", 2, 1}};
      page.next = "Alpha";
    } else {
      page.groups = {{"g-2", "Beta", 0, 1}};
    }
    proto::MapWriter w;
    page.write(w);
    return w;
  });
  Outcome list = f.run({"groups", "list"});
  CHECK(list.out == "NAME   MEMBERS\nAlpha        2\nBeta         0\n");

  f.agent.answer_with(proto::op::password_policy_show, proto::PasswordPolicyResult{12, 3, 5});
  CHECK(f.run({"password-policy", "show"}).out == "min-length 12\ncomplexity 3\nhistory 5\n");
  f.agent.answer_with(proto::op::password_policy_set, proto::PasswordPolicyResult{8, 2, 4});
  Outcome set = f.run({"password-policy", "set", "--min-length", "8", "--complexity", "2", "--history", "4"});
  CHECK(set.out == "min-length 8\ncomplexity 2\nhistory 4\n");
  CHECK(f.agent.seen().back().args == nlohmann::json{{"min_length", 8}, {"complexity", 2}, {"history", 4}});
  CHECK(f.run({"password-policy", "set", "--min-length", "8"}).code == 2); // all three, in one update
}

TEST_CASE("lpm audit: the newest entries by default, every page with --all, a CSV file with --csv (AMB-22)",
          "[cli][admin][AMB-22]") {
  AgentFixture f;
  // Ids 1..5; pages of at most two, as the directory would cut them.
  f.agent.answer(proto::op::audit_list, [](const nlohmann::json &args) -> Result<proto::MapWriter> {
    int64_t after = args.value("after", int64_t{-1});
    uint64_t limit = std::min<uint64_t>(2, args.value("limit", uint64_t{100}));
    proto::AuditListResult page;
    int64_t first = after < 0 ? 5 - static_cast<int64_t>(limit) + 1 : after + 1;
    for (int64_t id = first; id <= 5 && page.entries.size() < limit; id++)
      page.entries.push_back({id, 1700000000000 + id * 1000, "user 1 a@example.com", "group-create",
                              id == 3 ? "=HYPERLINK(\"http://x\")" : "group " + std::to_string(id)});
    if (after >= 0 && !page.entries.empty() && page.entries.back().id < 5) page.next = page.entries.back().id;
    proto::MapWriter w;
    page.write(w);
    return w;
  });
  Outcome newest = f.run({"audit", "--limit", "2"});
  CHECK(newest.code == 0);
  CHECK(newest.out.find("ID  TIME (UTC)") == 0);
  CHECK(newest.out.find("\n 4  2023-11-14 22:13:24 UTC") != std::string::npos);
  CHECK(newest.out.find("\n 5  ") != std::string::npos);
  CHECK(f.agent.seen().back().args == nlohmann::json{{"after", -1}, {"limit", 2}});

  Outcome all = f.run({"audit", "--all", "--json"});
  CHECK(all.code == 0);
  std::vector<int64_t> ids;
  for (const auto &line : {all.out}) {
    size_t at = 0;
    while (at < line.size()) {
      size_t end = line.find('\n', at);
      ids.push_back(nlohmann::json::parse(line.substr(at, end - at))["id"].get<int64_t>());
      at = end + 1;
    }
  }
  CHECK(ids == std::vector<int64_t>{1, 2, 3, 4, 5});
  CHECK(f.run({"audit", "--after", "3", "--json"}).out.find("\"id\":4") != std::string::npos);

  std::string csv = f.dir.path + "/audit.csv";
  Outcome exported = f.run({"audit", "--all", "--csv", csv});
  CHECK(exported.code == 0);
  CHECK(exported.out == "wrote 5 entries to " + csv + "\n");
  auto content = read_file(csv, 1 << 20);
  REQUIRE(content.ok());
  CHECK(content->rfind(std::string(kUtf8Bom) + "ID,TIME_UTC,ACTOR,ACTION,DETAIL\r\n", 0) == 0);
  CHECK(content->find("\r\n3,2023-11-14 22:13:23,user 1 "
                      "a@example.com,group-create,\"'=HYPERLINK(\"\"http://x\"\")\"\r\n") !=
        std::string::npos);
  CHECK_FALSE(file_exists(csv + ".partial"));

  CHECK(f.run({"audit", "--limit", "501"}).code == 2); // the newest entries come in one answer
  Outcome unwritable = f.run({"audit", "--csv", f.dir.path + "/no/such/dir/a.csv"});
  CHECK(unwritable.code == 1);
  CHECK(unwritable.err.find("lpm: io_error: cannot create") == 0);
}

TEST_CASE("lpm users add says whether the new user's password link is being e-mailed or needs handing over "
          "(UA-4)",
          "[cli][admin][UA-4]") {
  AgentFixture f;
  proto::UsersAddResult added;
  added.user.id = "u-9";
  added.user.email = "new@example.com";
  added.password_link = "mailing";
  f.agent.answer_with(proto::op::users_add, added);
  Outcome mailing = f.run({"users", "add", "--email", "new@example.com"});
  CHECK(mailing.code == 0);
  CHECK(mailing.out == "created user new@example.com (u-9); no password yet: a password link is being e-mailed to "
                       "new@example.com\n");
  added.password_link = "unsent";
  f.agent.answer_with(proto::op::users_add, added);
  Outcome unsent = f.run({"users", "add", "--email", "new@example.com"});
  CHECK(unsent.out == "created user new@example.com (u-9); no password yet, and the directory has no mail command: "
                      "give them a password link with `lpm users password-link --email new@example.com`\n");
}

TEST_CASE("lpm users password-link: e-mailed, handed over when the directory has no mail command, or a mail "
          "that failed (UA-4)",
          "[cli][admin][UA-4]") {
  AgentFixture f;
  proto::UsersPasswordLinkResult mailed;
  mailed.email = "dana@example.com";
  mailed.expires_ms = 1700000000123;
  mailed.mailed = true;
  f.agent.answer_with(proto::op::users_password_link, mailed);
  Outcome o = f.run({"users", "password-link", "--email", "Dana@example.com"});
  CHECK(o.code == 0);
  CHECK(o.out == "password link e-mailed to dana@example.com; it works once, until 2023-11-14 22:13:20 UTC\n");
  auto seen = f.agent.seen();
  REQUIRE(seen.size() == 1);
  CHECK(seen[0].op == "users-password-link");
  CHECK(seen[0].args == nlohmann::json{{"email", "Dana@example.com"}});

  const std::string link(64, 'a');
  proto::UsersPasswordLinkResult handed = mailed;
  handed.mailed = false;
  handed.link = link;
  f.agent.answer_with(proto::op::users_password_link, handed);
  Outcome h = f.run({"users", "password-link", "--email", "dana@example.com"});
  CHECK(h.code == 0);
  CHECK(h.out.find("The directory has no mail command, so nothing was e-mailed: hand this link to dana@example.com "
                   "yourself") == 0);
  CHECK(h.out.find("\n    lpm password set --link " + link + "\n") != std::string::npos);
  CHECK(h.out.find("It works once, until 2023-11-14 22:13:20 UTC") != std::string::npos);
  Outcome json = f.run({"users", "password-link", "--email", "dana@example.com", "--json"});
  CHECK(json.code == 0);
  CHECK(nlohmann::json::parse(json.out) == nlohmann::json{{"email", "dana@example.com"},
                                                          {"expires_ms", 1700000000123},
                                                          {"mailed", false},
                                                          {"mail_error", ""},
                                                          {"link", link}});

  proto::UsersPasswordLinkResult failed = mailed;
  failed.mailed = false;
  failed.mail_error = "the mail command exited with status 1";
  f.agent.answer_with(proto::op::users_password_link, failed);
  Outcome bad = f.run({"users", "password-link", "--email", "dana@example.com"});
  CHECK(bad.code == 1);
  CHECK(bad.out.empty());
  CHECK(bad.err == "lpm: the password link for dana@example.com could not be e-mailed: the mail command exited "
                   "with status 1 (run the command again for a new one)\n");
}

TEST_CASE("lpm password set sends the link and the new password from stdin, with no session, and says what "
          "the directory refused (UA-4)",
          "[cli][admin][UA-4]") {
  AgentFixture f;
  const std::string link(64, 'b');
  proto::PasswordLinkUseResult used;
  used.email = "dana@example.com";
  f.agent.answer_with(proto::op::password_link_use, used);
  Outcome o = f.run({"password", "set", "--link", link, "--password-stdin"}, std::string("Brand-New-Secret-42\nrest"));
  CHECK(o.code == 0);
  CHECK(o.out == "password set for dana@example.com: log in with `lpm login`\n");
  auto seen = f.agent.seen();
  REQUIRE(seen.size() == 1);
  CHECK(seen[0].op == "password-link-use");
  CHECK(seen[0].args == nlohmann::json{{"link", link}, {"password", "Brand-New-Secret-42"}});

  f.agent.answer(proto::op::password_link_use, [](const nlohmann::json &) -> Result<proto::MapWriter> {
    return make_error(Errc::not_found, "this password link was already used (at 2026-11-24 23:17 UTC)");
  });
  Outcome refused = f.run({"password", "set", "--link", link, "--password-stdin"}, std::string("x\n"));
  CHECK(refused.code == 1);
  CHECK(refused.err == "lpm: not_found: this password link was already used (at 2026-11-24 23:17 UTC)\n");

  Outcome empty = f.run({"password", "set", "--link", link, "--password-stdin"}, std::string("\n"));
  CHECK(empty.code == 1);
  CHECK(f.agent.seen().size() == 2); // nothing sent for an empty line
}

TEST_CASE("lpm password set asks for the new password twice on its terminal, unseen, and sends nothing when the "
          "two differ (UA-4)",
          "[cli][admin][UA-4]") {
  AgentFixture f;
  proto::PasswordLinkUseResult used;
  used.email = "dana@example.com";
  f.agent.answer_with(proto::op::password_link_use, used);
  const std::string link(64, 'c');
  // Runs `lpm password set` as a person at a terminal would.
  auto run_on_pty = [&](const std::string &first, const std::string &second, std::string &transcript) {
    Pty pty;
    pid_t child = spawn_on_terminal(pty, {"password", "set", "--link", link, "--socket", f.socket});
    ChildGuard guard{child};
    transcript = pty.shown_until("New password: ");
    REQUIRE(pty.wait_echo(false));
    pty.type(first + "\n");
    transcript += pty.shown_until("The same password again: ");
    pty.type(second + "\n");
    int status = 0;
    REQUIRE(wait_child(child, status, 10000));
    guard.pid = -1;
    transcript += pty.shown();
    CHECK(pty.echo_on());
    REQUIRE(WIFEXITED(status));
    return WEXITSTATUS(status);
  };
  std::string transcript;
  CHECK(run_on_pty("Brand-New-Secret-42", "Brand-New-Secret-42", transcript) == 0);
  INFO(transcript);
  CHECK(transcript.find("password set for dana@example.com") != std::string::npos);
  CHECK(transcript.find("Brand-New-Secret-42") == std::string::npos);
  REQUIRE(f.agent.seen().size() == 1);
  CHECK(f.agent.seen()[0].args["password"] == "Brand-New-Secret-42");

  CHECK(run_on_pty("Brand-New-Secret-42", "Brand-New-Secret-43", transcript) == 1);
  CHECK(transcript.find("lpm: bad_request: the two passwords differ; nothing was changed") != std::string::npos);
  CHECK(f.agent.seen().size() == 1);
}

TEST_CASE("every administrative command answers --help, usage errors exit 2", "[cli][admin]") {
  for (std::vector<std::string> args : {std::vector<std::string>{"users", "show", "--help"},
                                        {"users", "add", "--help"},
                                        {"users", "delete", "--help"},
                                        {"users", "password-link", "--help"},
                                        {"password", "--help"},
                                        {"password", "set", "--help"},
                                        {"badges", "add", "--help"},
                                        {"badges", "delete", "--help"},
                                        {"badges", "find", "--help"},
                                        {"roles", "--help"},
                                        {"roles", "grant", "--help"},
                                        {"roles", "revoke", "--help"},
                                        {"roles", "list", "--help"},
                                        {"roles", "describe", "--help"},
                                        {"groups", "--help"},
                                        {"groups", "create", "--help"},
                                        {"groups", "delete", "--help"},
                                        {"groups", "add", "--help"},
                                        {"groups", "remove", "--help"},
                                        {"groups", "list", "--help"},
                                        {"password-policy", "--help"},
                                        {"password-policy", "show", "--help"},
                                        {"password-policy", "set", "--help"},
                                        {"audit", "--help"}}) {
    Outcome o = run_lpm(args);
    INFO(args[0] << " " << args[1]);
    CHECK(o.code == 0);
    CHECK(o.out.find("Usage:") != std::string::npos);
  }
  for (std::vector<std::string> args : {std::vector<std::string>{"users", "show"},
                                        {"users", "add"},
                                        {"users", "delete"},
                                        {"users", "password-link"},
                                        {"password"},
                                        {"password", "set"},
                                        {"badges", "add", "1"},
                                        {"badges", "find"},
                                        {"roles"},
                                        {"roles", "grant"},
                                        {"groups"},
                                        {"groups", "add", "G"},
                                        {"password-policy"},
                                        {"audit", "--limit", "0"},
                                        {"audit", "--after", "-1"}}) {
    INFO(args[0] << " " << args.back());
    CHECK(run_lpm(args).code == 2);
  }
}
