#include "enrollment.h"

#include "lpm/sqlite.h"

namespace lpm::accounting {
namespace {

// One row at most: the CHECK keeps it that way.
constexpr const char *kEnrollmentSchema = R"sql(
CREATE TABLE IF NOT EXISTS enrollment (
  singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
  service_id TEXT NOT NULL,
  directory_address TEXT NOT NULL,
  directory_fingerprint TEXT NOT NULL,
  ticket_key BLOB NOT NULL,
  enrolled_ms INTEGER NOT NULL,
  session_key BLOB NOT NULL DEFAULT x''
);
)sql";

Result<std::unique_ptr<Db>> open_with_schema(const std::string &db_path) {
  auto db = Db::open(db_path);
  if (!db.ok()) return db.error();
  Status s = (*db)->exec(kEnrollmentSchema);
  if (!s.ok()) return s.error();
  // An enrollment saved before session keys were kept: the column, empty (re-enroll to fill it).
  auto has = (*db)->prepare("SELECT 1 FROM pragma_table_info('enrollment') WHERE name = 'session_key'");
  if (!has.ok()) return has.error();
  auto row = has->step();
  if (!row.ok()) return row.error();
  bool present = *row;
  has->reset();
  if (!present) {
    s = (*db)->exec("ALTER TABLE enrollment ADD COLUMN session_key BLOB NOT NULL DEFAULT x''");
    if (!s.ok()) return s.error();
  }
  return std::move(*db);
}

} // namespace

Status enrollment_save(const std::string &db_path, const Enrollment &enrollment) {
  auto db = open_with_schema(db_path);
  if (!db.ok()) return db.error();
  auto stmt =
      (*db)->prepare("INSERT OR REPLACE INTO enrollment (singleton, service_id, directory_address, "
                     "directory_fingerprint, ticket_key, enrolled_ms, session_key) VALUES (1, ?1, ?2, ?3, ?4, ?5, ?6)");
  if (!stmt.ok()) return stmt.error();
  stmt->bind(1, enrollment.service_id).bind(2, enrollment.directory_address);
  stmt->bind(3, enrollment.directory_fingerprint)
      .bind_blob(4, enrollment.ticket_key)
      .bind(5, enrollment.enrolled_ms)
      .bind_blob(6, enrollment.session_key);
  return stmt->run();
}

Result<std::optional<Enrollment>> enrollment_load(const std::string &db_path) {
  auto db = open_with_schema(db_path);
  if (!db.ok()) return db.error();
  auto stmt =
      (*db)->prepare("SELECT service_id, directory_address, directory_fingerprint, ticket_key, enrolled_ms, session_key "
                     "FROM enrollment WHERE singleton = 1");
  if (!stmt.ok()) return stmt.error();
  auto row = stmt->step();
  if (!row.ok()) return row.error();
  if (!*row) return std::optional<Enrollment>();
  Enrollment e;
  e.service_id = stmt->col_text(0);
  e.directory_address = stmt->col_text(1);
  e.directory_fingerprint = stmt->col_text(2);
  e.ticket_key = stmt->col_blob(3);
  e.enrolled_ms = stmt->col_int(4);
  e.session_key = stmt->col_blob(5);
  stmt->reset();
  return std::optional<Enrollment>(std::move(e));
}

} // namespace lpm::accounting
