// The accounting service in one process on one real loop: real TLS on loopback, real RPC, the
// real SQLite store, real client keys.
//
// Why the keys come from an in-test KeySource: in production the enrolled keys come from the
// directory (list-enrolled), but lpm-directory is a separate process whose code is not a library
// this test can link, and the accounting server must not depend on another component's code.
// The service only sees the KeySource interface, so this test gives it a fixed list through that
// interface, answered asynchronously like the directory would. The directory client itself is
// tested in test_directory_key_source.cpp; the integration tests run the real directory.
#include <catch2/catch.hpp>

#include <tuple>

#include "accounting/support.h"
#include "accounting_service.h"
#include "enrolled_keys.h"
#include "key_source.h"
#include "lpm/protocol/loop_timer.h"
#include "lpm/protocol/rpc.h"
#include "lpm/protocol/session.h"
#include "record_store.h"

using namespace lpm;
using namespace lpm::accounting;
using lpm::accounting::test::make_identity;
using lpm::accounting::test::printed_record;
using lpm::accounting::test::TempDir;
using lpm::accounting::test::TestLoop;
using proto::EnrollKind;

namespace {

// Answers fetches with `keys`, on a later loop turn (after `delay_ms`), as the directory would.
class FixedKeySource final : public KeySource {
public:
  explicit FixedKeySource(uv_loop_t *loop) : timer_(loop) {}

  std::vector<proto::EnrolledKey> keys;
  uint64_t delay_ms = 1;
  int fetches = 0;

  void add(const proto::Identity &identity, EnrollKind kind) {
    proto::EnrolledKey k;
    k.id = uuid_v7();
    k.kind = kind;
    k.name = proto::enroll_kind_name(kind);
    k.fingerprint = identity.fingerprint();
    keys.push_back(k);
  }

  void fetch(FetchFn done) override {
    if (closed_) return done(make_error(Errc::unavailable, "closed"));
    if (pending_) return done(make_error(Errc::conflict, "a fetch is already running"));
    fetches++;
    pending_ = std::move(done);
    timer_.start(delay_ms, 0, [this] { answer(keys); });
  }

  void close() override {
    if (closed_) return;
    closed_ = true;
    timer_.close();
    answer(make_error(Errc::unavailable, "closed"));
  }

private:
  void answer(Result<std::vector<proto::EnrolledKey>> result) {
    if (!pending_) return;
    FetchFn done = std::move(pending_);
    pending_ = nullptr;
    done(std::move(result));
  }

  proto::LoopTimer timer_;
  FetchFn pending_;
  bool closed_ = false;
};

// The accounting service with a workstation key and a console key enrolled, and a stranger key
// that is not.
struct Network {
  TempDir dir;
  TestLoop test_loop;
  uv_loop_t &loop = test_loop.loop;
  std::shared_ptr<proto::Identity> server_id, workstation_id, console_id, stranger_id;
  std::shared_ptr<FixedKeySource> source;
  std::unique_ptr<RecordStore> store;
  std::unique_ptr<EnrolledKeys> keys;
  std::unique_ptr<AccountingService> service;
  uint16_t port = 0;

  explicit Network(TrustOptions trust = {}, ServiceOptions options = {}) {
    server_id = make_identity(dir.path, "server");
    workstation_id = make_identity(dir.path, "workstation");
    console_id = make_identity(dir.path, "console");
    stranger_id = make_identity(dir.path, "stranger");
    source = std::make_shared<FixedKeySource>(&loop);
    source->add(*workstation_id, EnrollKind::workstation);
    source->add(*console_id, EnrollKind::console);
    auto opened = open_sqlite_record_store(dir.path + "/state.db");
    REQUIRE(opened.ok());
    store = std::move(*opened);
    keys = std::make_unique<EnrolledKeys>(&loop, source, trust);
    auto ctx = proto::TlsContext::create(proto::TlsContext::Side::server, server_id);
    REQUIRE(ctx.ok());
    service = std::make_unique<AccountingService>(&loop, *ctx, *store, *keys, options);
    // Usage reports on the thread pool through a second connection, as lpm-accounting serve does.
    auto report_store = open_sqlite_record_store(dir.path + "/state.db");
    REQUIRE(report_store.ok());
    service->set_report_store(std::move(*report_store));
    auto bound = service->listen(proto::Endpoint{"127.0.0.1", 0});
    REQUIRE(bound.ok());
    port = *bound;
    keys->start();
  }
  // A failed test abandons the loop (TestLoop): its handles may point at objects already gone.

  // A client whose TLS certificate is `identity` (none when null), pinning the server's key.
  std::unique_ptr<proto::SyncClient> connect(std::shared_ptr<proto::Identity> identity,
                                             const char *role = proto::role::agent) {
    auto ctx = proto::TlsContext::create(proto::TlsContext::Side::client, std::move(identity));
    REQUIRE(ctx.ok());
    proto::ConnectOptions co;
    co.pins = {server_id->fingerprint()};
    auto client =
        proto::SyncClient::connect_tls(&loop, *ctx, proto::Endpoint{"127.0.0.1", port}, co, role, 5000);
    REQUIRE(client.ok());
    return std::move(*client);
  }

  // Stops the service and the key cache, runs the loop until every handle is closed and
  // requires uv_loop_close to return 0.
  void shutdown() {
    service->stop();
    keys->close();
    test_loop.run();
    test_loop.finish();
  }
};

// One typed call: writes `req`, reads the answer into a Reply.
template <class Reply, class Request>
Result<Reply> call(proto::SyncClient &client, const char *op, const Request &req) {
  proto::MapWriter w;
  req.write(w);
  auto answer = client.call(op, w, 5000);
  if (!answer.ok()) return answer.error();
  Reply reply;
  proto::MapReader reader = answer->reader();
  reply.read(reader);
  if (!reader.ok()) return reader.error();
  return reply;
}

Result<proto::PostRecordsResult> post(proto::SyncClient &client,
                                      const std::vector<proto::JobRecord> &records) {
  proto::PostRecordsRequest req;
  req.records = records;
  return call<proto::PostRecordsResult>(client, proto::op::post_records, req);
}

Result<proto::ReportTotalsResult> report(proto::SyncClient &client, int64_t from_ms = 0, int64_t to_ms = 0) {
  proto::ReportTotalsRequest req;
  req.from_ms = from_ms;
  req.to_ms = to_ms;
  return call<proto::ReportTotalsResult>(client, proto::op::report_totals, req);
}

} // namespace

TEST_CASE("a workstation posts a batch twice: stored once, the second reply counts duplicates",
          "[accounting][service][loop]") {
  Network net;
  std::string user = uuid_v7();
  int64_t now = wall_ms();
  // One record in each of the last three 15-minute buckets (totals count whole buckets).
  int64_t quarter = now - now % kQuarterMs;
  std::vector<proto::JobRecord> batch = {printed_record(user, quarter - 2 * kQuarterMs, 1, 100),
                                         printed_record(user, quarter - kQuarterMs + 1, 2, 200),
                                         printed_record(user, quarter, 3, 300)};
  {
    auto ws = net.connect(net.workstation_id);
    auto first = post(*ws, batch);
    REQUIRE(first.ok());
    CHECK(first->stored == 3);
    CHECK(first->duplicates == 0);
    auto second = post(*ws, batch);
    REQUIRE(second.ok());
    CHECK(second->stored == 0);
    CHECK(second->duplicates == 3);

    // A console key gets the totals.
    auto console = net.connect(net.console_id, proto::role::console);
    auto totals = report(*console);
    REQUIRE(totals.ok());
    REQUIRE(totals->rows.size() == 1);
    CHECK(totals->rows[0].user == user);
    CHECK(totals->rows[0].jobs == 3);
    CHECK(totals->rows[0].pages == 6);
    CHECK(totals->rows[0].impressions == 6);
    CHECK(totals->rows[0].bytes == 600);
    auto ranged = report(*console, quarter - kQuarterMs + 2, quarter - kQuarterMs + 3);
    REQUIRE(ranged.ok());
    REQUIRE(ranged->rows.size() == 1);
    CHECK(ranged->rows[0].jobs == 1); // the bucket holding the window: the middle record's
    CHECK(ranged->rows[0].bytes == 200);
    auto backwards = report(*console, now, now - 1);
    REQUIRE_FALSE(backwards.ok());
    CHECK(backwards.error().code == Errc::bad_request);

    // Paged: three users one per page, `next` naming where the following page starts.
    std::vector<std::string> users{user, uuid_v7(), uuid_v7()};
    REQUIRE(post(*ws, {printed_record(users[1], now - 500, 1), printed_record(users[2], now - 400, 1)}).ok());
    std::sort(users.begin(), users.end());
    proto::ReportTotalsRequest paged;
    paged.limit = 1;
    std::vector<std::string> seen;
    for (int i = 0; i < 5; i++) {
      auto page = call<proto::ReportTotalsResult>(*console, proto::op::report_totals, paged);
      REQUIRE(page.ok());
      REQUIRE(page->rows.size() == 1);
      seen.push_back(page->rows[0].user);
      if (page->next.empty()) break;
      CHECK(page->next == page->rows[0].user);
      paged.after = page->next;
    }
    CHECK(seen == users);

    // Each op is for one kind of key only.
    auto ws_report = report(*ws);
    REQUIRE_FALSE(ws_report.ok());
    CHECK(ws_report.error().code == Errc::forbidden);
    auto console_post = post(*console, {printed_record(user, now)});
    REQUIRE_FALSE(console_post.ok());
    CHECK(console_post.error().code == Errc::forbidden);

    ws->close();
    console->close();
  }
  CHECK(net.source->fetches == 1); // every caller was known: no refresh beyond the first
  net.shutdown();
}

TEST_CASE("an unlisted key is refused with unauthenticated after a refresh", "[accounting][service][loop]") {
  TrustOptions trust;
  trust.min_refresh_interval_ms = 200;
  Network net(trust);
  std::string user = uuid_v7();
  {
    auto stranger = net.connect(net.stranger_id);
    int64_t started_ms = mono_ms();
    for (int i = 0; i < 3; i++) {
      int fetches_before = net.source->fetches;
      auto r = post(*stranger, {printed_record(user, wall_ms())});
      REQUIRE_FALSE(r.ok());
      CHECK(r.error().code == Errc::unauthenticated);
      CHECK(r.error().message == "key not enrolled at the directory");
      // The refusal waited for a refresh that started after the call.
      CHECK(net.source->fetches == fetches_before + 1);
    }
    // Refreshes start at most once per interval: the initial one plus one per interval since.
    int64_t elapsed_ms = mono_ms() - started_ms;
    CHECK(net.source->fetches <= 2 + elapsed_ms / trust.min_refresh_interval_ms);
    CHECK(elapsed_ms >= 2 * trust.min_refresh_interval_ms);
    stranger->close();

    auto anonymous = net.connect(nullptr);
    auto r = post(*anonymous, {printed_record(user, wall_ms())});
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Errc::unauthenticated);
    anonymous->close();
  }
  auto rows = net.store->totals(0, wall_ms() + 1);
  REQUIRE(rows.ok());
  CHECK(rows->empty());
  net.shutdown();
}

TEST_CASE("a key enrolled after start is accepted on its first call", "[accounting][service][loop]") {
  TrustOptions trust;
  trust.min_refresh_interval_ms = 100;
  Network net(trust);
  REQUIRE(proto::run_until(
      &net.loop, [&] { return net.keys->size() == 2; }, 5000)); // the first refresh
  auto late = make_identity(net.dir.path, "late-workstation");
  net.source->add(*late, EnrollKind::workstation);
  {
    auto ws = net.connect(late);
    auto r = post(*ws, {printed_record(uuid_v7(), wall_ms())});
    REQUIRE(r.ok());
    CHECK(r->stored == 1);
    CHECK(net.source->fetches == 2);
    ws->close();
  }
  net.shutdown();
}

TEST_CASE("a batch with one bad record is refused whole", "[accounting][service][loop]") {
  Network net;
  std::string user = uuid_v7();
  {
    auto ws = net.connect(net.workstation_id);
    proto::JobRecord bad_id = printed_record(user, wall_ms());
    bad_id.id = "not-a-uuid";
    proto::JobRecord bad_event = printed_record(user, wall_ms());
    bad_event.event = "shredded";
    for (const auto &bad : {bad_id, bad_event}) {
      auto r = post(*ws, {printed_record(user, wall_ms()), bad, printed_record(user, wall_ms())});
      REQUIRE_FALSE(r.ok());
      CHECK(r.error().code == Errc::bad_request);
    }
    auto huge = printed_record(user, wall_ms());
    huge.size = std::numeric_limits<uint64_t>::max();
    auto r = post(*ws, {printed_record(user, wall_ms()), huge});
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Errc::bad_request);

    // Nothing of the refused batches was stored; the connection still works.
    auto rows = net.store->totals(0, wall_ms() + 1);
    REQUIRE(rows.ok());
    CHECK(rows->empty());
    auto good = post(*ws, {printed_record(user, wall_ms())});
    REQUIRE(good.ok());
    CHECK(good->stored == 1);
    ws->close();
  }
  net.shutdown();
}

TEST_CASE("batches posted at once are stored together, and a bad one among them is refused alone [issue-6]",
          "[accounting][service][loop]") {
  Network net;
  auto second_id = make_identity(net.dir.path, "workstation-2");
  net.source->add(*second_id, EnrollKind::workstation);
  auto a = net.connect(net.workstation_id);
  auto b = net.connect(second_id);
  std::string user = uuid_v7();
  int64_t now = wall_ms();
  // Three batches sent before the loop runs, so they are read in the same turn and meet in one
  // group commit; the middle one holds a size SQLite cannot store.
  std::vector<proto::JobRecord> first = {printed_record(user, now - 3000), printed_record(user, now - 2900)};
  proto::JobRecord huge = printed_record(user, now - 2000);
  huge.size = std::numeric_limits<uint64_t>::max();
  std::vector<proto::JobRecord> bad = {printed_record(user, now - 2100), huge};
  std::vector<proto::JobRecord> last = {printed_record(user, now - 1000)};
  std::vector<Result<proto::Response>> replies;
  auto send = [&](proto::SyncClient &client, const std::vector<proto::JobRecord> &records) {
    proto::PostRecordsRequest req;
    req.records = records;
    proto::MapWriter w;
    req.write(w);
    client.peer()->call(proto::op::post_records, w,
                        [&](Result<proto::Response> reply) { replies.push_back(std::move(reply)); });
  };
  send(*a, first);
  send(*b, bad);
  send(*a, last);
  net.test_loop.run_until([&] { return replies.size() == 3; });
  REQUIRE(replies.size() == 3);
  int refused = 0;
  uint64_t stored = 0;
  for (auto &reply : replies) {
    if (!reply.ok()) {
      CHECK(reply.error().code == Errc::bad_request);
      refused++;
      continue;
    }
    proto::PostRecordsResult result;
    proto::MapReader r = reply->reader();
    result.read(r);
    stored += result.stored;
  }
  CHECK(refused == 1);
  CHECK(stored == 3);
  auto rows = net.store->totals(0, wall_ms() + 1);
  REQUIRE(rows.ok());
  REQUIRE(rows->size() == 1);
  CHECK((*rows)[0].jobs == 3); // nothing of the refused batch
  a->close();
  b->close();
  net.shutdown();
}

TEST_CASE("stopping while a call waits for a refresh closes cleanly", "[accounting][service][loop]") {
  TrustOptions trust;
  trust.min_refresh_interval_ms = 0;
  Network net(trust);
  auto stranger = net.connect(net.stranger_id);
  net.source->delay_ms = 60000; // the refresh never answers before we stop
  proto::PostRecordsRequest req;
  req.records = {printed_record(uuid_v7(), wall_ms())};
  proto::MapWriter w;
  req.write(w);
  int fetches_before = net.source->fetches;
  auto outcome = std::make_shared<std::optional<Errc>>();
  stranger->peer()->call(proto::op::post_records, w, [outcome](Result<proto::Response> r) {
    *outcome = r.ok() ? Errc::ok : r.error().code;
  });
  REQUIRE(proto::run_until(
      &net.loop, [&] { return net.source->fetches > fetches_before; }, 5000));
  CHECK_FALSE(outcome->has_value()); // waiting for the key check

  net.service->stop();
  net.keys->close();
  REQUIRE(proto::run_until(
      &net.loop, [&] { return outcome->has_value(); }, 5000));
  CHECK(**outcome != Errc::ok);
  stranger.reset();
  net.shutdown();
}

TEST_CASE("the release station's signature on printed counts is checked behind ingest (RP-2) [issue-6]",
          "[accounting][service][loop][issue-6]") {
  TrustOptions trust;
  trust.min_refresh_interval_ms = 50;
  Network net(trust);
  REQUIRE(proto::run_until(
      &net.loop, [&] { return net.keys->size() == 2; }, 5000)); // the first refresh
  // A station enrolled after the last refresh: the batch waits for a refresh that knows it.
  auto station = make_identity(net.dir.path, "station");
  net.source->add(*station, EnrollKind::printer);
  std::string user = uuid_v7();
  int64_t now = wall_ms();
  using lpm::accounting::test::sign_record;
  proto::JobRecord device = printed_record(user, now - 4000, 3);
  device.counts_source = "device";
  sign_record(device, station->key());
  proto::JobRecord estimated = printed_record(user, now - 3000, 2);
  sign_record(estimated, station->key());
  proto::JobRecord forged = printed_record(user, now - 2000, 5);
  sign_record(forged, net.stranger_id->key()); // not a station's key
  proto::JobRecord altered = printed_record(user, now - 1000, 4);
  sign_record(altered, station->key());
  altered.impressions = 1; // changed after the station signed
  proto::JobRecord bare = printed_record(user, now - 500, 1);
  proto::JobRecord deleted = printed_record(user, now - 400, -1);
  deleted.event = "deleted";
  deleted.reason = "expired";
  deleted.impressions = deleted.sheets = -1;
  {
    auto ws = net.connect(net.workstation_id);
    auto r = post(*ws, {device, estimated, forged, altered, bare, deleted});
    REQUIRE(r.ok());
    CHECK(r->stored == 6); // flagged, never refused: the agent could not mend them by posting again
    ws->close();
  }
  // The batch is acknowledged once stored: the four signed records wait for their check, which
  // runs behind ingest on the thread pool (issue 6).
  auto checks_now = [&] {
    auto checks = net.store->counts_checks();
    REQUIRE(checks.ok());
    return *checks;
  };
  auto pending = [&] {
    for (const auto &[name, n] : checks_now())
      if (name == "pending") return n;
    return uint64_t{0};
  };
  REQUIRE(proto::run_until(
      &net.loop, [&] { return pending() == 0; }, 5000));
  CHECK(checks_now() == std::vector<std::pair<std::string, uint64_t>>{
                            {"device", 1}, {"estimated", 1}, {"invalid", 2}, {"unsigned", 1}});
  auto left = net.store->pending_checks(100);
  REQUIRE(left.ok());
  CHECK(left->records.empty());
  net.shutdown();
}

namespace {

// A session token for `user` with `roles`, signed by `key` (the directory's session key).
std::string session_for(const proto::KeyPair &key, const std::string &user, std::vector<std::string> roles,
                        int64_t issued_ms = wall_ms()) {
  proto::Session s;
  s.user = user;
  s.email = "person@example.com";
  s.roles = std::move(roles);
  s.session_id = uuid_v7();
  s.issued_ms = issued_ms;
  s.expires_ms = issued_ms + proto::kSessionLifetimeMs;
  auto signed_session = proto::session_sign(s, key);
  REQUIRE(signed_session.ok());
  return proto::session_to_text(*signed_session);
}

Result<proto::UsageReportResult> usage(proto::SyncClient &client, const std::string &session, const char *level,
                                       const std::string &entity, const char *type = "summary") {
  proto::UsageReportRequest req;
  req.session = session;
  req.level = level;
  req.entity = entity;
  req.type = type;
  req.from = "2026-03-29";
  req.to = "2026-03-29";
  req.zone = "Europe/Paris";
  return call<proto::UsageReportResult>(client, proto::op::usage_report, req);
}

} // namespace

TEST_CASE("usage-report: who sees what follows the session's roles (RP-3, AMB-20) [issue-6]",
          "[accounting][service][loop][issue-6]") {
  auto directory_key = proto::KeyPair::generate();
  REQUIRE(directory_key.ok());
  ServiceOptions options;
  options.session_key = (*directory_key)->public_der();
  Network net({}, options);
  std::string alice = uuid_v7(), bob = uuid_v7();
  // 2026-03-29 is Paris's 23-hour day: 22:30 UTC the day before is 23:30 local on the 28th.
  int64_t in_day = 1774771200000;         // 2026-03-29T08:00:00Z
  int64_t before_day = 1774737000000 - 1; // 2026-03-28T22:29:59.999Z
  {
    auto ws = net.connect(net.workstation_id);
    REQUIRE(post(*ws, {printed_record(alice, in_day, 3), printed_record(bob, in_day, 5),
                       printed_record(alice, before_day, 100)})
                ->stored == 3);

    // A user sees their own usage, over their workstation's agent.
    std::string alice_session = session_for(**directory_key, alice, {"Print Release Management User"});
    auto own = usage(*ws, alice_session, "user", alice);
    REQUIRE(own.ok());
    REQUIRE(own->rows.size() == 1);
    CHECK(own->rows[0][0] == "3");
    CHECK(own->to_ms - own->from_ms == 23 * 3600 * 1000);
    // ... and nobody else's, nor the enterprise's.
    auto other = usage(*ws, alice_session, "user", bob);
    REQUIRE_FALSE(other.ok());
    CHECK(other.error().code == Errc::forbidden);
    auto whole = usage(*ws, alice_session, "enterprise", "");
    REQUIRE_FALSE(whole.ok());
    CHECK(whole.error().code == Errc::forbidden);

    // Helpdesk: any user's user-level report, no wider level.
    std::string helpdesk = session_for(**directory_key, uuid_v7(), {proto::role_names::prm_helpdesk});
    auto bobs = usage(*ws, helpdesk, "user", bob);
    REQUIRE(bobs.ok());
    CHECK(bobs->rows[0][0] == "5");
    // Found by name (RP-12) for those who may see others; a user asking by another's name learns
    // nothing of who exists.
    REQUIRE(
        net.store
            ->replace_people({proto::PersonFacts{alice, "Alice Martin", "alice@example.com", "", "", ""},
                              proto::PersonFacts{bob, "Bob Durand", "bob@example.com", "", "", ""},
                              proto::PersonFacts{uuid_v7(), "Bob Dylan", "dylan@example.com", "", "", ""}},
                             wall_ms())
            .ok());
    auto by_name = usage(*ws, helpdesk, "user", "bob durand");
    REQUIRE(by_name.ok());
    CHECK(by_name->rows[0][0] == "5");
    auto two_bobs = usage(*ws, helpdesk, "user", "bob");
    REQUIRE_FALSE(two_bobs.ok());
    CHECK(two_bobs.error().code == Errc::conflict);
    CHECK_THAT(two_bobs.error().message, Catch::Contains("Bob Dylan <dylan@example.com>"));
    auto probe = usage(*ws, alice_session, "user", "bob");
    REQUIRE_FALSE(probe.ok());
    CHECK(probe.error().code == Errc::forbidden);
    CHECK_THAT(probe.error().message, !Catch::Contains("Durand"));
    auto group = usage(*ws, helpdesk, "group", "g-1");
    REQUIRE_FALSE(group.ok());
    CHECK(group.error().code == Errc::forbidden);

    // Administrators: the enterprise (from a console too), top users.
    std::string admin = session_for(**directory_key, uuid_v7(), {proto::role_names::prm_administrator});
    auto console = net.connect(net.console_id, proto::role::console);
    auto enterprise = usage(*console, admin, "enterprise", "");
    REQUIRE(enterprise.ok());
    CHECK(enterprise->rows[0][0] == "8");
    auto top = usage(*console, admin, "enterprise", "", "top-users");
    REQUIRE(top.ok());
    REQUIRE(top->rows.size() == 2);
    CHECK(top->rows[0][1] == bob);
    std::string enterprise_admin =
        session_for(**directory_key, uuid_v7(), {proto::role_names::enterprise_administrator});
    CHECK(usage(*ws, enterprise_admin, "department", "d-1").ok());

    // Sessions the directory did not sign, or that expired, are refused.
    auto stranger_key = proto::KeyPair::generate();
    REQUIRE(stranger_key.ok());
    auto forged = usage(*ws, session_for(**stranger_key, alice, {proto::role_names::prm_administrator}), "user",
                        alice);
    REQUIRE_FALSE(forged.ok());
    CHECK(forged.error().code == Errc::invalid_signature);
    auto old = usage(*ws, session_for(**directory_key, alice, {}, wall_ms() - 2 * proto::kSessionLifetimeMs),
                     "user", alice);
    REQUIRE_FALSE(old.ok());
    CHECK(old.error().code == Errc::expired);
    auto garbage = usage(*ws, "not-a-session", "user", alice);
    REQUIRE_FALSE(garbage.ok());

    // A bad zone or type says what is wrong.
    proto::UsageReportRequest req;
    req.session = alice_session;
    req.level = "user";
    req.entity = alice;
    req.type = "summary";
    req.from = req.to = "2026-03-29";
    req.zone = "Mars/Olympus_Mons";
    auto zone = call<proto::UsageReportResult>(*ws, proto::op::usage_report, req);
    REQUIRE_FALSE(zone.ok());
    CHECK(zone.error().code == Errc::not_found);
    req.zone = "UTC";
    req.type = "weekly";
    auto type = call<proto::UsageReportResult>(*ws, proto::op::usage_report, req);
    REQUIRE_FALSE(type.ok());
    CHECK(type.error().code == Errc::bad_request);

    // A user's own report without an id is the session's user's; `last` counts back from today.
    req.type = "summary";
    req.entity = "";
    req.from = req.to = "";
    req.last = 1;
    int64_t now = wall_ms();
    REQUIRE(post(*ws, {printed_record(alice, now, 7)})->stored == 1);
    auto today = call<proto::UsageReportResult>(*ws, proto::op::usage_report, req);
    REQUIRE(today.ok());
    CHECK(today->title.find("user " + alice) != std::string::npos);
    CHECK(today->from_ms <= now);
    CHECK(now < today->to_ms);
    CHECK(today->to_ms - today->from_ms == 24 * 3600 * 1000);
    REQUIRE(today->rows.size() == 1);
    CHECK(today->rows[0][0] == "7");
    // `from` with `last`, neither, or `to` alone: refused before anything is read.
    for (auto [from, to, last] : {std::tuple{"2026-03-29", "", 3}, std::tuple{"", "", 0}, std::tuple{"", "2026-03-29", 0},
                                  std::tuple{"", "", 1101}}) {
      req.from = from;
      req.to = to;
      req.last = static_cast<uint64_t>(last);
      auto bad = call<proto::UsageReportResult>(*ws, proto::op::usage_report, req);
      REQUIRE_FALSE(bad.ok());
      CHECK(bad.error().code == Errc::bad_request);
    }
    // `from` alone is that one day.
    req.from = "2026-03-29";
    req.to = "";
    req.last = 0;
    auto one_day = call<proto::UsageReportResult>(*ws, proto::op::usage_report, req);
    REQUIRE(one_day.ok());
    CHECK(one_day->rows[0][0] == "3");

    // A stranger's key is not let in, whatever session it carries.
    auto stranger = net.connect(net.stranger_id);
    auto refused = usage(*stranger, admin, "enterprise", "");
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.error().code == Errc::unauthenticated);
  }
  net.shutdown();
}

TEST_CASE("usage-report without the directory's session key is refused (enrolled by an older version) [issue-6]",
          "[accounting][service][loop][issue-6]") {
  Network net;
  auto key = proto::KeyPair::generate();
  REQUIRE(key.ok());
  {
    auto ws = net.connect(net.workstation_id);
    auto r = usage(*ws, session_for(**key, uuid_v7(), {}), "enterprise", "");
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Errc::unavailable);
    CHECK_THAT(r.error().message, Catch::Contains("enroll"));
  }
  net.shutdown();
}

TEST_CASE("two workstations post at once, repeating each other's batches: every record stored once [issue-6]",
          "[accounting][service][loop]") {
  Network net;
  auto second_id = make_identity(net.dir.path, "workstation-2");
  net.source->add(*second_id, EnrollKind::workstation); // known at its first call (a refresh)
  std::string user_a = uuid_v7(), user_b = uuid_v7();
  auto a = net.connect(net.workstation_id);
  auto b = net.connect(second_id);
  int64_t now = wall_ms();
  std::vector<proto::JobRecord> all_a, all_b;
  uint64_t stored = 0, duplicates = 0;
  // Four rounds with both batches in flight together (proto::kMaxRecordsPerBatch records each);
  // from the third on, each also carries the other's previous batch (an outbox posted twice, a
  // record relayed by two agents): those come back as duplicates.
  for (int round = 0; round < 4; round++) {
    std::vector<proto::JobRecord> batch_a, batch_b;
    size_t fresh = round >= 2 ? proto::kMaxRecordsPerBatch / 2 : proto::kMaxRecordsPerBatch;
    for (size_t i = 0; i < fresh; i++) {
      batch_a.push_back(printed_record(user_a, now - 100000 + round * 1000 + static_cast<int64_t>(i), 1, 10));
      batch_b.push_back(printed_record(user_b, now - 100000 + round * 1000 + static_cast<int64_t>(i), 2, 20));
    }
    std::vector<proto::JobRecord> send_a = batch_a, send_b = batch_b;
    if (round >= 2) {
      send_a.insert(send_a.end(), all_b.end() - static_cast<ptrdiff_t>(fresh), all_b.end());
      send_b.insert(send_b.end(), all_a.end() - static_cast<ptrdiff_t>(fresh), all_a.end());
    }
    all_a.insert(all_a.end(), batch_a.begin(), batch_a.end());
    all_b.insert(all_b.end(), batch_b.begin(), batch_b.end());
    int answered = 0;
    Status failed;
    for (auto [client, records] : {std::pair{a.get(), &send_a}, std::pair{b.get(), &send_b}}) {
      proto::PostRecordsRequest req;
      req.records = *records;
      proto::MapWriter w;
      req.write(w);
      client->peer()->call(proto::op::post_records, w, [&](Result<proto::Response> reply) {
        answered++;
        if (!reply.ok()) {
          failed = reply.error();
          return;
        }
        proto::PostRecordsResult result;
        proto::MapReader r = reply->reader();
        result.read(r);
        stored += result.stored;
        duplicates += result.duplicates;
      });
    }
    net.test_loop.run_until([&] { return answered == 2; });
    REQUIRE(failed.ok());
  }
  CHECK(stored == all_a.size() + all_b.size());
  CHECK(duplicates == 2 * (proto::kMaxRecordsPerBatch / 2) * 2);
  auto rows = net.store->totals(0, wall_ms() + 1);
  REQUIRE(rows.ok());
  REQUIRE(rows->size() == 2);
  for (const auto &row : *rows) {
    bool is_a = row.user == user_a;
    CHECK(row.jobs == (is_a ? all_a.size() : all_b.size()));
    CHECK(row.pages == (is_a ? all_a.size() : 2 * all_b.size()));
  }
  a->close();
  b->close();
  net.shutdown();
}

TEST_CASE("an oversized or malformed batch is refused and stores nothing [issue-6]", "[accounting][service][loop]") {
  Network net;
  std::string user = uuid_v7();
  auto ws = net.connect(net.workstation_id);
  // One record more than a batch may hold.
  std::vector<proto::JobRecord> oversized;
  for (size_t i = 0; i <= proto::kMaxRecordsPerBatch; i++)
    oversized.push_back(printed_record(user, wall_ms()));
  auto too_many = post(*ws, oversized);
  REQUIRE_FALSE(too_many.ok());
  CHECK(too_many.error().code == Errc::bad_request);
  // records that are not an array of maps, and a request without them.
  proto::MapWriter not_records;
  not_records.str("records", "all of them");
  auto malformed = ws->call(proto::op::post_records, not_records, 5000);
  REQUIRE_FALSE(malformed.ok());
  CHECK(malformed.error().code == Errc::bad_request);
  proto::MapWriter nothing;
  nothing.u64("count", 3);
  auto missing = ws->call(proto::op::post_records, nothing, 5000);
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().code == Errc::bad_request);

  auto rows = net.store->totals(0, wall_ms() + 1);
  REQUIRE(rows.ok());
  CHECK(rows->empty());
  // The connection still serves a good batch.
  auto good = post(*ws, {printed_record(user, wall_ms())});
  REQUIRE(good.ok());
  CHECK(good->stored == 1);
  ws->close();
  net.shutdown();
}

TEST_CASE("counts checks a stop left pending run when the service starts again [issue-6]",
          "[accounting][service][loop][issue-6]") {
  TrustOptions trust;
  trust.min_refresh_interval_ms = 50;
  Network net(trust);
  REQUIRE(proto::run_until(
      &net.loop, [&] { return net.keys->size() == 2; }, 5000));
  auto station = make_identity(net.dir.path, "station");
  net.source->add(*station, EnrollKind::printer);
  int64_t now = wall_ms();
  proto::JobRecord device = printed_record(uuid_v7(), now - 1000, 3);
  device.counts_source = "device";
  lpm::accounting::test::sign_record(device, station->key());
  // Stored with its check pending, as a batch is; the service that would have checked it stopped.
  IngestFacts facts;
  facts.pending = true;
  REQUIRE(net.store->ingest_with({device}, {facts}, now).ok());
  auto checks_now = [&] {
    auto checks = net.store->counts_checks();
    REQUIRE(checks.ok());
    return *checks;
  };
  CHECK(checks_now() == std::vector<std::pair<std::string, uint64_t>>{{"pending", 1}});
  auto kept = net.store->pending_checks(10);
  REQUIRE(kept.ok());
  REQUIRE(kept->records.size() == 1);
  CHECK(kept->records[0].id == device.id);
  CHECK(kept->records[0].signature == device.signature);

  // A service started on the same store (a restarted lpm-accounting) checks it.
  auto ctx = proto::TlsContext::create(proto::TlsContext::Side::server, net.server_id);
  REQUIRE(ctx.ok());
  AccountingService again(&net.loop, *ctx, *net.store, *net.keys, ServiceOptions{});
  REQUIRE(again.listen(proto::Endpoint{"127.0.0.1", 0}).ok());
  REQUIRE(proto::run_until(
      &net.loop,
      [&] {
        return checks_now() == std::vector<std::pair<std::string, uint64_t>>{{"device", 1}};
      },
      5000));
  kept = net.store->pending_checks(10);
  REQUIRE(kept.ok());
  CHECK(kept->records.empty());
  // Settled once: a later settle of the same record changes nothing.
  REQUIRE(net.store->settle_checks({}, {{device.id, proto::CountsCheck::invalid}}).ok());
  CHECK(checks_now() == std::vector<std::pair<std::string, uint64_t>>{{"device", 1}});
  again.stop();
  net.shutdown();
}
