// The release service on a real loop with real TLS on 127.0.0.1: a "printer" client opens a
// release with a directory-signed ticket, lists, claims, fetches and completes a job; claims
// conflict across connections; wrong-printer and replayed tickets are refused.
#include <catch2/catch.hpp>

#include "agent_test_support.h"
#include "lpm/ids.h"
#include "lpm/protocol/ops.h"
#include "lpm/protocol/rpc.h"
#include "nonce_store_sqlite.h"
#include "outbox.h"
#include "release_service.h"

using namespace lpm;
using namespace lpm::agent;
using namespace lpm::agent::test;
using proto::MapWriter;

namespace {

const std::string kWorkstation = "0190a1b2-c3d4-7e5f-8a9b-00000000aaaa";

proto::SignedTicket make_ticket(const proto::KeyPair &signer, const std::string &user,
                                const std::string &printer) {
  proto::Ticket t;
  t.users = {user};
  t.printer = printer;
  t.workstations = {kWorkstation};
  t.issued_ms = wall_ms();
  t.expires_ms = t.issued_ms + proto::kTicketLifetimeMs;
  auto signed_ticket = proto::ticket_sign(t, signer);
  REQUIRE(signed_ticket.ok());
  return *signed_ticket;
}

MapWriter open_args(const proto::SignedTicket &ticket) {
  proto::OpenReleaseRequest req;
  req.ticket = ticket;
  MapWriter w;
  req.write(w);
  return w;
}

template <class T> MapWriter args_of(const T &request) {
  MapWriter w;
  request.write(w);
  return w;
}

template <class T> T result_of(proto::Response &response) {
  T out;
  proto::MapReader r = response.reader();
  out.read(r);
  REQUIRE(r.ok());
  return out;
}

// The fixture: store with one held job of Alice, the service on 127.0.0.1:0, identities.
struct ReleaseFixture {
  TempDir dir;
  std::shared_ptr<Db> db = open_db(dir.path);
  std::shared_ptr<JobStore> store = open_store(db, dir.path);
  std::shared_ptr<proto::NonceStore> nonces;
  std::shared_ptr<Outbox> outbox;
  std::unique_ptr<proto::KeyPair> ticket_key;
  std::shared_ptr<proto::Identity> agent_identity;
  std::shared_ptr<proto::Identity> printer_identity;
  std::string document;
  Job job;
  uv_loop_t loop{};
  std::unique_ptr<ReleaseService> service;
  std::shared_ptr<proto::TlsContext> printer_ctx;

  ReleaseFixture() {
    auto n = SqliteNonceStore::open(db);
    REQUIRE(n.ok());
    nonces = std::move(*n);
    auto o = Outbox::open(db);
    REQUIRE(o.ok());
    outbox = *o;
    auto key = proto::KeyPair::generate();
    REQUIRE(key.ok());
    ticket_key = std::move(*key);
    agent_identity = make_identity(dir.path, "agent", "test agent");
    printer_identity = make_identity(dir.path, "printer", "test printer");
    // Over one chunk, so the stream is really chunked.
    document.resize(200000);
    for (size_t i = 0; i < document.size(); i++)
      document[i] = static_cast<char>('a' + i % 26);
    job = store_job(*store, kAlice, document);

    uv_loop_init(&loop);
    auto server_ctx = proto::TlsContext::create(proto::TlsContext::Side::server, agent_identity);
    REQUIRE(server_ctx.ok());
    ReleaseServiceOptions options;
    options.listen = proto::Endpoint{"127.0.0.1", 0};
    options.workstation_id = kWorkstation;
    options.ticket_keys.push_back(ticket_key->public_key());
    options.records = RecordContext{"HQ", kWorkstation};
    auto s = ReleaseService::start(&loop, *server_ctx, store, nonces, outbox, std::move(options));
    REQUIRE(s.ok());
    service = std::move(*s);
    auto ctx = proto::TlsContext::create(proto::TlsContext::Side::client, printer_identity);
    REQUIRE(ctx.ok());
    printer_ctx = *ctx;
  }

  std::unique_ptr<proto::SyncClient> connect(std::shared_ptr<proto::TlsContext> ctx) {
    proto::ConnectOptions co;
    co.pins = {agent_identity->fingerprint()};
    auto c = proto::SyncClient::connect_tls(
        &loop, std::move(ctx), proto::Endpoint{"127.0.0.1", service->port()}, co, proto::role::printer);
    REQUIRE(c.ok());
    return std::move(*c);
  }

  // Stops everything and checks that no libuv handle is left behind.
  void finish() {
    service->stop();
    uv_run(&loop, UV_RUN_DEFAULT);
    service.reset();
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK(uv_loop_close(&loop) == 0);
  }
};

} // namespace

TEST_CASE("release service: a station releases a job end to end", "[agent][release]") {
  ReleaseFixture f;
  auto a = f.connect(f.printer_ctx);

  // Nothing before open-release.
  auto early = a->call(proto::op::list_jobs, args_of(proto::ListJobsRequest{}));
  REQUIRE_FALSE(early.ok());
  CHECK(early.error().code == Errc::forbidden);

  proto::SignedTicket ticket = make_ticket(*f.ticket_key, kAlice, f.printer_identity->fingerprint());
  auto opened = a->call(proto::op::open_release, open_args(ticket));
  REQUIRE(opened.ok());
  auto open_result = result_of<proto::OpenReleaseResult>(*opened);
  CHECK(open_result.workstation == kWorkstation);
  CHECK(open_result.users == std::vector<std::string>{kAlice});

  auto listed = a->call(proto::op::list_jobs, args_of(proto::ListJobsRequest{}));
  REQUIRE(listed.ok());
  auto jobs = result_of<proto::ListJobsResult>(*listed);
  REQUIRE(jobs.jobs.size() == 1);
  CHECK(jobs.jobs[0].id == f.job.id);
  CHECK(jobs.jobs[0].state == "held");
  CHECK(jobs.jobs[0].size == f.document.size());

  proto::AcknowledgeJobRequest ack;
  ack.job = f.job.id;
  auto acked = a->call(proto::op::acknowledge_job, args_of(ack));
  REQUIRE(acked.ok());
  auto claim = result_of<proto::AcknowledgeJobResult>(*acked);
  CHECK(uuid_valid(claim.claim));
  CHECK(claim.lease_ms == kClaimLeaseMs);

  SECTION("a second connection cannot claim a job another claim holds") {
    auto b = f.connect(f.printer_ctx);
    proto::SignedTicket second = make_ticket(*f.ticket_key, kAlice, f.printer_identity->fingerprint());
    REQUIRE(b->call(proto::op::open_release, open_args(second)).ok());
    auto conflict = b->call(proto::op::acknowledge_job, args_of(ack));
    REQUIRE_FALSE(conflict.ok());
    CHECK(conflict.error().code == Errc::conflict);
    // A claim id it made up authorises nothing.
    proto::FetchDocumentRequest wrong;
    wrong.job = f.job.id;
    wrong.claim = uuid_v7();
    auto sink = std::make_unique<proto::MemorySink>(1 << 20);
    auto refused = b->call_download(proto::op::fetch_document, args_of(wrong), std::move(sink));
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.error().code == Errc::conflict);
    b->close();
  }

  SECTION("fetch, complete, and the record waits in the outbox") {
    proto::FetchDocumentRequest fetch;
    fetch.job = f.job.id;
    fetch.claim = claim.claim;
    auto sink = std::make_unique<proto::MemorySink>(1 << 20);
    auto data = sink->data;
    auto fetched = a->call_download(proto::op::fetch_document, args_of(fetch), std::move(sink));
    REQUIRE(fetched.ok());
    auto header = result_of<proto::FetchDocumentHeader>(*fetched);
    CHECK(header.size == f.document.size());
    CHECK(header.format == "application/pdf");
    CHECK(header.sha256 == f.job.sha256);
    CHECK(std::string(data->begin(), data->end()) == f.document);
    CHECK(f.store->get(f.job.id)->state == JobState::printing);

    proto::UpdateJobStatusRequest update;
    update.job = f.job.id;
    update.claim = claim.claim;
    update.outcome = proto::JobOutcome::completed;
    update.pages = 3;
    update.impressions = 3;
    update.sheets = 2;
    update.counts_source = "device";
    update.printer_name = "Printer 2nd floor";
    auto updated = a->call(proto::op::update_job_status, args_of(update));
    REQUIRE(updated.ok());
    CHECK(result_of<proto::UpdateJobStatusResult>(*updated).state == "printed");
    CHECK(f.store->get(f.job.id)->state == JobState::printed);

    // Repeating the report changes nothing and queues nothing more.
    auto repeated = a->call(proto::op::update_job_status, args_of(update));
    REQUIRE(repeated.ok());
    CHECK(result_of<proto::UpdateJobStatusResult>(*repeated).state == "printed");

    auto batch = f.outbox->next_batch(10);
    REQUIRE(batch.ok());
    REQUIRE(batch->size() == 1);
    const proto::JobRecord &record = (*batch)[0].record;
    CHECK(record.event == "printed");
    CHECK(record.reason == "released");
    CHECK(record.job == f.job.id);
    CHECK(record.user == kAlice);
    CHECK(record.workstation == kWorkstation);
    CHECK(record.site == "HQ");
    CHECK(record.printer == "Printer 2nd floor");
    CHECK(record.pages == 3);
    CHECK(record.sheets == 2);
    CHECK(record.size == f.document.size());
    CHECK(record.counts_source == "device");

    // Printed jobs are listed only when asked.
    auto plain = a->call(proto::op::list_jobs, args_of(proto::ListJobsRequest{}));
    REQUIRE(plain.ok());
    CHECK(result_of<proto::ListJobsResult>(*plain).jobs.empty());
    proto::ListJobsRequest with_printed;
    with_printed.include_printed = true;
    auto all = a->call(proto::op::list_jobs, args_of(with_printed));
    REQUIRE(all.ok());
    auto printed = result_of<proto::ListJobsResult>(*all);
    REQUIRE(printed.jobs.size() == 1);
    CHECK(printed.jobs[0].state == "printed");

    // The same ticket cannot open a second conversation.
    auto c = f.connect(f.printer_ctx);
    auto replay = c->call(proto::op::open_release, open_args(ticket));
    REQUIRE_FALSE(replay.ok());
    CHECK(replay.error().code == Errc::replayed);
    c->close();
  }

  SECTION("a ticket issued to another printer is refused") {
    auto other = proto::KeyPair::generate();
    REQUIRE(other.ok());
    auto c = f.connect(f.printer_ctx);
    auto refused = c->call(proto::op::open_release,
                           open_args(make_ticket(*f.ticket_key, kAlice, (*other)->fingerprint())));
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.error().code == Errc::forbidden);
    // And the refused connection still has no conversation.
    auto listed_after = c->call(proto::op::list_jobs, args_of(proto::ListJobsRequest{}));
    REQUIRE_FALSE(listed_after.ok());
    CHECK(listed_after.error().code == Errc::forbidden);
    c->close();
  }

  SECTION("a ticket signed by an unknown key is refused, jobs of other users are invisible") {
    auto rogue = proto::KeyPair::generate();
    REQUIRE(rogue.ok());
    auto c = f.connect(f.printer_ctx);
    auto refused = c->call(proto::op::open_release,
                           open_args(make_ticket(**rogue, kAlice, f.printer_identity->fingerprint())));
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.error().code == Errc::invalid_signature);
    REQUIRE(c->call(proto::op::open_release,
                    open_args(make_ticket(*f.ticket_key, kBob, f.printer_identity->fingerprint())))
                .ok());
    auto bob_list = c->call(proto::op::list_jobs, args_of(proto::ListJobsRequest{}));
    REQUIRE(bob_list.ok());
    CHECK(result_of<proto::ListJobsResult>(*bob_list).jobs.empty());
    proto::AcknowledgeJobRequest steal;
    steal.job = f.job.id;
    auto stolen = c->call(proto::op::acknowledge_job, args_of(steal));
    REQUIRE_FALSE(stolen.ok());
    CHECK(stolen.error().code == Errc::not_found);
    c->close();
  }

  a->close();
  a.reset();
  f.finish();
}
