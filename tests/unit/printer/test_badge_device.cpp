// A card reader as an input device (issue 5, `--badge-device`): input_event records fed through
// a pipe come out as lines; opening what is not a grabbable evdev device fails precisely.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <linux/input.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "badge_device.h"
#include "lpm/files.h"
#include "transport_support.h"

using namespace lpm;
using namespace lpm::printer;

namespace {

input_event key(uint16_t code, int32_t value) {
  input_event e{};
  e.type = EV_KEY;
  e.code = code;
  e.value = value;
  return e;
}

// What a keyboard-mode reader sends for one key: the scan code, the press, a report, the release.
void tap(std::vector<input_event> &out, uint16_t code) {
  input_event scan{};
  scan.type = EV_MSC;
  scan.code = MSC_SCAN;
  scan.value = 0x70000 + code;
  input_event report{};
  report.type = EV_SYN;
  report.code = SYN_REPORT;
  out.push_back(scan);
  out.push_back(key(code, 1));
  out.push_back(report);
  out.push_back(key(code, 0));
  out.push_back(report);
}

void tap_shifted(std::vector<input_event> &out, uint16_t code) {
  out.push_back(key(KEY_LEFTSHIFT, 1));
  tap(out, code);
  out.push_back(key(KEY_LEFTSHIFT, 0));
}

// Writes `events` into a pipe (split at `split_at` bytes into two writes, to cut a record in
// two), ends it, and reads every line through a BadgeDevice on a real loop.
std::vector<std::string> read_lines(const std::vector<input_event> &events, size_t split_at = 0) {
  int fds[2];
  REQUIRE(::pipe2(fds, O_CLOEXEC) == 0);
  const auto *bytes = reinterpret_cast<const char *>(events.data());
  size_t size = events.size() * sizeof(input_event);
  REQUIRE(size < 60000); // fits the pipe buffer
  test::TestLoop tl;
  std::vector<std::string> lines;
  {
    auto device = BadgeDevice::from_fd(&tl.loop, fds[0], "test-reader");
    REQUIRE(device.ok());
    BadgeDevice &reader = **device;
    size_t first = split_at > 0 && split_at < size ? split_at : size;
    REQUIRE(::write(fds[1], bytes, first) == static_cast<ssize_t>(first));
    // A few loop turns with half a record in the pipe: nothing must come out of it yet.
    for (int i = 0; i < 3; i++)
      uv_run(&tl.loop, UV_RUN_NOWAIT);
    if (first < size)
      REQUIRE(::write(fds[1], bytes + first, size - first) == static_cast<ssize_t>(size - first));
    ::close(fds[1]);
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
    tl.run_until([&] { return ended; });
  }
  tl.run();
  tl.finish();
  return lines;
}

} // namespace

TEST_CASE("issue 5: the US key map of what card readers type", "[printer][badge_device]") {
  CHECK(us_key_char(KEY_1, false) == '1');
  CHECK(us_key_char(KEY_0, false) == '0');
  CHECK(us_key_char(KEY_1, true) == '!');
  CHECK(us_key_char(KEY_MINUS, false) == '-');
  CHECK(us_key_char(KEY_MINUS, true) == '_');
  CHECK(us_key_char(KEY_A, false) == 'a');
  CHECK(us_key_char(KEY_A, true) == 'A');
  CHECK(us_key_char(KEY_F, true) == 'F');
  CHECK(us_key_char(KEY_Q, false) == 'q');
  CHECK(us_key_char(KEY_P, true) == 'P');
  CHECK(us_key_char(KEY_Z, false) == 'z');
  CHECK(us_key_char(KEY_M, true) == 'M');
  CHECK(us_key_char(KEY_SEMICOLON, true) == ':');
  CHECK(us_key_char(KEY_COMMA, false) == ',');
  CHECK(us_key_char(KEY_SLASH, true) == '?');
  CHECK(us_key_char(KEY_BACKSLASH, false) == '\\');
  CHECK(us_key_char(KEY_KP7, false) == '7');
  CHECK(us_key_char(KEY_KP0, true) == '0');
  CHECK(us_key_char(KEY_KPMINUS, false) == '-');
  CHECK(us_key_char(KEY_SPACE, false) == ' ');
  CHECK(us_key_char(KEY_F1, false) == 0);
  CHECK(us_key_char(KEY_LEFTALT, false) == 0);
  CHECK(us_key_char(KEY_ENTER, false) == 0);
}

TEST_CASE("issue 5: key presses through the device become lines: digits, letters, shift, keypad",
          "[printer][badge_device]") {
  std::vector<input_event> events;
  for (uint16_t k : {KEY_0, KEY_0, KEY_4, KEY_2})
    tap(events, k);
  tap(events, KEY_ENTER);
  // "Ab-9f": shift makes upper case; auto-repeat (value 2) and unknown keys type nothing.
  tap_shifted(events, KEY_A);
  tap(events, KEY_B);
  events.push_back(key(KEY_B, 2));
  tap(events, KEY_F1);
  tap(events, KEY_LEFTMETA);
  tap(events, KEY_MINUS);
  tap(events, KEY_KP9);
  tap(events, KEY_F);
  tap(events, KEY_KPENTER);
  // A correction with backspace, and an empty line (Enter alone).
  for (uint16_t k : {KEY_1, KEY_2, KEY_BACKSPACE, KEY_3, KEY_ENTER, KEY_ENTER})
    tap(events, k);
  // An unterminated line at the end is not a badge (it may be cut).
  tap(events, KEY_7);
  auto lines = read_lines(events);
  REQUIRE(lines.size() == 4);
  CHECK(lines[0] == "0042");
  CHECK(lines[1] == "Ab-9f");
  CHECK(lines[2] == "13");
  CHECK(lines[3] == "");
}

TEST_CASE("issue 5: a record split across reads is put back together", "[printer][badge_device]") {
  std::vector<input_event> events;
  for (uint16_t k : {KEY_5, KEY_5, KEY_ENTER})
    tap(events, k);
  auto lines = read_lines(events, sizeof(input_event) * 3 + 7);
  REQUIRE(lines.size() == 1);
  CHECK(lines[0] == "55");
}

TEST_CASE("issue 5: an over-long line from the device is skipped whole, lost events skip the line",
          "[printer][badge_device]") {
  std::vector<input_event> events;
  for (size_t i = 0; i < LineSource::kMaxLineBytes + 10; i++)
    events.push_back(key(KEY_7, 1));
  events.push_back(key(KEY_ENTER, 1));
  for (uint16_t k : {KEY_4, KEY_3})
    events.push_back(key(k, 1));
  events.push_back(key(KEY_ENTER, 1));
  // The kernel dropped events in the middle of a line: none of it counts.
  events.push_back(key(KEY_8, 1));
  input_event dropped{};
  dropped.type = EV_SYN;
  dropped.code = SYN_DROPPED;
  events.push_back(dropped);
  events.push_back(key(KEY_9, 1));
  events.push_back(key(KEY_ENTER, 1));
  events.push_back(key(KEY_1, 1));
  events.push_back(key(KEY_ENTER, 1));
  auto lines = read_lines(events);
  REQUIRE(lines.size() == 4);
  CHECK(lines[0] == "<input line longer than 1024 bytes skipped>");
  CHECK(lines[1] == "43");
  CHECK(lines[2] == "<badge device test-reader: key presses were lost: line skipped>");
  CHECK(lines[3] == "1");
}

TEST_CASE("issue 5: a line of exactly the cap from the device is still a line", "[printer][badge_device]") {
  std::vector<input_event> events;
  for (size_t i = 0; i < LineSource::kMaxLineBytes; i++)
    events.push_back(key(KEY_6, 1));
  events.push_back(key(KEY_ENTER, 1));
  auto lines = read_lines(events);
  REQUIRE(lines.size() == 1);
  CHECK(lines[0] == std::string(LineSource::kMaxLineBytes, '6'));
}

TEST_CASE("issue 5: too many lines waiting are dropped and said once", "[printer][badge_device]") {
  test::TestLoop tl;
  int fds[2];
  REQUIRE(::pipe2(fds, O_CLOEXEC) == 0);
  {
    auto device = BadgeDevice::from_fd(&tl.loop, fds[0], "test-reader");
    REQUIRE(device.ok());
    for (size_t i = 0; i < BadgeDevice::kMaxQueuedLines + 5; i++) {
      (*device)->feed(key(KEY_1, 1));
      (*device)->feed(key(KEY_ENTER, 1));
    }
    size_t lines = 0;
    size_t errors = 0;
    while (auto line = (*device)->take_line())
      (line->ok() ? lines : errors)++;
    CHECK(lines == BadgeDevice::kMaxQueuedLines);
    CHECK(errors == 1);
  }
  ::close(fds[1]);
  tl.run();
  tl.finish();
}

TEST_CASE("issue 5: a badge device that is missing or not an input device is refused precisely",
          "[printer][badge_device]") {
  test::TestLoop tl;
  test::TempDir tmp;
  auto missing = BadgeDevice::open(&tl.loop, tmp.path + "/event99");
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().code == Errc::not_found);
  CHECK(missing.error().message == "badge device " + tmp.path + "/event99: no such device");

  auto not_evdev = BadgeDevice::open(&tl.loop, "/dev/null");
  REQUIRE_FALSE(not_evdev.ok());
  CHECK(not_evdev.error().code == Errc::bad_request);
  CHECK(not_evdev.error().message.find("badge device /dev/null: not an input event device") == 0);

  REQUIRE(write_file_atomic(tmp.path + "/plain", std::string("0042\n"), 0644).ok());
  auto plain = BadgeDevice::open(&tl.loop, tmp.path + "/plain");
  REQUIRE_FALSE(plain.ok());
  CHECK(plain.error().code == Errc::bad_request);

  if (::geteuid() != 0) { // root reads any file
    REQUIRE(::chmod((tmp.path + "/plain").c_str(), 0) == 0);
    auto denied = BadgeDevice::open(&tl.loop, tmp.path + "/plain");
    REQUIRE_FALSE(denied.ok());
    CHECK(denied.error().code == Errc::forbidden);
  }
  tl.run();
  tl.finish();
}
