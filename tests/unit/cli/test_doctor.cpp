// `lpm doctor` (issue 7): the verdict from the agent's status and what the command probed, and
// reading lpstat's answer. The command against a real agent, cupsd and directory is in
// tests/integration/cups_capture.sh.
#include <catch2/catch.hpp>

#include "doctor.h"

using namespace lpm;
using namespace lpm::cli;

namespace {

constexpr int64_t kNow = 1'790'000'000'000;

proto::AgentStatusResult healthy() {
  proto::AgentStatusResult s;
  s.workstation = "ws-1";
  s.now_ms = kNow;
  s.directory_up = true;
  s.directory_ok_ms = kNow - 20'000;
  s.skew_known = true;
  s.skew_ms = 300;
  s.accounting_configured = true;
  s.accounting_ok_ms = kNow - 5'000;
  s.release_host = "0.0.0.0";
  s.release_port = 9443;
  s.ipp_port = 9167;
  s.queue_name = "LPMServerless";
  s.data_folder = "/var/lib/lpm-agent";
  s.data_free_bytes = 10ULL << 30;
  s.data_total_bytes = 100ULL << 30;
  s.held_jobs = 2;
  return s;
}

DoctorProbes all_found() {
  DoctorProbes p;
  p.release_port_open = true;
  p.cups_found = true;
  p.queue_found = true;
  p.queue_uri = "ipp://localhost:9167/ipp/print";
  return p;
}

const DoctorCheck &named(const std::vector<DoctorCheck> &checks, const std::string &name) {
  for (const auto &c : checks)
    if (c.name == name) return c;
  FAIL("no check " << name);
  return checks.front();
}

} // namespace

TEST_CASE("lpm doctor: a healthy workstation passes every check, in order", "[cli][doctor][issue-7]") {
  auto checks = doctor_checks(healthy(), all_found());
  std::vector<std::string> names;
  for (const auto &c : checks) {
    names.push_back(c.name);
    INFO(doctor_line(c));
    CHECK(c.ok);
  }
  CHECK(names == std::vector<std::string>{"agent", "directory", "clock", "release port", "print queue",
                                          "disk", "accounting"});
  CHECK(doctor_line(named(checks, "directory")) ==
        "ok    directory: reachable with its pinned key, last registration 20 s ago");
  CHECK(named(checks, "clock").detail == "in step with the directory (within 1 s)");
  CHECK(named(checks, "disk").detail == "10.0 GiB free of 100.0 GiB in /var/lib/lpm-agent");
}

TEST_CASE("lpm doctor: each problem fails its own check and says what to do", "[cli][doctor][issue-7]") {
  SECTION("the directory gone for a while") {
    auto s = healthy();
    s.directory_up = false;
    s.directory_error = "connection refused";
    s.directory_error_ms = kNow - 90'000;
    s.directory_ok_ms = kNow - 600'000;
    auto c = named(doctor_checks(s, all_found()), "directory");
    CHECK_FALSE(c.ok);
    CHECK(c.detail == "not reachable (connection refused, 90 s ago); last registration 10 min ago: printers "
                      "cannot find the jobs held here");
  }
  SECTION("up, but no answer for longer than three heartbeats") {
    auto s = healthy();
    s.directory_ok_ms = kNow - 4 * 60'000;
    CHECK_FALSE(named(doctor_checks(s, all_found()), "directory").ok);
  }
  SECTION("the clock 95 s fast, or never compared") {
    auto s = healthy();
    s.skew_ms = -95'400;
    auto c = named(doctor_checks(s, all_found()), "clock");
    CHECK_FALSE(c.ok);
    CHECK(c.detail.find("95.4 s ahead of the directory: release tickets live 60 s") == 0);
    s.skew_known = false;
    CHECK_FALSE(named(doctor_checks(s, all_found()), "clock").ok);
  }
  SECTION("the release port closed") {
    auto p = all_found();
    p.release_port_open = false;
    p.release_error = "Connection refused";
    auto c = named(doctor_checks(healthy(), p), "release port");
    CHECK_FALSE(c.ok);
    CHECK(c.detail == "0.0.0.0:9443 does not accept connections (Connection refused): printers cannot fetch "
                      "jobs; check the firewall");
  }
  SECTION("no CUPS, no queue, a queue printing elsewhere") {
    auto p = all_found();
    p.cups_found = false;
    CHECK(named(doctor_checks(healthy(), p), "print queue").detail.find("CUPS is not installed") == 0);
    p = all_found();
    p.queue_found = false;
    p.queue_uri.clear();
    CHECK(named(doctor_checks(healthy(), p), "print queue").detail ==
          "no CUPS queue \"LPMServerless\": create it with lpadmin -p LPMServerless -E -v "
          "ipp://127.0.0.1:9167/ipp/print -m everywhere");
    p = all_found();
    p.queue_uri = "ipp://printer.example:631/ipp/print";
    auto c = named(doctor_checks(healthy(), p), "print queue");
    CHECK_FALSE(c.ok);
    CHECK(c.detail.find("not to this agent (port 9167)") != std::string::npos);
    p.queue_uri = "ipp://127.0.0.1:91670/ipp/print"; // another port that starts the same
    CHECK_FALSE(named(doctor_checks(healthy(), p), "print queue").ok);
  }
  SECTION("the disk nearly full") {
    auto s = healthy();
    s.data_free_bytes = 100ULL << 20;
    auto c = named(doctor_checks(s, all_found()), "disk");
    CHECK_FALSE(c.ok);
    CHECK(c.detail ==
          "100 MiB free of 100.0 GiB in /var/lib/lpm-agent: new jobs are refused when it is full");
  }
  SECTION("records waiting longer than twice the reporting interval") {
    auto s = healthy();
    s.reporting_interval_minutes = 15;
    s.outbox_records = 12;
    s.outbox_oldest_ms = kNow - 20 * 60'000; // within 30 min: fine
    CHECK(named(doctor_checks(s, all_found()), "accounting").ok);
    s.outbox_oldest_ms = kNow - 31 * 60'000;
    s.accounting_error = "unavailable: connection refused";
    auto c = named(doctor_checks(s, all_found()), "accounting");
    CHECK_FALSE(c.ok);
    CHECK(c.detail == "12 record(s) waiting since 31 min ago: unavailable: connection refused");
  }
}

TEST_CASE("lpm doctor reads lpstat -v", "[cli][doctor][issue-7]") {
  std::string out = "device for Other: ipp://10.0.0.9/ipp/print\n"
                    "device for LPMServerless: ipp://localhost:9167/ipp/print?waitjob=false\n";
  CHECK(lpstat_device_uri(out, "LPMServerless") == "ipp://localhost:9167/ipp/print?waitjob=false");
  CHECK(lpstat_device_uri(out, "LPM").empty());
  CHECK(lpstat_device_uri("", "LPMServerless").empty());
}
