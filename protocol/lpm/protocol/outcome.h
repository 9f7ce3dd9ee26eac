// Signed job outcomes (DESIGN §4 step 4, issue 5): the release station signs what it reports in
// update-job-status (and, after a restart, in report-outcome) with its identity key, the key of
// its TLS certificate; the agent checks the signature against the key the station presented and
// keeps the signed bytes and the signature in the accounting record, so the accounting server can
// check the counts came from that station.
//
// The signed bytes (outcome_signed_bytes) are a msgpack map whose key order is part of the
// format; every field is always written, so the encoding of a given outcome is unique:
//   {"kind": "lpm-outcome", "v": 1, "workstation": id, "job": uuid, "claim": id,
//    "outcome": "completed"|"aborted"|"canceled", "pages": i64, "impressions": i64,
//    "sheets": i64, "color_impressions": i64, "counts_source": "device"|"estimated",
//    "copies": u64, "sides": str, "color": str, "printer_name": str, "finished": i64}
// (-1: unknown count; copies 0, sides and color "": as submitted). The workstation id binds a
// signature to one agent: it cannot be replayed to another. The message and the signer key are
// not signed (the key is checked against the TLS peer instead).
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>

#include "lpm/error.h"
#include "lpm/protocol/keys.h"
#include "lpm/protocol/ops.h"

namespace lpm::proto {

class PresignReserve;

inline constexpr const char *kOutcomeKind = "lpm-outcome";
inline constexpr uint64_t kOutcomeVersion = 1;
// The keys of outcome_signed_bytes()'s map, in their order (the order is part of the format).
inline constexpr std::array<std::string_view, 16> kOutcomeSignedKeys = {
    "kind",         "v",       "workstation",       "job",           "claim",  "outcome", "pages",
    "impressions",  "sheets",  "color_impressions", "counts_source", "copies", "sides",   "color",
    "printer_name", "finished"};

// The exact bytes a station signs for `req` reported to workstation `workstation_id`.
Bytes outcome_signed_bytes(const UpdateJobStatusRequest &req, std::string_view workstation_id);

// Signs `req` for `workstation_id` with the station's key: fills req.signer_key (the key's DER)
// and req.signature. Call it last, after every signed field is set. With a reserve of the key's
// presignatures (presign_reserve.h), a ready one finishes the signature in microseconds.
Status sign_outcome(const KeyPair &key, std::string_view workstation_id, UpdateJobStatusRequest &req,
                    PresignReserve *reserve = nullptr);

// ok when req.signature is `key`'s signature of outcome_signed_bytes(req, workstation_id);
// invalid_signature otherwise (also when the signature is missing).
Status verify_outcome(const PublicKey &key, std::string_view workstation_id,
                      const UpdateJobStatusRequest &req);

// The checks an agent makes of a reported outcome from the TLS peer `peer`: a signature present
// must come with the peer's own key and verify, else invalid_signature; a
// completed outcome must be signed (invalid_signature). Unsigned aborted/canceled outcomes pass
// (nothing is counted for them).
Status check_reported_outcome(const Fingerprint &peer, std::string_view workstation_id,
                              const UpdateJobStatusRequest &req);

// A signed outcome read back from its bytes (the accounting server's side).
struct SignedOutcome {
  std::string workstation;
  UpdateJobStatusRequest status; // job, claim, outcome, counts, applied settings, printer, time
};
// Reads outcome_signed_bytes' output: bad_request unless `bytes` are exactly what
// outcome_signed_bytes writes for the fields read (kind, version, key order, every field), so one
// outcome has one spelling.
Result<SignedOutcome> decode_signed_outcome(std::span<const uint8_t> bytes);

// What the accounting server concludes of a record's counts (issue 6), stored with the record:
//   none       a deleted record, or a printed one the agent had no outcome for (no counts)
//   device     signed by an enrolled release station; counts from the device
//   estimated  signed by an enrolled release station; counts estimated (pages x copies x sides)
//   unsigned   printed counts without a station's signature
//   invalid    a signature that does not verify, a key that is not an enrolled station's, or
//              signed counts that are not the record's
enum class CountsCheck { none, device, estimated, unsigned_counts, invalid };
const char *counts_check_name(CountsCheck check);

// Stations' public keys parsed once, by fingerprint: a key's first verification builds its table
// of multiples (keys.h), which then serves every later record it signed. At most kMaxKeys kept
// (past that the cache starts again empty). One thread at a time.
struct StationKeys {
  static constexpr size_t kMaxKeys = 4096;
  std::unordered_map<Fingerprint, PublicKey> parsed;
};

// Checks `record`'s signed outcome: signer_key is the key of `signed_by`, `is_station` says it is
// an enrolled release station, the signature verifies over signed_outcome, and the signed outcome
// is this record's (its workstation, job, a completed outcome, the same pages, impressions,
// sheets, color impressions and counts source). `why` (optional) says what failed; `keys`
// (optional) keeps the parsed station keys across calls.
CountsCheck check_record_counts(const JobRecord &record, const std::function<bool(const Fingerprint &)> &is_station,
                                std::string *why = nullptr, StationKeys *keys = nullptr);

// Counts estimated when the device reports none: impressions = pages x copies; sheets = pages x
// copies one-sided, ceil(pages / 2) x copies two-sided ("two-sided-*"). Unknown pages (< 0):
// both unknown (-1). copies 0 counts as 1. Colour impressions: 0 for a monochrome job (color
// "monochrome") whose impressions are known, else unknown (-1). The station that signs an
// estimated outcome and the agent that records it both call this, so they agree.
struct EstimatedCounts {
  int64_t impressions = -1;
  int64_t sheets = -1;
  int64_t color_impressions = -1;
};
EstimatedCounts estimate_counts(int64_t pages, uint64_t copies, std::string_view sides,
                                std::string_view color = "color");

} // namespace lpm::proto
