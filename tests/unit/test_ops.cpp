// The encoding of frames and typed ops: golden vectors that pin the bytes on the wire, a round
// trip of every ops.h message with non-default values, and the refusals of the readers.
#include <catch2/catch.hpp>

#include "codec_support.h"
#include "lpm/ids.h"
#include "lpm/protocol/ops.h"
#include "lpm/protocol/wire.h"

using namespace lpm;
using namespace lpm::proto;
using lpm::test::kFp;
using lpm::test::kId;
using lpm::test::kId2;
using lpm::test::round_trip;

namespace {

const std::string kFp2 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

Bytes text(std::string_view s) { return Bytes(s.begin(), s.end()); }

// Runs T::read on the map `w` and returns the reader's error ("" when it accepted the map).
template <class T> std::string refusal(const MapWriter &w) {
  Bytes bytes = w.finish();
  auto handle = unpack_map(bytes);
  REQUIRE(handle.ok());
  MapReader r(handle->get(), "args");
  T out;
  out.read(r);
  if (r.ok()) return "";
  CHECK(r.error().code == Errc::bad_request);
  return r.error().message;
}

SignedTicket some_ticket() { return SignedTicket{text("ticket body bytes"), text("signature bytes")}; }

} // namespace

// ---------------------------------------------------------------------------------------------
// Golden vectors: computed once with the encoders, checked by hand against the msgpack spec
// (annotated below), then pinned. A change here is a protocol change.

TEST_CASE("golden: hello frame", "[ops][golden]") {
  Hello h;
  h.major = 0;
  h.minor = 1;
  h.role = "printer";
  h.software = "lpm/0.1.0";
  // 00000036 length 54 | 81 map(1) | a5 "hello" | 84 map(4) | a5 "major" 00 | a5 "minor" 01 |
  // a4 "role" a7 "printer" | a8 "software" a9 "lpm/0.1.0"
  CHECK(to_hex(frame(encode_hello(h))) ==
        "00000036"
        "81a568656c6c6f84"
        "a56d616a6f7200"
        "a56d696e6f7201"
        "a4726f6c65a77072696e746572"
        "a8736f667477617265a96c706d2f302e312e30");
}

TEST_CASE("golden: badge-in request frame", "[ops][golden]") {
  BadgeInRequest req;
  req.badge = "0451";
  MapWriter args;
  req.write(args);
  // 00000047 length 71 | 83 map(3) | a2 "op" a8 "badge-in" | a2 "id" d9 24 str8(36) uuid |
  // a4 "args" 81 map(1) a5 "badge" a4 "0451"
  CHECK(to_hex(frame(encode_request(kId, op::badge_in, args))) ==
        "00000047"
        "83a26f70a862616467652d696e"
        "a26964d92430313930663565322d376333612d373030302d383030302d303030303030303030303031"
        "a46172677381a56261646765a430343531");
}

TEST_CASE("golden: error frame", "[ops][golden]") {
  // 0000004d length 77 | 82 map(2) | a2 "id" d9 24 uuid | a5 "error" 82 map(2) |
  // a4 "code" 05 (not_found) | a7 "message" ad "unknown badge"
  CHECK(to_hex(frame(encode_error(kId, Error{Errc::not_found, "unknown badge"}))) ==
        "0000004d"
        "82a26964d92430313930663565322d376333612d373030302d383030302d303030303030303030303031"
        "a56572726f7282a4636f646505"
        "a76d657373616765ad756e6b6e6f776e206261646765");
}

TEST_CASE("golden: end frame", "[ops][golden]") {
  // 0000005f length 95 | 82 map(2) | a2 "id" d9 24 uuid | a3 "end" 82 map(2) |
  // a6 "sha256" c4 20 bin8(32) SHA-256("abc") | a5 "bytes" 03
  CHECK(to_hex(frame(encode_end(kId, sha256(text("abc")), 3))) ==
        "0000005f"
        "82a26964d92430313930663565322d376333612d373030302d383030302d303030303030303030303031"
        "a3656e6482a6736861323536c420"
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        "a5627974657303");
}

TEST_CASE("golden vectors decode back to what they say", "[ops][golden]") {
  Bytes end = frame(encode_end(kId, sha256(text("abc")), 3));
  auto env = decode_envelope(std::span<const uint8_t>(end).subspan(4));
  REQUIRE(env.ok());
  CHECK(env->kind == FrameKind::end);
  CHECK(env->id == kId);
  CHECK(env->bytes == 3);
  CHECK(to_hex(env->sha256) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");

  Bytes err = frame(encode_error(kId, Error{Errc::not_found, "unknown badge"}));
  env = decode_envelope(std::span<const uint8_t>(err).subspan(4));
  REQUIRE(env.ok());
  CHECK(env->kind == FrameKind::error);
  CHECK(env->error.code == Errc::not_found);
  CHECK(env->error.message == "unknown badge");
}

// ---------------------------------------------------------------------------------------------
// Round trips with every field away from its default.

TEST_CASE("ops round trip: directory messages", "[ops]") {
  PageRequest page;
  page.after = "cursor-17";
  page.limit = 42;
  auto page2 = round_trip(page);
  CHECK(page2.after == "cursor-17");
  CHECK(page2.limit == 42);

  EnrollRequest er;
  er.token = "0123456789abcdef0123456789abcdef";
  er.kind = EnrollKind::accounting;
  er.name = "HQ accounting";
  auto er2 = round_trip(er);
  CHECK(er2.token == er.token);
  CHECK(er2.kind == EnrollKind::accounting);
  CHECK(er2.name == er.name);

  EnrollResult eres;
  eres.id = kId;
  eres.ticket_key = text("DER public key");
  auto eres2 = round_trip(eres);
  CHECK(eres2.id == kId);
  CHECK(eres2.ticket_key == eres.ticket_key);

  RegisterRequest reg;
  reg.port = 9443;
  reg.addresses = {"192.168.1.20", "fe80::1"};
  reg.holdings = {Holding{kId, 3}, Holding{kId2, 0}};
  auto reg2 = round_trip(reg);
  CHECK(reg2.port == 9443);
  CHECK(reg2.addresses == reg.addresses);
  REQUIRE(reg2.holdings.size() == 2);
  CHECK(reg2.holdings[0].user == kId);
  CHECK(reg2.holdings[0].jobs == 3);
  CHECK(reg2.holdings[1].user == kId2);
  CHECK(reg2.holdings[1].jobs == 0);

  RegisterResult rres;
  rres.now_ms = 1732400000123;
  rres.heartbeat_s = 60;
  auto rres2 = round_trip(rres);
  CHECK(rres2.now_ms == 1732400000123);
  CHECK(rres2.heartbeat_s == 60);

  BadgeInRequest bin;
  bin.badge = "  0451 ";
  CHECK(round_trip(bin).badge == "  0451 ");

  BadgeInResult bres;
  bres.user = kId;
  bres.display_name = "Ada Lovelace";
  WorkstationRef ws;
  ws.id = kId2;
  ws.name = "ws-01";
  ws.addresses = {"10.0.0.5"};
  ws.port = 9443;
  ws.fingerprint = kFp2;
  bres.workstations = {ws};
  bres.ticket = some_ticket();
  auto bres2 = round_trip(bres);
  CHECK(bres2.user == kId);
  CHECK(bres2.display_name == "Ada Lovelace");
  REQUIRE(bres2.workstations.size() == 1);
  CHECK(bres2.workstations[0].id == kId2);
  CHECK(bres2.workstations[0].name == "ws-01");
  CHECK(bres2.workstations[0].addresses == ws.addresses);
  CHECK(bres2.workstations[0].port == 9443);
  CHECK(bres2.workstations[0].fingerprint == kFp2);
  CHECK(bres2.ticket.body == bres.ticket.body);
  CHECK(bres2.ticket.signature == bres.ticket.signature);
  CHECK(bres2.reservation.empty());
  CHECK(bres2.color_denied == kColorDeniedMono);

  // AMB-17: the counted users' limits and the colour rule; others read as unlimited.
  bres.users = {BadgeUser{kId, "Ada", true, 12, false}, BadgeUser{kId2, "Bo", false, -1, true}};
  bres.reservation = "res-1";
  bres.color_denied = kColorDeniedRefuse;
  auto bres3 = round_trip(bres);
  REQUIRE(bres3.users.size() == 2);
  CHECK(bres3.users[0].counted);
  CHECK(bres3.users[0].quota_left == 12);
  CHECK_FALSE(bres3.users[0].color_allowed);
  CHECK_FALSE(bres3.users[1].counted);
  CHECK(bres3.users[1].quota_left == -1);
  CHECK(bres3.users[1].color_allowed);
  CHECK(bres3.reservation == "res-1");
  CHECK(bres3.color_denied == kColorDeniedRefuse);

  SettleQuotaRequest settle;
  settle.reservation = "res-1";
  settle.user = kId;
  settle.workstation = kId2;
  UpdateJobStatusRequest done_job;
  done_job.job = kId2;
  done_job.claim = "c";
  done_job.impressions = 4;
  settle.outcome = done_job;
  settle.done = true;
  auto settle2 = round_trip(settle);
  CHECK(settle2.reservation == "res-1");
  CHECK(settle2.user == kId);
  CHECK(settle2.workstation == kId2);
  REQUIRE(settle2.outcome);
  CHECK(settle2.outcome->impressions == 4);
  CHECK(settle2.done);
  SettleQuotaResult settled;
  settled.charged = 4;
  settled.quota_left = 8;
  CHECK(round_trip(settled).quota_left == 8);

  ListEnrolledRequest ler;
  ler.page.after = kId;
  ler.page.limit = 7;
  auto ler2 = round_trip(ler);
  CHECK(ler2.page.after == kId);
  CHECK(ler2.page.limit == 7);

  ListEnrolledResult lres;
  lres.items = {EnrolledKey{kId, EnrollKind::printer, "printer 3", kFp},
                EnrolledKey{kId2, EnrollKind::console, "admin", kFp2}};
  lres.next = kId2;
  auto lres2 = round_trip(lres);
  REQUIRE(lres2.items.size() == 2);
  CHECK(lres2.items[0].id == kId);
  CHECK(lres2.items[0].kind == EnrollKind::printer);
  CHECK(lres2.items[0].name == "printer 3");
  CHECK(lres2.items[0].fingerprint == kFp);
  CHECK(lres2.items[1].kind == EnrollKind::console);
  CHECK(lres2.items[1].fingerprint == kFp2);
  CHECK(lres2.next == kId2);

  // issue 6: the people accounting stamps records with.
  ListPeopleResult pres;
  pres.items = {PersonFacts{kId, "Élodie Martin", "elodie@example.com", "R&D", kId2, "Paris 2nd floor"},
                PersonFacts{kId2, "Bob", "bob@example.com", "", "", ""}};
  pres.next = kId2;
  auto pres2 = round_trip(pres);
  REQUIRE(pres2.items.size() == 2);
  CHECK(pres2.items[0].name == "Élodie Martin");
  CHECK(pres2.items[0].department == "R&D");
  CHECK(pres2.items[0].print_group == kId2);
  CHECK(pres2.items[0].print_group_name == "Paris 2nd floor");
  CHECK(pres2.items[1].print_group.empty());
  CHECK(pres2.next == kId2);
}

TEST_CASE("ops round trip: release service messages", "[ops]") {
  OpenReleaseRequest orq;
  orq.ticket = some_ticket();
  auto orq2 = round_trip(orq);
  CHECK(orq2.ticket.body == orq.ticket.body);
  CHECK(orq2.ticket.signature == orq.ticket.signature);

  OpenReleaseResult ores;
  ores.workstation = kId;
  ores.users = {kId2};
  auto ores2 = round_trip(ores);
  CHECK(ores2.workstation == kId);
  CHECK(ores2.users == ores.users);

  JobInfo job;
  job.id = kId;
  job.user = kId2;
  job.title = "Quarterly report.pdf";
  job.format = "application/pdf";
  job.size = 123456;
  job.pages = 12;
  job.copies = 2;
  job.sides = "two-sided-long-edge";
  job.color = "monochrome";
  job.submitted_ms = 1732400000000;
  job.state = "claimed";
  job.sha256 = Bytes(32, 0xab);
  ListJobsResult ljr;
  ljr.jobs = {job};
  ljr.next = "page-2";
  auto ljr2 = round_trip(ljr);
  REQUIRE(ljr2.jobs.size() == 1);
  const JobInfo &j = ljr2.jobs[0];
  CHECK(j.id == kId);
  CHECK(j.user == kId2);
  CHECK(j.title == job.title);
  CHECK(j.format == job.format);
  CHECK(j.size == 123456);
  CHECK(j.pages == 12);
  CHECK(j.copies == 2);
  CHECK(j.sides == job.sides);
  CHECK(j.color == job.color);
  CHECK(j.submitted_ms == 1732400000000);
  CHECK(j.state == "claimed");
  CHECK(j.sha256 == job.sha256);
  CHECK(ljr2.next == "page-2");

  ListJobsRequest ljq;
  ljq.include_printed = true;
  ljq.page.after = "page-2";
  ljq.page.limit = 3;
  auto ljq2 = round_trip(ljq);
  CHECK(ljq2.include_printed);
  CHECK(ljq2.page.after == "page-2");
  CHECK(ljq2.page.limit == 3);

  AcknowledgeJobRequest ack;
  ack.job = kId;
  CHECK(round_trip(ack).job == kId);

  AcknowledgeJobResult ackr;
  ackr.claim = "claim-token";
  ackr.lease_ms = 30000;
  auto ackr2 = round_trip(ackr);
  CHECK(ackr2.claim == "claim-token");
  CHECK(ackr2.lease_ms == 30000);

  FetchDocumentRequest fdr;
  fdr.job = kId;
  fdr.claim = "claim-token";
  auto fdr2 = round_trip(fdr);
  CHECK(fdr2.job == kId);
  CHECK(fdr2.claim == "claim-token");

  FetchDocumentHeader fdh;
  fdh.size = 987654321;
  fdh.format = "application/postscript";
  fdh.sha256 = sha256(text("document"));
  auto fdh2 = round_trip(fdh);
  CHECK(fdh2.size == 987654321);
  CHECK(fdh2.format == fdh.format);
  CHECK(fdh2.sha256 == fdh.sha256);

  UpdateJobStatusRequest ujs;
  ujs.job = kId;
  ujs.claim = "claim-token";
  ujs.outcome = JobOutcome::aborted;
  ujs.message = "paper jam";
  ujs.pages = 4;
  ujs.impressions = 8;
  ujs.sheets = 4;
  ujs.color_impressions = 2;
  ujs.counts_source = "device";
  ujs.printer_name = "Floor 2 MFP";
  auto ujs2 = round_trip(ujs);
  CHECK(ujs2.job == kId);
  CHECK(ujs2.claim == "claim-token");
  CHECK(ujs2.outcome == JobOutcome::aborted);
  CHECK(ujs2.message == "paper jam");
  CHECK(ujs2.pages == 4);
  CHECK(ujs2.impressions == 8);
  CHECK(ujs2.sheets == 4);
  CHECK(ujs2.color_impressions == 2);
  CHECK(ujs2.counts_source == "device");
  CHECK(ujs2.printer_name == "Floor 2 MFP");

  UpdateJobStatusResult ujr;
  ujr.state = "printed";
  CHECK(round_trip(ujr).state == "printed");
}

TEST_CASE("ops round trip: local socket and accounting messages", "[ops]") {
  SubmitJobRequest sj;
  sj.title = "photo.jpg";
  sj.format = "image/jpeg";
  sj.size = 4096;
  sj.copies = 3;
  sj.sides = "two-sided-short-edge";
  sj.color = "monochrome";
  auto sj2 = round_trip(sj);
  CHECK(sj2.title == "photo.jpg");
  CHECK(sj2.format == "image/jpeg");
  CHECK(sj2.size == 4096);
  CHECK(sj2.copies == 3);
  CHECK(sj2.sides == sj.sides);
  CHECK(sj2.color == "monochrome");

  SubmitJobResult sjr;
  sjr.job = kId;
  sjr.state = "held";
  sjr.user = kId2;
  auto sjr2 = round_trip(sjr);
  CHECK(sjr2.job == kId);
  CHECK(sjr2.state == "held");
  CHECK(sjr2.user == kId2);

  JobRecord rec;
  rec.id = kId;
  rec.event = "deleted";
  rec.reason = "expired";
  rec.job = kId2;
  rec.user = kId;
  rec.workstation = kId2;
  rec.site = "HQ";
  rec.printer = "Floor 2 MFP";
  rec.submitted_ms = 1732400000000;
  rec.event_ms = 1732400100000;
  rec.format = "application/pdf";
  rec.size = 77;
  rec.pages = 5;
  rec.impressions = 10;
  rec.sheets = 5;
  rec.copies = 2;
  rec.color_impressions = 1;
  rec.duplex = true;
  rec.counts_source = "device";
  PostRecordsRequest prq;
  prq.records = {rec, rec};
  prq.records[1].id = kId2;
  auto prq2 = round_trip(prq);
  REQUIRE(prq2.records.size() == 2);
  const JobRecord &r = prq2.records[0];
  CHECK(r.id == kId);
  CHECK(r.event == "deleted");
  CHECK(r.reason == "expired");
  CHECK(r.job == kId2);
  CHECK(r.user == kId);
  CHECK(r.workstation == kId2);
  CHECK(r.site == "HQ");
  CHECK(r.printer == "Floor 2 MFP");
  CHECK(r.submitted_ms == 1732400000000);
  CHECK(r.event_ms == 1732400100000);
  CHECK(r.format == "application/pdf");
  CHECK(r.size == 77);
  CHECK(r.pages == 5);
  CHECK(r.impressions == 10);
  CHECK(r.sheets == 5);
  CHECK(r.copies == 2);
  CHECK(r.color_impressions == 1);
  CHECK(r.duplex);
  CHECK(r.counts_source == "device");
  CHECK(prq2.records[1].id == kId2);

  PostRecordsResult prr;
  prr.stored = 9;
  prr.duplicates = 4;
  auto prr2 = round_trip(prr);
  CHECK(prr2.stored == 9);
  CHECK(prr2.duplicates == 4);

  ReportTotalsRequest rtq;
  rtq.from_ms = -5;
  rtq.to_ms = 1732400000000;
  auto rtq2 = round_trip(rtq);
  CHECK(rtq2.from_ms == -5);
  CHECK(rtq2.to_ms == 1732400000000);

  ReportTotalsResult rtr;
  rtr.rows = {UserTotals{kId, 3, 30, 60, 1 << 20}, UserTotals{kId2, 1, 1, 2, 3}};
  auto rtr2 = round_trip(rtr);
  REQUIRE(rtr2.rows.size() == 2);
  CHECK(rtr2.rows[0].user == kId);
  CHECK(rtr2.rows[0].jobs == 3);
  CHECK(rtr2.rows[0].pages == 30);
  CHECK(rtr2.rows[0].impressions == 60);
  CHECK(rtr2.rows[0].bytes == 1 << 20);
  CHECK(rtr2.rows[1].user == kId2);
}

TEST_CASE("ops: optional fields take their documented defaults when absent", "[ops]") {
  MapWriter w;
  w.str("job", kId).str("claim", "c").str("outcome", "completed");
  Bytes bytes = w.finish();
  auto handle = unpack_map(bytes);
  REQUIRE(handle.ok());
  MapReader r(handle->get(), "args");
  UpdateJobStatusRequest u;
  u.pages = 99;
  u.read(r);
  REQUIRE(r.ok());
  CHECK(u.pages == -1);
  CHECK(u.impressions == -1);
  CHECK(u.counts_source == "estimated");
  CHECK(u.message.empty());

  MapWriter s;
  s.str("title", "t");
  SubmitJobRequest sj;
  CHECK(refusal<SubmitJobRequest>(s).empty());
  bytes = s.finish();
  handle = unpack_map(bytes);
  REQUIRE(handle.ok());
  MapReader sr(handle->get(), "args");
  sj.read(sr);
  CHECK(sj.format == "application/octet-stream");
  CHECK(sj.copies == 1);
}

// ---------------------------------------------------------------------------------------------
// Refusals.

TEST_CASE("ops refuse malformed values with bad_request naming the field", "[ops]") {
  SECTION("an id that is not a UUID") {
    MapWriter w;
    w.str("job", "not-a-uuid");
    CHECK_THAT(refusal<AcknowledgeJobRequest>(w), Catch::Contains("args.job"));
    MapWriter f;
    f.str("job", "0190f5e2-7c3a-7000-8000-00000000000g").str("claim", "c");
    CHECK_THAT(refusal<FetchDocumentRequest>(f), Catch::Contains("UUID"));
  }
  SECTION("an outcome outside the enum") {
    MapWriter w;
    w.str("job", kId).str("claim", "c").str("outcome", "exploded");
    CHECK_THAT(refusal<UpdateJobStatusRequest>(w), Catch::Contains("outcome"));
    MapWriter ok;
    ok.str("job", kId).str("claim", "c").str("outcome", "canceled");
    CHECK(refusal<UpdateJobStatusRequest>(ok).empty()); // control
  }
  SECTION("port 0 or past 65535") {
    RegisterRequest reg;
    reg.port = 0;
    MapWriter w;
    reg.write(w);
    CHECK_THAT(refusal<RegisterRequest>(w), Catch::Contains("port"));
    MapWriter big;
    big.u64("port", 65536).str_array("addresses", {}).map_array("holdings", {});
    CHECK_THAT(refusal<RegisterRequest>(big), Catch::Contains("port"));
    MapWriter ok;
    ok.u64("port", 65535).str_array("addresses", {}).map_array("holdings", {});
    CHECK(refusal<RegisterRequest>(ok).empty()); // control

    BadgeInResult b;
    b.user = kId;
    b.workstations = {WorkstationRef{kId2, "ws", {}, 0, kFp}};
    b.ticket = some_ticket();
    MapWriter bw;
    b.write(bw);
    CHECK_THAT(refusal<BadgeInResult>(bw), Catch::Contains("port"));
  }
  SECTION(
      "settle-quota: an outcome without its user and workstation, nothing to do, an unknown colour rule") {
    MapWriter w;
    MapWriter o;
    UpdateJobStatusRequest job;
    job.job = kId;
    job.write(o);
    w.str("reservation", "r").map("outcome", o);
    CHECK_THAT(refusal<SettleQuotaRequest>(w), Catch::Contains("args.user and args.workstation"));
    MapWriter nothing;
    nothing.str("reservation", "r");
    CHECK_THAT(refusal<SettleQuotaRequest>(nothing), Catch::Contains("needs an outcome, done, or both"));
    MapWriter no_reservation;
    no_reservation.str("reservation", "").boolean("done", true);
    CHECK_THAT(refusal<SettleQuotaRequest>(no_reservation), Catch::Contains("reservation"));
    MapWriter done;
    done.str("reservation", "r").boolean("done", true);
    CHECK(refusal<SettleQuotaRequest>(done).empty()); // control

    BadgeInResult b;
    b.user = kId;
    b.ticket = some_ticket();
    b.color_denied = "sometimes";
    MapWriter bw;
    b.write(bw);
    CHECK_THAT(refusal<BadgeInResult>(bw), Catch::Contains("color_denied"));
  }
  SECTION("an enrollment kind outside the enum") {
    MapWriter w;
    w.str("token", "t").str("kind", "wizard").str("name", "n");
    CHECK_THAT(refusal<EnrollRequest>(w), Catch::Contains("kind"));
  }
  SECTION("a fingerprint that is not 64 lower-case hex digits") {
    ListEnrolledResult l;
    l.items = {EnrolledKey{kId, EnrollKind::printer, "p", std::string(64, 'A')}};
    MapWriter w;
    l.write(w);
    CHECK_THAT(refusal<ListEnrolledResult>(w), Catch::Contains("fingerprint"));
  }
  SECTION("a person with a print group id but no name, or no id [issue-6]") {
    ListPeopleResult l;
    l.items = {PersonFacts{kId, "A", "a@example.com", "", kId2, ""}};
    MapWriter w;
    l.write(w);
    CHECK_THAT(refusal<ListPeopleResult>(w), Catch::Contains("print-group"));
    l.items = {PersonFacts{"", "A", "a@example.com", "", "", ""}};
    MapWriter w2;
    l.write(w2);
    CHECK_THAT(refusal<ListPeopleResult>(w2), Catch::Contains("id"));
  }
  SECTION("a record with an unknown event or reason") {
    JobRecord rec;
    rec.id = kId;
    rec.job = kId2;
    rec.event = "burned";
    rec.reason = "released";
    PostRecordsRequest p;
    p.records = {rec};
    MapWriter w;
    p.write(w);
    CHECK_THAT(refusal<PostRecordsRequest>(w), Catch::Contains("event"));
    p.records[0].event = "printed";
    p.records[0].reason = "because";
    MapWriter w2;
    p.write(w2);
    CHECK_THAT(refusal<PostRecordsRequest>(w2), Catch::Contains("reason"));
  }
  SECTION("copies outside 1..999") {
    MapWriter w;
    w.str("title", "t").u64("copies", 0);
    CHECK_THAT(refusal<SubmitJobRequest>(w), Catch::Contains("copies"));
    MapWriter w2;
    w2.str("title", "t").u64("copies", 1000);
    CHECK_THAT(refusal<SubmitJobRequest>(w2), Catch::Contains("copies"));
  }
  SECTION("a digest that is not 32 bytes") {
    FetchDocumentHeader h;
    h.format = "application/pdf";
    h.sha256 = Bytes(31, 1);
    MapWriter w;
    h.write(w);
    CHECK_THAT(refusal<FetchDocumentHeader>(w), Catch::Contains("sha256"));
  }
  SECTION("strings and lists over their caps, and wrong types") {
    MapWriter w;
    w.str("badge", std::string(129, '7'));
    CHECK_THAT(refusal<BadgeInRequest>(w), Catch::Contains("badge"));
    MapWriter empty;
    empty.str("badge", "");
    CHECK_THAT(refusal<BadgeInRequest>(empty), Catch::Contains("badge"));
    MapWriter many;
    many.u64("port", 1).str_array("addresses", std::vector<std::string>(kMaxAddresses + 1, "10.0.0.1"));
    many.map_array("holdings", {});
    CHECK_THAT(refusal<RegisterRequest>(many), Catch::Contains("addresses"));
    MapWriter typed;
    typed.u64("badge", 451);
    CHECK_THAT(refusal<BadgeInRequest>(typed), Catch::Contains("badge"));
    MapWriter negative;
    negative.str("title", "t").i64("copies", -1);
    CHECK_THAT(refusal<SubmitJobRequest>(negative), Catch::Contains("copies"));
  }
  SECTION("a page limit of 0 or over the cap reads as the cap") {
    MapWriter w;
    w.u64("limit", 0);
    Bytes bytes = w.finish();
    auto handle = unpack_map(bytes);
    REQUIRE(handle.ok());
    MapReader r(handle->get(), "args");
    PageRequest p;
    p.read(r);
    CHECK(p.limit == kMaxPage);
    MapWriter w2;
    w2.u64("limit", 100000);
    bytes = w2.finish();
    handle = unpack_map(bytes);
    REQUIRE(handle.ok());
    MapReader r2(handle->get(), "args");
    p.read(r2);
    CHECK(p.limit == kMaxPage);
  }
}

TEST_CASE("ops: watch-events (issue 3, desktop notifications) round trips and keeps its caps", "[ops]") {
  WatchEventsRequest req;
  req.wait_ms = 1500;
  CHECK(round_trip(req).wait_ms == 1500);
  // Absent, 0 or past the cap: the longest wait, which stays below the idle deadline.
  CHECK(round_trip(WatchEventsRequest{0}).wait_ms == kMaxWatchWaitMs);
  CHECK(round_trip(WatchEventsRequest{kMaxWatchWaitMs + 1}).wait_ms == kMaxWatchWaitMs);
  CHECK(refusal<WatchEventsRequest>(MapWriter{}).empty());

  WatchEventsResult result;
  JobEventInfo e;
  e.job = kId;
  e.title = "Quarterly report.pdf";
  e.pages = 3;
  e.state = "held";
  e.message = "held for release";
  e.time_ms = 1700000000123;
  result.events = {e, e};
  result.events[1].pages = -1;
  result.dropped = 7;
  auto back = round_trip(result);
  REQUIRE(back.events.size() == 2);
  CHECK(back.events[0].job == kId);
  CHECK(back.events[0].title == "Quarterly report.pdf");
  CHECK(back.events[0].pages == 3);
  CHECK(back.events[0].state == "held");
  CHECK(back.events[0].message == "held for release");
  CHECK(back.events[0].time_ms == 1700000000123);
  CHECK(back.events[1].pages == -1);
  CHECK(back.dropped == 7);

  WatchEventsResult too_many;
  too_many.events.assign(kMaxWatchEvents + 1, e);
  MapWriter many;
  too_many.write(many);
  CHECK_THAT(refusal<WatchEventsResult>(many), Catch::Contains("events"));
  WatchEventsResult bad_id;
  bad_id.events = {e};
  bad_id.events[0].job = "not-a-uuid";
  MapWriter bad;
  bad_id.write(bad);
  CHECK_THAT(refusal<WatchEventsResult>(bad), Catch::Contains("event.job"));
}
