// The agent's clients of other services, against in-process TLS peers on 127.0.0.1 that speak
// the real protocol: the outbox poster (post-records, rows deleted only after the reply, retry
// while the server is down) and the registrar (register on connect, on held-count changes,
// withdrawal with 0).
#include <catch2/catch.hpp>

#include <functional>

#include "agent_test_support.h"
#include "directory_client.h"
#include "lpm/ids.h"
#include "lpm/protocol/ops.h"
#include "outbox.h"
#include "outbox_poster.h"
#include "served_listener.h"

using namespace lpm;
using namespace lpm::agent;
using namespace lpm::agent::test;

namespace {

// A TLS server with one handler, standing in for the directory or the accounting server.
struct TestServer {
  std::shared_ptr<proto::Identity> identity;
  std::unique_ptr<ServedListener> listener;

  TestServer(uv_loop_t *loop, const std::string &dir, const char *role, const char *op,
             proto::HandlerFn handler, uint16_t port = 0) {
    auto id = proto::Identity::load_or_create(dir, role, role);
    REQUIRE(id.ok());
    identity = *id;
    auto ctx = proto::TlsContext::create(proto::TlsContext::Side::server, identity);
    REQUIRE(ctx.ok());
    auto dispatcher = std::make_shared<proto::Dispatcher>();
    dispatcher->on(op, std::move(handler));
    proto::PeerOptions o;
    o.role = role;
    o.accept_roles = {proto::role::agent};
    o.dispatcher = dispatcher;
    auto l = ServedListener::tls(loop, *ctx, proto::Endpoint{"127.0.0.1", port}, proto::StreamLimits{}, o);
    REQUIRE(l.ok());
    listener = std::move(*l);
  }
  packaging::ServiceConfig config() const {
    packaging::ServiceConfig c;
    c.addresses = {proto::Endpoint{"127.0.0.1", listener->port()}};
    c.fingerprints = {identity->fingerprint()};
    return c;
  }
  void stop() { listener->stop(); }
};

std::shared_ptr<proto::TlsContext> agent_client_ctx(const std::string &dir) {
  auto id = proto::Identity::load_or_create(dir, "agent", "agent");
  REQUIRE(id.ok());
  auto ctx = proto::TlsContext::create(proto::TlsContext::Side::client, *id);
  REQUIRE(ctx.ok());
  return *ctx;
}

proto::JobRecord printed_record(const std::string &user) {
  Job job;
  job.id = uuid_v7();
  job.user = user;
  job.submitted_ms = wall_ms();
  return job_record_for(job, RecordContext{"HQ", uuid_v7()}, "printed", "released", wall_ms());
}

void finish_loop(uv_loop_t *loop) {
  uv_run(loop, UV_RUN_DEFAULT);
  CHECK(uv_loop_close(loop) == 0);
}

} // namespace

TEST_CASE("outbox poster: records leave the outbox only after the server's reply", "[agent][outbox]") {
  TempDir dir;
  auto db = open_db(dir.path);
  auto outbox = *Outbox::open(db);
  for (int i = 0; i < 3; i++)
    REQUIRE(outbox->queue(printed_record(kAlice)).ok());

  uv_loop_t loop;
  uv_loop_init(&loop);
  std::vector<proto::CallPtr> calls; // answered by the test, when it chooses
  std::vector<std::string> received;
  TestServer server(&loop, dir.path, proto::role::accounting, proto::op::post_records,
                    [&](proto::CallPtr call) {
                      proto::PostRecordsRequest req;
                      req.read(call->args());
                      REQUIRE(call->args().ok());
                      for (const auto &r : req.records)
                        received.push_back(r.id);
                      calls.push_back(call);
                    });

  OutboxPosterOptions options;
  options.accounting = server.config();
  auto poster = OutboxPoster::create(&loop, agent_client_ctx(dir.path), outbox, options);
  outbox->on_queued = [poster] { poster->record_queued(); };
  poster->start();

  REQUIRE(proto::run_until(
      &loop, [&] { return calls.size() == 1; }, 5000));
  CHECK(received.size() == 3);
  CHECK(*outbox->size() == 3); // not acknowledged yet: still there
  proto::MapWriter w;
  proto::PostRecordsResult{3, 0}.write(w);
  calls[0]->reply(w);
  REQUIRE(proto::run_until(
      &loop, [&] { return *outbox->size() == 0; }, 5000));

  // ReportingInterval 0: a new record goes at once.
  REQUIRE(outbox->queue(printed_record(kBob)).ok());
  REQUIRE(proto::run_until(
      &loop, [&] { return calls.size() == 2; }, 5000));
  CHECK(received.size() == 4);
  // A refusal keeps the record for a later attempt.
  calls[1]->fail(Errc::unavailable, "database busy");
  REQUIRE(proto::run_until(
      &loop, [&] { return calls.size() == 3; }, 5000));
  CHECK(*outbox->size() == 1);
  calls[2]->reply(w);
  REQUIRE(proto::run_until(
      &loop, [&] { return *outbox->size() == 0; }, 5000));
  CHECK(received[3] == received[4]); // the same record, posted again

  poster->stop();
  outbox->on_queued = nullptr; // it holds the poster, which holds the outbox
  server.stop();
  calls.clear();
  finish_loop(&loop);
}

TEST_CASE("outbox poster: retries until the accounting server is up", "[agent][outbox]") {
  TempDir dir;
  auto db = open_db(dir.path);
  auto outbox = *Outbox::open(db);
  REQUIRE(outbox->queue(printed_record(kAlice)).ok());
  uv_loop_t loop;
  uv_loop_init(&loop);
  size_t posts = 0;
  auto answer = [&](proto::CallPtr call) {
    posts++;
    proto::MapWriter w;
    proto::PostRecordsResult{1, 0}.write(w);
    call->reply(w);
  };
  // Learn a free port and the server's key, then take the server down.
  auto first =
      std::make_unique<TestServer>(&loop, dir.path, proto::role::accounting, proto::op::post_records, answer);
  packaging::ServiceConfig where = first->config();
  first->stop();
  first.reset();
  uv_run(&loop, UV_RUN_NOWAIT);

  OutboxPosterOptions options;
  options.accounting = where;
  auto poster = OutboxPoster::create(&loop, agent_client_ctx(dir.path), outbox, options);
  poster->start();
  proto::run_until(
      &loop, [] { return false; }, 300); // the first attempt fails
  CHECK(posts == 0);
  CHECK(*outbox->size() == 1);

  TestServer server(&loop, dir.path, proto::role::accounting, proto::op::post_records, answer,
                    where.addresses[0].port);
  REQUIRE(proto::run_until(
      &loop, [&] { return *outbox->size() == 0; }, 5000));
  CHECK(posts == 1);

  poster->stop();
  server.stop();
  finish_loop(&loop);
}

TEST_CASE("registrar: registers on connect, on held-count changes, and withdraws with 0",
          "[agent][registrar]") {
  TempDir dir;
  auto db = open_db(dir.path);
  auto store = open_store(db, dir.path);
  Job job = store_job(*store, kAlice, "doc");
  uv_loop_t loop;
  uv_loop_init(&loop);
  std::vector<proto::RegisterRequest> seen;
  std::vector<std::string> seen_from;
  TestServer directory(&loop, dir.path, proto::role::directory, proto::op::register_holdings,
                       [&](proto::CallPtr call) {
                         proto::RegisterRequest req;
                         req.read(call->args());
                         REQUIRE(call->args().ok());
                         seen.push_back(req);
                         proto::MapWriter w;
                         proto::RegisterResult result;
                         result.now_ms = wall_ms();
                         result.heartbeat_s = 60;
                         result.write(w);
                         call->reply(w);
                       });

  RegistrarOptions options;
  options.directory = directory.config();
  options.release_port = 9443;
  options.addresses = reported_addresses(proto::Endpoint{"192.168.1.20", 9443});
  auto registrar = Registrar::create(&loop, agent_client_ctx(dir.path), store, options);
  store->on_held_changed = [registrar](HeldChange change) { registrar->holdings_changed(change); };
  registrar->start();

  REQUIRE(proto::run_until(
      &loop, [&] { return seen.size() == 1; }, 5000));
  CHECK(seen[0].port == 9443);
  CHECK(seen[0].addresses == std::vector<std::string>{"192.168.1.20"});
  REQUIRE(seen[0].holdings.size() == 1);
  CHECK(seen[0].holdings[0].user == kAlice);
  CHECK(seen[0].holdings[0].jobs == 1);

  // A second job: the count changes.
  store_job(*store, kAlice, "doc 2");
  REQUIRE(proto::run_until(
      &loop, [&] { return seen.size() == 2; }, 5000));
  CHECK(seen[1].holdings[0].jobs == 2);

  // Both claimed: Alice holds nothing here any more, which is said once, with 0. Fewer held
  // jobs are not urgent: nothing is sent at once (a timer never fires early), and what is sent
  // kFewerDelayMs later carries whatever else changed by then.
  REQUIRE(store->claim(job.id, std::string(64, 'c'), wall_ms()).ok());
  CHECK_FALSE(proto::run_until(
      &loop, [&] { return seen.size() > 2; }, 100));
  auto page = store->list(JobFilter{{kAlice}, {JobState::held}, "", 10});
  REQUIRE(page->jobs.size() == 1);
  REQUIRE(store->claim(page->jobs[0].id, std::string(64, 'c'), wall_ms()).ok());
  REQUIRE(proto::run_until(
      &loop,
      [&] {
        return seen.size() >= 3 && seen.back().holdings.size() == 1 && seen.back().holdings[0].jobs == 0;
      },
      5000));
  size_t before = seen.size();
  registrar->holdings_changed(HeldChange::more);
  REQUIRE(proto::run_until(
      &loop, [&] { return seen.size() == before + 1; }, 5000));
  CHECK(seen.back().holdings.empty());
  CHECK(reported_addresses(proto::Endpoint{"0.0.0.0", 9443}).empty());

  registrar->stop();
  store->on_held_changed = nullptr;
  directory.stop();
  finish_loop(&loop);
}

TEST_CASE("registrar: the revocation list of register replies is stored, and the next register asks only for "
          "what came after",
          "[agent][registrar][revocation]") {
  TempDir dir;
  auto db = open_db(dir.path);
  auto store = open_store(db, dir.path);
  store_job(*store, kAlice, "doc");
  uv_loop_t loop;
  uv_loop_init(&loop);
  std::vector<int64_t> asked_after;
  const std::string printer_key(64, 'e');
  TestServer directory(&loop, dir.path, proto::role::directory, proto::op::register_holdings,
                       [&](proto::CallPtr call) {
                         proto::RegisterRequest req;
                         req.read(call->args());
                         REQUIRE(call->args().ok());
                         asked_after.push_back(req.revocations_after);
                         proto::RegisterResult result;
                         result.now_ms = wall_ms();
                         result.heartbeat_s = 60;
                         if (req.revocations_after <= 5000)
                           result.revoked.push_back(proto::RevokedKey{printer_key, proto::EnrollKind::printer, 5000});
                         proto::MapWriter w;
                         result.write(w);
                         call->reply(w);
                       });
  auto revoked = RevokedKeys::open(db);
  REQUIRE(revoked.ok());
  RegistrarOptions options;
  options.directory = directory.config();
  options.release_port = 9443;
  options.revoked = *revoked;
  auto registrar = Registrar::create(&loop, agent_client_ctx(dir.path), store, options);
  registrar->start();
  REQUIRE(proto::run_until(
      &loop, [&] { return (*revoked)->contains(printer_key); }, 5000));
  CHECK(asked_after.front() == 0);
  registrar->holdings_changed(HeldChange::more);
  REQUIRE(proto::run_until(
      &loop, [&] { return asked_after.size() >= 2; }, 5000));
  CHECK(asked_after.back() == 5000);
  // Kept: a restarted agent refuses the station before its first heartbeat.
  auto reloaded = RevokedKeys::open(db);
  REQUIRE(reloaded.ok());
  CHECK((*reloaded)->contains(printer_key));

  registrar->stop();
  directory.stop();
  finish_loop(&loop);
}

TEST_CASE("directory keys announced in register replies are kept and added to the configured pins, the latest "
          "announcement replacing the previous",
          "[agent][rotation]") {
  TempDir dir;
  auto db = open_db(dir.path);
  const std::string configured(64, 'a'), next(64, 'b'), later(64, 'c');
  auto none = announced_directory_keys_load(*db);
  REQUIRE(none.ok());
  CHECK(none->empty());
  REQUIRE(announced_directory_keys_save(*db, {configured, next}).ok());
  auto loaded = announced_directory_keys_load(*db);
  REQUIRE(loaded.ok());
  CHECK(*loaded == std::vector<std::string>{configured, next});
  CHECK(directory_pins({configured}, *loaded) == std::vector<std::string>{configured, next});
  // After the rotation the directory announces only its new key: the old learned one goes, the
  // configured one (the package's) stays.
  REQUIRE(announced_directory_keys_save(*db, {next, later}).ok());
  loaded = announced_directory_keys_load(*db);
  REQUIRE(loaded.ok());
  CHECK(directory_pins({configured}, *loaded) == std::vector<std::string>{configured, next, later});
}
