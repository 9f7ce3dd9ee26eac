// The client package (issue 7, PK-4, PK-5): choices refused with the option named, and the
// archive's contents and modes, built from a small lpm-agent .deb made here with dpkg-deb.
#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <sys/wait.h>

#include <cstdlib>
#include <string>

#include "lpm/files.h"
#include "lpm/packaging/client_package.h"
#include "transport_support.h"

using namespace lpm;
using namespace lpm::packaging;
using lpm::test::TempDir;

namespace {

const std::string kFp(64, 'c');

ClientPackageOptions complete(const std::string &dir) {
  ClientPackageOptions o;
  o.config = package_default_config();
  o.config.directory.addresses = {proto::Endpoint{"10.0.0.1", 9710}};
  o.config.directory.fingerprints = {kFp};
  o.config.accounting.addresses = {proto::Endpoint{"10.0.0.2", 9720}};
  o.config.accounting.fingerprints = {kFp};
  o.enrollment_token = "tok3n-TEXT";
  o.agent_deb = dir + "/lpm-agent_9.9.9_amd64.deb";
  o.output = dir + "/client.tar.gz";
  return o;
}

int shell(const std::string &command) {
  int status = std::system(command.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// A .deb named `package` holding only the agent's unit, as dpkg-deb builds one.
void make_deb(const std::string &dir, const std::string &package, const std::string &path) {
  std::string tree = dir + "/tree-" + package;
  REQUIRE(shell("mkdir -p '" + tree + "/DEBIAN' '" + tree + "/usr/lib/systemd/system'") == 0);
  REQUIRE(
      write_file_atomic(tree + "/DEBIAN/control",
                        "Package: " + package +
                            "\nVersion: 9.9.9\nArchitecture: amd64\nMaintainer: t <t@t>\nDescription: test\n",
                        0644)
          .ok());
  REQUIRE(
      write_file_atomic(tree + "/usr/lib/systemd/system/lpm-agent.service", "[Service]\nType=notify\n", 0644)
          .ok());
  REQUIRE(shell("dpkg-deb --root-owner-group --build '" + tree + "' '" + path + "' >/dev/null 2>&1") == 0);
}

} // namespace

TEST_CASE("client package: the defaults are the agent's system paths and a default printer",
          "[packaging][issue7]") {
  AgentConfig c = package_default_config();
  CHECK(c.data_folder == "/var/lib/lpm-agent");
  CHECK(c.control_socket == "/run/lpm/agent.sock");
  CHECK(c.release_listen.to_string() == "0.0.0.0:9443");
  CHECK(c.capture_listen.to_string() == "127.0.0.1:9167");
  CHECK(c.default_queue == "LPMServerless");
  CHECK(c.default_printer == "LPMServerless"); // AMB-26: the created queue becomes the default
  CHECK(c.print_and_keep_lifespan_hours == 48);
  CHECK(c.unprinted_jobs_lifespan_hours == 48);
}

TEST_CASE("client package: wrong choices are refused naming the option (PK-4)", "[packaging][issue7]") {
  TempDir dir;
  CHECK(check_client_package(complete(dir.path)).ok());
  struct Case {
    std::function<void(ClientPackageOptions &)> change;
    std::string option;
  };
  const Case cases[] = {
      {[](ClientPackageOptions &o) { o.driver = "pclxl"; }, "--driver"},
      {[](ClientPackageOptions &o) { o.serverless = false; }, "--serverless"},
      {[](ClientPackageOptions &o) { o.config.directory = {}; }, "--directory"},
      {[](ClientPackageOptions &o) { o.config.accounting.fingerprints.clear(); }, "--accounting"},
      {[](ClientPackageOptions &o) { o.enrollment_token = "two words"; }, "--token"},
      {[](ClientPackageOptions &o) { o.enrollment_token = std::string(600, 'x'); }, "--token"},
      {[](ClientPackageOptions &o) { o.config.site_name = "<i>HQ</i>"; }, "<SiteName>"},
      {[](ClientPackageOptions &o) { o.config.default_queue = "a b"; }, "<DefaultQueue>"},
      {[](ClientPackageOptions &o) { o.agent_deb.clear(); }, "--agent-deb"},
  };
  for (const auto &c : cases) {
    auto o = complete(dir.path);
    c.change(o);
    Status s = check_client_package(o);
    INFO(c.option);
    REQUIRE_FALSE(s.ok());
    CHECK(s.error().code == Errc::bad_request);
    CHECK_THAT(s.error().message, Catch::Contains(c.option));
  }
}

TEST_CASE(
    "client package: one folder with the configuration, the .deb, its unit, install.sh and the token (PK-5)",
    "[packaging][issue7]") {
  TempDir dir;
  auto o = complete(dir.path);
  o.config.site_name = "Site & Co";
  o.config.track_deleted_jobs = true;
  make_deb(dir.path, "lpm-agent", o.agent_deb);
  auto files = build_client_package(o);
  REQUIRE(files.ok());
  CHECK(*files == std::vector<std::string>{"configuration.xml", "lpm-agent_9.9.9_amd64.deb",
                                           "lpm-agent.service", "install.sh", "README.txt",
                                           "enrollment.token"});
  REQUIRE(shell("tar -xzf '" + o.output + "' -C '" + dir.path + "'") == 0);
  std::string folder = dir.path + "/lpm-client/";
  auto mode = [](const std::string &path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 ? static_cast<int>(st.st_mode & 0777) : -1;
  };
  CHECK(mode(folder + "configuration.xml") == 0600);
  CHECK(mode(folder + "enrollment.token") == 0600);
  CHECK(mode(folder + "install.sh") == 0755);
  auto config = load_agent_config(folder + "configuration.xml");
  REQUIRE(config.ok());
  CHECK(agent_config_to_xml(*config) == agent_config_to_xml(o.config));
  CHECK(read_file(folder + "enrollment.token", 100).value() == "tok3n-TEXT\n");
  CHECK(read_file(folder + "lpm-agent.service", 100).value() == "[Service]\nType=notify\n");
  CHECK(read_file(folder + "install.sh", 1 << 20).value() == install_script_text());
  CHECK_THAT(install_script_text(),
             Catch::StartsWith("#!/usr/bin/env bash") && Catch::Contains("--uninstall"));

  // Never over an existing archive, and never another package than the agent's.
  auto again = build_client_package(o);
  REQUIRE_FALSE(again.ok());
  CHECK_THAT(again.error().message, Catch::Contains("--output") && Catch::Contains("already exists"));
  auto other = complete(dir.path);
  other.output = dir.path + "/other.tar.gz";
  other.agent_deb = dir.path + "/lpm-cli_9.9.9_amd64.deb";
  make_deb(dir.path, "lpm-cli", other.agent_deb);
  auto refused = build_client_package(other);
  REQUIRE_FALSE(refused.ok());
  CHECK_THAT(refused.error().message, Catch::Contains("--agent-deb") && Catch::Contains("not lpm-agent"));
  struct stat st {};
  CHECK(::stat(other.output.c_str(), &st) != 0);

  // No token: no token file, and the README says how to enroll.
  auto tokenless = complete(dir.path);
  tokenless.enrollment_token.clear();
  tokenless.output = dir.path + "/tokenless.tar.gz";
  auto listed = build_client_package(tokenless);
  REQUIRE(listed.ok());
  CHECK(std::find(listed->begin(), listed->end(), "enrollment.token") == listed->end());
}
