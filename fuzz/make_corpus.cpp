// Writes the seed corpora of the fuzz targets (fuzz/corpus/<target>/), built with the real
// encoders, plus hostile seeds made by hand. Run once and commit the output; the fuzzers start
// from these and the replay tests run them on every test command.
// Usage: lpm_fuzz_make_corpus FUZZ_DIR
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "fuzz_session_key.h"
#include "lpm/ids.h"
#include "lpm/protocol/ops.h"
#include "lpm/protocol/ops_offline.h"
#include "lpm/protocol/printer_certificate.h"
#include "lpm/protocol/session.h"
#include "lpm/protocol/ticket.h"
#include "lpm/protocol/wire.h"

using namespace lpm;
using namespace lpm::proto;

namespace {

std::filesystem::path g_root;

void put(const std::string &target, const std::string &name, const Bytes &bytes) {
  auto dir = g_root / "corpus" / target;
  std::filesystem::create_directories(dir);
  // Committed as text: hex, 32 bytes a line (the replay and scripts/fuzz.sh decode it).
  std::ofstream out(dir / (name + ".hex"), std::ios::trunc);
  std::string hex = to_hex(bytes);
  for (size_t i = 0; i < hex.size(); i += 64) out << hex.substr(i, 64) << '\n';
}

// A seed that is text, committed as it is.
void put_text(const std::string &target, const std::string &name, const std::string &text) {
  auto dir = g_root / "corpus" / target;
  std::filesystem::create_directories(dir);
  std::ofstream(dir / (name + ".txt"), std::ios::trunc) << text;
}

[[noreturn]] void die(const char *what, const Error &error) {
  std::fprintf(stderr, "%s: %s\n", what, error.to_string().c_str());
  std::exit(1);
}

Bytes cat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const auto &p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

Bytes raw(std::initializer_list<int> v) {
  Bytes out;
  for (int x : v) out.push_back(static_cast<uint8_t>(x));
  return out;
}

Bytes str_bytes(std::string_view s) { return Bytes(s.begin(), s.end()); }

// A one-key map {"a": <value bytes>}.
Bytes map_a(const Bytes &value) { return cat({raw({0x81, 0xa1, 'a'}), value}); }

// `depth` maps nested under the key "a", innermost empty.
Bytes nested(int depth) {
  Bytes out;
  for (int i = 0; i < depth; i++) out.insert(out.end(), {0x81, 0xa1, 'a'});
  out.push_back(0x80);
  return out;
}

const std::string kId = "0190f5e2-7c3a-7000-8000-000000000001";
const std::string kId2 = "0190f5e2-7c3a-7000-8000-000000000002";
const std::string kFp = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

JobInfo job(const std::string &id) {
  JobInfo j;
  j.id = id;
  j.user = kId2;
  j.title = "report.pdf";
  j.format = "application/pdf";
  j.size = 1234;
  j.pages = 3;
  j.state = "held";
  return j;
}

JobRecord record(const std::string &id) {
  JobRecord r;
  r.id = id;
  r.event = "printed";
  r.reason = "released";
  r.job = kId2;
  r.user = kId;
  r.workstation = kId2;
  r.site = "HQ";
  r.submitted_ms = 1732400000000;
  r.event_ms = 1732400001000;
  r.pages = 3;
  return r;
}

template <class T> Bytes encoded(const T &value) {
  MapWriter w;
  value.write(w);
  return w.finish();
}

void frame_corpus() {
  const std::string t = "fuzz_frame";
  Hello hello;
  hello.role = "printer";
  Bytes h = frame(encode_hello(hello));
  MapWriter echo_args;
  echo_args.str("text", "hi");
  Bytes req = frame(encode_request(kId, "echo", echo_args));
  BadgeInRequest badge;
  badge.badge = "0451";
  MapWriter badge_args;
  badge.write(badge_args);
  MapWriter result;
  result.u64("bytes", 3).map("page", MapWriter().u64("limit", 5));
  Bytes chunk = frame(encode_chunk(kId, str_bytes("some document bytes")));
  Bytes end = frame(encode_end(kId, sha256(str_bytes("some document bytes")), 19));

  put(t, "hello", h);
  put(t, "hello-request", cat({h, req}));
  put(t, "request-badge-in", frame(encode_request(kId, op::badge_in, badge_args)));
  put(t, "result", frame(encode_result(kId, result)));
  put(t, "error", frame(encode_error(kId, Error{Errc::not_found, "unknown badge"})));
  put(t, "chunk", chunk);
  put(t, "end", end);
  put(t, "upload-stream", cat({h, frame(encode_request(kId, "put", MapWriter())), chunk, chunk, end}));

  put(t, "hostile-oversize-length", cat({raw({0x00, 0x00, 0x08, 0x01}), Bytes(16, 0x41)}));
  put(t, "hostile-max-length", raw({0xff, 0xff, 0xff, 0xff, 0x80}));
  put(t, "hostile-zero-length", cat({raw({0, 0, 0, 0}), h}));
  Bytes truncated = cat({h, req});
  truncated.pop_back();
  put(t, "hostile-truncated", truncated);
  put(t, "hostile-split-header", raw({0x00, 0x00, 0x01}));
  put(t, "hostile-deep-nesting", frame(nested(40)));
  put(t, "hostile-huge-array", frame(map_a(raw({0xdd, 0xff, 0xff, 0xff, 0xff}))));
  put(t, "hostile-huge-str", frame(map_a(raw({0xdb, 0x7f, 0xff, 0xff, 0xff, 'x'}))));
  put(t, "hostile-ext", frame(map_a(raw({0xd4, 0x01, 0x00}))));
  put(t, "hostile-c1", frame(map_a(raw({0xc1}))));
  put(t, "hostile-trailing", frame(cat({encode_hello(hello), raw({0xc0})})));
  put(t, "hostile-not-map", frame(raw({0x93, 0x01, 0x02, 0x03})));
  put(t, "hostile-int-keys", frame(raw({0x81, 0x01, 0x02})));
  MapWriter big_major;
  big_major.u64("major", 1ull << 40).u64("minor", 0).str("role", "x");
  put(t, "hostile-hello-major-overflow", frame(MapWriter().map("hello", big_major).finish()));
  MapWriter code0;
  code0.u64("code", 0).str("message", "zero");
  put(t, "hostile-error-code-zero", frame(MapWriter().str("id", kId).map("error", code0).finish()));
  MapWriter code_big;
  code_big.u64("code", 70000).str("message", "big");
  put(t, "hostile-error-code-big", frame(MapWriter().str("id", kId).map("error", code_big).finish()));
  put(t, "hostile-chunk-not-bin", frame(MapWriter().str("id", kId).str("chunk", "text").finish()));
  MapWriter short_sha;
  short_sha.bin("sha256", Bytes(31, 7)).u64("bytes", 1);
  put(t, "hostile-end-short-sha", frame(MapWriter().str("id", kId).map("end", short_sha).finish()));
  put(t, "hostile-bad-id", frame(encode_request("not-a-uuid", "echo", echo_args)));
  put(t, "hostile-duplicate-keys",
      frame(MapWriter().str("id", kId).str("id", kId2).str("op", "echo").map("args", MapWriter()).finish()));
  put(t, "hostile-args-not-map", frame(MapWriter().str("op", "echo").str("id", kId).u64("args", 1).finish()));
}

void msgpack_corpus() {
  const std::string t = "fuzz_msgpack";
  BadgeInResult b;
  b.user = kId;
  b.display_name = "Ada";
  b.workstations = {WorkstationRef{kId2, "ws-1", {"10.0.0.5", "fe80::1"}, 9443, kFp},
                    WorkstationRef{kId, "ws-2", {}, 1, kFp}};
  b.ticket = SignedTicket{str_bytes("body"), str_bytes("sig")};
  put(t, "badge-in-result", encoded(b));
  // AMB-17: counted users' limits, a reservation, the colour rule; a station's settle-quota.
  b.users = {BadgeUser{kId, "Ada", true, 12, false}, BadgeUser{kId2, "Bo", false, -1, true}};
  b.reservation = "reservation";
  b.color_denied = kColorDeniedRefuse;
  put(t, "badge-in-result-quota", encoded(b));
  SettleQuotaRequest settle;
  settle.reservation = "reservation";
  settle.user = kId;
  settle.workstation = kId2;
  UpdateJobStatusRequest settled_job;
  settled_job.job = kId;
  settled_job.claim = "claim";
  settled_job.impressions = 3;
  settle.outcome = settled_job;
  settle.done = true;
  put(t, "settle-quota", encoded(settle));
  // Issue 8: the offline table's pages and a certificate answer.
  OfflineBadgesResult ob;
  OfflineBadge entry;
  entry.key = Bytes(kOfflineBadgeKeyBytes, 0x11);
  entry.users = {BadgeUser{kId, "Ada", true, 12, false}, BadgeUser{kId2, "Bo"}};
  entry.workstations = {kId2};
  ob.items = {entry};
  ob.next = "42";
  put(t, "offline-badges-result", encoded(ob));
  OfflineWorkstationsResult ow;
  ow.items = {WorkstationRef{kId2, "ws-1", {"10.0.0.5"}, 9443, kFp}};
  put(t, "offline-workstations-result", encoded(ow));
  PrinterCertificateResult pc;
  pc.certificate = SignedPrinterCertificate{str_bytes("body"), str_bytes("sig")};
  pc.hours = 4;
  pc.strip = ";?";
  put(t, "printer-certificate-result", encoded(pc));
  ListJobsResult l;
  l.jobs = {job(kId), job(kId2)};
  l.next = "next";
  put(t, "list-jobs-result", encoded(l));
  PostRecordsRequest p;
  p.records = {record(kId), record(kId2)};
  put(t, "post-records", encoded(p));
  RegisterRequest reg;
  reg.port = 9443;
  reg.addresses = {"10.0.0.5"};
  reg.holdings = {Holding{kId, 2}};
  put(t, "register-request", encoded(reg));
  UpdateJobStatusRequest u;
  u.job = kId;
  u.claim = "claim";
  u.outcome = JobOutcome::canceled;
  put(t, "update-job-status", encoded(u));
  // Issue 5: every optional field of a signed outcome, a late-binding job, a signed record.
  UpdateJobStatusRequest signed_u;
  signed_u.job = kId;
  signed_u.claim = kId2;
  signed_u.outcome = JobOutcome::completed;
  signed_u.pages = 3;
  signed_u.impressions = 6;
  signed_u.sheets = 3;
  signed_u.color_impressions = 0;
  signed_u.counts_source = "device";
  signed_u.copies = 2;
  signed_u.sides = "two-sided-long-edge";
  signed_u.color = "monochrome";
  signed_u.printer_name = "Floor 2";
  signed_u.finished_ms = 1732400001000;
  signed_u.signer_key = Bytes(91, 0x30);
  signed_u.signature = Bytes(71, 0x31);
  put(t, "update-job-status-signed", encoded(signed_u));
  ListJobsResult late;
  late.jobs = {job(kId)};
  late.jobs[0].late_binding = true;
  put(t, "list-jobs-late-binding", encoded(late));
  PostRecordsRequest signed_p;
  signed_p.records = {record(kId)};
  signed_p.records[0].color = "monochrome";
  signed_p.records[0].signed_outcome = Bytes(200, 0x80);
  signed_p.records[0].signature = Bytes(71, 0x31);
  signed_p.records[0].signer_key = Bytes(91, 0x30);
  signed_p.records[0].signed_by = kFp;
  put(t, "post-records-signed", encoded(signed_p));
  put(t, "empty-map", raw({0x80}));

  put(t, "hostile-deep-nesting", nested(40));
  put(t, "hostile-huge-array", map_a(raw({0xdd, 0xff, 0xff, 0xff, 0xff})));
  put(t, "hostile-huge-map", map_a(raw({0xdf, 0xff, 0xff, 0xff, 0xff})));
  put(t, "hostile-huge-bin", map_a(raw({0xc6, 0xff, 0xff, 0xff, 0xff, 0x00})));
  Bytes cut = encoded(l);
  cut.resize(cut.size() / 2);
  put(t, "hostile-truncated", cut);
  put(t, "hostile-ext", map_a(raw({0xc7, 0x01, 0x05, 0x00})));
  put(t, "hostile-c1", map_a(raw({0xc1})));
  put(t, "hostile-trailing", cat({encoded(reg), raw({0x00})}));
  put(t, "hostile-floats", cat({raw({0x82, 0xa1, 'a', 0xca, 0x3f, 0x80, 0, 0, 0xa1, 'b', 0xcb}), Bytes(8, 0x40)}));
  put(t, "hostile-workstations-not-array", MapWriter().str("user", kId).str("workstations", "no").finish());
  MapWriter neg_port;
  neg_port.str("id", kId).str("name", "n").str_array("addresses", {}).i64("port", -1).str("fingerprint", kFp);
  put(t, "hostile-negative-port",
      MapWriter().str("user", kId).str("display_name", "d").map_array("workstations", {neg_port}).finish());
  put(t, "hostile-too-many-jobs", cat({raw({0x81, 0xa4, 'j', 'o', 'b', 's', 0xdc, 0x01, 0xf5}), Bytes(501, 0x80)}));
  // Non-canonical but valid encodings: str8 key, uint64 for a small number.
  put(t, "noncanonical-encodings",
      cat({raw({0x81, 0xd9, 0x05}), str_bytes("badge"), raw({0xcf, 0, 0, 0, 0, 0, 0, 0, 0x01})}));
  put(t, "hostile-not-map", raw({0x91, 0x80}));
}

void ticket_corpus() {
  const std::string t = "fuzz_ticket";
  auto key = KeyPair::generate();
  if (!key.ok()) die("key", key.error());
  Ticket ticket;
  ticket.users = {kId};
  ticket.printer = kFp;
  ticket.workstations = {kId2, "ws-3"};
  ticket.issued_ms = 1732400000000;
  ticket.expires_ms = ticket.issued_ms + kTicketLifetimeMs;
  auto signed_ticket = ticket_sign(ticket, **key);
  if (!signed_ticket.ok()) die("sign", signed_ticket.error());
  put(t, "signed-body", signed_ticket->body);
  // The same target reads printer certificate bodies (issue 8).
  auto station = KeyPair::generate();
  if (!station.ok()) die("key", station.error());
  PrinterCertificate cert;
  cert.printer_id = kId;
  cert.printer = (*station)->fingerprint();
  cert.key = (*station)->public_der();
  cert.issued_ms = 1732400000000;
  cert.expires_ms = cert.issued_ms + kPrinterCertificateLifetimeMs;
  auto signed_cert = printer_certificate_sign(cert, **key);
  if (!signed_cert.ok()) die("certify", signed_cert.error());
  put(t, "printer-certificate", signed_cert->body);
  MapWriter wrong_key;
  wrong_key.u64("v", 1).str("printer_id", kId).str("printer", kFp).bin("key", (*station)->public_der());
  wrong_key.i64("issued", cert.issued_ms).i64("expires", cert.expires_ms).str("signer", kFp);
  put(t, "hostile-certificate-key-not-fingerprint", wrong_key.finish());

  // Bodies built by hand in the documented key order; body(...) varies one field.
  auto body = [&](auto &&edit) {
    MapWriter w;
    uint64_t v = 1;
    std::vector<std::string> users = {kId, kId2};
    std::string printer = kFp, signer = kFp;
    std::vector<std::string> workstations = {kId, "ws-2", "ws-3"};
    int64_t issued = 1732400000000, expires = 1732400060000;
    Bytes nonce(16, 0x5a);
    edit(v, users, printer, workstations, issued, expires, nonce, signer);
    w.u64("v", v).str_array("users", users).str("printer", printer).str_array("workstations", workstations);
    w.i64("issued", issued).i64("expires", expires).bin("nonce", nonce).str("signer", signer);
    return w.finish();
  };
  auto same = [](auto &...) {};
  put(t, "two-users", body(same));
  put(t, "hostile-version-2", body([](uint64_t &v, auto &...) { v = 2; }));
  put(t, "hostile-nonce-15", body([](auto &, auto &, auto &, auto &, auto &, auto &, Bytes &n, auto &) { n.resize(15); }));
  put(t, "hostile-user-not-uuid",
      body([](auto &, std::vector<std::string> &u, auto &...) { u = {"alice"}; }));
  put(t, "hostile-printer-uppercase", body([](auto &, auto &, std::string &p, auto &...) {
        for (auto &c : p) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      }));
  put(t, "hostile-users-65", body([](auto &, std::vector<std::string> &u, auto &...) {
        u.assign(65, "0190f5e2-7c3a-7000-8000-000000000001");
      }));
  put(t, "hostile-workstations-257", body([](auto &, auto &, auto &, std::vector<std::string> &w, auto &...) {
        w.assign(257, "w");
      }));
  put(t, "hostile-workstation-empty",
      body([](auto &, auto &, auto &, std::vector<std::string> &w, auto &...) { w = {""}; }));
  put(t, "hostile-expires-negative",
      body([](auto &, auto &, auto &, auto &, auto &, int64_t &e, auto &...) { e = -1; }));
  put(t, "hostile-missing-signer", MapWriter().u64("v", 1).str_array("users", {kId}).str("printer", kFp).finish());
  put(t, "empty-map", raw({0x80}));
  put(t, "hostile-nesting", nested(3));
  put(t, "hostile-too-large", cat({raw({0x81, 0xa1, 'a', 0xc5, 0x20, 0x01}), Bytes(8193, 0)}));
  Bytes cut = signed_ticket->body;
  cut.resize(cut.size() - 5);
  put(t, "hostile-truncated", cut);
  MapWriter huge_issued;
  huge_issued.u64("v", 1).u64("issued", UINT64_MAX);
  put(t, "hostile-issued-over-int64", huge_issued.finish());
}

// Text tokens signed with fuzz_session's fixed key (so the fuzzer gets past the signature into
// every later check of session_verify), hostile text, and bare bodies for session_decode.
void session_corpus() {
  const std::string t = "fuzz_session";
  auto key = KeyPair::from_pem(fuzz::kSessionSignerPem);
  if (!key.ok()) die("key", key.error());
  auto forger = KeyPair::generate();
  if (!forger.ok()) die("key", forger.error());

  Session base;
  base.user = kId;
  base.email = "ada.lovelace@example.org";
  base.roles = {"prm-user", "prm-accounting"};
  base.session_id = kId2;
  base.issued_ms = fuzz::kSessionIssuedMs;
  base.expires_ms = base.issued_ms + kSessionLifetimeMs;
  base.signer = (*key)->fingerprint();

  // The body in the documented key order, so fields session_sign would refuse can be written.
  auto body_of = [](const Session &s, uint64_t version = 1) {
    MapWriter w;
    w.u64("v", version).str("user", s.user).str("email", s.email).str_array("roles", s.roles);
    w.str("sid", s.session_id)
        .i64("issued", s.issued_ms)
        .i64("expires", s.expires_ms)
        .str("signer", s.signer);
    return w.finish();
  };
  auto token = [](const Bytes &body, const KeyPair &signer) {
    auto sig = signer.sign(body);
    if (!sig.ok()) die("sign", sig.error());
    return session_to_text(SignedSession{body, *sig});
  };
  // A token of base with one field changed, signed by the fixed key.
  auto edited = [&](auto &&edit) {
    Session s = base;
    edit(s);
    return token(body_of(s), **key);
  };

  auto signed_session = session_sign(base, **key);
  if (!signed_session.ok()) die("sign", signed_session.error());
  std::string valid = session_to_text(*signed_session);
  put_text(t, "valid", valid);
  put_text(t, "valid-no-roles", edited([](Session &s) { s.roles.clear(); }));
  put_text(t, "valid-largest", edited([](Session &s) {
             s.email = std::string(kSessionMaxEmailBytes - 12, 'a') + "@example.org";
             s.roles.assign(kSessionMaxRoles, std::string(kSessionMaxRoleBytes, 'r'));
           }));
  put_text(t, "expired", edited([](Session &s) {
             s.issued_ms -= 2 * kSessionLifetimeMs;
             s.expires_ms = s.issued_ms + kSessionLifetimeMs;
           }));
  put_text(t, "issued-in-future", edited([](Session &s) {
             s.issued_ms += 10 * kSessionMaxSkewMs;
             s.expires_ms = s.issued_ms + kSessionLifetimeMs;
           }));
  put_text(t, "lifetime-too-long",
           edited([](Session &s) { s.expires_ms = s.issued_ms + kSessionMaxLifetimeMs + 1; }));
  put_text(t, "issued-negative", edited([](Session &s) { s.issued_ms = -1; }));
  put_text(t, "names-other-signer", edited([](Session &s) { s.signer = kFp; }));
  put_text(t, "signed-user-not-uuid", edited([](Session &s) { s.user = "ada"; }));
  put_text(t, "signed-version-2", token(body_of(base, 2), **key));
  put_text(t, "forged", token(body_of(base), **forger));

  put_text(t, "hostile-padding", valid + "==");
  put_text(t, "hostile-line-end", valid + "\n");
  put_text(t, "hostile-standard-alphabet", "+/" + valid.substr(2));
  put_text(t, "hostile-impossible-length", "AAAAA");
  put_text(t, "hostile-trailing-bits", "gB");
  put_text(t, "hostile-too-long", std::string(kSessionMaxTextBytes + 1, 'A'));
  put_text(t, "hostile-truncated", valid.substr(0, valid.size() / 2));
  put_text(t, "hostile-not-map", "kwECAw");                        // [1, 2, 3]
  put_text(t, "hostile-body-as-string", "gqRib2R5omFio3NpZ8QBMA"); // {"body": str, "sig": bin}

  put(t, "body-valid", signed_session->body);
  put(t, "body-email-upper-case", body_of([&] {
        Session s = base;
        s.email = "Ada@example.org";
        return s;
      }()));
  put(t, "body-roles-33", body_of([&] {
        Session s = base;
        s.roles.assign(kSessionMaxRoles + 1, "prm-user");
        return s;
      }()));
  put(t, "body-role-129", body_of([&] {
        Session s = base;
        s.roles = {std::string(kSessionMaxRoleBytes + 1, 'r')};
        return s;
      }()));
  put(t, "body-expires-at-issued", body_of([&] {
        Session s = base;
        s.expires_ms = s.issued_ms;
        return s;
      }()));
  put(t, "body-missing-signer", MapWriter().u64("v", 1).str("user", kId).str("email", "a@b").finish());
  put(t, "body-binary-user", MapWriter().u64("v", 1).bin("user", str_bytes(kId)).finish());
  put(t, "body-nesting", nested(3));
}

} // namespace

int main(int argc, char **argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s FUZZ_DIR\n", argv[0]);
    return 2;
  }
  g_root = argv[1];
  frame_corpus();
  msgpack_corpus();
  ticket_corpus();
  session_corpus();
  return 0;
}
