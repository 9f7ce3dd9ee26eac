// Issue 6, first part: what the accounting server concludes of a record's counts from the release
// station's signed outcome (protocol/outcome.h: decode_signed_outcome, check_record_counts).
#include <catch2/catch.hpp>

#include "lpm/ids.h"
#include "lpm/protocol/keys.h"
#include "lpm/protocol/ops.h"
#include "lpm/protocol/outcome.h"

using namespace lpm;
using namespace lpm::proto;

namespace {

const std::string kWorkstation = "ws-0190f5e2";
const std::string kCheckedJob = "0190f5e2-7c3a-7000-8000-000000000001";

std::unique_ptr<KeyPair> station_key() {
  auto key = KeyPair::generate();
  REQUIRE(key.ok());
  return std::move(key).value();
}

UpdateJobStatusRequest outcome(const std::string &source) {
  UpdateJobStatusRequest u;
  u.job = kCheckedJob;
  u.claim = "0190f5e2-7c3a-7000-8000-000000000002";
  u.outcome = JobOutcome::completed;
  u.pages = 3;
  u.impressions = 6;
  u.sheets = 3;
  u.color_impressions = 0;
  u.counts_source = source;
  u.printer_name = "Hall B";
  u.finished_ms = 1732400000000;
  return u;
}

// The record the agent writes for a signed outcome (agent/release_service.cpp).
JobRecord record_for(const KeyPair &key, const UpdateJobStatusRequest &signed_status) {
  UpdateJobStatusRequest u = signed_status;
  REQUIRE(sign_outcome(key, kWorkstation, u).ok());
  JobRecord r;
  r.id = uuid_v7();
  r.event = "printed";
  r.reason = "released";
  r.job = u.job;
  r.user = "0190f5e2-7c3a-7000-8000-00000000000a";
  r.workstation = kWorkstation;
  r.printer = u.printer_name;
  r.pages = u.pages;
  r.impressions = u.impressions;
  r.sheets = u.sheets;
  r.color_impressions = u.color_impressions;
  r.counts_source = u.counts_source;
  r.signed_outcome = outcome_signed_bytes(u, kWorkstation);
  r.signature = u.signature;
  r.signer_key = u.signer_key;
  r.signed_by = key.fingerprint();
  return r;
}

} // namespace

TEST_CASE("counts check: a station's signed outcome is verified against the record (RP-2) [issue-6]",
          "[outcome][counts-check][issue-6]") {
  auto key = station_key();
  auto is_station = [&](const Fingerprint &fp) { return fp == key->fingerprint(); };
  std::string why;

  SECTION("device counts, signed by an enrolled station") {
    CHECK(check_record_counts(record_for(*key, outcome("device")), is_station, &why) == CountsCheck::device);
    CHECK(why.empty());
  }
  SECTION("estimated counts, signed") {
    CHECK(check_record_counts(record_for(*key, outcome("estimated")), is_station) == CountsCheck::estimated);
  }
  SECTION("printed counts without a signature are unsigned; a deleted record has none") {
    JobRecord r = record_for(*key, outcome("device"));
    r.signature.clear();
    r.signed_outcome.clear();
    r.signer_key.clear();
    r.signed_by.clear();
    CHECK(check_record_counts(r, is_station, &why) == CountsCheck::unsigned_counts);
    CHECK(why.find("signature") != std::string::npos);
    r.event = "deleted";
    r.pages = r.impressions = r.sheets = r.color_impressions = -1;
    CHECK(check_record_counts(r, is_station) == CountsCheck::none);
  }
  SECTION("counts changed after signing") {
    JobRecord r = record_for(*key, outcome("device"));
    r.impressions = 2;
    CHECK(check_record_counts(r, is_station, &why) == CountsCheck::invalid);
    CHECK(why == "the record's counts are not the signed ones");
    r = record_for(*key, outcome("estimated"));
    r.counts_source = "device";
    CHECK(check_record_counts(r, is_station) == CountsCheck::invalid);
  }
  SECTION("a key that is not an enrolled station's, or not the key named") {
    auto stranger = station_key();
    CHECK(check_record_counts(record_for(*stranger, outcome("device")), is_station, &why) == CountsCheck::invalid);
    CHECK(why.find("not an enrolled release station") != std::string::npos);
    JobRecord r = record_for(*key, outcome("device"));
    r.signer_key = stranger->public_der();
    CHECK(check_record_counts(r, is_station, &why) == CountsCheck::invalid);
    CHECK(why.find("not the key of signed_by") != std::string::npos);
  }
  SECTION("a broken signature, or an outcome signed for another workstation or job") {
    JobRecord r = record_for(*key, outcome("device"));
    r.signature.back() ^= 0x01;
    CHECK(check_record_counts(r, is_station) == CountsCheck::invalid);
    r = record_for(*key, outcome("device"));
    r.workstation = "ws-other";
    CHECK(check_record_counts(r, is_station, &why) == CountsCheck::invalid);
    CHECK(why == "signed for another workstation");
    r = record_for(*key, outcome("device"));
    r.job = "0190f5e2-7c3a-7000-8000-0000000000ff";
    CHECK(check_record_counts(r, is_station) == CountsCheck::invalid);
  }
  SECTION("an aborted outcome does not vouch for printed counts") {
    UpdateJobStatusRequest u = outcome("device");
    u.outcome = JobOutcome::aborted;
    CHECK(check_record_counts(record_for(*key, u), is_station, &why) == CountsCheck::invalid);
    CHECK(why == "the signed outcome is not completed");
  }
  SECTION("a signature on a deleted record") {
    JobRecord r = record_for(*key, outcome("device"));
    r.event = "deleted";
    CHECK(check_record_counts(r, is_station) == CountsCheck::invalid);
  }
}

TEST_CASE("counts check: signed outcome bytes read back only in their one spelling [issue-6]",
          "[outcome][counts-check][issue-6]") {
  UpdateJobStatusRequest u = outcome("device");
  u.copies = 2;
  u.sides = "two-sided-long-edge";
  u.color = "monochrome";
  Bytes bytes = outcome_signed_bytes(u, kWorkstation);
  auto back = decode_signed_outcome(bytes);
  REQUIRE(back.ok());
  CHECK(back->workstation == kWorkstation);
  CHECK(outcome_signed_bytes(back->status, back->workstation) == bytes);

  SECTION("the same fields in another order") {
    MapWriter w;
    w.u64("v", kOutcomeVersion)
        .str("kind", kOutcomeKind)
        .str("workstation", kWorkstation)
        .str("job", u.job)
        .str("claim", u.claim)
        .str("outcome", "completed")
        .i64("pages", u.pages)
        .i64("impressions", u.impressions)
        .i64("sheets", u.sheets)
        .i64("color_impressions", u.color_impressions)
        .str("counts_source", u.counts_source)
        .u64("copies", u.copies)
        .str("sides", u.sides)
        .str("color", u.color)
        .str("printer_name", u.printer_name)
        .i64("finished", u.finished_ms);
    auto reordered = decode_signed_outcome(w.finish());
    REQUIRE_FALSE(reordered.ok());
    CHECK(reordered.error().message.find("canonical") != std::string::npos);
  }
  SECTION("another kind, a trailing byte, not msgpack") {
    Bytes trailing = bytes;
    trailing.push_back(0xc0);
    CHECK(decode_signed_outcome(trailing).error().code == Errc::bad_request);
    CHECK(decode_signed_outcome(Bytes{0x01, 0x02}).error().code == Errc::bad_request);
    CHECK(decode_signed_outcome(Bytes{}).error().code == Errc::bad_request);
  }
  SECTION("an unknown outcome word") {
    MapWriter w;
    w.str("kind", kOutcomeKind)
        .u64("v", kOutcomeVersion)
        .str("workstation", kWorkstation)
        .str("job", u.job)
        .str("claim", u.claim)
        .str("outcome", "printed")
        .i64("pages", 1)
        .i64("impressions", 1)
        .i64("sheets", 1)
        .i64("color_impressions", 0)
        .str("counts_source", "device")
        .u64("copies", 0)
        .str("sides", "")
        .str("color", "")
        .str("printer_name", "")
        .i64("finished", 0);
    auto bad = decode_signed_outcome(w.finish());
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.error().message.find("unknown outcome") != std::string::npos);
  }
}

TEST_CASE("counts check: a station's key is parsed once and serves its later records [issue-6]",
          "[outcome][counts-check][issue-6]") {
  auto key = station_key();
  auto other = station_key();
  auto is_station = [&](const Fingerprint &fp) { return fp == key->fingerprint() || fp == other->fingerprint(); };
  StationKeys keys;
  CHECK(check_record_counts(record_for(*key, outcome("device")), is_station, nullptr, &keys) == CountsCheck::device);
  CHECK(check_record_counts(record_for(*key, outcome("estimated")), is_station, nullptr, &keys) ==
        CountsCheck::estimated);
  CHECK(keys.parsed.size() == 1);
  // A record naming the cached station with another key is refused before the cache is asked.
  JobRecord r = record_for(*other, outcome("device"));
  r.signed_by = key->fingerprint();
  std::string why;
  CHECK(check_record_counts(r, is_station, &why, &keys) == CountsCheck::invalid);
  CHECK(why.find("not the key of signed_by") != std::string::npos);
  // The cached key still refuses what it did not sign.
  r = record_for(*key, outcome("device"));
  r.sheets = 9;
  CHECK(check_record_counts(r, is_station, &why, &keys) == CountsCheck::invalid);
  CHECK(check_record_counts(record_for(*other, outcome("device")), is_station, nullptr, &keys) == CountsCheck::device);
  CHECK(keys.parsed.size() == 2);
}
