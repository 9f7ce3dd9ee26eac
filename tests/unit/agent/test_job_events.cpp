// Job events for the desktop notifier (issue 3, DisplayNotifications) on a real loop: the
// control socket's watch-events op subscribes a connection to its user's jobs; each job the
// store commits reaches that user's watchers and nobody else's; storing never waits for a
// watcher, and a watcher that falls behind loses the newer events, counted.
#include <catch2/catch.hpp>

#include <unistd.h>

#include "agent_test_support.h"
#include "control_socket.h"
#include "identity_binding.h"
#include "job_events.h"
#include "lpm/ids.h"
#include "lpm/protocol/ops.h"

using namespace lpm;
using namespace lpm::agent;
using namespace lpm::agent::test;

namespace {

struct EventsFixture {
  TempDir dir;
  std::shared_ptr<Db> db = open_db(dir.path);
  std::shared_ptr<JobStore> store = open_store(db, dir.path);
  uv_loop_t loop{};
  std::shared_ptr<JobEvents> events;
  std::unique_ptr<ControlSocket> socket;

  // notifications: DisplayNotifications (a JobEvents hooked to the store) or not.
  explicit EventsFixture(bool notifications = true) {
    auto me = os_account_name(static_cast<int64_t>(::getuid()));
    REQUIRE(me.ok());
    uv_loop_init(&loop);
    ControlSocketOptions options;
    options.path = dir.path + "/agent.sock";
    options.bindings.push_back(packaging::IdentityBind{*me, kAlice});
    if (notifications) {
      events = std::make_shared<JobEvents>(&loop);
      std::weak_ptr<JobEvents> weak = events;
      store->on_job_stored = [weak](const Job &job) {
        if (auto e = weak.lock()) e->publish(job);
      };
      options.events = events;
    }
    auto s = ControlSocket::start(&loop, store, options);
    REQUIRE(s.ok());
    socket = std::move(*s);
  }

  std::unique_ptr<proto::SyncClient> connect() {
    auto c = proto::SyncClient::connect_pipe(&loop, dir.path + "/agent.sock", proto::role::cli);
    REQUIRE(c.ok());
    return std::move(*c);
  }

  Result<proto::WatchEventsResult> watch(proto::SyncClient &client, uint64_t wait_ms) {
    proto::WatchEventsRequest req;
    req.wait_ms = wait_ms;
    proto::MapWriter w;
    req.write(w);
    auto answer = client.call(proto::op::watch_events, w, 10000);
    if (!answer.ok()) return answer.error();
    proto::WatchEventsResult result;
    auto reader = answer->reader();
    result.read(reader);
    REQUIRE(reader.ok());
    return result;
  }

  void finish() {
    store->on_job_stored = nullptr;
    if (events) events->close();
    socket->stop();
    uv_run(&loop, UV_RUN_DEFAULT);
    socket.reset();
    events.reset();
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK(uv_loop_close(&loop) == 0);
  }
};

} // namespace

TEST_CASE("a notifier is told about each job its user stores, and about nobody else's (issue 3)",
          "[agent][events]") {
  EventsFixture f;
  auto client = f.connect();
  // The first call subscribes and answers at once, empty.
  auto subscribed = f.watch(*client, 5000);
  REQUIRE(subscribed.ok());
  CHECK(subscribed->events.empty());
  CHECK(f.events->watchers() == 1);

  store_job(*f.store, kBob, "bob's document", "bob-private.pdf");
  Job mine = store_job(*f.store, kAlice, "alice's document", "Quarterly report.pdf");
  auto got = f.watch(*client, 5000);
  REQUIRE(got.ok());
  REQUIRE(got->events.size() == 1);
  CHECK(got->events[0].job == mine.id);
  CHECK(got->events[0].title == "Quarterly report.pdf");
  CHECK(got->events[0].state == "held");
  CHECK(got->events[0].message == "held for release");
  CHECK(got->events[0].pages == mine.pages);
  CHECK(got->dropped == 0);

  // A job stored while the notifier waits is answered at once, not at the end of the wait.
  int64_t t0 = mono_ms();
  bool answered = false;
  proto::WatchEventsResult later;
  proto::WatchEventsRequest req;
  req.wait_ms = 30000;
  proto::MapWriter w;
  req.write(w);
  client->peer()->call(proto::op::watch_events, w, [&](Result<proto::Response> r) {
    REQUIRE(r.ok());
    auto reader = r->reader();
    later.read(reader);
    answered = true;
  });
  proto::run_until(
      &f.loop, [] { return false; }, 50); // the call reaches the agent and waits
  CHECK_FALSE(answered);
  Job next = store_job(*f.store, kAlice, "more", "second.pdf");
  REQUIRE(proto::run_until(
      &f.loop, [&] { return answered; }, 5000));
  CHECK(mono_ms() - t0 < 5000);
  REQUIRE(later.events.size() == 1);
  CHECK(later.events[0].job == next.id);

  client->close();
  client.reset();
  f.finish();
}

TEST_CASE("a watch with nothing to report ends empty after its wait", "[agent][events]") {
  EventsFixture f;
  auto client = f.connect();
  REQUIRE(f.watch(*client, 5000).ok());
  int64_t t0 = mono_ms();
  auto quiet = f.watch(*client, 200);
  REQUIRE(quiet.ok());
  CHECK(quiet->events.empty());
  int64_t waited = mono_ms() - t0;
  CHECK(waited >= 150);
  CHECK(waited < 3000);
  client->close();
  client.reset();
  f.finish();
}

TEST_CASE("storing never waits for a slow notifier, which loses the newer events, counted",
          "[agent][events]") {
  EventsFixture f;
  auto slow = f.connect();
  REQUIRE(f.watch(*slow, 5000).ok());
  // The notifier does not come back while 40 jobs are stored: nothing waits for it.
  int64_t t0 = mono_ms();
  std::vector<Job> jobs;
  for (int i = 0; i < 40; i++)
    jobs.push_back(store_job(*f.store, kAlice, "document " + std::to_string(i), "job " + std::to_string(i)));
  INFO("40 jobs stored in " << mono_ms() - t0 << " ms");
  CHECK(f.events->dropped() == 40 - proto::kMaxWatchEvents);

  auto got = f.watch(*slow, 5000);
  REQUIRE(got.ok());
  REQUIRE(got->events.size() == proto::kMaxWatchEvents);
  CHECK(got->dropped == 40 - proto::kMaxWatchEvents);
  // The oldest are kept, in order.
  for (size_t i = 0; i < got->events.size(); i++)
    CHECK(got->events[i].job == jobs[i].id);
  // Caught up: the next job comes through again.
  Job after = store_job(*f.store, kAlice, "after", "after.pdf");
  auto next = f.watch(*slow, 5000);
  REQUIRE(next.ok());
  REQUIRE(next->events.size() == 1);
  CHECK(next->events[0].job == after.id);
  CHECK(next->dropped == 0);
  slow->close();
  slow.reset();
  f.finish();
}

TEST_CASE("a notifier that disconnects is forgotten, one account may not hold every slot",
          "[agent][events]") {
  EventsFixture f;
  std::vector<std::unique_ptr<proto::SyncClient>> clients;
  for (size_t i = 0; i < JobEvents::kMaxWatchersPerUid; i++) {
    clients.push_back(f.connect());
    REQUIRE(f.watch(*clients.back(), 5000).ok());
  }
  auto one_more = f.connect();
  auto refused = f.watch(*one_more, 5000);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code == Errc::rate_limited);
  CHECK(f.events->watchers() == JobEvents::kMaxWatchersPerUid);

  clients.back()->close();
  clients.pop_back();
  CHECK(f.events->watchers() == JobEvents::kMaxWatchersPerUid - 1);
  REQUIRE(f.watch(*one_more, 5000).ok());
  // Storing with watchers gone away costs nothing and reaches the ones still there.
  store_job(*f.store, kAlice, "x");
  auto got = f.watch(*one_more, 5000);
  REQUIRE(got.ok());
  CHECK(got->events.size() == 1);

  one_more->close();
  for (auto &c : clients)
    c->close();
  clients.clear();
  one_more.reset();
  f.finish();
}

TEST_CASE("watch-events is refused when DisplayNotifications is off", "[agent][events]") {
  EventsFixture f(false);
  auto client = f.connect();
  auto refused = f.watch(*client, 5000);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code == Errc::forbidden);
  CHECK(refused.error().message ==
        "desktop notifications are turned off on this workstation (DisplayNotifications)");
  // Storing is unaffected.
  store_job(*f.store, kAlice, "still stored");
  client->close();
  client.reset();
  f.finish();
}
