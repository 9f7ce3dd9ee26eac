// The release service on a real loop with real TLS on 127.0.0.1: a "printer" client opens a
// release with a directory-signed ticket, lists, claims, fetches and completes a job; claims
// conflict across connections; wrong-printer and replayed tickets are refused.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <algorithm>

#include "agent_test_support.h"
#include "lpm/files.h"
#include "lpm/ids.h"
#include "lpm/protocol/loop_timer.h"
#include "lpm/protocol/ops.h"
#include "lpm/protocol/outcome.h"
#include "lpm/protocol/rpc.h"
#include "nonce_store_sqlite.h"
#include "outbox.h"
#include "release_service.h"
#include "revoked_keys.h"

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

// A ticket that expires lifetime_ms after now (the directory's are kTicketLifetimeMs).
proto::SignedTicket make_short_ticket(const proto::KeyPair &signer, const std::string &user,
                                      const std::string &printer, int64_t lifetime_ms) {
  proto::Ticket t;
  t.users = {user};
  t.printer = printer;
  t.workstations = {kWorkstation};
  t.issued_ms = wall_ms();
  t.expires_ms = t.issued_ms + lifetime_ms;
  auto signed_ticket = proto::ticket_sign(t, signer);
  REQUIRE(signed_ticket.ok());
  return *signed_ticket;
}

void sleep_until_after(int64_t deadline_ms) {
  while (wall_ms() <= deadline_ms)
    ::usleep(10 * 1000);
}

MapWriter open_args(const proto::SignedTicket &ticket,
                    const proto::SignedPrinterCertificate &certificate = {}) {
  proto::OpenReleaseRequest req;
  req.ticket = ticket;
  req.certificate = certificate;
  MapWriter w;
  req.write(w);
  return w;
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
  std::shared_ptr<RevokedKeys> revoked;
  // Issue 8: the window for printer-signed tickets and when the agent last heard the directory.
  int64_t offline_window_ms = 8 * 3600 * 1000LL;
  int64_t heard_ms = wall_ms() - 3600 * 1000LL;

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
    auto r = RevokedKeys::open(db);
    REQUIRE(r.ok());
    revoked = *r;
    options.revoked = revoked;
    options.offline_window_ms = offline_window_ms;
    options.directory_heard_ms = [this] { return heard_ms; };
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
    REQUIRE(proto::sign_outcome(f.printer_identity->key(), kWorkstation, update).ok()); // issue 5
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

TEST_CASE("release service: a station whose key the directory revoked is refused, even mid-conversation and "
          "with a ticket issued before",
          "[agent][release][revocation]") {
  ReleaseFixture f;
  auto a = f.connect(f.printer_ctx);
  REQUIRE(a->call(proto::op::open_release,
                  open_args(make_ticket(*f.ticket_key, kAlice, f.printer_identity->fingerprint())))
              .ok());
  REQUIRE(a->call(proto::op::list_jobs, args_of(proto::ListJobsRequest{})).ok());

  // What a register reply brings.
  auto fresh = f.revoked->add(
      {proto::RevokedKey{f.printer_identity->fingerprint(), proto::EnrollKind::printer, wall_ms()}});
  REQUIRE(fresh.ok());
  CHECK(*fresh == 1);

  auto listed = a->call(proto::op::list_jobs, args_of(proto::ListJobsRequest{}));
  REQUIRE_FALSE(listed.ok());
  CHECK(listed.error().code == Errc::forbidden);
  CHECK(listed.error().message.find("revoked") != std::string::npos);
  proto::AcknowledgeJobRequest ack;
  ack.job = f.job.id;
  auto acked = a->call(proto::op::acknowledge_job, args_of(ack));
  REQUIRE_FALSE(acked.ok());
  CHECK(acked.error().code == Errc::forbidden);

  // A fresh ticket does not help, and its nonce is not spent (it was never checked).
  auto b = f.connect(f.printer_ctx);
  auto reopened = b->call(proto::op::open_release,
                          open_args(make_ticket(*f.ticket_key, kAlice, f.printer_identity->fingerprint())));
  REQUIRE_FALSE(reopened.ok());
  CHECK(reopened.error().code == Errc::forbidden);
  CHECK(f.store->get(f.job.id)->state == JobState::held);

  a->close();
  b->close();
  a.reset();
  b.reset();
  f.finish();
}

TEST_CASE("revoked keys: kept in state.db across restarts, repeats ignored, newest mark for the next ask",
          "[agent][revocation]") {
  TempDir dir;
  std::shared_ptr<Db> db = open_db(dir.path);
  const std::string one(64, 'a'), two(64, 'b');
  {
    auto keys = RevokedKeys::open(db);
    REQUIRE(keys.ok());
    CHECK((*keys)->newest_ms() == 0);
    auto fresh = (*keys)->add({proto::RevokedKey{one, proto::EnrollKind::printer, 100},
                               proto::RevokedKey{two, proto::EnrollKind::accounting, 200}});
    REQUIRE(fresh.ok());
    CHECK(*fresh == 2);
    auto again = (*keys)->add({proto::RevokedKey{two, proto::EnrollKind::accounting, 200}});
    REQUIRE(again.ok());
    CHECK(*again == 0);
  }
  auto reopened = RevokedKeys::open(db);
  REQUIRE(reopened.ok());
  CHECK((*reopened)->contains(one));
  CHECK((*reopened)->contains(two));
  CHECK_FALSE((*reopened)->contains(std::string(64, 'c')));
  CHECK((*reopened)->size() == 2);
  CHECK((*reopened)->newest_ms() == 200);
}

TEST_CASE("release service: a conversation ends at its ticket's expiry", "[agent][release]") {
  ReleaseFixture f;
  auto a = f.connect(f.printer_ctx);
  constexpr int64_t kLifetimeMs = 300;
  proto::SignedTicket ticket =
      make_short_ticket(*f.ticket_key, kAlice, f.printer_identity->fingerprint(), kLifetimeMs);
  auto decoded = proto::ticket_decode(ticket.body);
  REQUIRE(decoded.ok());
  int64_t expires_ms = decoded->expires_ms;
  REQUIRE(a->call(proto::op::open_release, open_args(ticket)).ok());
  auto before = a->call(proto::op::list_jobs, args_of(proto::ListJobsRequest{}));
  REQUIRE(before.ok());
  CHECK(result_of<proto::ListJobsResult>(*before).jobs.size() == 1);

  sleep_until_after(expires_ms);
  // Printed by Alice after the ticket ended: not this conversation's to release.
  Job late = store_job(*f.store, kAlice, "printed after the badge-in");
  REQUIRE(late.submitted_ms > expires_ms);

  // Listing ends with the ticket.
  auto listed = a->call(proto::op::list_jobs, args_of(proto::ListJobsRequest{}));
  REQUIRE_FALSE(listed.ok());
  CHECK(listed.error().code == Errc::expired);

  // A job submitted after the expiry cannot be claimed on the old conversation.
  proto::AcknowledgeJobRequest ack_late;
  ack_late.job = late.id;
  auto refused = a->call(proto::op::acknowledge_job, args_of(ack_late));
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code == Errc::expired);
  CHECK(f.store->get(late.id)->state == JobState::held);

  // A job submitted before it may still be claimed and released (a long batch goes on).
  proto::AcknowledgeJobRequest ack;
  ack.job = f.job.id;
  auto acked = a->call(proto::op::acknowledge_job, args_of(ack));
  REQUIRE(acked.ok());
  auto claim = result_of<proto::AcknowledgeJobResult>(*acked);
  proto::FetchDocumentRequest fetch;
  fetch.job = f.job.id;
  fetch.claim = claim.claim;
  auto sink = std::make_unique<proto::MemorySink>(1 << 20);
  auto data = sink->data;
  REQUIRE(a->call_download(proto::op::fetch_document, args_of(fetch), std::move(sink)).ok());
  CHECK(std::string(data->begin(), data->end()) == f.document);
  proto::UpdateJobStatusRequest update;
  update.job = f.job.id;
  update.claim = claim.claim;
  update.outcome = proto::JobOutcome::completed;
  REQUIRE(proto::sign_outcome(f.printer_identity->key(), kWorkstation, update).ok()); // issue 5
  auto updated = a->call(proto::op::update_job_status, args_of(update));
  REQUIRE(updated.ok());
  CHECK(result_of<proto::UpdateJobStatusResult>(*updated).state == "printed");

  a->close();
  a.reset();
  f.finish();
}

namespace {

// A download sink that stalls like a slow device: at the first chunk it stops reading the
// connection (so the agent's pump stops reading the spool file under backpressure), and runs
// `while_stalled` from a timer; that gets a `resume` to call when done.
class StallingSink final : public proto::ChunkSink {
public:
  StallingSink(uv_loop_t *loop, proto::PeerPtr peer, std::function<void(std::function<void()>)> while_stalled)
      : timer_(std::make_shared<proto::LoopTimer>(loop)), peer_(std::move(peer)),
        while_stalled_(std::move(while_stalled)) {}

  Status write(std::span<const uint8_t> data) override {
    data_->insert(data_->end(), data.begin(), data.end());
    if (!stalled_) {
      stalled_ = true;
      peer_->stream().pause_reading();
      std::weak_ptr<proto::LoopTimer> timer = timer_;
      proto::PeerPtr peer = peer_;
      auto task = while_stalled_;
      timer_->start(100, 0, [timer, peer, task]() {
        task([timer, peer]() {
          peer->stream().resume_reading();
          if (auto t = timer.lock()) t->close();
        });
      });
    }
    return {};
  }
  Status finish(std::span<const uint8_t>, uint64_t) override { return {}; }

  std::shared_ptr<proto::Bytes> data_ = std::make_shared<proto::Bytes>();

private:
  std::shared_ptr<proto::LoopTimer> timer_;
  proto::PeerPtr peer_;
  std::function<void(std::function<void()>)> while_stalled_;
  bool stalled_ = false;
};

// Big enough that the agent cannot push the whole document into socket buffers and queues while
// the station is not reading: its stream source stays alive during the stall.
std::string big_document() {
  std::string doc(size_t{40} << 20, '\0');
  for (size_t i = 0; i < doc.size(); i++)
    doc[i] = static_cast<char>('A' + (i * 7) % 23);
  return doc;
}

void lapse_lease(Db &db, const std::string &job_id) {
  auto st = db.prepare("UPDATE jobs SET claim_expires_ms = ?1 WHERE id = ?2");
  REQUIRE(st.ok());
  REQUIRE(st->bind(1, wall_ms() - 1).bind(2, job_id).run().ok());
}

} // namespace

TEST_CASE("release service: a stream stalled by a slow device keeps its claim past the lease",
          "[agent][release]") {
  ReleaseFixture f;
  std::string document = big_document();
  Job big = store_job(*f.store, kAlice, document);
  auto a = f.connect(f.printer_ctx);
  auto b = f.connect(f.printer_ctx);
  REQUIRE(a->call(proto::op::open_release,
                  open_args(make_ticket(*f.ticket_key, kAlice, f.printer_identity->fingerprint())))
              .ok());
  REQUIRE(b->call(proto::op::open_release,
                  open_args(make_ticket(*f.ticket_key, kAlice, f.printer_identity->fingerprint())))
              .ok());
  proto::AcknowledgeJobRequest ack;
  ack.job = big.id;
  auto acked = a->call(proto::op::acknowledge_job, args_of(ack));
  REQUIRE(acked.ok());
  auto claim = result_of<proto::AcknowledgeJobResult>(*acked);

  // What happened during the stall, checked once the download is over.
  bool streaming_during_stall = false;
  size_t swept = 99;
  JobState state_after_sweep = JobState::deleted;
  std::vector<std::string> listed_by_b;
  bool b_listed = false;
  Errc b_ack = Errc::ok;
  proto::PeerPtr b_peer = b->peer();
  auto sink = std::make_unique<StallingSink>(&f.loop, a->peer(), [&](std::function<void()> resume) {
    streaming_during_stall = f.service->streaming_jobs().count(big.id) == 1;
    // The stall lasted past the lease: state.db says it ended.
    lapse_lease(*f.db, big.id);
    // The daemon's sweep (agent_serve.cpp) passes the streaming jobs.
    auto moved = f.store->expire_claims(wall_ms(), f.service->streaming_jobs());
    swept = moved.ok() ? *moved : 98;
    state_after_sweep = f.store->get(big.id)->state;
    // list-jobs sweeps too; then another station tries to take the job over.
    // (No REQUIRE in loop callbacks: results are recorded and checked after the download.)
    auto on_acked = [&, resume](Result<proto::Response> r) {
      b_ack = r.ok() ? Errc::ok : r.error().code;
      resume();
    };
    auto on_listed = [&, on_acked](Result<proto::Response> r) {
      if (r.ok()) {
        proto::ListJobsResult page;
        proto::MapReader reader = r->reader();
        page.read(reader);
        for (const auto &j : page.jobs)
          listed_by_b.push_back(j.id);
        b_listed = reader.ok();
      }
      b_peer->call(proto::op::acknowledge_job, args_of(ack), on_acked);
    };
    b_peer->call(proto::op::list_jobs, args_of(proto::ListJobsRequest{}), on_listed);
  });
  auto data = sink->data_;
  proto::FetchDocumentRequest fetch;
  fetch.job = big.id;
  fetch.claim = claim.claim;
  auto fetched = a->call_download(proto::op::fetch_document, args_of(fetch), std::move(sink));
  REQUIRE(fetched.ok());
  CHECK(data->size() == document.size());
  CHECK(std::string(data->begin(), data->end()) == document);

  CHECK(streaming_during_stall);
  CHECK(swept == 0);
  CHECK(state_after_sweep == JobState::printing);
  CHECK(b_listed);
  CHECK(std::find(listed_by_b.begin(), listed_by_b.end(), big.id) == listed_by_b.end());
  CHECK(b_ack == Errc::conflict);
  // The stream is over: nothing is streaming, and the end of the file renewed the lease.
  CHECK(f.service->streaming_jobs().empty());
  CHECK(f.store->get(big.id)->claim_expires_ms > wall_ms());

  proto::UpdateJobStatusRequest update;
  update.job = big.id;
  update.claim = claim.claim;
  update.outcome = proto::JobOutcome::completed;
  REQUIRE(proto::sign_outcome(f.printer_identity->key(), kWorkstation, update).ok()); // issue 5
  auto updated = a->call(proto::op::update_job_status, args_of(update));
  REQUIRE(updated.ok());
  CHECK(result_of<proto::UpdateJobStatusResult>(*updated).state == "printed");

  a->close();
  a.reset();
  b->close();
  b.reset();
  f.finish();
}

TEST_CASE("release service: a stream whose claim ended stops with an error", "[agent][release]") {
  ReleaseFixture f;
  std::string document = big_document();
  Job big = store_job(*f.store, kAlice, document);
  auto a = f.connect(f.printer_ctx);
  REQUIRE(a->call(proto::op::open_release,
                  open_args(make_ticket(*f.ticket_key, kAlice, f.printer_identity->fingerprint())))
              .ok());
  proto::AcknowledgeJobRequest ack;
  ack.job = big.id;
  auto acked = a->call(proto::op::acknowledge_job, args_of(ack));
  REQUIRE(acked.ok());
  auto claim = result_of<proto::AcknowledgeJobResult>(*acked);

  bool streaming_during_stall = false;
  bool ended = false;
  auto sink = std::make_unique<StallingSink>(&f.loop, a->peer(), [&](std::function<void()> resume) {
    streaming_during_stall = f.service->streaming_jobs().count(big.id) == 1;
    // The claim ends while the document is still on its way (here: the sweep of a daemon that
    // did not know about the stream).
    lapse_lease(*f.db, big.id);
    auto moved = f.store->expire_claims(wall_ms());
    ended = moved.ok() && *moved == 1;
    resume();
  });
  proto::FetchDocumentRequest fetch;
  fetch.job = big.id;
  fetch.claim = claim.claim;
  auto fetched = a->call_download(proto::op::fetch_document, args_of(fetch), std::move(sink));
  CHECK(streaming_during_stall);
  CHECK(ended);
  // The failed renewal ended the stream: the station never gets a completed document.
  REQUIRE_FALSE(fetched.ok());
  CHECK(fetched.error().code == Errc::expired);
  CHECK(f.store->get(big.id)->state == JobState::held);
  CHECK(f.service->streaming_jobs().empty());

  a->close();
  a.reset();
  f.finish();
}

TEST_CASE("release service: a tampered or truncated spool file is refused at fetch (issue 3)",
          "[agent][release]") {
  ReleaseFixture f;
  // f.document is 200000 bytes: chunks 0..2 of 64 KiB and a final one.
  std::string path = f.store->spool_path(f.job);
  auto original = read_file(path, 1 << 20);
  REQUIRE(original.ok());
  auto a = f.connect(f.printer_ctx);
  REQUIRE(a->call(proto::op::open_release,
                  open_args(make_ticket(*f.ticket_key, kAlice, f.printer_identity->fingerprint())))
              .ok());
  proto::AcknowledgeJobRequest ack;
  ack.job = f.job.id;
  auto acked = a->call(proto::op::acknowledge_job, args_of(ack));
  REQUIRE(acked.ok());
  auto claim = result_of<proto::AcknowledgeJobResult>(*acked);
  proto::FetchDocumentRequest fetch;
  fetch.job = f.job.id;
  fetch.claim = claim.claim;

  SECTION("truncated: refused before the job moves to printing") {
    REQUIRE(write_file_atomic(path, original->substr(0, original->size() - 100), 0600).ok());
    auto sink = std::make_unique<proto::MemorySink>(1 << 20);
    auto data = sink->data;
    auto fetched = a->call_download(proto::op::fetch_document, args_of(fetch), std::move(sink));
    REQUIRE_FALSE(fetched.ok());
    CHECK(fetched.error().code == Errc::checksum_mismatch);
    CHECK(data->empty());
    CHECK(f.store->get(f.job.id)->state == JobState::claimed);
  }
  SECTION("a byte changed in a middle chunk: the stream stops there, never completing") {
    std::string damaged = *original;
    size_t at = kSpoolHeaderBytes + (kSpoolChunkBytes + kTagBytes) + 10; // in chunk 1
    damaged[at] = static_cast<char>(damaged[at] ^ 0x40);
    REQUIRE(write_file_atomic(path, damaged, 0600).ok());
    auto sink = std::make_unique<proto::MemorySink>(1 << 20);
    auto data = sink->data;
    auto fetched = a->call_download(proto::op::fetch_document, args_of(fetch), std::move(sink));
    REQUIRE_FALSE(fetched.ok());
    CHECK(fetched.error().code == Errc::checksum_mismatch);
    // Only authenticated bytes went out: at most chunk 0, exactly as stored.
    CHECK(data->size() <= kSpoolChunkBytes);
    CHECK(std::string(data->begin(), data->end()) == f.document.substr(0, data->size()));
  }
  a->close();
  a.reset();
  f.finish();
}

namespace {

// The outbox's waiting records (at most 10 looked at).
size_t outbox_size(Outbox &outbox) {
  auto batch = outbox.next_batch(10);
  REQUIRE(batch.ok());
  return batch->size();
}

// Acknowledges, fetches and completes `job` on `c`; the document it received in `received`.
// The outcome is signed with `station`, the connection's key (issue 5).
void release_on(proto::SyncClient &c, const proto::KeyPair &station, const std::string &job,
                std::string &received) {
  proto::AcknowledgeJobRequest ack;
  ack.job = job;
  auto acked = c.call(proto::op::acknowledge_job, args_of(ack));
  REQUIRE(acked.ok());
  auto claim = result_of<proto::AcknowledgeJobResult>(*acked);
  proto::FetchDocumentRequest fetch;
  fetch.job = job;
  fetch.claim = claim.claim;
  auto sink = std::make_unique<proto::MemorySink>(1 << 20);
  auto data = sink->data;
  REQUIRE(c.call_download(proto::op::fetch_document, args_of(fetch), std::move(sink)).ok());
  received.assign(data->begin(), data->end());
  proto::UpdateJobStatusRequest update;
  update.job = job;
  update.claim = claim.claim;
  update.outcome = proto::JobOutcome::completed;
  REQUIRE(proto::sign_outcome(station, kWorkstation, update).ok());
  auto updated = c.call(proto::op::update_job_status, args_of(update));
  REQUIRE(updated.ok());
  CHECK(result_of<proto::UpdateJobStatusResult>(*updated).state == "printed");
}

} // namespace

TEST_CASE("release service: an expired ticket is refused at open-release, serves nothing and spends no nonce "
          "(issue 5)",
          "[agent][release][ticket]") {
  ReleaseFixture f;
  proto::Ticket t;
  t.users = {kAlice};
  t.printer = f.printer_identity->fingerprint();
  t.workstations = {kWorkstation};
  t.issued_ms = wall_ms() - 2 * proto::kTicketLifetimeMs;
  t.expires_ms = wall_ms() - proto::kTicketLifetimeMs;
  auto expired = proto::ticket_sign(t, *f.ticket_key);
  REQUIRE(expired.ok());
  auto a = f.connect(f.printer_ctx);
  auto refused = a->call(proto::op::open_release, open_args(*expired));
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code == Errc::expired);
  auto listed = a->call(proto::op::list_jobs, args_of(proto::ListJobsRequest{}));
  REQUIRE_FALSE(listed.ok());
  CHECK(listed.error().code == Errc::forbidden);
  proto::AcknowledgeJobRequest ack;
  ack.job = f.job.id;
  auto acked = a->call(proto::op::acknowledge_job, args_of(ack));
  REQUIRE_FALSE(acked.ok());
  CHECK(acked.error().code == Errc::forbidden);
  CHECK(f.store->get(f.job.id)->state == JobState::held);
  CHECK(outbox_size(*f.outbox) == 0);
  // Its nonce was never recorded: the store still takes it as new.
  auto decoded = proto::ticket_decode(expired->body);
  REQUIRE(decoded.ok());
  auto fresh = f.nonces->consume(decoded->nonce, wall_ms() + proto::kTicketLifetimeMs);
  REQUIRE(fresh.ok());
  CHECK(*fresh);
  a->close();
  a.reset();
  f.finish();
}

TEST_CASE(
    "release service: forged tickets (a bit of the body flipped, another ticket's signature) serve nothing "
    "and spend no nonce (issue 5)",
    "[agent][release][ticket]") {
  ReleaseFixture f;
  proto::SignedTicket genuine = make_ticket(*f.ticket_key, kAlice, f.printer_identity->fingerprint());
  proto::SignedTicket flipped = genuine;
  flipped.body[flipped.body.size() / 2] ^= 0x01;
  proto::SignedTicket swapped = genuine;
  swapped.signature = make_ticket(*f.ticket_key, kAlice, f.printer_identity->fingerprint()).signature;
  for (const proto::SignedTicket *forged : {&flipped, &swapped}) {
    auto c = f.connect(f.printer_ctx);
    auto refused = c->call(proto::op::open_release, open_args(*forged));
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.error().code == Errc::invalid_signature);
    auto listed = c->call(proto::op::list_jobs, args_of(proto::ListJobsRequest{}));
    REQUIRE_FALSE(listed.ok());
    CHECK(listed.error().code == Errc::forbidden);
    c->close();
  }
  CHECK(f.store->get(f.job.id)->state == JobState::held);
  // The genuine ticket still opens: the forgeries spent nothing.
  auto a = f.connect(f.printer_ctx);
  REQUIRE(a->call(proto::op::open_release, open_args(genuine)).ok());
  a->close();
  a.reset();
  f.finish();
}

TEST_CASE(
    "release service: a ticket replayed after the service restarts on the same state.db is refused (issue 5)",
    "[agent][release][ticket]") {
  ReleaseFixture f;
  proto::SignedTicket ticket = make_ticket(*f.ticket_key, kAlice, f.printer_identity->fingerprint());
  {
    auto a = f.connect(f.printer_ctx);
    REQUIRE(a->call(proto::op::open_release, open_args(ticket)).ok());
    a->close();
  }
  // The restart: the service stops, and a new one starts with a nonce store opened afresh on
  // the same state.db (what lpm-agent serve does at start-up).
  f.service->stop();
  uv_run(&f.loop, UV_RUN_DEFAULT);
  f.service.reset();
  std::shared_ptr<Db> reopened = open_db(f.dir.path);
  auto nonces = SqliteNonceStore::open(reopened);
  REQUIRE(nonces.ok());
  auto server_ctx = proto::TlsContext::create(proto::TlsContext::Side::server, f.agent_identity);
  REQUIRE(server_ctx.ok());
  ReleaseServiceOptions options;
  options.listen = proto::Endpoint{"127.0.0.1", 0};
  options.workstation_id = kWorkstation;
  options.ticket_keys.push_back(f.ticket_key->public_key());
  options.records = RecordContext{"HQ", kWorkstation};
  auto restarted =
      ReleaseService::start(&f.loop, *server_ctx, f.store, std::move(*nonces), f.outbox, options);
  REQUIRE(restarted.ok());
  f.service = std::move(*restarted);

  auto b = f.connect(f.printer_ctx);
  auto replay = b->call(proto::op::open_release, open_args(ticket));
  REQUIRE_FALSE(replay.ok());
  CHECK(replay.error().code == Errc::replayed);
  auto listed = b->call(proto::op::list_jobs, args_of(proto::ListJobsRequest{}));
  REQUIRE_FALSE(listed.ok());
  CHECK(listed.error().code == Errc::forbidden);
  CHECK(f.store->get(f.job.id)->state == JobState::held);
  // A fresh ticket opens on the restarted service.
  REQUIRE(b->call(proto::op::open_release,
                  open_args(make_ticket(*f.ticket_key, kAlice, f.printer_identity->fingerprint())))
              .ok());
  b->close();
  b.reset();
  f.finish();
}

// Two stations list the same held job; the first releases it completely before the second's
// acknowledge-job arrives. The second must be told it is taken (conflict), not given a claim on
// the printed job: a release is not a reprint (integration/release_race.sh found this).
TEST_CASE("release service: a job another station released meanwhile is not claimed again by a station that "
          "listed it held (issue 5)",
          "[agent][release][race]") {
  ReleaseFixture f;
  auto a = f.connect(f.printer_ctx);
  auto b = f.connect(f.printer_ctx);
  for (auto *c : {a.get(), b.get()}) {
    REQUIRE(c->call(proto::op::open_release,
                    open_args(make_ticket(*f.ticket_key, kAlice, f.printer_identity->fingerprint())))
                .ok());
    auto listed = c->call(proto::op::list_jobs, args_of(proto::ListJobsRequest{}));
    REQUIRE(listed.ok());
    auto jobs = result_of<proto::ListJobsResult>(*listed);
    REQUIRE(jobs.jobs.size() == 1);
    CHECK(jobs.jobs[0].state == "held");
  }
  std::string received;
  release_on(*a, f.printer_identity->key(), f.job.id, received);
  CHECK(received == f.document);

  proto::AcknowledgeJobRequest late;
  late.job = f.job.id;
  auto second = b->call(proto::op::acknowledge_job, args_of(late));
  CHECK_FALSE(second.ok());
  if (!second.ok()) CHECK(second.error().code == Errc::conflict);
  CHECK(f.store->get(f.job.id)->state == JobState::printed);
  CHECK(outbox_size(*f.outbox) == 1);
  a->close();
  b->close();
  a.reset();
  b.reset();
  f.finish();
}

namespace {

// Issue 8: a ticket the station signed itself, with the directory's certificate of its key.
proto::SignedPrinterCertificate certify(const proto::KeyPair &directory, const proto::Identity &station,
                                        int64_t issued_ms, int64_t expires_ms) {
  proto::PrinterCertificate c;
  c.printer_id = uuid_v7();
  c.printer = station.fingerprint();
  c.key = station.key().public_der();
  c.issued_ms = issued_ms;
  c.expires_ms = expires_ms;
  auto signed_cert = proto::printer_certificate_sign(c, directory);
  REQUIRE(signed_cert.ok());
  return *signed_cert;
}

} // namespace

TEST_CASE("release service: printer-signed tickets while the directory is unreachable (issue 8)",
          "[agent][release][offline]") {
  ReleaseFixture f;
  int64_t now = wall_ms();
  auto cert = certify(*f.ticket_key, *f.printer_identity, now - 60'000, now + 4 * 3600 * 1000LL);
  const std::string station = f.printer_identity->fingerprint();
  auto a = f.connect(f.printer_ctx);

  SECTION("accepted under a valid certificate, within the window: the job is served") {
    auto opened = a->call(proto::op::open_release,
                          open_args(make_ticket(f.printer_identity->key(), kAlice, station), cert));
    REQUIRE(opened.ok());
    auto listed = a->call(proto::op::list_jobs, args_of(proto::ListJobsRequest{}));
    REQUIRE(listed.ok());
    CHECK(result_of<proto::ListJobsResult>(*listed).jobs.size() == 1);
  }
  SECTION("without the certificate, a station's own ticket is a forgery") {
    auto refused =
        a->call(proto::op::open_release, open_args(make_ticket(f.printer_identity->key(), kAlice, station)));
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.error().code == Errc::invalid_signature);
  }
  SECTION("the certificate expired") {
    auto old = certify(*f.ticket_key, *f.printer_identity, now - 5 * 3600 * 1000LL, now - 1000);
    auto refused = a->call(proto::op::open_release,
                           open_args(make_ticket(f.printer_identity->key(), kAlice, station), old));
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.error().code == Errc::expired);
  }
  SECTION("the agent last heard from the directory longer ago than its window") {
    f.heard_ms = now - 9 * 3600 * 1000LL;
    auto refused = a->call(proto::op::open_release,
                           open_args(make_ticket(f.printer_identity->key(), kAlice, station), cert));
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.error().code == Errc::forbidden);
    CHECK(refused.error().message.find("longer than its window") != std::string::npos);
  }
  SECTION("a certificate the directory did not sign") {
    auto other = proto::KeyPair::generate();
    REQUIRE(other.ok());
    auto forged = certify(**other, *f.printer_identity, now - 60'000, now + 3600 * 1000LL);
    auto refused = a->call(proto::op::open_release,
                           open_args(make_ticket(f.printer_identity->key(), kAlice, station), forged));
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.error().code == Errc::invalid_signature);
  }
  SECTION("a revoked station, even with a valid certificate") {
    REQUIRE(f.revoked->add({proto::RevokedKey{station, proto::EnrollKind::printer, now}}).ok());
    auto refused = a->call(proto::op::open_release,
                           open_args(make_ticket(f.printer_identity->key(), kAlice, station), cert));
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.error().code == Errc::forbidden);
  }
  SECTION("nothing is served after a refusal") {
    REQUIRE_FALSE(
        a->call(proto::op::open_release, open_args(make_ticket(*f.ticket_key, kAlice, station), cert)).ok());
    auto listed = a->call(proto::op::list_jobs, args_of(proto::ListJobsRequest{}));
    REQUIRE_FALSE(listed.ok());
    CHECK(listed.error().code == Errc::forbidden);
  }
  a->close();
  f.finish();
}
