// The workstation, token and printer commands (device_commands.h): the helpdesk table (counts and
// hosts only), its JSON, --help and usage errors. The commands against the real agent and
// directory are in tests/integration/login_admin.sh.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "device_commands.h"
#include "lpm/protocol/ops_admin.h"
#include "run_lpm.h"

using namespace lpm;
using namespace lpm::cli;
using lpm::test::Outcome;
using lpm::test::run_lpm;

TEST_CASE("the helpdesk view shows users with held jobs, counts and hosts, never titles (RL-12)",
          "[cli][devices][RL-12]") {
  proto::WorkstationEntry w;
  w.id = "01a2-ws";
  w.name = "desk-7";
  w.seen_address = "192.0.2.7";
  w.last_seen_ms = 1700000000000;
  w.held_jobs = 4;
  w.bound_users = {"jean@example.com (login)"};
  w.held = {{"jean@example.com", 3}, {"ann@example.com", 1}};
  std::string table = workstations_table({w});
  CHECK(table.find("desk-7") != std::string::npos);
  CHECK(table.find("192.0.2.7") != std::string::npos);
  CHECK(table.find("jean@example.com (3), ann@example.com (1)") != std::string::npos);
  CHECK(table.find("2023-11-14 22:13:20 UTC") != std::string::npos);

  auto json = nlohmann::json::parse(workstation_json(w));
  CHECK(json["held_jobs"] == 4);
  CHECK(json["held"][0]["email"] == "jean@example.com");
  CHECK(json["held"][0]["jobs"] == 3);
  CHECK(json["bound_users"][0] == "jean@example.com (login)");

  // Nothing registered yet: dashes, not empty cells.
  proto::WorkstationEntry quiet;
  quiet.id = "02";
  quiet.name = "new";
  CHECK(workstations_table({quiet}).find(" - ") != std::string::npos);
}

TEST_CASE("lpm workstations, tokens and printers answer --help, usage errors exit 2", "[cli][devices]") {
  for (std::vector<std::string> args : {std::vector<std::string>{"workstations", "--help"},
                                        {"workstations", "list", "--help"},
                                        {"workstations", "show", "--help"},
                                        {"workstations", "bind", "--help"},
                                        {"workstations", "unbind", "--help"},
                                        {"workstations", "deregister", "--help"},
                                        {"tokens", "create", "--help"},
                                        {"printers", "list", "--help"},
                                        {"printers", "revoke", "--help"}}) {
    Outcome o = run_lpm(args);
    INFO(args[0] << " " << args[1]);
    CHECK(o.code == 0);
    CHECK(o.out.find("Usage:") != std::string::npos);
  }
  for (std::vector<std::string> args : {std::vector<std::string>{"workstations"},
                                        {"workstations", "bind", "ws-1"},
                                        {"workstations", "show"},
                                        {"workstations", "show", "ws-1", "--user", "a@b.c"},
                                        {"tokens", "create"},
                                        {"tokens", "create", "--kind", "toaster"},
                                        {"tokens", "create", "--kind", "printer", "--uses", "0"},
                                        {"printers", "revoke"}}) {
    INFO(args[0] << " " << args.back());
    CHECK(run_lpm(args).code == 2);
  }
}
