// Frames and msgpack under hostile input (issue 2: oversize length, truncated frame, invalid
// msgpack, deep nesting, huge declared array, version mismatch).
#include <catch2/catch.hpp>

#include "lpm/ids.h"
#include "lpm/protocol/wire.h"

using namespace lpm;
using namespace lpm::proto;

static Bytes b(std::initializer_list<int> v) {
  Bytes out;
  for (int x : v) out.push_back(static_cast<uint8_t>(x));
  return out;
}

TEST_CASE("frame decoder refuses an oversize length before buffering", "[frame]") {
  FrameDecoder dec(1024);
  int frames = 0;
  Bytes header = b({0x00, 0x00, 0x04, 0x01}); // 1025 > 1024
  Status s = dec.feed(header, [&](std::span<const uint8_t>) { frames++; return Status{}; });
  REQUIRE_FALSE(s.ok());
  CHECK(s.error().code == Errc::too_large);
  CHECK(dec.buffered() <= 4);
  CHECK(frames == 0);
}

TEST_CASE("frame decoder reassembles frames split at every byte", "[frame]") {
  MapWriter args;
  args.str("badge", "0451");
  Bytes one = frame(encode_request(uuid_v7(), "badge-in", args));
  Bytes stream = one;
  stream.insert(stream.end(), one.begin(), one.end());
  FrameDecoder dec;
  int frames = 0;
  for (uint8_t byte : stream) {
    Status s = dec.feed(std::span<const uint8_t>(&byte, 1), [&](std::span<const uint8_t> body) {
      auto env = decode_envelope(body);
      REQUIRE(env.ok());
      CHECK(env->op == "badge-in");
      frames++;
      return Status{};
    });
    REQUIRE(s.ok());
  }
  CHECK(frames == 2);
  CHECK(dec.buffered() == 0);
}

TEST_CASE("a truncated frame yields nothing and keeps waiting", "[frame]") {
  MapWriter args;
  Bytes one = frame(encode_request(uuid_v7(), "list-jobs", args));
  one.pop_back();
  FrameDecoder dec;
  int frames = 0;
  REQUIRE(dec.feed(one, [&](std::span<const uint8_t>) { frames++; return Status{}; }).ok());
  CHECK(frames == 0);
  CHECK(dec.buffered() == one.size());
}

TEST_CASE("zero-length frames are a protocol error", "[frame]") {
  FrameDecoder dec;
  Status s = dec.feed(b({0, 0, 0, 0}), [](std::span<const uint8_t>) { return Status{}; });
  REQUIRE_FALSE(s.ok());
  CHECK(s.error().code == Errc::protocol_error);
}

TEST_CASE("invalid msgpack is refused with a precise error", "[msgpack]") {
  SECTION("reserved type byte") {
    auto r = unpack_map(b({0x81, 0xa1, 'a', 0xc1}));
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Errc::protocol_error);
  }
  SECTION("not a map") {
    auto r = unpack_map(b({0x93, 1, 2, 3}));
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message.find("not a msgpack map") != std::string::npos);
  }
  SECTION("truncated string") {
    auto r = unpack_map(b({0x81, 0xa5, 'a'}));
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message.find("truncated") != std::string::npos);
  }
  SECTION("trailing bytes") {
    auto r = unpack_map(b({0x80, 0x00}));
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message.find("trailing") != std::string::npos);
  }
  SECTION("extension types") {
    auto r = unpack_map(b({0x81, 0xa1, 'a', 0xd4, 1, 2}));
    REQUIRE_FALSE(r.ok());
  }
}

TEST_CASE("deep nesting is refused", "[msgpack]") {
  Bytes v = {0x81, 0xa1, 'a'};
  for (int i = 0; i < 100; i++) v.push_back(0x91); // arrays of one array ...
  v.push_back(0x00);
  auto r = unpack_map(v);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == Errc::too_large);
  CHECK(r.error().message.find("too deep") != std::string::npos);
}

TEST_CASE("a huge declared array is refused without allocating", "[msgpack]") {
  SECTION("over the item limit") {
    auto r = unpack_map(b({0x81, 0xa1, 'a', 0xdd, 0xff, 0xff, 0xff, 0xff}));
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Errc::too_large);
  }
  SECTION("under the limit but more items than bytes") {
    auto r = unpack_map(b({0x81, 0xa1, 'a', 0xdc, 0x27, 0x00, 0x01}));
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Errc::protocol_error);
  }
  SECTION("a huge declared string") {
    auto r = unpack_map(b({0x81, 0xa1, 'a', 0xdb, 0x7f, 0xff, 0xff, 0xff, 'x'}));
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Errc::too_large);
  }
}

TEST_CASE("envelopes round-trip", "[wire]") {
  std::string id = uuid_v7();
  MapWriter args;
  args.str("badge", "04:A1").u64("n", 7).boolean("t", true);
  auto env = decode_envelope(encode_request(id, "badge-in", args));
  REQUIRE(env.ok());
  CHECK(env->kind == FrameKind::request);
  CHECK(env->id == id);
  MapReader r(*env->body, "args");
  CHECK(r.str("badge") == "04:A1");
  CHECK(r.u64("n") == 7);
  CHECK(r.boolean("t"));
  CHECK(r.ok());

  auto err = decode_envelope(encode_error(id, make_error(Errc::expired, "ticket expired")));
  REQUIRE(err.ok());
  CHECK(err->kind == FrameKind::error);
  CHECK(err->error.code == Errc::expired);

  Bytes sha(32, 7);
  auto end = decode_envelope(encode_end(id, sha, 12345));
  REQUIRE(end.ok());
  CHECK(end->kind == FrameKind::end);
  CHECK(end->bytes == 12345);
}

TEST_CASE("map reader names the bad field", "[wire]") {
  MapWriter args;
  args.u64("badge", 5);
  Bytes body = args.finish();
  auto oh = unpack_map(body);
  REQUIRE(oh.ok());
  MapReader r(oh->get(), "args");
  (void)r.str("badge");
  (void)r.str("other");
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == Errc::bad_request);
  CHECK(r.error().message == "args.badge: must be a string");
}

TEST_CASE("hello across a major version is refused", "[wire]") {
  Hello peer;
  peer.major = kProtocolMajor + 1;
  Status s = check_hello(peer);
  REQUIRE_FALSE(s.ok());
  CHECK(s.error().code == Errc::version_mismatch);
  Hello newer_minor;
  newer_minor.minor = kProtocolMinor + 5;
  CHECK(check_hello(newer_minor).ok());
}

TEST_CASE("uuid v7 ids are valid and ordered", "[ids]") {
  std::string prev = uuid_v7();
  for (int i = 0; i < 10000; i++) {
    std::string next = uuid_v7();
    REQUIRE(uuid_valid(next));
    REQUIRE(next[14] == '7');
    REQUIRE(prev < next);
    prev = next;
  }
}
