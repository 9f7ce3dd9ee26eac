// Badge lines: trimming, and the non-blocking line reader over a real pipe.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "badge_reader.h"
#include "transport_support.h"

using namespace lpm;
using namespace lpm::printer;

TEST_CASE("badge lines are trimmed of surrounding whitespace", "[printer][badge]") {
  CHECK(trim_badge_line("0042") == "0042");
  CHECK(trim_badge_line("  0042  ") == "0042");
  CHECK(trim_badge_line("\t0042\r") == "0042");
  CHECK(trim_badge_line("0042\r\n") == "0042");
  CHECK(trim_badge_line("AB 12") == "AB 12"); // inner spaces are part of the id
  CHECK(trim_badge_line("") == "");
  CHECK(trim_badge_line(" \t\r\v\f ") == "");
}

namespace {

// Reads every line of `input` through a pipe, as the station reads standard input.
std::vector<std::string> read_all(const std::string &input) {
  int fds[2];
  REQUIRE(::pipe2(fds, O_CLOEXEC) == 0);
  REQUIRE(input.size() < 60000); // fits the pipe buffer, so the write cannot block
  REQUIRE(::write(fds[1], input.data(), input.size()) == static_cast<ssize_t>(input.size()));
  ::close(fds[1]);

  test::TestLoop tl;
  std::vector<std::string> lines;
  {
    LineReader reader(&tl.loop, fds[0]);
    bool ended = false;
    std::function<void()> pump = [&] {
      for (;;) {
        auto line = reader.take_line();
        if (!line) break;
        lines.push_back(line->ok() ? line->value() : "<" + line->error().message + ">");
      }
      if (reader.at_end()) {
        ended = true;
        return;
      }
      reader.fill([&](Status s) {
        CHECK(s.ok());
        pump();
      });
    };
    pump();
    tl.run();
    CHECK(ended);
  }
  ::close(fds[0]);
  tl.finish();
  return lines;
}

} // namespace

TEST_CASE("the line reader splits input into lines, the last one unterminated", "[printer][badge]") {
  auto lines = read_all("0042\n  0043 \r\n\n0044");
  REQUIRE(lines.size() == 4);
  CHECK(lines[0] == "0042");
  CHECK(lines[1] == "  0043 \r");
  CHECK(lines[2] == "");
  CHECK(lines[3] == "0044");
  CHECK(read_all("").empty());
}

TEST_CASE("the line reader skips an over-long line whole instead of cutting it", "[printer][badge]") {
  std::string longline(LineReader::kMaxLineBytes + 500, '7');
  auto lines = read_all("0042\n" + longline + "\n0043\n" + std::string(9000, 'x'));
  REQUIRE(lines.size() == 4);
  CHECK(lines[0] == "0042");
  CHECK(lines[1].find("longer than") != std::string::npos);
  CHECK(lines[2] == "0043");
  CHECK(lines[3].find("longer than") != std::string::npos);
}

TEST_CASE("a line of exactly the cap is still a line", "[printer][badge]") {
  std::string at_cap(LineReader::kMaxLineBytes, '5');
  auto lines = read_all(at_cap + "\n");
  REQUIRE(lines.size() == 1);
  CHECK(lines[0] == at_cap);
}
