// Where the accounting server keeps job records. Behind this interface so a PostgreSQL store
// can replace the embedded SQLite one where a single machine is not enough (DESIGN.md §7).
//
// Calls are synchronous and run on the loop thread; a store is used by one thread only.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "lpm/error.h"
#include "lpm/protocol/ops.h"
#include "lpm/protocol/outcome.h"
#include "rollups.h"

namespace lpm::accounting {

// A record whose event time is further than this from the time it reached us is stored with its
// skew flag set: its agent's clock (or its outbox) is off, and reports can say so.
inline constexpr int64_t kClockSkewLimitMs = 5 * 60 * 1000;
// Records the SQLite store binds to one INSERT at ingest (issue 6); the rest of a batch, and a
// statement's records when one of them was stored already, go one at a time.
inline constexpr size_t kIngestStatementRows = 50;

struct IngestResult {
  uint64_t stored = 0;     // records new to the store, now committed
  uint64_t duplicates = 0; // records whose id was already stored (or repeated in the batch)
  uint64_t skewed = 0;     // of the stored ones, how many carry the skew flag
  // Of the stored ones, how many went kIngestStatementRows to a statement (the rest one at a time),
  // and of those how many by a statement binding their shared columns once (SQLite store).
  uint64_t in_statements = 0;
  uint64_t in_shared_statements = 0;
  // The row holding the signature parts of the batch's records stored with a pending check
  // (settle_checks drops it); 0 when there are none.
  int64_t pending_row = 0;
};

// What the server adds to a record at ingest.
struct IngestFacts {
  proto::CountsCheck check = proto::CountsCheck::none; // what it concluded of the counts
  Stamp stamp;                                        // the user's print group and department then
  // The record's signed counts are checked behind ingest (issue 6): stored with the counts check
  // "pending", its signature parts in its batch's pending row until settle_checks says what the
  // check found.
  bool pending = false;
};

// One batch of a group commit (RecordStore::ingest_group): its records and what the server adds to
// each, facts[i] to records[i]; both must live until the call returns.
struct IngestBatch {
  const std::vector<proto::JobRecord> *records;
  const std::vector<IngestFacts> *facts;
};

// Records whose counts check waits, and the rows holding their signature parts (IngestResult).
struct PendingChecks {
  std::vector<proto::JobRecord> records;
  std::vector<int64_t> rows;
};

// One row of a rollup query: the item key (GroupBy::item_key) or the bucket (GroupBy::bucket) and
// the usage summed over the rest.
enum class GroupBy { item_key, bucket };
struct RollupSum {
  std::string item_key;
  int64_t bucket = 0;
  Usage usage;
};

// What accounting knows of a person, from the directory's list-people (people_feed.h). A person
// the directory stopped listing was deleted: deleted_ms is set and the name and e-mail are erased
// (RP-10); the stamp stays, for records still on their way.
struct Person {
  std::string id;
  std::string name;
  std::string email;
  Stamp stamp;
  int64_t deleted_ms = 0;
};
struct PeopleUpdate {
  uint64_t listed = 0;  // people in the directory's list
  uint64_t added = 0;   // new to this store
  uint64_t changed = 0; // name, e-mail, department or print group changed
  uint64_t deleted = 0; // no longer listed: anonymised now
};
// A print group's id and the last name the directory gave it (deleted groups stay, RP-11).
struct PrintGroupName {
  std::string id;
  std::string name;
};

class RecordStore {
public:
  virtual ~RecordStore() = default;
  // Stores each record whose id is new, all in one transaction with its rollups, and returns only
  // after COMMIT: a caller may acknowledge the batch as soon as this returns ok. On error nothing
  // is stored (io_error, no_space when the disk is full; bad_request for a value SQLite cannot
  // hold). facts[i] belongs to records[i]; internal error unless there is one per record.
  Result<IngestResult> ingest_with(const std::vector<proto::JobRecord> &records,
                                   const std::vector<IngestFacts> &facts, int64_t receipt_ms);
  // The same for several batches in one transaction (one commit, one flush: a group commit), each
  // with its own result, in order; a record id repeated in a later batch of the group is that
  // batch's duplicate. On error nothing of any batch is stored.
  virtual Result<std::vector<IngestResult>> ingest_group(const std::vector<IngestBatch> &batches,
                                                         int64_t receipt_ms) = 0;
  // The same with no print group or department stamped; checks[i] is what the server concluded of
  // records[i]'s counts (proto::check_record_counts).
  Result<IngestResult> ingest(const std::vector<proto::JobRecord> &records,
                              const std::vector<proto::CountsCheck> &checks, int64_t receipt_ms);
  // The same, each record checked with no release station known: unsigned counts are marked
  // unsigned, any signature invalid (tests, and tools without a directory).
  Result<IngestResult> ingest(const std::vector<proto::JobRecord> &records, int64_t receipt_ms);
  // Records stored with a pending counts check (IngestFacts::pending), whole as they arrived, for
  // the check that runs behind ingest: the oldest rows of signature parts (one per batch), rows
  // until there are `limit` records or more, and those rows.
  virtual Result<PendingChecks> pending_checks(size_t limit) = 0;
  // What the checks behind ingest found, in one transaction: each record's counts check set (only
  // while still pending) and the rows of signature parts `rows` dropped. The checks must cover
  // every record of those rows: a record left out would stay pending with nothing to check.
  virtual Status settle_checks(const std::vector<int64_t> &rows,
                               const std::vector<std::pair<std::string, proto::CountsCheck>> &checks) = 0;
  // Rollup rows of (scope, scope_key, item) with bucket in [from_bucket, to_bucket) at
  // `granularity`, summed per item key (ordered by key) or per bucket (ordered by bucket). `item`
  // '\0' is the scope's total. Rows with nothing in them are not returned.
  virtual Result<std::vector<RollupSum>> rollup_sums(Granularity granularity, char scope, const std::string &scope_key,
                                                     char item, int64_t from_bucket, int64_t to_bucket,
                                                     GroupBy group_by) = 0;
  // Usage of (scope, scope_key, item) over the 15-minute buckets [first_quarter, end_quarter), per
  // item key: the UTC days wholly inside from the day rollups, the edges from the quarters.
  Result<std::map<std::string, Usage>> quarters_sum(char scope, const std::string &scope_key, char item,
                                                    int64_t first_quarter, int64_t end_quarter);
  // Every print group ('g'), department ('d') or user ('u') key the rollups hold, in key order:
  // those that ever had activity (RP-11).
  virtual Result<std::vector<std::string>> scope_keys(char scope) = 0;
  // Per-user totals of the *printed* records whose event time is in the 15-minute buckets from the
  // one holding from_ms up to the one holding to_ms (inclusive when to_ms is inside it, exclusive
  // when it is its start): the enterprise's per-user rollups. Ordered by user, for users after
  // `after_user`, at most `limit`. Unknown counts (-1) add nothing.
  Result<std::vector<proto::UserTotals>> totals(int64_t from_ms, int64_t to_ms,
                                                const std::string &after_user = "", size_t limit = SIZE_MAX);
  // How many printed records carry each counts check ("device", "estimated", "unsigned",
  // "invalid", "none"; "pending" while the check behind ingest has not run; "unchecked" for records
  // stored before checks existed), by name; kept as records are stored and checked.
  virtual Result<std::vector<std::pair<std::string, uint64_t>>> counts_checks() = 0;

  // Makes the people known here the directory's complete list `listed` (one transaction): new
  // and changed people written, people no longer listed marked deleted at now_ms with their name
  // and e-mail erased, each print group's latest name kept. An empty list while people are known
  // is refused (conflict): a directory that lost its users must not erase every name here.
  virtual Result<PeopleUpdate> replace_people(const std::vector<proto::PersonFacts> &listed,
                                              int64_t now_ms) = 0;
  // Every person known, deleted ones included, by id.
  virtual Result<std::vector<Person>> people() = 0;
  // The person with this id (deleted ones included); not_found when never listed here.
  virtual Result<Person> person(const std::string &id) = 0;
  // People not deleted whose id or e-mail is `text`, or whose name is `text` (any case), else
  // whose name contains it (any case); at most `limit`, by name.
  virtual Result<std::vector<Person>> find_people(const std::string &text, size_t limit) = 0;
  // Print groups ever seen whose id is `text` or whose name is `text` (any case), deleted ones
  // included.
  virtual Result<std::vector<PrintGroupName>> find_print_groups(const std::string &text) = 0;
};

// Opens (creating if needed) the SQLite store at `path` (the data folder's state.db).
Result<std::unique_ptr<RecordStore>> open_sqlite_record_store(const std::string &path);

} // namespace lpm::accounting
