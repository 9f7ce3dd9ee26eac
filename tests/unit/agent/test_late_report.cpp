// Issue 5: signed job outcomes, late reports and the station's journal, against the real release
// service on a real loop with real TLS on 127.0.0.1. The station side (journal, report_pending)
// is the real lpm_printer_core code: a station killed between the device taking a job and the
// workstation's answer reports it at its next start, and the job is counted exactly once.
#include <catch2/catch.hpp>

#include <algorithm>

#include "agent_test_support.h"
#include "late_reports.h"
#include "lpm/ids.h"
#include "lpm/protocol/ops.h"
#include "lpm/protocol/outcome.h"
#include "lpm/protocol/rpc.h"
#include "nonce_store_sqlite.h"
#include "outbox.h"
#include "release_service.h"
#include "station_journal.h"
#include "station_store.h"

using namespace lpm;
using namespace lpm::agent;
using namespace lpm::agent::test;
using proto::MapWriter;

namespace {

const std::string kLateWorkstation = "0190a1b2-c3d4-7e5f-8a9b-00000000bbbb";

// A store with one held job of Alice, the release service on 127.0.0.1:0, two station keys.
struct LateFixture {
  TempDir dir;
  std::shared_ptr<Db> db = open_db(dir.path);
  std::shared_ptr<JobStore> store = open_store(db, dir.path);
  std::shared_ptr<proto::NonceStore> nonces;
  std::shared_ptr<Outbox> outbox;
  std::unique_ptr<proto::KeyPair> ticket_key;
  std::shared_ptr<proto::Identity> agent_identity = make_identity(dir.path, "agent", "test agent");
  std::shared_ptr<proto::Identity> station = make_identity(dir.path, "station", "station A");
  std::shared_ptr<proto::Identity> other_station = make_identity(dir.path, "other", "station B");
  std::string document = std::string(5000, 'x');
  Job job;
  uv_loop_t loop{};
  std::unique_ptr<ReleaseService> service;

  LateFixture() {
    auto n = SqliteNonceStore::open(db);
    REQUIRE(n.ok());
    nonces = std::move(*n);
    auto o = Outbox::open(db);
    REQUIRE(o.ok());
    outbox = *o;
    auto key = proto::KeyPair::generate();
    REQUIRE(key.ok());
    ticket_key = std::move(*key);
    job = store_job(*store, kAlice, document);
    uv_loop_init(&loop);
    auto server_ctx = proto::TlsContext::create(proto::TlsContext::Side::server, agent_identity);
    REQUIRE(server_ctx.ok());
    ReleaseServiceOptions options;
    options.listen = proto::Endpoint{"127.0.0.1", 0};
    options.workstation_id = kLateWorkstation;
    options.ticket_keys.push_back(ticket_key->public_key());
    options.records = RecordContext{"HQ", kLateWorkstation};
    options.late_binding = true;
    auto s = ReleaseService::start(&loop, *server_ctx, store, nonces, outbox, std::move(options));
    REQUIRE(s.ok());
    service = std::move(*s);
  }

  std::shared_ptr<proto::TlsContext> client_ctx(const std::shared_ptr<proto::Identity> &who) {
    auto ctx = proto::TlsContext::create(proto::TlsContext::Side::client, who);
    REQUIRE(ctx.ok());
    return *ctx;
  }

  std::unique_ptr<proto::SyncClient> connect(const std::shared_ptr<proto::Identity> &who) {
    proto::ConnectOptions co;
    co.pins = {agent_identity->fingerprint()};
    auto c = proto::SyncClient::connect_tls(
        &loop, client_ctx(who), proto::Endpoint{"127.0.0.1", service->port()}, co, proto::role::printer);
    REQUIRE(c.ok());
    return std::move(*c);
  }

  // A connection of `who` with an open release for Alice.
  std::unique_ptr<proto::SyncClient> open_release(const std::shared_ptr<proto::Identity> &who) {
    auto c = connect(who);
    proto::Ticket t;
    t.users = {kAlice};
    t.printer = who->fingerprint();
    t.workstations = {kLateWorkstation};
    t.issued_ms = wall_ms();
    t.expires_ms = t.issued_ms + proto::kTicketLifetimeMs;
    auto ticket = proto::ticket_sign(t, *ticket_key);
    REQUIRE(ticket.ok());
    proto::OpenReleaseRequest req;
    req.ticket = *ticket;
    REQUIRE(c->call(proto::op::open_release, args_of(req)).ok());
    return c;
  }

  // acknowledge-job then fetch-document: the job is printing under the returned claim.
  std::string claim_and_fetch(proto::SyncClient &c) {
    proto::AcknowledgeJobRequest ack;
    ack.job = job.id;
    auto acked = c.call(proto::op::acknowledge_job, args_of(ack));
    REQUIRE(acked.ok());
    std::string claim = result_of<proto::AcknowledgeJobResult>(*acked).claim;
    proto::FetchDocumentRequest fetch;
    fetch.job = job.id;
    fetch.claim = claim;
    REQUIRE(c.call_download(proto::op::fetch_document, args_of(fetch),
                            std::make_unique<proto::MemorySink>(1 << 20))
                .ok());
    return claim;
  }

  // A signed completed outcome of `claim`, with the device's counts.
  proto::UpdateJobStatusRequest completed(const std::string &claim, const proto::Identity &by) {
    proto::UpdateJobStatusRequest u;
    u.job = job.id;
    u.claim = claim;
    u.outcome = proto::JobOutcome::completed;
    u.pages = 4;
    u.impressions = 8;
    u.sheets = 4;
    u.color_impressions = 0;
    u.counts_source = "device";
    u.copies = 2;
    u.sides = "two-sided-long-edge";
    u.color = "monochrome";
    u.printer_name = "Printer 3rd floor";
    u.finished_ms = wall_ms();
    REQUIRE(proto::sign_outcome(by.key(), kLateWorkstation, u).ok());
    return u;
  }

  std::vector<proto::JobRecord> records() {
    auto batch = outbox->next_batch(100);
    REQUIRE(batch.ok());
    std::vector<proto::JobRecord> out;
    for (auto &e : *batch)
      out.push_back(e.record);
    return out;
  }

  // The claim's lease lapses and the sweep returns the job to held (no sleeping).
  void lapse_claims() {
    auto moved = store->expire_claims(wall_ms() + kClaimLeaseMs + 1000);
    REQUIRE(moved.ok());
  }

  void finish() {
    service->stop();
    uv_run(&loop, UV_RUN_DEFAULT);
    service.reset();
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK(uv_loop_close(&loop) == 0);
  }
};

Result<proto::ReportOutcomeResult> report(proto::SyncClient &c, const proto::UpdateJobStatusRequest &u) {
  auto r = c.call(proto::op::report_outcome, args_of(u));
  if (!r.ok()) return r.error();
  return result_of<proto::ReportOutcomeResult>(*r);
}

} // namespace

TEST_CASE("signed outcome: estimate_counts (impressions are sides, sheets are sheets: RP-2) and the signed "
          "encoding [issue-5]",
          "[protocol][outcome][issue-5][RP-2]") {
  auto e = proto::estimate_counts(5, 2, "two-sided-long-edge");
  CHECK(e.impressions == 10);
  CHECK(e.sheets == 6); // ceil(5 / 2) x 2
  e = proto::estimate_counts(5, 2, "one-sided");
  CHECK(e.impressions == 10);
  CHECK(e.sheets == 10);
  e = proto::estimate_counts(-1, 3, "one-sided");
  CHECK(e.impressions == -1);
  CHECK(e.sheets == -1);
  CHECK(e.color_impressions == -1); // colour: how many sides had colour is not known
  CHECK(proto::estimate_counts(4, 1, "one-sided", "monochrome").color_impressions == 0);
  CHECK(proto::estimate_counts(-1, 1, "one-sided", "monochrome").color_impressions == -1);
  e = proto::estimate_counts(3, 0, "one-sided"); // 0 copies: as submitted, counts as 1
  CHECK(e.impressions == 3);

  TempDir dir;
  auto station = make_identity(dir.path, "station");
  proto::UpdateJobStatusRequest u;
  u.job = uuid_v7();
  u.claim = uuid_v7();
  u.pages = 2;
  REQUIRE(proto::sign_outcome(station->key(), kLateWorkstation, u).ok());
  CHECK(u.signer_key == station->key().public_der());
  CHECK(proto::verify_outcome(station->key().public_key(), kLateWorkstation, u).ok());
  // Another workstation, another count, another signer: refused.
  CHECK(proto::verify_outcome(station->key().public_key(), "another-workstation", u).error().code ==
        Errc::invalid_signature);
  auto changed = u;
  changed.impressions = 99;
  CHECK(proto::verify_outcome(station->key().public_key(), kLateWorkstation, changed).error().code ==
        Errc::invalid_signature);
  auto other = make_identity(dir.path, "other");
  CHECK(proto::check_reported_outcome(other->fingerprint(), kLateWorkstation, u).error().code ==
        Errc::invalid_signature);
  CHECK(proto::check_reported_outcome(station->fingerprint(), kLateWorkstation, u).ok());
  // Unsigned: refused for completed, allowed for aborted (nothing is counted).
  proto::UpdateJobStatusRequest unsigned_done;
  unsigned_done.job = u.job;
  CHECK(proto::check_reported_outcome(station->fingerprint(), kLateWorkstation, unsigned_done).error().code ==
        Errc::invalid_signature);
  unsigned_done.outcome = proto::JobOutcome::aborted;
  CHECK(proto::check_reported_outcome(station->fingerprint(), kLateWorkstation, unsigned_done).ok());
}

TEST_CASE("update-job-status: the outcome must be signed by the presenting station, the record carries the "
          "signature [issue-5]",
          "[agent][release][issue-5]") {
  LateFixture f;
  auto a = f.open_release(f.station);

  // list-jobs tells the station the workstation's LateBindingEnabled.
  auto listed = a->call(proto::op::list_jobs, args_of(proto::ListJobsRequest{}));
  REQUIRE(listed.ok());
  auto jobs = result_of<proto::ListJobsResult>(*listed);
  REQUIRE(jobs.jobs.size() == 1);
  CHECK(jobs.jobs[0].late_binding);

  std::string claim = f.claim_and_fetch(*a);
  proto::UpdateJobStatusRequest good = f.completed(claim, *f.station);

  // Unsigned, signed by another key, or tampered with: refused, and nothing changes.
  auto unsigned_update = good;
  unsigned_update.signature.clear();
  unsigned_update.signer_key.clear();
  auto r = a->call(proto::op::update_job_status, args_of(unsigned_update));
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == Errc::invalid_signature);
  auto forged = f.completed(claim, *f.other_station);
  r = a->call(proto::op::update_job_status, args_of(forged));
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == Errc::invalid_signature);
  auto tampered = good;
  tampered.impressions = 1;
  r = a->call(proto::op::update_job_status, args_of(tampered));
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == Errc::invalid_signature);
  CHECK(f.store->get(f.job.id)->state == JobState::printing);
  CHECK(f.records().empty());

  r = a->call(proto::op::update_job_status, args_of(good));
  REQUIRE(r.ok());
  CHECK(result_of<proto::UpdateJobStatusResult>(*r).state == "printed");
  auto recs = f.records();
  REQUIRE(recs.size() == 1);
  const proto::JobRecord &rec = recs[0];
  CHECK(rec.counts_source == "device");
  CHECK(rec.impressions == 8);
  CHECK(rec.sheets == 4);
  CHECK(rec.copies == 2);
  CHECK(rec.duplex);
  CHECK(rec.color == "monochrome");
  CHECK(rec.signed_by == f.station->fingerprint());
  CHECK(rec.signer_key == f.station->key().public_der());
  // What the accounting server can do with it (issue 6): check the signature over the bytes.
  auto key = proto::PublicKey::from_der(rec.signer_key);
  REQUIRE(key.ok());
  CHECK(key->fingerprint() == rec.signed_by);
  CHECK(key->verify(rec.signed_outcome, rec.signature).ok());
  CHECK(rec.signed_outcome == proto::outcome_signed_bytes(good, kLateWorkstation));

  // The late report of the same claim after that: acknowledged, not counted again.
  auto again = report(*a, good);
  REQUIRE(again.ok());
  CHECK_FALSE(again->counted);
  CHECK(again->state == "printed");
  CHECK(f.records().size() == 1);
  a->close();
  a.reset();
  f.finish();
}

TEST_CASE("update-job-status: without device counts the record is estimated from pages, copies and sides "
          "[issue-5]",
          "[agent][release][issue-5]") {
  LateFixture f;
  auto a = f.open_release(f.station);
  std::string claim = f.claim_and_fetch(*a);
  proto::UpdateJobStatusRequest u;
  u.job = f.job.id;
  u.claim = claim;
  u.outcome = proto::JobOutcome::completed;
  u.pages = 3;
  u.copies = 2;
  u.sides = "two-sided-short-edge";
  u.counts_source = "estimated";
  u.impressions = 1000; // not the device's: ignored for an estimate
  REQUIRE(proto::sign_outcome(f.station->key(), kLateWorkstation, u).ok());
  REQUIRE(a->call(proto::op::update_job_status, args_of(u)).ok());
  auto recs = f.records();
  REQUIRE(recs.size() == 1);
  CHECK(recs[0].counts_source == "estimated");
  CHECK(recs[0].pages == 3);
  CHECK(recs[0].impressions == 6);
  CHECK(recs[0].sheets == 4);
  CHECK(recs[0].copies == 2);
  CHECK(recs[0].duplex);
  CHECK(recs[0].color == "color"); // as submitted
  a->close();
  a.reset();
  f.finish();
}

TEST_CASE("report-outcome: a station reports after its restart, the job is counted once [issue-5]",
          "[agent][release][late][issue-5]") {
  LateFixture f;
  auto a = f.open_release(f.station);
  std::string claim = f.claim_and_fetch(*a);
  proto::UpdateJobStatusRequest done = f.completed(claim, *f.station);
  // The station dies here: no update-job-status. Its restart opens a new connection, no ticket.
  a->close();
  a.reset();

  SECTION("still printing under its claim: printed, counted, and a repeat counts nothing") {
    auto b = f.connect(f.station);
    auto r = report(*b, done);
    REQUIRE(r.ok());
    CHECK(r->counted);
    CHECK(r->state == "printed");
    auto again = report(*b, done);
    REQUIRE(again.ok());
    CHECK_FALSE(again->counted);
    auto recs = f.records();
    REQUIRE(recs.size() == 1);
    CHECK(recs[0].signed_by == f.station->fingerprint());
    CHECK(recs[0].event == "printed");
    b->close();
  }

  SECTION("held again after the claim lapsed, nobody printed it since: printed, counted") {
    f.lapse_claims();
    REQUIRE(f.store->get(f.job.id)->state == JobState::held);
    auto b = f.connect(f.station);
    auto r = report(*b, done);
    REQUIRE(r.ok());
    CHECK(r->counted);
    CHECK(r->state == "printed");
    CHECK(f.store->get(f.job.id)->state == JobState::printed);
    CHECK(f.records().size() == 1);
    b->close();
  }

  SECTION("printed since under another station's claim: acknowledged, nothing counted again") {
    f.lapse_claims();
    auto other = f.open_release(f.other_station);
    std::string other_claim = f.claim_and_fetch(*other);
    REQUIRE(
        other->call(proto::op::update_job_status, args_of(f.completed(other_claim, *f.other_station))).ok());
    REQUIRE(f.records().size() == 1);
    auto b = f.connect(f.station);
    auto r = report(*b, done);
    REQUIRE(r.ok());
    CHECK_FALSE(r->counted);
    CHECK(r->state == "printed");
    CHECK(f.records().size() == 1);
    other->close();
    b->close();
  }

  SECTION("another station holds the job right now: unavailable, report again later") {
    f.lapse_claims();
    auto other = f.open_release(f.other_station);
    f.claim_and_fetch(*other);
    auto b = f.connect(f.station);
    auto r = report(*b, done);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Errc::unavailable);
    CHECK(f.store->get(f.job.id)->state == JobState::printing);
    CHECK(f.records().empty());
    other->close();
    b->close();
  }

  SECTION("another station's claim, an unknown claim, a forged signature: refused, nothing changes") {
    auto b = f.connect(f.other_station);
    // The other station signs the report itself: still not its claim.
    auto r = report(*b, f.completed(claim, *f.other_station));
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Errc::forbidden);
    // Station A's signed report presented by station B's connection.
    r = report(*b, done);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Errc::invalid_signature);
    b->close();
    auto c = f.connect(f.station);
    r = report(*c, f.completed(uuid_v7(), *f.station));
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Errc::not_found);
    auto tampered = done;
    tampered.sheets = 1;
    r = report(*c, tampered);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Errc::invalid_signature);
    CHECK(f.store->get(f.job.id)->state == JobState::printing);
    CHECK(f.records().empty());
    c->close();
  }

  SECTION("the job was deleted since: not_found") {
    f.lapse_claims();
    REQUIRE(f.store->remove(f.job.id, wall_ms(), nullptr).ok());
    auto missing = f.store->claim_record(claim);
    CHECK(missing.error().code == Errc::not_found); // the claim history went with the job
    auto b = f.connect(f.station);
    auto r = report(*b, done);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Errc::not_found);
    b->close();
  }

  f.finish();
}

TEST_CASE("report-outcome: a claim that never fetched its document cannot be completed late [issue-5]",
          "[agent][release][late][issue-5]") {
  LateFixture f;
  auto a = f.open_release(f.station);
  proto::AcknowledgeJobRequest ack;
  ack.job = f.job.id;
  auto acked = a->call(proto::op::acknowledge_job, args_of(ack));
  REQUIRE(acked.ok());
  std::string claim = result_of<proto::AcknowledgeJobResult>(*acked).claim;
  auto claim_row = f.store->claim_record(claim);
  REQUIRE(claim_row.ok());
  CHECK(claim_row->printer == f.station->fingerprint());
  CHECK_FALSE(claim_row->fetched);
  auto r = report(*a, f.completed(claim, *f.station));
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == Errc::conflict);
  CHECK(f.store->get(f.job.id)->state == JobState::claimed);
  // An aborted late report ends the claim; nothing is counted.
  proto::UpdateJobStatusRequest aborted;
  aborted.job = f.job.id;
  aborted.claim = claim;
  aborted.outcome = proto::JobOutcome::aborted;
  auto ended = report(*a, aborted);
  REQUIRE(ended.ok());
  CHECK_FALSE(ended->counted);
  CHECK(ended->state == "held");
  CHECK(f.records().empty());
  a->close();
  a.reset();
  f.finish();
}

TEST_CASE("station journal: a station killed mid-release reports at its next start, counted once "
          "[issue-5]",
          "[agent][printer][late][journal][issue-5]") {
  LateFixture f;
  TempDir station_dir;
  auto opened = printer::StationStore::open(station_dir.path);
  REQUIRE(opened.ok());
  std::shared_ptr<printer::StationStore> station_store = std::move(*opened);
  auto journal = printer::StationJournal::open(station_store);

  proto::WorkstationRef ws;
  ws.id = kLateWorkstation;
  ws.name = "alice-laptop";
  // The first address answers nothing: the next one is tried, as in a release.
  ws.addresses = {"127.0.0.2", "127.0.0.1"};
  ws.port = f.service->port();
  ws.fingerprint = f.agent_identity->fingerprint();

  // The run that dies: device took the job, the journal entry is committed, then the station is
  // gone before update-job-status.
  auto a = f.open_release(f.station);
  std::string claim = f.claim_and_fetch(*a);
  proto::JobInfo info = f.job.info();
  REQUIRE(journal->record(printer::journal_entry(ws, info, f.completed(claim, *f.station))).ok());
  a->close();
  a.reset();

  // The next start: a new journal object on the same state.db.
  auto reopened = printer::StationStore::open(station_dir.path);
  REQUIRE(reopened.ok());
  auto journal2 = printer::StationJournal::open(std::shared_ptr<printer::StationStore>(std::move(*reopened)));
  auto pending = journal2->pending();
  REQUIRE(pending.ok());
  REQUIRE(pending->size() == 1);
  CHECK((*pending)[0].claim == claim);
  CHECK((*pending)[0].workstation.addresses == ws.addresses);
  CHECK(proto::verify_outcome(f.station->key().public_key(), kLateWorkstation, (*pending)[0].report).ok());

  auto run_reports = [&](const std::shared_ptr<printer::StationJournal> &j) {
    std::vector<std::string> lines;
    std::optional<printer::LateReportSummary> summary;
    printer::ReleaseSettings settings;
    settings.connect_timeout_ms = 1000;
    printer::report_pending(
        &f.loop, f.client_ctx(f.station), j, settings,
        [&](const std::string &line) { lines.push_back(line); },
        [&](printer::LateReportSummary s) { summary = s; });
    int64_t deadline = mono_ms() + 15000;
    while (!summary && mono_ms() < deadline)
      uv_run(&f.loop, UV_RUN_ONCE);
    REQUIRE(summary.has_value());
    return std::make_pair(*summary, lines);
  };

  auto [first, lines] = run_reports(journal2);
  CHECK(first.pending == 1);
  CHECK(first.reported == 1);
  CHECK(first.counted == 1);
  CHECK(first.kept == 0);
  CHECK(journal2->pending()->empty());
  CHECK(f.store->get(f.job.id)->state == JobState::printed);
  REQUIRE(f.records().size() == 1);
  CHECK(std::any_of(lines.begin(), lines.end(),
                    [](const std::string &l) { return l.find("counted") != std::string::npos; }));

  // Killed after the agent answered but before the entry was removed: reported again, counted
  // nothing more.
  REQUIRE(journal2->record(printer::journal_entry(ws, info, f.completed(claim, *f.station))).ok());
  auto [second, lines2] = run_reports(journal2);
  CHECK(second.reported == 1);
  CHECK(second.counted == 0);
  CHECK(journal2->pending()->empty());
  CHECK(f.records().size() == 1);

  // A workstation that does not answer keeps its entry for the next start.
  proto::WorkstationRef gone = ws;
  gone.addresses = {"127.0.0.1"};
  gone.port = 1; // nothing listens there
  REQUIRE(journal2->record(printer::journal_entry(gone, info, f.completed(claim, *f.station))).ok());
  auto [third, lines3] = run_reports(journal2);
  CHECK(third.kept == 1);
  CHECK(third.reported == 0);
  CHECK(journal2->pending()->size() == 1);
  CHECK(f.records().size() == 1);
  f.finish();
}
