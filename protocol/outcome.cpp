#include "lpm/protocol/outcome.h"

#include <limits>

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

Status sign_outcome(const KeyPair &key, std::string_view workstation_id, UpdateJobStatusRequest &req) {
  auto signature = key.sign(outcome_signed_bytes(req, workstation_id));
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

EstimatedCounts estimate_counts(int64_t pages, uint64_t copies, std::string_view sides) {
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
  return out;
}

} // namespace lpm::proto
