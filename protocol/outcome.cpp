#include "lpm/protocol/outcome.h"

#include <algorithm>
#include <limits>
#include <optional>

#include "lpm/protocol/presign_reserve.h"

namespace lpm::proto {

Bytes outcome_signed_bytes(const UpdateJobStatusRequest &req, std::string_view workstation_id) {
  // The key order is part of the format (outcome.h): the signature covers these exact bytes.
  MapWriter w;
  w.str("kind", kOutcomeKind)
      .u64("v", kOutcomeVersion)
      .str("workstation", workstation_id)
      .str("job", req.job)
      .str("claim", req.claim)
      .str("outcome", job_outcome_name(req.outcome))
      .i64("pages", req.pages)
      .i64("impressions", req.impressions)
      .i64("sheets", req.sheets)
      .i64("color_impressions", req.color_impressions)
      .str("counts_source", req.counts_source)
      .u64("copies", req.copies)
      .str("sides", req.sides)
      .str("color", req.color)
      .str("printer_name", req.printer_name)
      .i64("finished", req.finished_ms);
  return w.finish();
}

Status sign_outcome(const KeyPair &key, std::string_view workstation_id, UpdateJobStatusRequest &req,
                    PresignReserve *reserve) {
  auto signature = sign_from_reserve(key, reserve, outcome_signed_bytes(req, workstation_id));
  if (!signature.ok()) return signature.error();
  req.signer_key = key.public_der();
  req.signature = std::move(*signature);
  return {};
}

Status verify_outcome(const PublicKey &key, std::string_view workstation_id,
                      const UpdateJobStatusRequest &req) {
  if (req.signature.empty()) return make_error(Errc::invalid_signature, "the outcome is not signed");
  Status s = key.verify(outcome_signed_bytes(req, workstation_id), req.signature);
  if (!s.ok())
    return make_error(Errc::invalid_signature,
                      "the outcome's signature does not verify with the key of station " + key.fingerprint());
  return {};
}

Status check_reported_outcome(const Fingerprint &peer, std::string_view workstation_id,
                              const UpdateJobStatusRequest &req) {
  if (req.signature.empty()) {
    if (req.outcome == JobOutcome::completed)
      return make_error(Errc::invalid_signature,
                        "a completed outcome must be signed by the release station (signature, signer_key)");
    return {};
  }
  if (fingerprint_of_der(req.signer_key) != peer)
    return make_error(Errc::invalid_signature,
                      "the outcome is signed by a key other than this station's TLS key");
  auto key = PublicKey::from_der(req.signer_key);
  if (!key.ok())
    return make_error(Errc::invalid_signature, "signer_key is not a public key: " + key.error().message);
  return verify_outcome(*key, workstation_id, req);
}

Result<SignedOutcome> decode_signed_outcome(std::span<const uint8_t> bytes) {
  UnpackLimits limits;
  limits.max_depth = 1;
  limits.max_array = 0;
  limits.max_map = 16;
  limits.max_str = 1024;
  limits.max_bin = 0;
  auto handle = unpack_map(bytes, limits);
  if (!handle.ok()) return make_error(Errc::bad_request, "signed outcome: " + handle.error().message);
  MapReader r(handle->get(), "signed outcome");
  SignedOutcome out;
  std::string kind = r.str("kind", 32);
  uint64_t version = r.u64("v");
  out.workstation = r.str("workstation", 128);
  UpdateJobStatusRequest &st = out.status;
  st.job = r.str("job", 64);
  st.claim = r.str("claim", 64);
  std::string outcome = r.str("outcome", 32);
  st.pages = r.i64("pages");
  st.impressions = r.i64("impressions");
  st.sheets = r.i64("sheets");
  st.color_impressions = r.i64("color_impressions");
  st.counts_source = r.str("counts_source", 32);
  st.copies = r.u64("copies");
  st.sides = r.str("sides", 64);
  st.color = r.str("color", 64);
  st.printer_name = r.str("printer_name", 256);
  st.finished_ms = r.i64("finished");
  if (!r.ok()) return r.error();
  if (kind != kOutcomeKind) return make_error(Errc::bad_request, "signed outcome: kind is not " + std::string(kOutcomeKind));
  if (version != kOutcomeVersion)
    return make_error(Errc::bad_request, "signed outcome: unsupported version " + std::to_string(version));
  if (!job_outcome_parse(outcome, st.outcome))
    return make_error(Errc::bad_request, "signed outcome: unknown outcome \"" + outcome + "\"");
  // One spelling per outcome: the bytes must be exactly what the station's encoder writes.
  Bytes again = outcome_signed_bytes(st, out.workstation);
  if (!std::equal(again.begin(), again.end(), bytes.begin(), bytes.end()))
    return make_error(Errc::bad_request, "signed outcome: not in its canonical form");
  return out;
}

const char *counts_check_name(CountsCheck check) {
  switch (check) {
  case CountsCheck::none: return "none";
  case CountsCheck::device: return "device";
  case CountsCheck::estimated: return "estimated";
  case CountsCheck::unsigned_counts: return "unsigned";
  case CountsCheck::invalid: return "invalid";
  }
  return "invalid";
}

CountsCheck check_record_counts(const JobRecord &record, const std::function<bool(const Fingerprint &)> &is_station,
                                std::string *why, StationKeys *keys) {
  auto fail = [why](std::string reason) {
    if (why) *why = std::move(reason);
    return CountsCheck::invalid;
  };
  if (record.signature.empty()) {
    bool counted = record.event == "printed" &&
                   (record.pages >= 0 || record.impressions >= 0 || record.sheets >= 0 || record.color_impressions >= 0);
    if (why) *why = counted ? "printed counts without a release station's signature" : "";
    return counted ? CountsCheck::unsigned_counts : CountsCheck::none;
  }
  if (record.event != "printed") return fail("a signed outcome on a " + record.event + " record");
  if (fingerprint_of_der(record.signer_key) != record.signed_by)
    return fail("signer_key is not the key of signed_by " + record.signed_by);
  if (!is_station(record.signed_by)) return fail("signed by " + record.signed_by + ", not an enrolled release station");
  // signed_by is the hash of signer_key (checked above), so a key cached under it is this key.
  const PublicKey *key = nullptr;
  std::optional<PublicKey> parsed_here;
  if (keys) {
    auto it = keys->parsed.find(record.signed_by);
    if (it != keys->parsed.end()) key = &it->second;
  }
  if (!key) {
    auto parsed = PublicKey::from_der(record.signer_key);
    if (!parsed.ok()) return fail("signer_key: " + parsed.error().message);
    if (keys) {
      if (keys->parsed.size() >= StationKeys::kMaxKeys) keys->parsed.clear();
      key = &keys->parsed.emplace(record.signed_by, std::move(*parsed)).first->second;
    } else {
      key = &parsed_here.emplace(std::move(*parsed));
    }
  }
  if (!key->verify(record.signed_outcome, record.signature).ok())
    return fail("the signature does not verify with station " + record.signed_by);
  auto signed_outcome = decode_signed_outcome(record.signed_outcome);
  if (!signed_outcome.ok()) return fail(signed_outcome.error().message);
  const UpdateJobStatusRequest &st = signed_outcome->status;
  if (signed_outcome->workstation != record.workstation) return fail("signed for another workstation");
  if (st.job != record.job) return fail("signed for another job");
  if (st.outcome != JobOutcome::completed) return fail("the signed outcome is not completed");
  if (st.pages != record.pages || st.impressions != record.impressions || st.sheets != record.sheets ||
      st.color_impressions != record.color_impressions || st.counts_source != record.counts_source)
    return fail("the record's counts are not the signed ones");
  if (why) why->clear();
  return st.counts_source == "device" ? CountsCheck::device : CountsCheck::estimated;
}

EstimatedCounts estimate_counts(int64_t pages, uint64_t copies, std::string_view sides,
                                std::string_view color) {
  EstimatedCounts out;
  if (pages < 0) return out;
  if (copies == 0) copies = 1;
  bool two_sided = sides.starts_with("two-sided");
  int64_t per_copy_sheets = two_sided ? pages / 2 + pages % 2 : pages;
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  if (copies > static_cast<uint64_t>(kMax) || (pages > 0 && static_cast<int64_t>(copies) > kMax / pages))
    return out; // would overflow: unknown rather than wrong
  int64_t n = static_cast<int64_t>(copies);
  out.impressions = pages * n;
  out.sheets = per_copy_sheets * n;
  if (color == "monochrome") out.color_impressions = 0;
  return out;
}

} // namespace lpm::proto
