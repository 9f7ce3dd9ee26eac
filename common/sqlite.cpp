#include "lpm/sqlite.h"

#include <sqlite3.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <functional>
#include <string>
#include <unordered_map>
#include <fcntl.h>
#include <unistd.h>

#include "lpm/log.h"

namespace lpm {

static Error db_error(sqlite3 *db, const std::string &what) {
  int code = sqlite3_errcode(db);
  Errc errc = (code == SQLITE_FULL) ? Errc::no_space : Errc::io_error;
  if (code == SQLITE_CONSTRAINT) errc = Errc::conflict;
  return make_error(errc, what + ": " + sqlite3_errmsg(db));
}

namespace detail {

// Idle prepared statements of one connection, by SQL text (looked up by string_view).
struct StmtCache {
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  // Statements kept per text (more are finalized), and texts kept (SQL built at run time, such
  // as IN lists of varying length, must not grow the cache without bound).
  static constexpr size_t kIdlePerText = 4;
  static constexpr size_t kMaxTexts = 512;
  bool open = true; // false once the Db is gone: statements coming back are finalized
  std::unordered_map<std::string, std::vector<sqlite3_stmt *>, Hash, std::equal_to<>> idle;
};

} // namespace detail

Stmt::Stmt(Stmt &&other) noexcept
    : db_(other.db_), stmt_(other.stmt_), cache_(std::move(other.cache_)), slot_(other.slot_) {
  other.stmt_ = nullptr;
  other.slot_ = nullptr;
}
Stmt &Stmt::operator=(Stmt &&other) noexcept {
  if (this != &other) {
    release();
    db_ = other.db_;
    stmt_ = other.stmt_;
    cache_ = std::move(other.cache_);
    slot_ = other.slot_;
    other.stmt_ = nullptr;
    other.slot_ = nullptr;
  }
  return *this;
}
Stmt::~Stmt() { release(); }

void Stmt::release() {
  if (!stmt_) return;
  if (cache_ && cache_->open && slot_ && slot_->size() < detail::StmtCache::kIdlePerText) {
    sqlite3_reset(stmt_); // ends its read, if any; the error was reported by step()
    sqlite3_clear_bindings(stmt_);
    slot_->push_back(stmt_);
  } else {
    sqlite3_finalize(stmt_);
  }
  stmt_ = nullptr;
  slot_ = nullptr;
  cache_.reset();
}

Stmt &Stmt::bind(int index, int64_t value) {
  sqlite3_bind_int64(stmt_, index, value);
  return *this;
}
Stmt &Stmt::bind(int index, std::string_view text) {
  // A default-constructed view has no data pointer, which SQLite would bind as NULL: bind "".
  sqlite3_bind_text(stmt_, index, text.data() ? text.data() : "", static_cast<int>(text.size()), SQLITE_TRANSIENT);
  return *this;
}
Stmt &Stmt::bind_blob(int index, std::span<const uint8_t> blob) {
  sqlite3_bind_blob(stmt_, index, blob.data(), static_cast<int>(blob.size()), SQLITE_TRANSIENT);
  return *this;
}
Stmt &Stmt::bind_static(int index, std::string_view text) {
  sqlite3_bind_text(stmt_, index, text.data() ? text.data() : "", static_cast<int>(text.size()),
                    SQLITE_STATIC);
  return *this;
}
Stmt &Stmt::bind_blob_static(int index, std::span<const uint8_t> blob) {
  // An empty span may have no data pointer, which SQLite would bind as NULL: bind a 0-byte blob.
  static const uint8_t kNothing = 0;
  sqlite3_bind_blob(stmt_, index, blob.data() ? blob.data() : &kNothing, static_cast<int>(blob.size()),
                    SQLITE_STATIC);
  return *this;
}
Stmt &Stmt::bind_null(int index) {
  sqlite3_bind_null(stmt_, index);
  return *this;
}

Result<bool> Stmt::step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  Error e = db_error(db_, std::string("step \"") + sqlite3_sql(stmt_) + "\"");
  sqlite3_reset(stmt_);
  return e;
}

Status Stmt::run() {
  Status s = run_rebinding();
  if (s.ok()) sqlite3_clear_bindings(stmt_);
  return s;
}

Status Stmt::run_rebinding() {
  for (;;) {
    auto r = step();
    if (!r.ok()) return r.error();
    if (!*r) break;
  }
  sqlite3_reset(stmt_);
  return {};
}

void Stmt::reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

int64_t Stmt::col_int(int col) const { return sqlite3_column_int64(stmt_, col); }
std::string Stmt::col_text(int col) const {
  const auto *p = sqlite3_column_text(stmt_, col);
  int n = sqlite3_column_bytes(stmt_, col);
  return p ? std::string(reinterpret_cast<const char *>(p), static_cast<size_t>(n)) : std::string();
}
std::vector<uint8_t> Stmt::col_blob(int col) const {
  const auto *p = static_cast<const uint8_t *>(sqlite3_column_blob(stmt_, col));
  int n = sqlite3_column_bytes(stmt_, col);
  return p ? std::vector<uint8_t>(p, p + n) : std::vector<uint8_t>();
}
bool Stmt::col_is_null(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }
bool Stmt::col_is_blob(int col) const {
  return sqlite3_column_type(stmt_, col) == SQLITE_BLOB;
}
bool Stmt::col_is_int(int col) const {
  return sqlite3_column_type(stmt_, col) == SQLITE_INTEGER;
}

Result<std::unique_ptr<Db>> Db::open(const std::string &path) {
  // Create the file 0600 ourselves (SQLite would honour the umask), but only when it does not
  // exist: closing any descriptor of a file drops every POSIX lock this process holds on it, so
  // opening and closing an existing database here would silently release the locks of this
  // process's other connections to it. Another process would then think itself the last
  // connection and delete the WAL those connections still write to.
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd >= 0)
      ::close(fd); // new and empty: nobody holds a lock on it yet
    else if (errno != EEXIST)
      return make_error(Errc::io_error, "open " + path + ": " + std::strerror(errno));
  }
  sqlite3 *raw = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                           nullptr);
  if (rc != SQLITE_OK) {
    Error e = make_error(Errc::io_error, "open " + path + ": " + (raw ? sqlite3_errmsg(raw) : "out of memory"));
    sqlite3_close(raw);
    return e;
  }
  std::unique_ptr<Db> db(new Db(raw));
  sqlite3_busy_timeout(raw, 5000);
  Status s = db->exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA secure_delete=ON;"
                      "PRAGMA foreign_keys=ON;");
  if (!s.ok()) return s.error();
  return db;
}

Result<std::unique_ptr<Db>> Db::open_readonly(const std::string &path) {
  sqlite3 *raw = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    Error e = make_error(Errc::io_error, "open " + path + ": " + (raw ? sqlite3_errmsg(raw) : "out of memory"));
    sqlite3_close(raw);
    return e;
  }
  std::unique_ptr<Db> db(new Db(raw));
  sqlite3_busy_timeout(raw, 5000);
  // Fails here, not later, when the file is not a database at all.
  Status s = db->exec("SELECT count(*) FROM sqlite_schema");
  if (!s.ok()) return make_error(Errc::bad_request, path + " is not an SQLite database: " + s.error().message);
  return db;
}

Db::Db(sqlite3 *db) : db_(db), cache_(std::make_shared<detail::StmtCache>()) {}

Db::~Db() {
  cache_->open = false;
  for (auto &[text, stmts] : cache_->idle)
    for (sqlite3_stmt *stmt : stmts)
      sqlite3_finalize(stmt);
  cache_->idle.clear();
  sqlite3_close_v2(db_);
}

Status Db::exec(std::string_view sql) {
  std::string owned(sql);
  char *msg = nullptr;
  int rc = sqlite3_exec(db_, owned.c_str(), nullptr, nullptr, &msg);
  if (rc != SQLITE_OK) {
    std::string text = msg ? msg : sqlite3_errmsg(db_);
    sqlite3_free(msg);
    Errc code = rc == SQLITE_FULL ? Errc::no_space : Errc::io_error;
    return make_error(code, "sql: " + text);
  }
  return {};
}

Result<Stmt> Db::prepare(std::string_view sql) {
  auto &idle = cache_->idle;
  auto it = idle.find(sql);
  if (it != idle.end() && !it->second.empty()) {
    sqlite3_stmt *stmt = it->second.back();
    it->second.pop_back();
    return Stmt(db_, stmt, cache_, &it->second);
  }
  sqlite3_stmt *stmt = nullptr;
  int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT, &stmt,
                              nullptr);
  if (rc != SQLITE_OK) return db_error(db_, "prepare \"" + std::string(sql) + "\"");
  if (it == idle.end() && idle.size() < detail::StmtCache::kMaxTexts)
    it = idle.emplace(std::string(sql), Stmt::Slot{}).first;
  // unordered_map nodes stay put when the map grows: the slot pointer stays valid.
  return Stmt(db_, stmt, cache_, it == idle.end() ? nullptr : &it->second);
}

int64_t Db::changes() const { return sqlite3_changes64(db_); }

Status Db::backup_to(const std::string &path) {
  sqlite3 *dest = nullptr;
  if (sqlite3_open(path.c_str(), &dest) != SQLITE_OK) {
    Error e = make_error(Errc::io_error, "open " + path + ": " + sqlite3_errmsg(dest));
    sqlite3_close(dest);
    return e;
  }
  sqlite3_backup *b = sqlite3_backup_init(dest, "main", db_, "main");
  if (!b) {
    Error e = db_error(dest, "backup " + path);
    sqlite3_close(dest);
    return e;
  }
  int rc = sqlite3_backup_step(b, -1);
  sqlite3_backup_finish(b);
  Status result;
  if (rc != SQLITE_DONE) result = db_error(dest, "backup " + path);
  sqlite3_close(dest);
  return result;
}

namespace {
// The pragma applies to the connection; it is set before BEGIN and restored after the end.
Status begin(Db &db, Transaction::Durability durability) {
  if (durability == Transaction::Durability::deferred) {
    Status s = db.exec("PRAGMA synchronous=NORMAL");
    if (!s.ok()) return s;
  }
  Status s = db.exec("BEGIN IMMEDIATE");
  if (!s.ok() && durability == Transaction::Durability::deferred) (void)db.exec("PRAGMA synchronous=FULL");
  return s;
}
} // namespace

Transaction::Transaction(Db &db, Durability durability)
    : db_(db), durability_(durability), begun_(begin(db, durability)) {}

Transaction::~Transaction() {
  if (begun_.ok() && !done_) (void)db_.exec("ROLLBACK");
  if (begun_.ok() && durability_ == Durability::deferred) {
    Status s = db_.exec("PRAGMA synchronous=FULL");
    if (!s.ok()) LPM_ERROR("could not restore synchronous=FULL: %s", s.error().to_string().c_str());
  }
}

Status Transaction::commit() {
  if (!begun_.ok()) return begun_;
  Status s = db_.exec("COMMIT");
  if (s.ok()) done_ = true;
  return s;
}

} // namespace lpm
