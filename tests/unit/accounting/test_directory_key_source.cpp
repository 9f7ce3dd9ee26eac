// The production KeySource (the directory client) against a scripted list-enrolled peer on
// loopback TLS. The peer is not the directory: it answers only list-enrolled, from a fixed list,
// so this test can drive what the real directory rarely does (many pages, refusals, silence,
// a cursor that does not move). The integration tests pair the client with the real directory.
#include <catch2/catch.hpp>

#include <algorithm>
#include <optional>

#include "accounting/support.h"
#include "key_source.h"
#include "lpm/protocol/rpc.h"

using namespace lpm;
using namespace lpm::accounting;
using lpm::accounting::test::make_identity;
using lpm::accounting::test::TempDir;
using lpm::accounting::test::TestLoop;

namespace {

enum class Script { answer, refuse, silent, stuck_cursor };

struct ScriptedDirectory {
  uv_loop_t *loop;
  std::shared_ptr<proto::Identity> identity;
  std::vector<proto::EnrolledKey> keys; // sorted by id, as the directory pages them
  Script script = Script::answer;
  std::shared_ptr<proto::Listener> listener;
  std::vector<proto::PeerPtr> peers;
  std::vector<proto::CallPtr> unanswered;
  std::vector<std::string> callers; // fingerprint of each list-enrolled caller
  std::vector<uint64_t> limits;     // page size each request asked for
  int accepted = 0;

  ScriptedDirectory(uv_loop_t *on_loop, const std::string &root, size_t count) : loop(on_loop) {
    identity = make_identity(root, "directory");
    for (size_t i = 0; i < count; i++) {
      proto::EnrolledKey k;
      k.id = uuid_v7();
      k.kind = i % 2 ? proto::EnrollKind::console : proto::EnrollKind::workstation;
      k.name = "key " + std::to_string(i);
      k.fingerprint = to_hex(proto::sha256(
          std::span<const uint8_t>(reinterpret_cast<const uint8_t *>(k.id.data()), k.id.size())));
      keys.push_back(k);
    }
    std::sort(keys.begin(), keys.end(), [](const auto &a, const auto &b) { return a.id < b.id; });
    auto dispatcher = std::make_shared<proto::Dispatcher>();
    dispatcher->on(proto::op::list_enrolled, [this](proto::CallPtr call) { serve(call); });
    dispatcher->on(proto::op::list_people, [this](proto::CallPtr call) { serve_people(call); });
    auto ctx = proto::TlsContext::create(proto::TlsContext::Side::server, identity);
    REQUIRE(ctx.ok());
    auto l = proto::Listener::listen_tls(loop, *ctx, proto::Endpoint{"127.0.0.1", 0}, proto::StreamLimits{},
                                         [this, dispatcher](proto::StreamPtr s) {
                                           accepted++;
                                           proto::PeerOptions o;
                                           o.role = proto::role::directory;
                                           o.dispatcher = dispatcher;
                                           peers.push_back(proto::Peer::attach(std::move(s), std::move(o)));
                                         });
    REQUIRE(l.ok());
    listener = *l;
  }

  void serve(const proto::CallPtr &call) {
    callers.push_back(call->peer_info().fingerprint);
    proto::ListEnrolledRequest req;
    req.read(call->args());
    if (!call->args().ok()) return call->fail(call->args().error());
    limits.push_back(req.page.limit);
    if (script == Script::refuse) return call->fail(Errc::unauthenticated, "key not enrolled");
    if (script == Script::silent) return unanswered.push_back(call);
    proto::ListEnrolledResult result;
    auto it = std::upper_bound(keys.begin(), keys.end(), req.page.after,
                               [](const std::string &after, const auto &k) { return after < k.id; });
    while (it != keys.end() && result.items.size() < req.page.limit)
      result.items.push_back(*it++);
    if (it != keys.end()) result.next = result.items.back().id;
    if (script == Script::stuck_cursor)
      result.next = req.page.after.empty() ? result.items.back().id : req.page.after;
    proto::MapWriter w;
    result.write(w);
    call->reply(w);
  }

  // One person per key (same ids), so paging behaves as list-enrolled's.
  void serve_people(const proto::CallPtr &call) {
    proto::ListPeopleRequest req;
    req.read(call->args());
    if (!call->args().ok()) return call->fail(call->args().error());
    if (script == Script::silent) return unanswered.push_back(call);
    proto::ListPeopleResult result;
    auto it = std::upper_bound(keys.begin(), keys.end(), req.page.after,
                               [](const std::string &after, const auto &k) { return after < k.id; });
    while (it != keys.end() && result.items.size() < req.page.limit) {
      result.items.push_back(proto::PersonFacts{it->id, it->name, it->name + "@example.com", "D", "", ""});
      ++it;
    }
    if (it != keys.end()) result.next = result.items.back().id;
    proto::MapWriter w;
    result.write(w);
    call->reply(w);
  }

  uint16_t port() const { return listener->port(); }

  void close() {
    listener->close();
    unanswered.clear();
    for (auto &p : peers)
      p->close();
    peers.clear();
  }
};

struct Rig {
  TempDir dir;
  TestLoop test_loop;
  uv_loop_t &loop = test_loop.loop;
  std::unique_ptr<ScriptedDirectory> directory;
  std::shared_ptr<proto::Identity> own;
  std::shared_ptr<KeySource> source;

  explicit Rig(size_t keys, std::optional<std::string> pin = std::nullopt, uint32_t fetch_timeout_ms = 5000) {
    directory = std::make_unique<ScriptedDirectory>(&loop, dir.path, keys);
    own = make_identity(dir.path, "accounting");
    auto ctx = proto::TlsContext::create(proto::TlsContext::Side::client, own);
    REQUIRE(ctx.ok());
    DirectoryKeySourceOptions o;
    o.directory = proto::Endpoint{"127.0.0.1", directory->port()};
    o.directory_fingerprint = pin ? *pin : directory->identity->fingerprint();
    o.fetch_timeout_ms = fetch_timeout_ms;
    source = make_directory_key_source(&loop, *ctx, o);
  }

  Result<std::vector<proto::EnrolledKey>> fetch() {
    std::optional<Result<std::vector<proto::EnrolledKey>>> got;
    source->fetch([&got](Result<std::vector<proto::EnrolledKey>> r) { got.emplace(std::move(r)); });
    REQUIRE(proto::run_until(
        &loop, [&] { return got.has_value(); }, 10000));
    return std::move(*got);
  }

  // Closes both sides, runs the loop until every handle is closed and requires uv_loop_close
  // to return 0.
  void shutdown() {
    source->close();
    directory->close();
    test_loop.run();
    test_loop.finish();
  }
};

} // namespace

TEST_CASE("the directory key source pages through list-enrolled on one pinned connection",
          "[accounting][keysource][loop]") {
  Rig rig(1234);
  auto keys = rig.fetch();
  REQUIRE(keys.ok());
  REQUIRE(keys->size() == 1234);
  CHECK(keys->front().id == rig.directory->keys.front().id);
  CHECK(keys->back().fingerprint == rig.directory->keys.back().fingerprint);
  CHECK(keys->back().kind == rig.directory->keys.back().kind);
  CHECK(rig.directory->callers.size() == 3); // 500 + 500 + 234
  for (const auto &fp : rig.directory->callers)
    CHECK(fp == rig.own->fingerprint()); // our key, as client cert
  for (auto limit : rig.directory->limits)
    CHECK(limit == proto::kMaxPage);

  // Later fetches reuse the connection.
  auto again = rig.fetch();
  REQUIRE(again.ok());
  CHECK(again->size() == 1234);
  CHECK(rig.directory->accepted == 1);

  SECTION("one fetch at a time") {
    std::optional<Errc> first, second;
    rig.source->fetch(
        [&](Result<std::vector<proto::EnrolledKey>> r) { first = r.ok() ? Errc::ok : r.error().code; });
    rig.source->fetch(
        [&](Result<std::vector<proto::EnrolledKey>> r) { second = r.ok() ? Errc::ok : r.error().code; });
    CHECK(second == Errc::conflict);
    REQUIRE(proto::run_until(
        &rig.loop, [&] { return first.has_value(); }, 5000));
    CHECK(first == Errc::ok);
  }
  SECTION("an empty directory is an empty list") {
    rig.directory->keys.clear();
    auto none = rig.fetch();
    REQUIRE(none.ok());
    CHECK(none->empty());
  }
  rig.shutdown();
}

TEST_CASE("the directory key source refuses a directory with another key", "[accounting][keysource][loop]") {
  Rig rig(3, std::string(64, 'a'));
  auto keys = rig.fetch();
  REQUIRE_FALSE(keys.ok());
  CHECK(keys.error().code == Errc::unauthenticated);
  CHECK(rig.directory->callers.empty());
  rig.shutdown();
}

TEST_CASE("the directory key source reports refusals, silence and broken paging",
          "[accounting][keysource][loop]") {
  Rig rig(1200, std::nullopt, 300);
  SECTION("refused") {
    rig.directory->script = Script::refuse;
    auto keys = rig.fetch();
    REQUIRE_FALSE(keys.ok());
    CHECK(keys.error().code == Errc::unauthenticated);
  }
  SECTION("no answer: timeout, and the next fetch starts on a fresh connection") {
    rig.directory->script = Script::silent;
    auto keys = rig.fetch();
    REQUIRE_FALSE(keys.ok());
    CHECK(keys.error().code == Errc::timeout);
    rig.directory->script = Script::answer;
    auto later = rig.fetch();
    REQUIRE(later.ok());
    CHECK(later->size() == 1200);
    CHECK(rig.directory->accepted == 2);
  }
  SECTION("a cursor that does not move") {
    rig.directory->script = Script::stuck_cursor;
    auto keys = rig.fetch();
    REQUIRE_FALSE(keys.ok());
    CHECK(keys.error().code == Errc::protocol_error);
  }
  SECTION("nobody listening") {
    rig.directory->close();
    REQUIRE(proto::run_until(
                &rig.loop, [] { return false; }, 50) == false); // let the listener close
    auto keys = rig.fetch();
    REQUIRE_FALSE(keys.ok());
    CHECK(keys.error().code == Errc::unavailable);
  }
  rig.shutdown();
}

TEST_CASE("the directory key source fetches the people beside the keys, on the same connection [issue-6]",
          "[accounting][keysource][loop][issue-6]") {
  Rig rig(1234);
  std::optional<Result<std::vector<proto::EnrolledKey>>> keys;
  std::optional<Result<std::vector<proto::PersonFacts>>> people;
  rig.source->fetch([&](Result<std::vector<proto::EnrolledKey>> r) { keys.emplace(std::move(r)); });
  rig.source->fetch_people([&](Result<std::vector<proto::PersonFacts>> r) { people.emplace(std::move(r)); });
  // A second people fetch while the first runs is refused at once.
  std::optional<Result<std::vector<proto::PersonFacts>>> second;
  rig.source->fetch_people([&](Result<std::vector<proto::PersonFacts>> r) { second.emplace(std::move(r)); });
  REQUIRE(second.has_value());
  CHECK(second->error().code == Errc::conflict);
  REQUIRE(proto::run_until(
      &rig.loop, [&] { return keys.has_value() && people.has_value(); }, 10000));
  REQUIRE(keys->ok());
  REQUIRE(people->ok());
  CHECK((*keys)->size() == 1234);
  REQUIRE((*people)->size() == 1234);
  CHECK((**people)[0].id == rig.directory->keys[0].id);
  CHECK((**people)[1233].department == "D");
  CHECK(rig.directory->accepted == 1);
  rig.shutdown();
}

TEST_CASE("a silent directory times out the people fetch and the keys fetch together [issue-6]",
          "[accounting][keysource][loop][issue-6]") {
  Rig rig(3, std::nullopt, 300);
  rig.directory->script = Script::silent;
  std::optional<Result<std::vector<proto::EnrolledKey>>> keys;
  std::optional<Result<std::vector<proto::PersonFacts>>> people;
  rig.source->fetch([&](Result<std::vector<proto::EnrolledKey>> r) { keys.emplace(std::move(r)); });
  rig.source->fetch_people([&](Result<std::vector<proto::PersonFacts>> r) { people.emplace(std::move(r)); });
  REQUIRE(proto::run_until(
      &rig.loop, [&] { return keys.has_value() && people.has_value(); }, 10000));
  REQUIRE_FALSE(keys->ok());
  REQUIRE_FALSE(people->ok());
  CHECK(people->error().code == Errc::timeout);
  // The next fetch gets a fresh connection and its answer.
  rig.directory->script = Script::answer;
  std::optional<Result<std::vector<proto::PersonFacts>>> again;
  rig.source->fetch_people([&](Result<std::vector<proto::PersonFacts>> r) { again.emplace(std::move(r)); });
  REQUIRE(proto::run_until(
      &rig.loop, [&] { return again.has_value(); }, 10000));
  REQUIRE(again->ok());
  CHECK((*again)->size() == 3);
  CHECK(rig.directory->accepted == 2);
  rig.shutdown();
}
