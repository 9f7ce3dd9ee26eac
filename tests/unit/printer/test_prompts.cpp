// The release station's prompts (issue 5): a PIN when the directory answers pin_required, and
// self-registration of a badge the directory answers not_found for (BD-1, TS-2). A small in-test
// peer stands in for the directory over real TLS on loopback, answering badge-in and
// badge-register from memory as docs/protocol.md §5.1.2 says the real one does; the real
// directory is driven end to end in tests/integration/badge_in.sh.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <linux/input.h>
#include <unistd.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "badge_device.h"
#include "cli/pty_support.h"
#include "lpm/ids.h"
#include "lpm/protocol/ops_release.h"
#include "lpm/protocol/rpc.h"
#include "release_station.h"
#include "transport_support.h"

using namespace lpm;
using namespace lpm::printer;
using lpm::test::all_lines;
using lpm::test::count_containing;
using lpm::test::TempDir;

namespace {

struct KnownBadge {
  std::string user;
  std::string display_name;
  std::string pin; // "" : no PIN asked
};

struct Account {
  std::string password;
  std::string user;
  std::string display_name;
  std::optional<Error> refusal; // what badge-register answers after a right password
};

// The directory's badge ops, from memory.
struct DirectoryPeer {
  std::shared_ptr<proto::Identity> identity;
  std::shared_ptr<proto::Listener> listener;
  std::map<std::string, KnownBadge> badges;
  std::map<std::string, Account> accounts;     // by e-mail
  std::map<std::string, Error> refused_badges; // badge-in answers this error
  int wrong_pins = 0;
  int wrong_pin_limit = 100;         // wrong PINs before rate_limited
  std::vector<std::string> requests; // "badge-in B", "badge-in B pin P", "badge-register B E"

  proto::BadgeInResult ticket_for(const KnownBadge &who) {
    proto::BadgeInResult r;
    r.user = who.user;
    r.display_name = who.display_name;
    r.ticket.body = {1, 2, 3};
    r.ticket.signature = {4};
    return r;
  }

  static void answer(const proto::CallPtr &call, const proto::BadgeInResult &r) {
    proto::MapWriter w;
    r.write(w);
    call->reply(w);
  }

  void start(uv_loop_t *loop, const std::string &dir) {
    identity = test::make_identity(dir, "directory");
    auto dispatcher = std::make_shared<proto::Dispatcher>();
    dispatcher->on(proto::op::badge_in, [this](proto::CallPtr call) {
      proto::BadgeInRequest req;
      req.read(call->args());
      if (!call->args().ok()) return call->fail(call->args().error());
      requests.push_back("badge-in " + req.badge + (req.pin.empty() ? "" : " pin " + req.pin));
      if (auto refused = refused_badges.find(req.badge); refused != refused_badges.end())
        return call->fail(refused->second);
      auto known = badges.find(req.badge);
      if (known == badges.end())
        return call->fail(Errc::not_found, "unknown badge: its holder may register it at this printer");
      if (!known->second.pin.empty()) {
        if (req.pin.empty()) {
          proto::BadgeInResult ask;
          ask.pin_required = true;
          return answer(call, ask);
        }
        if (wrong_pins >= wrong_pin_limit)
          return call->fail(Errc::rate_limited, "too many wrong PINs for this user: try again in 15 minutes");
        if (req.pin != known->second.pin) {
          wrong_pins++;
          return call->fail(Errc::unauthenticated, "wrong PIN");
        }
      }
      answer(call, ticket_for(known->second));
    });
    dispatcher->on(proto::op::badge_register, [this](proto::CallPtr call) {
      proto::BadgeRegisterRequest req;
      req.read(call->args());
      if (!call->args().ok()) return call->fail(call->args().error());
      requests.push_back("badge-register " + req.badge + " " + req.email);
      auto account = accounts.find(req.email);
      if (account == accounts.end() || account->second.password != req.password)
        return call->fail(Errc::unauthenticated, "wrong e-mail address or password");
      if (account->second.refusal) return call->fail(*account->second.refusal);
      KnownBadge who{account->second.user, account->second.display_name, ""};
      badges[req.badge] = who;
      answer(call, ticket_for(who));
    });
    auto ctx = test::make_ctx(proto::TlsContext::Side::server, identity);
    auto l = proto::Listener::listen_tls(loop, ctx, proto::Endpoint{"127.0.0.1", 0}, proto::StreamLimits{},
                                         [dispatcher](proto::StreamPtr stream) {
                                           proto::PeerOptions po;
                                           po.role = proto::role::directory;
                                           po.accept_roles = {proto::role::printer};
                                           po.dispatcher = dispatcher;
                                           proto::Peer::attach(stream, po);
                                         });
    REQUIRE(l.ok());
    listener = *l;
  }

  size_t count(const std::string &prefix) const {
    size_t n = 0;
    for (const auto &r : requests)
      n += r.rfind(prefix, 0) == 0 ? 1 : 0;
    return n;
  }
};

// A station whose directory is the peer above, reading badges and answers from a pipe the test
// writes (what a card reader in keyboard mode and a person at its keypad type).
struct PromptRig {
  TempDir tmp;
  test::TestLoop tl;
  uv_loop_t *loop = &tl.loop;
  DirectoryPeer directory;
  std::unique_ptr<Device> device;
  std::vector<std::string> lines;
  std::shared_ptr<ReleaseStation> station;
  int input[2] = {-1, -1};
  bool ran = false;

  explicit PromptRig(bool prompts = true, uint32_t prompt_timeout_ms = 60000) {
    directory.start(loop, tmp.path);
    directory.badges["0042"] = {uuid_v7(), "Ada Lovelace", "2468"};
    directory.badges["0043"] = {uuid_v7(), "Bob Builder", ""};
    directory.accounts["ada@example.com"] = {"Ada-Password-1", uuid_v7(), "Ada Lovelace", std::nullopt};
    auto dev = open_device(loop, "file://" + tmp.path + "/out");
    REQUIRE(dev.ok());
    device = std::move(*dev);
    StationOptions options;
    options.directory = proto::Endpoint{"127.0.0.1", directory.listener->port()};
    options.directory_pins = {directory.identity->fingerprint()};
    options.release.printer_name = "test-printer";
    options.prompts = prompts;
    options.prompt_timeout_ms = prompt_timeout_ms;
    station = ReleaseStation::create(
        loop, test::make_ctx(proto::TlsContext::Side::client, test::make_identity(tmp.path, "station")),
        *device, options, [this](const std::string &line) { lines.push_back(line); });
    REQUIRE(::pipe2(input, O_CLOEXEC) == 0);
  }

  void type(const std::string &text) const {
    REQUIRE(::write(input[1], text.data(), text.size()) == static_cast<ssize_t>(text.size()));
  }
  void end_input() {
    ::close(input[1]);
    input[1] = -1;
  }

  // Types `script`, ends the input and runs the station until it has read everything.
  void run(const std::string &script) {
    type(script);
    end_input();
    run_to_end(nullptr);
  }

  // Runs the station over the pipe; `meanwhile`, when given, runs once the loop has been
  // started (it may type and must end the input).
  void run_to_end(const std::function<void(LineReader &)> &meanwhile) {
    LineReader reader(loop, input[0]);
    bool done = false;
    station->run_badges(reader, [&] { done = true; });
    if (meanwhile) meanwhile(reader);
    tl.run_until([&] { return done; });
    ran = true;
  }

  ~PromptRig() {
    if (input[1] >= 0) ::close(input[1]);
    ::close(input[0]);
    if (std::uncaught_exceptions() > 0) return;
    bool closed = false;
    station->close([&] { closed = true; });
    station.reset();
    directory.listener->close();
    tl.run();
    CHECK(closed);
    tl.finish();
  }
};

} // namespace

TEST_CASE("issue 5: the station asks for the PIN the directory requires and releases with it",
          "[printer][prompts]") {
  PromptRig rig;
  rig.run("0042\n2468\n");
  INFO(all_lines(rig.lines));
  REQUIRE(rig.directory.requests == std::vector<std::string>{"badge-in 0042", "badge-in 0042 pin 2468"});
  REQUIRE(rig.lines.size() == 2);
  CHECK(rig.lines[0] == "PIN for badge 0042 (empty line to cancel):");
  CHECK(rig.lines[1].rfind("released 0 job(s) for Ada Lovelace in ", 0) == 0);
  CHECK(count_containing(rig.lines, "2468") == 0); // the PIN is never shown
}

TEST_CASE("issue 5: a wrong PIN is said and asked again, the right one then releases", "[printer][prompts]") {
  PromptRig rig;
  rig.run("0042\n1111\n2468\n");
  INFO(all_lines(rig.lines));
  CHECK(rig.directory.count("badge-in 0042 pin ") == 2);
  CHECK(count_containing(rig.lines, "PIN for badge 0042") == 2);
  CHECK(count_containing(rig.lines, "badge 0042: unauthenticated: wrong PIN") == 1);
  CHECK(count_containing(rig.lines, "released 0 job(s) for Ada Lovelace") == 1);
  CHECK(count_containing(rig.lines, "1111") == 0);
}

TEST_CASE("issue 5: three wrong PINs end the badge and the next line is a badge again",
          "[printer][prompts]") {
  PromptRig rig;
  rig.run("0042\n1111\n2222\n3333\n0043\n");
  INFO(all_lines(rig.lines));
  CHECK(rig.directory.count("badge-in 0042 pin ") == 3);
  CHECK(count_containing(rig.lines, "PIN for badge 0042") == 3);
  CHECK(count_containing(rig.lines, "wrong PIN") == 4); // three answers and the summary
  CHECK(count_containing(rig.lines, "badge 0042: 3 wrong PINs: badge in again") == 1);
  CHECK(rig.directory.requests.back() == "badge-in 0043");
  CHECK(rig.lines.back().rfind("released 0 job(s) for Bob Builder in ", 0) == 0);
}

TEST_CASE("issue 5: rate_limited after wrong PINs is shown and the station asks no more",
          "[printer][prompts]") {
  PromptRig rig;
  rig.directory.wrong_pin_limit = 1;
  rig.run("0042\n1111\n2468\n0043\n");
  INFO(all_lines(rig.lines));
  // The right PIN comes too late: the directory refuses it and the station stops asking.
  CHECK(rig.directory.count("badge-in 0042 pin ") == 2);
  CHECK(count_containing(rig.lines, "PIN for badge 0042") == 2);
  CHECK(count_containing(
            rig.lines,
            "badge 0042: rate_limited: too many wrong PINs for this user: try again in 15 minutes") == 1);
  CHECK(count_containing(rig.lines, "released 0 job(s) for Ada") == 0);
  CHECK(count_containing(rig.lines, "released 0 job(s) for Bob Builder") == 1);
}

TEST_CASE("issue 5: an empty line cancels the PIN prompt", "[printer][prompts]") {
  PromptRig rig;
  rig.run("0042\n\n0043\n");
  INFO(all_lines(rig.lines));
  CHECK(rig.directory.requests == std::vector<std::string>{"badge-in 0042", "badge-in 0043"});
  CHECK(count_containing(rig.lines, "badge 0042: cancelled") == 1);
  CHECK(count_containing(rig.lines, "released 0 job(s) for Bob Builder") == 1);
}

TEST_CASE("issue 5: a prompt nobody answers is cancelled after the prompt timeout", "[printer][prompts]") {
  PromptRig rig(true, 300);
  int64_t started_ms = mono_ms();
  int64_t cancelled_ms = 0;
  rig.type("0042\n");
  rig.run_to_end([&](LineReader &) {
    rig.tl.run_until([&] { return count_containing(rig.lines, "no answer within") > 0; });
    cancelled_ms = mono_ms() - started_ms;
    // The read the prompt started goes on: what is typed next is the next badge.
    rig.type("0043\n");
    rig.end_input();
  });
  INFO(all_lines(rig.lines));
  CHECK(count_containing(rig.lines, "badge 0042: no answer within 300 ms: cancelled") == 1);
  CHECK(cancelled_ms >= 300);
  CHECK(cancelled_ms < 5000);
  CHECK(rig.directory.requests == std::vector<std::string>{"badge-in 0042", "badge-in 0043"});
  CHECK(rig.lines.back().rfind("released 0 job(s) for Bob Builder", 0) == 0);
}

TEST_CASE("BD-1 TS-2: an unknown badge is registered by the user who signs in and releases at once",
          "[printer][prompts]") {
  PromptRig rig;
  rig.run("NEW-1\nada@example.com\nAda-Password-1\nNEW-1\n");
  INFO(all_lines(rig.lines));
  REQUIRE(rig.lines.size() >= 6);
  CHECK(rig.lines[0] == "badge NEW-1: unknown badge: sign in to register it (empty line to cancel)");
  CHECK(rig.lines[1] == "e-mail:");
  CHECK(rig.lines[2] == "password:");
  CHECK(rig.lines[3] == "badge NEW-1 registered to Ada Lovelace");
  CHECK(rig.lines[4].rfind("released 0 job(s) for Ada Lovelace in ", 0) == 0);
  // Registered: the same badge is known the next time, without prompts.
  CHECK(rig.lines[5].rfind("released 0 job(s) for Ada Lovelace in ", 0) == 0);
  CHECK(rig.lines.size() == 6);
  CHECK(rig.directory.requests ==
        std::vector<std::string>{"badge-in NEW-1", "badge-register NEW-1 ada@example.com", "badge-in NEW-1"});
  CHECK(count_containing(rig.lines, "Ada-Password-1") == 0);
}

TEST_CASE("BD-1: a wrong password is said and the sign-in asked again, at most three times",
          "[printer][prompts]") {
  SECTION("wrong, then right") {
    PromptRig rig;
    rig.run("NEW-1\nada@example.com\nnot-it\nada@example.com\nAda-Password-1\n");
    INFO(all_lines(rig.lines));
    CHECK(rig.directory.count("badge-register NEW-1 ") == 2);
    CHECK(count_containing(rig.lines, "badge NEW-1: unauthenticated: wrong e-mail address or password") == 1);
    CHECK(count_containing(rig.lines, "e-mail:") == 2);
    CHECK(count_containing(rig.lines, "badge NEW-1 registered to Ada Lovelace") == 1);
    CHECK(count_containing(rig.lines, "released 0 job(s) for Ada Lovelace") == 1);
  }
  SECTION("three wrong") {
    PromptRig rig;
    rig.run("NEW-1\na@x\n1\nb@x\n2\nada@example.com\n3\n0043\n");
    INFO(all_lines(rig.lines));
    CHECK(rig.directory.count("badge-register NEW-1 ") == 3);
    CHECK(count_containing(rig.lines, "e-mail:") == 3);
    CHECK(count_containing(rig.lines, "badge NEW-1: 3 failed sign-ins: badge in again") == 1);
    CHECK(rig.directory.requests.back() == "badge-in 0043");
    CHECK(rig.directory.badges.count("NEW-1") == 0);
  }
}

TEST_CASE("BD-5 PM-11: a refused self-registration shows the directory's message and asks no more",
          "[printer][prompts]") {
  PromptRig rig;
  rig.directory.accounts["fed@example.com"] = {
      "Fed-Password-1", uuid_v7(), "Fed",
      make_error(Errc::forbidden, "your badges come from the corporate directory: ask an administrator")};
  rig.directory.accounts["bob@example.com"] = {
      "Bob-Password-1", uuid_v7(), "Bob",
      make_error(Errc::conflict, "this badge is registered to another user: ask an administrator")};
  rig.run("NEW-1\nfed@example.com\nFed-Password-1\nNEW-2\nbob@example.com\nBob-Password-1\n0043\n");
  INFO(all_lines(rig.lines));
  CHECK(count_containing(
            rig.lines,
            "badge NEW-1: forbidden: your badges come from the corporate directory: ask an administrator") ==
        1);
  CHECK(count_containing(rig.lines, "badge NEW-2: conflict: this badge is registered to another user") == 1);
  CHECK(count_containing(rig.lines, "e-mail:") == 2); // one sign-in each, none asked again
  CHECK(count_containing(rig.lines, "badge NEW-1 registered") == 0);
  CHECK(count_containing(rig.lines, "badge NEW-2 registered") == 0);
  CHECK(rig.directory.requests.back() == "badge-in 0043");
}

TEST_CASE("BD-1: an empty line cancels the self-registration at either question", "[printer][prompts]") {
  PromptRig rig;
  rig.run("NEW-1\n\nNEW-2\nada@example.com\n\n");
  INFO(all_lines(rig.lines));
  CHECK(count_containing(rig.lines, "badge NEW-1: cancelled") == 1);
  CHECK(count_containing(rig.lines, "badge NEW-2: cancelled") == 1);
  CHECK(rig.directory.count("badge-register") == 0);
}

TEST_CASE("BD-5: self-registration is offered on not_found only, never on another refusal",
          "[printer][prompts]") {
  PromptRig rig;
  rig.directory.refused_badges["OFF-1"] = make_error(
      Errc::forbidden, "unknown badge; badges are registered by an administrator (self-registration is off)");
  rig.directory.refused_badges["TEMP-1"] = make_error(Errc::expired, "this temporary badge has expired");
  rig.directory.refused_badges["NOROLE-1"] =
      make_error(Errc::forbidden, "the user does not hold Print Release Management User");
  rig.run("OFF-1\n0043\nTEMP-1\nNOROLE-1\n");
  INFO(all_lines(rig.lines));
  CHECK(count_containing(rig.lines, "e-mail:") == 0);
  CHECK(count_containing(rig.lines, "sign in") == 0);
  REQUIRE(rig.lines.size() == 4);
  CHECK(rig.lines[0].rfind("badge OFF-1: forbidden: unknown badge;", 0) == 0);
  // The next line is a badge again, not an answer to a question.
  CHECK(rig.lines[1].rfind("released 0 job(s) for Bob Builder", 0) == 0);
  CHECK(rig.lines[2] == "badge TEMP-1: expired: this temporary badge has expired");
  CHECK(rig.lines[3].rfind("badge NOROLE-1: forbidden: ", 0) == 0);
  CHECK(rig.directory.count("badge-register") == 0);
}

TEST_CASE("issue 5: with prompts off the station never asks", "[printer][prompts]") {
  PromptRig rig(false);
  rig.run("0042\n2468\nNEW-1\n");
  INFO(all_lines(rig.lines));
  CHECK(rig.directory.requests ==
        std::vector<std::string>{"badge-in 0042", "badge-in 2468", "badge-in NEW-1"});
  CHECK(count_containing(rig.lines, "badge 0042: the directory asks for a PIN after this badge (this station "
                                    "does not ask: prompts are off)") == 1);
  CHECK(count_containing(rig.lines, "badge NEW-1: unknown badge") == 1);
  CHECK(count_containing(rig.lines, "sign in") == 0);
  CHECK(count_containing(rig.lines, "PIN for") == 0);
}

TEST_CASE("issue 5: on a terminal the PIN is typed with echo off, and echo comes back",
          "[printer][prompts]") {
  PromptRig rig;
  lpm::cli::test::Pty pty;
  REQUIRE(pty.echo_on());
  LineReader reader(rig.loop, pty.slave);
  CHECK(reader.terminal_fd() == pty.slave);
  bool done = false;
  rig.station->run_badges(reader, [&] { done = true; });
  pty.type("0042\n");
  rig.tl.run_until([&] { return count_containing(rig.lines, "PIN for badge 0042") > 0; });
  CHECK_FALSE(pty.echo_on());
  pty.type("2468\n");
  rig.tl.run_until([&] { return count_containing(rig.lines, "released") > 0; });
  CHECK(pty.echo_on());
  std::string shown = pty.shown();
  CHECK(shown.find("0042") != std::string::npos); // the badge was echoed, the PIN not
  CHECK(shown.find("2468") == std::string::npos);
  pty.type("\x04"); // Ctrl-D at the start of a line: the end of input
  rig.tl.run_until([&] { return done; });
  INFO(all_lines(rig.lines));
  CHECK(rig.directory.requests.back() == "badge-in 0042 pin 2468");
}

TEST_CASE("issue 5: badges and the PIN come from a card reader's keypad (input device)",
          "[printer][prompts]") {
  PromptRig rig;
  int events[2];
  REQUIRE(::pipe2(events, O_CLOEXEC) == 0);
  auto device = BadgeDevice::from_fd(rig.loop, events[0], "test-reader");
  REQUIRE(device.ok());
  auto press = [&](uint16_t code) {
    input_event e{};
    e.type = EV_KEY;
    e.code = code;
    e.value = 1;
    REQUIRE(::write(events[1], &e, sizeof e) == static_cast<ssize_t>(sizeof e));
    e.value = 0;
    REQUIRE(::write(events[1], &e, sizeof e) == static_cast<ssize_t>(sizeof e));
  };
  for (uint16_t key :
       {KEY_0, KEY_0, KEY_4, KEY_2, KEY_ENTER, KEY_KP2, KEY_KP4, KEY_KP6, KEY_KP8, KEY_KPENTER})
    press(key);
  ::close(events[1]);
  bool done = false;
  rig.station->run_badges(**device, [&] { done = true; });
  rig.tl.run_until([&] { return done; });
  INFO(all_lines(rig.lines));
  CHECK(rig.directory.requests == std::vector<std::string>{"badge-in 0042", "badge-in 0042 pin 2468"});
  CHECK(count_containing(rig.lines, "released 0 job(s) for Ada Lovelace") == 1);
  device->reset();
}

TEST_CASE("issue 5: a PIN prompt that times out on a terminal gives the echo back", "[printer][prompts]") {
  PromptRig rig(true, 200);
  lpm::cli::test::Pty pty;
  LineReader reader(rig.loop, pty.slave);
  bool done = false;
  rig.station->run_badges(reader, [&] { done = true; });
  pty.type("0042\n");
  rig.tl.run_until([&] { return count_containing(rig.lines, "PIN for badge 0042") > 0; });
  CHECK_FALSE(pty.echo_on());
  rig.tl.run_until([&] { return count_containing(rig.lines, "no answer within 200 ms") > 0; });
  CHECK(pty.echo_on());
  pty.type("\x04");
  rig.tl.run_until([&] { return done; });
  INFO(all_lines(rig.lines));
  CHECK(rig.directory.requests == std::vector<std::string>{"badge-in 0042"});
}
