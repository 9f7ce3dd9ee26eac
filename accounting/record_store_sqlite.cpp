// The embedded record store: one SQLite table keyed by record id.
#include <cstdint>
#include <limits>

#include "lpm/sqlite.h"
#include "record_store.h"

namespace lpm::accounting {
namespace {

// 2: counts_check (what the server concluded of a record's counts; "unchecked" for older rows).
constexpr int64_t kSchemaVersion = 2;

// Record ids are UUIDv7, so in a WITHOUT ROWID table keyed by id new rows land at the end of the
// b-tree, and the primary key is the dedup index with no second copy of the id.
constexpr const char *kSchema = R"sql(
CREATE TABLE IF NOT EXISTS records (
  id TEXT PRIMARY KEY NOT NULL,
  event TEXT NOT NULL,
  reason TEXT NOT NULL,
  job TEXT NOT NULL,
  user_id TEXT NOT NULL,
  workstation TEXT NOT NULL,
  site TEXT NOT NULL,
  printer TEXT NOT NULL,
  submitted_ms INTEGER NOT NULL,
  event_ms INTEGER NOT NULL,
  format TEXT NOT NULL,
  size_bytes INTEGER NOT NULL,
  pages INTEGER NOT NULL,
  impressions INTEGER NOT NULL,
  sheets INTEGER NOT NULL,
  copies INTEGER NOT NULL,
  color_impressions INTEGER NOT NULL,
  duplex INTEGER NOT NULL,
  counts_source TEXT NOT NULL,
  receipt_ms INTEGER NOT NULL,
  clock_skew INTEGER NOT NULL,
  counts_check TEXT NOT NULL DEFAULT 'unchecked'
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS records_by_event_time ON records(event, event_ms);
)sql";

constexpr const char *kInsert = R"sql(
INSERT OR IGNORE INTO records (id, event, reason, job, user_id, workstation, site, printer, submitted_ms,
  event_ms, format, size_bytes, pages, impressions, sheets, copies, color_impressions, duplex, counts_source,
  receipt_ms, clock_skew, counts_check)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22)
)sql";

constexpr const char *kCountsChecks = R"sql(
SELECT counts_check, COUNT(*) FROM records
WHERE event = 'printed' AND event_ms >= ?1 AND event_ms < ?2
GROUP BY counts_check ORDER BY counts_check
)sql";

// MAX(x, 0) turns the "unknown" count -1 into nothing added.
constexpr const char *kTotals = R"sql(
SELECT user_id, COUNT(*), SUM(MAX(pages, 0)), SUM(MAX(impressions, 0)), SUM(size_bytes)
FROM records
WHERE event = 'printed' AND event_ms >= ?1 AND event_ms < ?2
GROUP BY user_id ORDER BY user_id
)sql";

bool skewed(int64_t event_ms, int64_t receipt_ms) {
  // Written as two comparisons against the (sane) receipt time so a hostile event time near the
  // int64 limits cannot overflow a subtraction.
  return event_ms < receipt_ms - kClockSkewLimitMs || event_ms > receipt_ms + kClockSkewLimitMs;
}

// SQLite integers are signed 64-bit; the wire's unsigned counts must fit.
Status check_fits(const proto::JobRecord &r) {
  constexpr uint64_t kMax = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
  if (r.size > kMax) return make_error(Errc::bad_request, "record " + r.id + ": size out of range");
  if (r.copies > kMax) return make_error(Errc::bad_request, "record " + r.id + ": copies out of range");
  return {};
}

uint64_t non_negative(int64_t value) {
  return value < 0 ? 0 : static_cast<uint64_t>(value);
}

class SqliteRecordStore final : public RecordStore {
public:
  using RecordStore::ingest;
  static Result<std::unique_ptr<RecordStore>> open(const std::string &path) {
    auto db = Db::open(path);
    if (!db.ok()) return db.error();
    std::unique_ptr<SqliteRecordStore> store(new SqliteRecordStore(std::move(*db)));
    Status s = store->migrate();
    if (!s.ok()) return make_error(s.error().code, path + ": " + s.error().message);
    auto insert = store->db_->prepare(kInsert);
    if (!insert.ok()) return insert.error();
    store->insert_ = std::move(*insert);
    auto totals = store->db_->prepare(kTotals);
    if (!totals.ok()) return totals.error();
    store->totals_ = std::move(*totals);
    auto checks = store->db_->prepare(kCountsChecks);
    if (!checks.ok()) return checks.error();
    store->checks_ = std::move(*checks);
    return std::unique_ptr<RecordStore>(std::move(store));
  }

  Result<IngestResult> ingest(const std::vector<proto::JobRecord> &records,
                              const std::vector<proto::CountsCheck> &checks, int64_t receipt_ms) override {
    if (checks.size() != records.size())
      return make_error(Errc::internal, "ingest: " + std::to_string(checks.size()) + " counts checks for " +
                                            std::to_string(records.size()) + " records");
    for (const auto &r : records) {
      Status s = check_fits(r);
      if (!s.ok()) return s.error();
    }
    IngestResult result;
    Transaction tx(*db_);
    if (!tx.begun().ok()) return tx.begun().error();
    for (size_t i = 0; i < records.size(); i++) {
      const proto::JobRecord &r = records[i];
      bool skew = skewed(r.event_ms, receipt_ms);
      insert_.bind(1, r.id).bind(2, r.event).bind(3, r.reason).bind(4, r.job).bind(5, r.user);
      insert_.bind(6, r.workstation).bind(7, r.site).bind(8, r.printer).bind(9, r.submitted_ms);
      insert_.bind(10, r.event_ms)
          .bind(11, r.format)
          .bind(12, static_cast<int64_t>(r.size))
          .bind(13, r.pages);
      insert_.bind(14, r.impressions).bind(15, r.sheets).bind(16, static_cast<int64_t>(r.copies));
      insert_.bind(17, r.color_impressions).bind(18, int64_t{r.duplex ? 1 : 0}).bind(19, r.counts_source);
      insert_.bind(20, receipt_ms).bind(21, int64_t{skew ? 1 : 0}).bind(22, proto::counts_check_name(checks[i]));
      Status s = insert_.run();
      if (!s.ok()) {
        insert_.reset();
        return s.error(); // the transaction rolls back: nothing of this batch is kept
      }
      if (db_->changes() == 1) {
        result.stored++;
        if (skew) result.skewed++;
      } else {
        result.duplicates++;
      }
    }
    Status committed = tx.commit();
    if (!committed.ok()) return committed.error();
    return result;
  }

  Result<std::vector<proto::UserTotals>> totals(int64_t from_ms, int64_t to_ms) override {
    std::vector<proto::UserTotals> rows;
    totals_.bind(1, from_ms).bind(2, to_ms);
    for (;;) {
      auto more = totals_.step();
      if (!more.ok()) {
        totals_.reset();
        return more.error();
      }
      if (!*more) break;
      proto::UserTotals t;
      t.user = totals_.col_text(0);
      t.jobs = non_negative(totals_.col_int(1));
      t.pages = non_negative(totals_.col_int(2));
      t.impressions = non_negative(totals_.col_int(3));
      t.bytes = non_negative(totals_.col_int(4));
      rows.push_back(std::move(t));
    }
    totals_.reset();
    return rows;
  }

  Result<std::vector<std::pair<std::string, uint64_t>>> counts_checks(int64_t from_ms, int64_t to_ms) override {
    std::vector<std::pair<std::string, uint64_t>> rows;
    checks_.bind(1, from_ms).bind(2, to_ms);
    for (;;) {
      auto more = checks_.step();
      if (!more.ok()) {
        checks_.reset();
        return more.error();
      }
      if (!*more) break;
      rows.emplace_back(checks_.col_text(0), non_negative(checks_.col_int(1)));
    }
    checks_.reset();
    return rows;
  }

private:
  explicit SqliteRecordStore(std::unique_ptr<Db> db) : db_(std::move(db)) {}

  Status migrate() {
    auto version = db_->prepare("PRAGMA user_version");
    if (!version.ok()) return version.error();
    auto row = version->step();
    if (!row.ok()) return row.error();
    int64_t found = *row ? version->col_int(0) : 0;
    version->reset();
    if (found > kSchemaVersion)
      return make_error(Errc::conflict,
                        "written by a newer lpm-accounting (schema " + std::to_string(found) + ")");
    Transaction tx(*db_);
    if (!tx.begun().ok()) return tx.begun();
    Status s = db_->exec(kSchema);
    // A version 1 table: its rows were stored before counts were checked.
    if (s.ok() && found == 1)
      s = db_->exec("ALTER TABLE records ADD COLUMN counts_check TEXT NOT NULL DEFAULT 'unchecked'");
    if (s.ok()) s = db_->exec("PRAGMA user_version = " + std::to_string(kSchemaVersion));
    if (s.ok()) s = tx.commit();
    return s;
  }

  std::unique_ptr<Db> db_;
  Stmt insert_;
  Stmt totals_;
  Stmt checks_;
};

} // namespace

Result<IngestResult> RecordStore::ingest(const std::vector<proto::JobRecord> &records, int64_t receipt_ms) {
  std::vector<proto::CountsCheck> checks;
  checks.reserve(records.size());
  for (const auto &r : records)
    checks.push_back(proto::check_record_counts(r, [](const proto::Fingerprint &) { return false; }));
  return ingest(records, checks, receipt_ms);
}

Result<std::unique_ptr<RecordStore>> open_sqlite_record_store(const std::string &path) {
  return SqliteRecordStore::open(path);
}

} // namespace lpm::accounting
