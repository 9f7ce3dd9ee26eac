// The embedded record store: one SQLite table keyed by record id.
#include <sqlite3.h>

#include <algorithm>
#include <array>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <limits>
#include <map>
#include <mutex>
#include <set>
#include <span>
#include <string_view>
#include <thread>

#include "lpm/log.h"
#include "lpm/sqlite.h"
#include "record_store.h"

namespace lpm::accounting {
namespace {

// Checkpoints the WAL into the database file on a thread of its own, through its own connection,
// so a batch's commit does not wait for it: SQLite's automatic checkpoint runs inside the commit
// that leaves 1,000 frames or more in the WAL (14 % of lpm_ingest_bench's time). A PASSIVE
// checkpoint blocks neither the writer nor the readers; the WAL starts over from its beginning at
// the first write after one that copied every frame. Started by the first commit past
// kWalCheckpointFrames. Should the WAL reach kWalInlineFrames all the same (the thread behind, or
// its connection unavailable), the committing connection checkpoints itself, as SQLite would.
class Checkpointer {
public:
  static constexpr int kWalCheckpointFrames = 1000; // SQLite's default for its own
  static constexpr int kWalInlineFrames = 16000;

  explicit Checkpointer(std::string path) : path_(std::move(path)) {}
  ~Checkpointer() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_one();
    if (thread_.joinable()) thread_.join();
  }
  Checkpointer(const Checkpointer &) = delete;
  Checkpointer &operator=(const Checkpointer &) = delete;

  // sqlite3_wal_hook's callback on the writing connection, after each commit.
  static int after_commit(void *self, sqlite3 *db, const char *schema, int frames) {
    auto *c = static_cast<Checkpointer *>(self);
    if (frames >= kWalInlineFrames)
      (void)sqlite3_wal_checkpoint_v2(db, schema, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
    else if (frames >= kWalCheckpointFrames)
      c->wanted();
    return SQLITE_OK;
  }

private:
  void wanted() {
    {
      std::lock_guard lock(mutex_);
      wanted_ = true;
      if (!thread_.joinable()) thread_ = std::thread([this] { run(); });
    }
    wake_.notify_one();
  }

  void run() {
    auto db = Db::open(path_);
    if (!db.ok()) return; // the inline fallback checkpoints instead
    std::unique_lock lock(mutex_);
    for (;;) {
      wake_.wait(lock, [this] { return wanted_ || stopping_; });
      if (stopping_) return;
      wanted_ = false;
      lock.unlock();
      (void)sqlite3_wal_checkpoint_v2((*db)->raw(), nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
      lock.lock();
    }
  }

  std::string path_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool wanted_ = false;
  bool stopping_ = false;
  std::thread thread_;
};

// 2: counts_check (what the server concluded of a record's counts; "unchecked" for older rows).
// 3: print_group, department stamped at ingest; rollups (rollups.h), rebuilt from the records of
//    an older store when it is opened.
// 4: people and print group names from the directory's list-people (people_feed.h).
// 5: pending_checks, the records whose signed counts are checked behind ingest.
// 6: pending_signatures replaces pending_checks: only what the check needs beyond the record's
//    row (pending_checks held the whole record, ~1 KB, past what a 4 KiB page keeps in line, so
//    each signed record cost an overflow page: seven times the bytes written per batch).
// 7: no secondary index on records (each cost every record an entry, a fifth of the ingest time
//    each at 3 M stored): a user's reports read the rollups' user scope, report-totals the
//    enterprise's per-user rollups (with the printed bytes they now sum), the counts checks come
//    from check_counts. The rollups are rebuilt from the records when an older store is opened.
// 8: the signature parts of a batch's pending records in one row of pending_batches (a row and
//    about 250 bytes per record in pending_signatures cost ingest a third of its time); the
//    signer keys once per row.
// 9: record ids, job ids, user ids and print group ids in 16 bytes where they are canonical
//    lower-case UUIDs (PackedId): rows a quarter narrower, keys compared in 16 bytes, not 36.
// 10: event, reason, counts source and counts check as small integers (Coded), and the view
//    records_as_text that shows every record as it was sent.
constexpr int64_t kSchemaVersion = 10;

// A character's value as a lower-case hex digit, or 0x10 for any other (upper case is not
// canonical: such an id is kept as text).
constexpr std::array<uint8_t, 256> lower_hex_nibbles() {
  std::array<uint8_t, 256> t{};
  for (size_t c = 0; c < t.size(); c++)
    t[c] = c >= '0' && c <= '9'   ? static_cast<uint8_t>(c - '0')
           : c >= 'a' && c <= 'f' ? static_cast<uint8_t>(c - 'a' + 10)
                                  : uint8_t{0x10};
  return t;
}

// A UUID in canonical lower-case text (what agents, lpm::uuid_v7 and the directory make) is kept
// in records as its 16 bytes; any other text as it came. A blob and a text never compare equal,
// so an id still dedups exactly as the text that was sent, and reading gives that text back.
class PackedId {
public:
  explicit PackedId(std::string_view text) : text_(text), packed_(pack(text, bytes_.data())) {}

  // Binds the blob or the text without a copy: this and the text must outlive the step.
  void bind(Stmt &q, int index) const {
    if (packed_)
      q.bind_blob_static(index, bytes_);
    else
      q.bind_static(index, text_);
  }

  // The text of column `col` as PackedId kept it.
  static std::string text(const Stmt &q, int col) {
    if (!q.col_is_blob(col)) return q.col_text(col);
    std::vector<uint8_t> b = q.col_blob(col);
    return b.size() == 16 ? unpack(b.data()) : q.col_text(col);
  }

  // True (and `out` filled) when `text` is a canonical lower-case UUID. Four per record at
  // ingest: a table and one test at the end, not a branch per digit (7.6 % of ingest in perf).
  static bool pack(std::string_view text, uint8_t *out) {
    if (text.size() != 36 || text[8] != '-' || text[13] != '-' || text[18] != '-' || text[23] != '-')
      return false;
    static constexpr uint8_t kAt[16] = {0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34};
    static constexpr auto kNibbles = lower_hex_nibbles();
    uint8_t bad = 0;
    for (size_t i = 0; i < 16; i++) {
      uint8_t hi = kNibbles[static_cast<uint8_t>(text[kAt[i]])];
      uint8_t lo = kNibbles[static_cast<uint8_t>(text[kAt[i] + 1])];
      bad |= hi | lo;
      out[i] = static_cast<uint8_t>(hi << 4 | (lo & 15));
    }
    return (bad & 0x10) == 0;
  }

  static std::string unpack(const uint8_t *bytes) {
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string out;
    out.reserve(36);
    for (size_t i = 0; i < 16; i++) {
      if (i == 4 || i == 6 || i == 8 || i == 10) out += '-';
      out += kDigits[bytes[i] >> 4];
      out += kDigits[bytes[i] & 15];
    }
    return out;
  }

  // SQL function lpm_pack_id(x) for the migration to schema 9: x's 16 bytes when PackedId would
  // pack it, else x unchanged (a blob already packed, another text, NULL).
  static void sql_pack(sqlite3_context *ctx, int, sqlite3_value **argv) {
    if (sqlite3_value_type(argv[0]) == SQLITE_TEXT) {
      const auto *t = reinterpret_cast<const char *>(sqlite3_value_text(argv[0]));
      uint8_t bytes[16];
      if (t && pack(std::string_view(t, static_cast<size_t>(sqlite3_value_bytes(argv[0]))), bytes)) {
        sqlite3_result_blob(ctx, bytes, sizeof bytes, SQLITE_TRANSIENT);
        return;
      }
    }
    sqlite3_result_value(ctx, argv[0]);
  }

private:
  std::string_view text_;
  std::array<uint8_t, 16> bytes_{};
  bool packed_;
};

// A column of records whose values are one of a few names: each is kept as its index in `names`
// (SQLite keeps 0 and 1 in the row's header alone, a larger one in a byte), any other value as the
// text that came (the column has BLOB affinity, so a text that looks like a number stays a text).
// The codes are part of the stored format: a name may be added at the end, never moved.
class Coded {
public:
  constexpr Coded(const char *column, std::span<const std::string_view> names)
      : column_(column), names_(names) {}

  // Binds `value`'s code, or the text (not copied: it must outlive the step).
  void bind(Stmt &q, int index, std::string_view value) const {
    int64_t c = code(value);
    if (c >= 0)
      q.bind(index, c);
    else
      q.bind_static(index, value);
  }
  // The code of `name`, -1 when it has none.
  int64_t code(std::string_view name) const {
    for (size_t i = 0; i < names_.size(); i++)
      if (names_[i] == name) return static_cast<int64_t>(i);
    return -1;
  }

  // The text of column `col` as bind kept it.
  std::string text(const Stmt &q, int col) const {
    if (!q.col_is_int(col)) return q.col_text(col);
    int64_t i = q.col_int(col);
    return i >= 0 && static_cast<size_t>(i) < names_.size() ? std::string(names_[static_cast<size_t>(i)])
                                                            : std::to_string(i);
  }

  // SQL: the column's codes as their names (`from_names` false), or its names as their codes.
  std::string sql(bool from_names) const {
    std::string out = std::string("CASE ") + column_;
    for (size_t i = 0; i < names_.size(); i++) {
      std::string name = "'" + std::string(names_[i]) + "'", code = std::to_string(i);
      out += " WHEN " + (from_names ? name : code) + " THEN " + (from_names ? code : name);
    }
    return out + " ELSE " + column_ + " END";
  }

private:
  const char *column_;
  std::span<const std::string_view> names_;
};

constexpr std::array<std::string_view, 2> kEventNames = {"printed", "deleted"};
constexpr std::array<std::string_view, 5> kReasonNames = {"released", "expired", "user", "admin", "failed"};
constexpr std::array<std::string_view, 3> kCountsSourceNames = {"", "device", "estimated"};
// proto::counts_check_name's, and the two only this store writes: "pending" (checked behind
// ingest, not yet) and "unchecked" (stored before schema 2 checked counts).
constexpr std::array<std::string_view, 7> kCountsCheckNames = {"none",    "device",  "estimated", "unsigned",
                                                               "invalid", "pending", "unchecked"};
constexpr Coded kEvent{"event", kEventNames};
constexpr Coded kReason{"reason", kReasonNames};
constexpr Coded kCountsSource{"counts_source", kCountsSourceNames};
constexpr Coded kCountsCheck{"counts_check", kCountsCheckNames};

// Schema 6 and 7: the signature parts of a record whose counts check runs behind ingest, a row
// each; moved to pending_batches when such a store is opened.
constexpr const char *kPendingSchema = R"sql(
CREATE TABLE IF NOT EXISTS pending_signatures (
  id TEXT PRIMARY KEY NOT NULL,
  signed_outcome BLOB NOT NULL,
  signature BLOB NOT NULL,
  signer_key BLOB NOT NULL,
  signed_by TEXT NOT NULL
) WITHOUT ROWID;
)sql";

constexpr const char *kPendingInsert = R"sql(
INSERT OR IGNORE INTO pending_signatures (id, signed_outcome, signature, signer_key, signed_by)
VALUES (?1, ?2, ?3, ?4, ?5)
)sql";

// The signature parts (JobRecord's signed outcome, signature, signer key and fingerprint, as they
// arrived) of one batch's records whose counts check runs behind ingest, packed (PendingPack),
// until settle_checks; their rows in records say "pending" meanwhile and hold everything else the
// check reads. One row per batch: appended at the end of the table, one b-tree entry for up to
// 500 records.
constexpr const char *kPendingBatchesSchema = R"sql(
CREATE TABLE IF NOT EXISTS pending_batches (
  id INTEGER PRIMARY KEY,
  parts BLOB NOT NULL
);
)sql";

constexpr const char *kPendingBatchInsert = "INSERT INTO pending_batches (parts) VALUES (?1)";

// A pending record rebuilt for its check: the fields check_record_counts reads.
constexpr const char *kRecordForCheck = R"sql(
SELECT id, event, reason, job, user_id, workstation, site, printer, submitted_ms, event_ms, format, size_bytes,
  pages, impressions, sheets, copies, color_impressions, duplex, counts_source
FROM records WHERE id = ?1
)sql";

// A signed outcome (proto::outcome_signed_bytes) kept without what every outcome repeats or its
// record holds: the map's header and keys (proto::kOutcomeSignedKeys); the kind and version; and
// each value that is the record's own (workstation, job, printer, pages, impressions, sheets,
// color impressions, counts source), which the check compares anyway. What is left: a bit per key
// whose value was left out (16 bits, little-endian), then the other values' own msgpack bytes one after the
// other, about 60 bytes of an outcome's 300. Values are compared and copied as bytes, never
// decoded and encoded again, so rebuilding gives back exactly the bytes the station signed. An
// outcome of any other shape is not stripped (strip says false) and is kept as it arrived.
class OutcomeTemplate {
public:
  // Appends the outcome of record `r` stripped to `out`; false (and `out` unchanged) when the
  // outcome has another shape. Runs for every signed record ingested: values are compared where
  // they lie, nothing is copied but what is kept.
  static bool strip(const proto::JobRecord &r, proto::Bytes &out) {
    std::span<const uint8_t> outcome = r.signed_outcome;
    const proto::Bytes &header = map_header();
    if (outcome.size() < header.size() || std::memcmp(header.data(), outcome.data(), header.size()) != 0)
      return false;
    size_t start = out.size();
    out.resize(start + 2); // which keys are left out: 16 bits, little-endian
    size_t at = header.size();
    uint16_t left_out = 0;
    for (size_t i = 0; i < kKeys; i++) {
      const proto::Bytes &key = key_bytes()[i];
      if (outcome.size() - at < key.size() || std::memcmp(key.data(), outcome.data() + at, key.size()) != 0) {
        out.resize(start);
        return false;
      }
      at += key.size();
      size_t n = value_size(outcome.subspan(at));
      if (n == 0) {
        out.resize(start);
        return false;
      }
      auto value = outcome.subspan(at, n);
      at += n;
      Value own;
      if (record_value(i, r, own) && own.equals(value)) {
        left_out = static_cast<uint16_t>(left_out | (1u << i));
        continue;
      }
      out.insert(out.end(), value.begin(), value.end());
    }
    if (at != outcome.size()) {
      out.resize(start);
      return false;
    }
    out[start] = static_cast<uint8_t>(left_out & 0xff);
    out[start + 1] = static_cast<uint8_t>(left_out >> 8);
    return true;
  }

  // The outcome `stripped` (what strip appended) came from, for record `r` (its fields read from
  // its row).
  static Result<proto::Bytes> rebuild(std::span<const uint8_t> stripped, const proto::JobRecord &r) {
    if (stripped.size() < 2) return make_error(Errc::io_error, "a stripped outcome without its key bits");
    unsigned left_out = stripped[0] | (unsigned{stripped[1]} << 8);
    size_t at = 2;
    proto::Bytes out = map_header();
    for (size_t i = 0; i < kKeys; i++) {
      const proto::Bytes &key = key_bytes()[i];
      out.insert(out.end(), key.begin(), key.end());
      if (left_out & (1u << i)) {
        Value own;
        if (!record_value(i, r, own))
          return make_error(Errc::io_error, "a stripped outcome leaves out a value no record holds");
        own.append_to(out);
        continue;
      }
      size_t n = value_size(stripped.subspan(at));
      if (n == 0) return make_error(Errc::io_error, "a stripped outcome ends early");
      out.insert(out.end(), stripped.begin() + static_cast<ptrdiff_t>(at),
                 stripped.begin() + static_cast<ptrdiff_t>(at + n));
      at += n;
    }
    if (at != stripped.size()) return make_error(Errc::io_error, "a stripped outcome has bytes left over");
    return out;
  }

private:
  static constexpr size_t kKeys = proto::kOutcomeSignedKeys.size();
  static_assert(kKeys <= 16, "a stripped outcome says which keys it left out in 16 bits");

  // A msgpack value as its head (a whole integer, or a string's type and length) and the string's
  // bytes, which stay where they are.
  struct Value {
    std::array<uint8_t, 9> head{};
    size_t head_size = 0;
    std::string_view body;

    bool equals(std::span<const uint8_t> bytes) const {
      return bytes.size() == head_size + body.size() &&
             std::memcmp(bytes.data(), head.data(), head_size) == 0 &&
             (body.empty() || std::memcmp(bytes.data() + head_size, body.data(), body.size()) == 0);
    }
    void append_to(proto::Bytes &out) const {
      out.insert(out.end(), head.begin(), head.begin() + static_cast<ptrdiff_t>(head_size));
      out.insert(out.end(), body.begin(), body.end());
    }
  };

  // The index of `key` in kOutcomeSignedKeys, at compile time.
  static constexpr size_t key_index(std::string_view key) {
    for (size_t i = 0; i < kKeys; i++)
      if (proto::kOutcomeSignedKeys[i] == key) return i;
    throw "not an outcome key"; // a compile error in a constant expression
  }

  // Into `out`, key i's value when it is the constant or the record's own; false for a key whose
  // value only the outcome holds (claim, outcome, copies, sides, color, finished).
  static bool record_value(size_t i, const proto::JobRecord &r, Value &out) {
    switch (i) {
    case key_index("kind"): put_str(out, proto::kOutcomeKind); return true;
    case key_index("v"): put_int(out, static_cast<int64_t>(proto::kOutcomeVersion)); return true;
    case key_index("workstation"): put_str(out, r.workstation); return true;
    case key_index("job"): put_str(out, r.job); return true;
    case key_index("pages"): put_int(out, r.pages); return true;
    case key_index("impressions"): put_int(out, r.impressions); return true;
    case key_index("sheets"): put_int(out, r.sheets); return true;
    case key_index("color_impressions"): put_int(out, r.color_impressions); return true;
    case key_index("counts_source"): put_str(out, r.counts_source); return true;
    case key_index("printer_name"): put_str(out, r.printer); return true;
    default: return false;
    }
  }
  static const std::array<proto::Bytes, kKeys> &key_bytes() {
    static const std::array<proto::Bytes, kKeys> keys = [] {
      std::array<proto::Bytes, kKeys> k;
      for (size_t i = 0; i < kKeys; i++)
        put_str(k[i], proto::kOutcomeSignedKeys[i]);
      return k;
    }();
    return keys;
  }
  // msgpack's shortest header of a map of kKeys entries.
  static const proto::Bytes &map_header() {
    static const proto::Bytes header =
        kKeys < 16 ? proto::Bytes{static_cast<uint8_t>(0x80 | kKeys)} : proto::Bytes{0xde, 0x00, kKeys};
    return header;
  }
  static void put_be(Value &out, uint64_t v, int bytes) {
    for (int i = bytes - 1; i >= 0; i--)
      out.head[out.head_size++] = static_cast<uint8_t>((v >> (8 * i)) & 0xff);
  }
  // msgpack's shortest encoding of string `s`.
  static void put_str(Value &out, std::string_view s) {
    size_t n = s.size();
    if (n < 32) {
      out.head[out.head_size++] = static_cast<uint8_t>(0xa0 | n);
    } else if (n < 0x100) {
      out.head[out.head_size++] = 0xd9;
      put_be(out, n, 1);
    } else if (n < 0x10000) {
      out.head[out.head_size++] = 0xda;
      put_be(out, n, 2);
    } else {
      out.head[out.head_size++] = 0xdb;
      put_be(out, n, 4);
    }
    out.body = s;
  }
  static void put_str(proto::Bytes &out, std::string_view s) {
    Value v;
    put_str(v, s);
    v.append_to(out);
  }
  // msgpack's shortest encoding of integer `v`.
  static void put_int(Value &out, int64_t v) {
    auto u = static_cast<uint64_t>(v);
    auto typed = [&](uint8_t type, int bytes) {
      out.head[out.head_size++] = type;
      put_be(out, u, bytes);
    };
    if (v >= 0) {
      if (v < 0x80)
        out.head[out.head_size++] = static_cast<uint8_t>(v);
      else if (v < 0x100)
        typed(0xcc, 1);
      else if (v < 0x10000)
        typed(0xcd, 2);
      else if (v <= 0xffffffff)
        typed(0xce, 4);
      else
        typed(0xcf, 8);
    } else {
      if (v >= -32)
        out.head[out.head_size++] = static_cast<uint8_t>(v);
      else if (v >= -128)
        typed(0xd0, 1);
      else if (v >= -32768)
        typed(0xd1, 2);
      else if (v >= -2147483648LL)
        typed(0xd2, 4);
      else
        typed(0xd3, 8);
    }
  }
  // The size of the msgpack scalar (integer, string, binary, nil, boolean, float) that `in` starts
  // with; 0 when it is something else or runs past the end.
  static size_t value_size(std::span<const uint8_t> in) {
    if (in.empty()) return 0;
    uint8_t t = in[0];
    auto sized = [&](size_t head, size_t length_bytes) -> size_t {
      if (in.size() < head) return 0;
      uint64_t n = 0;
      for (size_t i = 1; i <= length_bytes; i++)
        n = (n << 8) | in[i];
      return n <= in.size() - head ? head + n : 0;
    };
    size_t n = 0;
    if (t <= 0x7f || t >= 0xe0 || t == 0xc0 || t == 0xc2 || t == 0xc3)
      n = 1;
    else if (t >= 0xa0 && t <= 0xbf)
      return (t & 0x1fu) <= in.size() - 1 ? 1 + (t & 0x1fu) : 0;
    else if (t == 0xc4 || t == 0xd9)
      return sized(2, 1);
    else if (t == 0xc5 || t == 0xda)
      return sized(3, 2);
    else if (t == 0xc6 || t == 0xdb)
      return sized(5, 4);
    else if (t == 0xcc || t == 0xd0)
      n = 2;
    else if (t == 0xcd || t == 0xd1)
      n = 3;
    else if (t == 0xca || t == 0xce || t == 0xd2)
      n = 5;
    else if (t == 0xcb || t == 0xcf || t == 0xd3)
      n = 9;
    return n <= in.size() ? n : 0;
  }
};

// The packed signature parts of a pending row. Format 2 (written): a format byte, the distinct
// stations (signer key and fingerprint as they arrived; a batch's records are signed by the few
// stations its user printed at), then per record its id, how its signed outcome is kept (1:
// stripped by OutcomeTemplate, 0: as it arrived), that outcome, its signature and its station (an
// index). About 190 bytes a signed record where format 1 took 480. Format 1 (read, from schema 8's first
// stores): the distinct signer keys, then per record id, signed outcome, signature, key index and
// fingerprint. Counts and lengths are LEB128 varints. Written and read only by this store; a row
// that does not decode is reported, never half read.
class PendingPack {
public:
  // A record's parts as read; a stripped outcome is whole again once complete() has the record's
  // workstation and job (which are in its row of records, not here).
  struct Part {
    proto::JobRecord record;
    bool stripped = false;
  };

  void add(const proto::JobRecord &r) {
    // Most of a batch is signed by one station: the last record's is tried first.
    size_t station = last_station_;
    if (station >= stations_.size() || !stations_[station].is(r)) {
      station = 0;
      while (station < stations_.size() && !stations_[station].is(r))
        station++;
      if (station == stations_.size()) stations_.push_back({&r.signer_key, &r.signed_by});
      last_station_ = station;
    }
    put_text(body_, r.id);
    stripped_.clear();
    if (OutcomeTemplate::strip(r, stripped_)) {
      body_.push_back(kStripped);
      put_bytes(body_, stripped_);
    } else {
      body_.push_back(kAsArrived);
      put_bytes(body_, r.signed_outcome);
    }
    put_bytes(body_, r.signature);
    put_varint(body_, station);
    count_++;
  }
  size_t size() const { return count_; }
  proto::Bytes finish() const {
    proto::Bytes out;
    out.push_back(kFormat);
    put_varint(out, stations_.size());
    for (const Station &st : stations_) {
      put_bytes(out, *st.key);
      put_text(out, *st.fingerprint);
    }
    put_varint(out, count_);
    out.insert(out.end(), body_.begin(), body_.end());
    return out;
  }

  // The parts of each record packed in `blob` (id and signature parts only).
  static Result<std::vector<Part>> read(std::span<const uint8_t> blob) {
    Reader in{blob};
    uint8_t format = in.byte();
    if (format == kFormat1) return read_format1(in);
    if (format != kFormat) return damaged("unknown format");
    uint64_t nstations = in.varint();
    if (nstations > blob.size()) return damaged("station count");
    std::vector<std::pair<proto::Bytes, std::string>> stations;
    for (uint64_t k = 0; k < nstations && in.ok; k++) {
      proto::Bytes key = in.bytes();
      stations.emplace_back(std::move(key), in.text());
    }
    uint64_t n = in.varint();
    if (n > blob.size()) return damaged("record count");
    std::vector<Part> out;
    for (uint64_t i = 0; i < n && in.ok; i++) {
      Part p;
      p.record.id = in.text();
      uint8_t form = in.byte();
      if (form != kStripped && form != kAsArrived) return damaged("outcome form");
      p.stripped = form == kStripped;
      p.record.signed_outcome = in.bytes();
      p.record.signature = in.bytes();
      uint64_t station = in.varint();
      if (!in.ok) break;
      if (station >= stations.size()) return damaged("station index");
      p.record.signer_key = stations[station].first;
      p.record.signed_by = stations[station].second;
      out.push_back(std::move(p));
    }
    if (!in.ok || in.at != blob.size()) return damaged("length");
    return out;
  }

  // `p`'s signed outcome whole, once its record's workstation and job are read.
  static Status complete(Part &p) {
    if (!p.stripped) return {};
    auto whole = OutcomeTemplate::rebuild(p.record.signed_outcome, p.record);
    if (!whole.ok()) return damaged(whole.error().message.c_str());
    p.record.signed_outcome = std::move(*whole);
    p.stripped = false;
    return {};
  }

private:
  static constexpr uint8_t kFormat1 = 1;
  static constexpr uint8_t kFormat = 2;
  static constexpr uint8_t kAsArrived = 0;
  static constexpr uint8_t kStripped = 1;

  struct Station {
    const proto::Bytes *key; // into the records added, which outlive the pack
    const std::string *fingerprint;
    bool is(const proto::JobRecord &r) const { return *key == r.signer_key && *fingerprint == r.signed_by; }
  };

  struct Reader;
  static Result<std::vector<Part>> read_format1(Reader &in) {
    uint64_t nkeys = in.varint();
    if (nkeys > in.in.size()) return damaged("key count");
    std::vector<proto::Bytes> keys;
    for (uint64_t k = 0; k < nkeys && in.ok; k++)
      keys.push_back(in.bytes());
    uint64_t n = in.varint();
    if (n > in.in.size()) return damaged("record count");
    std::vector<Part> out;
    for (uint64_t i = 0; i < n && in.ok; i++) {
      Part p;
      p.record.id = in.text();
      p.record.signed_outcome = in.bytes();
      p.record.signature = in.bytes();
      uint64_t key = in.varint();
      if (!in.ok) break;
      if (key >= keys.size()) return damaged("signer key index");
      p.record.signer_key = keys[key];
      p.record.signed_by = in.text();
      out.push_back(std::move(p));
    }
    if (!in.ok || in.at != in.in.size()) return damaged("length");
    return out;
  }

  static void put_varint(proto::Bytes &out, uint64_t v) {
    while (v >= 0x80) {
      out.push_back(static_cast<uint8_t>(v | 0x80));
      v >>= 7;
    }
    out.push_back(static_cast<uint8_t>(v));
  }
  static void put_bytes(proto::Bytes &out, std::span<const uint8_t> b) {
    put_varint(out, b.size());
    out.insert(out.end(), b.begin(), b.end());
  }
  static void put_text(proto::Bytes &out, std::string_view t) {
    put_varint(out, t.size());
    out.insert(out.end(), t.begin(), t.end());
  }
  static Error damaged(const char *what) {
    return make_error(Errc::io_error, std::string("a pending row is damaged (") + what + ")");
  }

  struct Reader {
    std::span<const uint8_t> in;
    size_t at = 0;
    bool ok = true;
    uint8_t byte() {
      if (at >= in.size()) return fail();
      return in[at++];
    }
    uint64_t varint() {
      uint64_t v = 0;
      for (int shift = 0; shift < 64; shift += 7) {
        if (at >= in.size()) return fail();
        uint8_t b = in[at++];
        v |= static_cast<uint64_t>(b & 0x7f) << shift;
        if ((b & 0x80) == 0) return v;
      }
      return fail();
    }
    std::span<const uint8_t> span() {
      uint64_t n = varint();
      if (!ok || n > in.size() - at) {
        fail();
        return {};
      }
      auto out = in.subspan(at, n);
      at += n;
      return out;
    }
    proto::Bytes bytes() {
      auto s = span();
      return proto::Bytes(s.begin(), s.end());
    }
    std::string text() {
      auto s = span();
      return std::string(s.begin(), s.end());
    }
    uint8_t fail() {
      ok = false;
      return 0;
    }
  };

  std::vector<Station> stations_;
  proto::Bytes body_;
  proto::Bytes stripped_; // the last outcome's stripped bytes, its capacity kept
  size_t last_station_ = 0;
  size_t count_ = 0;
};

// Record ids are UUIDv7, so in a WITHOUT ROWID table keyed by id new rows land at the end of the
// b-tree, and the primary key is the dedup index with no second copy of the id.
// id, job, user_id and print_group hold PackedIds; event, reason, counts_source and counts_check
// Coded values (BLOB affinity: a text stays a text). counts_check's default is "unchecked".
constexpr const char *kSchema = R"sql(
CREATE TABLE IF NOT EXISTS %s (
  id BLOB PRIMARY KEY NOT NULL,
  event BLOB NOT NULL,
  reason BLOB NOT NULL,
  job BLOB NOT NULL,
  user_id BLOB NOT NULL,
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
  counts_source BLOB NOT NULL,
  receipt_ms INTEGER NOT NULL,
  clock_skew INTEGER NOT NULL,
  counts_check BLOB NOT NULL DEFAULT 6,
  print_group BLOB NOT NULL DEFAULT '',
  department TEXT NOT NULL DEFAULT ''
) WITHOUT ROWID;
)sql";

// The move of an older store's records to PackedIds (schema 9) and Coded values (schema 10): a new
// table, then the old one goes. %s: kEvent, kReason, kCountsSource and kCountsCheck from names.
constexpr const char *kRecordsRepack = R"sql(
INSERT INTO records_packed (id, event, reason, job, user_id, workstation, site, printer, submitted_ms,
  event_ms, format, size_bytes, pages, impressions, sheets, copies, color_impressions, duplex, counts_source,
  receipt_ms, clock_skew, counts_check, print_group, department)
SELECT lpm_pack_id(id), %s, %s, lpm_pack_id(job), lpm_pack_id(user_id), workstation, site, printer,
  submitted_ms, event_ms, format, size_bytes, pages, impressions, sheets, copies, color_impressions, duplex,
  %s, receipt_ms, clock_skew, %s, lpm_pack_id(print_group), department
FROM records ORDER BY id;
DROP TABLE records;
ALTER TABLE records_packed RENAME TO records;
)sql";

// Every record as it was sent, for people (sqlite3) and tests: ids as text, Coded values as their
// names. %s: the id columns' and the Coded columns' expressions.
constexpr const char *kRecordsAsText = R"sql(
CREATE VIEW IF NOT EXISTS records_as_text AS
SELECT %s AS id, %s AS event, %s AS reason, %s AS job, %s AS user_id, workstation, site, printer,
  submitted_ms, event_ms, format, size_bytes, pages, impressions, sheets, copies, color_impressions, duplex,
  %s AS counts_source, receipt_ms, clock_skew, %s AS counts_check, %s AS print_group, department
FROM records
)sql";

// How many printed records carry each counts check, kept with every ingest and settle_checks.
constexpr const char *kCheckCountsSchema = R"sql(
CREATE TABLE IF NOT EXISTS check_counts (
  counts_check TEXT PRIMARY KEY NOT NULL,
  records INTEGER NOT NULL
) WITHOUT ROWID;
)sql";

constexpr const char *kCheckCountsAdd = R"sql(
INSERT INTO check_counts (counts_check, records) VALUES (?1, ?2)
ON CONFLICT (counts_check) DO UPDATE SET records = records + excluded.records
)sql";

// The people the directory lists (a deleted one keeps its id and stamp, not its name or e-mail:
// RP-10) and every print group name seen (deleted groups stay nameable in reports: RP-11).
constexpr const char *kPeopleSchema = R"sql(
CREATE TABLE IF NOT EXISTS people (
  id TEXT PRIMARY KEY NOT NULL,
  name TEXT NOT NULL,
  email TEXT NOT NULL,
  department TEXT NOT NULL,
  print_group TEXT NOT NULL,
  updated_ms INTEGER NOT NULL,
  deleted_ms INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS people_by_name ON people(name COLLATE NOCASE);
CREATE TABLE IF NOT EXISTS print_group_names (
  id TEXT PRIMARY KEY NOT NULL,
  name TEXT NOT NULL,
  updated_ms INTEGER NOT NULL
) WITHOUT ROWID;
)sql";

// One table per granularity. The key puts the bucket before the item key so a window of one
// scope's items is one contiguous range of the b-tree.
constexpr const char *kRollupSchema = R"sql(
CREATE TABLE IF NOT EXISTS rollup_%s (
  scope TEXT NOT NULL,
  scope_key TEXT NOT NULL,
  item TEXT NOT NULL,
  bucket INTEGER NOT NULL,
  item_key TEXT NOT NULL,
  printed_jobs INTEGER NOT NULL,
  pages INTEGER NOT NULL,
  impressions INTEGER NOT NULL,
  color_impressions INTEGER NOT NULL,
  mono_impressions INTEGER NOT NULL,
  duplex_impressions INTEGER NOT NULL,
  simplex_impressions INTEGER NOT NULL,
  sheets INTEGER NOT NULL,
  deleted_jobs INTEGER NOT NULL,
  deleted_pages INTEGER NOT NULL,
  printed_bytes INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (scope, scope_key, item, bucket, item_key)
) WITHOUT ROWID;
)sql";

constexpr const char *kRollupUpsert = R"sql(
INSERT INTO rollup_%s (scope, scope_key, item, bucket, item_key, printed_jobs, pages, impressions,
  color_impressions, mono_impressions, duplex_impressions, simplex_impressions, sheets, deleted_jobs, deleted_pages,
  printed_bytes)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)
ON CONFLICT (scope, scope_key, item, bucket, item_key) DO UPDATE SET
  printed_jobs = printed_jobs + excluded.printed_jobs, pages = pages + excluded.pages,
  impressions = impressions + excluded.impressions, color_impressions = color_impressions + excluded.color_impressions,
  mono_impressions = mono_impressions + excluded.mono_impressions,
  duplex_impressions = duplex_impressions + excluded.duplex_impressions,
  simplex_impressions = simplex_impressions + excluded.simplex_impressions, sheets = sheets + excluded.sheets,
  deleted_jobs = deleted_jobs + excluded.deleted_jobs, deleted_pages = deleted_pages + excluded.deleted_pages,
  printed_bytes = printed_bytes + excluded.printed_bytes
)sql";

constexpr const char *kRollupSums = R"sql(
SELECT %s, SUM(printed_jobs), SUM(pages), SUM(impressions), SUM(color_impressions), SUM(mono_impressions),
  SUM(duplex_impressions), SUM(simplex_impressions), SUM(sheets), SUM(deleted_jobs), SUM(deleted_pages),
  SUM(printed_bytes)
FROM rollup_%s
WHERE scope = ?1 AND scope_key = ?2 AND item = ?3 AND bucket >= ?4 AND bucket < ?5
GROUP BY 1 ORDER BY 1
)sql";

// The records an older store had, to build its rollups from.
constexpr const char *kAllRecords = R"sql(
SELECT event, user_id, workstation, site, printer, event_ms, pages, impressions, sheets, color_impressions,
  duplex, print_group, department, size_bytes FROM records
)sql";

// The counts checks of an older store's printed records, for check_counts. %s: kCountsCheck's
// names, kEvent's code of "printed".
constexpr const char *kCountAllChecks = R"sql(
DELETE FROM check_counts;
INSERT INTO check_counts (counts_check, records)
SELECT %s, COUNT(*) FROM records WHERE event = %s GROUP BY counts_check
)sql";

// `pattern` with each "%s" replaced by the next of `args`.
std::string fill(const char *pattern, std::initializer_list<const char *> args) {
  std::string out;
  auto next = args.begin();
  for (const char *p = pattern; *p; p++) {
    if (p[0] == '%' && p[1] == 's' && next != args.end()) {
      out += *next++;
      p++;
    } else {
      out += *p;
    }
  }
  return out;
}

const char *table_name(Granularity g) {
  return g == Granularity::day ? "day" : "quarter";
}

constexpr size_t kInsertColumns = 24;
// Records stored by one statement at ingest: SQLite's cost per statement (its start, its end,
// the reset) spread over them. 50 divides an agent's full batch (500).
constexpr size_t kChunkRows = kIngestStatementRows;

// The columns an agent's batch nearly always has the same in every record: one user at one
// workstation, site and printer, one stamp, one receipt time (indexes into the INSERT's columns).
// A chunk whose records all agree binds them once, as parameters 1-7, and each record its other 17.
constexpr std::array<size_t, 7> kSharedColumns = {4, 5, 6, 7, 19, 22, 23};
constexpr size_t kOwnColumns = kInsertColumns - kSharedColumns.size();

// Where a statement's rows take their values: column c of row k is parameter at[c] + k * step[c]
// (step 0: a shared column of a `shared` statement, the same parameter for every row).
struct RowLayout {
  std::array<int, kInsertColumns> at{};
  std::array<int, kInsertColumns> step{};
  bool shared = false;
  int param(size_t column, size_t row) const { return at[column] + static_cast<int>(row) * step[column]; }
};

constexpr RowLayout layout_of(bool shared) {
  RowLayout l;
  l.shared = shared;
  int stride = static_cast<int>(shared ? kOwnColumns : kInsertColumns);
  int next = shared ? static_cast<int>(kSharedColumns.size()) + 1 : 1;
  for (size_t c = 0; c < kInsertColumns; c++) {
    l.at[c] = next;
    l.step[c] = stride;
    for (size_t k = 0; shared && k < kSharedColumns.size(); k++)
      if (kSharedColumns[k] == c) {
        l.at[c] = static_cast<int>(k) + 1;
        l.step[c] = 0;
      }
    if (l.at[c] == next) next++;
  }
  return l;
}
constexpr RowLayout kEachRow = layout_of(false);
constexpr RowLayout kSharedRow = layout_of(true);

// The INSERT of `rows` records laid out as `layout` says: one (OR IGNORE: a record stored already
// is left as it is), or more (a record stored already fails the statement, whose rows are then
// undone).
std::string insert_sql(size_t rows, const RowLayout &layout) {
  std::string sql = rows == 1 ? "INSERT OR IGNORE" : "INSERT";
  sql +=
      " INTO records (id, event, reason, job, user_id, workstation, site, printer, submitted_ms, event_ms, "
      "format, size_bytes, pages, impressions, sheets, copies, color_impressions, duplex, counts_source, "
      "receipt_ms, clock_skew, counts_check, print_group, department) VALUES ";
  for (size_t row = 0; row < rows; row++) {
    sql += row ? ", (" : "(";
    for (size_t col = 0; col < kInsertColumns; col++)
      sql += (col ? ", ?" : "?") + std::to_string(layout.param(col, row));
    sql += ")";
  }
  return sql;
}

constexpr const char *kCountsChecks =
    "SELECT counts_check, records FROM check_counts WHERE records > 0 ORDER BY counts_check";

// The counts check of a record whose check runs behind ingest, until it has run.
constexpr const char *kPendingCheck = "pending";

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
    store->checkpointer_ = std::make_unique<Checkpointer>(path);
    sqlite3_wal_hook(store->db_->raw(), &Checkpointer::after_commit, store->checkpointer_.get());
    // 64 MiB of page cache (SQLite's default is 2 MiB): a batch's rollup rows and index entries
    // stay in memory between batches instead of being read back through the kernel each time.
    Status cache = store->db_->exec("PRAGMA cache_size = -65536");
    if (!cache.ok()) return cache.error();
    Status s = store->migrate();
    if (!s.ok()) return make_error(s.error().code, path + ": " + s.error().message);
    auto insert = store->db_->prepare(insert_sql(1, kEachRow));
    if (!insert.ok()) return insert.error();
    store->insert_ = std::move(*insert);
    auto chunk = store->db_->prepare(insert_sql(kChunkRows, kEachRow));
    if (!chunk.ok()) return chunk.error();
    store->insert_chunk_ = std::move(*chunk);
    auto shared = store->db_->prepare(insert_sql(kChunkRows, kSharedRow));
    if (!shared.ok()) return shared.error();
    store->insert_shared_ = std::move(*shared);
    auto pending = store->db_->prepare(kPendingBatchInsert);
    if (!pending.ok()) return pending.error();
    store->pending_insert_ = std::move(*pending);
    auto check_counts = store->db_->prepare(kCheckCountsAdd);
    if (!check_counts.ok()) return check_counts.error();
    store->check_counts_add_ = std::move(*check_counts);
    for (Granularity g : {Granularity::quarter, Granularity::day}) {
      int t = index_of(g);
      auto upsert = store->db_->prepare(fill(kRollupUpsert, {table_name(g)}));
      if (!upsert.ok()) return upsert.error();
      store->upsert_[t] = std::move(*upsert);
      auto by_key = store->db_->prepare(fill(kRollupSums, {"item_key", table_name(g)}));
      if (!by_key.ok()) return by_key.error();
      store->sums_by_key_[t] = std::move(*by_key);
      auto by_bucket = store->db_->prepare(fill(kRollupSums, {"bucket", table_name(g)}));
      if (!by_bucket.ok()) return by_bucket.error();
      store->sums_by_bucket_[t] = std::move(*by_bucket);
    }
    return std::unique_ptr<RecordStore>(std::move(store));
  }

  // A record's four ids as PackedIds, which hold the packed bytes bound until the row is stored.
  struct RowIds {
    RowIds(const proto::JobRecord &r, const IngestFacts &f)
        : id(r.id), job(r.job), user(r.user), group(f.stamp.print_group) {}
    PackedId id, job, user, group;
  };

  static std::string_view check_of(const IngestFacts &f) {
    return f.pending ? kPendingCheck : proto::counts_check_name(f.check);
  }

  // Binds row `k` of `q` (laid out as `layout`) to record `r`, without copies: the record's strings
  // and `ids` must stay put until q has run. The shared columns of a shared layout are left to
  // bind_shared.
  static void bind_row(Stmt &q, const RowLayout &layout, size_t k, const proto::JobRecord &r,
                       const IngestFacts &f, const RowIds &ids, int64_t receipt_ms) {
    auto at = [&](size_t column) { return layout.param(column, k); };
    ids.id.bind(q, at(0));
    kEvent.bind(q, at(1), r.event);
    kReason.bind(q, at(2), r.reason);
    ids.job.bind(q, at(3));
    q.bind(at(8), r.submitted_ms).bind(at(9), r.event_ms).bind_static(at(10), r.format);
    q.bind(at(11), static_cast<int64_t>(r.size)).bind(at(12), r.pages).bind(at(13), r.impressions);
    q.bind(at(14), r.sheets).bind(at(15), static_cast<int64_t>(r.copies));
    q.bind(at(16), r.color_impressions).bind(at(17), int64_t{r.duplex ? 1 : 0});
    kCountsSource.bind(q, at(18), r.counts_source);
    q.bind(at(20), int64_t{skewed(r.event_ms, receipt_ms) ? 1 : 0});
    kCountsCheck.bind(q, at(21), check_of(f));
    if (!layout.shared) bind_shared(q, layout, k, r, f, ids, receipt_ms);
  }

  // The kSharedColumns of row `k`: of every row, in a shared layout.
  static void bind_shared(Stmt &q, const RowLayout &layout, size_t k, const proto::JobRecord &r,
                          const IngestFacts &f, const RowIds &ids, int64_t receipt_ms) {
    auto at = [&](size_t column) { return layout.param(column, k); };
    ids.user.bind(q, at(4));
    q.bind_static(at(5), r.workstation).bind_static(at(6), r.site).bind_static(at(7), r.printer);
    q.bind(at(19), receipt_ms);
    ids.group.bind(q, at(22));
    q.bind_static(at(23), f.stamp.department);
  }

  // True when records a and b agree on every kSharedColumns column.
  static bool share_columns(const proto::JobRecord &a, const IngestFacts &fa, const proto::JobRecord &b,
                            const IngestFacts &fb) {
    return a.user == b.user && a.workstation == b.workstation && a.site == b.site && a.printer == b.printer &&
           fa.stamp.print_group == fb.stamp.print_group && fa.stamp.department == fb.stamp.department;
  }

  enum class Chunk { undone, stored, stored_shared };

  // Stores records[from, from + kChunkRows) with one statement: stored (by the statement binding
  // the shared columns once, or not) when all were; undone when one was stored already (the
  // statement stops and its rows are undone: the caller stores them one at a time, which tells
  // which).
  Result<Chunk> insert_chunk(const std::vector<proto::JobRecord> &records,
                             const std::vector<IngestFacts> &facts, size_t from, int64_t receipt_ms) {
    bool shared = true;
    for (size_t k = 1; k < kChunkRows && shared; k++)
      shared = share_columns(records[from], facts[from], records[from + k], facts[from + k]);
    Stmt &q = shared ? insert_shared_ : insert_chunk_;
    const RowLayout &layout = shared ? kSharedRow : kEachRow;
    std::vector<RowIds> &ids = chunk_ids_;
    ids.clear();
    for (size_t k = 0; k < kChunkRows; k++)
      ids.emplace_back(records[from + k], facts[from + k]);
    for (size_t k = 0; k < kChunkRows; k++)
      bind_row(q, layout, k, records[from + k], facts[from + k], ids[k], receipt_ms);
    if (shared) bind_shared(q, layout, 0, records[from], facts[from], ids[0], receipt_ms);
    Status s = q.run_rebinding();
    if (s.ok()) return shared ? Chunk::stored_shared : Chunk::stored;
    q.reset();
    if (s.error().code == Errc::conflict) return Chunk::undone;
    return s.error();
  }

  Result<std::vector<IngestResult>> ingest_group(const std::vector<IngestBatch> &batches,
                                                 int64_t receipt_ms) override {
    for (const IngestBatch &b : batches) {
      if (b.facts->size() != b.records->size())
        return make_error(Errc::internal, "ingest: " + std::to_string(b.facts->size()) + " facts for " +
                                              std::to_string(b.records->size()) + " records");
      for (const auto &r : *b.records) {
        Status s = check_fits(r);
        if (!s.ok()) return s.error();
      }
    }
    std::vector<IngestResult> results(batches.size());
    std::map<RollupPlace, Usage> places;        // the group's usage, summed per place before the rollups
    std::map<std::string_view, int64_t> checks; // printed records stored, by counts check
    Transaction tx(*db_);
    if (!tx.begun().ok()) return tx.begun().error();
    for (size_t b = 0; b < batches.size(); b++) {
      const auto &records = *batches[b].records;
      const auto &facts = *batches[b].facts;
      IngestResult &result = results[b];
      PendingPack pending;
      // What a record stored now adds: only such a record counts. The records of a batch nearly
      // all share their rollup place with the one before (an agent's batch: one user and
      // workstation, records in time order), so that place is tried before the map.
      std::pair<const RollupPlace, Usage> *last_place = nullptr;
      auto stored = [&](size_t i) {
        const proto::JobRecord &r = records[i];
        result.stored++;
        if (skewed(r.event_ms, receipt_ms)) result.skewed++;
        Usage usage = usage_of(r);
        if (!usage.empty()) {
          RollupPlace place = rollup_place(r, facts[i].stamp);
          if (!last_place || !(last_place->first == place)) last_place = &*places.try_emplace(place).first;
          last_place->second.add(usage);
        }
        if (r.event == "printed") checks[check_of(facts[i])]++;
        if (facts[i].pending) pending.add(r);
      };
      for (size_t i = 0; i < records.size();) {
        // kChunkRows records at once while as many are left (one statement: SQLite's work per
        // statement is spread over them); the rest, and a chunk in which a record was stored
        // already, one at a time.
        size_t end = i + 1;
        if (records.size() - i >= kChunkRows) {
          end = i + kChunkRows;
          auto all = insert_chunk(records, facts, i, receipt_ms);
          if (!all.ok()) return all.error(); // the transaction rolls back: nothing of the group is kept
          if (*all != Chunk::undone) {
            result.in_statements += kChunkRows;
            if (*all == Chunk::stored_shared) result.in_shared_statements += kChunkRows;
            for (; i < end; i++)
              stored(i);
            continue;
          }
        }
        for (; i < end; i++) {
          RowIds ids(records[i], facts[i]);
          bind_row(insert_, kEachRow, 0, records[i], facts[i], ids, receipt_ms);
          Status s = insert_.run_rebinding();
          if (!s.ok()) {
            insert_.reset();
            return s.error();
          }
          if (db_->changes() == 1)
            stored(i);
          else
            result.duplicates++;
        }
      }
      if (pending.size() > 0) {
        proto::Bytes parts = pending.finish();
        Status kept = pending_insert_.bind_blob_static(1, parts).run();
        if (!kept.ok()) return kept.error();
        result.pending_row = sqlite3_last_insert_rowid(db_->raw());
      }
    }
    RollupDelta delta;
    for (const auto &[place, usage] : places)
      add_to_rollups(delta, place, usage);
    Status rolled = apply(delta);
    if (rolled.ok()) rolled = count_checks(checks);
    if (!rolled.ok()) return rolled.error();
    Status committed = tx.commit();
    if (!committed.ok()) return committed.error();
    return results;
  }

  Result<PendingChecks> pending_checks(size_t limit) override {
    auto rows = db_->prepare("SELECT id, parts FROM pending_batches ORDER BY id");
    if (!rows.ok()) return rows.error();
    auto record = db_->prepare(kRecordForCheck);
    if (!record.ok()) return record.error();
    PendingChecks out;
    while (out.records.size() < limit || out.rows.empty()) {
      auto row = rows->step();
      if (!row.ok()) return row.error();
      if (!*row) break;
      int64_t id = rows->col_int(0);
      auto parts = PendingPack::read(rows->col_blob(1));
      if (!parts.ok())
        return make_error(parts.error().code,
                          parts.error().message + ": pending_batches row " + std::to_string(id));
      for (PendingPack::Part &p : *parts) {
        proto::JobRecord &r = p.record;
        PackedId packed(r.id);
        packed.bind(*record, 1);
        auto found = record->step();
        if (!found.ok()) return found.error();
        if (!*found)
          return make_error(Errc::io_error, "pending_batches row " + std::to_string(id) + " names record " +
                                                r.id + ", which is not stored");
        read_for_check(*record, r);
        record->reset();
        Status whole = PendingPack::complete(p);
        if (!whole.ok())
          return make_error(whole.error().code, whole.error().message + ": pending_batches row " +
                                                    std::to_string(id) + ", record " + r.id);
        out.records.push_back(std::move(r));
      }
      out.rows.push_back(id);
    }
    return out;
  }

  // The fields of kRecordForCheck's row into `r` (its signature parts are the pending row's).
  static void read_for_check(Stmt &q, proto::JobRecord &r) {
    r.event = kEvent.text(q, 1);
    r.reason = kReason.text(q, 2);
    r.job = PackedId::text(q, 3);
    r.user = PackedId::text(q, 4);
    r.workstation = q.col_text(5);
    r.site = q.col_text(6);
    r.printer = q.col_text(7);
    r.submitted_ms = q.col_int(8);
    r.event_ms = q.col_int(9);
    r.format = q.col_text(10);
    r.size = non_negative(q.col_int(11));
    r.pages = q.col_int(12);
    r.impressions = q.col_int(13);
    r.sheets = q.col_int(14);
    r.copies = non_negative(q.col_int(15));
    r.color_impressions = q.col_int(16);
    r.duplex = q.col_int(17) != 0;
    r.counts_source = kCountsSource.text(q, 18);
  }

  Status settle_checks(const std::vector<int64_t> &rows,
                       const std::vector<std::pair<std::string, proto::CountsCheck>> &checks) override {
    auto set = db_->prepare("UPDATE records SET counts_check = ?2 WHERE id = ?1 AND counts_check = ?3");
    if (!set.ok()) return set.error();
    auto drop = db_->prepare("DELETE FROM pending_batches WHERE id = ?1");
    if (!drop.ok()) return drop.error();
    Transaction tx(*db_);
    if (!tx.begun().ok()) return tx.begun();
    std::map<std::string_view, int64_t> moved; // printed records, by counts check
    for (const auto &[id, check] : checks) {
      std::string_view name = proto::counts_check_name(check);
      PackedId packed(id);
      packed.bind(*set, 1);
      kCountsCheck.bind(*set, 2, name);
      kCountsCheck.bind(*set, 3, kPendingCheck);
      Status s = set->run();
      if (s.ok() && db_->changes() == 1) {
        // Only printed records are checked behind ingest (they carry the signed counts).
        moved[name]++;
        moved[kPendingCheck]--;
      }
      if (!s.ok()) return s;
    }
    for (int64_t row : rows) {
      Status s = drop->bind(1, row).run();
      if (!s.ok()) return s;
    }
    Status s = count_checks(moved);
    if (!s.ok()) return s;
    return tx.commit();
  }

  Result<std::vector<std::pair<std::string, uint64_t>>> counts_checks() override {
    auto q = db_->prepare(kCountsChecks);
    if (!q.ok()) return q.error();
    std::vector<std::pair<std::string, uint64_t>> rows;
    for (;;) {
      auto more = q->step();
      if (!more.ok()) return more.error();
      if (!*more) break;
      rows.emplace_back(q->col_text(0), non_negative(q->col_int(1)));
    }
    return rows;
  }

  Result<PeopleUpdate> replace_people(const std::vector<proto::PersonFacts> &listed,
                                      int64_t now_ms) override {
    auto known = people();
    if (!known.ok()) return known.error();
    std::map<std::string, const Person *> by_id;
    size_t live = 0;
    for (const auto &p : *known) {
      by_id.emplace(p.id, &p);
      if (p.deleted_ms == 0) live++;
    }
    if (listed.empty() && live > 0)
      return make_error(Errc::conflict, "the directory lists no user while " + std::to_string(live) +
                                            " are known here: not anonymising them all");
    Transaction tx(*db_);
    if (!tx.begun().ok()) return tx.begun().error();
    auto upsert = db_->prepare(
        "INSERT INTO people (id, name, email, department, print_group, updated_ms, deleted_ms) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, 0) ON CONFLICT (id) DO UPDATE SET name = excluded.name, "
        "email = excluded.email, department = excluded.department, print_group = excluded.print_group, "
        "updated_ms = excluded.updated_ms, deleted_ms = 0");
    auto group =
        db_->prepare("INSERT INTO print_group_names (id, name, updated_ms) VALUES (?1, ?2, ?3) "
                     "ON CONFLICT (id) DO UPDATE SET name = excluded.name, updated_ms = excluded.updated_ms "
                     "WHERE name <> excluded.name");
    auto forget = db_->prepare("UPDATE people SET name = '', email = '', updated_ms = ?2, deleted_ms = ?2 "
                               "WHERE id = ?1");
    if (!upsert.ok()) return upsert.error();
    if (!group.ok()) return group.error();
    if (!forget.ok()) return forget.error();
    PeopleUpdate update;
    update.listed = listed.size();
    std::set<std::string> seen_ids;
    std::map<std::string, std::string> groups;
    for (const auto &p : listed) {
      if (!seen_ids.insert(p.id).second) continue; // listed twice: the first stands
      if (!p.print_group.empty()) groups[p.print_group] = p.print_group_name;
      auto it = by_id.find(p.id);
      if (it != by_id.end()) {
        const Person &k = *it->second;
        if (k.deleted_ms == 0 && k.name == p.name && k.email == p.email &&
            k.stamp.department == p.department && k.stamp.print_group == p.print_group)
          continue;
        update.changed++;
      } else {
        update.added++;
      }
      Status st = upsert->bind(1, p.id)
                      .bind(2, p.name)
                      .bind(3, p.email)
                      .bind(4, p.department)
                      .bind(5, p.print_group)
                      .bind(6, now_ms)
                      .run();
      if (!st.ok()) return st.error();
    }
    for (const auto &[id, name] : groups) {
      Status st = group->bind(1, id).bind(2, name).bind(3, now_ms).run();
      if (!st.ok()) return st.error();
    }
    for (const auto &p : *known) {
      if (p.deleted_ms != 0 || seen_ids.count(p.id)) continue;
      Status st = forget->bind(1, p.id).bind(2, now_ms).run();
      if (!st.ok()) return st.error();
      update.deleted++;
    }
    Status st = tx.commit();
    if (!st.ok()) return st.error();
    return update;
  }

  Result<std::vector<Person>> people() override {
    auto q =
        db_->prepare("SELECT id, name, email, department, print_group, deleted_ms FROM people ORDER BY id");
    if (!q.ok()) return q.error();
    return read_people(*q);
  }

  Result<Person> person(const std::string &id) override {
    auto q =
        db_->prepare("SELECT id, name, email, department, print_group, deleted_ms FROM people WHERE id = ?1");
    if (!q.ok()) return q.error();
    q->bind(1, id);
    auto found = read_people(*q);
    if (!found.ok()) return found.error();
    if (found->empty()) return make_error(Errc::not_found, "no person " + id + " is known here");
    return std::move(found->front());
  }

  Result<std::vector<Person>> find_people(const std::string &text, size_t limit) override {
    // Exact first (id, e-mail, whole name); a part of a name only when nothing matched exactly.
    auto exact =
        db_->prepare("SELECT id, name, email, department, print_group, deleted_ms FROM people "
                     "WHERE deleted_ms = 0 AND (id = ?1 OR email = lower(?1) OR name = ?1 COLLATE NOCASE) "
                     "ORDER BY name, id LIMIT ?2");
    if (!exact.ok()) return exact.error();
    exact->bind(1, text).bind(2, static_cast<int64_t>(limit));
    auto found = read_people(*exact);
    if (!found.ok() || !found->empty() || text.empty()) return found;
    auto part =
        db_->prepare("SELECT id, name, email, department, print_group, deleted_ms FROM people "
                     "WHERE deleted_ms = 0 AND instr(lower(name), lower(?1)) > 0 ORDER BY name, id LIMIT ?2");
    if (!part.ok()) return part.error();
    part->bind(1, text).bind(2, static_cast<int64_t>(limit));
    return read_people(*part);
  }

  Result<std::vector<std::string>> scope_keys(char scope) override {
    // One index seek per key (the day table's primary key starts with scope, scope_key), not a
    // scan of every row of the scope.
    auto q = db_->prepare(
        "WITH RECURSIVE k(v) AS (SELECT min(scope_key) FROM rollup_day WHERE scope = ?1 "
        "UNION ALL SELECT (SELECT min(scope_key) FROM rollup_day WHERE scope = ?1 AND scope_key > v) "
        "FROM k WHERE v IS NOT NULL) SELECT v FROM k WHERE v IS NOT NULL");
    if (!q.ok()) return q.error();
    q->bind(1, std::string_view(&scope, 1));
    std::vector<std::string> out;
    for (;;) {
      auto row = q->step();
      if (!row.ok()) return row.error();
      if (!*row) break;
      out.push_back(q->col_text(0));
    }
    return out;
  }

  Result<std::vector<PrintGroupName>> find_print_groups(const std::string &text) override {
    auto q = db_->prepare("SELECT id, name FROM print_group_names WHERE id = ?1 OR name = ?1 COLLATE NOCASE "
                          "ORDER BY name, id");
    if (!q.ok()) return q.error();
    q->bind(1, text);
    std::vector<PrintGroupName> out;
    for (;;) {
      auto row = q->step();
      if (!row.ok()) return row.error();
      if (!*row) break;
      out.push_back(PrintGroupName{q->col_text(0), q->col_text(1)});
    }
    return out;
  }

  Result<std::vector<RollupSum>> rollup_sums(Granularity granularity, char scope, const std::string &scope_key,
                                             char item, int64_t from_bucket, int64_t to_bucket,
                                             GroupBy group_by) override {
    int t = index_of(granularity);
    Stmt &q = group_by == GroupBy::item_key ? sums_by_key_[t] : sums_by_bucket_[t];
    q.bind(1, std::string_view(&scope, 1)).bind(2, scope_key).bind(3, item_text(item));
    q.bind(4, from_bucket).bind(5, to_bucket);
    std::vector<RollupSum> rows;
    for (;;) {
      auto more = q.step();
      if (!more.ok()) {
        q.reset();
        return more.error();
      }
      if (!*more) break;
      RollupSum row;
      if (group_by == GroupBy::item_key)
        row.item_key = q.col_text(0);
      else
        row.bucket = q.col_int(0);
      Usage &u = row.usage;
      uint64_t *fields[] = {&u.printed_jobs,        &u.pages,
                            &u.impressions,         &u.color_impressions,
                            &u.mono_impressions,    &u.duplex_impressions,
                            &u.simplex_impressions, &u.sheets,
                            &u.deleted_jobs,        &u.deleted_pages,
                            &u.printed_bytes};
      for (int c = 0; c < 11; c++)
        *fields[c] = non_negative(q.col_int(c + 1));
      if (!u.empty()) rows.push_back(std::move(row));
    }
    q.reset();
    return rows;
  }

private:
  explicit SqliteRecordStore(std::unique_ptr<Db> db) : db_(std::move(db)) {}

  static int index_of(Granularity g) { return g == Granularity::day ? 1 : 0; }
  static std::string_view item_text(const char &item) {
    return item == '\0' ? std::string_view() : std::string_view(&item, 1);
  }

  // Adds a batch's rollup contributions (inside the caller's transaction).
  Status apply(const RollupDelta &delta) {
    for (const auto &[key, u] : delta) {
      Stmt &up = upsert_[index_of(key.granularity)];
      up.bind(1, std::string_view(&key.scope, 1)).bind(2, key.scope_key).bind(3, item_text(key.item));
      up.bind(4, key.bucket).bind(5, key.item_key);
      const uint64_t fields[] = {u.printed_jobs,        u.pages,
                                 u.impressions,         u.color_impressions,
                                 u.mono_impressions,    u.duplex_impressions,
                                 u.simplex_impressions, u.sheets,
                                 u.deleted_jobs,        u.deleted_pages,
                                 u.printed_bytes};
      for (int c = 0; c < 11; c++)
        up.bind(6 + c, static_cast<int64_t>(fields[c]));
      Status s = up.run();
      if (!s.ok()) {
        up.reset();
        return s;
      }
    }
    return {};
  }

  // Adds to check_counts (inside the caller's transaction).
  Status count_checks(const std::map<std::string_view, int64_t> &added) {
    for (const auto &[name, n] : added) {
      if (n == 0) continue;
      Status s = check_counts_add_.bind_static(1, name).bind(2, n).run();
      if (!s.ok()) return s;
    }
    return {};
  }

  // Rollups of an older store, from its records (inside the migration's transaction); a delta is
  // written every 100,000 records so memory stays bounded.
  Status rebuild_rollups() {
    auto all = db_->prepare(kAllRecords);
    if (!all.ok()) return all.error();
    for (Granularity g : {Granularity::quarter, Granularity::day}) {
      auto up = db_->prepare(fill(kRollupUpsert, {table_name(g)}));
      if (!up.ok()) return up.error();
      upsert_[index_of(g)] = std::move(*up);
    }
    RollupDelta delta;
    size_t pending = 0;
    for (;;) {
      auto more = all->step();
      if (!more.ok()) return more.error();
      if (!*more) break;
      proto::JobRecord r;
      r.event = kEvent.text(*all, 0);
      r.user = PackedId::text(*all, 1);
      r.workstation = all->col_text(2);
      r.site = all->col_text(3);
      r.printer = all->col_text(4);
      r.event_ms = all->col_int(5);
      r.pages = all->col_int(6);
      r.impressions = all->col_int(7);
      r.sheets = all->col_int(8);
      r.color_impressions = all->col_int(9);
      r.duplex = all->col_int(10) != 0;
      r.size = non_negative(all->col_int(13));
      add_to_rollups(delta, r, Stamp{PackedId::text(*all, 11), all->col_text(12)});
      if (++pending == 100000) {
        Status s = apply(delta);
        if (!s.ok()) return s;
        delta.clear();
        pending = 0;
      }
    }
    return apply(delta);
  }

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
    // Current already: no write transaction (a report tool's open then writes nothing to disk).
    if (found == kSchemaVersion) return {};
    Transaction tx(*db_);
    if (!tx.begun().ok()) return tx.begun();
    // The view names records: dropped while the table is moved, made again at the end.
    Status s = db_->exec("DROP VIEW IF EXISTS records_as_text");
    if (s.ok()) s = db_->exec(fill(kSchema, {"records"}));
    // A version 1 table: its rows were stored before counts were checked.
    if (s.ok() && found == 1)
      s = db_->exec("ALTER TABLE records ADD COLUMN counts_check TEXT NOT NULL DEFAULT 'unchecked'");
    // Before version 3: no stamps (those users' groups then are not known), no rollups.
    if (s.ok() && found >= 1 && found < 3)
      s = db_->exec("ALTER TABLE records ADD COLUMN print_group TEXT NOT NULL DEFAULT '';"
                    "ALTER TABLE records ADD COLUMN department TEXT NOT NULL DEFAULT ''");
    if (s.ok() && found >= 1 && found < 10) s = repack_records();
    for (Granularity g : {Granularity::quarter, Granularity::day})
      if (s.ok()) s = db_->exec(fill(kRollupSchema, {table_name(g)}));
    if (s.ok()) s = db_->exec(kPeopleSchema);
    if (s.ok()) s = db_->exec(kPendingBatchesSchema);
    if (s.ok()) s = db_->exec(kCheckCountsSchema);
    // Schema 5's whole pending records and schema 6's and 7's pending rows: into pending_batches.
    if (s.ok() && found >= 5 && found < 8) s = db_->exec(kPendingSchema);
    if (s.ok() && found == 5) s = move_pending_checks();
    if (s.ok() && found >= 5 && found < 8) s = pack_pending_signatures();
    // Before version 7: rollups without the user scope and the printed bytes, records indexed by
    // event time and by user, no check_counts.
    if (s.ok() && found >= 3 && found < 7)
      for (Granularity g : {Granularity::quarter, Granularity::day}) {
        std::string table = fill("rollup_%s", {table_name(g)});
        auto has = has_column(table, "printed_bytes");
        if (!has.ok()) return has.error();
        if (!*has)
          s = db_->exec("ALTER TABLE " + table + " ADD COLUMN printed_bytes INTEGER NOT NULL DEFAULT 0");
        if (s.ok()) s = db_->exec("DELETE FROM " + table);
        if (!s.ok()) break;
      }
    if (s.ok() && found >= 1 && found < 7)
      s = db_->exec("DROP INDEX IF EXISTS records_by_event_time; DROP INDEX IF EXISTS records_by_user");
    if (s.ok() && found >= 1 && found < 7) s = rebuild_rollups();
    if (s.ok() && found >= 1 && found < 7)
      s = db_->exec(fill(kCountAllChecks,
                         {kCountsCheck.sql(false).c_str(), std::to_string(kEvent.code("printed")).c_str()}));
    if (s.ok()) s = db_->exec(records_as_text());
    if (s.ok()) s = db_->exec("PRAGMA user_version = " + std::to_string(kSchemaVersion));
    if (s.ok()) s = tx.commit();
    return s;
  }

  // kRecordsAsText filled in.
  static std::string records_as_text() {
    auto id = [](const char *column) {
      std::string c = column, h = "hex(" + c + ")";
      auto part = [&](int from, int n) {
        return "substr(" + h + ", " + std::to_string(from) + ", " + std::to_string(n) + ")";
      };
      return "CASE WHEN typeof(" + c + ") = 'blob' AND length(" + c + ") = 16 THEN lower(" + part(1, 8) +
             " || '-' || " + part(9, 4) + " || '-' || " + part(13, 4) + " || '-' || " + part(17, 4) +
             " || '-' || " + part(21, 12) + ") ELSE " + c + " END";
    };
    return fill(kRecordsAsText, {id("id").c_str(), kEvent.sql(false).c_str(), kReason.sql(false).c_str(),
                                 id("job").c_str(), id("user_id").c_str(), kCountsSource.sql(false).c_str(),
                                 kCountsCheck.sql(false).c_str(), id("print_group").c_str()});
  }

  // Schemas 9 and 10: an older store's records rewritten with PackedIds and Coded values, in id
  // order (the new b-tree is appended to, as ingest does). The old table's pages go to the file's
  // free list.
  Status repack_records() {
    auto count = db_->prepare("SELECT COUNT(*) FROM records");
    if (!count.ok()) return count.error();
    auto row = count->step();
    if (!row.ok()) return row.error();
    int64_t n = *row ? count->col_int(0) : 0;
    count->reset();
    if (n > 0)
      LPM_INFO("moving %lld records to 16-byte ids and coded names (schema 10)...",
               static_cast<long long>(n));
    int rc = sqlite3_create_function_v2(db_->raw(), "lpm_pack_id", 1, SQLITE_UTF8 | SQLITE_DETERMINISTIC,
                                        nullptr, &PackedId::sql_pack, nullptr, nullptr, nullptr);
    if (rc != SQLITE_OK) return make_error(Errc::internal, std::string("lpm_pack_id: ") + sqlite3_errstr(rc));
    Status s = db_->exec(fill(kSchema, {"records_packed"}));
    // The old table's pages hold the same records as the new one: they go to the free list as
    // they are rather than zeroed, which would write the whole old table again through the WAL.
    if (s.ok()) s = db_->exec("PRAGMA secure_delete = FAST");
    if (s.ok())
      s = db_->exec(fill(kRecordsRepack, {kEvent.sql(true).c_str(), kReason.sql(true).c_str(),
                                          kCountsSource.sql(true).c_str(), kCountsCheck.sql(true).c_str()}));
    Status on = db_->exec("PRAGMA secure_delete = ON");
    if (s.ok()) s = on;
    if (s.ok() && n > 0) LPM_INFO("%lld records moved", static_cast<long long>(n));
    return s;
  }

  Result<bool> has_column(const std::string &table, const char *column) {
    auto q = db_->prepare("SELECT COUNT(*) FROM pragma_table_info(?1) WHERE name = ?2");
    if (!q.ok()) return q.error();
    q->bind(1, table).bind_static(2, column);
    auto row = q->step();
    if (!row.ok()) return row.error();
    return *row && q->col_int(0) > 0;
  }

  // Schema 5 kept each pending record whole (msgpack, JobRecord::write) in pending_checks: its
  // signature parts move to pending_signatures (the rest is the record's row), and the table goes.
  Status move_pending_checks() {
    auto old = db_->prepare("SELECT record FROM pending_checks");
    if (!old.ok()) return old.error();
    auto insert = db_->prepare(kPendingInsert);
    if (!insert.ok()) return insert.error();
    for (;;) {
      auto row = old->step();
      if (!row.ok()) return row.error();
      if (!*row) break;
      proto::Bytes bytes = old->col_blob(0);
      auto handle = proto::unpack_map(bytes);
      if (!handle.ok()) return make_error(Errc::io_error, "pending_checks: " + handle.error().message);
      proto::MapReader reader(handle->get(), "pending record");
      proto::JobRecord r;
      r.read(reader);
      if (!reader.ok()) return make_error(Errc::io_error, "pending_checks: " + reader.error().message);
      Status s = insert->bind_static(1, r.id)
                     .bind_blob_static(2, r.signed_outcome)
                     .bind_blob_static(3, r.signature)
                     .bind_blob_static(4, r.signer_key)
                     .bind_static(5, r.signed_by)
                     .run();
      if (!s.ok()) return s;
    }
    old->reset();
    return db_->exec("DROP TABLE pending_checks");
  }

  // pending_signatures' rows packed into pending_batches rows of 500, oldest first; the table goes.
  Status pack_pending_signatures() {
    auto old =
        db_->prepare("SELECT id, signed_outcome, signature, signer_key, signed_by FROM pending_signatures "
                     "ORDER BY id");
    if (!old.ok()) return old.error();
    auto insert = db_->prepare(kPendingBatchInsert);
    if (!insert.ok()) return insert.error();
    std::vector<proto::JobRecord> chunk;
    auto flush = [&]() -> Status {
      if (chunk.empty()) return {};
      PendingPack pack;
      for (const auto &r : chunk)
        pack.add(r);
      proto::Bytes parts = pack.finish();
      chunk.clear();
      return insert->bind_blob_static(1, parts).run();
    };
    for (;;) {
      auto row = old->step();
      if (!row.ok()) return row.error();
      if (!*row) break;
      proto::JobRecord r;
      r.id = old->col_text(0);
      r.signed_outcome = old->col_blob(1);
      r.signature = old->col_blob(2);
      r.signer_key = old->col_blob(3);
      r.signed_by = old->col_text(4);
      chunk.push_back(std::move(r));
      if (chunk.size() == proto::kMaxRecordsPerBatch) {
        Status s = flush();
        if (!s.ok()) return s;
      }
    }
    Status s = flush();
    if (!s.ok()) return s;
    old->reset();
    return db_->exec("DROP TABLE pending_signatures");
  }

  static Result<std::vector<Person>> read_people(Stmt &q) {
    std::vector<Person> out;
    for (;;) {
      auto row = q.step();
      if (!row.ok()) return row.error();
      if (!*row) break;
      out.push_back(Person{q.col_text(0), q.col_text(1), q.col_text(2), Stamp{q.col_text(4), q.col_text(3)},
                           q.col_int(5)});
    }
    return out;
  }

  std::unique_ptr<Db> db_;
  Stmt insert_;       // a record, OR IGNORE: a record stored already is a duplicate
  Stmt insert_chunk_; // kChunkRows records, failing with a conflict when one was stored already
  Stmt insert_shared_; // the same for records that agree on kSharedColumns, bound once
  std::vector<RowIds> chunk_ids_;
  Stmt pending_insert_; // a row of pending_batches: a batch's records whose counts are checked behind ingest
  Stmt check_counts_add_;
  Stmt upsert_[2]; // by index_of(granularity)
  Stmt sums_by_key_[2];
  Stmt sums_by_bucket_[2];
  // Declared after db_: stopped (its thread joined, its connection closed) before db_ closes.
  std::unique_ptr<Checkpointer> checkpointer_;
};

} // namespace

Result<IngestResult> RecordStore::ingest_with(const std::vector<proto::JobRecord> &records,
                                              const std::vector<IngestFacts> &facts, int64_t receipt_ms) {
  auto results = ingest_group({IngestBatch{&records, &facts}}, receipt_ms);
  if (!results.ok()) return results.error();
  return results->front();
}

Result<IngestResult> RecordStore::ingest(const std::vector<proto::JobRecord> &records,
                                         const std::vector<proto::CountsCheck> &checks, int64_t receipt_ms) {
  std::vector<IngestFacts> facts(checks.size());
  for (size_t i = 0; i < checks.size(); i++) facts[i].check = checks[i];
  return ingest_with(records, facts, receipt_ms);
}

Result<IngestResult> RecordStore::ingest(const std::vector<proto::JobRecord> &records, int64_t receipt_ms) {
  std::vector<IngestFacts> facts(records.size());
  for (size_t i = 0; i < records.size(); i++)
    facts[i].check = proto::check_record_counts(records[i], [](const proto::Fingerprint &) { return false; });
  return ingest_with(records, facts, receipt_ms);
}

Result<std::map<std::string, Usage>> RecordStore::quarters_sum(char scope, const std::string &scope_key,
                                                               char item, int64_t first_quarter,
                                                               int64_t end_quarter) {
  std::map<std::string, Usage> out;
  auto add = [&](Granularity g, int64_t from, int64_t to) -> Status {
    if (from >= to) return {};
    auto rows = rollup_sums(g, scope, scope_key, item, from, to, GroupBy::item_key);
    if (!rows.ok()) return rows.error();
    for (const auto &r : *rows)
      out[r.item_key].add(r.usage);
    return {};
  };
  constexpr int64_t kQuartersPerDay = kDayMs / kQuarterMs;
  int64_t first_day = bucket_of(first_quarter + kQuartersPerDay - 1, kQuartersPerDay); // starts at or after
  int64_t end_day = bucket_of(end_quarter, kQuartersPerDay); // the day end_quarter falls in
  Status s;
  if (first_day < end_day) {
    s = add(Granularity::day, first_day, end_day);
    if (s.ok()) s = add(Granularity::quarter, first_quarter, first_day * kQuartersPerDay);
    if (s.ok()) s = add(Granularity::quarter, end_day * kQuartersPerDay, end_quarter);
  } else {
    s = add(Granularity::quarter, first_quarter, end_quarter);
  }
  if (!s.ok()) return s.error();
  return out;
}

Result<std::vector<proto::UserTotals>> RecordStore::totals(int64_t from_ms, int64_t to_ms,
                                                           const std::string &after_user, size_t limit) {
  int64_t first = bucket_of(from_ms, kQuarterMs);
  int64_t end = bucket_of(to_ms, kQuarterMs);
  if (to_ms - end * kQuarterMs > 0) end++; // the quarter to_ms falls in, unless it is its start
  auto users = quarters_sum('e', "", 'u', first, end);
  if (!users.ok()) return users.error();
  std::vector<proto::UserTotals> rows;
  for (auto it = users->upper_bound(after_user); it != users->end() && rows.size() < limit; ++it) {
    const Usage &u = it->second;
    if (u.printed_jobs == 0) continue;
    rows.push_back(proto::UserTotals{it->first, u.printed_jobs, u.pages, u.impressions, u.printed_bytes});
  }
  return rows;
}

Result<std::unique_ptr<RecordStore>> open_sqlite_record_store(const std::string &path) {
  return SqliteRecordStore::open(path);
}

} // namespace lpm::accounting
