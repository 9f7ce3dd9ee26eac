// Runs `lpm` in the test process, as a shell would run it: arguments, standard input from a
// string, standard output and error captured.
#pragma once

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "app.h"
#include "lpm/files.h"
#include "transport_support.h"

namespace lpm::test {

struct Outcome {
  int code = -1;
  std::string out;
  std::string err;
};

// Runs `lpm args...` with stdout and stderr captured in files; with `input`, stdin reads it
// (else stdin is left as it is); with `stderr_fd` (a terminal, say), stderr goes there instead.
inline Outcome run_lpm(const std::vector<std::string> &args, const std::optional<std::string> &input = {},
                       int stderr_fd = -1) {
  TempDir capture;
  std::string out_path = capture.path + "/out";
  std::string err_path = capture.path + "/err";
  std::string in_path = capture.path + "/in";
  if (input) REQUIRE(write_file_atomic(in_path, *input, 0600).ok());
  std::fflush(stdout);
  std::fflush(stderr);
  std::cout.flush();
  int saved_in = ::dup(0);
  int saved_out = ::dup(1);
  int saved_err = ::dup(2);
  int out_fd = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  int err_fd = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  REQUIRE((saved_in >= 0 && saved_out >= 0 && saved_err >= 0 && out_fd >= 0 && err_fd >= 0));
  if (input) {
    int in_fd = ::open(in_path.c_str(), O_RDONLY | O_CLOEXEC);
    REQUIRE(in_fd >= 0);
    ::dup2(in_fd, 0);
    ::close(in_fd);
  }
  ::dup2(out_fd, 1);
  ::dup2(stderr_fd >= 0 ? stderr_fd : err_fd, 2);
  std::vector<const char *> argv{"lpm"};
  for (const auto &a : args)
    argv.push_back(a.c_str());
  Outcome o;
  o.code = lpm::cli::lpm_main(static_cast<int>(argv.size()), argv.data());
  std::fflush(stdout);
  std::fflush(stderr);
  std::cout.flush();
  std::cerr.flush();
  ::dup2(saved_in, 0);
  ::dup2(saved_out, 1);
  ::dup2(saved_err, 2);
  for (int fd : {saved_in, saved_out, saved_err, out_fd, err_fd})
    ::close(fd);
  o.out = read_file(out_path, 1 << 20).value();
  o.err = read_file(err_path, 1 << 20).value();
  return o;
}

} // namespace lpm::test
