// Where the accounting server keeps job records. Behind this interface so a PostgreSQL store
// can replace the embedded SQLite one where a single machine is not enough (DESIGN.md §7).
//
// Calls are synchronous and run on the loop thread; a store is used by one thread only.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "lpm/error.h"
#include "lpm/protocol/ops.h"
#include "lpm/protocol/outcome.h"

namespace lpm::accounting {

// A record whose event time is further than this from the time it reached us is stored with its
// skew flag set: its agent's clock (or its outbox) is off, and reports can say so.
inline constexpr int64_t kClockSkewLimitMs = 5 * 60 * 1000;

struct IngestResult {
  uint64_t stored = 0;     // records new to the store, now committed
  uint64_t duplicates = 0; // records whose id was already stored (or repeated in the batch)
  uint64_t skewed = 0;     // of the stored ones, how many carry the skew flag
};

class RecordStore {
public:
  virtual ~RecordStore() = default;
  // Stores each record whose id is new, all in one transaction, and returns only after COMMIT:
  // a caller may acknowledge the batch as soon as this returns ok. On error nothing is stored
  // (io_error, no_space when the disk is full). checks[i] is what the server concluded of
  // records[i]'s counts (proto::check_record_counts), stored with it; internal error unless there
  // is one per record.
  virtual Result<IngestResult> ingest(const std::vector<proto::JobRecord> &records,
                                      const std::vector<proto::CountsCheck> &checks, int64_t receipt_ms) = 0;
  // The same, each record checked with no release station known: unsigned counts are marked
  // unsigned, any signature invalid (tests, and tools without a directory).
  Result<IngestResult> ingest(const std::vector<proto::JobRecord> &records, int64_t receipt_ms);
  // Per-user totals of the *printed* records whose event time is in [from_ms, to_ms), ordered by
  // user. Unknown counts (-1) add nothing.
  virtual Result<std::vector<proto::UserTotals>> totals(int64_t from_ms, int64_t to_ms) = 0;
  // How many printed records in [from_ms, to_ms) carry each counts check ("device", "estimated",
  // "unsigned", "invalid", "none"; "unchecked" for records stored before checks existed), by name.
  virtual Result<std::vector<std::pair<std::string, uint64_t>>> counts_checks(int64_t from_ms, int64_t to_ms) = 0;
};

// Opens (creating if needed) the SQLite store at `path` (the data folder's state.db).
Result<std::unique_ptr<RecordStore>> open_sqlite_record_store(const std::string &path);

} // namespace lpm::accounting
