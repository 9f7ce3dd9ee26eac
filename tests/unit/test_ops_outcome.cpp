// Issue 5 on the wire: the new optional fields of update-job-status / report-outcome, JobInfo and
// JobRecord (round trip, defaults when absent, refusals) and the golden bytes a station signs.
#include <catch2/catch.hpp>

#include "lpm/protocol/ops.h"
#include "lpm/protocol/outcome.h"

using namespace lpm;
using namespace lpm::proto;

namespace {

const std::string kOutcomeJob = "0190f5e2-7c3a-7000-8000-000000000001";
const std::string kClaim = "0190f5e2-7c3a-7000-8000-000000000002";

std::string hex_of(const Bytes &b) {
  static const char *digits = "0123456789abcdef";
  std::string out;
  for (uint8_t c : b) {
    out += digits[c >> 4];
    out += digits[c & 15];
  }
  return out;
}

template <class T> Result<T> read_back(const MapWriter &w) {
  Bytes bytes = w.finish();
  auto handle = unpack_map(bytes);
  REQUIRE(handle.ok());
  MapReader r(handle->get(), "args");
  T out;
  out.read(r);
  if (!r.ok()) return r.error();
  return out;
}

template <class T> Result<T> read_back_of(const T &in) {
  MapWriter w;
  in.write(w);
  return read_back<T>(w);
}

UpdateJobStatusRequest sample() {
  UpdateJobStatusRequest u;
  u.job = kOutcomeJob;
  u.claim = kClaim;
  u.outcome = JobOutcome::completed;
  u.pages = 3;
  u.impressions = 6;
  u.sheets = 3;
  u.color_impressions = 0;
  u.counts_source = "device";
  u.copies = 2;
  u.sides = "two-sided-long-edge";
  u.color = "monochrome";
  u.printer_name = "P";
  u.finished_ms = 1732400000000;
  return u;
}

} // namespace

TEST_CASE("golden: the signed outcome bytes [issue-5]", "[ops][golden][outcome][issue-5]") {
  // 16 pairs (map16: 0xde 0x0010), keys in the documented order, annotated per pair.
  Bytes bytes = outcome_signed_bytes(sample(), "W");
  std::string hex = hex_of(bytes);
  CHECK(hex.substr(0, 6) == "de0010");                     // map16, 16 pairs
  CHECK(hex.substr(6, 10) == "a46b696e64");                // "kind"
  CHECK(hex.substr(16, 24) == "ab6c706d2d6f7574636f6d65"); // "lpm-outcome"
  CHECK(hex.substr(40, 6) == "a17601");                    // "v": 1
  CHECK(hex == "de0010"                                    // map16, 16 pairs
               "a46b696e64ab6c706d2d6f7574636f6d65"        // "kind": "lpm-outcome"
               "a17601"                                    // "v": 1
               "ab776f726b73746174696f6ea157"              // "workstation": "W"
               "a36a6f62d924"                              // "job": str8(36)
               "30313930663565322d376333612d373030302d383030302d303030303030303030303031"
               "a5636c61696dd924" // "claim": str8(36)
               "30313930663565322d376333612d373030302d383030302d303030303030303030303032"
               "a76f7574636f6d65a9636f6d706c65746564"                 // "outcome": "completed"
               "a5706167657303"                                       // "pages": 3
               "ab696d7072657373696f6e7306"                           // "impressions": 6
               "a673686565747303"                                     // "sheets": 3
               "b1636f6c6f725f696d7072657373696f6e7300"               // "color_impressions": 0
               "ad636f756e74735f736f75726365a6646576696365"           // "counts_source": "device"
               "a6636f7069657302"                                     // "copies": 2
               "a57369646573b374776f2d73696465642d6c6f6e672d65646765" // "sides": str(19)
               "a5636f6c6f72aa6d6f6e6f6368726f6d65"                   // "color": "monochrome"
               "ac7072696e7465725f6e616d65a150"                       // "printer_name": "P"
               "a866696e6973686564cf000001935b162c00"                 // "finished": uint64 1732400000000
  );
  // Every signed field changes the bytes; the message and the signature do not.
  auto other = sample();
  other.message = "not signed";
  other.signature = Bytes{1, 2, 3};
  CHECK(outcome_signed_bytes(other, "W") == bytes);
  other = sample();
  other.copies = 1;
  CHECK(outcome_signed_bytes(other, "W") != bytes);
  CHECK(outcome_signed_bytes(sample(), "X") != bytes);
}

TEST_CASE("ops: update-job-status carries the issue 5 fields, optional on read [issue-5]",
          "[ops][outcome][issue-5]") {
  auto u = sample();
  u.signer_key = Bytes(91, 0x30);
  u.signature = Bytes(70, 0x31);
  auto back = read_back_of(u);
  REQUIRE(back.ok());
  CHECK(back->copies == 2);
  CHECK(back->sides == "two-sided-long-edge");
  CHECK(back->color == "monochrome");
  CHECK(back->finished_ms == 1732400000000);
  CHECK(back->signer_key == u.signer_key);
  CHECK(back->signature == u.signature);

  // An older sender writes none of them: the defaults mean "as submitted", unsigned.
  MapWriter old;
  old.str("job", kOutcomeJob).str("claim", kClaim).str("outcome", "aborted");
  auto plain = read_back<UpdateJobStatusRequest>(old);
  REQUIRE(plain.ok());
  CHECK(plain->copies == 0);
  CHECK(plain->sides.empty());
  CHECK(plain->color.empty());
  CHECK(plain->finished_ms == 0);
  CHECK(plain->signature.empty());
  // And an unset field is not written (older readers see the same map as before).
  UpdateJobStatusRequest bare;
  bare.job = kOutcomeJob;
  MapWriter w;
  bare.write(w);
  auto handle = unpack_map(w.finish());
  REQUIRE(handle.ok());
  MapReader r(handle->get(), "args");
  CHECK_FALSE(r.has("copies"));
  CHECK_FALSE(r.has("signature"));
  CHECK_FALSE(r.has("finished"));

  ReportOutcomeResult result;
  result.state = "printed";
  result.counted = true;
  auto result_back = read_back_of(result);
  REQUIRE(result_back.ok());
  CHECK(result_back->counted);
}

TEST_CASE("ops: update-job-status refuses bad issue 5 values naming the field [issue-5]",
          "[ops][outcome][issue-5]") {
  auto refused = [](const MapWriter &w) {
    auto r = read_back<UpdateJobStatusRequest>(w);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Errc::bad_request);
    return r.error().message;
  };
  auto base = [] {
    MapWriter w;
    w.str("job", kOutcomeJob).str("claim", kClaim).str("outcome", "completed");
    return w;
  };
  CHECK_THAT(refused(base().u64("copies", 1000)), Catch::Contains("args.copies"));
  CHECK_THAT(refused(base().str("sides", "both")), Catch::Contains("args.sides"));
  CHECK_THAT(refused(base().str("color", "sepia")), Catch::Contains("args.color"));
  CHECK_THAT(refused(base().str("counts_source", "guess")), Catch::Contains("args.counts_source"));
  CHECK_THAT(refused(base().bin("signature", Bytes(70, 1))), Catch::Contains("signer_key"));
  CHECK_THAT(refused(base().bin("signature", Bytes(161, 1)).bin("signer_key", Bytes(91, 1))),
             Catch::Contains("signature"));
}

TEST_CASE("ops: JobInfo.late_binding and the signed JobRecord fields round trip [issue-5]",
          "[ops][outcome][issue-5]") {
  JobInfo j;
  j.id = kOutcomeJob;
  j.late_binding = true;
  auto jb = read_back_of(j);
  REQUIRE(jb.ok());
  CHECK(jb->late_binding);
  j.late_binding = false;
  MapWriter jw;
  j.write(jw);
  auto jh = unpack_map(jw.finish());
  REQUIRE(jh.ok());
  CHECK_FALSE(MapReader(jh->get(), "job").has("late_binding")); // an older reader sees no change

  JobRecord rec;
  rec.id = kClaim;
  rec.event = "printed";
  rec.reason = "released";
  rec.job = kOutcomeJob;
  rec.color = "monochrome";
  rec.signed_outcome = outcome_signed_bytes(sample(), "W");
  rec.signature = Bytes(70, 2);
  rec.signer_key = Bytes(91, 3);
  rec.signed_by = std::string(64, 'a');
  auto back = read_back_of(rec);
  REQUIRE(back.ok());
  CHECK(back->color == "monochrome");
  CHECK(back->signed_outcome == rec.signed_outcome);
  CHECK(back->signature == rec.signature);
  CHECK(back->signer_key == rec.signer_key);
  CHECK(back->signed_by == rec.signed_by);
  rec.signed_by = "not-a-fingerprint";
  CHECK_FALSE(read_back_of(rec).ok());
}
