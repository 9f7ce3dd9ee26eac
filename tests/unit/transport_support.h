// Shared by the unit tests: a temporary folder and identities (every test binary: component
// tests have tests/unit on their include path), and for the transport tests (test_tls.cpp,
// test_rpc.cpp) an event loop with a watchdog and a byte pattern that reveals lost, duplicated or
// reordered bytes.
#pragma once

#include <catch2/catch.hpp>

#include <uv.h>

#include <cstdlib>
#include <filesystem>
#include <functional>
#include <memory>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "lpm/protocol/keys.h"
#include "lpm/protocol/stream.h"

namespace lpm::test {

// A fixed wall-clock time (November 2023) for the stores whose tests pass "now" themselves.
inline constexpr int64_t kFixedNowMs = 1'700'000'000'000;

// A fresh folder under /tmp, removed with everything in it when the object goes away.
struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/lpm-test-XXXXXX";
    char *made = ::mkdtemp(tmpl);
    REQUIRE(made != nullptr);
    path = made;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  TempDir(const TempDir &) = delete;
  TempDir &operator=(const TempDir &) = delete;
};

// A new identity `name` in `dir` (created if needed) whose certificate names `common_name`.
inline std::shared_ptr<proto::Identity> make_identity(const std::string &dir, const std::string &name,
                                                      const std::string &common_name) {
  auto id = proto::Identity::create(dir, name, common_name);
  REQUIRE(id.ok());
  return *id;
}

inline std::shared_ptr<proto::Identity> make_identity(const std::string &dir, const std::string &name) {
  return make_identity(dir, name, name);
}

// Identities made once per test binary: a server, a client, and a stranger nobody pins.
struct TestIdentities {
  TempDir dir;
  std::shared_ptr<proto::Identity> server = make_identity(dir.path, "server");
  std::shared_ptr<proto::Identity> client = make_identity(dir.path, "client");
  std::shared_ptr<proto::Identity> stranger = make_identity(dir.path, "stranger");
};

inline TestIdentities &ids() {
  static TestIdentities identities;
  return identities;
}

inline std::shared_ptr<proto::TlsContext> make_ctx(proto::TlsContext::Side side,
                                                   std::shared_ptr<proto::Identity> identity) {
  auto ctx = proto::TlsContext::create(side, std::move(identity));
  REQUIRE(ctx.ok());
  return *ctx;
}

// The seed of a randomised test: LPM_TEST_SEED when set (to repeat a failure), else a fresh one.
inline uint64_t test_seed() {
  if (const char *env = std::getenv("LPM_TEST_SEED"); env != nullptr && *env != '\0')
    return std::strtoull(env, nullptr, 10);
  return (static_cast<uint64_t>(std::random_device{}()) << 32) | std::random_device{}();
}

// A loop whose watchdog stops it (and fails the test) when a test hangs. The watchdog does not
// keep the loop alive, so run() returns exactly when every other handle is closed.
// Callbacks must not throw: they record what they saw and the test checks it after run().
class TestLoop {
public:
  explicit TestLoop(uint64_t watchdog_ms = 20000) {
    REQUIRE(uv_loop_init(&loop) == 0);
    uv_timer_init(&loop, &watchdog_);
    watchdog_.data = this;
    uv_timer_start(
        &watchdog_,
        [](uv_timer_t *t) {
          static_cast<TestLoop *>(t->data)->fired_ = true;
          uv_stop(t->loop);
        },
        watchdog_ms, 0);
    uv_unref(reinterpret_cast<uv_handle_t *>(&watchdog_));
  }
  // On a failed test the loop is abandoned: its handles may point at objects already gone.
  ~TestLoop() = default;
  TestLoop(const TestLoop &) = delete;
  TestLoop &operator=(const TestLoop &) = delete;

  // Runs until every handle is closed.
  void run() {
    uv_run(&loop, UV_RUN_DEFAULT);
    REQUIRE_FALSE(fired_);
  }
  // Runs until done() holds; fails if the loop runs out of handles first or the watchdog fires.
  void run_until(const std::function<bool()> &done) {
    while (!done()) {
      int alive = uv_run(&loop, UV_RUN_ONCE);
      REQUIRE_FALSE(fired_);
      if (!alive && !done()) FAIL("the loop has nothing left to run but the condition is not met");
    }
  }
  // Closes the watchdog and the loop; every other handle must already be closed.
  void finish() {
    uv_close(reinterpret_cast<uv_handle_t *>(&watchdog_), nullptr);
    uv_run(&loop, UV_RUN_DEFAULT);
    REQUIRE(uv_loop_close(&loop) == 0);
  }
  bool fired() const { return fired_; }

  uv_loop_t loop;

private:
  uv_timer_t watchdog_;
  bool fired_ = false;
};

// A fresh P-256 key pair; the test fails when none can be made.
inline std::unique_ptr<proto::KeyPair> new_key() {
  auto key = proto::KeyPair::generate();
  REQUIRE(key.ok());
  return std::move(key).value();
}

// How many of `lines` hold `needle` (log lines a test collected).
inline size_t count_containing(const std::vector<std::string> &lines, const std::string &needle) {
  size_t n = 0;
  for (const auto &l : lines)
    n += l.find(needle) != std::string::npos ? 1 : 0;
  return n;
}

// `lines` as one text, a line each: what a failed check shows.
inline std::string all_lines(const std::vector<std::string> &lines) {
  std::string s;
  for (const auto &l : lines)
    s += l + "\n";
  return s;
}

// Byte i of every test stream: byte (i % 8) of a 64-bit word derived from i / 8, so a byte lost,
// repeated or moved anywhere in a stream changes what is seen at that offset.
inline uint8_t pattern_byte(uint64_t offset) {
  uint64_t word = ((offset >> 3) + 1) * 0x9E3779B97F4A7C15ull;
  return static_cast<uint8_t>(word >> ((offset & 7) * 8));
}

inline void fill_pattern(uint8_t *out, size_t len, uint64_t offset) {
  for (size_t i = 0; i < len; i++) out[i] = pattern_byte(offset + i);
}

// Checks arriving bytes against the pattern and remembers the first offset that was wrong.
struct PatternCheck {
  uint64_t received = 0;
  bool ok = true;
  uint64_t first_bad = 0;
  void feed(std::span<const uint8_t> data) {
    for (size_t i = 0; i < data.size() && ok; i++) {
      if (data[i] != pattern_byte(received + i)) {
        ok = false;
        first_bad = received + i;
      }
    }
    received += data.size();
  }
};

} // namespace lpm::test
