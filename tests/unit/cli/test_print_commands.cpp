// The Print Management commands (print_commands.h): the sample file `lpm print-users import --sample`
// prints (the same bytes as the fixture and docs/samples), what the tables and texts show, the
// twice-asked confirmation of Import from User Accounts, --help and usage errors. The commands
// against the real agent and directory are in tests/integration/print_management.sh.
#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "print_commands.h"
#include "pty_support.h"
#include "run_lpm.h"

using namespace lpm;
using namespace lpm::cli;
using lpm::cli::test::Pty;
using lpm::test::Outcome;
using lpm::test::run_lpm;

namespace {

std::string file_text(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE(in.good());
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

proto::PrintUserEntry pm_user(const std::string &email, std::optional<int64_t> quota,
                              std::optional<int64_t> group_quota, const std::string &group = "") {
  proto::PrintUserEntry u;
  u.user = "01-" + email;
  u.email = email;
  u.group = group;
  u.quota = quota;
  u.group_quota = group_quota;
  return u;
}

} // namespace

TEST_CASE("lpm print-users import --sample prints the sample file, the same bytes as docs/samples and the "
          "test fixture (PM-4, AMB-16)",
          "[cli][print][PM-4][AMB-16]") {
  const std::string fixture = file_text(std::string(LPM_TEST_FIXTURES) + "/print-users-sample.csv");
  CHECK(std::string(print_users_sample()) == fixture);
  CHECK(file_text(std::string(LPM_DOCS_DIR) + "/samples/print-users-sample.csv") == fixture);
  CHECK(fixture.rfind("EMAIL,GROUP,QUOTA\n", 0) == 0);

  Outcome o = run_lpm({"print-users", "import", "--sample"});
  CHECK(o.code == 0);
  CHECK(o.out == fixture);
  Outcome nothing = run_lpm({"print-users", "import"});
  CHECK(nothing.code == 2);
  CHECK(nothing.err.find("--sample") != std::string::npos);
}

TEST_CASE(
    "what people read: quotas (a user's own, else the group's), tables, JSON with null quotas, both counts "
    "(AMB-17, AMB-18)",
    "[cli][print][AMB-17][AMB-18]") {
  CHECK(group_quota_text(500) == "500");
  CHECK(group_quota_text(std::nullopt) == "none");
  CHECK(user_quota_text(pm_user("a@x.y", 40, 300)) == "40");
  CHECK(user_quota_text(pm_user("a@x.y", std::nullopt, 300)) == "300 (group)");
  CHECK(user_quota_text(pm_user("a@x.y", std::nullopt, std::nullopt)) == "none");
  CHECK(user_quota_text(pm_user("a@x.y", 0, 300)) == "0");

  proto::PrintGroupEntry g{"01-g",
                           "Floor\x1b"
                           "2",
                           500,
                           true,
                           3,
                           1700000000000,
                           0};
  proto::PrintGroupEntry gone{"02-g", "Old", std::nullopt, false, 0, 1700000000000, 1700000000000};
  std::string table = print_groups_table({g, gone}, true);
  CHECK(table.find("Floor?2") != std::string::npos); // control characters shown as '?'
  CHECK(table.find("DELETED (UTC)") != std::string::npos);
  CHECK(table.find("2023-11-14 22:13:20 UTC") != std::string::npos);
  CHECK(print_groups_table({g}, false).find("DELETED") == std::string::npos);
  auto json = nlohmann::json::parse(print_group_json(gone));
  CHECK(json["quota"].is_null());
  CHECK(json["deleted_ms"] == 1700000000000);
  CHECK(nlohmann::json::parse(print_group_json(g))["quota"] == 500);

  std::string users = print_users_table({pm_user("ann@example.com", std::nullopt, 300, "Floor 2")});
  CHECK(users.find("ann@example.com") != std::string::npos);
  CHECK(users.find("300 (group)") != std::string::npos);
  auto user_json = nlohmann::json::parse(print_user_json(pm_user("ann@example.com", std::nullopt, 300, "F")));
  CHECK(user_json["quota"].is_null());
  CHECK(user_json["group_quota"] == 300);
  CHECK(pm_counts_text(1, 52) == "1 Print Management user of 52 users in User Accounts");

  // lpm quota (AMB-17)
  proto::QuotaShowResult q;
  q.email = "ann@example.com";
  q.counted = true;
  q.quota = 500;
  q.group = "Floor 2";
  q.color_allowed = false;
  q.month = "2026-11";
  q.quota_zone = "Europe/Paris";
  q.used = 120;
  q.held = 30;
  q.left = 350;
  q.color_denied = "mono";
  CHECK(quota_text(q) ==
        "ann@example.com: 350 of 500 impressions left in 2026-11 (Europe/Paris): 120 used, 30 held "
        "by a release in progress\n"
        "quota: 500 impressions a month (print group \"Floor 2\")\n"
        "colour: not allowed (print group): colour jobs print in monochrome where the printer can, "
        "else are refused\n");
  q.counted = false;
  CHECK(quota_text(q) == "ann@example.com: no quota and no colour limit (not a Print Management user)\n");

  proto::PrintUsersSyncResult done;
  done.added = 3;
  done.removed = 1;
  done.pm_users = 40;
  done.enterprise_users = 52;
  done.added_emails = {"a@x.y", "b@x.y"};
  done.removed_emails = {"c@x.y"};
  CHECK(sync_text(done) ==
        "Import from User Accounts: 3 added, 1 removed; now 40 Print Management users of 52 "
        "users in User Accounts\nadded: a@x.y, b@x.y ... and 1 more\nremoved: c@x.y\n");
  done.dry_run = true;
  CHECK(sync_text(done).rfind("Import from User Accounts would add 3 and remove 1; afterwards 40", 0) == 0);
}

TEST_CASE("Import from User Accounts is confirmed twice: two yeses, else nothing (PM-3)",
          "[cli][print][PM-3]") {
  proto::PrintUsersSyncResult preview;
  preview.dry_run = true;
  preview.added = 2;
  preview.pm_users = 2;
  preview.enterprise_users = 5;
  preview.added_emails = {"a@x.y", "b@x.y"};
  for (const auto &[typed, yes] : std::vector<std::pair<std::string, bool>>{
           {"y\ny\n", true}, {"yes\nn\n", false}, {"n\ny\n", false}, {"\n", false}}) {
    INFO(typed);
    Pty pty;
    pty.type(typed);
    auto answer = confirm_sync_on(pty.slave, preview);
    REQUIRE(answer.ok());
    CHECK(*answer == yes);
    std::string shown = pty.shown();
    CHECK(shown.find("would add 2 and remove 0") != std::string::npos);
    CHECK(shown.find("Import from User Accounts? [y/N] ") != std::string::npos);
    // The second question only after a first yes.
    CHECK((shown.find("Are you sure? It adds 2 and removes 0") != std::string::npos) ==
          (typed.rfind("y", 0) == 0));
  }
}

TEST_CASE("lpm print-users sync without a terminal needs --yes and sends nothing (PM-3)",
          "[cli][print][PM-3]") {
  // The socket does not exist: the refusal comes before any connection.
  Outcome o = run_lpm({"print-users", "sync", "--socket", "/nonexistent/agent.sock"}, std::string());
  CHECK(o.code == 1);
  CHECK(o.err ==
        "lpm: bad_request: import from User Accounts is confirmed twice (PM-3) and standard input is "
        "not a terminal: add --yes\n");
  Outcome yes =
      run_lpm({"print-users", "sync", "--yes", "--socket", "/nonexistent/agent.sock"}, std::string());
  CHECK(yes.code == 1);
  CHECK(yes.err.find("cannot reach the agent") != std::string::npos);
}

TEST_CASE("every Print Management command answers --help, usage errors exit 2", "[cli][print]") {
  for (std::vector<std::string> args : {std::vector<std::string>{"print-groups", "--help"},
                                        {"print-groups", "create", "--help"},
                                        {"print-groups", "update", "--help"},
                                        {"print-groups", "delete", "--help"},
                                        {"print-groups", "list", "--help"},
                                        {"print-users", "--help"},
                                        {"print-users", "list", "--help"},
                                        {"print-users", "set", "--help"},
                                        {"print-users", "remove", "--help"},
                                        {"print-users", "sync", "--help"},
                                        {"print-users", "import", "--help"}}) {
    Outcome o = run_lpm(args);
    INFO(args[0] << " " << args[1]);
    CHECK(o.code == 0);
    CHECK(o.out.find("Usage:") != std::string::npos);
  }
  CHECK(run_lpm({"print-users", "sync", "--help"}).out.find("asks twice") != std::string::npos);
  for (std::vector<std::string> args : {std::vector<std::string>{"print-groups"},
                                        {"print-groups", "create"},
                                        {"print-groups", "create", "G", "--quota", "-1"},
                                        {"print-groups", "create", "G", "--quota", "1000000001"},
                                        {"print-groups", "update", "G"},
                                        {"print-groups", "update", "G", "--quota", "5", "--no-quota"},
                                        {"print-groups", "update", "G", "--color", "--no-color"},
                                        {"print-groups", "delete"},
                                        {"print-users"},
                                        {"print-users", "set", "a@x.y"},
                                        {"print-users", "set", "a@x.y", "--group", "G", "--no-group"},
                                        {"print-users", "set", "a@x.y", "--quota", "5", "--group-quota"},
                                        {"print-users", "remove"},
                                        {"print-users", "list", "--limit", "0"}}) {
    INFO(args[0] << " " << args.back());
    CHECK(run_lpm(args).code == 2);
  }
}
