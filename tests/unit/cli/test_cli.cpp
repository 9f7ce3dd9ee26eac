// The `lpm` command line: argument handling, format guessing, tables, the console's identity,
// and the errors a user sees when the agent or a server cannot be used.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "app.h"
#include "commands.h"
#include "lpm/files.h"
#include "run_lpm.h"
#include "table.h"
#include "transport_support.h"

using namespace lpm;
using namespace lpm::cli;
using lpm::test::Outcome;
using lpm::test::run_lpm;
using lpm::test::TempDir;

TEST_CASE("formats are guessed from the file extension", "[cli]") {
  CHECK(guess_format("report.pdf") == "application/pdf");
  CHECK(guess_format("reports/REPORT.PDF") == "application/pdf");
  CHECK(guess_format("drawing.ps") == "application/postscript");
  CHECK(guess_format("notes.txt") == "text/plain");
  CHECK(guess_format("page.pwg") == "image/pwg-raster");
  CHECK(guess_format("page.urf") == "image/urf");
  CHECK(guess_format("photo.jpg") == "application/octet-stream");
  CHECK(guess_format("Makefile") == "application/octet-stream");
  CHECK(guess_format("dir.pdf/file") == "application/octet-stream");
  CHECK(guess_format("archive.tar.pdf") == "application/pdf");
}

TEST_CASE("the agent socket comes from LPM_AGENT_SOCKET, else the system path", "[cli]") {
  const char *before = std::getenv("LPM_AGENT_SOCKET");
  std::string saved = before ? before : "";
  ::setenv("LPM_AGENT_SOCKET", "/tmp/elsewhere.sock", 1);
  CHECK(default_socket_path() == "/tmp/elsewhere.sock");
  ::setenv("LPM_AGENT_SOCKET", "", 1);
  CHECK(default_socket_path() == "/run/lpm/agent.sock");
  ::unsetenv("LPM_AGENT_SOCKET");
  CHECK(default_socket_path() == "/run/lpm/agent.sock");
  if (before) ::setenv("LPM_AGENT_SOCKET", saved.c_str(), 1);
}

TEST_CASE("tables pad columns, align numbers right and neutralise control characters", "[cli]") {
  std::string t = format_table({{"ID"}, {"TITLE"}, {"SIZE", true}},
                               {{"a1", "Quarterly report", "1200"}, {"b22", "x\x1b[2Jy", "7"}, {"c"}});
  CHECK(t == "ID   TITLE             SIZE\n"
             "a1   Quarterly report  1200\n"
             "b22  x?[2Jy               7\n"
             "c\n");
  // Multi-byte UTF-8 counts as one column per character.
  std::string u = format_table({{"NAME"}, {"N", true}}, {{"Zoë", "1"}, {"Al", "22"}});
  CHECK(u == "NAME   N\nZoë    1\nAl    22\n");
}

TEST_CASE("every command answers --help with its description", "[cli]") {
  struct Case {
    std::vector<std::string> args;
    std::string says;
  };
  std::vector<Case> cases = {
      {{"--help"}, "print and release jobs"},
      {{"print", "--help"}, "Hold a document"},
      {{"jobs", "--help"}, "List your jobs"},
      {{"notify", "--help"}, "Show a desktop notification"},
      {{"console", "--help"}, "administrator console"},
      {{"console", "init", "--help"}, "Create the console's data folder"},
      {{"console", "enroll", "--help"}, "Enroll the console's key"},
      {{"report", "--help"}, "Show your print usage"},
  };
  for (const auto &c : cases) {
    Outcome o = run_lpm(c.args);
    INFO(c.args.front() << " " << c.args.back() << ": " << o.out << o.err);
    CHECK(o.code == 0);
    CHECK(o.out.find(c.says) != std::string::npos);
  }
}

TEST_CASE("usage errors exit with 2", "[cli]") {
  CHECK(run_lpm({}).code == 2);
  CHECK(run_lpm({"frobnicate"}).code == 2);
  CHECK(run_lpm({"print"}).code == 2);
  CHECK(run_lpm({"print", "/etc/hostname", "--copies", "0"}).code == 2);
  CHECK(run_lpm({"print", "/etc/hostname", "--copies", "1000"}).code == 2);
  CHECK(run_lpm({"console"}).code == 2);
  CHECK(run_lpm({"report", "--data", "/tmp/x"}).code == 2);
  CHECK(run_lpm({"report", "--accounting", "127.0.0.1:9"}).code == 2);
  CHECK(run_lpm({"report", "--last", "0"}).code == 2);
  CHECK(run_lpm({"report", "--from", "2026-11-01", "--last", "3"}).code == 2);
  CHECK(run_lpm({"report", "--to", "2026-11-01"}).code == 2);
}

TEST_CASE("console init creates a private identity once and keeps it", "[cli]") {
  TempDir tmp;
  std::string data = tmp.path + "/console";
  Outcome first = run_lpm({"console", "init", "--data", data});
  REQUIRE(first.code == 0);
  REQUIRE(first.out.rfind("fingerprint ", 0) == 0);
  std::string fp = first.out.substr(12, 64);
  CHECK(proto::fingerprint_valid(fp));
  struct stat st {};
  REQUIRE(::stat(data.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0700);
  REQUIRE(::stat((data + "/identity.key").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  Outcome again = run_lpm({"console", "init", "--data", data});
  CHECK(again.code == 0);
  CHECK(again.out == first.out);
}

TEST_CASE("commands fail with one clear line when they cannot proceed", "[cli]") {
  TempDir tmp;
  std::string fp(64, 'a');

  Outcome missing = run_lpm({"print", tmp.path + "/nope.pdf", "--socket", tmp.path + "/agent.sock"});
  CHECK(missing.code == 1);
  CHECK(missing.err.find("cannot open " + tmp.path + "/nope.pdf") != std::string::npos);

  Outcome folder = run_lpm({"print", tmp.path, "--socket", tmp.path + "/agent.sock"});
  CHECK(folder.code == 1);
  CHECK(folder.err.find("is not a regular file") != std::string::npos);

  REQUIRE(write_file_atomic(tmp.path + "/doc.txt", std::string("hello\n"), 0600).ok());
  Outcome no_agent = run_lpm({"print", tmp.path + "/doc.txt", "--socket", tmp.path + "/agent.sock"});
  CHECK(no_agent.code == 1);
  CHECK(no_agent.err == "lpm: unavailable: cannot reach the agent at " + tmp.path +
                            "/agent.sock: connect unix: no such file or directory\n");

  Outcome jobs = run_lpm({"jobs", "--socket", tmp.path + "/agent.sock"});
  CHECK(jobs.code == 1);
  CHECK(jobs.err.find("cannot reach the agent") != std::string::npos);

  Outcome no_identity = run_lpm({"report", "--data", tmp.path + "/none", "--accounting", "127.0.0.1:9",
                                 "--accounting-fingerprint", fp});
  CHECK(no_identity.code == 1);
  CHECK(no_identity.err.find("run `lpm console init --data") != std::string::npos);

  Outcome bad_fp = run_lpm({"report", "--data", tmp.path, "--accounting", "127.0.0.1:9",
                            "--accounting-fingerprint", "not-a-fingerprint"});
  CHECK(bad_fp.code == 1);
  CHECK(bad_fp.err.find("fingerprint must be 64") != std::string::npos);

  Outcome bad_address = run_lpm({"console", "enroll", "--data", tmp.path + "/c", "--directory", "nowhere",
                                 "--directory-fingerprint", fp, "--token", "t"});
  CHECK(bad_address.code == 1);
  CHECK(bad_address.err.find("is not HOST:PORT") != std::string::npos);
}
